//! Test guest `chatty`: floods stdout, stderr and the log; the host must cap them and
//! the step must still succeed.

use weft_step::{Guest, Level, Param, StepError, StepInfo};

/// The step; its `Guest` implementation is exported with `weft_step::export!`.
pub struct G;

impl Guest for G {
    fn describe() -> StepInfo {
        StepInfo {
            name: "test-chatty".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Writes megabytes to stdout, stderr and the log, then succeeds.".into(),
            inputs: vec![],
            outputs: vec![],
            params: vec![],
        }
    }

    fn run(_params: Vec<Param>) -> Result<(), StepError> {
        let line = "x".repeat(1023);
        for i in 0..4096 {
            println!("{line}");
            eprintln!("{line}");
            weft_step::log(Level::Info, &format!("{i} {line}"));
        }
        Ok(())
    }
}

weft_step::export!(G);
