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
use super::expr::Exprs;
use crate::cfg::{Block, EdgeKind};
use crate::code::CodeMap;
use gloss_core::sem::{Op, Reg, Sem};
use gloss_core::{Disassembler, Flow, Insn, InsnStatus};

/// What the idioms see of each instruction: itself, its semantics, its first bytes and the
/// executor before it runs.
pub type Visit<'v> = dyn FnMut(&Insn, &Sem, &[u8], &mut Exec) + 'v;

/// A block's successors or predecessors: two but for a switch.
type Adj = smallvec::SmallVec<[usize; 2]>;

/// Calls `visit` with every instruction of `blocks` (blocks in reverse post-order), its
/// semantics, its first bytes and the executor holding the values the instruction reads
/// (before it executes), whose `written` says which registers the block has assigned so far.
/// Calls through the slots in `ex.preserving` keep every register. `ex` is reset first: callers
/// keep one per thread, with a [`Scratch`]. Returns the instructions, decoded once, for idioms
/// that need no values.
pub fn walk<'s>(
    ex: &mut Exec,
    scratch: &'s mut Scratch,
    dis: &dyn Disassembler,
    code: &CodeMap,
    blocks: &[Block],
    entry: u64,
    visit: &mut Visit,
) -> &'s [(Insn, Sem)] {
    let n = blocks.len();
    let index = |a: u64| blocks.binary_search_by_key(&a, |b| b.addr).ok();
    let mut preds: Vec<Adj> = vec![Adj::new(); n];
    let mut succs: Vec<Adj> = vec![Adj::new(); n];
    for (i, b) in blocks.iter().enumerate() {
        for e in &b.succs {
            if let (
                Some(t),
                EdgeKind::FallThrough
                | EdgeKind::Conditional
                | EdgeKind::Jump
                | EdgeKind::IndirectResolved,
            ) = (e.to, e.kind)
                && let Some(j) = index(t)
                && !succs[i].contains(&j)
            {
                succs[i].push(j);
                preds[j].push(i);
            }
        }
    }
    let entry = index(entry);
    let order = reverse_post_order(&succs, entry, n);
    let mut pos = vec![0usize; n];
    for (k, &i) in order.iter().enumerate() {
        pos[i] = k;
    }
    ex.reset();
    let caller_saved = ex.caller_saved();

    // every instruction decoded once (block `i`'s are `insns[at[i]..at[i + 1]]`), with the
    // registers each block writes
    let Scratch { insns, firsts } = scratch;
    insns.clear();
    firsts.clear();
    let mut at = Vec::with_capacity(n + 1);
    let mut writes = vec![0u64; n];
    for (i, b) in blocks.iter().enumerate() {
        at.push(insns.len());
        decode_block(dis, code, b, insns, firsts);
        for (insn, sem) in &insns[at[i]..] {
            writes[i] |= written(insn, sem, caller_saved);
        }
    }
    at.push(insns.len());

    let mut outs: Vec<Option<State>> = vec![None; n];
    for &i in &order {
        let from: Vec<&State> = preds[i]
            .iter()
            .filter(|&&p| pos[p] < pos[i])
            .filter_map(|&p| outs[p].as_ref())
            .collect();
        let input = State::default();
        let mut from = from;
        if Some(i) == entry {
            from.push(&input);
        }
        let mut st = meet(&mut ex.x, blocks[i].addr, &from);
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
                    st.regs.insert(Reg(r), ex.x.join(blocks[i].addr, Reg(r)));
                }
            }
            st.stored.clear();
            st.flags = None;
        }
        ex.st = st;
        ex.written = 0;
        for ((insn, sem), bytes) in insns[at[i]..at[i + 1]].iter().zip(&firsts[at[i]..]) {
            visit(insn, sem, bytes, ex);
            ex.step(insn, sem, None);
            ex.written |= assigned(sem);
        }
        outs[i] = Some(std::mem::take(&mut ex.st));
    }
    insns
}

/// Buffers [`walk`] reuses from one function to the next: a large function's would otherwise
/// be fresh pages from the kernel every time.
#[derive(Default)]
pub struct Scratch {
    insns: Vec<(Insn, Sem)>,
    firsts: Vec<[u8; 4]>,
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
/// entered from elsewhere) in address order.
fn reverse_post_order(succs: &[Adj], entry: Option<usize>, n: usize) -> Vec<usize> {
    let mut seen = vec![false; n];
    let mut post = Vec::with_capacity(n);
    let mut stack: Vec<(usize, usize)> = Vec::new();
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
    post
}

/// Registers on which all the states agree keep their value; the others hold the block's
/// `Join`. Stored values and flags survive only where all agree.
fn meet(x: &mut Exprs, block: u64, states: &[&State]) -> State {
    match states {
        [] => State::default(),
        [one] => (*one).clone(),
        [first, rest @ ..] => {
            let mut out = State::default();
            for r in 0..32u8 {
                let r = Reg(r);
                let known = states.iter().any(|s| s.regs.contains_key(&r));
                if !known {
                    continue;
                }
                let input = x.input(r);
                let v = first.regs.get(&r).copied().unwrap_or(input);
                let same = rest
                    .iter()
                    .all(|s| s.regs.get(&r).copied().unwrap_or(input) == v);
                let v = if same { v } else { x.join(block, r) };
                if v != input {
                    out.regs.insert(r, v);
                }
            }
            out.stored = first
                .stored
                .iter()
                .filter(|(k, v)| rest.iter().all(|s| s.stored.get(k) == Some(v)))
                .map(|(k, v)| (*k, *v))
                .collect();
            out.flags = first
                .flags
                .filter(|f| rest.iter().all(|s| s.flags == Some(*f)));
            out
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
