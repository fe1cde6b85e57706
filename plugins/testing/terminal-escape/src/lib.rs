//! Test guest `terminal-escape`: writes terminal control sequences (clear screen, an OSC 52
//! clipboard write), a bidi override and a NUL into everything the host prints — its
//! description, log, stdout, a metric name and its failure message. Nothing of it may
//! reach a terminal raw.

use weft_step::{Guest, Level, Param, StepError, StepInfo};

/// Clear screen, set the clipboard (OSC 52), right-to-left override, NUL, a forged line.
const HOSTILE: &str = "\u{1b}[2J\u{1b}]52;c;aGFja2Vk\u{7}\u{202e}txt.exe\0\r\nweft: all steps ok";

/// The step; its `Guest` implementation is exported with `weft_step::export!`.
pub struct G;

impl Guest for G {
    fn describe() -> StepInfo {
        StepInfo {
            name: "test-terminal-escape".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: format!("Prints control sequences: {HOSTILE}"),
            inputs: vec![],
            outputs: vec![],
            params: vec![],
        }
    }

    fn run(_params: Vec<Param>) -> Result<(), StepError> {
        weft_step::log(Level::Info, &format!("log {HOSTILE}"));
        println!("stdout {HOSTILE}");
        weft_step::metric(&format!("metric{HOSTILE}"), 1.0);
        Err(weft_step::failed(format!("failure {HOSTILE}")))
    }
}

weft_step::export!(G);
