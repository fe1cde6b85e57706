//! The logistic-regression model Weft's own ML steps share (`train-logreg`,
//! `predict-logreg`, `evaluate-classifier`), media type [`MEDIA_TYPE`]: kept out of the
//! step SDK, which plugin authors get whole in every new project.

use serde::{Deserialize, Serialize};
use weft_step::table::Table;

/// Media type of a serialized [`Model`].
pub const MEDIA_TYPE: &str = "application/vnd.weft.logreg+json";

/// A binary logistic-regression classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Column holding the class.
    pub label: String,
    /// The class predicted as 1.
    pub positive: String,
    /// Feature columns, in weight order.
    pub features: Vec<String>,
    /// One weight per feature.
    pub weights: Vec<f64>,
    /// Intercept.
    pub bias: f64,
}

/// The logistic function.
pub fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl Model {
    /// Probability of the positive class for one feature vector.
    pub fn proba(&self, x: &[f64]) -> f64 {
        sigmoid(self.bias + self.weights.iter().zip(x).map(|(w, v)| w * v).sum::<f64>())
    }
}

/// The `model` input of the steps that use a model.
pub fn model_input() -> weft_step::Port {
    weft_step::port("model", MEDIA_TYPE, "The logistic-regression model")
}

/// The `threshold` parameter of the steps that turn probabilities into classes.
pub fn threshold_param() -> weft_step::ParamSpec {
    weft_step::param(
        "threshold",
        weft_step::ParamType::Float,
        Some(weft_step::ParamValue::Float(0.5)),
        "Probability at or above which a row is predicted positive",
    )
}

/// Reads a model from the input `port`.
pub fn read_model(port: &str) -> Result<Model, weft_step::StepError> {
    serde_json::from_slice(&weft_step::io::read_bytes(port)?)
        .map_err(|e| weft_step::bad_input(format!("input `{port}` is not a logistic-regression model: {e}")))
}

/// Feature rows and 0/1 labels of a table, in row order.
pub struct Dataset {
    /// One row per example, features in the given order.
    pub x: Vec<Vec<f64>>,
    /// 1.0 for the positive class, 0.0 otherwise.
    pub y: Vec<f64>,
}

/// Extracts `features` and the 0/1 label (`positive` → 1) from a table; every cell must be present.
pub fn dataset(table: &Table, features: &[String], label: &str, positive: &str) -> Result<Dataset, String> {
    let label_col = table
        .column(label)
        .ok_or_else(|| format!("no label column `{label}`"))?;
    let cols = features
        .iter()
        .map(|f| table.column(f).ok_or_else(|| format!("no feature column `{f}`")))
        .collect::<Result<Vec<_>, _>>()?;
    let n = table.rows();
    let mut x = Vec::with_capacity(n);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let row = cols
            .iter()
            .map(|c| {
                c.values[i]
                    .as_ref()
                    .and_then(weft_step::table::Value::as_f64)
                    .ok_or_else(|| format!("row {i}: column `{}` is missing or not a number", c.name))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let class = label_col.values[i]
            .as_ref()
            .map(weft_step::table::Value::render)
            .ok_or_else(|| format!("row {i}: the label is missing"))?;
        x.push(row);
        y.push(if class == positive { 1.0 } else { 0.0 });
    }
    Ok(Dataset { x, y })
}
