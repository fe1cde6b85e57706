//! Compare (`/ui/compare`), the experiment-tracking view. With `runs=A,B,…` (or `runs`
//! repeated, as the runs page's checkboxes send it): the runs' parameters and metrics side
//! by side, rows whose values differ marked, and a metric plotted across the runs. With
//! `run=ID`: each fan-out of that run that recorded metrics (a sweep), one row per
//! instance with its matrix values and metrics, the best value of each metric marked, and
//! a metric plotted against a swept parameter. The plots are drawn by `compare.js`
//! (uPlot) from the page's data; the tables are the same numbers without script.

use super::layout::{page, page_with};
use super::session::UiTenant;
use crate::State;
use axum::extract::{Query, State as AxumState};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use weft_engine::{RunReport, StepReport};
use weft_records::{MetricsComparison, RecordsError};

/// Most runs compared at once (as the API).
const MAX_RUNS: usize = 100;

/// Metric names (columns of a sweep, rows of a comparison) shown; a step may record up to
/// 10,000 names, which no table should hold. The rest are counted and left out.
const METRICS: usize = 50;
/// Rows of a comparison shown (steps × metrics), for the same reason.
const ROWS: usize = 500;

/// The scripts and styles the plots need.
const PLOTS: [&str; 3] = ["vendor/uPlot.min.css", "vendor/uPlot.min.js", "compare.js"];

/// `GET /ui/compare`.
pub(crate) async fn compare(
    AxumState(state): AxumState<Arc<State>>,
    UiTenant(tenant): UiTenant,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let pairs = query.map(|Query(q)| q).unwrap_or_default();
    let records = state.runner(&tenant).records;
    let refuse = |status: StatusCode, why: Markup| {
        let content = html! {
            h1 { "Compare" }
            p role="alert" { (why) }
            p { "Tick runs on the " a href="/ui/" { "runs page" } " and compare them, or open a sweep's run and compare its instances." }
        };
        let mut response = page("Compare", Some(tenant.name()), content);
        *response.status_mut() = status;
        response
    };
    if let Some((_, run_id)) = pairs.iter().find(|(k, _)| k == "run") {
        return match records.run(run_id).await {
            Ok(detail) => sweep_page(tenant.name(), &detail.report()),
            Err(RecordsError::UnknownRun(_)) => refuse(
                StatusCode::NOT_FOUND,
                html! { "This tenant has no run " code { (run_id) } "." },
            ),
            Err(e) => super::runs::failure(tenant.name(), &e),
        };
    }
    let mut ids: Vec<&str> = Vec::new();
    for (_, value) in pairs.iter().filter(|(k, _)| k == "runs") {
        for id in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    if ids.len() < 2 || ids.len() > MAX_RUNS {
        return refuse(
            StatusCode::BAD_REQUEST,
            html! { "Pick 2 to " (MAX_RUNS) " runs to compare (" (ids.len()) " picked)." },
        );
    }
    match records.compare_runs(&ids, None).await {
        Ok(comparison) => runs_page(tenant.name(), &comparison),
        Err(RecordsError::UnknownRun(id)) => refuse(
            StatusCode::NOT_FOUND,
            html! { "This tenant has no run " code { (id) } "." },
        ),
        Err(e) => super::runs::failure(tenant.name(), &e),
    }
}

/// Whether a row's values are not all the same.
fn differs<T: PartialEq>(values: &[T]) -> bool {
    values.windows(2).any(|w| w[0] != w[1])
}

fn runs_page(tenant: &str, comparison: &MetricsComparison) -> Response {
    let runs = &comparison.runs;
    let names: Vec<String> = {
        let mut names: Vec<String> = runs.iter().flat_map(|r| r.params.keys().cloned()).collect();
        names.sort();
        names.dedup();
        names
    };
    let rows = &comparison.rows[..comparison.rows.len().min(ROWS)];
    let series: BTreeMap<String, &Vec<Option<f64>>> = rows
        .iter()
        .map(|row| (format!("{} · {}", row.step, row.metric), &row.values))
        .collect();
    let data = serde_json::json!({
        "mode": "runs",
        "runs": runs.iter().map(|r| &r.run_id).collect::<Vec<_>>(),
        "series": series,
    })
    .to_string();
    let content = html! {
        h1 { "Compare " (runs.len()) " runs" }
        p.note { "Rows whose values differ between the runs are marked." }
        div.scroll {
            table #compare-table aria-label="Parameters and metrics of each run" {
                thead { tr {
                    th scope="col" { "" }
                    @for r in runs { th scope="col" { a href={ "/ui/runs/" (r.run_id) } { code { (r.run_id) } } br; span.note { (r.workflow) } } }
                } }
                tbody {
                    tr.section { th colspan=(runs.len() + 1) scope="rowgroup" { "Parameters" } }
                    @for name in &names {
                        @let values: Vec<Option<&serde_json::Value>> = runs.iter().map(|r| r.params.get(name)).collect();
                        tr.differs[differs(&values)] {
                            th scope="row" { (name) }
                            @for v in &values { td { @if let Some(v) = v { code { (v) } } } }
                        }
                    }
                    tr.section { th colspan=(runs.len() + 1) scope="rowgroup" { "Metrics" } }
                    @for row in rows {
                        tr.differs[differs(&row.values)] {
                            th scope="row" { (row.step) " · " (row.metric) }
                            @for v in &row.values { td.num { @if let Some(v) = v { (fmt(*v)) } } }
                        }
                    }
                }
            }
        }
        @if comparison.rows.len() > rows.len() {
            p.note { "The first " (rows.len()) " of " (comparison.rows.len()) " metric rows (the API gives all: "
                code { "GET /api/v1/compare?runs=…" } ")." }
        }
        @if !rows.is_empty() {
            h2 { "A metric across the runs" }
            (plot(&data))
        }
    };
    page_with("Compare", Some(tenant), &PLOTS, content)
}

/// The fan-outs of a run that recorded metrics: authored step → its instances.
fn sweeps(report: &RunReport) -> Vec<(&str, Vec<&StepReport>)> {
    let mut sweeps: Vec<(&str, Vec<&StepReport>)> = Vec::new();
    for step in &report.steps {
        let Some(instance) = &step.instance else { continue };
        match sweeps.iter_mut().find(|(of, _)| *of == instance.of) {
            Some((_, members)) => members.push(step),
            None => sweeps.push((&instance.of, vec![step])),
        }
    }
    sweeps.retain(|(_, members)| members.iter().any(|s| !s.metrics.is_empty()));
    sweeps
}

fn sweep_page(tenant: &str, report: &RunReport) -> Response {
    let sweeps = sweeps(report);
    let content = html! {
        h1 { "Sweeps of run " a href={ "/ui/runs/" (report.run_id) } { code { (report.run_id) } } }
        @if sweeps.is_empty() {
            p.empty { "This run has no fanned-out step that recorded metrics." }
        }
        @for (of, members) in &sweeps { (sweep(&report.run_id, of, members)) }
    };
    page_with("Compare", Some(tenant), &PLOTS, content)
}

/// One sweep: a row per instance, its matrix values and metrics (the last value of each
/// name), the best of each metric marked; and the plot's data.
fn sweep(run_id: &str, of: &str, members: &[&StepReport]) -> Markup {
    // Matrix parameters and metric names in the order first seen; each instance's metrics
    // by name (the last value of a name recorded twice).
    let mut params: Vec<&str> = Vec::new();
    let mut metrics: Vec<&str> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut by_name: HashMap<&str, HashMap<&str, f64>> = HashMap::with_capacity(members.len());
    for s in members {
        for name in s.instance.iter().flat_map(|i| i.values.keys()) {
            if !params.contains(&name.as_str()) {
                params.push(name);
            }
        }
        for (name, _) in &s.metrics {
            if seen.insert(name) {
                metrics.push(name);
            }
        }
        by_name.insert(&s.id, s.metrics.iter().map(|(n, v)| (n.as_str(), *v)).collect());
    }
    let left_out = metrics.len().saturating_sub(METRICS);
    metrics.truncate(METRICS);
    let metric = |s: &StepReport, name: &str| by_name.get(s.id.as_str()).and_then(|m| m.get(name)).copied();
    let value = |s: &StepReport, name: &str| s.instance.as_ref().and_then(|i| i.values.get(name)).cloned();
    let best: BTreeMap<&str, f64> = metrics
        .iter()
        .filter_map(|m| {
            members
                .iter()
                .filter_map(|s| metric(s, m))
                .fold(None, |top: Option<f64>, v| Some(top.map_or(v, |t| t.max(v))))
                .map(|v| (*m, v))
        })
        .collect();
    let data = serde_json::json!({
        "mode": "sweep",
        "params": params.iter().map(|p| (p.to_string(), members.iter().map(|s| value(s, p).and_then(|v| v.as_f64())).collect::<Vec<_>>())).collect::<BTreeMap<_, _>>(),
        "metrics": metrics.iter().map(|m| (m.to_string(), members.iter().map(|s| metric(s, m)).collect::<Vec<_>>())).collect::<BTreeMap<_, _>>(),
    })
    .to_string();
    let id = format!("sweep-{of}");
    html! {
        section.sweep #(id) aria-labelledby={ (id) "-title" } {
            h2 #{ (id) "-title" } { code { (of) } " × " (members.len()) }
            p.note { "The highest value of each metric is marked."
                @if left_out > 0 { " The first " (METRICS) " metric names are shown; " (left_out) " more are not." } }
            div.scroll {
                table.sweep-table aria-label={ "Instances of " (of) } {
                    thead { tr {
                        th scope="col" { "Instance" }
                        @for p in &params { th scope="col" { (p) } }
                        @for m in &metrics { th scope="col" { (m) } }
                    } }
                    tbody {
                        @for s in members {
                            tr {
                                th scope="row" { a href=(super::step::url(run_id, &s.id)) { code { (s.id) } } }
                                @for p in &params { td { @if let Some(v) = value(s, p) { code { (v) } } } }
                                @for m in &metrics {
                                    @let v = metric(s, m);
                                    td.num.top[v.is_some() && v == best.get(m).copied()] { @if let Some(v) = v { (fmt(v)) } }
                                }
                            }
                        }
                    }
                }
            }
            h3 { "A metric against a swept parameter" }
            (plot(&data))
        }
    }
}

/// The plot's place: its data for `compare.js`, and the controls it fills in.
fn plot(data: &str) -> Markup {
    html! {
        figure.plot data-plot=(data) {
            div.plot-controls {}
            div.plot-canvas { noscript { "The plot needs JavaScript; the table above has its numbers." } }
        }
    }
}

/// A metric's value to 4 significant digits (at most 12 decimals), without trailing zeros.
fn fmt(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v.is_finite() { "0".into() } else { v.to_string() };
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = usize::try_from((3 - magnitude).clamp(0, 12)).unwrap_or(0);
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::fmt;

    #[test]
    fn values_keep_four_significant_digits() {
        assert_eq!(fmt(0.98131), "0.9813");
        assert_eq!(fmt(3e-5), "0.00003");
        assert_eq!(fmt(-1.5e-5), "-0.000015");
        assert_eq!(fmt(1234.5678), "1235");
        assert_eq!(fmt(0.5), "0.5");
        assert_eq!(fmt(0.0), "0");
        assert_eq!(fmt(-0.0), "0");
    }
}
