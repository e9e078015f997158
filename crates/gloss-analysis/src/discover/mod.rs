//! Function discovery: start from what the file states (symbols, entry point, unwind and
//! function-start tables), then what the code shows (call and tail-call targets, code
//! addresses computed by the code, prologues in the gaps), traversing each function with
//! [`crate::cfg::build`] and iterating until nothing new appears. Non-returning callees are
//! known by name (`noreturn.rs`) or inferred (no path returns), and callers of newly inferred
//! ones are traversed again so that no fall-through is invented after them.
mod noreturn;
mod parts;
mod prologue;

use crate::cfg::{self, Block, Context, FunctionBody};
use crate::code::CodeMap;
use crate::idiom::jump_table::Switch;
use gloss_core::{Disassembler, FunctionHint, HintSource, Image, SymbolKind};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Traversal passes over the pending functions: new call targets and re-traversals of
/// functions that swallowed a later-found entry converge in a few; the cap keeps pathological
/// inputs bounded.
const MAX_PASSES: usize = 32;
/// Rounds of: traversal, non-returning inference, split-off parts, computed addresses and
/// prologues; each round that finds something traverses again.
const MAX_ROUNDS: usize = 12;

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
    /// A prologue (`endbr64`, `bti c`, `paciasp`, `push %rbp; mov %rsp,%rbp`,
    /// `stp x29, x30, [sp, #-N]!`) after padding in bytes no other function covers.
    Prologue,
}

impl Evidence {
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
            Evidence::Prologue => "prologue",
        }
    }
}

#[derive(Debug)]
pub struct Function {
    pub addr: u64,
    /// Stated by the symbol or unwind entry when there is one, else the contiguous extent of
    /// the blocks from the entry.
    pub size: u64,
    pub name: Option<String>,
    pub evidence: BTreeSet<Evidence>,
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
    evidence: BTreeMap<u64, BTreeSet<Evidence>>,
    size: HashMap<u64, u64>,
}

impl Seeds {
    fn add(&mut self, a: u64, e: Evidence) -> bool {
        let set = self.evidence.entry(a).or_default();
        let new = set.is_empty();
        set.insert(e);
        new
    }
}

/// Finds every function of the image and builds its CFG.
pub fn analyze(image: &Image, dis: &dyn Disassembler, hints: &[FunctionHint]) -> Analysis {
    let code = CodeMap::new(image);
    let mut seeds = Seeds {
        evidence: BTreeMap::new(),
        size: HashMap::new(),
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
    let stated = Extents::new(&seeds);
    let mut noreturn = noreturn::by_name(image);
    let branch_relocs = branch_relocs(image);
    let mut bodies: BTreeMap<u64, FunctionBody> = BTreeMap::new();
    let mut starts: HashSet<u64> = seeds.evidence.keys().copied().collect();
    let mut todo: Vec<u64> = starts.iter().copied().collect();

    let mut passes = 0;
    for _round in 0..MAX_ROUNDS {
        // traverse until no new call or tail-call targets appear
        while !todo.is_empty() && passes < MAX_PASSES {
            passes += 1;
            todo.sort_unstable();
            todo.dedup();
            let cx = Context {
                image,
                dis,
                code: &code,
                starts: &starts,
                noreturn: &noreturn,
                branch_relocs: &branch_relocs,
            };
            let mut found = Vec::new();
            for a in std::mem::take(&mut todo) {
                let body = cfg::build(&cx, a);
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
                todo.push(c);
            }
            // functions whose blocks swallowed a start found later are traversed again
            if todo.is_empty() {
                todo = swallowed(&bodies, &starts);
            }
        }
        // infer non-returning functions; re-traverse their callers
        let newly = infer_noreturn(&bodies, &mut noreturn);
        if !newly.is_empty() {
            let newly: HashSet<u64> = newly.into_iter().collect();
            todo = bodies
                .iter()
                .filter(|(_, b)| b.calls.iter().any(|c| newly.contains(c)))
                .map(|(&a, _)| a)
                .collect();
            continue;
        }
        // starts that are one function's split-off parts: that function takes their blocks
        let split = parts::find(&bodies, &seeds, &noreturn);
        if !split.is_empty() {
            for &(part, _) in &split {
                seeds.evidence.remove(&part);
                seeds.size.remove(&part);
                starts.remove(&part);
                bodies.remove(&part);
                noreturn.remove(&part);
            }
            todo = split.into_iter().map(|(_, f)| f).collect();
            continue;
        }
        // code the traversal did not reach: computed code addresses, then prologues
        let covered = coverage(&bodies);
        let mut extra = Vec::new();
        // (in relocatable objects the operands are not relocated: their constants mean nothing)
        for b in bodies.values().filter(|_| !image.synthetic_layout) {
            for &r in &b.code_refs {
                if !covered.contains(r)
                    && !starts.contains(&r)
                    && !stated.inside(r)
                    && seeds.add(r, Evidence::AddressTaken)
                {
                    extra.push(r);
                }
            }
        }
        if extra.is_empty() {
            for a in prologue::in_gaps(&code, dis, &covered) {
                if !starts.contains(&a) && !stated.inside(a) && seeds.add(a, Evidence::Prologue) {
                    extra.push(a);
                }
            }
        }
        if extra.is_empty() {
            break;
        }
        for a in extra {
            starts.insert(a);
            todo.push(a);
        }
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
            let base = image
                .symbols
                .by_name(&r.symbol)
                .filter(|s| s.kind != SymbolKind::Import)
                .map(|s| s.addr.0)
                .or_else(|| {
                    image
                        .sections
                        .iter()
                        .find(|s| s.name == r.symbol)
                        .map(|s| s.addr.0)
                });
            let target = base.map(|b| b.wrapping_add(r.addend as u64).wrapping_add(pc_adjust));
            (r.at.0, target)
        })
        .collect();
    out.sort_unstable_by_key(|r| r.0);
    out
}

/// Functions whose blocks contain another function's entry (found after they were traversed).
fn swallowed(bodies: &BTreeMap<u64, FunctionBody>, starts: &HashSet<u64>) -> Vec<u64> {
    bodies
        .iter()
        .filter(|(a, b)| {
            b.blocks
                .iter()
                .any(|bl| bl.addr != **a && starts.contains(&bl.addr))
        })
        .map(|(&a, _)| a)
        .collect()
}

/// Marks functions that cannot return: no return, no indirect or unknown exit, and every tail
/// call goes to a non-returning function. Returns the newly marked.
fn infer_noreturn(bodies: &BTreeMap<u64, FunctionBody>, noreturn: &mut HashSet<u64>) -> Vec<u64> {
    let mut newly = Vec::new();
    loop {
        let mut changed = false;
        for (&a, b) in bodies {
            if noreturn.contains(&a) || b.may_return || !b.broken.is_empty() {
                continue;
            }
            let falls_out = b.blocks.iter().any(|bl| {
                bl.succs.iter().any(|e| {
                    e.kind == cfg::EdgeKind::FallThrough
                        && e.to.is_some_and(|t| bodies.contains_key(&t) && t != a)
                })
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
    /// Starts, sorted.
    starts: Vec<u64>,
    /// The furthest end among the extents up to each index.
    reach: Vec<u64>,
}

impl Extents {
    fn new(seeds: &Seeds) -> Extents {
        let mut r: Vec<(u64, u64)> = seeds
            .size
            .iter()
            .map(|(&a, &n)| (a, a.saturating_add(n)))
            .collect();
        r.sort_unstable();
        let mut reach = Vec::with_capacity(r.len());
        let mut far = 0;
        for &(_, e) in &r {
            far = far.max(e);
            reach.push(far);
        }
        Extents {
            starts: r.into_iter().map(|x| x.0).collect(),
            reach,
        }
    }

    /// Whether `a` lies inside a stated extent, past its start.
    fn inside(&self, a: u64) -> bool {
        let i = self.starts.partition_point(|&s| s < a);
        i > 0 && a < self.reach[i - 1]
    }
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

fn coverage(bodies: &BTreeMap<u64, FunctionBody>) -> Covered {
    let mut r: Vec<(u64, u64)> = bodies
        .values()
        .flat_map(|b| b.blocks.iter().map(|bl| (bl.addr, bl.end())))
        .collect();
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

/// End of the blocks that continue the entry without a gap, up to the next function.
fn extent(addr: u64, next: u64, blocks: &[Block]) -> u64 {
    let mut end = addr;
    for b in blocks.iter().filter(|b| b.addr >= addr && b.addr < next) {
        if b.addr <= end {
            end = end.max(b.end());
        }
    }
    end.min(next) - addr
}
