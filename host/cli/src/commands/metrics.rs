//! `weft metrics`: the metrics steps recorded, side by side across runs.

use crate::settings::Settings;
use anyhow::bail;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use weft_records::MetricsComparison;

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
    print_table(&weft_records::compare_metrics(&reports, step_filter.as_deref()));
    Ok(0)
}

/// The comparison as a table: a row per step and metric, a column per run.
pub(crate) fn print_table(compared: &MetricsComparison) {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    let mut header = vec!["step".to_string(), "metric".to_string()];
    header.extend(
        compared
            .runs
            .iter()
            .map(|r| format!("{}\n{}", r.run_id, crate::text::shown(&r.workflow))),
    );
    table.set_header(header);
    for row in &compared.rows {
        let mut cells = vec![row.step.clone(), crate::text::shown(&row.metric).into_owned()];
        cells.extend(row.values.iter().map(|v| v.map_or_else(|| "-".to_string(), fmt_value)));
        table.add_row(cells);
    }
    println!("{table}");
}

/// Six decimals at most, trailing zeros dropped: `0.933333`, `120`.
fn fmt_value(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".to_string() } else { s.to_string() }
}
