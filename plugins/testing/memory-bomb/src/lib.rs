//! Test guest `memory-bomb`: Allocates until the memory limit stops it.

use weft_step::{Guest, Param, StepError, StepInfo};

/// The step; its `Guest` implementation is exported with `weft_step::export!`.
pub struct G;

impl Guest for G {
    fn describe() -> StepInfo {
        StepInfo {
            name: "test-memory-bomb".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Allocates until the memory limit stops it.".into(),
            inputs: vec![],
            outputs: vec![],
            params: vec![],
        }
    }

    fn run(_params: Vec<Param>) -> Result<(), StepError> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut block = vec![0u8; 8 << 20];
            block[0] = 1; // touch it so the allocation is real
            hoard.push(std::hint::black_box(block));
        }
    }
}

weft_step::export!(G);
