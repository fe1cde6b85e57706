//! Fan-out and fan-in expansion: the plan a `matrix` workflow becomes.

mod common;

use weft_model::{ParamValue, Source};

const SWEEP: &str = r#"
name: sweep
inputs:
  raw: {path: a.csv}
steps:
  load: {uses: csv-to-table, inputs: {csv: inputs.raw}}
  split:
    uses: train-test-split
    inputs: {table: load.table}
    matrix:
      seed: [1, 2]
      test_fraction: [0.1, 0.2, 0.3]
    concurrency: 2
  stats:
    uses: summary-stats
    inputs: {table: split.test}
  best:
    uses: pick-best
    inputs: {candidates: [stats.summary, stats.summary]}
  report:
    uses: summary-stats
    inputs: {table: load.table}
    after: [split]
    when: "steps.best.metrics.score >= 0.5 && true"
"#;

#[test]
fn matrix_fans_out_and_consumers_follow() {
    let plan = weft_model::parse_and_validate(SWEEP, &common::catalog(), &[]).expect("valid");
    let ids: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "load", "split[0]", "split[1]", "split[2]", "split[3]", "split[4]", "split[5]", "stats[0]", "stats[1]",
            "stats[2]", "stats[3]", "stats[4]", "stats[5]", "best", "report"
        ]
    );
    let split3 = &plan.steps[4];
    let inst = split3.instance.as_ref().expect("instance");
    assert_eq!((inst.of.as_str(), inst.index, inst.count), ("split", 3, 6));
    assert_eq!(
        inst.values,
        vec![
            ("seed".to_string(), ParamValue::Int(2)),
            ("test_fraction".to_string(), ParamValue::Float(0.1))
        ]
    );
    // Parameters keep the component's declaration order: test_fraction, seed.
    assert_eq!(
        split3.params,
        vec![
            ("test_fraction".to_string(), ParamValue::Float(0.1)),
            ("seed".to_string(), ParamValue::Int(2))
        ]
    );
    assert_eq!(split3.concurrency, Some(2));

    // stats[k] reads split[k].test and follows its instance values.
    let stats3 = plan.step("stats[3]").expect("stats[3]");
    assert_eq!(
        stats3.inputs[0].source,
        Source::Step {
            step: "split[3]".into(),
            port: "test".into()
        }
    );
    assert_eq!(stats3.instance.as_ref().expect("instance").values, inst.values);

    // The fan-in port gets every instance, once per listed source, in order.
    let best = plan.step("best").expect("best");
    let sources: Vec<String> = best
        .inputs
        .iter()
        .map(|b| match &b.source {
            Source::Step { step, .. } => step.clone(),
            Source::Input(i) => i.clone(),
        })
        .collect();
    assert_eq!(sources.len(), 12);
    assert_eq!(&sources[..2], ["stats[0]", "stats[1]"]);
    assert!(best.instance.is_none());

    // `after:` a matrix step waits for all its instances; a condition adds its step.
    let report = plan.step("report").expect("report");
    let dep_ids: Vec<&str> = report.deps.iter().map(|&d| plan.steps[d].id.as_str()).collect();
    assert_eq!(
        dep_ids,
        [
            "load", "split[0]", "split[1]", "split[2]", "split[3]", "split[4]", "split[5]", "best"
        ]
    );
    assert!(report.condition.is_some());
    // Every dependency comes earlier in the plan.
    for (i, s) in plan.steps.iter().enumerate() {
        assert!(s.deps.iter().all(|&d| d < i), "{} depends on a later step", s.id);
    }
}

#[test]
fn plain_workflows_have_no_instances() {
    let yaml =
        "name: p\ninputs:\n  raw: {path: a.csv}\nsteps:\n  load: {uses: csv-to-table, inputs: {csv: inputs.raw}}\n";
    let plan = weft_model::parse_and_validate(yaml, &common::catalog(), &[]).expect("valid");
    assert!(plan.steps[0].instance.is_none());
    assert_eq!(plan.steps[0].id, "load");
}
