//! AArch64: LL/SC sequences, clang `-O0` compare-exchange loops, LSE instructions, outline
//! helper calls, `ldar`/`ldapr`/`stlr` and barriers (the shapes are in the module doc of
//! `mod.rs`).
use super::{Body, Cx, Evidence, Finder, Helper, HelperOp, Op, Order};
use super::{failure_order, fetch_op, order, reg_of};
use crate::code::CodeMap;
use gloss_core::Disassembler;
use gloss_core::Flow;
use gloss_core::sem::{self, AluOp, AtomicKind as K, Barrier, Reg, RmwOp};

/// Instructions between an exclusive load and its store (compilers put 1 to 4).
const MAX_LLSC_BODY: usize = 12;
/// How far a `neg`/`mvn` of the operand may precede the instruction it feeds.
const MAX_OPERAND_DEF: usize = 6;
/// Instructions on a success path before a Windows trailing `dmb ish`.
const MAX_TO_BARRIER: usize = 4;
/// Instructions from the inner loop's retry to the outer loop's branch back (clang -O0: 5).
const MAX_TO_OUTER: usize = 10;
/// The stack pointer and the frame pointer (x29), which only frame accesses use as a base.
const SP: Reg = Reg(31);
const FP: Reg = Reg(29);
/// Bytes before the exclusive load where the outer loop may start (clang -O0: 5 instructions).
const MAX_OUTER_HEAD: u64 = 16 * 4;

pub(super) fn find(cx: &mut Cx, f: &Finder) {
    let b = cx.body;
    for s in 0..b.len() {
        if let Some(a) = b.sems[s].atomic
            && let K::StoreExclusive { status, src } = a.kind
        {
            llsc(cx, s, status, src);
        }
    }
    for i in 0..b.len() {
        if cx.used[i] {
            continue;
        }
        if let Flow::Call(t) = b.insns[i].flow
            && let Some(h) = f.helper(b.addr(i), t)
        {
            outline_call(cx, i, h);
            continue;
        }
        let Some(a) = b.sems[i].atomic else {
            continue;
        };
        let width = a.size * 8;
        match a.kind {
            K::Rmw { op, src, .. } => {
                let (op, neg) = match (op, src) {
                    (RmwOp::Add, Some(r)) => match negated(b, i, r, AluOp::Neg) {
                        Some(n) => (Op::FetchSub, vec![n]),
                        None => (Op::FetchAdd, vec![]),
                    },
                    (RmwOp::Add, None) => (Op::FetchAdd, vec![]),
                    (RmwOp::AndNot, _) => {
                        let mvn = src.and_then(|r| negated(b, i, r, AluOp::Not));
                        (Op::FetchAnd, mvn.into_iter().collect())
                    }
                    (RmwOp::Sub, _) => (Op::FetchSub, vec![]),
                    (RmwOp::Or, _) => (Op::FetchOr, vec![]),
                    (RmwOp::And, _) => (Op::FetchAnd, vec![]),
                    (RmwOp::Xor, _) => (Op::FetchXor, vec![]),
                    (RmwOp::SMax | RmwOp::UMax, _) => (Op::FetchMax, vec![]),
                    (RmwOp::SMin | RmwOp::UMin, _) => (Op::FetchMin, vec![]),
                };
                lse(cx, i, neg, op, width, a.acquire, a.release);
            }
            K::Swap { .. } => lse(cx, i, vec![], Op::Exchange, width, a.acquire, a.release),
            K::Cas { .. } => lse(
                cx,
                i,
                vec![],
                Op::CompareExchangeStrong,
                width,
                a.acquire,
                a.release,
            ),
            K::LoadAcquire { rcpc, .. } => {
                let o = if rcpc { Order::Acquire } else { Order::SeqCst };
                cx.push(
                    i,
                    vec![],
                    Op::Load,
                    width,
                    (o, None),
                    Evidence::AcquireRelease,
                );
            }
            K::StoreRelease { .. } => {
                // Windows marks a seq_cst store with a barrier after it; elsewhere `stlr` is
                // the seq_cst store.
                let (o, idx) = match cx.windows {
                    true => match trailing_barrier(cx, i + 1) {
                        Some(d) => (Order::SeqCst, vec![d]),
                        None => (Order::Release, vec![]),
                    },
                    false => (Order::SeqCst, vec![]),
                };
                cx.push(
                    i,
                    idx,
                    Op::Store,
                    width,
                    (o, None),
                    Evidence::AcquireRelease,
                );
            }
            K::Fence(Barrier::Full) => {
                cx.push(
                    i,
                    vec![],
                    Op::Fence,
                    0,
                    (Order::SeqCst, None),
                    Evidence::Barrier,
                );
            }
            K::Fence(Barrier::Load) => {
                cx.push(
                    i,
                    vec![],
                    Op::Fence,
                    0,
                    (Order::Acquire, None),
                    Evidence::Barrier,
                );
            }
            // `dmb ishst` is no C11 fence; an unpaired exclusive or `clrex` is no operation.
            K::Fence(Barrier::Store)
            | K::LoadExclusive { .. }
            | K::StoreExclusive { .. }
            | K::ClearExclusive => {}
        }
    }
}

/// One LSE instruction (with the `neg`/`mvn` that prepared its operand).
fn lse(cx: &mut Cx, i: usize, extra: Vec<usize>, op: Op, width: u8, acq: bool, rel: bool) {
    let mut idx = extra;
    let barrier = if cx.windows && acq && rel {
        trailing_barrier(cx, i + 1)
    } else {
        None
    };
    idx.extend(barrier);
    let o = order(acq, rel, cx.windows, barrier.is_some());
    let failure = (op == Op::CompareExchangeStrong).then(|| failure_order(o, acq));
    cx.push(i, idx, op, width, (o, failure), Evidence::Lse);
}

/// A call of an outline-atomics helper: the helper names operation, size and order; `neg` or
/// `mvn` of the value register (`w0`/`x0`) before the call makes `ldadd` a `fetch_sub` and is
/// part of `ldclr`'s `fetch_and`.
fn outline_call(cx: &mut Cx, i: usize, h: Helper) {
    let b = cx.body;
    let x0 = Reg(0);
    let (op, idx) = match h.op {
        HelperOp::Cas => (Op::CompareExchangeStrong, vec![]),
        HelperOp::Swp => (Op::Exchange, vec![]),
        HelperOp::Ldadd => match negated(b, i, x0, AluOp::Neg) {
            Some(n) => (Op::FetchSub, vec![n]),
            None => (Op::FetchAdd, vec![]),
        },
        HelperOp::Ldclr => (
            Op::FetchAnd,
            negated(b, i, x0, AluOp::Not).into_iter().collect(),
        ),
        HelperOp::Ldeor => (Op::FetchXor, vec![]),
        HelperOp::Ldset => (Op::FetchOr, vec![]),
    };
    let o = order(h.acquire, h.release, false, false);
    let failure = (op == Op::CompareExchangeStrong).then(|| failure_order(o, h.acquire));
    cx.push(i, idx, op, h.bytes * 8, (o, failure), Evidence::OutlineCall);
}

/// The `neg`/`mvn` (as `kind`) that last wrote `r` before instruction `at`.
fn negated(b: &Body, at: usize, r: Reg, kind: AluOp) -> Option<usize> {
    let d = b.def_before(at, r, MAX_OPERAND_DEF)?;
    b.sems[d].alu.filter(|a| a.op == kind && a.dst == r)?;
    Some(d)
}

/// A `dmb ish` on the path from instruction `from`, before any other memory access or
/// branch: Windows ARM64's mark of a seq_cst operation. -O0 code may put a spill to or from
/// the frame (`ldr w8, [sp, #0xc]`, no memory another thread sees) and a branch to the next
/// instruction (`b .+4`) before it.
fn trailing_barrier(cx: &Cx, from: usize) -> Option<usize> {
    let b = cx.body;
    let frame = |m: sem::Mem| m.base.is_some_and(|r| r == SP || r == FP);
    for j in from..from + MAX_TO_BARRIER {
        if j >= b.len() || (j > from && !b.falls_to_next(j - 1)) || cx.used[j] {
            return None;
        }
        let s = &b.sems[j];
        if let Some(a) = s.atomic {
            return (a.kind == K::Fence(Barrier::Full)).then_some(j);
        }
        let shared_memory = match s.op {
            sem::Op::Load { mem, .. } | sem::Op::Store { mem, .. } => !frame(mem),
            _ => false,
        };
        let next = match b.insns[j].flow {
            Flow::Next => true,
            Flow::Jump(t) => t == b.insns[j].end(),
            _ => false,
        };
        if shared_memory || !next {
            return None;
        }
    }
    None
}

/// The store-exclusive at `s`: find its exclusive load and name what the pair does.
fn llsc(cx: &mut Cx, s: usize, status: Reg, src: Option<Reg>) {
    let b = cx.body;
    let st = b.sems[s].atomic.expect("store-exclusive");
    // The exclusive load on the same address, in the contiguous code before the store.
    let mut l = None;
    let mut j = s;
    while j > 0 && s - j <= MAX_LLSC_BODY && b.falls_to_next(j - 1) {
        j -= 1;
        if matches!(
            b.insns[j].flow,
            Flow::Call(_) | Flow::IndirectCall | Flow::Return | Flow::Jump(_) | Flow::IndirectJump
        ) {
            break;
        }
        match b.sems[j].atomic.map(|a| a.kind) {
            Some(K::LoadExclusive { .. }) => {
                l = Some(j);
                break;
            }
            Some(K::StoreExclusive { .. }) => break,
            _ => {}
        }
    }
    let Some(l) = l else {
        return;
    };
    let ld = b.sems[l].atomic.expect("load-exclusive");
    let K::LoadExclusive { dst: loaded } = ld.kind else {
        return;
    };
    if ld.base != st.base || ld.base.is_none() || ld.size != st.size {
        return;
    }
    let width = st.size * 8;
    let (la, sa) = (b.addr(l), b.addr(s));
    let mut idx: Vec<usize> = (l..s).collect();

    // A branch out before the store makes the store conditional: after a compare of the
    // loaded value (`cmp w9, w0; b.ne`) or a test of it (`cbnz w9`, comparing with zero), a
    // compare-exchange; after anything else, an operation without a name.
    let exits = (l + 1..s)
        .filter(|&e| matches!(b.insns[e].flow, Flow::CondJump(t) if t > sa || t < la))
        .collect::<Vec<_>>();
    let cmp = exits.first().and_then(|&e| {
        (l + 1..=e).find_map(|k| match (b.sems[k].op, b.sems[k].reg_branch) {
            (
                sem::Op::Compare {
                    a,
                    b: v,
                    test: false,
                    ..
                },
                _,
            ) if loaded.is_some() && (Some(a) == loaded || reg_of(v) == loaded) => {
                Some(if Some(a) == loaded {
                    reg_of(v)
                } else {
                    Some(a)
                })
            }
            (_, Some(rb)) if Some(rb.reg) == loaded && rb.bit.is_none() => Some(None),
            _ => None,
        })
    });

    // The retry: `cbnz status, L` back to the exclusive load; `cbz status, ok` goes forward
    // to the success path of a compare-exchange that is not retried.
    let mut retry = None;
    let mut success = s + 1;
    let mut k = s;
    while k + 1 < b.len() && k - s < 2 && b.falls_to_next(k) {
        k += 1;
        if let (Some(rb), Flow::CondJump(t)) = (b.sems[k].reg_branch, b.insns[k].flow)
            && rb.reg == status
            && rb.bit.is_none()
        {
            if rb.nonzero && t <= la && t + MAX_OUTER_HEAD >= la {
                retry = Some(k);
                success = k + 1;
            } else if !rb.nonzero && t > sa {
                idx.push(k);
                success = b.index(t).unwrap_or(b.len());
            }
            break;
        }
        if super::writes(&b.sems[k], status) {
            break;
        }
    }
    idx.extend(retry);

    let mut evidence = if retry.is_some() {
        Evidence::LlscLoop
    } else {
        Evidence::LlscOnce
    };
    let op = match cmp {
        None if !exits.is_empty() => Op::Rmw,
        Some(expected) => {
            let mut op = if retry.is_some() {
                Op::CompareExchangeStrong
            } else {
                Op::CompareExchangeWeak
            };
            if let (Some(r), Some(e), Some(n)) = (retry, expected, src)
                && let Some((o, more)) = outer_loop(b, l, r, loaded.expect("compared"), e, n)
            {
                op = o;
                // done when the outer loop is left (its branch back is the last of `more`)
                success = more.last().map_or(success, |&back| back + 1);
                idx.extend(more);
                evidence = Evidence::CasLoop;
            }
            // `clrex` on the failure path
            if let Some(&e) = (l + 1..s)
                .filter_map(|e| b.insns[e].flow.target().filter(|&t| t > sa))
                .filter_map(|t| b.index(t))
                .collect::<Vec<_>>()
                .first()
            {
                idx.extend(
                    (e..(e + 3).min(b.len()))
                        .take_while(|&c| c == e || b.falls_to_next(c - 1))
                        .find(|&c| b.sems[c].atomic.map(|a| a.kind) == Some(K::ClearExclusive)),
                );
            }
            op
        }
        None if retry.is_none() => Op::Rmw,
        None => rmw_op(b, l, s, loaded, src),
    };
    let barrier = if cx.windows && ld.acquire && st.release {
        trailing_barrier(cx, success)
    } else {
        None
    };
    idx.extend(barrier);
    let o = order(ld.acquire, st.release, cx.windows, barrier.is_some());
    let failure = matches!(op, Op::CompareExchangeStrong | Op::CompareExchangeWeak)
        .then(|| failure_order(o, ld.acquire));
    cx.push(s, idx, op, width, (o, failure), evidence);
}

/// What an exclusive pair stores, computed between the load (at `l`, into `loaded`) and the
/// store (at `s`, of `src`).
fn rmw_op(b: &Body, l: usize, s: usize, loaded: Option<Reg>, src: Option<Reg>) -> Op {
    let Some(src) = src else {
        return Op::Exchange; // stores zero
    };
    let Some(d) = b.last_write(l + 1, s, src) else {
        return if Some(src) == loaded {
            Op::Load // stores back what it loaded: an atomic (pair) load
        } else {
            Op::Exchange
        };
    };
    computed(&b.sems[d], loaded, src).unwrap_or(Op::Rmw)
}

/// The fetch operation `sem` computes into `dst` from `old`, or `Exchange` when it copies
/// something else; `None` when it is neither.
fn computed(sem: &gloss_core::Sem, old: Option<Reg>, dst: Reg) -> Option<Op> {
    let old = old?;
    if let Some(a) = sem.alu
        && a.dst == dst
    {
        return (a.op == AluOp::AndNot && a.a == Some(old)).then_some(Op::FetchAnd);
    }
    match sem.op {
        sem::Op::Bin { op, a, .. } if a == old => Some(fetch_op(op, true)),
        sem::Op::Bin { op, b: v, .. } if reg_of(v) == Some(old) => {
            Some(fetch_op(op, false)).filter(|&o| o != Op::Rmw)
        }
        sem::Op::Set { src: v, .. } => match v {
            sem::Value::Imm(_) => Some(Op::Exchange),
            sem::Value::Reg(r) if r.reg != old => Some(Op::Exchange),
            sem::Value::Reg(_) => None,
        },
        sem::Op::Load { .. } => Some(Op::Exchange),
        _ => None,
    }
}

/// clang `-O0`: the strong compare-exchange loop `l..=retry` sits in an outer loop that
/// retries with the value it observed. Returns the operation the outer loop performs and the
/// instructions that show it (the computation of the stored value, then the branch back, last).
///
/// The outer loop's branch goes back to at most 16 instructions before the exclusive load;
/// the expected value `e` is reloaded there from a stack slot that the observed value was
/// stored to after the inner loop (or is the observed register itself).
fn outer_loop(
    b: &Body,
    l: usize,
    retry: usize,
    loaded: Reg,
    e: Reg,
    n: Reg,
) -> Option<(Op, Vec<usize>)> {
    let la = b.addr(l);
    let mut k = retry;
    let (back, head) = loop {
        if k + 1 >= b.len() || k - retry >= MAX_TO_OUTER || !b.falls_to_next(k) {
            return None;
        }
        k += 1;
        match b.insns[k].flow {
            Flow::CondJump(t) if t < la && t + MAX_OUTER_HEAD >= la => break (k, b.index(t)?),
            Flow::Next | Flow::CondJump(_) | Flow::Jump(_) => {}
            _ => return None,
        }
    };
    if (head..l).any(|j| !b.falls_to_next(j) || b.insns[j].flow != Flow::Next) {
        return None; // straight-line code, as clang -O0 emits it
    }
    // The expected value is what the previous round observed.
    let observed = match b.last_write(head, l, e) {
        Some(d) => b.reloads_stored(d, retry + 1, back, loaded),
        None => e == loaded,
    };
    if !observed {
        return None;
    }
    let (op, def) = match b.last_write(head, l, n) {
        Some(d) => (computed(&b.sems[d], Some(e), n)?, Some(d)),
        None => (Op::Exchange, None),
    };
    if op == Op::Rmw {
        return None;
    }
    Some((op, def.into_iter().chain([back]).collect()))
}

/// A libgcc outline-atomics helper recognized by its code at `at` (for callees without a
/// symbol): `[bti c;] adrp x16, ..; ldrb w16, [x16, #..]; cbz w16, llsc; <LSE>; ret`, with an
/// exclusive load within three instructions of `llsc`. The LSE instruction gives operation,
/// size and order.
pub(super) fn helper_shape(dis: &dyn Disassembler, code: &CodeMap, at: u64) -> Option<Helper> {
    let x16 = Reg(16);
    let decode = |a: u64| {
        let bytes = code.bytes(a)?;
        Some(dis.decode_sem(bytes, a))
    };
    let mut a = at;
    let (mut insn, mut s) = decode(a)?;
    if s.op == sem::Op::None && insn.flow == Flow::Next && s.atomic.is_none() {
        a = insn.end(); // bti c
        (insn, s) = decode(a)?;
    }
    if !matches!(s.op, sem::Op::Set { dst, src: sem::Value::Imm(_), .. } if dst == x16) {
        return None;
    }
    (insn, s) = decode(insn.end())?;
    if !matches!(s.op, sem::Op::Load { dst, mem, size: 1, .. } if dst == x16 && mem.base == Some(x16))
    {
        return None;
    }
    (insn, s) = decode(insn.end())?;
    let (Some(rb), Flow::CondJump(llsc)) = (s.reg_branch, insn.flow) else {
        return None;
    };
    if rb.reg != x16 || rb.nonzero || rb.bit.is_some() {
        return None;
    }
    (insn, s) = decode(insn.end())?;
    let lse = s.atomic?;
    let op = match lse.kind {
        K::Rmw { op: RmwOp::Add, .. } => HelperOp::Ldadd,
        K::Rmw {
            op: RmwOp::AndNot, ..
        } => HelperOp::Ldclr,
        K::Rmw { op: RmwOp::Xor, .. } => HelperOp::Ldeor,
        K::Rmw { op: RmwOp::Or, .. } => HelperOp::Ldset,
        K::Swap { .. } => HelperOp::Swp,
        K::Cas { .. } => HelperOp::Cas,
        _ => return None,
    };
    if decode(insn.end())?.0.flow != Flow::Return {
        return None;
    }
    let mut a = llsc;
    for _ in 0..3 {
        let (i, s) = decode(a)?;
        if matches!(s.atomic.map(|x| x.kind), Some(K::LoadExclusive { .. })) {
            return Some(Helper {
                op,
                bytes: lse.size,
                acquire: lse.acquire,
                release: lse.release,
            });
        }
        a = i.end();
    }
    None
}
