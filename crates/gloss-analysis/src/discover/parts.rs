//! Starts that only an unwind entry states and that the code enters the way a function enters
//! its own code: the split-off parts of one function (gcc's `foo.cold` when the hot part had no
//! frame yet, so the part's FDE begins in the call-entry state and looks like a function;
//! hand-written assembly that opens a new FDE for a routine's error exit).
//!
//! Compilers enter another function only by a call, by a tail call (an unconditional jump in
//! tail position, or through a table of function pointers), or through its address. They never
//! let code run into another function without a branch, never tail-call a function they
//! know does not return (a call to it is not in tail position: no return follows it), and gcc
//! never branches conditionally to one (LLVM's conditional tail calls exist only at `-Os` on
//! x86-64, to a function that then has other callers or a symbol). A start stated by an FDE
//! alone whose every entry is of the other kinds, all from one function, is that function's
//! part: it is not reported as a function, and the function's CFG takes its blocks.
use super::{Evidence, Seeds};
use crate::cfg::{EdgeKind, FunctionBody};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;

/// The parts found and the functions that enter each.
pub(super) fn find(
    bodies: &BTreeMap<u64, FunctionBody>,
    seeds: &Seeds,
    noreturn: &FxHashSet<u64>,
) -> Vec<(u64, u64)> {
    // stated only by an unwind entry or known only as a jump's target (a call would have
    // made it a call target)
    let candidates: FxHashSet<u64> = bodies
        .keys()
        .copied()
        .filter(|a| {
            seeds.evidence.get(a).is_some_and(|ev| {
                ev.iter()
                    .all(|e| matches!(e, Evidence::EhFrame | Evidence::TailCall))
            })
        })
        .collect();
    let only_fde = |a: u64| candidates.contains(&a);
    // candidate -> (the functions entering it, whether every entry is a function's own kind)
    let mut entries: FxHashMap<u64, (FxHashSet<u64>, bool)> = FxHashMap::default();
    let mut refuted: FxHashSet<u64> = FxHashSet::default();
    for (&f, body) in bodies {
        for &r in body.code_refs.iter().filter(|r| only_fde(**r)) {
            refuted.insert(r); // its address is taken: maybe a function pointer
        }
        for e in body.exits.iter().filter(|e| e.to != f && only_fde(e.to)) {
            let own = match e.kind {
                // a conditional branch (the not-taken path falls through), or a jump to code
                // that never returns
                EdgeKind::TailCall => e.falls || noreturn.contains(&e.to),
                // straight-line code runs into it; after a call that did not return, the
                // bytes after the call say nothing
                EdgeKind::FallThrough if e.calls => continue,
                EdgeKind::FallThrough => true,
                // a table of function pointers jumped through with a bounds check (a tail
                // call `jmp *tab(,%rax,8)`) looks like a switch: its entries may be functions
                _ => {
                    refuted.insert(e.to);
                    continue;
                }
            };
            let entry = entries
                .entry(e.to)
                .or_insert_with(|| (FxHashSet::default(), true));
            entry.0.insert(f);
            entry.1 &= own;
        }
    }
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (&t, (from, own)) in &entries {
        if *own && from.len() == 1 && !refuted.contains(&t) {
            out.push((t, *from.iter().next().expect("one function")));
        }
    }
    // code that runs on into another function's interior (a cold part jumping back to its hot
    // part) is that function's: functions never branch into each other's middles
    // (only blocks outside the part's own range, up to the next function, are looked up)
    let mut outside: Vec<(u64, Vec<u64>)> = Vec::new();
    for (&x, body) in bodies {
        if !only_fde(x) || refuted.contains(&x) || out.iter().any(|o| o.0 == x) {
            continue;
        }
        let next = bodies
            .range(x + 1..)
            .next()
            .map(|(&n, _)| n)
            .unwrap_or(u64::MAX);
        if body.lo >= x && body.hi <= next {
            continue;
        }
        let away: Vec<u64> = body
            .blocks
            .iter()
            .filter(|b| b.addr < x || b.addr >= next)
            .map(|b| b.addr)
            .collect();
        if !away.is_empty() {
            outside.push((x, away));
        }
    }
    let owners = owners(bodies, outside.iter().flat_map(|o| o.1.iter().copied()));
    for (x, away) in outside {
        let shared: FxHashSet<u64> = away
            .iter()
            .filter_map(|a| owners.get(a))
            .flatten()
            .copied()
            .filter(|&f| f != x)
            .collect();
        if shared.len() != 1 {
            continue;
        }
        let f = *shared.iter().next().expect("one function");
        if entries
            .get(&x)
            .is_none_or(|(from, _)| from.iter().all(|&g| g == f))
        {
            out.push((x, f));
        }
    }
    out.sort_unstable();
    out
}

/// For each address asked, the functions with a block that holds it: one pass over every
/// block, each looking up the (sorted) addresses it holds.
pub(super) fn owners(
    bodies: &BTreeMap<u64, FunctionBody>,
    asked: impl Iterator<Item = u64>,
) -> FxHashMap<u64, Vec<u64>> {
    let mut asked: Vec<u64> = asked.collect();
    let mut out: FxHashMap<u64, Vec<u64>> = FxHashMap::default();
    if asked.is_empty() {
        return out;
    }
    asked.sort_unstable();
    asked.dedup();
    for (&f, body) in bodies {
        let i = asked.partition_point(|&a| a < body.lo);
        if asked.get(i).is_none_or(|&a| a >= body.hi) {
            continue; // no address asked lies among its blocks
        }
        for b in &body.blocks {
            let i = asked.partition_point(|&a| a < b.addr);
            for &a in asked[i..].iter().take_while(|&&a| a < b.end()) {
                let o = out.entry(a).or_default();
                if o.last() != Some(&f) {
                    o.push(f);
                }
            }
        }
    }
    out
}
