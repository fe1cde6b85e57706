//! The model card as a JSON document, built from the host's lineage of the step's inputs.

use serde_json::{Map, Value, json};
use weft_step::{ParamValue, Provenance};

/// What the workflow says about the model.
pub struct About {
    /// The model's name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// What it is for (may be empty).
    pub description: String,
}

/// Builds the card. `model` and `evaluation` are the sources of those inputs, `lineage`
/// the host's record of every input's making (each entry after what it was made from).
pub fn build(
    about: &About,
    model: &str,
    evaluation: &str,
    report: Value,
    lineage: &[Provenance],
) -> Result<Value, String> {
    let Value::Object(fields) = &report else {
        return Err(format!("the evaluation `{evaluation}` is not a JSON object"));
    };
    let metrics: Map<String, Value> = fields
        .iter()
        .filter(|(_, v)| v.is_number())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let data: Vec<Value> = lineage.iter().filter(|p| p.made_by.is_none()).map(artifact).collect();
    let steps: Vec<Value> = lineage
        .iter()
        .filter_map(|p| {
            let m = p.made_by.as_ref()?;
            let params: Map<String, Value> = m.params.iter().map(|q| (q.name.clone(), value(&q.value))).collect();
            Some(json!({
                "output": p.source,
                "digest": p.digest,
                "step": m.step,
                "component": m.component,
                "params": params,
                "inputs": m.inputs,
            }))
        })
        .collect();
    Ok(json!({
        "name": about.name,
        "version": about.version,
        "description": about.description,
        "model": artifact(entry(lineage, model)?),
        "evaluation": {"source": evaluation, "digest": entry(lineage, evaluation)?.digest, "report": report},
        "metrics": metrics,
        "data": data,
        "steps": steps,
    }))
}

fn entry<'a>(lineage: &'a [Provenance], source: &str) -> Result<&'a Provenance, String> {
    lineage
        .iter()
        .find(|p| p.source == source)
        .ok_or_else(|| format!("the host's lineage has no entry for `{source}`"))
}

fn artifact(p: &Provenance) -> Value {
    json!({"source": p.source, "digest": p.digest, "size": p.size, "media_type": p.media_type})
}

fn value(v: &ParamValue) -> Value {
    match v {
        ParamValue::Str(s) => Value::from(s.as_str()),
        ParamValue::Int(i) => Value::from(*i),
        ParamValue::Float(f) => Value::from(*f),
        ParamValue::Boolean(b) => Value::from(*b),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use weft_step::{MadeBy, Param};

    fn made(source: &str, step: &str, params: Vec<Param>, inputs: &[&str]) -> Provenance {
        Provenance {
            source: source.into(),
            digest: format!("sha256:{source}"),
            size: 10,
            media_type: "application/json".into(),
            made_by: Some(MadeBy {
                step: step.into(),
                component: format!("sha256:{step}"),
                params,
                inputs: inputs.iter().map(|s| s.to_string()).collect(),
            }),
        }
    }

    /// A data set, a trained model and its evaluation.
    pub(crate) fn lineage() -> Vec<Provenance> {
        let l2 = Param {
            name: "l2".into(),
            value: ParamValue::Float(0.1),
        };
        vec![
            Provenance {
                source: "inputs.data".into(),
                digest: "sha256:data".into(),
                size: 1000,
                media_type: "text/csv".into(),
                made_by: None,
            },
            made("train.model", "train-logreg@0.1.0", vec![l2], &["inputs.data"]),
            made(
                "eval.report",
                "evaluate-classifier@0.1.0",
                Vec::new(),
                &["train.model", "inputs.data"],
            ),
        ]
    }

    pub(crate) fn about() -> About {
        About {
            name: "cancer".into(),
            version: "3".into(),
            description: "Flags tumours".into(),
        }
    }

    #[test]
    fn the_card_lists_metrics_data_and_steps_with_their_digests() {
        let report = json!({"accuracy": 0.98, "rows": 142, "confusion": {"tp": 50}});
        let card = build(&about(), "train.model", "eval.report", report, &lineage()).expect("a card");
        assert_eq!(card["metrics"], json!({"accuracy": 0.98, "rows": 142}));
        assert_eq!(card["model"]["digest"], "sha256:train.model");
        assert_eq!(card["evaluation"]["digest"], "sha256:eval.report");
        assert_eq!(card["evaluation"]["report"]["confusion"]["tp"], 50);
        assert_eq!(card["data"][0]["digest"], "sha256:data");
        assert_eq!(card["data"].as_array().map(Vec::len), Some(1));
        assert_eq!(card["steps"][0]["component"], "sha256:train-logreg@0.1.0");
        assert_eq!(card["steps"][0]["params"], json!({"l2": 0.1}));
        assert_eq!(card["steps"][1]["inputs"], json!(["train.model", "inputs.data"]));
    }

    #[test]
    fn an_evaluation_that_is_no_object_or_a_source_missing_from_the_lineage_is_refused() {
        let err = build(&about(), "train.model", "eval.report", json!([1]), &lineage()).unwrap_err();
        assert!(err.contains("not a JSON object"), "{err}");
        let err = build(&about(), "other.model", "eval.report", json!({}), &lineage()).unwrap_err();
        assert!(err.contains("`other.model`"), "{err}");
    }
}
