//! What a step component declares about itself (the WIT `step-info`), mirrored in plain Rust
//! so validation can use it without knowing wasmtime.

use crate::diagnostic::listing;
use std::collections::{HashMap, HashSet};
use std::fmt;

/// User text in a message, shortened.
fn clip(text: &str) -> String {
    crate::diagnostic::clip(text, 64)
}

/// The type of a step parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ParamType {
    /// UTF-8 text.
    Str,
    /// Signed 64-bit integer.
    Int,
    /// 64-bit float.
    Float,
    /// Boolean.
    Bool,
}

impl ParamType {
    /// The name used in workflows and in `weft plugin inspect`.
    pub fn name(self) -> &'static str {
        match self {
            ParamType::Str => "string",
            ParamType::Int => "int",
            ParamType::Float => "float",
            ParamType::Bool => "bool",
        }
    }

    /// Parses a type name as written in a workflow's `params:` block.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "string" | "str" => ParamType::Str,
            "int" | "integer" => ParamType::Int,
            "float" | "number" => ParamType::Float,
            "bool" | "boolean" => ParamType::Bool,
            _ => return None,
        })
    }

    /// Parses a command-line value (`--param k=v`) as this type.
    pub fn parse_value(self, text: &str) -> Result<ParamValue, String> {
        match self {
            ParamType::Str => Ok(ParamValue::Str(text.to_string())),
            ParamType::Int => text
                .trim()
                .parse()
                .map(ParamValue::Int)
                .map_err(|_| format!("`{}` is not an integer", clip(text))),
            // Rust also reads `inf`, `NaN` and `1e400` (as infinity): values must be finite.
            ParamType::Float => match text.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(ParamValue::Float(x)),
                Ok(_) => Err(format!("`{}` is not a finite number", clip(text))),
                Err(_) => Err(format!("`{}` is not a number", clip(text))),
            },
            ParamType::Bool => match text.trim() {
                "true" => Ok(ParamValue::Bool(true)),
                "false" => Ok(ParamValue::Bool(false)),
                _ => Err(format!("`{}` is not `true` or `false`", clip(text))),
            },
        }
    }
}

impl fmt::Display for ParamType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A typed parameter value.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ParamValue {
    /// Text.
    Str(String),
    /// Integer.
    Int(i64),
    /// Float.
    Float(f64),
    /// Boolean.
    Bool(bool),
}

impl ParamValue {
    /// The type of this value.
    pub fn ty(&self) -> ParamType {
        match self {
            ParamValue::Str(_) => ParamType::Str,
            ParamValue::Int(_) => ParamType::Int,
            ParamValue::Float(_) => ParamType::Float,
            ParamValue::Bool(_) => ParamType::Bool,
        }
    }

    /// Converts to `ty` where that loses nothing (an integer widens to a float); `None` otherwise.
    pub fn coerce(self, ty: ParamType) -> Option<ParamValue> {
        match (self, ty) {
            (v, t) if v.ty() == t => Some(v),
            // Precision loss above 2^53 is accepted: YAML itself writes such floats as integers.
            #[allow(clippy::cast_precision_loss)]
            (ParamValue::Int(i), ParamType::Float) => Some(ParamValue::Float(i as f64)),
            _ => None,
        }
    }
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Str(s) => f.write_str(s),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// An input or output slot of a step.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Port {
    /// Name used in bindings.
    pub name: String,
    /// Media type; inputs may use `type/*` or `*/*`.
    pub media_type: String,
    /// For humans.
    pub description: String,
    /// Input ports only: takes any number of artifacts (fan-in).
    pub many: bool,
}

/// A parameter a step accepts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ParamSpec {
    /// Name used under `with:`.
    pub name: String,
    /// Declared type.
    pub ty: ParamType,
    /// Default; `None` makes the parameter required.
    pub default: Option<ParamValue>,
    /// For humans.
    pub description: String,
}

/// Everything a step component declares.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepInfo {
    /// Stable identifier.
    pub name: String,
    /// Semantic version.
    pub version: String,
    /// For humans.
    pub description: String,
    /// Ports read.
    pub inputs: Vec<Port>,
    /// Ports written.
    pub outputs: Vec<Port>,
    /// Parameters accepted.
    pub params: Vec<ParamSpec>,
}

impl StepInfo {
    /// Finds an input port by name.
    pub fn input(&self, name: &str) -> Option<&Port> {
        self.inputs.iter().find(|p| p.name == name)
    }

    /// Finds an output port by name.
    pub fn output(&self, name: &str) -> Option<&Port> {
        self.outputs.iter().find(|p| p.name == name)
    }

    /// Finds a parameter by name.
    pub fn param(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Every declared parameter's value from `NAME=VALUE` texts (as on a command line),
    /// defaults applied, in declaration order; or every problem found.
    pub fn params_from_text(&self, given: &[(String, String)]) -> Result<Vec<(String, ParamValue)>, Vec<String>> {
        let mut problems = Vec::new();
        let declared: HashSet<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
        for (name, _) in given {
            if !declared.contains(name.as_str()) {
                problems.push(format!(
                    "`{}` has no parameter `{}`; its parameters are: {}",
                    self.name,
                    clip(name),
                    listing(self.params.iter().map(|p| p.name.as_str()))
                ));
            }
        }
        // The last value given for each name (a later `-p` overrides an earlier one).
        let last_given: HashMap<&str, &String> = given.iter().map(|(n, v)| (n.as_str(), v)).collect();
        let mut out = Vec::new();
        for spec in &self.params {
            match last_given.get(spec.name.as_str()) {
                Some(text) => match spec.ty.parse_value(text) {
                    Ok(v) => out.push((spec.name.clone(), v)),
                    Err(e) => problems.push(format!("parameter `{}`: {e} (declared {})", spec.name, spec.ty)),
                },
                None => match &spec.default {
                    Some(d) => out.push((spec.name.clone(), d.clone())),
                    None => problems.push(format!("parameter `{}` ({}) is required", spec.name, spec.ty)),
                },
            }
        }
        if problems.is_empty() { Ok(out) } else { Err(problems) }
    }

    /// Checks that the declaration itself is well formed: valid, unique names, well-formed
    /// media types, defaults of the declared type. Returns one message per problem.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !is_identifier(&self.name) {
            out.push(format!("step name `{}` is not an identifier", self.name));
        }
        if self.version.split('.').count() != 3 || !self.version.split('.').all(|p| p.parse::<u64>().is_ok()) {
            out.push(format!("version `{}` is not MAJOR.MINOR.PATCH", self.version));
        }
        // Sets, not scans of the earlier entries: a component may declare tens of thousands
        // of ports, and this runs for every component a workflow uses.
        let any_input = self.inputs.iter().any(|p| p.media_type == crate::media_type::ANY);
        for (kind, ports, wildcard_ok) in [("input", &self.inputs, true), ("output", &self.outputs, false)] {
            let mut seen = HashSet::new();
            for port in ports {
                if !is_identifier(&port.name) {
                    out.push(format!("{kind} port name `{}` is not an identifier", clip(&port.name)));
                }
                if !seen.insert(port.name.as_str()) {
                    out.push(format!("{kind} port `{}` is declared twice", port.name));
                }
                if port.many && !wildcard_ok {
                    out.push(format!(
                        "output port `{}` is declared `many`; only inputs can be",
                        port.name
                    ));
                }
                // `*/*` on an output means "passes on what it was given" (see `passes_through`).
                let pass_through = !wildcard_ok && port.media_type == crate::media_type::ANY;
                if pass_through && !any_input {
                    out.push(format!(
                        "output port `{}` is `*/*` (pass-through) but no input is `*/*` to take its type from",
                        port.name
                    ));
                }
                if !pass_through && !crate::media_type::is_well_formed(&port.media_type, wildcard_ok) {
                    out.push(format!(
                        "{kind} port `{}` has media type `{}`, which is not `type/subtype`{}",
                        port.name,
                        port.media_type,
                        if wildcard_ok {
                            ""
                        } else {
                            " (outputs take no wildcards but `*/*`)"
                        }
                    ));
                }
            }
        }
        let mut seen = HashSet::new();
        for param in &self.params {
            if !is_identifier(&param.name) {
                out.push(format!("parameter name `{}` is not an identifier", clip(&param.name)));
            }
            if !seen.insert(param.name.as_str()) {
                out.push(format!("parameter `{}` is declared twice", param.name));
            }
            if let Some(d) = &param.default
                && d.ty() != param.ty
            {
                out.push(format!(
                    "parameter `{}` is declared {} but its default is {}",
                    param.name,
                    param.ty,
                    d.ty()
                ));
            }
        }
        out
    }
}

/// Identifiers (step ids, port and parameter names): a lowercase letter, then lowercase
/// letters, digits, `-` or `_`, at most 64 characters.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && s.len() <= 64
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-' | '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(is_identifier("load-csv_2"));
        assert!(!is_identifier("Load"));
        assert!(!is_identifier("2x"));
        assert!(!is_identifier(""));
        assert!(!is_identifier("a.b"));
    }

    #[test]
    fn coercion_only_widens() {
        assert_eq!(
            ParamValue::Int(2).coerce(ParamType::Float),
            Some(ParamValue::Float(2.0))
        );
        assert_eq!(ParamValue::Float(2.0).coerce(ParamType::Int), None);
        assert_eq!(ParamValue::Str("1".into()).coerce(ParamType::Int), None);
    }

    #[test]
    fn params_from_text_applies_defaults_and_checks_types() {
        let info = StepInfo {
            name: "s".into(),
            version: "0.1.0".into(),
            description: String::new(),
            inputs: vec![],
            outputs: vec![],
            params: vec![
                ParamSpec {
                    name: "rate".into(),
                    ty: ParamType::Float,
                    default: Some(ParamValue::Float(0.5)),
                    description: String::new(),
                },
                ParamSpec {
                    name: "n".into(),
                    ty: ParamType::Int,
                    default: None,
                    description: String::new(),
                },
            ],
        };
        let ok = info.params_from_text(&[("n".into(), "3".into())]).expect("valid");
        assert_eq!(
            ok,
            vec![
                ("rate".into(), ParamValue::Float(0.5)),
                ("n".into(), ParamValue::Int(3))
            ]
        );
        let errs = info
            .params_from_text(&[("rate".into(), "fast".into()), ("x".into(), "1".into())])
            .expect_err("invalid");
        assert_eq!(errs.len(), 3, "{errs:?}");
    }

    #[test]
    fn problems_in_a_declaration() {
        let info = StepInfo {
            name: "Bad".into(),
            version: "1.0".into(),
            description: String::new(),
            inputs: vec![Port {
                name: "a".into(),
                media_type: "text/*".into(),
                description: String::new(),
                many: false,
            }],
            outputs: vec![Port {
                name: "a".into(),
                media_type: "text/*".into(),
                description: String::new(),
                many: false,
            }],
            params: vec![ParamSpec {
                name: "k".into(),
                ty: ParamType::Int,
                default: Some(ParamValue::Str("x".into())),
                description: String::new(),
            }],
        };
        let p = info.problems();
        assert_eq!(p.len(), 4, "{p:?}");
    }
}
