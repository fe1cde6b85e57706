//! A validation problem: what is wrong, and where (YAML position and the field it concerns).

use crate::span::Span;
use std::fmt;

/// Most problems printed; the rest are counted in one closing line. A broken 1 MiB file can
/// hold a hundred thousand problems, and nobody reads past the first screens.
pub const MAX_SHOWN: usize = 100;
/// Longest message kept, in bytes: user text quoted in a message is clipped to this.
pub const MAX_MESSAGE_BYTES: usize = 1000;
/// Longest field path kept, in bytes.
pub const MAX_FIELD_BYTES: usize = 200;
/// Most names listed in a message ("its inputs are: a, b, c, ... and 7 more").
pub const MAX_LISTED: usize = 10;

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
    /// Field and message are clipped to [`MAX_FIELD_BYTES`] and [`MAX_MESSAGE_BYTES`], and
    /// control and bidi characters in them (from quoted workflow text) are escaped, so a
    /// problem is always one line that no input can break, recolour or reorder.
    pub fn new(span: Span, field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut field = escape(field.into());
        let mut message = escape(message.into());
        shorten(&mut field, MAX_FIELD_BYTES);
        shorten(&mut message, MAX_MESSAGE_BYTES);
        Self { span, field, message }
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
    /// Renders the first [`MAX_SHOWN`] problems, one per line, prefixed with `file`, then
    /// one line counting the rest.
    pub fn render(&self, file: &str) -> String {
        let mut out = String::new();
        for d in self.0.iter().take(MAX_SHOWN) {
            out.push_str(file);
            out.push(':');
            out.push_str(&d.to_string());
            out.push('\n');
        }
        if let Some(more) = self.more() {
            out.push_str(file);
            out.push_str(": ");
            out.push_str(&more);
            out.push('\n');
        }
        out
    }

    /// "N more problems not shown", when there are more than [`MAX_SHOWN`].
    fn more(&self) -> Option<String> {
        let hidden = self.0.len().checked_sub(MAX_SHOWN).filter(|&n| n > 0)?;
        Some(format!(
            "{hidden} more problem{} not shown",
            if hidden == 1 { "" } else { "s" }
        ))
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in self.0.iter().take(MAX_SHOWN) {
            writeln!(f, "{d}")?;
        }
        if let Some(more) = self.more() {
            writeln!(f, "{more}")?;
        }
        Ok(())
    }
}

/// `s` with control characters (newlines, escapes, NUL, ...) and bidi overrides written as
/// Rust escapes (`\n`, `\u{202e}`).
fn escape(s: String) -> String {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.contains(unsafe_char) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Cuts `s` to at most `max` bytes (on a character boundary), saying how much was cut.
fn shorten(s: &mut String, max: usize) {
    if s.len() > max {
        let cut = floor_char_boundary(s, max.saturating_sub(30));
        let dropped = s.len() - cut;
        s.truncate(cut);
        s.push_str(&format!("... ({dropped} more bytes)"));
    }
}

fn floor_char_boundary(s: &str, mut at: usize) -> usize {
    at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// User text to quote in a message: at most `max` bytes, with `...` when cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        text.to_string()
    } else {
        format!("{}...", &text[..floor_char_boundary(text, max)])
    }
}

/// Names for a message: all of them when few, else the first [`MAX_LISTED`] and a count;
/// `(none)` when there are none. Takes only what it prints from `names`, so listing the
/// steps of a big workflow in every message stays cheap.
pub fn listing<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> String {
    let total = names.len();
    if total == 0 {
        return "(none)".to_string();
    }
    let shown: Vec<String> = names.take(MAX_LISTED).map(|n| clip(n, 64)).collect();
    let mut out = shown.join(", ");
    if total > MAX_LISTED {
        out.push_str(&format!(" and {} more", total - MAX_LISTED));
    }
    out
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_and_fields_are_clipped() {
        let d = Diagnostic::new(Span { line: 1, col: 1 }, "f".repeat(10_000), "é".repeat(10_000));
        assert!(d.field.len() <= MAX_FIELD_BYTES + 30, "{}", d.field.len());
        assert!(d.message.len() <= MAX_MESSAGE_BYTES + 30);
        assert!(d.message.ends_with("more bytes)"));
    }

    #[test]
    fn quoted_text_cannot_break_or_recolour_a_line() {
        let d = Diagnostic::new(Span { line: 1, col: 1 }, "steps.a\nb", "`x\r\n\u{1b}[2J\u{202e}y`");
        assert_eq!(d.to_string(), "1:1: steps.a\\nb: `x\\r\\n\\u{1b}[2J\\u{202e}y`");
    }

    #[test]
    fn rendering_stops_after_the_first_hundred() {
        let one = Diagnostic::new(Span { line: 1, col: 1 }, "x", "bad");
        let all = Diagnostics(vec![one; MAX_SHOWN + 5]);
        let text = all.render("w.yaml");
        assert_eq!(text.lines().count(), MAX_SHOWN + 1);
        assert!(text.ends_with("w.yaml: 5 more problems not shown\n"), "{text}");
        assert_eq!(all.to_string().lines().count(), MAX_SHOWN + 1);
    }

    #[test]
    fn listings_name_a_few_then_count() {
        assert_eq!(listing(["a", "b"].into_iter()), "a, b");
        assert_eq!(listing(std::iter::empty()), "(none)");
        let many: Vec<String> = (0..25).map(|i| format!("s{i}")).collect();
        let text = listing(many.iter().map(String::as_str));
        assert!(text.ends_with("s9 and 15 more"), "{text}");
    }
}
