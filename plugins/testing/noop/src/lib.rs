//! Test guest `noop`: Does nothing and succeeds; the step-overhead benchmark runs it.

use weft_step::{Guest, Param, ParamType, ParamValue, StepError, StepInfo};

/// The step; its `Guest` implementation is exported with `weft_step::export!`.
pub struct G;

impl Guest for G {
    fn describe() -> StepInfo {
        StepInfo {
            name: "test-noop".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Does nothing and succeeds; the step-overhead benchmark runs it.".into(),
            inputs: vec![],
            outputs: vec![],
            params: vec![weft_step::param(
                "index",
                ParamType::Int,
                Some(ParamValue::Int(0)),
                "Ignored: lets a `matrix` fan the step out",
            )],
        }
    }

    fn run(_params: Vec<Param>) -> Result<(), StepError> {
        Ok(())
    }
}

weft_step::export!(G);
