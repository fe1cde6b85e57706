//! Weft step `select-best`: the fan-in end of a sweep. Reads one score document per
//! candidate and the candidates themselves, and passes on the candidate whose score is best.

use serde_json::Value;
use weft_step::{
    Guest, Param, ParamType, ParamValue, StepError, StepInfo, bad_input, io, many_port, metric, param, port,
};

/// The step; its `Guest` implementation is exported with `weft_step::export!`.
pub struct SelectBest;

impl Guest for SelectBest {
    fn describe() -> StepInfo {
        StepInfo {
            name: "select-best".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Given N score documents (JSON objects) and N candidates, in the same order, outputs \
                          the candidate whose score has the highest (or lowest) value of `metric`, and its score \
                          document with the winner's `index` added. Ties go to the earliest candidate."
                .into(),
            inputs: vec![
                many_port("scores", "application/json", "One JSON object per candidate"),
                many_port("candidates", "*/*", "The candidates, in the order of their scores"),
            ],
            outputs: vec![
                port("best", "*/*", "The winning candidate, of the candidates' media type"),
                port("score", "application/json", "The winning score document, with `index`"),
            ],
            params: vec![
                param(
                    "metric",
                    ParamType::Str,
                    None,
                    "Path of the number to compare: keys and array indices joined by `.` (`a.b`, `2.mean`)",
                ),
                param(
                    "goal",
                    ParamType::Str,
                    Some(ParamValue::Str("max".into())),
                    "`max` or `min`",
                ),
            ],
        }
    }

    fn run(params: Vec<Param>) -> Result<(), StepError> {
        let p = weft_step::params::Params(params);
        let scores = io::read_many("scores")?;
        let candidates = io::read_many("candidates")?;
        let docs = scores
            .iter()
            .enumerate()
            .map(|(i, b)| serde_json::from_slice(b).map_err(|e| bad_input(format!("score {i} is not JSON: {e}"))))
            .collect::<Result<Vec<Value>, _>>()?;
        let metric_name = p.str("metric")?;
        let (index, value) = select(&docs, candidates.len(), &metric_name, &p.str("goal")?).map_err(bad_input)?;
        #[allow(clippy::cast_precision_loss)]
        metric("best_index", index as f64);
        metric("best_value", value);
        let mut winner = docs[index].clone();
        if let Value::Object(map) = &mut winner {
            map.insert("index".into(), Value::from(index));
        }
        io::write_bytes("best", &candidates[index])?;
        io::write_json("score", &winner)
    }
}

weft_step::export!(SelectBest);

/// Looks up a number by a dotted path of object keys and array indices.
fn number(doc: &Value, path: &str) -> Option<f64> {
    path.split('.')
        .try_fold(doc, |v, key| match (v, key.parse::<usize>()) {
            (Value::Array(items), Ok(i)) => items.get(i),
            _ => v.get(key),
        })?
        .as_f64()
}

/// Index and value of the best score.
pub fn select(docs: &[Value], candidates: usize, metric: &str, goal: &str) -> Result<(usize, f64), String> {
    if docs.is_empty() {
        return Err("no candidates".into());
    }
    if docs.len() != candidates {
        return Err(format!(
            "{} scores but {candidates} candidates: bind them in the same order",
            docs.len()
        ));
    }
    let better: fn(f64, f64) -> bool = match goal {
        "max" => |a, b| a > b,
        "min" => |a, b| a < b,
        other => return Err(format!("goal must be `max` or `min`, got `{other}`")),
    };
    let mut best: Option<(usize, f64)> = None;
    for (i, doc) in docs.iter().enumerate() {
        let v = number(doc, metric).ok_or_else(|| {
            let mut preview = doc.to_string();
            if preview.len() > 120 {
                let cut = (0..=120).rev().find(|&c| preview.is_char_boundary(c)).unwrap_or(0);
                preview.truncate(cut);
                preview.push('…');
            }
            format!("score {i} has no number at `{metric}`: {preview}")
        })?;
        if v.is_nan() {
            return Err(format!("score {i} has NaN at `{metric}`"));
        }
        if best.is_none_or(|(_, b)| better(v, b)) {
            best = Some((i, v));
        }
    }
    best.ok_or_else(|| "no candidates".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn picks_max_min_and_first_of_ties() {
        let docs = vec![
            json!({"m": {"acc": 0.8}}),
            json!({"m": {"acc": 0.9}}),
            json!({"m": {"acc": 0.9}}),
        ];
        assert_eq!(select(&docs, 3, "m.acc", "max"), Ok((1, 0.9)));
        assert_eq!(select(&docs, 3, "m.acc", "min"), Ok((0, 0.8)));
        let arrays = vec![
            json!([{"mean": 1.0}, {"mean": 5.0}]),
            json!([{"mean": 2.0}, {"mean": 4.0}]),
        ];
        assert_eq!(select(&arrays, 2, "1.mean", "max"), Ok((0, 5.0)));
    }

    #[test]
    fn bad_input_is_explained() {
        let docs = vec![json!({"acc": 1})];
        assert!(
            select(&docs, 2, "acc", "max")
                .expect_err("count")
                .contains("1 scores but 2 candidates")
        );
        assert!(
            select(&docs, 1, "f1", "max")
                .expect_err("missing")
                .contains("no number at `f1`")
        );
        assert!(
            select(&docs, 1, "acc", "best")
                .expect_err("goal")
                .contains("`max` or `min`")
        );
        assert!(select(&[], 0, "acc", "max").is_err());
    }
}
