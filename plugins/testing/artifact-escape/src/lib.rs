//! Test guest `artifact-escape`: Tries artifact ports it was not given; succeeds only if the host allows one.

use weft_step::{Guest, Param, StepError, StepInfo};

/// The step; its `Guest` implementation is exported with `weft_step::export!`.
pub struct G;

impl Guest for G {
    fn describe() -> StepInfo {
        StepInfo {
            name: "test-artifact-escape".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Tries artifact ports it was not given; succeeds only if the host allows one.".into(),
            inputs: vec![weft_step::port("data", "*/*", "Any bytes")],
            outputs: vec![weft_step::port("out", "text/plain", "Written last")],
            params: vec![],
        }
    }

    fn run(_params: Vec<Param>) -> Result<(), StepError> {
        use weft_step::bindings::weft::step::artifacts;
        for port in ["secret", "../data", ""] {
            if artifacts::open(port).is_ok() {
                return Err(weft_step::failed(format!(
                    "SANDBOX LEAK: opened undeclared input `{port}`"
                )));
            }
        }
        for port in ["undeclared", "data"] {
            if artifacts::create(port).is_ok() {
                return Err(weft_step::failed(format!(
                    "SANDBOX LEAK: created undeclared output `{port}`"
                )));
            }
        }
        let first = artifacts::create("out").map_err(weft_step::failed)?;
        if artifacts::create("out").is_ok() {
            return Err(weft_step::failed("SANDBOX LEAK: created output `out` twice"));
        }
        // An oversized write fails the whole step (host call too large): `test-hostile`'s
        // `big-write` checks that.
        first.write(b"contained").map_err(weft_step::failed)
    }
}

weft_step::export!(G);
