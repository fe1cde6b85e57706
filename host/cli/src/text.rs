//! Showing text a guest wrote (log lines, failure messages, metric and port names,
//! `describe()` strings) on a terminal without letting it drive the terminal.
//!
//! Every print site passes guest text through [`shown`] (or [`shown_lines`] where a
//! message may span lines, [`json`] for `--json` output). Escaped: C0 controls (ESC, so
//! no CSI/OSC sequence such as clear-screen or the OSC 52 clipboard; CR and LF, so no
//! forged line), DEL, C1 controls (U+0080–U+009F, which some terminals read as CSI),
//! bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069, U+200E/F, U+061C,
//! which reorder what is shown), and line/paragraph separators.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal raw.
fn is_unsafe(c: char) -> bool {
    c.is_control() // C0, DEL and C1
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}'
        )
}

/// `text` with every unsafe character written as a visible escape (`\e`-style `\x1b`,
/// `\u{202e}`); a backslash stays a backslash. Borrowed when nothing needed escaping.
pub fn shown(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) && u32::from(c) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Like [`shown`], but keeps line breaks (each line escaped on its own): for messages that
/// legitimately span lines, such as a failure with the guest's stderr tail.
pub fn shown_lines(text: &str) -> String {
    text.split('\n')
        .map(|l| shown(l).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A writer that escapes what passes through it with [`shown_lines`]: for the tracing
/// subscriber, whose events may carry guest text. Each write is one formatted event.
pub struct EscapingWriter<W>(pub W);

impl<W: std::io::Write> std::io::Write for EscapingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .write_all(shown_lines(&String::from_utf8_lossy(buf)).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Pretty JSON for `--json` output. serde_json escapes C0 controls itself; the other
/// unsafe characters are valid raw in JSON strings, so they are written as `\uXXXX`
/// escapes too (the same value to a JSON reader).
pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let text = serde_json::to_string_pretty(value)?;
    if !text.chars().any(is_unsafe_in_json) {
        return Ok(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe_in_json(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Unsafe characters serde_json leaves raw (only ever inside strings: JSON's own syntax
/// is ASCII, and its newlines are layout).
fn is_unsafe_in_json(c: char) -> bool {
    is_unsafe(c) && u32::from(c) >= 0x7f
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "a\u{1b}[2Jb\u{1b}]52;c;aGk=\u{7}c\u{202e}d\0e\r\nf\u{9b}g";

    #[test]
    fn escapes_terminal_controls_bidi_and_nul() {
        let s = shown(HOSTILE);
        assert_eq!(s, "a\\x1b[2Jb\\x1b]52;c;aGk=\\x07c\\u{202e}d\\x00e\\r\\nf\\u{009b}g");
        assert!(!s.chars().any(is_unsafe));
        assert!(matches!(shown("plain — ü ✓"), Cow::Borrowed(_)));
    }

    #[test]
    fn lines_keep_their_breaks_but_nothing_else() {
        assert_eq!(shown_lines("one\u{1b}c\ntwo"), "one\\x1bc\ntwo");
    }

    #[test]
    fn the_writer_escapes_all_but_line_breaks() {
        use std::io::Write as _;
        let mut w = EscapingWriter(Vec::new());
        w.write_all(format!("event {HOSTILE}\n").as_bytes()).expect("write");
        let text = String::from_utf8(w.0).expect("utf8");
        assert!(text.ends_with("\\u{009b}g\n"), "{text}");
        assert!(!text.chars().any(|c| c != '\n' && is_unsafe(c)), "{text}");
    }

    #[test]
    fn json_stays_valid_and_raw_free() {
        let text = json(&serde_json::json!({ "log": HOSTILE })).expect("json");
        assert!(!text.chars().any(|c| is_unsafe(c) && c != '\n'), "{text}");
        let back: serde_json::Value = serde_json::from_str(&text).expect("valid");
        assert_eq!(back["log"], HOSTILE);
    }
}
