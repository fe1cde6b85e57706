//! Pass-through outputs (`*/*`): the type flows from what the step was given, through
//! chains of pass-through steps in any file order, conflicts and cycles are reported.

mod common;

use common::port;
use weft_model::{Catalog, StepInfo};

fn catalog() -> Catalog {
    let mut c = common::catalog();
    let step = |name: &str, inputs: Vec<&str>| StepInfo {
        name: name.into(),
        version: "0.1.0".into(),
        description: String::new(),
        inputs: inputs.into_iter().map(|n| port(n, "*/*")).collect(),
        outputs: vec![port("out", "*/*")],
        params: vec![],
    };
    c.insert("pass".into(), Ok(step("pass", vec!["in"])));
    c.insert("merge".into(), Ok(step("merge", vec!["a", "b"])));
    c
}

const INPUTS: &str = "inputs:\n  csv: {path: a.csv}\n  txt: {path: a.txt}\n";

fn check(steps: &str) -> Result<weft_model::Plan, String> {
    let text = format!("name: w\n{INPUTS}steps:\n{steps}");
    weft_model::parse_and_validate(&text, &catalog(), &[]).map_err(|d| d.to_string())
}

fn output_type(plan: &weft_model::Plan, step: &str) -> String {
    plan.step(step).expect("step").outputs[0].1.clone()
}

#[test]
fn the_type_flows_through_a_chain_in_any_order() {
    for steps in [
        "  p1: {uses: pass, inputs: {in: inputs.csv}}\n  p2: {uses: pass, inputs: {in: p1.out}}\n  t: {uses: csv-to-table, inputs: {csv: p2.out}}\n",
        "  t: {uses: csv-to-table, inputs: {csv: p2.out}}\n  p2: {uses: pass, inputs: {in: p1.out}}\n  p1: {uses: pass, inputs: {in: inputs.csv}}\n",
    ] {
        let plan = check(steps).expect("valid");
        assert_eq!(output_type(&plan, "p1"), "text/csv");
        assert_eq!(output_type(&plan, "p2"), "text/csv");
    }
}

#[test]
fn a_mismatch_is_found_through_the_chain() {
    let e = check(
        "  t: {uses: csv-to-table, inputs: {csv: p2.out}}\n  p2: {uses: pass, inputs: {in: p1.out}}\n  p1: {uses: pass, inputs: {in: inputs.txt}}\n",
    )
    .expect_err("mismatch");
    assert!(
        e.contains("`p2.out` is `text/plain`, but input `csv` accepts `text/csv`"),
        "{e}"
    );
}

#[test]
fn differing_types_are_a_conflict() {
    let e =
        check("  m: {uses: merge, inputs: {a: inputs.csv, b: p.out}}\n  p: {uses: pass, inputs: {in: inputs.txt}}\n")
            .expect_err("conflict");
    assert!(
        e.contains("steps.m.inputs: pass-through output `out` would carry differing types: text/csv, text/plain"),
        "{e}"
    );
}

#[test]
fn a_cycle_of_pass_through_steps_is_reported_not_followed() {
    let e = check(
        "  a: {uses: merge, inputs: {a: b.out, b: inputs.csv}}\n  b: {uses: pass, inputs: {in: c.out}}\n  c: {uses: pass, inputs: {in: a.out}}\n",
    )
    .expect_err("cycle");
    assert!(e.contains("steps form a cycle"), "{e}");
}
