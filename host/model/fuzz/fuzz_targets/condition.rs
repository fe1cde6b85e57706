//! Fuzzes the `when:` parser and evaluator: any text parses or fails with a short message,
//! and a parsed condition folds and evaluates without panicking or overflowing the stack.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::collections::BTreeMap;
use weft_model::ParamValue;
use weft_model::condition::Expr;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let expr = match Expr::parse(&text) {
        Ok(e) => e,
        Err(e) => {
            assert!(e.len() < 500, "{e}");
            return;
        }
    };
    let _ = expr.steps();
    let params: BTreeMap<String, ParamValue> = [
        ("n".to_string(), ParamValue::Int(3)),
        ("x".to_string(), ParamValue::Float(0.5)),
        ("s".to_string(), ParamValue::Str("prod".into())),
        ("b".to_string(), ParamValue::Bool(true)),
    ]
    .into_iter()
    .collect();
    if let Ok(folded) = expr.fold_params(&params) {
        let metric = |step: &str, name: &str| (!step.len().is_multiple_of(3)).then(|| name.len() as f64 / 7.0);
        let _ = folded.eval_bool(&metric);
    }
});
