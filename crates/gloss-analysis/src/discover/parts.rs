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
use std::collections::{BTreeMap, HashMap, HashSet};

/// The parts found and the functions that enter each.
pub(super) fn find(
    bodies: &BTreeMap<u64, FunctionBody>,
    seeds: &Seeds,
    noreturn: &HashSet<u64>,
) -> Vec<(u64, u64)> {
    let only_fde = |a: u64| {
        seeds.evidence.get(&a).is_some_and(|ev| {
            ev.contains(&Evidence::EhFrame)
                && ev
                    .iter()
                    .all(|e| matches!(e, Evidence::EhFrame | Evidence::TailCall))
        })
    };
    // candidate -> (the functions entering it, whether every entry is a function's own kind)
    let mut entries: HashMap<u64, (HashSet<u64>, bool)> = HashMap::new();
    let mut refuted: HashSet<u64> = HashSet::new();
    for (&f, body) in bodies {
        for &r in &body.code_refs {
            refuted.insert(r); // its address is taken: maybe a function pointer
        }
        for &c in &body.calls {
            refuted.insert(c);
        }
        for b in &body.blocks {
            let calls = b.succs.iter().any(|e| e.kind == EdgeKind::Call);
            let falls = b.succs.iter().any(|e| e.kind == EdgeKind::FallThrough);
            for e in &b.succs {
                let Some(t) =
                    e.to.filter(|&t| t != f && bodies.contains_key(&t) && only_fde(t))
                else {
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
                    EdgeKind::IndirectResolved => {
                        refuted.insert(t);
                        continue;
                    }
                    _ => continue,
                };
                let entry = entries.entry(t).or_insert_with(|| (HashSet::new(), true));
                entry.0.insert(f);
                entry.1 &= own;
            }
        }
    }
    let mut out: Vec<(u64, u64)> = entries
        .into_iter()
        .filter(|(t, (from, own))| *own && from.len() == 1 && !refuted.contains(t))
        .map(|(t, (from, _))| (t, from.into_iter().next().expect("one function")))
        .collect();
    out.sort_unstable();
    out
}
