//! Test guest `bad-port`: declares an output port whose name is a path out of any
//! directory (`../escaped`) and writes it; `weft step run` must not write outside `--out`.

use weft_step::{Guest, Param, StepError, StepInfo, io, port};

/// The step; its `Guest` implementation is exported with `weft_step::export!`.
pub struct G;

impl Guest for G {
    fn describe() -> StepInfo {
        StepInfo {
            name: "test-bad-port".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Declares the output port `../escaped`.".into(),
            inputs: vec![],
            outputs: vec![port("../escaped", "text/plain", "A name that is a path")],
            params: vec![],
        }
    }

    fn run(_params: Vec<Param>) -> Result<(), StepError> {
        io::write_bytes("../escaped", b"written outside --out\n")
    }
}

weft_step::export!(G);
