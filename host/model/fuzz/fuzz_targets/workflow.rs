//! Fuzzes the YAML loader and the validator together, against the fixed catalog of step
//! declarations the model's tests use (so references, parameters, matrices and conditions
//! are checked deeply): no panic, and the output stays bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use weft_model::quantity::MAX_DURATION;
use weft_model::{Catalog, StepInfo};

#[path = "../../tests/common/mod.rs"]
mod common;

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let mut c = common::catalog();
        // A pass-through step, so chains of `*/*` outputs are resolved too.
        let any = |name: &str| common::port(name, "*/*");
        c.insert(
            "pass".into(),
            Ok(StepInfo {
                name: "pass".into(),
                version: "0.1.0".into(),
                description: String::new(),
                inputs: vec![any("in")],
                outputs: vec![any("out")],
                params: vec![],
            }),
        );
        c
    })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let overrides = [
        ("seed".to_string(), "7".to_string()),
        ("rate".to_string(), "1e400".to_string()),
    ];
    match weft_model::parse_and_validate(&text, catalog(), &overrides) {
        Ok(plan) => {
            assert!(plan.steps.len() <= weft_model::validate::MAX_PLANNED_STEPS);
            assert!(plan.timeout.is_none_or(|t| t <= MAX_DURATION));
            for step in &plan.steps {
                assert!(step.limits.timeout.is_none_or(|t| t <= MAX_DURATION));
                assert!(step.policy.retry.max_backoff <= MAX_DURATION);
            }
        }
        Err(problems) => {
            let shown = problems.render("w.yaml");
            assert!(shown.lines().count() <= weft_model::diagnostic::MAX_SHOWN + 1);
            assert!(shown.len() <= 101 * 1400, "{} bytes shown", shown.len());
        }
    }
});
