//! The step graph: a stable topological order, and every cycle reported once.

use crate::authored::Workflow;
use crate::diagnostic::Diagnostic;

/// Kahn's algorithm in file order, so the plan is stable; reports each cycle once.
pub(crate) fn topological_order(wf: &Workflow, edges: &[Vec<usize>], diags: &mut Vec<Diagnostic>) -> Vec<usize> {
    let n = edges.len();
    let mut indegree = vec![0usize; n];
    let mut dependents = vec![Vec::new(); n];
    for (i, deps) in edges.iter().enumerate() {
        let mut uniq = deps.clone();
        uniq.sort_unstable();
        uniq.dedup();
        indegree[i] = uniq.len();
        for d in uniq {
            dependents[d].push(i);
        }
    }
    let mut order = Vec::with_capacity(n);
    let mut ready: std::collections::BTreeSet<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &d in &dependents[i] {
            indegree[d] -= 1;
            if indegree[d] == 0 {
                ready.insert(d);
            }
        }
    }
    if order.len() < n {
        let mut reported = vec![false; n];
        for start in 0..n {
            if indegree[start] == 0 || reported[start] {
                continue;
            }
            if let Some(cycle) = find_cycle(start, edges, &indegree) {
                if cycle.iter().any(|&c| reported[c]) {
                    continue;
                }
                for &c in &cycle {
                    reported[c] = true;
                }
                let first = cycle[0];
                let names: Vec<_> = cycle
                    .iter()
                    .chain(std::iter::once(&first))
                    .map(|&c| wf.steps[c].id.value.as_str())
                    .collect();
                diags.push(Diagnostic::new(
                    wf.steps[first].id.span,
                    format!("steps.{}", wf.steps[first].id.value),
                    format!("steps form a cycle: {}", names.join(" -> ")),
                ));
            }
        }
    }
    order
}

/// Follows dependencies among unsorted steps from `start` until one repeats.
fn find_cycle(start: usize, edges: &[Vec<usize>], indegree: &[usize]) -> Option<Vec<usize>> {
    let mut path = vec![start];
    let mut current = start;
    loop {
        let next = *edges[current].iter().find(|&&d| indegree[d] > 0)?;
        if let Some(pos) = path.iter().position(|&p| p == next) {
            let mut cycle = path[pos..].to_vec();
            cycle.reverse(); // producer first: a -> b means b consumes a
            return Some(cycle);
        }
        path.push(next);
        current = next;
    }
}
