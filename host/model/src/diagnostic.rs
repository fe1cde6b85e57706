//! A validation problem: what is wrong, and where (YAML position and the field it concerns).

use crate::span::Span;
use std::fmt;

/// One problem found in a workflow.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    /// Where in the YAML text.
    pub span: Span,
    /// The field it concerns, as a dotted path: `steps.train.with.learning_rate`.
    pub field: String,
    /// What is wrong and, where possible, what to do.
    pub message: String,
}

impl Diagnostic {
    /// A problem at `span` concerning `field`.
    pub fn new(span: Span, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            span,
            field: field.into(),
            message: message.into(),
        }
    }

    /// The step this problem concerns, when it concerns one.
    pub fn step(&self) -> Option<&str> {
        let rest = self.field.strip_prefix("steps.")?;
        Some(rest.split('.').next().unwrap_or(rest))
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.span, self.message)
        } else {
            write!(f, "{}: {}: {}", self.span, self.field, self.message)
        }
    }
}

/// Every problem found, sorted by position.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Renders every problem, one per line, prefixed with `file`.
    pub fn render(&self, file: &str) -> String {
        let mut out = String::new();
        for d in &self.0 {
            out.push_str(file);
            out.push(':');
            out.push_str(&d.to_string());
            out.push('\n');
        }
        out
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}
