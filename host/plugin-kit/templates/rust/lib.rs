//! Weft step `__NAME__`: counts the lines, words and bytes of a text. A starting point:
//! keep the logic in plain functions (tested natively), the glue in `impl Guest`.

use serde::Serialize;
use weft_step::{Guest, Param, ParamType, ParamValue, StepError, StepInfo, io, metric, param, port};

/// The step; its `Guest` implementation is exported with `weft_step::export!`.
pub struct Step;

impl Guest for Step {
    fn describe() -> StepInfo {
        StepInfo {
            name: "__NAME__".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Counts the lines, words and bytes of a text.".into(),
            inputs: vec![port("text", "text/*", "The text to count")],
            outputs: vec![port("counts", "application/json", "{lines, words, bytes}")],
            params: vec![param(
                "min_word_length",
                ParamType::Int,
                Some(ParamValue::Int(1)),
                "Shortest run of non-space characters counted as a word",
            )],
        }
    }

    fn run(params: Vec<Param>) -> Result<(), StepError> {
        let p = weft_step::params::Params(params);
        let text = io::read_text("text")?;
        let counts = count(&text, usize::try_from(p.int("min_word_length")?).unwrap_or(1));
        #[allow(clippy::cast_precision_loss)]
        {
            metric("lines", counts.lines as f64);
            metric("words", counts.words as f64);
        }
        io::write_json("counts", &counts)
    }
}

weft_step::export!(Step);

/// What the step counts.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Counts {
    /// Lines (a last line without a newline counts).
    pub lines: usize,
    /// Words of at least the minimum length.
    pub words: usize,
    /// Bytes.
    pub bytes: usize,
}

/// Counts lines, words (at least `min_word_length` characters) and bytes.
pub fn count(text: &str, min_word_length: usize) -> Counts {
    Counts {
        lines: text.lines().count(),
        words: text.split_whitespace().filter(|w| w.chars().count() >= min_word_length).count(),
        bytes: text.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_lines_words_and_bytes() {
        assert_eq!(count("a bb\nccc\n", 1), Counts { lines: 2, words: 3, bytes: 9 });
        assert_eq!(count("a bb ccc", 2).words, 2);
        assert_eq!(count("", 1), Counts { lines: 0, words: 0, bytes: 0 });
    }
}
