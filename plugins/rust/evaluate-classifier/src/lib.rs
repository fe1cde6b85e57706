//! Weft step `evaluate-classifier`: accuracy, precision, recall, F1, ROC AUC and the
//! confusion matrix of a logistic-regression model on labelled rows.

use serde::Serialize;
use weft_logreg as logreg;
use weft_step::table::Table;
use weft_step::{Guest, Param, StepError, StepInfo, bad_input, io, metric, port};

/// The step; its `Guest` implementation is exported with `weft_step::export!`.
pub struct EvaluateClassifier;

impl Guest for EvaluateClassifier {
    fn describe() -> StepInfo {
        StepInfo {
            name: "evaluate-classifier".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Scores a logistic-regression model on labelled rows: accuracy, precision, recall and F1 \
                          at the threshold, ROC AUC over all thresholds, and the confusion matrix; all recorded \
                          as metrics too."
                .into(),
            inputs: vec![
                logreg::model_input(),
                port(
                    "table",
                    weft_step::table::MEDIA_TYPE,
                    "Labelled rows with the model's features",
                ),
            ],
            outputs: vec![port("report", "application/json", "Metrics and confusion matrix")],
            params: vec![logreg::threshold_param()],
        }
    }

    fn run(params: Vec<Param>) -> Result<(), StepError> {
        let p = weft_step::params::Params(params);
        let model = logreg::read_model("model")?;
        let table = Table::from_json(&io::read_bytes("table")?).map_err(bad_input)?;
        let data = logreg::dataset(&table, &model.features, &model.label, &model.positive).map_err(bad_input)?;
        let scores: Vec<f64> = data.x.iter().map(|x| model.proba(x)).collect();
        let report = evaluate(&scores, &data.y, p.float("threshold")?);
        for (name, value) in [
            ("accuracy", report.accuracy),
            ("precision", report.precision),
            ("recall", report.recall),
            ("f1", report.f1),
            ("roc_auc", report.roc_auc),
        ] {
            metric(name, value);
        }
        io::write_json("report", &report)
    }
}

weft_step::export!(EvaluateClassifier);

/// Counts of the confusion matrix.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Confusion {
    /// Positives predicted positive.
    pub tp: u64,
    /// Negatives predicted positive.
    pub fp: u64,
    /// Negatives predicted negative.
    pub tn: u64,
    /// Positives predicted negative.
    #[serde(rename = "fn")]
    pub fn_: u64,
}

/// What the step reports.
#[derive(Debug, Serialize, PartialEq)]
pub struct Report {
    /// Rows evaluated.
    pub rows: usize,
    /// Share of rows predicted right.
    pub accuracy: f64,
    /// tp / (tp + fp), 0 when nothing is predicted positive.
    pub precision: f64,
    /// tp / (tp + fn).
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Area under the ROC curve (ties count one half).
    pub roc_auc: f64,
    /// The confusion matrix at the threshold.
    pub confusion: Confusion,
}

fn ratio(a: u64, b: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Metrics of scores (probability of positive) against 0/1 labels.
pub fn evaluate(scores: &[f64], labels: &[f64], threshold: f64) -> Report {
    let mut c = Confusion {
        tp: 0,
        fp: 0,
        tn: 0,
        fn_: 0,
    };
    for (s, y) in scores.iter().zip(labels) {
        match (*s >= threshold, *y == 1.0) {
            (true, true) => c.tp += 1,
            (true, false) => c.fp += 1,
            (false, false) => c.tn += 1,
            (false, true) => c.fn_ += 1,
        }
    }
    let precision = ratio(c.tp, c.tp + c.fp);
    let recall = ratio(c.tp, c.tp + c.fn_);
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    Report {
        rows: scores.len(),
        accuracy: ratio(c.tp + c.tn, scores.len() as u64),
        precision,
        recall,
        f1,
        roc_auc: roc_auc(scores, labels),
        confusion: c,
    }
}

/// ROC AUC as the probability that a random positive scores above a random negative
/// (Mann–Whitney), ties counting one half; 0.5 when a class is absent.
pub fn roc_auc(scores: &[f64], labels: &[f64]) -> f64 {
    let pos: Vec<f64> = scores
        .iter()
        .zip(labels)
        .filter(|(_, y)| **y == 1.0)
        .map(|(s, _)| *s)
        .collect();
    let neg: Vec<f64> = scores
        .iter()
        .zip(labels)
        .filter(|(_, y)| **y != 1.0)
        .map(|(s, _)| *s)
        .collect();
    if pos.is_empty() || neg.is_empty() {
        return 0.5;
    }
    let mut wins = 0.0;
    for p in &pos {
        for n in &neg {
            wins += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let pairs = (pos.len() * neg.len()) as f64;
    wins / pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_of_a_known_case() {
        let scores = [0.9, 0.8, 0.4, 0.3, 0.6, 0.1];
        let labels = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0];
        let r = evaluate(&scores, &labels, 0.5);
        assert_eq!(
            r.confusion,
            Confusion {
                tp: 2,
                fp: 1,
                tn: 2,
                fn_: 1
            }
        );
        assert!((r.accuracy - 4.0 / 6.0).abs() < 1e-12);
        assert!((r.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.recall - 2.0 / 3.0).abs() < 1e-12);
        // Positive/negative pairs ordered right: 0.9 and 0.8 beat all 3; 0.4 beats 0.3 and 0.1.
        assert!((r.roc_auc - 8.0 / 9.0).abs() < 1e-12);
    }

    #[test]
    fn degenerate_cases() {
        assert_eq!(roc_auc(&[0.2, 0.2], &[1.0, 0.0]), 0.5);
        assert_eq!(roc_auc(&[0.2], &[1.0]), 0.5);
        let r = evaluate(&[0.1], &[0.0], 0.5);
        assert_eq!((r.precision, r.recall, r.f1), (0.0, 0.0, 0.0));
    }
}
