//! The table printed after a run: steps, status, durations, outputs, metrics, and where
//! the artifacts are.

use crate::progress::fmt_duration;
use crate::text;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use std::fmt::Write as _;
use std::time::Duration;
use weft_engine::{Reuse, RunReport, RunStatus, StepStatus};

fn fmt_size(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)]
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1 << 20 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{:.1} MiB", b / f64::from(1u32 << 20))
    }
}

/// Metrics listed per step in the table.
const MAX_METRICS_SHOWN: usize = 8;

/// Renders the report for a terminal.
pub fn render(report: &RunReport, store_url: &str) -> String {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["step", "status", "time", "outputs", "metrics"]);
    let any_instance = report.steps.iter().any(|s| s.instance.is_some());
    for s in &report.steps {
        let status = match (s.status, &s.reuse) {
            (StepStatus::Succeeded, Some(Reuse::Cached(_))) => "cached",
            (StepStatus::Succeeded, Some(Reuse::Resumed)) => "resumed",
            (StepStatus::Succeeded, None) if s.attempts.len() > 1 => "ok (retried)",
            (StepStatus::Succeeded, None) => "ok",
            (StepStatus::Failed, _) => "FAILED",
            (StepStatus::Blocked, _) => "blocked",
            (StepStatus::Skipped, _) => "skipped",
            (StepStatus::Cancelled, _) => "cancelled",
            (StepStatus::Pending, _) => "pending",
        };
        let time = match (&s.reuse, s.duration_ms) {
            (Some(_), _) | (None, None) => String::new(),
            (None, Some(ms)) => fmt_duration(Duration::from_secs_f64(ms / 1e3)),
        };
        let outputs = s
            .outputs
            .iter()
            .map(|(port, m)| {
                format!(
                    "{}: {} {} {}",
                    text::shown(port),
                    m.digest.short(),
                    fmt_size(m.size),
                    text::shown(&m.media_type)
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        // Long metric lists (a value per column) would drown the table; the rest is one
        // command away.
        let mut shown: Vec<String> = s
            .metrics
            .iter()
            .take(MAX_METRICS_SHOWN)
            .map(|(k, v)| format!("{}={}", text::shown(k), fmt_metric(*v)))
            .collect();
        if s.metrics.len() > MAX_METRICS_SHOWN {
            shown.push(format!(
                "(+{} more: weft metrics RUN --step {})",
                s.metrics.len() - MAX_METRICS_SHOWN,
                s.id
            ));
        }
        let metrics = shown.join("\n");
        // An instance of a matrix step shows the values it ran with under its id.
        let id = match &s.instance {
            Some(inst) if any_instance => {
                let values: Vec<String> = inst.values.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{}\n  {}", s.id, values.join(" "))
            }
            _ => s.id.clone(),
        };
        table.add_row([id.as_str(), status, &time, &outputs, &metrics]);
    }
    let mut out = format!("{table}\n");
    for s in report.steps.iter().filter(|s| s.status == StepStatus::Failed) {
        let _ = writeln!(
            out,
            "\nstep `{}` failed: {}",
            s.id,
            text::shown_lines(s.error.as_deref().unwrap_or("?"))
        );
        if s.attempts.len() > 1 {
            let _ = writeln!(out, "  after {} attempts", s.attempts.len());
        }
        let tail = s.log.len().saturating_sub(10);
        for line in &s.log[tail..] {
            let _ = writeln!(out, "  [{}] {}", line.stream, text::shown(&line.message));
        }
    }
    if let Some(reason) = &report.error {
        let _ = writeln!(out, "\nthe run stopped: {}", text::shown_lines(reason));
    }
    let verdict = match report.status {
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed => "FAILED",
        RunStatus::Cancelled => "was CANCELLED",
        RunStatus::Running => "is still running",
    };
    let reused = report.steps.iter().filter(|s| s.reuse.is_some()).count();
    let cancelled = report.count(StepStatus::Cancelled);
    let _ = writeln!(
        out,
        "\nrun {} {verdict} in {} ({} ok{}, {} failed, {} blocked, {} skipped{})",
        report.run_id,
        fmt_duration(Duration::from_secs_f64(report.duration_ms / 1e3)),
        report.count(StepStatus::Succeeded),
        if reused > 0 {
            format!(" of which {reused} reused")
        } else {
            String::new()
        },
        report.count(StepStatus::Failed),
        report.count(StepStatus::Blocked),
        report.count(StepStatus::Skipped),
        if cancelled > 0 {
            format!(", {cancelled} cancelled")
        } else {
            String::new()
        },
    );
    if report.status != RunStatus::Succeeded {
        let _ = writeln!(out, "resume:    weft run --resume {}", report.run_id);
    }
    let _ = writeln!(
        out,
        "artifacts: store {store_url}; `weft runs show {}` lists them",
        report.run_id
    );
    if let Some((step, port)) = report
        .steps
        .iter()
        .rev()
        .find_map(|s| s.outputs.keys().next().map(|p| (s.id.as_str(), p.as_str())))
    {
        // Instance ids (`split[3]`) hold brackets, which a shell would glob: quote them.
        let target = format!("{step}.{port}");
        let target = if target.contains('[') {
            format!("'{target}'")
        } else {
            target
        };
        let _ = writeln!(out, "get one:   weft artifact get {} {target} -o FILE", report.run_id);
    }
    out
}

fn fmt_metric(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}
