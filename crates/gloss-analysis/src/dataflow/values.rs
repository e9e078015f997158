//! Register values at every instruction of one function, in one pass: blocks run in reverse
//! post-order (every forward predecessor of a block before it), each starting from what its
//! predecessors agree on; where they disagree about a register, it holds a `Join` node of the
//! block. A loop header cannot wait for its back edges, so the registers the loop may write
//! (any instruction of the blocks between the header and its last back edge in that order,
//! which hold the whole loop) become the header's `Join`s, and the others keep the value they
//! enter the loop with: the back edges bring that same value. A call leaves `Opaque` values in
//! the caller-saved registers ([`Exec::step`]). The idioms read what each instruction sees
//! ([`walk`]). Each instruction is decoded once and executed once.
use super::exec::{Exec, State};
use super::expr::{E, Exprs, Node};
use crate::cfg::{Block, EdgeKind};
use crate::code::CodeMap;
use gloss_core::sem::{Op, Reg, Sem};
use gloss_core::{Disassembler, Flow, Insn, InsnStatus};

/// What the idioms see of each instruction: the index of its block, itself, its semantics, its
/// first bytes and the executor before it runs.
pub type Visit<'v> = dyn FnMut(usize, &Insn, &Sem, &[u8], &mut Exec) + 'v;

/// A block's successors or predecessors: two but for a switch.
type Adj = smallvec::SmallVec<[usize; 2]>;

/// Calls `visit` with every instruction of `blocks` (blocks in reverse post-order), its
/// semantics, its first bytes and the executor holding the values the instruction reads
/// (before it executes), whose `written` says which registers the block has assigned so far.
/// Calls through the slots in `ex.preserving` keep every register. `ex` is reset first: callers
/// keep one per thread, with a [`Scratch`]. Returns the instructions, decoded once, for idioms
/// that need no values (with their first bytes), in block order.
pub fn walk<'s>(
    ex: &mut Exec,
    scratch: &'s mut Scratch,
    dis: &dyn Disassembler,
    code: &CodeMap,
    blocks: &[Block],
    entry: u64,
    visit: &mut Visit,
) -> (&'s [(Insn, Sem)], &'s [[u8; 4]]) {
    let n = blocks.len();
    let index = |a: u64| blocks.binary_search_by_key(&a, |b| b.addr).ok();
    let Scratch {
        insns,
        firsts,
        preds,
        succs,
        order,
        pos,
        at,
        writes,
        seen,
        stack,
        outs,
    } = scratch;
    for v in [&mut *preds, &mut *succs] {
        v.iter_mut().take(n).for_each(|a| a.clear());
        v.resize(n, Adj::new());
    }
    for (i, b) in blocks.iter().enumerate() {
        // most edges lead to the next block (a fall-through, a branch's not-taken side): no
        // search of the blocks, which are cold by now, for those
        let next = blocks.get(i + 1).map(|n| n.addr);
        for e in &b.succs {
            if let (
                Some(t),
                EdgeKind::FallThrough
                | EdgeKind::Conditional
                | EdgeKind::Jump
                | EdgeKind::IndirectResolved,
            ) = (e.to, e.kind)
                && let Some(j) = if next == Some(t) {
                    Some(i + 1)
                } else {
                    index(t)
                }
                && !succs[i].contains(&j)
            {
                succs[i].push(j);
                preds[j].push(i);
            }
        }
    }
    let entry = index(entry);
    reverse_post_order(&succs[..n], entry, seen, stack, order);
    pos.clear();
    pos.resize(n, 0);
    for (k, &i) in order.iter().enumerate() {
        pos[i] = k;
    }
    ex.reset();
    // no branch side is taken, so no guard is made: flags are never read
    ex.track_flags = false;
    let caller_saved = ex.caller_saved();

    // every instruction decoded once (block `i`'s are `insns[at[i]..at[i + 1]]`), with the
    // registers each block writes
    insns.clear();
    firsts.clear();
    at.clear();
    writes.clear();
    for b in blocks {
        let from = insns.len();
        at.push(from);
        decode_block(dis, code, b, insns, firsts);
        writes.push(
            insns[from..]
                .iter()
                .fold(0, |m, (insn, sem)| m | written(insn, sem, caller_saved)),
        );
    }
    at.push(insns.len());

    // each block's state at its end (one per block, reused from function to function)
    if outs.len() > 4 * n.max(1024) {
        outs.truncate(n);
    }
    if outs.len() < n {
        outs.resize_with(n, State::default);
    }
    let input = State::default();
    for &i in order.iter() {
        let block = blocks[i].addr;
        // the block's `Join`s, made once (here only: no other code makes a `Join` of it), and
        // those the register's entry value flows into
        let mut joins = [NONE; 32];
        let entry_joins = &mut ex.entry_joins;
        let mut join = |x: &mut Exprs, r: u8, entry: bool| {
            let j = &mut joins[r as usize];
            if *j == NONE {
                *j = x.fresh(Node::Join(block, Reg(r)));
            }
            if entry {
                entry_joins.insert(*j);
            }
            *j
        };
        let mut from: smallvec::SmallVec<[&State; 4]> = preds[i]
            .iter()
            .filter(|&&p| pos[p] < pos[i])
            .map(|&p| &outs[p])
            .collect();
        if Some(i) == entry {
            from.push(&input);
        }
        meet(&mut ex.x, &from, &mut ex.st, &mut join);
        drop(from);
        // a loop header: what the loop writes is not known on entry
        let last_back = preds[i]
            .iter()
            .filter(|&&p| pos[p] >= pos[i])
            .map(|&p| pos[p])
            .max();
        if let Some(last) = last_back {
            let mask = order[pos[i]..=last]
                .iter()
                .fold(0u64, |m, &j| m | writes[j]);
            for r in 0..32u8 {
                if mask & (1 << r) != 0 {
                    // the value entering the loop is the entry value: no path before it wrote it
                    let before = ex.st.regs.raw(Reg(r));
                    let entry = before == NONE || before == ex.x.input(Reg(r));
                    let j = join(&mut ex.x, r, entry);
                    ex.st.regs.insert(Reg(r), j);
                }
            }
            ex.st.stored.clear();
            ex.st.flags = None;
        }
        ex.written = 0;
        for ((insn, sem), bytes) in insns[at[i]..at[i + 1]].iter().zip(&firsts[at[i]..]) {
            visit(i, insn, sem, bytes, ex);
            ex.step(insn, sem, None);
            ex.written |= assigned(sem);
        }
        std::mem::swap(&mut outs[i], &mut ex.st);
    }
    (insns, firsts)
}

/// No value (a register slot that holds none).
const NONE: E = E::MAX;

/// Buffers [`walk`] reuses from one function to the next: a large function's would otherwise
/// be fresh pages from the kernel every time, and a small one's a dozen allocations.
#[derive(Default)]
pub struct Scratch {
    insns: Vec<(Insn, Sem)>,
    firsts: Vec<[u8; 4]>,
    preds: Vec<Adj>,
    succs: Vec<Adj>,
    order: Vec<usize>,
    pos: Vec<usize>,
    at: Vec<usize>,
    writes: Vec<u64>,
    seen: Vec<bool>,
    stack: Vec<(usize, usize)>,
    outs: Vec<State>,
}

/// The registers an instruction gives a modelled value (moves, arithmetic, loads, address
/// computations; not clobbers, not a call's scratch registers).
fn assigned(sem: &Sem) -> u64 {
    let m = match sem.op {
        Op::Set { dst, .. }
        | Op::Bin { dst, .. }
        | Op::Load { dst, .. }
        | Op::Addr { dst, .. }
        | Op::Insert { dst, .. }
        | Op::Select { dst, .. } => dst.bit(),
        _ => 0,
    };
    m | sem.writeback.map_or(0, |(b, _)| b.bit())
}

/// The registers an instruction may write: those it assigns, clobbers, or a call changes.
fn written(insn: &Insn, sem: &Sem, caller_saved: u64) -> u64 {
    let mut m = assigned(sem);
    if let Op::Clobber(mask) = sem.op {
        m |= mask;
    }
    if matches!(insn.flow, Flow::Call(_) | Flow::IndirectCall) {
        m |= caller_saved;
    }
    m
}

/// Blocks in reverse post-order from the entry, then the blocks it does not reach (a part
/// entered from elsewhere) in address order, into `post`.
fn reverse_post_order(
    succs: &[Adj],
    entry: Option<usize>,
    seen: &mut Vec<bool>,
    stack: &mut Vec<(usize, usize)>,
    post: &mut Vec<usize>,
) {
    let n = succs.len();
    seen.clear();
    seen.resize(n, false);
    post.clear();
    stack.clear();
    if let Some(e) = entry {
        seen[e] = true;
        stack.push((e, 0));
    }
    while let Some(&mut (i, ref mut next)) = stack.last_mut() {
        if let Some(&j) = succs[i].get(*next) {
            *next += 1;
            if !seen[j] {
                seen[j] = true;
                stack.push((j, 0));
            }
        } else {
            post.push(i);
            stack.pop();
        }
    }
    post.reverse();
    post.extend((0..n).filter(|&i| !seen[i]));
}

/// Into `out`: registers on which all the states agree keep their value; the others hold the
/// block's `Join` (`join`). Stored values and flags survive only where all agree.
fn meet(
    x: &mut Exprs,
    states: &[&State],
    out: &mut State,
    join: &mut impl FnMut(&mut Exprs, u8, bool) -> E,
) {
    match states {
        [] => out.clear(),
        [one] => out.copy_from(one),
        [first, rest @ ..] => {
            out.clear();
            for r in 0..32u8 {
                let reg = Reg(r);
                let raw = first.regs.raw(reg);
                if rest.iter().all(|s| s.regs.raw(reg) == raw) {
                    // the same in all (the common case): no `Join`
                    if raw != NONE && raw != x.input(reg) {
                        out.regs.insert(reg, raw);
                    }
                    continue;
                }
                let input = x.input(reg);
                let v = first.regs.get(&reg).copied().unwrap_or(input);
                let same = rest
                    .iter()
                    .all(|s| s.regs.get(&reg).copied().unwrap_or(input) == v);
                // a path that left the register alone brings its entry value
                let v = if same {
                    v
                } else {
                    let entry = states
                        .iter()
                        .any(|s| s.regs.get(&reg).is_none_or(|&e| e == input));
                    join(x, r, entry)
                };
                if v != input {
                    out.regs.insert(reg, v);
                }
            }
            out.stored.extend_agreed(&first.stored, |k, v| {
                rest.iter().all(|s| s.stored.get(k) == Some(v))
            });
            out.flags = first
                .flags
                .filter(|f| rest.iter().all(|s| s.flags == Some(*f)));
        }
    }
}

/// Decodes one block's instructions.
fn decode_block(
    dis: &dyn Disassembler,
    code: &CodeMap,
    b: &Block,
    out: &mut Vec<(Insn, Sem)>,
    firsts: &mut Vec<[u8; 4]>,
) {
    let mut a = b.addr;
    while a < b.end() {
        let Some(bytes) = code.bytes(a) else {
            return;
        };
        let bytes = &bytes[..bytes.len().min((b.end() - a) as usize)];
        let mut more = false;
        dis.decode_sem_run(bytes, a, &mut |insn, sem, ib| {
            if insn.status != InsnStatus::Valid {
                return false;
            }
            let mut first = [0u8; 4];
            let k = ib.len().min(4);
            first[..k].copy_from_slice(&ib[..k]);
            out.push((*insn, *sem));
            firsts.push(first);
            a = insn.end();
            more = true;
            true
        });
        if !more {
            return;
        }
    }
}
