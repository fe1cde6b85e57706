//! Weft step `predict-logreg`: batch predictions of a logistic-regression model — the
//! input table with two columns added: the probability of the positive class and the
//! predicted class.

use weft_logreg::{self as logreg, Model};
use weft_step::table::{Column, ColumnType, Table, Value};
use weft_step::{Guest, Param, StepError, StepInfo, bad_input, io, metric, port};

/// The step; its `Guest` implementation is exported with `weft_step::export!`.
pub struct PredictLogreg;

impl Guest for PredictLogreg {
    fn describe() -> StepInfo {
        StepInfo {
            name: "predict-logreg".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Scores every row with a logistic-regression model and appends `probability` (of the \
                          positive class) and `predicted` (the positive class, or `not <positive>`) columns. \
                          The label column, if present, is kept for comparison but not used."
                .into(),
            inputs: vec![
                logreg::model_input(),
                port(
                    "table",
                    weft_step::table::MEDIA_TYPE,
                    "Rows with the model's feature columns",
                ),
            ],
            outputs: vec![port(
                "predictions",
                weft_step::table::MEDIA_TYPE,
                "The rows with the two new columns",
            )],
            params: vec![logreg::threshold_param()],
        }
    }

    fn run(params: Vec<Param>) -> Result<(), StepError> {
        let p = weft_step::params::Params(params);
        let model = logreg::read_model("model")?;
        let table = Table::from_json(&io::read_bytes("table")?).map_err(bad_input)?;
        let out = predict(&model, table, p.float("threshold")?).map_err(bad_input)?;
        let positives = out.column("predicted").map_or(0, |c| {
            c.values
                .iter()
                .filter(|v| v.as_ref().is_some_and(|v| v.render() == model.positive))
                .count()
        });
        #[allow(clippy::cast_precision_loss)]
        {
            metric("rows", out.rows() as f64);
            metric("predicted_positive", positives as f64);
        }
        io::write_json("predictions", &out)
    }
}

weft_step::export!(PredictLogreg);

/// The table with `probability` and `predicted` columns appended.
pub fn predict(model: &Model, mut table: Table, threshold: f64) -> Result<Table, String> {
    if table
        .columns
        .iter()
        .any(|c| c.name == "probability" || c.name == "predicted")
    {
        return Err("the table already has a `probability` or `predicted` column".into());
    }
    let features = model
        .features
        .iter()
        .map(|f| table.column(f).ok_or_else(|| format!("no feature column `{f}`")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut probability = Vec::with_capacity(table.rows());
    let mut predicted = Vec::with_capacity(table.rows());
    for i in 0..table.rows() {
        let x: Option<Vec<f64>> = features
            .iter()
            .map(|c| c.values[i].as_ref().and_then(Value::as_f64))
            .collect();
        // A row with a missing feature gets no prediction rather than a made-up one.
        let Some(x) = x else {
            probability.push(None);
            predicted.push(None);
            continue;
        };
        let p = model.proba(&x);
        probability.push(Some(Value::Float(p)));
        let class = if p >= threshold {
            model.positive.clone()
        } else {
            format!("not {}", model.positive)
        };
        predicted.push(Some(Value::Str(class)));
    }
    table.columns.push(Column {
        name: "probability".into(),
        ty: ColumnType::Float,
        values: probability,
    });
    table.columns.push(Column {
        name: "predicted".into(),
        ty: ColumnType::String,
        values: predicted,
    });
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_probability_and_class() {
        let model = Model {
            label: "y".into(),
            positive: "yes".into(),
            features: vec!["x".into()],
            weights: vec![2.0],
            bias: 0.0,
        };
        let table = Table {
            columns: vec![Column {
                name: "x".into(),
                ty: ColumnType::Float,
                values: vec![Some(Value::Float(1.0)), Some(Value::Float(-1.0)), None],
            }],
        };
        let out = predict(&model, table, 0.5).expect("ok");
        let classes: Vec<_> = out.columns[2]
            .values
            .iter()
            .map(|v| v.as_ref().map(Value::render))
            .collect();
        assert_eq!(classes, vec![Some("yes".into()), Some("not yes".into()), None]);
        let p = out.columns[1].values[0].as_ref().and_then(Value::as_f64).expect("p");
        assert!((p - 1.0 / (1.0 + (-2.0f64).exp())).abs() < 1e-12);
    }

    #[test]
    fn missing_feature_is_bad_input() {
        let model = Model {
            label: "y".into(),
            positive: "yes".into(),
            features: vec!["z".into()],
            weights: vec![1.0],
            bias: 0.0,
        };
        assert!(
            predict(&model, Table::default(), 0.5)
                .expect_err("missing")
                .contains("`z`")
        );
    }
}
