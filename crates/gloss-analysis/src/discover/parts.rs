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
        for b in &body.blocks {
            let mut calls = false;
            let mut falls = false;
            for e in &b.succs {
                match e.kind {
                    EdgeKind::Call => calls = true,
                    EdgeKind::FallThrough => falls = true,
                    _ => {}
                }
            }
            for e in &b.succs {
                if !matches!(
                    e.kind,
                    EdgeKind::TailCall | EdgeKind::FallThrough | EdgeKind::IndirectResolved
                ) {
                    continue;
                }
                let Some(t) = e.to.filter(|&t| t != f && only_fde(t)) else {
                    continue;
                };
                let own = match e.kind {
                    // a conditional branch (the not-taken path falls through), or a jump to code
                    // that never returns
                    EdgeKind::TailCall => falls || noreturn.contains(&t),
                    // straight-line code runs into it; after a call that did not return, the
                    // bytes after the call say nothing
                    EdgeKind::FallThrough if calls => continue,
                    EdgeKind::FallThrough => true,
                    // a table of function pointers jumped through with a bounds check (a tail
                    // call `jmp *tab(,%rax,8)`) looks like a switch: its entries may be functions
                    _ => {
                        refuted.insert(t);
                        continue;
                    }
                };
                let entry = entries
                    .entry(t)
                    .or_insert_with(|| (FxHashSet::default(), true));
                entry.0.insert(f);
                entry.1 &= own;
            }
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
    // (only blocks outside the part's own range, up to the next function, are looked up: the
    // index of every function's blocks is built when the first such block is met)
    let blocks = std::cell::OnceCell::new();
    for (&x, body) in bodies {
        if !only_fde(x) || refuted.contains(&x) || out.iter().any(|o| o.0 == x) {
            continue;
        }
        let next = bodies
            .range(x + 1..)
            .next()
            .map(|(&n, _)| n)
            .unwrap_or(u64::MAX);
        let mut shared: FxHashSet<u64> = FxHashSet::default();
        for b in body.blocks.iter().filter(|b| b.addr < x || b.addr >= next) {
            let blocks = blocks.get_or_init(|| Blocks::new(bodies));
            shared.extend(blocks.owners(b.addr).filter(|&f| f != x));
        }
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

/// Every function's blocks, to ask which functions' code an address lies in.
struct Blocks(Vec<(u64, u64, u64)>);

impl Blocks {
    fn new(bodies: &BTreeMap<u64, FunctionBody>) -> Blocks {
        let mut v: Vec<(u64, u64, u64)> = bodies
            .iter()
            .flat_map(|(&f, b)| b.blocks.iter().map(move |bl| (bl.addr, bl.end(), f)))
            .collect();
        v.sort_by_key(|b| b.0);
        Blocks(v)
    }

    /// The functions with a block that holds `a`. Blocks are short: look back a few.
    fn owners(&self, a: u64) -> impl Iterator<Item = u64> + '_ {
        let i = self.0.partition_point(|b| b.0 <= a);
        self.0[..i]
            .iter()
            .rev()
            .take(64)
            .filter(move |b| a < b.1)
            .map(|b| b.2)
    }
}
