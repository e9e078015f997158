//! x86-64: `lock` read-modify-writes, `xchg`, `lock cmpxchg` and the loops around it,
//! `mfence` and the locked no-op on the stack (the shapes are in the module doc of `mod.rs`).
//! Every locked instruction and `xchg` is a full barrier, so every operation is seq_cst.
use super::{Body, Cx, Evidence, Op, Order, fetch_op, reg_of};
use gloss_core::Flow;
use gloss_core::sem::{self, AluOp, AtomicKind as K, Barrier, Reg, RmwOp};

const RAX: Reg = Reg(0);
/// How far a `neg` of `xadd`'s register may precede it.
const MAX_OPERAND_DEF: usize = 6;
/// Instructions from `lock cmpxchg` to its loop's branch back (gcc -O0: `sete; test; je`;
/// clang -O0: `sete; mov; test; mov; jne out; jmp back`).
const MAX_TO_BRANCH: usize = 6;
/// Bytes before `lock cmpxchg` where its loop may start.
const MAX_LOOP: u64 = 48;

const SEQ_CST: (Order, Option<Order>) = (Order::SeqCst, None);
const CAS_SEQ_CST: (Order, Option<Order>) = (Order::SeqCst, Some(Order::SeqCst));

pub(super) fn find(cx: &mut Cx) {
    let b = cx.body;
    for i in 0..b.len() {
        let Some(a) = b.sems[i].atomic else {
            continue;
        };
        let width = a.size * 8;
        match a.kind {
            K::Fence(Barrier::Full) if a.size > 0 => {
                cx.push(i, vec![], Op::Fence, 0, SEQ_CST, Evidence::LockedNop);
            }
            K::Fence(Barrier::Full) => cx.push(i, vec![], Op::Fence, 0, SEQ_CST, Evidence::Barrier),
            K::Rmw { op, src, .. } => {
                let (op, idx) = match op {
                    // `neg %eax; lock xadd %eax,g`: adding the negated operand
                    RmwOp::Add => match src.and_then(|r| negated(b, i, r)) {
                        Some(n) => (Op::FetchSub, vec![n]),
                        None => (Op::FetchAdd, vec![]),
                    },
                    RmwOp::Sub => (Op::FetchSub, vec![]),
                    RmwOp::Or => (Op::FetchOr, vec![]),
                    RmwOp::And | RmwOp::AndNot => (Op::FetchAnd, vec![]),
                    RmwOp::Xor => (Op::FetchXor, vec![]),
                    RmwOp::SMax | RmwOp::UMax => (Op::FetchMax, vec![]),
                    RmwOp::SMin | RmwOp::UMin => (Op::FetchMin, vec![]),
                };
                cx.push(i, idx, op, width, SEQ_CST, Evidence::Locked);
            }
            // A seq_cst store is the same instruction as an exchange whose result is unused.
            K::Swap { .. } => cx.push(i, vec![], Op::Exchange, width, SEQ_CST, Evidence::Xchg),
            K::Cas { new, .. } => match cas_loop(b, i, a.base, new) {
                Some((op, idx)) => cx.push(i, idx, op, width, order_of(op), Evidence::CasLoop),
                None => cx.push(
                    i,
                    vec![],
                    Op::CompareExchangeStrong,
                    width,
                    CAS_SEQ_CST,
                    Evidence::Locked,
                ),
            },
            K::Fence(_)
            | K::LoadExclusive { .. }
            | K::StoreExclusive { .. }
            | K::LoadAcquire { .. }
            | K::StoreRelease { .. }
            | K::ClearExclusive => {}
        }
    }
}

fn order_of(op: Op) -> (Order, Option<Order>) {
    match op {
        Op::CompareExchangeStrong => CAS_SEQ_CST,
        _ => SEQ_CST,
    }
}

/// The `neg` that last wrote `r` before instruction `at`.
fn negated(b: &Body, at: usize, r: Reg) -> Option<usize> {
    let d = b.def_before(at, r, MAX_OPERAND_DEF)?;
    b.sems[d]
        .alu
        .filter(|a| a.op == AluOp::Neg && a.dst == r)
        .map(|_| d)
}

/// `lock cmpxchg` at `c` retried by a branch back: when `%rax` (the expected value) is only
/// what the previous round observed, the loop is the operation it computes into the stored
/// register `new` from `%rax` (`fetch_OP`), or `exchange` when `new` does not depend on it;
/// otherwise (`None`) a compare-exchange the program loops around.
fn cas_loop(b: &Body, c: usize, base: Option<Reg>, new: Option<Reg>) -> Option<(Op, Vec<usize>)> {
    let ca = b.addr(c);
    let in_reach = |t: u64| t <= ca && t + MAX_LOOP >= ca;
    let mut k = c;
    let (back, head) = loop {
        if k - c >= MAX_TO_BRANCH || !b.falls_to_next(k) {
            return None;
        }
        k += 1;
        match b.insns[k].flow {
            Flow::CondJump(t) if in_reach(t) => break (k, b.index(t)?),
            // clang -O0 leaves on success and jumps back otherwise: `jne out; jmp back; out:`
            Flow::CondJump(out) => match b.insns.get(k + 1).map(|j| (j.flow, j.end())) {
                Some((Flow::Jump(t), end)) if in_reach(t) && out == end && b.falls_to_next(k) => {
                    break (k + 1, b.index(t)?);
                }
                _ => return None,
            },
            Flow::Next => {}
            _ => return None,
        }
    };
    // Compilers' loops are straight-line code; a loop with other exits or branches in it is
    // the program's (a spin lock's `cmpxchg` of a constant, a conditional update).
    if (head..c).any(|j| !b.falls_to_next(j) || b.insns[j].flow != Flow::Next) {
        return None;
    }
    // %rax must carry the observed value around the loop: not written in it, or reloaded
    // from the same address register, or from the stack slot the loop stores what the
    // `cmpxchg` observed into (-O0: `mov %eax,-0x14(%rbp)` after it, `mov -0x14(%rbp),%eax`
    // at the head)
    if let Some(d) = b.last_write(head, c, RAX) {
        let same_base = matches!(b.sems[d].op, sem::Op::Load { mem, .. }
            if mem.base == base && base.is_some());
        if !same_base && !b.reloads_stored(d, c + 1, back, RAX) {
            return None;
        }
    }
    let loop_insns = || (head..=back).collect::<Vec<_>>();
    let new = new?;
    if new == RAX {
        // stores back what it observed: an atomic load (of a `fetch_or(p, 0)`, say)
        return Some((Op::Load, loop_insns()));
    }
    let Some(d) = b.last_write(head, c, new) else {
        return Some((Op::Exchange, loop_insns()));
    };
    // `new := copy of %rax; new OP= v` (or `new := v; new OP= %rax` for commutative OPs)
    let copied_from_rax = |lo: usize, hi: usize| {
        b.last_write(lo, hi, new).is_some_and(
            |d0| matches!(b.sems[d0].op, sem::Op::Set { src, .. } if reg_of(src) == Some(RAX)),
        )
    };
    let op = match (b.sems[d].op, b.sems[d].alu) {
        (_, Some(a)) if a.dst == new => match a.op {
            AluOp::WithMem(op) if copied_from_rax(head, d) => fetch_op(op, true),
            _ => Op::Rmw,
        },
        (sem::Op::Bin { op, a, b: v, .. }, _) if a == new => {
            if copied_from_rax(head, d) {
                fetch_op(op, true)
            } else if reg_of(v) == Some(RAX) {
                let o = fetch_op(op, false);
                if o == Op::FetchSub { Op::Rmw } else { o }
            } else {
                Op::Rmw
            }
        }
        // lea k(%rax),%ecx
        (sem::Op::Addr { mem, .. }, _) if mem.base == Some(RAX) && mem.index.is_none() => {
            Op::FetchAdd
        }
        (sem::Op::Set { src, .. }, _) if reg_of(src) == Some(RAX) => Op::Load,
        (sem::Op::Set { .. }, _) => Op::Exchange,
        (sem::Op::Load { .. }, _) => Op::Exchange,
        _ => Op::Rmw,
    };
    if op == Op::Rmw {
        return None; // not a named operation: report the compare-exchange itself
    }
    let mut idx = loop_insns();
    // the first load of the old value, just before the loop
    if head > 0
        && b.falls_to_next(head - 1)
        && matches!(b.sems[head - 1].op, sem::Op::Load { dst, .. } if dst == RAX)
    {
        idx.push(head - 1);
    }
    Some((op, idx))
}
