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
        report_cycles(wf, edges, &indegree, diags);
    }
    order
}

/// Most steps of a cycle named in its message.
const MAX_CYCLE_SHOWN: usize = 8;

/// Reports each cycle among the steps Kahn's algorithm could not order, once. Linear: a
/// walk follows unsorted dependencies until it meets a step seen before; a step already
/// walked (in a cycle reported, or leading into one) stops later walks, so a long chain
/// leading into a cycle is walked once, not once per step.
fn report_cycles(wf: &Workflow, edges: &[Vec<usize>], indegree: &[usize], diags: &mut Vec<Diagnostic>) {
    const UNSEEN: usize = usize::MAX;
    const DONE: usize = usize::MAX - 1;
    // For each step: UNSEEN, DONE, or its position on the current walk.
    let mut state = vec![UNSEEN; edges.len()];
    for start in 0..edges.len() {
        if indegree[start] == 0 || state[start] != UNSEEN {
            continue;
        }
        let mut path = Vec::new();
        let mut current = start;
        let cycle_from = loop {
            if state[current] == DONE {
                break None;
            }
            if state[current] != UNSEEN {
                break Some(state[current]);
            }
            state[current] = path.len();
            path.push(current);
            match edges[current].iter().find(|&&d| indegree[d] > 0) {
                Some(&next) => current = next,
                None => break None,
            }
        };
        if let Some(from) = cycle_from {
            let mut cycle = path[from..].to_vec();
            cycle.reverse(); // producer first: a -> b means b consumes a
            diags.push(cycle_diagnostic(wf, &cycle));
        }
        for &p in &path {
            state[p] = DONE;
        }
    }
}

fn cycle_diagnostic(wf: &Workflow, cycle: &[usize]) -> Diagnostic {
    let first = cycle[0];
    let name = |c: usize| wf.steps[c].id.value.as_str();
    let mut names: Vec<&str> = cycle.iter().take(MAX_CYCLE_SHOWN).map(|&c| name(c)).collect();
    let more = cycle.len().saturating_sub(MAX_CYCLE_SHOWN);
    let skipped = (more > 0).then(|| format!("... ({more} more steps)"));
    if let Some(s) = &skipped {
        names.push(s);
    }
    names.push(name(first));
    Diagnostic::new(
        wf.steps[first].id.span,
        format!("steps.{}", name(first)),
        format!("steps form a cycle: {}", names.join(" -> ")),
    )
}
