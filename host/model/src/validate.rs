//! Validation: an authored workflow plus the declarations of its components → a `Plan`,
//! or every problem found, each with its position and field.
//!
//! Each step is checked on its own first (component, bindings, parameters, matrix,
//! condition), the step graph is ordered (cycles reported), then `expand` turns matrix
//! steps and their consumers into one planned step per instance.

use crate::authored::{PortBinding, StepDecl, ValueExpr, Workflow};
use crate::component_ref::ComponentRef;
use crate::condition::Expr;
use crate::diagnostic::Diagnostic;
use crate::expand::{Checked, CheckedBinding, RawSource, expand};
use crate::media_type;
use crate::plan::{Condition, Limits, Plan, PlannedInput};
use crate::policy::Policy;
use crate::span::Span;
use crate::step_info::{ParamType, ParamValue, StepInfo};
use std::collections::{BTreeMap, HashMap};

/// The declarations of the workflow's components, keyed by the `uses:` text; an `Err`
/// says why the component could not be loaded (not found, not a Weft step, ...).
pub type Catalog = BTreeMap<String, Result<StepInfo, String>>;

/// Most instances one `matrix` may expand to.
pub const MAX_MATRIX: usize = 10_000;

/// Validates `wf` against the components' declarations and the `--param` overrides.
pub fn validate(wf: &Workflow, catalog: &Catalog, overrides: &[(String, String)]) -> Result<Plan, Vec<Diagnostic>> {
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

    let mut types = crate::output_types::OutputTypes::new(wf, &infos, &inputs, &index);
    let mut checked = Vec::with_capacity(wf.steps.len());
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); wf.steps.len()];
    for (i, step) in wf.steps.iter().enumerate() {
        let field = format!("steps.{}", step.id.value);
        let mut ctx = Context {
            inputs: &inputs,
            index: &index,
            infos: &infos,
            types: &mut types,
        };
        let bindings = v.bindings(step, &field, infos[i], &mut ctx, &mut edges[i]);
        let mut after = Vec::new();
        for dep in &step.after {
            match index.get(dep.value.as_str()) {
                Some(&d) => after.push(d),
                None => v.push(dep.span, format!("{field}.after"), unknown_step(&dep.value, &index)),
            }
        }
        edges[i].extend(&after);
        let condition = v.condition(step, &field, &params, &index, &mut edges[i]);
        let Some(info) = infos[i] else {
            checked.push(None);
            continue;
        };
        let matrix = v.matrix(step, &field, info);
        let step_params = v.step_params(step, &field, info, &params, &matrix);
        let outputs = info
            .outputs
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    types.of(i, &p.name).unwrap_or_else(|| p.media_type.clone()),
                )
            })
            .collect();
        checked.push(Some(Checked {
            decl: step,
            info,
            outputs,
            bindings,
            params: step_params,
            matrix,
            after,
            condition,
            limits: Limits {
                memory: step.limits.memory.as_ref().map(|s| s.value),
                timeout: step.limits.timeout.as_ref().map(|s| s.value),
                fuel: step.limits.fuel.as_ref().map(|s| s.value),
            },
            policy: Policy {
                retry: step.retry.as_ref().map(|r| r.value).unwrap_or_default(),
                cache: step.cache.as_ref().is_none_or(|c| c.value),
            },
        }));
    }
    v.diags.append(&mut types.conflicts);
    let order = crate::graph::topological_order(wf, &edges, &mut v.diags);
    if !v.diags.is_empty() {
        return Err(v.finish());
    }
    // No diagnostics: every component resolved (so every entry is `Some`) and no cycle.
    let checked: Vec<Checked> = checked.into_iter().flatten().collect();
    let steps = expand(&checked, &order, &mut v.diags);
    if !v.diags.is_empty() {
        return Err(v.finish());
    }
    Ok(Plan {
        name: wf.name.value.clone(),
        params: params.into_iter().collect(),
        inputs,
        steps,
        timeout: wf.timeout.as_ref().map(|t| t.value),
    })
}

fn unknown_step(name: &str, index: &HashMap<&str, usize>) -> String {
    let mut known: Vec<_> = index.keys().copied().collect();
    known.sort_unstable();
    format!("no step `{name}` in this workflow; steps are: {}", known.join(", "))
}

fn listing<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<_> = names.collect();
    if v.is_empty() {
        "(none)".to_string()
    } else {
        v.join(", ")
    }
}

fn no_such_param(info: &StepInfo, name: &str) -> String {
    format!(
        "`{}` has no parameter `{name}`; its parameters are: {}",
        info.name,
        listing(info.params.iter().map(|p| p.name.as_str()))
    )
}

/// What binding checks look things up in.
struct Context<'a, 'c> {
    inputs: &'a [PlannedInput],
    index: &'a HashMap<&'a str, usize>,
    infos: &'a [Option<&'c StepInfo>],
    types: &'a mut crate::output_types::OutputTypes<'c>,
}

struct Validator {
    diags: Vec<Diagnostic>,
}

impl Validator {
    fn push(&mut self, span: Span, field: impl Into<String>, message: impl Into<String>) {
        self.diags.push(Diagnostic::new(span, field, message));
    }

    fn finish(mut self) -> Vec<Diagnostic> {
        self.diags.sort();
        self.diags.dedup();
        self.diags
    }

    fn workflow_params(&mut self, wf: &Workflow, overrides: &[(String, String)]) -> BTreeMap<String, ParamValue> {
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
                        format!("unknown parameter; the workflow declares: {}", known.join(", "))
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
                            format!("no default and no value given: pass `--param {}=...`", decl.name.value),
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

    fn bindings(
        &mut self,
        step: &StepDecl,
        field: &str,
        info: Option<&StepInfo>,
        ctx: &mut Context<'_, '_>,
        edges: &mut Vec<usize>,
    ) -> Vec<CheckedBinding> {
        let mut out = Vec::new();
        for PortBinding { port, sources, listed } in &step.inputs {
            let pfield = format!("{field}.inputs.{}", port.value);
            let declared = info.and_then(|i| i.input(&port.value));
            if let Some(info) = info
                && declared.is_none()
            {
                self.push(
                    port.span,
                    &pfield,
                    format!(
                        "`{}` has no input port `{}`; its inputs are: {}",
                        info.name,
                        port.value,
                        listing(info.inputs.iter().map(|p| p.name.as_str()))
                    ),
                );
            }
            if let Some(d) = declared
                && *listed
                && !d.many
            {
                self.push(
                    port.span,
                    &pfield,
                    format!(
                        "input `{}` takes one artifact; only fan-in (`many`) ports take a list",
                        port.value
                    ),
                );
            }
            let mut checked_sources = Vec::new();
            for reference in sources {
                let Some((source, produced)) = self.source(reference, &pfield, ctx, edges) else {
                    continue;
                };
                if let (Some(declared), Some(produced)) = (declared, &produced)
                    && !media_type::accepts(&declared.media_type, produced)
                {
                    self.push(
                        reference.span,
                        &pfield,
                        format!(
                            "`{}` is `{produced}`, but input `{}` accepts `{}`",
                            reference.value, port.value, declared.media_type
                        ),
                    );
                }
                checked_sources.push((source, produced.unwrap_or_default()));
            }
            if let Some(d) = declared {
                out.push(CheckedBinding {
                    port: port.value.clone(),
                    many: d.many,
                    sources: checked_sources,
                });
            }
        }
        if let Some(info) = info {
            for port in &info.inputs {
                if !step.inputs.iter().any(|b| b.port.value == port.name) {
                    self.push(
                        step.id.span,
                        format!("{field}.inputs"),
                        format!("input port `{}` ({}) is not bound", port.name, port.media_type),
                    );
                }
            }
            // Keep the plan's bindings in the component's declaration order.
            out.sort_by_key(|b| info.inputs.iter().position(|p| p.name == b.port));
        }
        out
    }

    /// Resolves one source reference; `None` when it does not resolve (reported).
    fn source(
        &mut self,
        reference: &crate::span::Spanned<String>,
        pfield: &str,
        ctx: &mut Context<'_, '_>,
        edges: &mut Vec<usize>,
    ) -> Option<(RawSource, Option<String>)> {
        let Some((head, tail)) = reference.value.split_once('.') else {
            self.push(
                reference.span,
                pfield,
                format!(
                    "`{}` is not a reference: write `inputs.NAME` or `STEP.PORT`",
                    reference.value
                ),
            );
            return None;
        };
        if head == "inputs" {
            return match ctx.inputs.iter().find(|i| i.name == tail) {
                Some(i) => Some((RawSource::Input(tail.to_string()), Some(i.media_type.clone()))),
                None => {
                    self.push(
                        reference.span,
                        pfield,
                        format!(
                            "no workflow input `{tail}`; inputs are: {}",
                            listing(ctx.inputs.iter().map(|i| i.name.as_str()))
                        ),
                    );
                    None
                }
            };
        }
        let Some(&producer) = ctx.index.get(head) else {
            self.push(reference.span, pfield, unknown_step(head, ctx.index));
            return None;
        };
        edges.push(producer);
        let produced = match ctx.infos[producer] {
            Some(pinfo) => match pinfo.output(tail) {
                Some(out) => Some(ctx.types.of(producer, tail).unwrap_or_else(|| out.media_type.clone())),
                None => {
                    self.push(
                        reference.span,
                        pfield,
                        format!(
                            "step `{head}` (`{}`) has no output `{tail}`; its outputs are: {}",
                            pinfo.name,
                            listing(pinfo.outputs.iter().map(|p| p.name.as_str()))
                        ),
                    );
                    return None;
                }
            },
            None => None,
        };
        Some((RawSource::Step(producer, tail.to_string()), produced))
    }

    fn matrix(&mut self, step: &StepDecl, field: &str, info: &StepInfo) -> Vec<(String, Vec<ParamValue>)> {
        let mut out = Vec::new();
        let mut combinations: usize = 1;
        for (name, values) in &step.matrix {
            let mfield = format!("{field}.matrix.{}", name.value);
            let Some(spec) = info.param(&name.value) else {
                self.push(name.span, mfield, no_such_param(info, &name.value));
                continue;
            };
            if step.with.iter().any(|(n, _)| n.value == name.value) {
                self.push(
                    name.span,
                    mfield.clone(),
                    format!("`{}` is set both in `with:` and in `matrix:`", name.value),
                );
            }
            let mut typed = Vec::new();
            for v in values {
                match v.value.clone().coerce(spec.ty) {
                    Some(t) => typed.push(t),
                    None => self.push(
                        v.span,
                        &mfield,
                        format!("expected {}, found {} `{}`", spec.ty, v.value.ty(), v.value),
                    ),
                }
            }
            combinations = combinations.saturating_mul(typed.len().max(1));
            out.push((name.value.clone(), typed));
        }
        if combinations > MAX_MATRIX {
            self.push(
                step.id.span,
                format!("{field}.matrix"),
                format!("the matrix has {combinations} combinations; at most {MAX_MATRIX} are allowed"),
            );
        }
        out
    }

    fn condition(
        &mut self,
        step: &StepDecl,
        field: &str,
        params: &BTreeMap<String, ParamValue>,
        index: &HashMap<&str, usize>,
        edges: &mut Vec<usize>,
    ) -> Option<Condition> {
        let when = step.when.as_ref()?;
        let cfield = format!("{field}.when");
        let expr = match Expr::parse(&when.value).and_then(|e| e.fold_params(params)) {
            Ok(e) => e,
            Err(e) => {
                self.push(when.span, cfield, format!("invalid condition: {e}"));
                return None;
            }
        };
        for s in expr.steps() {
            match index.get(s) {
                Some(&d) if s == step.id.value => {
                    let _ = d;
                    self.push(
                        when.span,
                        &cfield,
                        "a condition cannot read the metrics of its own step",
                    );
                }
                Some(&d) => edges.push(d),
                None => self.push(when.span, &cfield, unknown_step(s, index)),
            }
        }
        Some(Condition {
            text: when.value.clone(),
            expr,
        })
    }

    fn step_params(
        &mut self,
        step: &StepDecl,
        field: &str,
        info: &StepInfo,
        params: &BTreeMap<String, ParamValue>,
        matrix: &[(String, Vec<ParamValue>)],
    ) -> Vec<(String, ParamValue)> {
        let mut given: HashMap<&str, ParamValue> = HashMap::new();
        for (name, expr) in &step.with {
            let pfield = format!("{field}.with.{}", name.value);
            let Some(spec) = info.param(&name.value) else {
                self.push(name.span, pfield, no_such_param(info, &name.value));
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
                        if spec.ty == ParamType::Str {
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
            match given.remove(spec.name.as_str()).or_else(|| spec.default.clone()) {
                Some(v) => out.push((spec.name.clone(), v)),
                None => {
                    let swept = matrix.iter().any(|(n, _)| *n == spec.name);
                    if !swept && !step.with.iter().any(|(n, _)| n.value == spec.name) {
                        self.push(
                            step.id.span,
                            format!("{field}.with"),
                            format!("required parameter `{}` ({}) is not given", spec.name, spec.ty),
                        );
                    }
                }
            }
        }
        out
    }
}
