//! Test guest `spin`: Loops forever; the host must stop it with its timeout.

use weft_step::{Guest, Param, StepError, StepInfo};

/// The step; its `Guest` implementation is exported with `weft_step::export!`.
pub struct G;

impl Guest for G {
    fn describe() -> StepInfo {
        StepInfo {
            name: "test-spin".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Loops forever; the host must stop it with its timeout.".into(),
            inputs: vec![],
            outputs: vec![],
            params: vec![],
        }
    }

    fn run(_params: Vec<Param>) -> Result<(), StepError> {
        let mut x: u64 = 0;
        loop {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }
}

weft_step::export!(G);
