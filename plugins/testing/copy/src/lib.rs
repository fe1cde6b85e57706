//! Test guest `copy`: Copies its input to its output in chunks; used by chain tests and benchmarks.

use weft_step::{Guest, Param, StepError, StepInfo};

/// The step; its `Guest` implementation is exported with `weft_step::export!`.
pub struct G;

impl Guest for G {
    fn describe() -> StepInfo {
        StepInfo {
            name: "test-copy".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Copies its input to its output in chunks; used by chain tests and benchmarks.".into(),
            inputs: vec![weft_step::port("data", "*/*", "Any bytes")],
            outputs: vec![weft_step::port("data", "*/*", "The same bytes, of the same media type")],
            params: vec![],
        }
    }

    fn run(_params: Vec<Param>) -> Result<(), StepError> {
        use weft_step::bindings::weft::step::artifacts;
        let reader = artifacts::open("data").map_err(weft_step::failed)?;
        let writer = artifacts::create("data").map_err(weft_step::failed)?;
        loop {
            let chunk = reader.read(weft_step::io::CHUNK).map_err(weft_step::failed)?;
            if chunk.is_empty() {
                weft_step::metric("bytes", reader.size() as f64);
                return Ok(());
            }
            writer.write(&chunk).map_err(weft_step::failed)?;
        }
    }
}

weft_step::export!(G);
