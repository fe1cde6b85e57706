//! Weft step `summary-stats`: per-column count, missing, mean, standard deviation, min and max.

use serde::Serialize;
use weft_step::table::{ColumnType, Table};
use weft_step::{Guest, Param, StepError, StepInfo, bad_input, io, metric, port};

/// The step; its `Guest` implementation is exported with `weft_step::export!`.
pub struct SummaryStats;

impl Guest for SummaryStats {
    fn describe() -> StepInfo {
        StepInfo {
            name: "summary-stats".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Computes per-column statistics: count, missing, and for numeric columns mean, \
                          sample standard deviation, min and max; for text columns the number of distinct values."
                .into(),
            inputs: vec![port("table", weft_step::table::MEDIA_TYPE, "Table to describe")],
            outputs: vec![port("summary", "application/json", "One object per column")],
            params: vec![],
        }
    }

    fn run(_params: Vec<Param>) -> Result<(), StepError> {
        let table = Table::from_json(&io::read_bytes("table")?).map_err(bad_input)?;
        let stats = summarize(&table);
        #[allow(clippy::cast_precision_loss)]
        metric("rows", table.rows() as f64);
        for s in &stats {
            if let Some(mean) = s.mean {
                metric(&format!("{}.mean", s.column), mean);
            }
        }
        io::write_json("summary", &stats)
    }
}

weft_step::export!(SummaryStats);

/// Statistics of one column.
#[derive(Debug, Serialize, PartialEq)]
pub struct ColumnStats {
    /// Column name.
    pub column: String,
    /// Column type.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// Present values.
    pub count: usize,
    /// Missing values.
    pub missing: usize,
    /// Mean of a numeric column.
    pub mean: Option<f64>,
    /// Sample standard deviation of a numeric column (n − 1).
    pub std: Option<f64>,
    /// Minimum of a numeric column.
    pub min: Option<f64>,
    /// Maximum of a numeric column.
    pub max: Option<f64>,
    /// Distinct values of a text column.
    pub distinct: Option<usize>,
}

/// Computes the statistics of every column, with Welford's algorithm for mean and variance.
pub fn summarize(table: &Table) -> Vec<ColumnStats> {
    table
        .columns
        .iter()
        .map(|c| {
            let present: Vec<_> = c.values.iter().flatten().collect();
            let mut s = ColumnStats {
                column: c.name.clone(),
                ty: c.ty,
                count: present.len(),
                missing: c.values.len() - present.len(),
                mean: None,
                std: None,
                min: None,
                max: None,
                distinct: None,
            };
            if c.ty == ColumnType::String {
                let mut seen: Vec<String> = present.iter().map(|v| v.render()).collect();
                seen.sort_unstable();
                seen.dedup();
                s.distinct = Some(seen.len());
            } else if !present.is_empty() {
                let (mut n, mut mean, mut m2) = (0f64, 0f64, 0f64);
                let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
                for x in present.iter().filter_map(|v| v.as_f64()) {
                    n += 1.0;
                    let d = x - mean;
                    mean += d / n;
                    m2 += d * (x - mean);
                    lo = lo.min(x);
                    hi = hi.max(x);
                }
                s.mean = Some(mean);
                s.std = (n > 1.0).then(|| (m2 / (n - 1.0)).sqrt());
                s.min = Some(lo);
                s.max = Some(hi);
            }
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_step::table::{Column, Value};

    #[test]
    fn numeric_and_text() {
        let t = Table {
            columns: vec![
                Column {
                    name: "x".into(),
                    ty: ColumnType::Float,
                    values: vec![
                        Some(Value::Float(2.0)),
                        Some(Value::Float(4.0)),
                        None,
                        Some(Value::Float(6.0)),
                    ],
                },
                Column {
                    name: "s".into(),
                    ty: ColumnType::String,
                    values: vec![
                        Some(Value::Str("a".into())),
                        Some(Value::Str("b".into())),
                        Some(Value::Str("a".into())),
                        None,
                    ],
                },
            ],
        };
        let s = summarize(&t);
        assert_eq!((s[0].count, s[0].missing), (3, 1));
        assert_eq!(s[0].mean, Some(4.0));
        assert_eq!(s[0].std, Some(2.0));
        assert_eq!((s[0].min, s[0].max), (Some(2.0), Some(6.0)));
        assert_eq!(s[1].distinct, Some(2));
        assert_eq!(s[1].mean, None);
    }
}
