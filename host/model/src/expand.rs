//! Fan-out: turns checked steps into planned steps, one per instance.
//!
//! A step with `matrix:` runs once per combination of its swept values. A step that binds
//! a single-artifact port to an output of such a step is fanned out the same way (instance
//! `k` reads instance `k`'s output). A fan-in (`many`) port bound to it receives the
//! outputs of every instance, in instance order.

use crate::authored::StepDecl;
use crate::diagnostic::Diagnostic;
use crate::plan::{Binding, Condition, Instance, Limits, PlannedStep, Source};
use crate::policy::Policy;
use crate::step_info::{ParamValue, StepInfo};
use std::collections::HashMap;
use std::sync::Arc;

/// Most planned steps (instances) one workflow may expand to.
/// Above the ~60,000 authored steps a 1 MiB workflow can hold, far below what makes a
/// plan's memory a problem (each planned step holds a few hundred bytes).
pub const MAX_PLANNED_STEPS: usize = 100_000;
/// Most artifact bindings (inputs of planned steps) one workflow may expand to: a fan-in
/// port of a swept step's follower reads every instance of another sweep, so bindings
/// multiply where steps only add.
pub const MAX_PLANNED_BINDINGS: usize = 200_000;
/// Most bytes of parameters, output types and conditions the planned steps may hold
/// together: every instance carries its own copy.
pub const MAX_PLAN_BYTES: usize = 64 << 20;

/// Where one bound artifact comes from, before expansion.
#[derive(Debug, Clone)]
pub(crate) enum RawSource {
    /// A workflow input.
    Input(String),
    /// An output port of an authored step (by index).
    Step(usize, String),
}

/// One input port's checked binding.
#[derive(Debug, Clone)]
pub(crate) struct CheckedBinding {
    pub port: String,
    pub many: bool,
    /// Sources with the media type each produces.
    pub sources: Vec<(RawSource, String)>,
}

/// An authored step whose parts all checked out.
pub(crate) struct Checked<'w> {
    pub decl: &'w StepDecl,
    pub info: &'w StepInfo,
    /// Output port → the media type it will carry (pass-throughs resolved).
    pub outputs: Vec<(String, String)>,
    pub bindings: Vec<CheckedBinding>,
    /// Declared parameters with values from `with:` or defaults (swept ones may be absent).
    pub params: Vec<(String, ParamValue)>,
    pub matrix: Vec<(String, Vec<ParamValue>)>,
    pub after: Vec<usize>,
    pub condition: Option<Condition>,
    pub limits: Limits,
    pub policy: Policy,
}

/// Every combination of the swept values, first parameter varying slowest.
fn combinations(matrix: &[(String, Vec<ParamValue>)]) -> Vec<Vec<(String, ParamValue)>> {
    let mut out: Vec<Vec<(String, ParamValue)>> = vec![Vec::new()];
    for (name, values) in matrix {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                values.iter().map(move |v| {
                    let mut next = prefix.clone();
                    next.push((name.clone(), v.clone()));
                    next
                })
            })
            .collect();
    }
    out
}

/// How each authored step fans out, computed before anything is materialised.
struct Shape {
    /// The matrix step each authored step is fanned out with.
    fanned_with: Vec<Option<usize>>,
    /// Instances of each authored step.
    count: Vec<usize>,
}

/// Expands `checked` (indexed like the authored steps) in topological `order`: first the
/// shape (which matrix each step follows, how many instances) and the size of the plan,
/// refused when over the limits, and only then the planned steps.
pub(crate) fn expand(checked: &[Checked<'_>], order: &[usize], diags: &mut Vec<Diagnostic>) -> Vec<PlannedStep> {
    let index: HashMap<&str, usize> = checked
        .iter()
        .enumerate()
        .map(|(i, c)| (c.decl.id.value.as_str(), i))
        .collect();
    let shape = shape(checked, order, &index, diags);
    if !diags.is_empty() || !within_limits(checked, order, &shape, diags) {
        return Vec::new();
    }
    materialise(checked, order, &index, &shape)
}

/// Which matrix each step is fanned out with, and its number of instances; reports steps
/// that follow two matrices, read metrics of a swept step, or sweep while following.
fn shape(checked: &[Checked<'_>], order: &[usize], index: &HashMap<&str, usize>, diags: &mut Vec<Diagnostic>) -> Shape {
    let n = checked.len();
    let mut fanned_with: Vec<Option<usize>> = vec![None; n];
    let mut count = vec![1usize; n];
    for &i in order {
        let c = &checked[i];
        let id = &c.decl.id.value;
        let field = format!("steps.{id}");
        let mut inherited: Option<usize> = None;
        for b in c.bindings.iter().filter(|b| !b.many) {
            for (src, _) in &b.sources {
                if let RawSource::Step(j, _) = src
                    && let Some(origin) = fanned_with[*j]
                {
                    if inherited.is_some_and(|o| o != origin) {
                        diags.push(Diagnostic::new(
                            c.decl.id.span,
                            format!("{field}.inputs.{}", b.port),
                            format!(
                                "binds outputs of steps fanned out by different matrices (`{}` and `{}`); bind one of them to a fan-in (`many`) port",
                                checked[inherited.unwrap_or(origin)].decl.id.value,
                                checked[origin].decl.id.value
                            ),
                        ));
                    }
                    inherited = Some(origin);
                }
            }
        }
        if let Some(cond) = &c.condition {
            for s in cond.expr.steps() {
                if let Some(&j) = index.get(s)
                    && fanned_with[j].is_some()
                {
                    diags.push(Diagnostic::new(
                        c.decl.when.as_ref().map_or(c.decl.id.span, |w| w.span),
                        format!("{field}.when"),
                        format!("reads metrics of `{s}`, which runs once per matrix value; read a step that picks one"),
                    ));
                }
            }
        }
        if !c.matrix.is_empty() && inherited.is_some() {
            diags.push(Diagnostic::new(
                c.decl.id.span,
                format!("{field}.matrix"),
                "a `matrix` step cannot also be fanned out by a single-artifact input from another matrix step",
            ));
            continue;
        }
        if !c.matrix.is_empty() {
            fanned_with[i] = Some(i);
            count[i] = c
                .matrix
                .iter()
                .fold(1usize, |n, (_, values)| n.saturating_mul(values.len()));
        } else if let Some(origin) = inherited {
            fanned_with[i] = Some(origin);
            count[i] = count[origin];
        }
    }
    Shape { fanned_with, count }
}

/// Counts what the plan would hold (instances, bindings, bytes) without building it, and
/// reports each limit passed, at the step that contributes most.
fn within_limits(checked: &[Checked<'_>], order: &[usize], shape: &Shape, diags: &mut Vec<Diagnostic>) -> bool {
    let mut steps = 0usize;
    let mut bindings = 0usize;
    let mut bytes = 0usize;
    // (contribution, step) of the biggest contributor to each total.
    let mut top = [(0usize, 0usize); 3];
    for &i in order {
        let c = &checked[i];
        let k = shape.count[i];
        let mut per_instance = 0usize;
        for b in &c.bindings {
            for (src, _) in &b.sources {
                per_instance = per_instance.saturating_add(match src {
                    RawSource::Step(j, _) if b.many => shape.count[*j],
                    _ => 1,
                });
            }
        }
        let contributions = [k, k.saturating_mul(per_instance), k.saturating_mul(instance_bytes(c))];
        for (t, add) in [&mut steps, &mut bindings, &mut bytes].into_iter().zip(contributions) {
            *t = t.saturating_add(add);
        }
        for (slot, add) in top.iter_mut().zip(contributions) {
            if add > slot.0 {
                *slot = (add, i);
            }
        }
    }
    let mut ok = true;
    let mut over = |total: usize, max: usize, (add, i): (usize, usize), what: &str, hint: &str| {
        if total > max {
            let c = &checked[i];
            diags.push(Diagnostic::new(
                c.decl.id.span,
                format!("steps.{}", c.decl.id.value),
                format!(
                    "the workflow would expand to {total} {what}, more than the {max} allowed; this step alone adds {add} ({} instances){hint}",
                    shape.count[i]
                ),
            ));
            ok = false;
        }
    };
    over(
        steps,
        MAX_PLANNED_STEPS,
        top[0],
        "planned steps",
        ": sweep fewer values",
    );
    over(
        bindings,
        MAX_PLANNED_BINDINGS,
        top[1],
        "input bindings",
        ": fan in fewer instances",
    );
    over(
        bytes,
        MAX_PLAN_BYTES,
        top[2],
        "bytes of planned steps",
        ": every instance holds its own copy of the parameters; shorten them or sweep fewer values",
    );
    ok
}

/// Roughly the bytes one planned instance of `c` holds beyond its bindings.
fn instance_bytes(c: &Checked<'_>) -> usize {
    fn value(v: &ParamValue) -> usize {
        match v {
            ParamValue::Str(s) => s.len(),
            _ => 8,
        }
    }
    let params: usize = c.params.iter().map(|(n, v)| n.len() + value(v) + 32).sum();
    let swept: usize = c
        .matrix
        .iter()
        .map(|(n, vs)| n.len() * 2 + vs.iter().map(value).max().unwrap_or(0) * 2 + 64)
        .sum();
    let outputs: usize = c.outputs.iter().map(|(p, m)| p.len() + m.len() + 48).sum();
    let condition = c.condition.as_ref().map_or(0, |k| k.text.len() * 4);
    256 + c.decl.id.value.len() + c.decl.uses.value.len() + params + swept + outputs + condition
}

/// Roughly the bytes a step copies from its component's declaration: a value for each
/// parameter and a media type for each output (the declaration itself is shared).
pub(crate) fn copied_bytes(info: &StepInfo) -> usize {
    let outputs: usize = info
        .outputs
        .iter()
        .map(|p| p.name.len() + p.media_type.len() + 48)
        .sum();
    let params: usize = info
        .params
        .iter()
        .map(|p| {
            let default = match &p.default {
                Some(ParamValue::Str(s)) => s.len(),
                _ => 8,
            };
            p.name.len() + default + 32
        })
        .sum();
    outputs + params
}

/// Builds the planned steps; `shape` has been checked against the limits.
fn materialise(
    checked: &[Checked<'_>],
    order: &[usize],
    index: &HashMap<&str, usize>,
    shape: &Shape,
) -> Vec<PlannedStep> {
    let n = checked.len();
    let fanned_with = &shape.fanned_with;
    let mut planned: Vec<PlannedStep> = Vec::with_capacity(shape.count.iter().sum());
    // Authored step → its planned instances.
    let mut instances: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &i in order {
        let c = &checked[i];
        let id = &c.decl.id.value;
        let combos: Vec<Vec<(String, ParamValue)>> = if !c.matrix.is_empty() {
            combinations(&c.matrix)
        } else if let Some(origin) = fanned_with[i] {
            instances[origin]
                .iter()
                .map(|&p| {
                    planned[p]
                        .instance
                        .as_ref()
                        .map(|x| x.values.clone())
                        .unwrap_or_default()
                })
                .collect()
        } else {
            vec![Vec::new()]
        };
        let fanned = fanned_with[i].is_some();
        let count = combos.len();
        let given: HashMap<&str, &ParamValue> = c.params.iter().map(|(n, v)| (n.as_str(), v)).collect();
        // One copy of the declaration, shared by every instance.
        let info = Arc::new(c.info.clone());
        for (k, values) in combos.into_iter().enumerate() {
            let mut inputs = Vec::new();
            let mut deps = Vec::new();
            for b in &c.bindings {
                for (src, media_type) in &b.sources {
                    match src {
                        RawSource::Input(name) => inputs.push(Binding {
                            port: b.port.clone(),
                            source: Source::Input(name.clone()),
                            media_type: media_type.clone(),
                        }),
                        RawSource::Step(j, port) => {
                            let producers: Vec<usize> = if b.many {
                                instances[*j].clone()
                            } else if fanned_with[*j].is_some() {
                                instances[*j].get(k).copied().into_iter().collect()
                            } else {
                                instances[*j].first().copied().into_iter().collect()
                            };
                            for p in producers {
                                deps.push(p);
                                inputs.push(Binding {
                                    port: b.port.clone(),
                                    source: Source::Step {
                                        step: planned[p].id.clone(),
                                        port: port.clone(),
                                    },
                                    media_type: media_type.clone(),
                                });
                            }
                        }
                    }
                }
            }
            for &j in &c.after {
                deps.extend(&instances[j]);
            }
            if let Some(cond) = &c.condition {
                for s in cond.expr.steps() {
                    if let Some(&j) = index.get(s) {
                        deps.extend(&instances[j]);
                    }
                }
            }
            deps.sort_unstable();
            deps.dedup();
            let swept: HashMap<&str, &ParamValue> = values.iter().map(|(n, v)| (n.as_str(), v)).collect();
            let params = c
                .info
                .params
                .iter()
                .filter_map(|spec| {
                    let name = spec.name.as_str();
                    match swept.get(name) {
                        Some(v) => Some((spec.name.clone(), (*v).clone())),
                        None => given.get(name).map(|v| (spec.name.clone(), (*v).clone())),
                    }
                })
                .collect();
            instances[i].push(planned.len());
            planned.push(PlannedStep {
                id: if fanned { format!("{id}[{k}]") } else { id.clone() },
                uses: c.decl.uses.value.clone(),
                info: Arc::clone(&info),
                outputs: c.outputs.clone(),
                inputs,
                params,
                limits: c.limits,
                policy: c.policy,
                deps,
                instance: fanned.then(|| Instance {
                    of: id.clone(),
                    index: k,
                    count,
                    values: values.clone(),
                }),
                concurrency: c.decl.concurrency.as_ref().and_then(|s| usize::try_from(s.value).ok()),
                condition: c.condition.clone(),
                runs_on: c.decl.runs_on.as_ref().map(|l| l.value.clone()),
            });
        }
    }
    planned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combinations_vary_the_last_fastest() {
        let m = vec![
            ("a".to_string(), vec![ParamValue::Int(1), ParamValue::Int(2)]),
            ("b".to_string(), vec![ParamValue::Bool(false), ParamValue::Bool(true)]),
        ];
        let c = combinations(&m);
        assert_eq!(c.len(), 4);
        assert_eq!(
            c[1],
            vec![
                ("a".to_string(), ParamValue::Int(1)),
                ("b".to_string(), ParamValue::Bool(true))
            ]
        );
    }
}
