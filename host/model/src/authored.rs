//! The workflow as the user wrote it: the first typed stage after YAML, every value spanned.
//!
//! Parsing here checks shape only (known keys, right kinds of values); references between
//! steps and against components are checked by `validate`.

use crate::diagnostic::Diagnostic;
use crate::policy::{Retry, parse_retry};
use crate::quantity::{check_memory_limit, nonzero, parse_memory_limit, parse_timeout};
use crate::span::{Span, Spanned};
use crate::step_info::{ParamType, ParamValue, is_identifier};
use crate::yaml::{Node, NodeKind, Scalar};
use std::time::Duration;

/// A workflow file.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    /// Workflow name (an identifier).
    pub name: Spanned<String>,
    /// Free text.
    pub description: String,
    /// Workflow parameters, in file order.
    pub params: Vec<ParamDecl>,
    /// Files fed to the workflow, in file order.
    pub inputs: Vec<InputDecl>,
    /// Steps, in file order.
    pub steps: Vec<StepDecl>,
    /// Longest the whole run may take.
    pub timeout: Option<Spanned<Duration>>,
}

/// A workflow parameter: `params: {name: {type, default, description}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDecl {
    /// Parameter name.
    pub name: Spanned<String>,
    /// Declared type.
    pub ty: ParamType,
    /// Default value (already of `ty`); `None` means it must be given with `--param`.
    pub default: Option<ParamValue>,
    /// Free text.
    pub description: String,
}

/// A workflow input: `inputs: {name: {path, media_type}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct InputDecl {
    /// Input name, referred to as `inputs.NAME`.
    pub name: Spanned<String>,
    /// Path relative to the workflow file.
    pub path: Spanned<String>,
    /// Media type given, if any.
    pub media_type: Option<Spanned<String>>,
}

/// A step of the workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct StepDecl {
    /// Step id (the key under `steps:`).
    pub id: Spanned<String>,
    /// The component: `name`, `name@version`, or a path ending in `.wasm`.
    pub uses: Spanned<String>,
    /// Input port bindings.
    pub inputs: Vec<PortBinding>,
    /// Parameter name → value as written.
    pub with: Vec<(Spanned<String>, Spanned<ValueExpr>)>,
    /// Parameter name → the values to sweep: the step runs once per combination.
    pub matrix: Vec<(Spanned<String>, Vec<Spanned<ParamValue>>)>,
    /// Most instances of this step running at once (for `matrix` steps).
    pub concurrency: Option<Spanned<u64>>,
    /// Run only if this condition holds, else skip (with the steps that need this one).
    pub when: Option<Spanned<String>>,
    /// Steps that must finish first although no artifact flows between them.
    pub after: Vec<Spanned<String>>,
    /// Resource limits.
    pub limits: LimitsDecl,
    /// Retries on retryable failures (`retry:`).
    pub retry: Option<Spanned<Retry>>,
    /// `cache: false` keeps the step out of the cache.
    pub cache: Option<Spanned<bool>>,
    /// The label a worker must carry to execute this step (`runs-on: gpu`).
    pub runs_on: Option<Spanned<String>>,
}

/// One input port's binding as written: `port: source` or `port: [source, ...]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PortBinding {
    /// The consuming step's input port.
    pub port: Spanned<String>,
    /// Source references (`inputs.NAME` or `STEP.PORT`).
    pub sources: Vec<Spanned<String>>,
    /// Whether the sources were written as a YAML list (only fan-in ports take lists).
    pub listed: bool,
}

/// A parameter value as written under `with:`.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueExpr {
    /// A literal scalar, typed by the YAML core schema.
    Literal(ParamValue),
    /// A string containing `${{ ... }}` placeholders, substituted during validation.
    Template(String),
}

/// Limits a step runs under; unset fields take the host's defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LimitsDecl {
    /// Linear-memory cap in bytes.
    pub memory: Option<Spanned<u64>>,
    /// Wall-clock timeout.
    pub timeout: Option<Spanned<Duration>>,
    /// CPU budget in wasmtime fuel units.
    pub fuel: Option<Spanned<u64>>,
}

/// Reads the keys of one mapping, reporting unknown ones and wrong shapes.
pub(crate) struct MapReader<'a> {
    entries: &'a [(Spanned<String>, Node)],
    field: String,
}

impl<'a> MapReader<'a> {
    pub(crate) fn new(node: &'a Node, field: &str, diags: &mut Vec<Diagnostic>) -> Option<Self> {
        match &node.kind {
            NodeKind::Map(entries) => Some(Self {
                entries,
                field: field.to_string(),
            }),
            _ => {
                diags.push(Diagnostic::new(
                    node.span,
                    field,
                    format!("expected a mapping, found {}", node.shape()),
                ));
                None
            }
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Node> {
        self.entries.iter().find(|(k, _)| k.value == key).map(|(_, v)| v)
    }

    pub(crate) fn check_keys(&self, allowed: &[&str], diags: &mut Vec<Diagnostic>) {
        for (k, _) in self.entries {
            if !allowed.contains(&k.value.as_str()) {
                let message = match closest(&k.value, allowed) {
                    Some(near) => format!("unknown key `{}`; did you mean `{near}`?", k.value),
                    None => format!("unknown key `{}`; expected one of: {}", k.value, allowed.join(", ")),
                };
                diags.push(Diagnostic::new(k.span, self.sub(&k.value), message));
            }
        }
    }

    pub(crate) fn sub(&self, key: &str) -> String {
        if self.field.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.field)
        }
    }

    fn string(&self, key: &str, required: bool, span: Span, diags: &mut Vec<Diagnostic>) -> Option<Spanned<String>> {
        match self.get(key) {
            Some(node) => string_of(node, &self.sub(key), diags),
            None => {
                if required {
                    diags.push(Diagnostic::new(
                        span,
                        self.field.clone(),
                        format!("missing required key `{key}`"),
                    ));
                }
                None
            }
        }
    }
}

/// The allowed key within two edits of `key`, for "did you mean" hints.
fn closest<'k>(key: &str, allowed: &[&'k str]) -> Option<&'k str> {
    allowed
        .iter()
        .map(|a| (edit_distance(key, a), *a))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb { prev } else { 1 + prev.min(row[j]).min(cur) };
            prev = cur;
        }
    }
    row[b.len()]
}

fn string_of(node: &Node, field: &str, diags: &mut Vec<Diagnostic>) -> Option<Spanned<String>> {
    match node.scalar() {
        Some(Scalar::Str(s)) => Some(Spanned::new(s.to_string(), node.span)),
        _ => {
            diags.push(Diagnostic::new(
                node.span,
                field,
                format!("expected a string, found {}", node.shape()),
            ));
            None
        }
    }
}

fn identifier(key: &Spanned<String>, what: &str, field: &str, diags: &mut Vec<Diagnostic>) {
    if !is_identifier(&key.value) {
        diags.push(Diagnostic::new(
            key.span,
            field,
            format!(
                "{what} `{}` is not valid: use a lowercase letter followed by lowercase letters, digits, `-` or `_` (at most 64)",
                key.value
            ),
        ));
    }
}

/// Most instances of one step running at once; more than the largest plan has steps
/// (`validate::MAX_PLANNED_STEPS`) would mean nothing.
pub const MAX_CONCURRENCY: i64 = 10_000;

/// Longest worker label `runs-on:` may name.
pub const MAX_LABEL: usize = 63;

/// Why a scalar cannot be a parameter value although it reads as a number: YAML reads
/// `1e400` as infinity and `.nan` as not-a-number, which no step, record or comparison
/// handles sensibly. `None` for every other node.
pub(crate) fn non_finite(node: &Node) -> Option<String> {
    let Some(Scalar::Float(f)) = node.scalar() else {
        return None;
    };
    if f.is_finite() {
        return None;
    }
    let NodeKind::Scalar { text, .. } = &node.kind else {
        return None;
    };
    let shown = crate::diagnostic::clip(text, 40);
    Some(if text.trim_start_matches(['-', '+']).starts_with('.') {
        format!("`{shown}` is not a finite number; values must be finite")
    } else {
        format!("`{shown}` is out of range for a 64-bit float (it would read as infinity)")
    })
}

/// Reads a scalar as a parameter value under the YAML core schema.
pub(crate) fn literal(node: &Node) -> Option<ParamValue> {
    match node.scalar()? {
        Scalar::Null => None,
        Scalar::Bool(b) => Some(ParamValue::Bool(b)),
        Scalar::Int(i) => Some(ParamValue::Int(i)),
        Scalar::Float(f) => Some(ParamValue::Float(f)),
        Scalar::Str(s) => Some(ParamValue::Str(s.to_string())),
    }
}

impl Workflow {
    /// Builds the authored workflow from a loaded YAML tree, collecting every shape problem.
    /// The workflow is returned alongside its problems (with the faulty parts left out or
    /// empty) so that validation can report reference problems in the same pass; only a
    /// root that is not a mapping gives nothing to go on.
    pub fn from_node(root: &Node) -> Result<(Workflow, Vec<Diagnostic>), Vec<Diagnostic>> {
        let mut diags = Vec::new();
        let Some(top) = MapReader::new(root, "", &mut diags) else {
            return Err(diags);
        };
        top.check_keys(
            &["name", "description", "params", "inputs", "steps", "timeout"],
            &mut diags,
        );
        let name = top.string("name", true, root.span, &mut diags);
        if let Some(n) = &name {
            identifier(n, "workflow name", "name", &mut diags);
        }
        let description = top
            .string("description", false, root.span, &mut diags)
            .map(|s| s.value)
            .unwrap_or_default();
        let params = top
            .get("params")
            .map(|n| parse_params(n, &mut diags))
            .unwrap_or_default();
        let inputs = top
            .get("inputs")
            .map(|n| parse_inputs(n, &mut diags))
            .unwrap_or_default();
        let steps = match top.get("steps") {
            Some(n) => parse_steps(n, &mut diags),
            None => {
                diags.push(Diagnostic::new(root.span, "", "missing required key `steps`"));
                Vec::new()
            }
        };
        let timeout = top
            .get("timeout")
            .and_then(|n| match crate::policy::duration(n).and_then(nonzero) {
                Ok(d) => Some(Spanned::new(d, n.span)),
                Err(e) => {
                    diags.push(Diagnostic::new(n.span, "timeout", e));
                    None
                }
            });
        let workflow = Workflow {
            name: name.unwrap_or_else(|| Spanned::new(String::new(), root.span)),
            description,
            params,
            inputs,
            steps,
            timeout,
        };
        Ok((workflow, diags))
    }
}

fn parse_params(node: &Node, diags: &mut Vec<Diagnostic>) -> Vec<ParamDecl> {
    let Some(map) = MapReader::new(node, "params", diags) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in map.entries {
        let field = map.sub(&key.value);
        identifier(key, "parameter name", &field, diags);
        let Some(decl) = MapReader::new(value, &field, diags) else {
            continue;
        };
        decl.check_keys(&["type", "default", "description"], diags);
        let description = decl
            .string("description", false, value.span, diags)
            .map(|s| s.value)
            .unwrap_or_default();
        let Some(ty_text) = decl.string("type", true, value.span, diags) else {
            continue;
        };
        let Some(ty) = ParamType::parse(&ty_text.value) else {
            diags.push(Diagnostic::new(
                ty_text.span,
                decl.sub("type"),
                format!("unknown type `{}`; expected string, int, float or bool", ty_text.value),
            ));
            continue;
        };
        if let Some(d) = decl.get("default")
            && let Some(problem) = non_finite(d)
        {
            diags.push(Diagnostic::new(d.span, decl.sub("default"), problem));
            continue;
        }
        let default = match decl.get("default") {
            None => None,
            Some(d) => match literal(d).and_then(|v| v.coerce(ty)) {
                Some(v) => Some(v),
                None => {
                    diags.push(Diagnostic::new(
                        d.span,
                        decl.sub("default"),
                        format!("default must be {ty}, found {}", d.shape()),
                    ));
                    continue;
                }
            },
        };
        out.push(ParamDecl {
            name: key.clone(),
            ty,
            default,
            description,
        });
    }
    out
}

fn parse_inputs(node: &Node, diags: &mut Vec<Diagnostic>) -> Vec<InputDecl> {
    let Some(map) = MapReader::new(node, "inputs", diags) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in map.entries {
        let field = map.sub(&key.value);
        identifier(key, "input name", &field, diags);
        let Some(decl) = MapReader::new(value, &field, diags) else {
            continue;
        };
        decl.check_keys(&["path", "media_type"], diags);
        let path = decl.string("path", true, value.span, diags);
        let media_type = decl.string("media_type", false, value.span, diags);
        if let Some(mt) = &media_type
            && !crate::media_type::is_well_formed(&mt.value, false)
        {
            diags.push(Diagnostic::new(
                mt.span,
                decl.sub("media_type"),
                format!("`{}` is not a media type like `text/csv`", mt.value),
            ));
        }
        if let Some(path) = path {
            out.push(InputDecl {
                name: key.clone(),
                path,
                media_type,
            });
        }
    }
    out
}

fn parse_steps(node: &Node, diags: &mut Vec<Diagnostic>) -> Vec<StepDecl> {
    let Some(map) = MapReader::new(node, "steps", diags) else {
        return Vec::new();
    };
    if map.entries.is_empty() {
        diags.push(Diagnostic::new(
            node.span,
            "steps",
            "a workflow needs at least one step",
        ));
    }
    map.entries
        .iter()
        .filter_map(|(id, body)| parse_step(id, body, &map.sub(&id.value), diags))
        .collect()
}

fn parse_step(id: &Spanned<String>, body: &Node, field: &str, diags: &mut Vec<Diagnostic>) -> Option<StepDecl> {
    identifier(id, "step id", field, diags);
    let step = MapReader::new(body, field, diags)?;
    step.check_keys(
        &[
            "uses",
            "inputs",
            "with",
            "matrix",
            "concurrency",
            "when",
            "after",
            "limits",
            "retry",
            "cache",
            "runs-on",
        ],
        diags,
    );
    let uses = step.string("uses", true, body.span, diags);

    let mut inputs = Vec::new();
    if let Some(node) = step.get("inputs")
        && let Some(map) = MapReader::new(node, &step.sub("inputs"), diags)
    {
        for (port, source) in map.entries {
            let field = map.sub(&port.value);
            let (sources, listed): (Vec<Spanned<String>>, bool) = match &source.kind {
                NodeKind::Seq(items) => (items.iter().filter_map(|i| string_of(i, &field, diags)).collect(), true),
                _ => (string_of(source, &field, diags).into_iter().collect(), false),
            };
            if listed && sources.is_empty() {
                diags.push(Diagnostic::new(source.span, field, "an empty list binds nothing"));
            }
            inputs.push(PortBinding {
                port: port.clone(),
                sources,
                listed,
            });
        }
    }

    let mut with = Vec::new();
    if let Some(node) = step.get("with")
        && let Some(map) = MapReader::new(node, &step.sub("with"), diags)
    {
        for (name, value) in map.entries {
            if let Some(problem) = non_finite(value) {
                diags.push(Diagnostic::new(value.span, map.sub(&name.value), problem));
                continue;
            }
            let expr = match literal(value) {
                Some(ParamValue::Str(s)) if s.contains("${{") => ValueExpr::Template(s),
                Some(v) => ValueExpr::Literal(v),
                None => {
                    diags.push(Diagnostic::new(
                        value.span,
                        map.sub(&name.value),
                        format!("expected a string, number or boolean, found {}", value.shape()),
                    ));
                    continue;
                }
            };
            with.push((name.clone(), Spanned::new(expr, value.span)));
        }
    }

    let mut after = Vec::new();
    if let Some(node) = step.get("after") {
        match &node.kind {
            NodeKind::Seq(items) => {
                for item in items {
                    if let Some(s) = string_of(item, &step.sub("after"), diags) {
                        after.push(s);
                    }
                }
            }
            _ => diags.push(Diagnostic::new(
                node.span,
                step.sub("after"),
                format!("expected a list of step ids, found {}", node.shape()),
            )),
        }
    }

    let mut matrix = Vec::new();
    if let Some(node) = step.get("matrix")
        && let Some(map) = MapReader::new(node, &step.sub("matrix"), diags)
    {
        for (name, values) in map.entries {
            let field = map.sub(&name.value);
            let NodeKind::Seq(items) = &values.kind else {
                diags.push(Diagnostic::new(
                    values.span,
                    field,
                    format!("expected a list of values to sweep, found {}", values.shape()),
                ));
                continue;
            };
            if items.is_empty() {
                diags.push(Diagnostic::new(values.span, field, "a matrix needs at least one value"));
                continue;
            }
            let mut list = Vec::new();
            for item in items {
                if let Some(problem) = non_finite(item) {
                    diags.push(Diagnostic::new(item.span, field.clone(), problem));
                    continue;
                }
                match literal(item) {
                    Some(v) => list.push(Spanned::new(v, item.span)),
                    None => diags.push(Diagnostic::new(
                        item.span,
                        field.clone(),
                        format!("expected a string, number or boolean, found {}", item.shape()),
                    )),
                }
            }
            matrix.push((name.clone(), list));
        }
        if map.entries.is_empty() {
            diags.push(Diagnostic::new(
                node.span,
                step.sub("matrix"),
                "an empty matrix sweeps nothing",
            ));
        }
    }

    let concurrency = step.get("concurrency").and_then(|n| match n.scalar() {
        Some(Scalar::Int(i)) if (1..=MAX_CONCURRENCY).contains(&i) => {
            u64::try_from(i).ok().map(|c| Spanned::new(c, n.span))
        }
        _ => {
            diags.push(Diagnostic::new(
                n.span,
                step.sub("concurrency"),
                match n.scalar() {
                    Some(Scalar::Int(i)) if i > 0 => format!("at most {MAX_CONCURRENCY}, found {i}"),
                    Some(Scalar::Int(i)) => format!("expected a positive integer, found {i}"),
                    _ => format!("expected a positive integer, found {}", n.shape()),
                },
            ));
            None
        }
    });
    let when = step.string("when", false, body.span, diags);
    let runs_on = step.string("runs-on", false, body.span, diags).filter(|label| {
        let plain = label.value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        let fits = (1..=MAX_LABEL).contains(&label.value.len());
        if !(plain && fits) {
            diags.push(Diagnostic::new(
                label.span,
                step.sub("runs-on"),
                format!(
                    "a worker label is 1 to {MAX_LABEL} letters, digits and `-`, found `{}`",
                    label.value
                ),
            ));
        }
        plain && fits
    });

    let limits = step
        .get("limits")
        .map(|n| parse_limits(n, &step.sub("limits"), diags))
        .unwrap_or_default();
    let retry = step
        .get("retry")
        .and_then(|n| parse_retry(n, &step.sub("retry"), diags));
    let cache = step.get("cache").and_then(|n| match n.scalar() {
        Some(Scalar::Bool(b)) => Some(Spanned::new(b, n.span)),
        _ => {
            diags.push(Diagnostic::new(
                n.span,
                step.sub("cache"),
                format!("expected true or false, found {}", n.shape()),
            ));
            None
        }
    });
    Some(StepDecl {
        id: id.clone(),
        // An empty `uses` (already reported) keeps the step so references to it resolve.
        uses: uses.unwrap_or_else(|| Spanned::new(String::new(), body.span)),
        inputs,
        with,
        matrix,
        concurrency,
        when,
        after,
        limits,
        retry,
        cache,
        runs_on,
    })
}

fn parse_limits(node: &Node, field: &str, diags: &mut Vec<Diagnostic>) -> LimitsDecl {
    let Some(map) = MapReader::new(node, field, diags) else {
        return LimitsDecl::default();
    };
    map.check_keys(&["memory", "timeout", "fuel"], diags);
    let mut limits = LimitsDecl::default();
    let mut report = |n: &Node, key: &str, msg: String| diags.push(Diagnostic::new(n.span, map.sub(key), msg));
    if let Some(n) = map.get("memory") {
        let parsed = match n.scalar() {
            Some(Scalar::Int(i)) => u64::try_from(i)
                .map_err(|_| "memory must be positive".to_string())
                .and_then(check_memory_limit),
            Some(Scalar::Str(s)) => parse_memory_limit(s),
            _ => Err(format!("expected a size like `256Mi`, found {}", n.shape())),
        };
        match parsed {
            Ok(b) => limits.memory = Some(Spanned::new(b, n.span)),
            Err(e) => report(n, "memory", e),
        }
    }
    if let Some(n) = map.get("timeout") {
        match n.scalar() {
            Some(Scalar::Str(s)) => match parse_timeout(s) {
                Ok(d) => limits.timeout = Some(Spanned::new(d, n.span)),
                Err(e) => report(n, "timeout", e),
            },
            _ => report(
                n,
                "timeout",
                format!("expected a duration like `30s`, found {}", n.shape()),
            ),
        }
    }
    if let Some(n) = map.get("fuel") {
        let fuel = match n.scalar() {
            Some(Scalar::Int(i)) if i > 0 => u64::try_from(i).ok(),
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Some(Scalar::Float(f)) if (1.0..1.8e19).contains(&f) && f.fract() == 0.0 => Some(f as u64),
            _ => None,
        };
        match fuel {
            Some(f) => limits.fuel = Some(Spanned::new(f, n.span)),
            None => report(
                n,
                "fuel",
                non_finite(n).unwrap_or_else(|| {
                    format!(
                        "expected a positive whole number below 1.8e19 like 5e9, found {}",
                        n.shape()
                    )
                }),
            ),
        }
    }
    limits
}
