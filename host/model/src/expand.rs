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

/// Expands `checked` (indexed like the authored steps) in topological `order`.
pub(crate) fn expand(checked: &[Checked<'_>], order: &[usize], diags: &mut Vec<Diagnostic>) -> Vec<PlannedStep> {
    let n = checked.len();
    let mut planned: Vec<PlannedStep> = Vec::new();
    // Authored step → its planned instances; and → the matrix step it is fanned out with.
    let mut instances: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut fanned_with: Vec<Option<usize>> = vec![None; n];
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
                if let Some(j) = checked.iter().position(|k| k.decl.id.value == s)
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
        let combos: Vec<Vec<(String, ParamValue)>> = if !c.matrix.is_empty() {
            fanned_with[i] = Some(i);
            combinations(&c.matrix)
        } else if let Some(origin) = inherited {
            fanned_with[i] = Some(origin);
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
                    if let Some(j) = checked.iter().position(|x| x.decl.id.value == s) {
                        deps.extend(&instances[j]);
                    }
                }
            }
            deps.sort_unstable();
            deps.dedup();
            let params = c
                .info
                .params
                .iter()
                .filter_map(|spec| {
                    values
                        .iter()
                        .find(|(n, _)| *n == spec.name)
                        .or_else(|| c.params.iter().find(|(n, _)| *n == spec.name))
                        .cloned()
                })
                .collect();
            instances[i].push(planned.len());
            planned.push(PlannedStep {
                id: if fanned { format!("{id}[{k}]") } else { id.clone() },
                uses: c.decl.uses.value.clone(),
                info: c.info.clone(),
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
