//! Recursive descent over one function: decode from the entry, follow direct branches, stop at
//! other functions' entries (tail calls) and after calls to non-returning functions, resolve
//! indirect jumps once every other block is known (more predecessors, better bounds).
use super::{Block, Edge, EdgeKind, Succs};
use crate::addr_set::AddrSet;
use crate::code::CodeMap;
use crate::idiom::jump_table::{self, Resolution, Step, Switch};
use gloss_core::sem::{BinOp, Op, Reg, Target, Value};
use gloss_core::{Disassembler, Flow, Image, InsnStatus, OpDecoder};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;

/// Blocks per function beyond which the traversal stops (a runaway in data, not a function).
const MAX_BLOCKS: usize = 100_000;
/// Blocks on a path searched back from an indirect jump for its bounds check and table.
const MAX_PATH_BLOCKS: usize = 4;
/// Predecessor paths tried per length.
const MAX_PATHS: usize = 8;

/// What the traversal of every function needs to know about the others.
pub struct Context<'a> {
    pub image: &'a Image,
    pub dis: &'a dyn Disassembler,
    pub code: &'a CodeMap<'a>,
    /// Known function entries: a jump there is a tail call.
    pub starts: &'a AddrSet,
    /// Entries (and import slots) of functions that never return.
    pub noreturn: &'a FxHashSet<u64>,
    /// Relocatable objects: branch relocations `(at, target)` sorted by `at`; the target is
    /// `None` for a symbol defined elsewhere. Branch fields in the bytes are not yet relocated.
    pub branch_relocs: &'a [(u64, Option<u64>)],
}

impl Context<'_> {
    /// The branch target the relocation of an instruction says, if it has one.
    fn relocated(&self, addr: u64, end: u64) -> Option<Option<u64>> {
        let i = self.branch_relocs.partition_point(|r| r.0 < addr);
        self.branch_relocs.get(i).filter(|r| r.0 < end).map(|r| r.1)
    }
}

#[derive(Default, Debug)]
pub struct FunctionBody {
    pub blocks: Vec<Block>,
    pub switches: Vec<Switch>,
    /// Indirect jumps with unknown targets and why.
    pub unresolved: Vec<(u64, &'static str)>,
    /// Direct call targets.
    pub calls: Vec<u64>,
    /// Direct tail-call targets.
    pub tail_calls: Vec<u64>,
    /// Code addresses the function computes (`lea f(%rip)`, `adrp`+`add`): maybe functions.
    pub code_refs: Vec<u64>,
    /// Some path reaches a return, an indirect tail call or an unknown jump.
    pub may_return: bool,
    /// Decoding stopped at these addresses: invalid bytes or leaving code.
    pub broken: Vec<u64>,
    /// Lowest block address and highest block end: discovery's scans skip a body whose
    /// blocks all lie in its own range without looking at them.
    pub lo: u64,
    pub hi: u64,
    /// Edges to code that is not one of this body's blocks (tail calls, fall-throughs into
    /// the next function, table targets at other starts), with what else their block does.
    pub exits: Vec<Exit>,
}

/// An edge leaving a body's blocks, from a block that also has a call (`calls`) or a
/// fall-through (`falls`) edge.
#[derive(Clone, Copy, Debug)]
pub struct Exit {
    pub to: u64,
    pub kind: EdgeKind,
    pub calls: bool,
    pub falls: bool,
}

struct Walker<'c, 'a> {
    cx: &'c Context<'a>,
    entry: u64,
    blocks: Blocks,
    pending: Vec<u64>,
    work: Vec<u64>,
    body: FunctionBody,
    /// Constants held by registers within the block being decoded.
    consts: Consts,
    /// The decoder of the stretch of code the last block lay in: most blocks of a function
    /// lie in one, and an x86 decoder costs as much to make as two instructions to decode.
    stretch: Option<Stretch<'a>>,
}

/// An [`OpDecoder`] over the code from `start` to `end`.
struct Stretch<'a> {
    start: u64,
    end: u64,
    decoder: Box<dyn OpDecoder + 'a>,
}

pub fn build(cx: &Context<'_>, entry: u64) -> FunctionBody {
    let mut w = Walker {
        cx,
        entry,
        blocks: Blocks::reusing(SPARE_BLOCKS.take()),
        pending: Vec::new(),
        work: vec![entry],
        body: FunctionBody::default(),
        consts: Consts::default(),
        stretch: None,
    };
    loop {
        while let Some(a) = w.work.pop() {
            if w.blocks.len() >= MAX_BLOCKS {
                w.body.broken.push(a);
                w.work.clear();
                break;
            }
            w.visit(a);
        }
        if w.pending.is_empty() {
            break;
        }
        let pending = std::mem::take(&mut w.pending);
        // (resolving adds only edges that are not predecessor edges: one map serves them all)
        let preds = w.predecessors();
        for j in pending {
            w.resolve(j, &preds);
        }
    }
    let mut body = w.body;
    let (blocks, spare) = w.blocks.into_sorted();
    SPARE_BLOCKS.set(spare);
    body.blocks = blocks;
    body.lo = body.blocks.first().map_or(entry, |b| b.addr);
    body.hi = body.blocks.iter().map(Block::end).max().unwrap_or(entry);
    body.exits = exits(&body.blocks);
    body.calls.sort_unstable();
    body.calls.dedup();
    body.code_refs.sort_unstable();
    body.code_refs.dedup();
    body
}

impl<'a> Walker<'_, 'a> {
    fn visit(&mut self, a: u64) {
        // the block at `a`, else the one before it (one search for both)
        let at_or_before = self.blocks.at_or_before(a).map(|b| (b.addr, b.end()));
        match at_or_before {
            Some((s, _)) if s == a => return,
            Some((s, end)) if a < end && self.split(s, a) => return,
            _ => {}
        }
        self.decode_block(a);
    }

    /// Splits the block at `s` so that `a` starts a block; false if `a` is not on one of its
    /// instruction boundaries (overlapping code, decoded separately).
    fn split(&mut self, s: u64, a: u64) -> bool {
        let Some(b) = self.blocks.get(s) else {
            return false;
        };
        let mut at = s;
        let mut n = 0u32;
        while at < a {
            let Some(bytes) = self.cx.code.bytes(at) else {
                return false;
            };
            at = self.cx.dis.decode(bytes, at).end();
            n += 1;
        }
        if at != a {
            return false;
        }
        let second = Block {
            addr: a,
            size: span(a, b.end()),
            insns: b.insns - n,
            succs: b.succs.clone(),
        };
        let first = Block {
            addr: s,
            size: span(s, a),
            insns: n,
            succs: smallvec::smallvec![fall(a)],
        };
        self.blocks.insert(first);
        self.blocks.insert(second);
        true
    }

    fn decode_block(&mut self, start: u64) {
        let limit = self.blocks.after(start).unwrap_or(u64::MAX);
        let cx = self.cx;
        let mut a = start;
        let mut insns = 0u32;
        let mut succs = Succs::new();
        // constants held by registers within the block: finds `adrp`+`add` code addresses
        self.consts.held = 0;
        // decoded in runs, one to the end of the code `a` lies in (its section or the next
        // data run), each with one decoder; a run that ends mid-block continues after it
        let mut ended = false;
        while !ended {
            let Some(mut stretch) = self.stretch_at(a) else {
                self.body.broken.push(a);
                break;
            };
            let run = a;
            stretch.decoder.run(a, &mut |insn, op, bytes| {
                ended = true;
                if a >= limit || a != start && a != run && self.is_other_function(a) {
                    // the next block, or the next function: the last call did not return
                    succs.push(fall(a));
                    return false;
                }
                if insn.status != InsnStatus::Valid {
                    self.body.broken.push(a);
                    return false;
                }
                insns += 1;
                let origin = self.origin(insn, bytes);
                self.track_consts(op, origin);
                let end = insn.end();
                let mut flow = insn.flow;
                if let Some(t) = cx.relocated(insn.addr, end) {
                    flow = match (flow, t) {
                        (Flow::Call(_), Some(t)) => Flow::Call(t),
                        (Flow::Call(_), None) => Flow::IndirectCall, // external: unknown here
                        (Flow::Jump(_), Some(t)) => Flow::Jump(t),
                        (Flow::Jump(_), None) => Flow::IndirectJump,
                        (Flow::CondJump(_), Some(t)) => Flow::CondJump(t),
                        (f, _) => f,
                    };
                }
                a = end;
                match flow {
                    Flow::Next => {
                        ended = false;
                        return true;
                    }
                    Flow::CondJump(t) => {
                        succs.push(self.branch(t, EdgeKind::Conditional));
                        succs.push(fall(end));
                        self.follow(end);
                    }
                    Flow::Jump(t) => succs.push(self.branch(t, EdgeKind::Jump)),
                    Flow::Call(t) => {
                        succs.push(Edge {
                            to: Some(t),
                            kind: EdgeKind::Call,
                        });
                        self.body.calls.push(t);
                        if !cx.noreturn.contains(&t) {
                            succs.push(fall(end));
                            self.follow(end);
                        }
                    }
                    Flow::IndirectCall => {
                        succs.push(Edge {
                            to: None,
                            kind: EdgeKind::Call,
                        });
                        let slot = match *op {
                            Op::Indirect {
                                target: Target::Mem(m),
                            } if m.base.is_none() && m.index.is_none() => Some(m.disp as u64),
                            _ => None,
                        };
                        if !slot.is_some_and(|s| cx.noreturn.contains(&s)) {
                            succs.push(fall(end));
                            self.follow(end);
                        }
                    }
                    Flow::IndirectJump => self.pending.push(insn.addr),
                    Flow::Return => {
                        succs.push(Edge {
                            to: None,
                            kind: EdgeKind::Return,
                        });
                        self.body.may_return = true;
                    }
                    Flow::Trap => {}
                }
                false
            });
            self.stretch = Some(stretch);
            // a run that ended on a plain instruction: the block goes on in the next code,
            // unless that is the next block or function
            if !ended && (a >= limit || self.is_other_function(a)) {
                succs.push(fall(a));
                break;
            }
        }
        self.blocks.insert(Block {
            addr: start,
            size: span(start, a),
            insns,
            succs,
        });
    }

    /// The decoder of the code `a` lies in (taken out of the walker while it runs): the last
    /// one when `a` lies in its stretch, else a new one; `None` where no code is.
    fn stretch_at(&mut self, a: u64) -> Option<Stretch<'a>> {
        if let Some(s) = self.stretch.take()
            && s.start <= a
            && a < s.end
        {
            return Some(s);
        }
        // (never empty from `a` on: a run that decoded nothing would be asked again forever)
        let (start, bytes) = self
            .cx
            .code
            .stretch(a)
            .filter(|(s, b)| a < s + b.len() as u64)?;
        Some(Stretch {
            start,
            end: start + bytes.len() as u64,
            decoder: self.cx.dis.op_decoder(bytes, start),
        })
    }

    /// Another function's entry: a branch there leaves this function.
    fn is_other_function(&self, t: u64) -> bool {
        t != self.entry && self.cx.starts.contains(t)
    }

    /// The edge of a direct branch to `t`: a tail call (including a conditional one, `jne
    /// other_function`) when `t` is another function's entry, else `kind`, followed.
    fn branch(&mut self, t: u64, kind: EdgeKind) -> Edge {
        if self.is_other_function(t) {
            self.body.tail_calls.push(t);
            return Edge {
                to: Some(t),
                kind: EdgeKind::TailCall,
            };
        }
        self.follow(t);
        Edge { to: Some(t), kind }
    }

    fn follow(&mut self, t: u64) {
        if self.is_other_function(t) {
            return; // another function's entry: reached by falling out of a call that did not return
        }
        if self.cx.code.contains(t) {
            self.work.push(t);
        } else {
            self.body.broken.push(t);
        }
    }

    /// Where a constant this instruction sets comes from.
    fn origin(&self, insn: &gloss_core::Insn, bytes: &[u8]) -> Origin {
        if insn.pc_ref.is_none() {
            return Origin::Imm;
        }
        let adrp = self.cx.dis.arch() == gloss_core::Arch::Aarch64
            && crate::idiom::addr_mat::is_adrp(bytes);
        if adrp { Origin::Page } else { Origin::Pc }
    }

    /// Tracks register constants and records those that may be code addresses: PC-relative
    /// ones (`lea f(%rip)`, `adr`, `adrp`+`add`; an `adrp` page alone is not the address), and
    /// immediates only in position-dependent code (in a shared object or PIE an absolute
    /// address would need a text relocation; `mov $0x80802,%esi` there is a flag word that
    /// happens to fall in the code's range).
    fn track_consts(&mut self, op: &Op, origin: Origin) {
        let consts = &mut self.consts;
        let v = match *op {
            Op::Set {
                dst,
                src: Value::Imm(k),
                ..
            } => Some((dst, k as u64, origin)),
            Op::Bin {
                op: BinOp::Add,
                dst,
                a,
                b: Value::Imm(k),
                width: 64,
            } => consts.get(a).map(|(base, o)| {
                let o = if o == Origin::Page { Origin::Pc } else { o };
                (dst, base.wrapping_add(k as u64), o)
            }),
            _ => None,
        };
        match v {
            Some((dst, k, o)) => {
                consts.set(dst, k, o);
                let address = match o {
                    Origin::Pc => true,
                    Origin::Page => false,
                    Origin::Imm => self
                        .cx
                        .image
                        .facts
                        .elf
                        .as_ref()
                        .is_none_or(|e| e.file_type != "ET_DYN"),
                };
                if address && self.cx.code.contains(k) {
                    self.body.code_refs.push(k);
                }
            }
            None => match *op {
                Op::Set { dst, .. }
                | Op::Bin { dst, .. }
                | Op::Load { dst, .. }
                | Op::Addr { dst, .. }
                | Op::Select { dst, .. } => {
                    consts.clobber(dst.bit());
                }
                Op::Clobber(m) => consts.clobber(m),
                _ => {}
            },
        }
    }

    fn block_ending_at(&self, jump: u64) -> Option<u64> {
        self.blocks
            .at_or_before(jump)
            .filter(|b| jump < b.end())
            .map(|b| b.addr)
    }

    /// Intra-function predecessors of each block, those that end with a conditional branch (a
    /// bounds check) first, each group in address order.
    fn predecessors(&self) -> FxHashMap<u64, Vec<u64>> {
        let mut preds: FxHashMap<u64, Vec<u64>> = FxHashMap::default();
        for conditional in [true, false] {
            for b in self.blocks.iter() {
                if b.succs.iter().any(|e| e.kind == EdgeKind::Conditional) != conditional {
                    continue;
                }
                for e in &b.succs {
                    if let (
                        Some(t),
                        EdgeKind::FallThrough | EdgeKind::Conditional | EdgeKind::Jump,
                    ) = (e.to, e.kind)
                    {
                        preds.entry(t).or_default().push(b.addr);
                    }
                }
            }
        }
        preds
    }

    /// Predecessor chains ending with the jump's block, `len` blocks long; predecessors that
    /// end with a conditional branch (a bounds check) come first. At most `MAX_PATHS`.
    fn paths(&self, preds: &FxHashMap<u64, Vec<u64>>, last: u64, len: usize) -> Vec<Vec<u64>> {
        let mut out = Vec::new();
        let mut stack = vec![vec![last]];
        while let Some(path) = stack.pop() {
            if path.len() == len {
                out.push(path);
                if out.len() >= MAX_PATHS {
                    break;
                }
                continue;
            }
            for &p in preds.get(&path[0]).into_iter().flatten().rev() {
                if !path.contains(&p) {
                    let mut longer = vec![p];
                    longer.extend(&path);
                    stack.push(longer);
                }
            }
        }
        out
    }

    fn steps(&self, blocks: &[u64], jump: u64) -> Vec<Step> {
        let mut steps = Vec::new();
        for (i, &s) in blocks.iter().enumerate() {
            let next = blocks.get(i + 1).copied();
            let b = &self.blocks[s];
            let mut a = s;
            while a < b.end() {
                let Some(bytes) = self.cx.code.bytes(a) else {
                    return steps;
                };
                let (insn, sem) = self.cx.dis.decode_sem(bytes, a);
                let taken = match (insn.flow, next) {
                    (Flow::CondJump(t), Some(n)) => Some(t == n && t != insn.end()),
                    _ => None,
                };
                steps.push(Step { insn, sem, taken });
                if a == jump {
                    return steps;
                }
                a = insn.end();
            }
        }
        steps
    }

    fn resolve(&mut self, jump: u64, preds: &FxHashMap<u64, Vec<u64>>) {
        let Some(start) = self.block_ending_at(jump) else {
            return;
        };
        let env = crate::code::ImageEnv {
            image: self.cx.image,
            code: self.cx.code,
            dis: self.cx.dis,
        };
        // Longer paths see more (the subtraction before a second bounds check, a table base
        // set in the entry block): keep the deepest path that still resolves.
        let mut result = Resolution::Unresolved("no path to the jump");
        for len in 1..=MAX_PATH_BLOCKS {
            let mut found = None;
            let mut failure = None;
            for path in self.paths(preds, start, len) {
                let steps = self.steps(&path, jump);
                match jump_table::resolve(self.cx.dis.arch(), &steps, &env) {
                    r @ (Resolution::Table(_) | Resolution::Slot(_)) => {
                        found = Some(r);
                        break;
                    }
                    r => failure = failure.or(Some(r)),
                }
            }
            match (found, failure) {
                (Some(r), _) => result = r,
                (None, Some(f)) if matches!(result, Resolution::Unresolved(_)) => result = f,
                (None, _) => {}
            }
            if matches!(result, Resolution::Slot(_)) {
                break;
            }
        }
        let block = self.blocks.get_mut(start).expect("block exists");
        match result {
            Resolution::Table(sw) => {
                let mut seen = FxHashSet::default();
                for &t in &sw.entries {
                    if seen.insert(t) {
                        block.succs.push(Edge {
                            to: Some(t),
                            kind: EdgeKind::IndirectResolved,
                        });
                    }
                }
                let mut targets: Vec<u64> = seen.into_iter().collect();
                targets.sort_unstable();
                for t in targets {
                    self.follow(t);
                }
                self.body.switches.push(sw);
            }
            Resolution::Slot(_) => {
                block.succs.push(Edge {
                    to: None,
                    kind: EdgeKind::TailCall,
                });
                self.body.may_return = true;
            }
            Resolution::Unresolved(why) => {
                block.succs.push(Edge {
                    to: None,
                    kind: EdgeKind::Unresolved,
                });
                self.body.unresolved.push((jump, why));
                self.body.may_return = true;
            }
        }
    }
}

thread_local! {
    /// The last traversal's block buffer, emptied, with its capacity: growing a new one for
    /// each of a large binary's functions cost more than filling it.
    static SPARE_BLOCKS: std::cell::Cell<Vec<Block>> = const { std::cell::Cell::new(Vec::new()) };
}

/// A function's blocks as the traversal makes them: kept in the order made, with an index by
/// address (moving whole blocks around a B-tree's nodes cost more than the index does).
#[derive(Default)]
struct Blocks {
    made: Vec<Block>,
    by_addr: BTreeMap<u64, usize>,
}

impl Blocks {
    fn reusing(mut made: Vec<Block>) -> Blocks {
        made.clear();
        Blocks {
            made,
            by_addr: BTreeMap::new(),
        }
    }

    fn len(&self) -> usize {
        self.made.len()
    }

    fn get(&self, a: u64) -> Option<&Block> {
        self.by_addr.get(&a).map(|&i| &self.made[i])
    }

    fn get_mut(&mut self, a: u64) -> Option<&mut Block> {
        self.by_addr.get(&a).map(|&i| &mut self.made[i])
    }

    /// The block with the highest address up to `a`.
    fn at_or_before(&self, a: u64) -> Option<&Block> {
        self.by_addr
            .range(..=a)
            .next_back()
            .map(|(_, &i)| &self.made[i])
    }

    /// The address of the first block above `a`.
    fn after(&self, a: u64) -> Option<u64> {
        self.by_addr.range(a + 1..).next().map(|(&s, _)| s)
    }

    /// Adds a block, or replaces the one at its address.
    fn insert(&mut self, b: Block) {
        match self.by_addr.entry(b.addr) {
            std::collections::btree_map::Entry::Occupied(e) => self.made[*e.get()] = b,
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(self.made.len());
                self.made.push(b);
            }
        }
    }

    /// In address order.
    fn iter(&self) -> impl Iterator<Item = &Block> {
        self.by_addr.values().map(|&i| &self.made[i])
    }

    /// The blocks in address order, at their size, and the emptied buffer to reuse.
    fn into_sorted(mut self) -> (Vec<Block>, Vec<Block>) {
        self.made.sort_unstable_by_key(|b| b.addr);
        let sorted = self.made.drain(..).collect();
        (sorted, self.made)
    }
}

impl std::ops::Index<u64> for Blocks {
    type Output = Block;
    fn index(&self, a: u64) -> &Block {
        &self.made[self.by_addr[&a]]
    }
}

/// Constants held by registers within a block, by register number (no allocation: the
/// traversal makes millions of blocks).
struct Consts {
    /// A bit per register that holds a constant ([`Reg::bit`]).
    held: u64,
    values: [(u64, Origin); 64],
}

impl Default for Consts {
    fn default() -> Consts {
        Consts {
            held: 0,
            values: [(0, Origin::Imm); 64],
        }
    }
}

impl Consts {
    fn get(&self, r: Reg) -> Option<(u64, Origin)> {
        (self.held & r.bit() != 0).then(|| self.values[usize::from(r.0 & 63)])
    }

    fn set(&mut self, r: Reg, k: u64, o: Origin) {
        self.held |= r.bit();
        self.values[usize::from(r.0 & 63)] = (k, o);
    }

    /// Forgets the registers of a clobber mask.
    fn clobber(&mut self, mask: u64) {
        self.held &= !mask;
    }
}

/// Where a register's constant came from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// An immediate operand.
    Imm,
    /// An AArch64 `adrp` page: the address once the low bits are added.
    Page,
    /// A PC-relative address.
    Pc,
}

/// The body's edges of the kinds that may enter another function (tail call, fall-through,
/// table target) whose target is not one of its blocks.
fn exits(blocks: &[Block]) -> Vec<Exit> {
    let own = |t: u64| blocks.binary_search_by_key(&t, |b| b.addr).is_ok();
    let mut out = Vec::new();
    for b in blocks {
        let calls = b.succs.iter().any(|e| e.kind == EdgeKind::Call);
        let falls = b.succs.iter().any(|e| e.kind == EdgeKind::FallThrough);
        for e in &b.succs {
            if let (
                Some(to),
                EdgeKind::TailCall | EdgeKind::FallThrough | EdgeKind::IndirectResolved,
            ) = (e.to, e.kind)
                && !own(to)
            {
                out.push(Exit {
                    to,
                    kind: e.kind,
                    calls,
                    falls,
                });
            }
        }
    }
    out
}

/// A block's size from its start to its end (a block lies in one code section: it never
/// reaches 4 GiB; saturated all the same, for a crafted file).
fn span(from: u64, to: u64) -> u32 {
    u32::try_from(to - from).unwrap_or(u32::MAX)
}

fn fall(to: u64) -> Edge {
    Edge {
        to: Some(to),
        kind: EdgeKind::FallThrough,
    }
}
