//! `/metrics` in Prometheus' text format: runs and steps by outcome, step durations, the
//! steps executing and waiting for a slot, artifact bytes moved. Counted here from the runs'
//! events and the handlers, without labels naming tenants (the endpoint takes no token).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the step-duration histogram, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0, 300.0, 3600.0];

/// Step outcomes counted.
pub(crate) const STEP_OUTCOMES: [&str; 6] = ["succeeded", "failed", "cached", "skipped", "blocked", "cancelled"];

/// Run outcomes counted.
const RUN_OUTCOMES: [&str; 4] = ["succeeded", "failed", "cancelled", "interrupted"];

/// The server's counters.
#[derive(Default)]
pub(crate) struct Metrics {
    runs_submitted: AtomicU64,
    runs_finished: [AtomicU64; RUN_OUTCOMES.len()],
    steps_finished: [AtomicU64; STEP_OUTCOMES.len()],
    /// Per bucket of [`BUCKETS`], then the `+Inf` one.
    duration_buckets: [AtomicU64; BUCKETS.len() + 1],
    /// Sum of step durations, in microseconds.
    duration_sum_us: AtomicU64,
    uploaded_bytes: AtomicU64,
    downloaded_bytes: AtomicU64,
}

fn count(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

impl Metrics {
    pub(crate) fn run_submitted(&self) {
        count(&self.runs_submitted, 1);
    }

    pub(crate) fn run_finished(&self, status: &str) {
        if let Some(i) = RUN_OUTCOMES.iter().position(|s| *s == status) {
            count(&self.runs_finished[i], 1);
        }
    }

    /// A step ended as `outcome` (one of [`STEP_OUTCOMES`]), having executed for `seconds`.
    pub(crate) fn step_finished(&self, outcome: &str, seconds: Option<f64>) {
        if let Some(i) = STEP_OUTCOMES.iter().position(|s| *s == outcome) {
            count(&self.steps_finished[i], 1);
        }
        if let Some(seconds) = seconds {
            let bucket = BUCKETS.iter().position(|b| seconds <= *b).unwrap_or(BUCKETS.len());
            count(&self.duration_buckets[bucket], 1);
            count(&self.duration_sum_us, (seconds * 1e6) as u64);
        }
    }

    pub(crate) fn uploaded(&self, bytes: u64) {
        count(&self.uploaded_bytes, bytes);
    }

    pub(crate) fn downloaded(&self, bytes: u64) {
        count(&self.downloaded_bytes, bytes);
    }

    /// The text served at `/metrics`, with the gauges of the moment.
    pub(crate) fn render(&self, now: &Now) -> String {
        let Now {
            executing,
            waiting,
            runs,
            stored_bytes,
            loads,
        } = *now;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = String::new();
        head(
            &mut out,
            "weft_runs_submitted_total",
            "counter",
            "Workflow runs accepted.",
        );
        let _ = writeln!(out, "weft_runs_submitted_total {}", get(&self.runs_submitted));
        head(
            &mut out,
            "weft_runs_finished_total",
            "counter",
            "Runs that ended, by status.",
        );
        for (status, counter) in RUN_OUTCOMES.iter().zip(&self.runs_finished) {
            let _ = writeln!(out, "weft_runs_finished_total{{status=\"{status}\"}} {}", get(counter));
        }
        head(
            &mut out,
            "weft_steps_finished_total",
            "counter",
            "Steps that ended, by outcome.",
        );
        for (outcome, counter) in STEP_OUTCOMES.iter().zip(&self.steps_finished) {
            let _ = writeln!(
                out,
                "weft_steps_finished_total{{outcome=\"{outcome}\"}} {}",
                get(counter)
            );
        }
        head(
            &mut out,
            "weft_step_duration_seconds",
            "histogram",
            "Execution time of steps that ran to an end.",
        );
        let mut cumulative = 0;
        for (bound, counter) in BUCKETS.iter().zip(&self.duration_buckets) {
            cumulative += get(counter);
            let _ = writeln!(out, "weft_step_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += get(&self.duration_buckets[BUCKETS.len()]);
        let _ = writeln!(out, "weft_step_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = get(&self.duration_sum_us) as f64 / 1e6;
        let _ = writeln!(out, "weft_step_duration_seconds_sum {sum}");
        let _ = writeln!(out, "weft_step_duration_seconds_count {cumulative}");
        for (name, help, value) in [
            ("weft_steps_executing", "Steps holding a slot now.", executing as u64),
            (
                "weft_steps_waiting",
                "Steps waiting for a slot now (the queue).",
                waiting as u64,
            ),
            ("weft_runs_executing", "Runs executing in this server now.", runs as u64),
            (
                "weft_stored_bytes",
                "Bytes stored by the tenants this server counted since it started (as their stored-bytes quotas count them).",
                stored_bytes,
            ),
        ] {
            head(&mut out, name, "gauge", help);
            let _ = writeln!(out, "{name} {value}");
        }
        for (name, help, counter) in [
            (
                "weft_artifact_upload_bytes_total",
                "Bytes of artifacts uploaded.",
                &self.uploaded_bytes,
            ),
            (
                "weft_artifact_download_bytes_total",
                "Bytes of artifacts served.",
                &self.downloaded_bytes,
            ),
        ] {
            head(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {}", get(counter));
        }
        head(
            &mut out,
            "weft_component_loads_total",
            "counter",
            "Component loads, by where the code came from: memory (loaded already), cache (the compile cache), compiled.",
        );
        for (source, n) in [
            ("memory", loads.memory),
            ("cache", loads.cache),
            ("compiled", loads.compiled),
        ] {
            let _ = writeln!(out, "weft_component_loads_total{{source=\"{source}\"}} {n}");
        }
        out
    }
}

/// The gauges of the moment.
pub(crate) struct Now {
    /// Steps holding a slot.
    pub executing: usize,
    /// Steps waiting for one.
    pub waiting: usize,
    /// Runs executing.
    pub runs: usize,
    /// Bytes the counted tenants store.
    pub stored_bytes: u64,
    /// Component loads of the process.
    pub loads: weft_runner::LoadCounts,
}

/// A metric family's `HELP` and `TYPE` lines.
fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}
