//! A strict YAML loader that keeps the position of every node.
//!
//! serde-based YAML crates stop at the first error and lose positions once a value is
//! deserialized; validation here must report every problem with its line and column, so
//! the workflow is first loaded into this small spanned tree from `yaml-rust2`'s event
//! parser. The loader is strict: aliases, tags, duplicate keys, non-scalar keys and
//! multiple documents are refused, and input size and nesting depth are capped so a
//! hostile file cannot exhaust memory or the stack.

use crate::span::{Span, Spanned};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Largest workflow file accepted, in bytes.
pub const MAX_YAML_BYTES: usize = 1024 * 1024;
/// Deepest nesting of mappings and sequences accepted.
pub const MAX_DEPTH: usize = 32;
/// Longest mapping key accepted, in bytes. Every key of a workflow is a keyword or an
/// identifier (at most 64 bytes); the cap keeps the field paths built from keys small.
pub const MAX_KEY_BYTES: usize = 256;

/// A YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the node holds.
    pub kind: NodeKind,
    /// Where the node starts.
    pub span: Span,
}

/// The three shapes of YAML data.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A scalar; `quoted` is true for quoted and block scalars, which are always strings.
    Scalar {
        /// The scalar's text.
        text: String,
        /// Whether the scalar was quoted (or a block scalar), so never a number, bool or null.
        quoted: bool,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping with string keys, in document order, keys unique.
    Map(Vec<(Spanned<String>, Node)>),
}

/// A typed reading of a scalar under the YAML 1.2 core schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    /// `null`, `~` or empty.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A decimal integer that fits in i64.
    Int(i64),
    /// A float (including `.inf`, `.nan`).
    Float(f64),
    /// Anything else, and every quoted scalar.
    Str(&'a str),
}

impl Node {
    /// Reads a scalar node under the YAML 1.2 core schema; `None` for collections.
    pub fn scalar(&self) -> Option<Scalar<'_>> {
        let NodeKind::Scalar { text, quoted } = &self.kind else {
            return None;
        };
        if *quoted {
            return Some(Scalar::Str(text));
        }
        Some(match text.as_str() {
            "" | "~" | "null" | "Null" | "NULL" => Scalar::Null,
            "true" | "True" | "TRUE" => Scalar::Bool(true),
            "false" | "False" | "FALSE" => Scalar::Bool(false),
            ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Scalar::Float(f64::INFINITY),
            "-.inf" | "-.Inf" | "-.INF" => Scalar::Float(f64::NEG_INFINITY),
            ".nan" | ".NaN" | ".NAN" => Scalar::Float(f64::NAN),
            t => {
                if let Ok(i) = t.parse::<i64>() {
                    Scalar::Int(i)
                } else if looks_like_float(t) {
                    t.parse::<f64>().map_or(Scalar::Str(t), Scalar::Float)
                } else {
                    Scalar::Str(t)
                }
            }
        })
    }

    /// A short name of the node's shape for error messages.
    pub fn shape(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar { .. } => match self.scalar() {
                Some(Scalar::Null) => "null",
                Some(Scalar::Bool(_)) => "a boolean",
                Some(Scalar::Int(_)) => "an integer",
                Some(Scalar::Float(_)) => "a number",
                _ => "a string",
            },
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

/// Core-schema float syntax: digits with a `.` and/or an exponent (Rust's parser alone
/// would also take `inf` and `NaN`, which YAML spells differently).
fn looks_like_float(t: &str) -> bool {
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    !body.is_empty()
        && body.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
}

/// A problem found while loading YAML.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadError {
    /// Where it is.
    pub span: Span,
    /// What is wrong.
    pub message: String,
}

fn span_of(m: &Marker) -> Span {
    // yaml-rust2 reports 1-based lines and 0-based columns.
    Span {
        line: m.line(),
        col: m.col() + 1,
    }
}

/// Loads one YAML document. Returns the root node, or every problem found (the scanner
/// stops at its first syntax error, but duplicate keys, aliases and tags are all collected).
pub fn load(text: &str) -> Result<Node, Vec<LoadError>> {
    if text.len() > MAX_YAML_BYTES {
        return Err(vec![LoadError {
            span: Span { line: 1, col: 1 },
            message: format!(
                "the file is {} bytes; workflows are limited to {MAX_YAML_BYTES} bytes",
                text.len()
            ),
        }]);
    }
    let mut loader = Loader {
        text,
        parser: Parser::new_from_str(text),
        errors: Vec::new(),
    };
    let root = loader.document();
    match root {
        Ok(node) if loader.errors.is_empty() => Ok(node),
        Ok(_) => Err(loader.errors),
        Err(fatal) => {
            loader.errors.push(fatal);
            Err(loader.errors)
        }
    }
}

struct Loader<'a> {
    text: &'a str,
    parser: Parser<std::str::Chars<'a>>,
    errors: Vec<LoadError>,
}

impl Loader<'_> {
    fn next(&mut self) -> Result<(Event, Span), LoadError> {
        match self.parser.next_token() {
            Ok((ev, mark)) => Ok((ev, span_of(&mark))),
            Err(e) => {
                let line = self.text.lines().nth(e.marker().line().saturating_sub(1)).unwrap_or("");
                // `{ x: ${{ params.y }} }` is the classic trap: braces end a flow mapping.
                let hint = if line.contains("${{") {
                    " (a value containing `${{ }}` must be quoted inside `{ ... }` or `[ ... ]`)"
                } else {
                    ""
                };
                Err(LoadError {
                    span: span_of(e.marker()),
                    message: format!("invalid YAML: {}{hint}", e.info()),
                })
            }
        }
    }

    fn document(&mut self) -> Result<Node, LoadError> {
        let mut root = None;
        loop {
            let (ev, span) = self.next()?;
            match ev {
                Event::StreamStart | Event::DocumentStart | Event::DocumentEnd | Event::Nothing => {}
                Event::StreamEnd => break,
                other => {
                    if root.is_some() {
                        return Err(LoadError {
                            span,
                            message: "a workflow file holds exactly one YAML document".into(),
                        });
                    }
                    root = Some(self.node(other, span, 0)?);
                }
            }
        }
        root.ok_or(LoadError {
            span: Span { line: 1, col: 1 },
            message: "the file is empty; a workflow needs at least `name` and `steps`".into(),
        })
    }

    fn node(&mut self, ev: Event, span: Span, depth: usize) -> Result<Node, LoadError> {
        if depth > MAX_DEPTH {
            return Err(LoadError {
                span,
                message: format!("nesting deeper than {MAX_DEPTH} levels"),
            });
        }
        match ev {
            Event::Alias(_) => {
                self.refuse(span, "YAML aliases (`*name`) are not allowed in workflows");
                Ok(null_at(span))
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.check_anchor_tag(span, anchor, tag.is_some());
                Ok(Node {
                    kind: NodeKind::Scalar {
                        text,
                        quoted: style != TScalarStyle::Plain,
                    },
                    span,
                })
            }
            Event::SequenceStart(anchor, tag) => {
                self.check_anchor_tag(span, anchor, tag.is_some());
                let mut items = Vec::new();
                loop {
                    let (ev, at) = self.next()?;
                    if ev == Event::SequenceEnd {
                        break;
                    }
                    items.push(self.node(ev, at, depth + 1)?);
                }
                Ok(Node {
                    kind: NodeKind::Seq(items),
                    span,
                })
            }
            Event::MappingStart(anchor, tag) => {
                self.check_anchor_tag(span, anchor, tag.is_some());
                let mut entries: Vec<(Spanned<String>, Node)> = Vec::new();
                // Key → its line, so finding duplicates stays linear in the number of keys.
                let mut seen: HashMap<String, usize> = HashMap::new();
                loop {
                    let (ev, key_span) = self.next()?;
                    if ev == Event::MappingEnd {
                        break;
                    }
                    let key = self.node(ev, key_span, depth + 1)?;
                    let (ev, value_span) = self.next()?;
                    let value = self.node(ev, value_span, depth + 1)?;
                    let NodeKind::Scalar { text, .. } = key.kind else {
                        self.refuse(key_span, "mapping keys must be plain strings");
                        continue;
                    };
                    if text.len() > MAX_KEY_BYTES {
                        let message = format!(
                            "a mapping key of {} bytes (`{}`); keys are at most {MAX_KEY_BYTES} bytes",
                            text.len(),
                            crate::diagnostic::clip(&text, 40)
                        );
                        self.refuse(key_span, &message);
                        continue;
                    }
                    if let Some(first_line) = seen.get(&text) {
                        let message = format!("duplicate key `{text}` (first defined at line {first_line})");
                        self.refuse(key_span, &message);
                        continue;
                    }
                    seen.insert(text.clone(), key_span.line);
                    entries.push((Spanned::new(text, key_span), value));
                }
                Ok(Node {
                    kind: NodeKind::Map(entries),
                    span,
                })
            }
            other => Err(LoadError {
                span,
                message: format!("unexpected YAML event {other:?}"),
            }),
        }
    }

    fn check_anchor_tag(&mut self, span: Span, anchor: usize, tagged: bool) {
        if anchor != 0 {
            self.refuse(span, "YAML anchors (`&name`) are not allowed in workflows");
        }
        if tagged {
            self.refuse(span, "YAML tags (`!tag`) are not allowed in workflows");
        }
    }

    fn refuse(&mut self, span: Span, message: &str) {
        self.errors.push(LoadError {
            span,
            message: message.to_string(),
        });
    }
}

fn null_at(span: Span) -> Node {
    Node {
        kind: NodeKind::Scalar {
            text: String::new(),
            quoted: false,
        },
        span,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_positions_and_order() {
        let root = load("name: x\nsteps:\n  b: 1\n  a: 'two'\n").expect("valid");
        let NodeKind::Map(entries) = &root.kind else {
            panic!("root is a map")
        };
        assert_eq!(entries[0].0.value, "name");
        assert_eq!(entries[1].0.span, Span { line: 2, col: 1 });
        let NodeKind::Map(steps) = &entries[1].1.kind else {
            panic!("steps is a map")
        };
        assert_eq!(steps[0].0.value, "b");
        assert_eq!(steps[1].1.span, Span { line: 4, col: 6 });
        assert_eq!(steps[1].1.scalar(), Some(Scalar::Str("two")));
        assert_eq!(steps[0].1.scalar(), Some(Scalar::Int(1)));
    }

    #[test]
    fn reports_every_duplicate_and_alias() {
        let errs = load("a: 1\na: 2\nb: &x 3\nc: *x\na: 4\n").expect_err("invalid");
        let messages: Vec<_> = errs.iter().map(|e| (e.span.line, e.message.as_str())).collect();
        assert_eq!(messages.len(), 4, "{messages:?}");
        assert!(messages[0].1.contains("duplicate key `a`"));
        assert!(messages[1].1.contains("anchors"));
        assert!(messages[2].1.contains("aliases"));
        assert_eq!(messages[3].0, 5);
    }

    #[test]
    fn caps_depth_and_size() {
        let deep = "a: ".to_string() + &"[".repeat(100) + &"]".repeat(100);
        assert!(load(&deep).expect_err("too deep")[0].message.contains("nesting"));
        let big = "#".repeat(MAX_YAML_BYTES + 1);
        assert!(load(&big).expect_err("too big")[0].message.contains("limited"));
        let long_key = format!("{}: 1\n", "k".repeat(MAX_KEY_BYTES + 1));
        let errs = load(&long_key).expect_err("long key");
        assert!(errs[0].message.contains("keys are at most 256 bytes"), "{errs:?}");
        assert!(errs[0].message.len() < 200);
    }

    #[test]
    fn core_schema_scalars() {
        let root = load("[1, -2.5, 1e3, true, ~, '1', inf, 0x10]").expect("valid");
        let NodeKind::Seq(items) = &root.kind else {
            panic!("seq")
        };
        let got: Vec<_> = items.iter().map(|n| n.scalar().expect("scalar")).collect();
        assert_eq!(
            got,
            vec![
                Scalar::Int(1),
                Scalar::Float(-2.5),
                Scalar::Float(1000.0),
                Scalar::Bool(true),
                Scalar::Null,
                Scalar::Str("1"),
                Scalar::Str("inf"),
                Scalar::Str("0x10"),
            ]
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let errs = load("a: [1, 2\nb: 3\n").expect_err("invalid");
        assert!(errs[0].message.starts_with("invalid YAML"));
        assert!(errs[0].span.line >= 1);
    }

    #[test]
    fn never_panics_on_garbage() {
        for text in [
            "",
            "\0",
            ":",
            "- - -",
            "{a: {b: [}",
            "? [a]\n: 1",
            "a: !!binary x",
            "---\n---\n",
        ] {
            let _ = load(text);
        }
    }
}
