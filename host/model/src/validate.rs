//! Validation: an authored workflow plus the declarations of its components → a `Plan`,
//! or every problem found, each with its position and field.

use crate::authored::{StepDecl, ValueExpr, Workflow};
use crate::component_ref::ComponentRef;
use crate::diagnostic::Diagnostic;
use crate::media_type;
use crate::plan::{Binding, Limits, Plan, PlannedInput, PlannedStep, Source};
use crate::span::Span;
use crate::step_info::{ParamValue, StepInfo};
use std::collections::{BTreeMap, HashMap};

/// The declarations of the workflow's components, keyed by the `uses:` text; an `Err`
/// says why the component could not be loaded (not found, not a Weft step, ...).
pub type Catalog = BTreeMap<String, Result<StepInfo, String>>;

/// Validates `wf` against the components' declarations and the `--param` overrides.
pub fn validate(
    wf: &Workflow,
    catalog: &Catalog,
    overrides: &[(String, String)],
) -> Result<Plan, Vec<Diagnostic>> {
    let mut v = Validator { diags: Vec::new() };
    let params = v.workflow_params(wf, overrides);
    let inputs: Vec<PlannedInput> = wf
        .inputs
        .iter()
        .map(|i| PlannedInput {
            name: i.name.value.clone(),
            path: i.path.value.clone(),
            media_type: i.media_type.as_ref().map_or_else(
                || media_type::guess_from_path(&i.path.value).to_string(),
                |m| m.value.clone(),
            ),
        })
        .collect();

    let index: HashMap<&str, usize> = wf
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.value.as_str(), i))
        .collect();
    let infos: Vec<Option<&StepInfo>> = wf.steps.iter().map(|s| v.component(s, catalog)).collect();

    let mut planned = Vec::new();
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); wf.steps.len()];
    for (i, step) in wf.steps.iter().enumerate() {
        let field = format!("steps.{}", step.id.value);
        let bindings = v.bindings(
            step,
            &field,
            infos[i],
            &inputs,
            &index,
            &infos,
            &mut edges[i],
        );
        for dep in &step.after {
            match index.get(dep.value.as_str()) {
                Some(&d) => edges[i].push(d),
                None => v.push(
                    dep.span,
                    format!("{field}.after"),
                    unknown_step(&dep.value, &index),
                ),
            }
        }
        let step_params = infos[i]
            .map(|info| v.step_params(step, &field, info, &params))
            .unwrap_or_default();
        if let Some(info) = infos[i] {
            planned.push(Some(PlannedStep {
                id: step.id.value.clone(),
                uses: step.uses.value.clone(),
                info: info.clone(),
                inputs: bindings,
                params: step_params,
                limits: Limits {
                    memory: step.limits.memory.as_ref().map(|s| s.value),
                    timeout: step.limits.timeout.as_ref().map(|s| s.value),
                    fuel: step.limits.fuel.as_ref().map(|s| s.value),
                },
                deps: Vec::new(),
            }));
        } else {
            planned.push(None);
        }
    }
    let order = v.topological_order(wf, &edges);
    if !v.diags.is_empty() {
        v.diags.sort();
        v.diags.dedup();
        return Err(v.diags);
    }
    // No diagnostics means every component resolved and there is no cycle.
    let position: HashMap<usize, usize> =
        order.iter().enumerate().map(|(pos, &i)| (i, pos)).collect();
    let mut steps = Vec::with_capacity(order.len());
    for &i in &order {
        let Some(mut step) = planned[i].take() else {
            continue;
        };
        let mut deps: Vec<usize> = edges[i].iter().map(|d| position[d]).collect();
        deps.sort_unstable();
        deps.dedup();
        step.deps = deps;
        steps.push(step);
    }
    Ok(Plan {
        name: wf.name.value.clone(),
        params: params.into_iter().collect(),
        inputs,
        steps,
    })
}

fn unknown_step(name: &str, index: &HashMap<&str, usize>) -> String {
    let mut known: Vec<_> = index.keys().copied().collect();
    known.sort_unstable();
    format!(
        "no step `{name}` in this workflow; steps are: {}",
        known.join(", ")
    )
}

struct Validator {
    diags: Vec<Diagnostic>,
}

impl Validator {
    fn push(&mut self, span: Span, field: impl Into<String>, message: impl Into<String>) {
        self.diags.push(Diagnostic::new(span, field, message));
    }

    fn workflow_params(
        &mut self,
        wf: &Workflow,
        overrides: &[(String, String)],
    ) -> BTreeMap<String, ParamValue> {
        let mut out = BTreeMap::new();
        for (name, text) in overrides {
            if !wf.params.iter().any(|p| &p.name.value == name) {
                let known: Vec<_> = wf.params.iter().map(|p| p.name.value.as_str()).collect();
                self.push(
                    wf.name.span,
                    format!("--param {name}"),
                    if known.is_empty() {
                        "the workflow declares no params".to_string()
                    } else {
                        format!(
                            "unknown parameter; the workflow declares: {}",
                            known.join(", ")
                        )
                    },
                );
            }
            let _ = text;
        }
        for decl in &wf.params {
            let given = overrides.iter().rev().find(|(n, _)| n == &decl.name.value);
            let value = match given {
                Some((_, text)) => match decl.ty.parse_value(text) {
                    Ok(v) => Some(v),
                    Err(e) => {
                        self.push(
                            decl.name.span,
                            format!("--param {}", decl.name.value),
                            format!("{e} (declared {})", decl.ty),
                        );
                        None
                    }
                },
                None => {
                    if decl.default.is_none() {
                        self.push(
                            decl.name.span,
                            format!("params.{}", decl.name.value),
                            format!(
                                "no default and no value given: pass `--param {}=...`",
                                decl.name.value
                            ),
                        );
                    }
                    decl.default.clone()
                }
            };
            if let Some(v) = value {
                out.insert(decl.name.value.clone(), v);
            }
        }
        out
    }

    fn component<'c>(&mut self, step: &StepDecl, catalog: &'c Catalog) -> Option<&'c StepInfo> {
        if step.uses.value.is_empty() {
            return None; // missing `uses`, reported while parsing
        }
        let field = format!("steps.{}.uses", step.id.value);
        let reference = match ComponentRef::parse(&step.uses.value) {
            Ok(r) => r,
            Err(e) => {
                self.push(step.uses.span, field, e);
                return None;
            }
        };
        match catalog.get(&step.uses.value) {
            None => {
                self.push(
                    step.uses.span,
                    field,
                    format!("component `{}` was not resolved", step.uses.value),
                );
                None
            }
            Some(Err(e)) => {
                self.push(step.uses.span, field, e.clone());
                None
            }
            Some(Ok(info)) => {
                let problems = info.problems();
                if !problems.is_empty() {
                    self.push(
                        step.uses.span,
                        field,
                        format!(
                            "component `{}` declares itself wrongly: {}",
                            step.uses.value,
                            problems.join("; ")
                        ),
                    );
                    return None;
                }
                if !reference.matches(&info.name, &info.version) {
                    self.push(
                        step.uses.span,
                        field,
                        format!(
                            "`{}` resolved to a component that declares itself `{}@{}`",
                            step.uses.value, info.name, info.version
                        ),
                    );
                    return None;
                }
                Some(info)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn bindings(
        &mut self,
        step: &StepDecl,
        field: &str,
        info: Option<&StepInfo>,
        inputs: &[PlannedInput],
        index: &HashMap<&str, usize>,
        infos: &[Option<&StepInfo>],
        edges: &mut Vec<usize>,
    ) -> Vec<Binding> {
        let mut out = Vec::new();
        for (port, reference) in &step.inputs {
            let pfield = format!("{field}.inputs.{}", port.value);
            let declared = info.and_then(|i| i.input(&port.value));
            if let Some(info) = info
                && declared.is_none()
            {
                let known: Vec<_> = info.inputs.iter().map(|p| p.name.as_str()).collect();
                self.push(
                    port.span,
                    &pfield,
                    format!(
                        "`{}` has no input port `{}`; its inputs are: {}",
                        info.name,
                        port.value,
                        if known.is_empty() {
                            "(none)".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
            }
            let Some((head, tail)) = reference.value.split_once('.') else {
                self.push(
                    reference.span,
                    &pfield,
                    format!(
                        "`{}` is not a reference: write `inputs.NAME` or `STEP.PORT`",
                        reference.value
                    ),
                );
                continue;
            };
            let (source, produced) = if head == "inputs" {
                match inputs.iter().find(|i| i.name == tail) {
                    Some(i) => (Source::Input(tail.to_string()), Some(i.media_type.clone())),
                    None => {
                        let known: Vec<_> = inputs.iter().map(|i| i.name.as_str()).collect();
                        self.push(
                            reference.span,
                            &pfield,
                            format!(
                                "no workflow input `{tail}`; inputs are: {}",
                                if known.is_empty() {
                                    "(none)".to_string()
                                } else {
                                    known.join(", ")
                                }
                            ),
                        );
                        continue;
                    }
                }
            } else {
                let Some(&producer) = index.get(head) else {
                    self.push(reference.span, &pfield, unknown_step(head, index));
                    continue;
                };
                edges.push(producer);
                let produced = match infos[producer] {
                    Some(pinfo) => match pinfo.output(tail) {
                        Some(out) => Some(out.media_type.clone()),
                        None => {
                            let known: Vec<_> =
                                pinfo.outputs.iter().map(|p| p.name.as_str()).collect();
                            self.push(
                                reference.span,
                                &pfield,
                                format!(
                                    "step `{head}` (`{}`) has no output `{tail}`; its outputs are: {}",
                                    pinfo.name,
                                    if known.is_empty() { "(none)".to_string() } else { known.join(", ") }
                                ),
                            );
                            continue;
                        }
                    },
                    None => None,
                };
                (
                    Source::Step {
                        step: head.to_string(),
                        port: tail.to_string(),
                    },
                    produced,
                )
            };
            if let (Some(declared), Some(produced)) = (declared, &produced) {
                if !media_type::accepts(&declared.media_type, produced) {
                    self.push(
                        reference.span,
                        &pfield,
                        format!(
                            "`{}` is `{produced}`, but input `{}` accepts `{}`",
                            reference.value, port.value, declared.media_type
                        ),
                    );
                }
                out.push(Binding {
                    port: port.value.clone(),
                    source,
                    media_type: produced.clone(),
                });
            }
        }
        if let Some(info) = info {
            for port in &info.inputs {
                if !step.inputs.iter().any(|(p, _)| p.value == port.name) {
                    self.push(
                        step.id.span,
                        format!("{field}.inputs"),
                        format!(
                            "input port `{}` ({}) is not bound",
                            port.name, port.media_type
                        ),
                    );
                }
            }
            // Keep the plan's bindings in the component's declaration order.
            out.sort_by_key(|b| info.inputs.iter().position(|p| p.name == b.port));
        }
        out
    }

    fn step_params(
        &mut self,
        step: &StepDecl,
        field: &str,
        info: &StepInfo,
        params: &BTreeMap<String, ParamValue>,
    ) -> Vec<(String, ParamValue)> {
        let mut given: HashMap<&str, ParamValue> = HashMap::new();
        for (name, expr) in &step.with {
            let pfield = format!("{field}.with.{}", name.value);
            let Some(spec) = info.param(&name.value) else {
                let known: Vec<_> = info.params.iter().map(|p| p.name.as_str()).collect();
                self.push(
                    name.span,
                    pfield,
                    format!(
                        "`{}` has no parameter `{}`; its parameters are: {}",
                        info.name,
                        name.value,
                        if known.is_empty() {
                            "(none)".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
                continue;
            };
            let value = match &expr.value {
                ValueExpr::Literal(v) => v.clone(),
                ValueExpr::Template(t) => match crate::expr::substitute(t, params) {
                    Ok(v) => v,
                    Err(e) => {
                        self.push(expr.span, pfield, e);
                        continue;
                    }
                },
            };
            match value.clone().coerce(spec.ty) {
                Some(v) => {
                    given.insert(name.value.as_str(), v);
                }
                None => self.push(
                    expr.span,
                    pfield,
                    format!(
                        "expected {}, found {} `{value}`{}",
                        spec.ty,
                        value.ty(),
                        if spec.ty == crate::step_info::ParamType::Str {
                            " (quote it to pass text)"
                        } else {
                            ""
                        }
                    ),
                ),
            }
        }
        let mut out = Vec::new();
        for spec in &info.params {
            match given
                .remove(spec.name.as_str())
                .or_else(|| spec.default.clone())
            {
                Some(v) => out.push((spec.name.clone(), v)),
                None => {
                    if !step.with.iter().any(|(n, _)| n.value == spec.name) {
                        self.push(
                            step.id.span,
                            format!("{field}.with"),
                            format!(
                                "required parameter `{}` ({}) is not given",
                                spec.name, spec.ty
                            ),
                        );
                    }
                }
            }
        }
        out
    }

    /// Kahn's algorithm in file order, so the plan is stable; reports each cycle once.
    fn topological_order(&mut self, wf: &Workflow, edges: &[Vec<usize>]) -> Vec<usize> {
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
        let mut ready: std::collections::BTreeSet<usize> =
            (0..n).filter(|&i| indegree[i] == 0).collect();
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
                    self.push(
                        wf.steps[first].id.span,
                        format!("steps.{}", wf.steps[first].id.value),
                        format!("steps form a cycle: {}", names.join(" -> ")),
                    );
                }
            }
        }
        order
    }
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
