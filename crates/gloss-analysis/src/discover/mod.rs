//! Function discovery: start from what the file states (symbols, entry point, unwind and
//! function-start tables; unwind entries that begin inside a frame are fragments, not starts),
//! then what the code and data show, traversing each function with [`crate::cfg::build`] and
//! iterating until nothing new appears. Each round, in order, stops at the first step that
//! finds something and traverses again:
//! 1. call and tail-call targets of the traversed functions;
//! 2. non-returning callees, known by name (`noreturn.rs`) or inferred (no path returns): their
//!    callers are traversed again so that no fall-through is invented after them;
//! 3. unconditional jumps that leave their function (tail calls to unnamed functions);
//! 4. starts that are another function's split-off parts (`parts.rs`), dropped;
//! 5. pointers in writable data and code addresses the code computes;
//! 6. prologues, then aligned code, in the gaps no block covers (`prologue.rs`).
//!
//! docs/function-starts.md measures the result against libc6-dbg and says why each rule holds.
mod noreturn;
mod parts;
mod prologue;

use crate::addr_set::AddrSet;
use crate::cfg::{self, Block, Context, FunctionBody};
use crate::code::CodeMap;
use crate::idiom::jump_table::Switch;
use gloss_core::{Disassembler, FunctionHint, HintSource, Image};
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;

/// Traversal passes over the pending functions: new call targets and re-traversals of
/// functions that swallowed a later-found entry converge in a few; the cap keeps pathological
/// inputs bounded.
const MAX_PASSES: usize = 256;
/// Rounds of: traversal, non-returning inference, leaving jumps, split-off parts, pointers,
/// computed addresses and prologues; each round that finds something traverses again (only
/// what changed). When a cap is reached, every start still pending is traversed once more.
const MAX_ROUNDS: usize = 64;

/// Why gloss believes a function starts at an address.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Hash)]
pub enum Evidence {
    Symbol,
    Entry,
    EhFrame,
    Pdata,
    FunctionStarts,
    Call,
    TailCall,
    /// The code computes its address (`lea f(%rip)`, `adrp`+`add`, `mov $f`).
    AddressTaken,
    /// A pointer to it lies in writable data (`.data.rel.ro` tables, `.init_array`, vtables,
    /// GOT entries): the relocated pointers of a PIE or shared object, absolute ones elsewhere.
    DataPointer,
    /// A prologue (`endbr64`, `bti c`, `paciasp`, `push %rbp; mov %rsp,%rbp`,
    /// `stp x29, x30, [sp, #-N]!`) after padding in bytes no other function covers.
    Prologue,
    /// Code at the function alignment (16) after padding, in bytes no function covers and no
    /// function's blocks enclose, that decodes to a terminator.
    Aligned,
}

impl Evidence {
    /// Every kind, in the order sets list them.
    const ALL: [Evidence; 11] = [
        Evidence::Symbol,
        Evidence::Entry,
        Evidence::EhFrame,
        Evidence::Pdata,
        Evidence::FunctionStarts,
        Evidence::Call,
        Evidence::TailCall,
        Evidence::AddressTaken,
        Evidence::DataPointer,
        Evidence::Prologue,
        Evidence::Aligned,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Evidence::Symbol => "symbol",
            Evidence::Entry => "entry",
            Evidence::EhFrame => "eh_frame",
            Evidence::Pdata => "pdata",
            Evidence::FunctionStarts => "function_starts",
            Evidence::Call => "call",
            Evidence::TailCall => "tail_call",
            Evidence::AddressTaken => "address_taken",
            Evidence::DataPointer => "data_pointer",
            Evidence::Prologue => "prologue",
            Evidence::Aligned => "aligned",
        }
    }
}

/// A set of [`Evidence`], listed in the enum's order: one bit each (every seed has one, and
/// the discovery rounds ask them often).
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct EvidenceSet(u16);

impl EvidenceSet {
    /// Adds `e`; whether it was not there.
    pub fn insert(&mut self, e: Evidence) -> bool {
        let new = !self.contains(e);
        self.0 |= 1 << e as u16;
        new
    }

    pub fn contains(self, e: Evidence) -> bool {
        self.0 & 1 << e as u16 != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Evidence> {
        Evidence::ALL.into_iter().filter(move |&e| self.contains(e))
    }
}

#[derive(Clone, Debug)]
pub struct Function {
    pub addr: u64,
    /// Stated by the symbol or unwind entry when there is one, else the contiguous extent of
    /// the blocks from the entry.
    pub size: u64,
    pub name: Option<String>,
    pub evidence: EvidenceSet,
    pub noreturn: bool,
    pub blocks: Vec<Block>,
    pub switches: Vec<Switch>,
    pub unresolved: Vec<(u64, &'static str)>,
    pub calls: Vec<u64>,
}

#[derive(Debug, Default)]
pub struct Analysis {
    pub functions: Vec<Function>,
}

impl Analysis {
    pub fn function(&self, addr: u64) -> Option<&Function> {
        self.functions
            .binary_search_by_key(&addr, |f| f.addr)
            .ok()
            .map(|i| &self.functions[i])
    }
}

struct Seeds {
    evidence: BTreeMap<u64, EvidenceSet>,
    size: FxHashMap<u64, u64>,
}

impl Seeds {
    fn add(&mut self, a: u64, e: Evidence) -> bool {
        let set = self.evidence.entry(a).or_default();
        let new = set.is_empty();
        set.insert(e);
        new
    }
}

/// What the file states: symbols, the entry point and the hint tables' starts (not their
/// fragments), with their evidence and stated sizes.
fn stated_seeds(image: &Image, code: &CodeMap, hints: &[FunctionHint]) -> Seeds {
    let mut seeds = Seeds {
        evidence: BTreeMap::new(),
        size: FxHashMap::default(),
    };
    for s in image.symbols.iter() {
        if !code.contains(s.addr.0) || image.is_data_symbol(s) {
            continue;
        }
        seeds.add(s.addr.0, Evidence::Symbol);
        if s.size > 0 {
            seeds.size.entry(s.addr.0).or_insert(s.size);
        }
    }
    if let Some(e) = image.entry
        && code.contains(e.0)
    {
        seeds.add(e.0, Evidence::Entry);
    }
    for h in hints
        .iter()
        .filter(|h| !h.fragment && code.contains(h.addr.0))
    {
        let ev = match h.source {
            HintSource::EhFrame => Evidence::EhFrame,
            HintSource::Pdata => Evidence::Pdata,
            HintSource::FunctionStarts => Evidence::FunctionStarts,
        };
        seeds.add(h.addr.0, ev);
        if let Some(n) = h.size.filter(|n| *n > 0) {
            seeds.size.entry(h.addr.0).or_insert(n);
        }
    }
    seeds
}

/// How gloss names a function it found where the file names none: `sub_<hex address>`.
pub fn found_name(addr: u64) -> String {
    format!("sub_{addr:x}")
}

/// The address a [`found_name`] stands for.
pub fn found_name_addr(name: &str) -> Option<u64> {
    u64::from_str_radix(name.strip_prefix("sub_")?, 16).ok()
}

/// Traverses only the functions at `entries` (each taken as a function start, as a reader who
/// asks for a function at an address means it), knowing every start the file states (so that
/// a traversal stops at the next function) and the non-returning callees known by name;
/// nothing is discovered or inferred. Then their direct callees (calls and tail calls), and
/// theirs, breadth first, until `callees` more functions were traversed: the idioms need a
/// callee's parameters to count a call's arguments. For listings of a few functions of a
/// large binary. The entries' bodies come first.
pub fn traverse_functions(
    image: &Image,
    dis: &dyn Disassembler,
    hints: &[FunctionHint],
    entries: Vec<u64>,
    callees: usize,
) -> Vec<(u64, FunctionBody)> {
    let code = CodeMap::new(image);
    let mut starts = AddrSet::new(&code);
    starts.extend(stated_seeds(image, &code, hints).evidence.into_keys());
    let entries: Vec<u64> = entries
        .into_iter()
        .filter(|&a| code.bytes(a).is_some())
        .collect();
    starts.extend(entries.iter().copied());
    let cx = Context {
        image,
        dis,
        code: &code,
        starts: &starts,
        noreturn: &noreturn::by_name(image),
        branch_relocs: &branch_relocs(image),
    };
    let mut seen: FxHashSet<u64> = entries.iter().copied().collect();
    let mut bodies = traverse(&cx, entries);
    let (mut from, limit) = (0, bodies.len().saturating_add(callees));
    while bodies.len() < limit {
        let mut next: Vec<u64> = bodies[from..]
            .iter()
            .flat_map(|(_, b)| b.calls.iter().chain(&b.tail_calls))
            .copied()
            .filter(|&a| code.bytes(a).is_some() && seen.insert(a))
            .collect();
        if next.is_empty() {
            break;
        }
        next.truncate(limit - bodies.len());
        from = bodies.len();
        bodies.extend(traverse(&cx, next));
    }
    bodies
}

/// Finds every function of the image and builds its CFG.
pub fn analyze(image: &Image, dis: &dyn Disassembler, hints: &[FunctionHint]) -> Analysis {
    let code = CodeMap::new(image);
    let mut seeds = stated_seeds(image, &code, hints);
    let stated = Extents::new(seeds.size.iter().map(|(&a, &n)| (a, n)));
    let fragments = Extents::new(
        hints
            .iter()
            .filter(|h| h.fragment && code.contains(h.addr.0))
            .filter_map(|h| h.size.map(|n| (h.addr.0, n))),
    );
    // split-off parts found: never promoted to starts again
    let mut parts_of: FxHashSet<u64> = FxHashSet::default();
    let pointers = data_pointers(image, &code);
    // Sections of import stubs (PLT, `__stubs`, `__stub_helper`): the code between the stubs
    // is the loader's (PLT0, lazy-binding helpers), not functions.
    const STUB_SECTIONS: &[&str] = &[
        ".plt",
        ".plt.got",
        ".plt.sec",
        ".iplt",
        "__stubs",
        "__stub_helper",
        "__auth_stubs",
    ];
    // (PE import thunks lie in `.text` among the functions: they are symbols, not a section)
    let stubs: Vec<std::ops::Range<u64>> = image
        .code_sections()
        .filter(|s| STUB_SECTIONS.contains(&s.name.as_str()))
        .map(|s| s.addr.0..s.end())
        .collect();
    let mut noreturn = noreturn::by_name(image);
    let branch_relocs = branch_relocs(image);
    let mut bodies: BTreeMap<u64, FunctionBody> = BTreeMap::new();
    let mut starts = AddrSet::new(&code);
    starts.extend(seeds.evidence.keys().copied());
    let mut todo: Vec<u64> = starts.sorted();
    // starts added since the bodies were last checked for swallowing one (`swallowed`)
    let mut fresh: Vec<u64> = Vec::new();

    let mut passes = 0;
    // what each gap between covered code begins with, kept across rounds: most gaps (the
    // padding between functions) stay as they are
    let mut gap_starts = FxHashMap::default();
    for _round in 0..MAX_ROUNDS {
        // traverse until no new call or tail-call targets appear
        while !todo.is_empty() && passes < MAX_PASSES {
            passes += 1;
            let cx = Context {
                image,
                dis,
                code: &code,
                starts: &starts,
                noreturn: &noreturn,
                branch_relocs: &branch_relocs,
            };
            let mut found = Vec::new();
            for (a, body) in traverse(&cx, std::mem::take(&mut todo)) {
                for &c in &body.calls {
                    if code.contains(c) && seeds.add(c, Evidence::Call) {
                        found.push(c);
                    }
                }
                for &t in &body.tail_calls {
                    seeds.add(t, Evidence::TailCall);
                }
                bodies.insert(a, body);
            }
            for c in found {
                starts.insert(c);
                fresh.push(c);
                todo.push(c);
            }
            // functions whose blocks swallowed a start found later are traversed again
            if todo.is_empty() {
                todo = swallowed(&bodies, &starts, &mut fresh);
            }
        }
        // infer non-returning functions; re-traverse their callers
        let newly = infer_noreturn(&bodies, &mut noreturn);
        if !newly.is_empty() {
            let newly: FxHashSet<u64> = newly.into_iter().collect();
            todo = bodies
                .iter()
                .filter(|(_, b)| b.calls.iter().any(|c| newly.contains(c)))
                .map(|(&a, _)| a)
                .collect();
            continue;
        }
        // unconditional jumps that leave their function: tail calls to functions not yet known
        let left = leaving_jumps(
            &code, &bodies, &seeds, &starts, &stated, &fragments, &parts_of,
        );
        if !left.is_empty() {
            for &t in &left {
                seeds.add(t, Evidence::TailCall);
                starts.insert(t);
                fresh.push(t);
            }
            todo = left;
            continue;
        }
        // starts that are one function's split-off parts: that function takes their blocks
        let split = parts::find(&bodies, &seeds, &noreturn);
        if !split.is_empty() {
            for &(part, _) in &split {
                parts_of.insert(part);
                seeds.evidence.remove(&part);
                seeds.size.remove(&part);
                starts.remove(part);
                bodies.remove(&part);
                noreturn.remove(&part);
            }
            todo = split.into_iter().map(|(_, f)| f).collect();
            continue;
        }
        // code the traversal did not reach: pointers in data, computed code addresses, then
        // prologues and aligned code (what each check needs is built only when asked)
        let covered = std::cell::OnceCell::new();
        let covered = || covered.get_or_init(|| coverage(&bodies, false));
        let spans = std::cell::OnceCell::new();
        let spans = || spans.get_or_init(|| spans_of(&bodies, &starts));
        let mut extra = Vec::new();
        // (in relocatable objects the operands are not relocated: their constants mean nothing)
        for b in bodies.values().filter(|_| !image.synthetic_layout) {
            for &r in &b.code_refs {
                if !starts.contains(r)
                    && !stated.inside(r)
                    && !covered().contains(r)
                    && !spans().inside(r)
                    && seeds.add(r, Evidence::AddressTaken)
                {
                    extra.push(r);
                }
            }
        }
        // a pointer in data may also name a block another function's traversal ran into
        let mut in_blocks = Vec::new();
        for &r in &pointers {
            if starts.contains(r) {
                // known already (a prologue, a call): the pointer is more evidence
                seeds.add(r, Evidence::DataPointer);
            } else if stated.inside(r) {
            } else if covered().contains(r) {
                in_blocks.push(r);
            } else if seeds.add(r, Evidence::DataPointer) {
                extra.push(r);
            }
        }
        let owners = parts::owners(&bodies, in_blocks.iter().copied());
        for r in in_blocks {
            let block_start = owners.get(&r).is_some_and(|fs| {
                fs.iter().any(|f| {
                    bodies[f]
                        .blocks
                        .binary_search_by_key(&r, |b| b.addr)
                        .is_ok()
                })
            });
            if block_start && seeds.add(r, Evidence::DataPointer) {
                extra.push(r);
            }
        }
        if extra.is_empty() {
            let gaps: Vec<(u64, prologue::GapStart)> =
                prologue::in_gaps(&code, dis, &coverage(&bodies, true), &mut gap_starts)
                    .into_iter()
                    .filter(|g| !stubs.iter().any(|s| s.contains(&g.0)))
                    .collect();
            for &(a, _) in gaps.iter().filter(|g| g.1 == prologue::GapStart::Prologue) {
                if !starts.contains(a)
                    && !stated.inside(a)
                    && !fragments.inside(a)
                    && seeds.add(a, Evidence::Prologue)
                {
                    extra.push(a);
                }
            }
            // aligned code only when no prologue is left, and never where one function's
            // blocks lie on both sides (a switch's cases behind a jump not resolved, code
            // reached through a computed goto)
            if extra.is_empty() {
                for &(a, _) in gaps.iter().filter(|g| g.1 == prologue::GapStart::Aligned) {
                    if !starts.contains(a)
                        && !stated.inside(a)
                        && !fragments.inside(a)
                        && !spans().inside(a)
                        && seeds.add(a, Evidence::Aligned)
                    {
                        extra.push(a);
                    }
                }
            }
        }
        if extra.is_empty() {
            break;
        }
        for a in extra {
            starts.insert(a);
            fresh.push(a);
            todo.push(a);
        }
    }

    // caps reached: every start gets its body
    if !todo.is_empty() {
        let cx = Context {
            image,
            dis,
            code: &code,
            starts: &starts,
            noreturn: &noreturn,
            branch_relocs: &branch_relocs,
        };
        bodies.extend(traverse(&cx, todo));
    }

    let mut functions = Vec::with_capacity(bodies.len());
    let ordered: Vec<u64> = bodies.keys().copied().collect();
    for (i, (addr, body)) in bodies.into_iter().enumerate() {
        let next = ordered.get(i + 1).copied().unwrap_or(u64::MAX);
        let size = seeds
            .size
            .get(&addr)
            .copied()
            .unwrap_or_else(|| extent(addr, next, &body.blocks));
        let name = image
            .symbols
            .at(addr)
            .find(|s| !image.is_data_symbol(s))
            .map(|s| s.display_name().to_string());
        functions.push(Function {
            addr,
            size,
            name,
            evidence: seeds.evidence.remove(&addr).unwrap_or_default(),
            noreturn: noreturn.contains(&addr),
            blocks: body.blocks,
            switches: body.switches,
            unresolved: body.unresolved,
            calls: body.calls,
        });
    }
    Analysis { functions }
}

/// Code addresses stored in writable data, 8-byte aligned: function pointer tables
/// (`.data.rel.ro`), `.init_array`/`.fini_array`, vtables, GOT entries of local functions.
/// Read-only data is left out: in a shared object or PIE code addresses are small numbers,
/// which constants in `.rodata` match by chance, while a pointer table there would need
/// relocating and so is writable (RELRO) data. The pointers are read as the program sees them
/// before dynamic relocation: linkers store a relative relocation's addend in place (GNU ld
/// on both architectures; RELR requires it), so the bytes hold the link-time address.
fn data_pointers(image: &Image, code: &CodeMap) -> Vec<u64> {
    // relocatable objects: words without a relocation are not addresses at gloss's layout (a
    // zero would name the section at 0), and their symbols name every function anyway
    if image.synthetic_layout {
        return Vec::new();
    }
    let align = match image.arch {
        gloss_core::Arch::Aarch64 => 4,
        gloss_core::Arch::X86_64 => 1,
    };
    // An import's slot holds what the dynamic linker puts there; in the file, the lazy-binding
    // trampoline inside a PLT entry. ELF `.got.plt` is all such slots (imports and IRELATIVE
    // ifunc calls alike).
    let slots: FxHashSet<u64> = image
        .imports
        .iter()
        .filter_map(|i| i.slot)
        .map(|a| a.0)
        .collect();
    let got_plt: Vec<std::ops::Range<u64>> = image
        .sections
        .iter()
        .filter(|s| s.name == ".got.plt")
        .map(|s| s.addr.0..s.end())
        .collect();
    // ELF: the writable load segments, which also hold what the section list leaves out
    // (`.init_array`, `.fini_array`, `.dynamic`'s `DT_INIT`/`DT_FINI`); elsewhere the writable
    // sections
    let bytes = image.bytes();
    let mut regions: Vec<(u64, &[u8])> = Vec::new();
    if image.format == gloss_core::Format::Elf {
        for g in image.segments.iter().filter(|g| g.write && !g.exec) {
            let (Ok(off), Ok(len)) = (usize::try_from(g.file_offset), usize::try_from(g.file_size))
            else {
                continue;
            };
            if let Some(b) = off.checked_add(len).and_then(|end| bytes.get(off..end)) {
                regions.push((g.addr.0, b));
            }
        }
    }
    if regions.is_empty() {
        for s in image
            .sections
            .iter()
            .filter(|s| s.kind == gloss_core::SectionKind::Data)
        {
            regions.push((s.addr.0, image.loaded_bytes(s)));
        }
    }
    let mut out = Vec::new();
    for (addr, bytes) in regions {
        let skip = (8 - addr % 8) % 8;
        for (i, w) in bytes
            .get(skip as usize..)
            .unwrap_or(&[])
            .chunks_exact(8)
            .enumerate()
        {
            let v = u64::from_le_bytes(w.try_into().expect("8 bytes"));
            let at = addr + skip + 8 * i as u64;
            if v % align == 0
                && code.contains(v)
                && !slots.contains(&at)
                && !got_plt.iter().any(|r| r.contains(&at))
            {
                out.push(v);
            }
        }
    }
    // RELA pointers whose value is only in the relocation (ld.lld leaves the field zero)
    out.extend(
        image
            .relative
            .iter()
            .map(|&(_, v)| v)
            .filter(|&v| v % align == 0 && code.contains(v)),
    );
    out.sort_unstable();
    out.dedup();
    out
}

/// Traverses the functions at `todo`. Each traversal reads only the context, so they run in
/// parallel (as many threads as the caller's rayon pool has; the CLI's default is one); the
/// result is in address order, whatever the threads did.
fn traverse(cx: &Context<'_>, mut todo: Vec<u64>) -> Vec<(u64, FunctionBody)> {
    todo.sort_unstable();
    todo.dedup();
    todo.into_par_iter()
        .map(|a| (a, cfg::build(cx, a)))
        .collect()
}

/// In relocatable objects, where each relocation points: a defined symbol's or section's
/// address plus the addend (x86-64 PC-relative fields also add back the 4 bytes the addend
/// subtracts for the field's end); `None` for symbols defined elsewhere.
fn branch_relocs(image: &Image) -> Vec<(u64, Option<u64>)> {
    if !image.synthetic_layout {
        return Vec::new();
    }
    let pc_adjust = if image.arch == gloss_core::Arch::X86_64 {
        4
    } else {
        0
    };
    let mut out: Vec<(u64, Option<u64>)> = image
        .relocs
        .iter()
        .map(|r| {
            let target = r
                .target
                .map(|b| b.0.wrapping_add(r.addend as u64).wrapping_add(pc_adjust));
            (r.at.0, target)
        })
        .collect();
    out.sort_unstable_by_key(|r| r.0);
    out
}

/// Functions whose blocks contain another function's entry (found after they were traversed).
fn swallowed(
    bodies: &BTreeMap<u64, FunctionBody>,
    starts: &AddrSet,
    fresh: &mut Vec<u64>,
) -> Vec<u64> {
    // A body never has a block at a start known when it was traversed (the traversal stops
    // there), so only the starts added since the last check can be swallowed ones.
    fresh.retain(|&s| starts.contains(s));
    fresh.sort_unstable();
    fresh.dedup();
    let out = bodies
        .iter()
        .filter(|&(&a, b)| {
            // only a body with another such start among its blocks' addresses needs looking at
            let i = fresh.partition_point(|&s| s < b.lo);
            fresh[i..]
                .iter()
                .take_while(|&&s| s < b.hi)
                .any(|&s| s != a)
                && b.blocks
                    .iter()
                    .any(|bl| bl.addr != a && starts.contains(bl.addr))
        })
        .map(|(&a, _)| a)
        .collect();
    fresh.clear();
    out
}

/// Marks functions that cannot return: no return, no indirect or unknown exit, every tail
/// call goes to a non-returning function, and no call of its own next bytes (a retpoline).
/// Returns the newly marked.
fn infer_noreturn(bodies: &BTreeMap<u64, FunctionBody>, noreturn: &mut FxHashSet<u64>) -> Vec<u64> {
    let mut newly = Vec::new();
    loop {
        let mut changed = false;
        for (&a, b) in bodies {
            if b.may_return || !b.broken.is_empty() || noreturn.contains(&a) {
                continue;
            }
            // a call of the code right after its own blocks (or after padding there) is a
            // retpoline thunk's `call 1f` (the callee rewrites the return address and returns
            // elsewhere), not a loop forever
            if b.calls.iter().any(|&t| t > a && t < b.hi + 16) {
                continue;
            }
            let falls_out = b.exits.iter().any(|e| {
                e.kind == cfg::EdgeKind::FallThrough && e.to != a && bodies.contains_key(&e.to)
            });
            if falls_out || b.tail_calls.iter().any(|t| !noreturn.contains(t)) {
                continue;
            }
            noreturn.insert(a);
            newly.push(a);
            changed = true;
        }
        if !changed {
            return newly;
        }
    }
}

/// The extents the file states for function starts: symbol sizes and unwind ranges. No
/// function starts strictly inside one: a symbol's or FDE's range is one function's code, so
/// an address computed inside it is a label of that code (a computed `goto`, an assembly
/// routine's own dispatch), not another function. (Fragments' FDEs are left out: a signal
/// trampoline's begins a byte before the trampoline.)
struct Extents {
    /// Starts, sorted (equal starts in the order given).
    starts: Vec<u64>,
    /// The furthest end among the extents up to each index.
    reach: Vec<u64>,
    /// The end of the extent at each index.
    ends: Vec<u64>,
}

impl Extents {
    /// From `(start, size)` pairs.
    fn new(ranges: impl Iterator<Item = (u64, u64)>) -> Extents {
        let mut r: Vec<(u64, u64)> = ranges.map(|(a, n)| (a, a.saturating_add(n))).collect();
        r.sort_by_key(|x| x.0);
        let mut reach = Vec::with_capacity(r.len());
        let mut far = 0;
        for &(_, e) in &r {
            far = far.max(e);
            reach.push(far);
        }
        let (starts, ends) = r.into_iter().unzip();
        Extents {
            starts,
            reach,
            ends,
        }
    }

    /// Whether `a` lies inside a stated extent, past its start.
    fn inside(&self, a: u64) -> bool {
        let i = self.starts.partition_point(|&s| s < a);
        i > 0 && a < self.reach[i - 1]
    }

    /// The end of the (first) extent stated for a function starting at `a`, found from index
    /// `*from` on and leaving `*from` there: callers asking in increasing order of `a` walk
    /// the starts once instead of searching them each time.
    fn end_of_from(&self, a: u64, from: &mut usize) -> Option<u64> {
        *from += self.starts[*from..].partition_point(|&s| s < a);
        (self.starts.get(*from) == Some(&a)).then(|| self.ends[*from])
    }

    /// Whether `a` lies inside a stated extent or at its start.
    fn covers(&self, a: u64) -> bool {
        let i = self.starts.partition_point(|&s| s <= a);
        i > 0 && a < self.reach[i - 1]
    }
}

/// Targets of unconditional direct jumps that leave the function they are in: tail calls to
/// functions no other evidence named. A function's code is one contiguous range from its entry
/// (its split-off parts aside), so a jump leaves when its target lies outside the function's
/// stated extent, before its entry, or past another function's start. A target inside some
/// function's stated extent is that function's code (assembly routines share tails), and a
/// target inside a fragment's unwind range is a part, not a function. Conditional branches
/// are not taken for tail calls (gcc never emits them; see `parts.rs`).
fn leaving_jumps(
    code: &CodeMap,
    bodies: &BTreeMap<u64, FunctionBody>,
    seeds: &Seeds,
    starts: &AddrSet,
    stated: &Extents,
    fragments: &Extents,
    parts_of: &FxHashSet<u64>,
) -> Vec<u64> {
    // Only functions whose start something stated or called count, as jumpers and as the
    // boundaries jumps cross: a start wrongly placed inside a function would otherwise make
    // every jump of that function across it a "tail call", and those more.
    let sorted: Vec<u64> = seeds
        .evidence
        .iter()
        .filter(|(a, ev)| {
            starts.contains(**a)
                && ev.iter().any(|e| {
                    !matches!(
                        e,
                        Evidence::TailCall
                            | Evidence::AddressTaken
                            | Evidence::Prologue
                            | Evidence::Aligned
                    )
                })
        })
        .map(|(&a, _)| a)
        .collect();
    let mut out = Vec::new();
    // bodies in address order: `sorted` and the stated extents are walked along with them
    let (mut at, mut stated_at) = (0, 0);
    for (&f, body) in bodies {
        at += sorted[at..].partition_point(|&s| s < f);
        if sorted.get(at) != Some(&f) {
            continue; // not trusted
        }
        let own_end = stated.end_of_from(f, &mut stated_at);
        // the function's own range: blocks beyond it may be code of a function it jumped
        // into before that jump was known to leave (this round judges the first jump only)
        let next = sorted.get(at + 1).copied().unwrap_or(u64::MAX);
        let range_end = own_end.unwrap_or(next);
        if body.lo >= f && body.hi <= range_end {
            continue; // every jump lands in its own range (jump targets are its blocks)
        }
        for b in body
            .blocks
            .iter()
            .filter(|b| f <= b.addr && b.addr < range_end)
        {
            for e in b.succs.iter().filter(|e| e.kind == cfg::EdgeKind::Jump) {
                let Some(t) = e.to.filter(|&t| code.contains(t)) else {
                    continue;
                };
                if starts.contains(t)
                    || parts_of.contains(&t)
                    || stated.inside(t)
                    || fragments.covers(t)
                {
                    continue;
                }
                let leaves = match own_end {
                    Some(end) => t < f || t >= end,
                    // another function's start in (f, t]
                    None => t < f || next <= t,
                };
                if leaves {
                    out.push(t);
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Where each function's code lies, as far as its blocks show: from its entry to the end of
/// its last block before the next start (to the next start itself when it has a jump not
/// resolved, whose cases may follow the last block reached), and, for blocks between other
/// starts (a split-off part), from the first to the end of the last of them. Code inside such
/// a span is the function's own even where no block reached it: the labels of a computed
/// goto, the cases of a table not recovered, the middle of a cold part.
fn spans_of(bodies: &BTreeMap<u64, FunctionBody>, starts: &AddrSet) -> Extents {
    let sorted = starts.sorted();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (&f, b) in bodies {
        if b.blocks.is_empty() {
            continue;
        }
        let own = sorted.partition_point(|&s| s <= f);
        let reaches_cases = b.unresolved.iter().any(|u| may_reach_cases(u.1));
        let next = sorted.get(own).copied();
        if b.lo >= f && next.is_none_or(|n| b.hi <= n) {
            // all its blocks lie between its entry and the next start
            let hi = match next {
                Some(n) if reaches_cases => n.max(b.hi),
                _ => b.hi,
            };
            out.push((f, hi.saturating_sub(f)));
            continue;
        }
        // region index (between consecutive starts) -> (lowest block, highest end)
        let mut regions: BTreeMap<usize, (u64, u64)> = BTreeMap::new();
        for bl in &b.blocks {
            let i = sorted.partition_point(|&s| s <= bl.addr);
            let r = regions.entry(i).or_insert((bl.addr, bl.end()));
            r.0 = r.0.min(bl.addr);
            r.1 = r.1.max(bl.end());
        }
        for (i, (lo, hi)) in regions {
            if i == own {
                let hi = if !reaches_cases {
                    hi
                } else {
                    sorted.get(i).copied().unwrap_or(hi).max(hi)
                };
                out.push((f, hi.saturating_sub(f)));
            } else {
                out.push((lo, hi - lo));
            }
        }
    }
    Extents::new(out.into_iter())
}

/// Whether an indirect jump left unresolved may be a switch whose cases were not reached:
/// not when jump-table recovery found its target to be no table but a function pointer or a
/// value from elsewhere, a tail call.
fn may_reach_cases(why: &str) -> bool {
    !crate::idiom::jump_table::NOT_A_TABLE.contains(&why)
}

/// Sorted, merged address ranges covered by blocks.
pub(crate) struct Covered(Vec<(u64, u64)>);

impl Covered {
    pub(crate) fn contains(&self, a: u64) -> bool {
        let i = self.0.partition_point(|r| r.0 <= a);
        self.0[..i].last().is_some_and(|r| a < r.1)
    }
    pub(crate) fn ranges(&self) -> &[(u64, u64)] {
        &self.0
    }
}

fn coverage(bodies: &BTreeMap<u64, FunctionBody>, tables: bool) -> Covered {
    // each body's blocks are in address order: merge them there, then sort the few ranges
    // per body
    let mut r: Vec<(u64, u64)> = Vec::new();
    for b in bodies.values() {
        let first = r.len();
        for bl in &b.blocks {
            match r[first..].last_mut() {
                Some(l) if bl.addr <= l.1 => l.1 = l.1.max(bl.end()),
                _ => r.push((bl.addr, bl.end())),
            }
        }
    }
    if tables {
        // jump tables that lie in code (MSVC puts them after the function) are data
        for sw in bodies.values().flat_map(|b| &b.switches) {
            let n = sw.entries.len() as u64 * sw.entry_size as u64;
            r.push((sw.table_addr, sw.table_addr.saturating_add(n)));
        }
    }
    r.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(r.len());
    for (s, e) in r {
        match out.last_mut() {
            Some(l) if s <= l.1 => l.1 = l.1.max(e),
            _ => out.push((s, e)),
        }
    }
    Covered(out)
}

/// Size of the blocks that continue the entry without a gap, up to the next function.
pub fn extent(addr: u64, next: u64, blocks: &[Block]) -> u64 {
    let mut end = addr;
    for b in blocks.iter().filter(|b| b.addr >= addr && b.addr < next) {
        if b.addr <= end {
            end = end.max(b.end());
        }
    }
    end.min(next) - addr
}

#[cfg(test)]
mod tests {
    use super::{Evidence, EvidenceSet};

    /// A set lists its kinds once each, in the enum's order (what a B-tree set listed), and
    /// `Evidence::ALL` holds every kind: the match below stops compiling when one is added.
    #[test]
    fn evidence_sets_list_every_kind_in_order() {
        let position = |e: Evidence| match e {
            Evidence::Symbol
            | Evidence::Entry
            | Evidence::EhFrame
            | Evidence::Pdata
            | Evidence::FunctionStarts
            | Evidence::Call
            | Evidence::TailCall
            | Evidence::AddressTaken
            | Evidence::DataPointer
            | Evidence::Prologue
            | Evidence::Aligned => Evidence::ALL.iter().position(|&k| k == e),
        };
        assert!(Evidence::ALL.is_sorted_by(|a, b| a < b));
        let mut set = EvidenceSet::default();
        assert!(set.is_empty());
        for e in Evidence::ALL.into_iter().rev() {
            assert!(position(e).is_some(), "{e:?}");
            assert!(set.insert(e));
            assert!(!set.insert(e), "{e:?} twice");
        }
        assert_eq!(set.iter().collect::<Vec<_>>(), Evidence::ALL.to_vec());
        let mut two = EvidenceSet::default();
        two.insert(Evidence::Prologue);
        two.insert(Evidence::Call);
        assert_eq!(
            two.iter().collect::<Vec<_>>(),
            [Evidence::Call, Evidence::Prologue]
        );
        assert!(two.contains(Evidence::Call) && !two.contains(Evidence::Symbol));
    }
}
