//! `weft metrics`: the metrics steps recorded, side by side across runs.

use crate::settings::Settings;
use anyhow::bail;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use std::collections::BTreeMap;

pub async fn metrics(
    runs: Vec<String>,
    last: Option<usize>,
    step_filter: Option<String>,
    settings: &Settings,
) -> anyhow::Result<u8> {
    let records = settings.records().await?;
    let mut ids = runs;
    if let Some(n) = last {
        let newest = records.list_runs(u32::try_from(n).unwrap_or(u32::MAX)).await?;
        ids.extend(newest.into_iter().rev().map(|r| r.id));
    }
    if ids.is_empty() {
        bail!("name runs to compare, or pass --last N");
    }
    let mut reports = Vec::new();
    for id in &ids {
        reports.push(crate::commands::runs::recorded_report(&records, id).await?);
    }
    // Row key: (step, metric), in first-seen order of steps and metrics.
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut values: BTreeMap<(String, String), Vec<Option<f64>>> = BTreeMap::new();
    for (col, report) in reports.iter().enumerate() {
        for step in &report.steps {
            if step_filter.as_ref().is_some_and(|f| !step.id.starts_with(f.as_str())) {
                continue;
            }
            for (name, value) in &step.metrics {
                let key = (step.id.clone(), name.clone());
                let cells = values.entry(key.clone()).or_insert_with(|| {
                    rows.push(key.clone());
                    vec![None; reports.len()]
                });
                cells[col] = Some(*value);
            }
        }
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec!["step".to_string(), "metric".to_string()];
    header.extend(
        reports
            .iter()
            .map(|r| format!("{}\n{}", r.run_id, crate::text::shown(&r.workflow))),
    );
    table.set_header(header);
    for key in &rows {
        let mut row = vec![key.0.clone(), crate::text::shown(&key.1).into_owned()];
        row.extend(values[key].iter().map(|v| v.map_or_else(|| "-".to_string(), fmt_value)));
        table.add_row(row);
    }
    println!("{table}");
    Ok(0)
}

/// Six decimals at most, trailing zeros dropped: `0.933333`, `120`.
fn fmt_value(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".to_string() } else { s.to_string() }
}
