//! Weft step `train-logreg`: a binary logistic regression fitted by full-batch gradient
//! descent with L2 regularisation. Deterministic: zero start, no sampling.

use weft_logreg::{self as logreg, Dataset, Model};
use weft_step::table::{ColumnType, Table};
use weft_step::{Guest, Param, ParamType, ParamValue, StepError, StepInfo, bad_input, io, metric, param, port};

/// The step; its `Guest` implementation is exported with `weft_step::export!`.
pub struct TrainLogreg;

impl Guest for TrainLogreg {
    fn describe() -> StepInfo {
        StepInfo {
            name: "train-logreg".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Fits P(label = positive) = sigmoid(w·x + b) by full-batch gradient descent on the mean \
                          log-loss plus l2/2·|w|², from zero weights. Use standardized features."
                .into(),
            inputs: vec![port(
                "train",
                weft_step::table::MEDIA_TYPE,
                "Training rows with the label column",
            )],
            outputs: vec![port(
                "model",
                logreg::MEDIA_TYPE,
                "Weights, bias, features, label and positive class",
            )],
            params: vec![
                param("label", ParamType::Str, None, "Column holding the class"),
                param("positive", ParamType::Str, None, "The class to predict as 1"),
                param(
                    "features",
                    ParamType::Str,
                    Some(ParamValue::Str(String::new())),
                    "Comma-separated feature columns; empty for every numeric column but the label",
                ),
                param(
                    "learning_rate",
                    ParamType::Float,
                    Some(ParamValue::Float(0.1)),
                    "Gradient step size",
                ),
                param(
                    "l2",
                    ParamType::Float,
                    Some(ParamValue::Float(0.0)),
                    "L2 penalty on the weights",
                ),
                param(
                    "epochs",
                    ParamType::Int,
                    Some(ParamValue::Int(500)),
                    "Full passes over the data",
                ),
            ],
        }
    }

    fn run(params: Vec<Param>) -> Result<(), StepError> {
        let p = weft_step::params::Params(params);
        let table = Table::from_json(&io::read_bytes("train")?).map_err(bad_input)?;
        let label = p.str("label")?;
        let features = feature_columns(&table, &p.str("features")?, &label);
        if features.is_empty() {
            return Err(bad_input("no numeric feature column"));
        }
        let data = logreg::dataset(&table, &features, &label, &p.str("positive")?).map_err(bad_input)?;
        if !data.y.contains(&1.0) || !data.y.contains(&0.0) {
            return Err(bad_input("the training rows hold only one class"));
        }
        let epochs = usize::try_from(p.int("epochs")?).map_err(|_| bad_input("epochs must be positive"))?;
        let (weights, bias) = fit(&data, p.float("learning_rate")?, p.float("l2")?, epochs);
        let model = Model {
            label,
            positive: p.str("positive")?,
            features,
            weights,
            bias,
        };
        let (loss, accuracy) = loss_and_accuracy(&model, &data);
        metric("train_loss", loss);
        metric("train_accuracy", accuracy);
        io::write_json("model", &model)
    }
}

weft_step::export!(TrainLogreg);

/// The named features, or every numeric column but the label.
pub fn feature_columns(table: &Table, spec: &str, label: &str) -> Vec<String> {
    let named: Vec<String> = spec
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    if !named.is_empty() {
        return named;
    }
    table
        .columns
        .iter()
        .filter(|c| c.name != label && matches!(c.ty, ColumnType::Int | ColumnType::Float))
        .map(|c| c.name.clone())
        .collect()
}

/// Gradient descent on the mean log-loss + l2/2·|w|²; returns weights and bias.
pub fn fit(data: &Dataset, learning_rate: f64, l2: f64, epochs: usize) -> (Vec<f64>, f64) {
    let d = data.x.first().map_or(0, Vec::len);
    #[allow(clippy::cast_precision_loss)]
    let n = data.x.len().max(1) as f64;
    let mut w = vec![0.0; d];
    let mut b = 0.0;
    for _ in 0..epochs {
        let mut gw = vec![0.0; d];
        let mut gb = 0.0;
        for (x, y) in data.x.iter().zip(&data.y) {
            let z = b + w.iter().zip(x).map(|(wi, xi)| wi * xi).sum::<f64>();
            let err = logreg::sigmoid(z) - y;
            for (g, v) in gw.iter_mut().zip(x) {
                *g += err * v;
            }
            gb += err;
        }
        for (wi, gi) in w.iter_mut().zip(&gw) {
            *wi -= learning_rate * (gi / n + l2 * *wi);
        }
        b -= learning_rate * gb / n;
    }
    (w, b)
}

/// Mean log-loss and accuracy (threshold 0.5).
pub fn loss_and_accuracy(model: &Model, data: &Dataset) -> (f64, f64) {
    #[allow(clippy::cast_precision_loss)]
    let n = data.x.len().max(1) as f64;
    let mut loss = 0.0;
    let mut correct = 0.0;
    for (x, y) in data.x.iter().zip(&data.y) {
        let p = model.proba(x).clamp(1e-12, 1.0 - 1e-12);
        loss -= y * p.ln() + (1.0 - y) * (1.0 - p).ln();
        if (p >= 0.5) == (*y == 1.0) {
            correct += 1.0;
        }
    }
    (loss / n, correct / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_a_separable_set_and_is_deterministic() {
        let data = Dataset {
            x: vec![vec![-2.0], vec![-1.0], vec![1.0], vec![2.0]],
            y: vec![0.0, 0.0, 1.0, 1.0],
        };
        let (w, b) = fit(&data, 0.5, 0.0, 200);
        assert!(w[0] > 1.0 && b.abs() < 1e-9, "w={w:?} b={b}");
        assert_eq!(fit(&data, 0.5, 0.0, 200), (w.clone(), b));
        let model = Model {
            label: "y".into(),
            positive: "1".into(),
            features: vec!["x".into()],
            weights: w,
            bias: b,
        };
        assert_eq!(loss_and_accuracy(&model, &data).1, 1.0);
    }

    #[test]
    fn l2_shrinks_the_weights() {
        let data = Dataset {
            x: vec![vec![-2.0], vec![-1.0], vec![1.0], vec![2.0]],
            y: vec![0.0, 0.0, 1.0, 1.0],
        };
        let free = fit(&data, 0.5, 0.0, 300).0[0];
        let shrunk = fit(&data, 0.5, 1.0, 300).0[0];
        assert!(shrunk < free, "{shrunk} < {free}");
    }
}
