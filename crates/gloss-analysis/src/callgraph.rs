//! The direct call graph of an analysis (calls and tail calls of known targets), in levels that
//! put every function after the functions it calls: what a caller learns from its callees
//! (how many parameters each takes) is known when the caller is looked at. Functions that call
//! each other (recursion) share a level; nothing orders them.
use crate::cfg::EdgeKind;
use crate::discover::Function;

/// The indices of `functions` (sorted by address) by level: level 0 calls no other function
/// of the analysis, level n only functions of lower levels and of its own cycle. Each level is
/// in index order.
pub fn levels(functions: &[Function]) -> Vec<Vec<usize>> {
    let n = functions.len();
    let index = |a: u64| functions.binary_search_by_key(&a, |f| f.addr).ok();
    let callees: Vec<Vec<usize>> = functions
        .iter()
        .map(|f| {
            let mut c: Vec<usize> = f
                .blocks
                .iter()
                .flat_map(|b| b.succs.iter())
                .filter(|e| matches!({ e.kind }, EdgeKind::Call | EdgeKind::TailCall))
                .filter_map(|e| index({ e.to }?))
                .collect();
            c.sort_unstable();
            c.dedup();
            c
        })
        .collect();
    let sccs = strongly_connected(&callees);
    // Tarjan's order finishes a component after every component it reaches
    let mut component = vec![0usize; n];
    for (k, members) in sccs.iter().enumerate() {
        for &i in members {
            component[i] = k;
        }
    }
    let mut level = vec![0usize; sccs.len()];
    for (k, members) in sccs.iter().enumerate() {
        level[k] = members
            .iter()
            .flat_map(|&i| &callees[i])
            .map(|&j| component[j])
            .filter(|&c| c != k)
            .map(|c| level[c] + 1)
            .max()
            .unwrap_or(0);
    }
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); level.iter().max().map_or(0, |m| m + 1)];
    for i in 0..n {
        out[level[component[i]]].push(i);
    }
    out
}

/// Tarjan's strongly connected components of the graph `succs`, iteratively (call chains can
/// be deep), each finished after all the components it reaches.
fn strongly_connected(succs: &[Vec<usize>]) -> Vec<Vec<usize>> {
    const UNSEEN: usize = usize::MAX;
    let n = succs.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    let mut next = 0;
    // (node, how many of its successors were looked at)
    let mut work: Vec<(usize, usize)> = Vec::new();
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        work.push((root, 0));
        while let Some(&mut (v, ref mut k)) = work.last_mut() {
            if *k == 0 {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if let Some(&w) = succs[v].get(*k) {
                *k += 1;
                if index[w] == UNSEEN {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut members = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    members.push(w);
                    if w == v {
                        break;
                    }
                }
                members.sort_unstable();
                out.push(members);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::strongly_connected;

    /// 0 -> 1 -> 2 -> 1 (a cycle), 0 -> 3, 4 alone: each component after those it reaches.
    #[test]
    fn components_come_after_what_they_reach() {
        let g = vec![vec![1, 3], vec![2], vec![1], vec![], vec![]];
        let c = strongly_connected(&g);
        let pos = |x: usize| c.iter().position(|m| m.contains(&x)).unwrap();
        assert_eq!(c.len(), 4, "{c:?}");
        assert!(c.contains(&vec![1, 2]));
        assert!(pos(0) > pos(1) && pos(0) > pos(3), "{c:?}");
    }
}
