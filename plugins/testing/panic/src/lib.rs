//! Test guest `panic`: Panics with a known message.

use weft_step::{Guest, Param, StepError, StepInfo};

/// The step; its `Guest` implementation is exported with `weft_step::export!`.
pub struct G;

impl Guest for G {
    fn describe() -> StepInfo {
        StepInfo {
            name: "test-panic".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Panics with a known message.".into(),
            inputs: vec![],
            outputs: vec![],
            params: vec![],
        }
    }

    fn run(_params: Vec<Param>) -> Result<(), StepError> {
        println!("about to panic");
        panic!("deliberate panic from test guest")
    }
}

weft_step::export!(G);
