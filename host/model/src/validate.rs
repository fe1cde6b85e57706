//! Validation: an authored workflow plus the declarations of its components → a `Plan`,
//! or every problem found, each with its position and field.
//!
//! Each step is checked on its own first (component, bindings, parameters, matrix,
//! condition), the step graph is ordered (cycles reported), then `expand` turns matrix
//! steps and their consumers into one planned step per instance.

use crate::authored::{PortBinding, StepDecl, ValueExpr, Workflow};
use crate::component_ref::ComponentRef;
use crate::condition::Expr;
use crate::diagnostic::{Diagnostic, MAX_LISTED, clip, listing};
use crate::expand::{Checked, CheckedBinding, RawSource, copied_bytes, expand};
pub use crate::expand::{MAX_PLAN_BYTES, MAX_PLANNED_BINDINGS, MAX_PLANNED_STEPS};
use crate::media_type;
use crate::plan::{Condition, Limits, Plan, PlannedInput};
use crate::policy::Policy;
use crate::span::Span;
use crate::step_info::{ParamSpec, ParamType, ParamValue, Port, StepInfo};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The declarations of the workflow's components, keyed by the `uses:` text; an `Err`
/// says why the component could not be loaded (not found, not a Weft step, ...).
pub type Catalog = BTreeMap<String, Result<StepInfo, String>>;

/// Most instances one `matrix` may expand to.
pub const MAX_MATRIX: usize = 10_000;

/// A component's declaration with its ports and parameters indexed by name, built once
/// per component a workflow uses: a component may declare tens of thousands of ports, and
/// every binding looks one up.
pub(crate) struct Declared<'c> {
    pub info: &'c StepInfo,
    inputs: HashMap<&'c str, usize>,
    outputs: HashMap<&'c str, usize>,
    params: HashMap<&'c str, usize>,
}

impl<'c> Declared<'c> {
    fn new(info: &'c StepInfo) -> Self {
        fn index<T>(items: &[T], name: impl Fn(&T) -> &str) -> HashMap<&str, usize> {
            let mut map = HashMap::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                map.entry(name(item)).or_insert(i); // the first, like `StepInfo::input`
            }
            map
        }
        Declared {
            info,
            inputs: index(&info.inputs, |p: &Port| &p.name),
            outputs: index(&info.outputs, |p: &Port| &p.name),
            params: index(&info.params, |p: &ParamSpec| &p.name),
        }
    }

    pub fn input(&self, name: &str) -> Option<&'c Port> {
        self.inputs.get(name).map(|&i| &self.info.inputs[i])
    }

    pub fn output(&self, name: &str) -> Option<&'c Port> {
        self.outputs.get(name).map(|&i| &self.info.outputs[i])
    }

    fn param(&self, name: &str) -> Option<&'c ParamSpec> {
        self.params.get(name).map(|&i| &self.info.params[i])
    }
}

/// Validates `wf` against the components' declarations and the `--param` overrides.
pub fn validate(wf: &Workflow, catalog: &Catalog, overrides: &[(String, String)]) -> Result<Plan, Vec<Diagnostic>> {
    let mut v = Validator {
        diags: Vec::new(),
        held: 0,
        over_budget: false,
    };
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
    // Sorted once: messages about unknown steps list the first few.
    let mut sorted_ids: Vec<&str> = index.keys().copied().collect();
    sorted_ids.sort_unstable();
    let input_index: HashMap<&str, usize> = inputs.iter().enumerate().map(|(i, p)| (p.name.as_str(), i)).collect();

    // Each component is checked and indexed once, however many steps use it.
    let mut components: HashMap<&str, Result<Declared<'_>, String>> = HashMap::new();
    for step in &wf.steps {
        let uses = step.uses.value.as_str();
        if !uses.is_empty() && !components.contains_key(uses) {
            components.insert(uses, check_component(uses, catalog));
        }
    }
    let decls: Vec<Option<&Declared<'_>>> = wf.steps.iter().map(|s| v.component(s, &components)).collect();
    let infos: Vec<Option<&StepInfo>> = decls.iter().map(|d| d.map(|d| d.info)).collect();

    let mut types = crate::output_types::OutputTypes::new(wf, &decls, &inputs, &input_index, &index);
    let mut checked = Vec::with_capacity(wf.steps.len());
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); wf.steps.len()];
    for (i, step) in wf.steps.iter().enumerate() {
        let field = format!("steps.{}", step.id.value);
        let declared = decls[i].map_or(0, |d| copied_bytes(d.info));
        if !v.charge(declared, step.id.span, &field) {
            return Err(v.finish());
        }
        let mut ctx = Context {
            inputs: &inputs,
            input_index: &input_index,
            index: &index,
            sorted_ids: &sorted_ids,
            decls: &decls,
            types: &mut types,
        };
        let bindings = v.bindings(step, &field, decls[i], &mut ctx, &mut edges[i]);
        let mut after = Vec::new();
        for dep in &step.after {
            match index.get(dep.value.as_str()) {
                Some(&d) => after.push(d),
                None => v.push(
                    dep.span,
                    format!("{field}.after"),
                    unknown_step(&dep.value, &sorted_ids),
                ),
            }
        }
        edges[i].extend(&after);
        let condition = v.condition(step, &field, &params, &index, &sorted_ids, &mut edges[i]);
        let (Some(info), Some(decl)) = (infos[i], decls[i]) else {
            checked.push(None);
            continue;
        };
        let with_names: HashSet<&str> = step.with.iter().map(|(n, _)| n.value.as_str()).collect();
        let matrix = v.matrix(step, &field, decl, &with_names);
        let step_params = v.step_params(step, &field, decl, &params, &matrix, &with_names);
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

fn unknown_step(name: &str, sorted_ids: &[&str]) -> String {
    format!(
        "no step `{}` in this workflow; steps are: {}",
        clip(name, 64),
        listing(sorted_ids.iter().copied())
    )
}

fn no_such_param(info: &StepInfo, name: &str) -> String {
    format!(
        "`{}` has no parameter `{}`; its parameters are: {}",
        info.name,
        clip(name, 64),
        listing(info.params.iter().map(|p| p.name.as_str()))
    )
}

/// Looks a `uses:` text up in the catalog and checks the declaration found, once per text.
fn check_component<'c>(uses: &str, catalog: &'c Catalog) -> Result<Declared<'c>, String> {
    let reference = ComponentRef::parse(uses)?;
    match catalog.get(uses) {
        None => Err(format!("component `{uses}` was not resolved")),
        Some(Err(e)) => Err(e.clone()),
        Some(Ok(info)) => {
            let problems = info.problems();
            if !problems.is_empty() {
                let shown: Vec<&str> = problems.iter().take(MAX_LISTED).map(String::as_str).collect();
                let more = problems.len().saturating_sub(MAX_LISTED);
                return Err(format!(
                    "component `{uses}` declares itself wrongly: {}{}",
                    shown.join("; "),
                    if more > 0 {
                        format!("; and {more} more problems")
                    } else {
                        String::new()
                    }
                ));
            }
            if !reference.matches(&info.name, &info.version) {
                return Err(format!(
                    "`{uses}` resolved to a component that declares itself `{}@{}`",
                    info.name, info.version
                ));
            }
            Ok(Declared::new(info))
        }
    }
}

/// What binding checks look things up in.
struct Context<'a, 'c> {
    inputs: &'a [PlannedInput],
    input_index: &'a HashMap<&'a str, usize>,
    index: &'a HashMap<&'a str, usize>,
    sorted_ids: &'a [&'a str],
    decls: &'a [Option<&'c Declared<'c>>],
    types: &'a mut crate::output_types::OutputTypes<'c>,
}

struct Validator {
    diags: Vec<Diagnostic>,
    /// Bytes the checked steps hold (declarations, substituted values), against
    /// [`MAX_PLAN_BYTES`]: each step keeps its own copy of its component's parameters, so
    /// thousands of steps using one large declaration multiply it.
    held: usize,
    /// Whether the budget was exceeded (reported once).
    over_budget: bool,
}

impl Validator {
    fn push(&mut self, span: Span, field: impl Into<String>, message: impl Into<String>) {
        self.diags.push(Diagnostic::new(span, field, message));
    }

    /// Counts `bytes` against the budget of the checked steps; false (reported once, at
    /// `span`) when over it, and the caller stops building.
    fn charge(&mut self, bytes: usize, span: Span, field: &str) -> bool {
        self.held = self.held.saturating_add(bytes);
        if self.held > MAX_PLAN_BYTES && !self.over_budget {
            self.over_budget = true;
            self.push(
                span,
                field,
                format!(
                    "the steps up to here hold more than {} MiB of parameter values and output types (each step keeps its own copy); use fewer steps or shorter parameters",
                    MAX_PLAN_BYTES >> 20
                ),
            );
        }
        !self.over_budget
    }

    fn finish(mut self) -> Vec<Diagnostic> {
        self.diags.sort();
        self.diags.dedup();
        self.diags
    }

    fn workflow_params(&mut self, wf: &Workflow, overrides: &[(String, String)]) -> BTreeMap<String, ParamValue> {
        let mut out = BTreeMap::new();
        let declared: HashSet<&str> = wf.params.iter().map(|p| p.name.value.as_str()).collect();
        for (name, _) in overrides {
            if !declared.contains(name.as_str()) {
                self.push(
                    wf.name.span,
                    format!("--param {}", clip(name, 64)),
                    if wf.params.is_empty() {
                        "the workflow declares no params".to_string()
                    } else {
                        format!(
                            "unknown parameter; the workflow declares: {}",
                            listing(wf.params.iter().map(|p| p.name.value.as_str()))
                        )
                    },
                );
            }
        }
        // The last value given for each name wins.
        let last_given: HashMap<&str, &String> = overrides.iter().map(|(n, t)| (n.as_str(), t)).collect();
        for decl in &wf.params {
            let value = match last_given.get(decl.name.value.as_str()) {
                Some(text) => match decl.ty.parse_value(text) {
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

    fn component<'m, 'c>(
        &mut self,
        step: &StepDecl,
        components: &'m HashMap<&str, Result<Declared<'c>, String>>,
    ) -> Option<&'m Declared<'c>> {
        if step.uses.value.is_empty() {
            return None; // missing `uses`, reported while parsing
        }
        match components.get(step.uses.value.as_str())? {
            Ok(d) => Some(d),
            Err(e) => {
                self.push(step.uses.span, format!("steps.{}.uses", step.id.value), e.clone());
                None
            }
        }
    }

    fn bindings(
        &mut self,
        step: &StepDecl,
        field: &str,
        decl: Option<&Declared<'_>>,
        ctx: &mut Context<'_, '_>,
        edges: &mut Vec<usize>,
    ) -> Vec<CheckedBinding> {
        let mut out = Vec::new();
        let info = decl.map(|d| d.info);
        for PortBinding { port, sources, listed } in &step.inputs {
            let pfield = format!("{field}.inputs.{}", port.value);
            let declared = decl.and_then(|d| d.input(&port.value));
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
        if let Some(decl) = decl {
            let bound: HashSet<&str> = step.inputs.iter().map(|b| b.port.value.as_str()).collect();
            let unbound: Vec<&Port> = decl
                .info
                .inputs
                .iter()
                .filter(|p| !bound.contains(p.name.as_str()))
                .collect();
            for port in unbound.iter().take(MAX_LISTED) {
                self.push(
                    step.id.span,
                    format!("{field}.inputs"),
                    format!("input port `{}` ({}) is not bound", port.name, port.media_type),
                );
            }
            if unbound.len() > MAX_LISTED {
                self.push(
                    step.id.span,
                    format!("{field}.inputs"),
                    format!("and {} more input ports are not bound", unbound.len() - MAX_LISTED),
                );
            }
            // Keep the plan's bindings in the component's declaration order.
            out.sort_by_key(|b| decl.inputs.get(b.port.as_str()).copied());
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
                    clip(&reference.value, 64)
                ),
            );
            return None;
        };
        if head == "inputs" {
            return match ctx.input_index.get(tail) {
                Some(&i) => Some((
                    RawSource::Input(tail.to_string()),
                    Some(ctx.inputs[i].media_type.clone()),
                )),
                None => {
                    self.push(
                        reference.span,
                        pfield,
                        format!(
                            "no workflow input `{}`; inputs are: {}",
                            clip(tail, 64),
                            listing(ctx.inputs.iter().map(|i| i.name.as_str()))
                        ),
                    );
                    None
                }
            };
        }
        let Some(&producer) = ctx.index.get(head) else {
            self.push(reference.span, pfield, unknown_step(head, ctx.sorted_ids));
            return None;
        };
        edges.push(producer);
        let produced = match ctx.decls[producer] {
            Some(pdecl) => match pdecl.output(tail) {
                Some(out) => Some(ctx.types.of(producer, tail).unwrap_or_else(|| out.media_type.clone())),
                None => {
                    self.push(
                        reference.span,
                        pfield,
                        format!(
                            "step `{head}` (`{}`) has no output `{}`; its outputs are: {}",
                            pdecl.info.name,
                            clip(tail, 64),
                            listing(pdecl.info.outputs.iter().map(|p| p.name.as_str()))
                        ),
                    );
                    return None;
                }
            },
            None => None,
        };
        Some((RawSource::Step(producer, tail.to_string()), produced))
    }

    fn matrix(
        &mut self,
        step: &StepDecl,
        field: &str,
        decl: &Declared<'_>,
        with_names: &HashSet<&str>,
    ) -> Vec<(String, Vec<ParamValue>)> {
        let mut out = Vec::new();
        let mut combinations: usize = 1;
        for (name, values) in &step.matrix {
            let mfield = format!("{field}.matrix.{}", name.value);
            let Some(spec) = decl.param(&name.value) else {
                self.push(name.span, mfield, no_such_param(decl.info, &name.value));
                continue;
            };
            if with_names.contains(name.value.as_str()) {
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
                        format!(
                            "expected {}, found {} `{}`",
                            spec.ty,
                            v.value.ty(),
                            clip(&v.value.to_string(), 64)
                        ),
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
        sorted_ids: &[&str],
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
                None => self.push(when.span, &cfield, unknown_step(s, sorted_ids)),
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
        decl: &Declared<'_>,
        params: &BTreeMap<String, ParamValue>,
        matrix: &[(String, Vec<ParamValue>)],
        with_names: &HashSet<&str>,
    ) -> Vec<(String, ParamValue)> {
        let info = decl.info;
        let mut given: HashMap<&str, ParamValue> = HashMap::new();
        for (name, expr) in &step.with {
            let pfield = format!("{field}.with.{}", name.value);
            let Some(spec) = decl.param(&name.value) else {
                self.push(name.span, pfield, no_such_param(info, &name.value));
                continue;
            };
            let value = match &expr.value {
                ValueExpr::Literal(v) => v.clone(),
                ValueExpr::Template(t) => match crate::expr::substitute(t, params) {
                    Ok(v) if !self.charge(v.to_string().len(), expr.span, &pfield) => return Vec::new(),
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
                        "expected {}, found {} `{}`{}",
                        spec.ty,
                        value.ty(),
                        clip(&value.to_string(), 64),
                        if spec.ty == ParamType::Str {
                            " (quote it to pass text)"
                        } else {
                            ""
                        }
                    ),
                ),
            }
        }
        let swept: HashSet<&str> = matrix.iter().map(|(n, _)| n.as_str()).collect();
        let mut out = Vec::new();
        let mut missing = 0usize;
        for spec in &info.params {
            match given.remove(spec.name.as_str()).or_else(|| spec.default.clone()) {
                Some(v) => out.push((spec.name.clone(), v)),
                None => {
                    let name = spec.name.as_str();
                    if !swept.contains(name) && !with_names.contains(name) {
                        missing += 1;
                        if missing <= MAX_LISTED {
                            self.push(
                                step.id.span,
                                format!("{field}.with"),
                                format!("required parameter `{}` ({}) is not given", spec.name, spec.ty),
                            );
                        }
                    }
                }
            }
        }
        if missing > MAX_LISTED {
            self.push(
                step.id.span,
                format!("{field}.with"),
                format!("and {} more required parameters are not given", missing - MAX_LISTED),
            );
        }
        out
    }
}
