//! The data of one step's `Store`: WASI context, resource table, limiter, the artifact
//! access the step's bindings allow, and what it logged and measured.

use crate::clock::VirtualTime;
use crate::host_artifacts::StepIo;
use crate::limiter::StepLimiter;
use crate::output_pipe::CappedPipe;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use weft_task::{LogLine, LogStream, StepFailure};

/// Per-execution store data.
pub struct StepState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: StepLimiter,
    pub(crate) io: StepIo,
    pub(crate) log: StepLog,
    pub(crate) metrics: Vec<(String, f64)>,
    /// Where each name sits in `metrics`: re-recording a name costs a lookup, not a scan.
    pub(crate) metric_index: std::collections::HashMap<String, usize>,
    /// Whether a metric was dropped at the cap (noted in the log once).
    pub(crate) metrics_dropped: bool,
    pub(crate) stdout: CappedPipe,
    pub(crate) stderr: CappedPipe,
    /// When the step must stop; checked at every epoch tick.
    pub(crate) deadline: Option<Instant>,
    pub(crate) timed_out: bool,
    /// Set from outside to stop the step at the next epoch tick.
    pub(crate) interrupt: Option<Arc<AtomicBool>>,
    pub(crate) interrupted: bool,
    /// The execution's virtual time, behind both WASI clocks.
    pub(crate) time: VirtualTime,
    /// Why a host call trapped the guest (a limit it hit, a request too large): the
    /// failure reported instead of the bare trap.
    pub(crate) cause: Option<StepFailure>,
    /// The first failure of the store this step met (an input that could not be opened
    /// or read, an output that could not be written): a failure the step reports after it
    /// is the store's doing, not the step's ([`StepState::blame`]).
    pub(crate) store_trouble: Option<String>,
    /// Whether the component was instantiated: an error before that, which is no trap and
    /// no limit the guest hit, is the host's (wasmtime could not set up its memory).
    pub(crate) instantiated: bool,
}

impl StepState {
    /// Traps the guest, remembering why: the step fails with `failure`.
    pub(crate) fn refuse(&mut self, failure: StepFailure) -> wasmtime::Error {
        let error = wasmtime::format_err!("{failure}");
        self.cause.get_or_insert(failure);
        error
    }

    /// Records what went wrong in the store for the step's log and the host's tracing,
    /// where the details belong: what the guest is told stays generic. Also that the store
    /// failed under the step ([`blame`]), unless its disk is full. Only what the log
    /// keeps is traced, so a guest repeating a failing call cannot flood the host's log.
    pub(crate) fn host_problem(&mut self, what: &str, error: &weft_artifacts::ArtifactError) {
        let message = format!("{what}: {error}");
        // A full disk is no outage a later try waits out (and the step may have filled it
        // itself): what the step does next stays its own.
        if self.store_trouble.is_none() && !error.is_full() {
            // Which call, not the store's words: those (paths, hosts) stay in the log.
            self.store_trouble = Some(what.to_string());
        }
        if self.log.push(LogLine {
            stream: LogStream::Host,
            message: message.clone(),
        }) {
            tracing::warn!(target: "weft::step", "{message}");
        }
    }
}

/// The failure to report for a step that ended in `failure` after meeting `store_trouble`:
/// what the step did next (failed, said its input is bad, crashed, exited, left an output
/// unwritten) is taken for the store's doing, a host failure, so it is tried again
/// (elsewhere, on workers) instead of failing the run. Limits, cancels and damaged bytes
/// keep their own class.
pub(crate) fn blame(failure: StepFailure, store_trouble: Option<&str>) -> StepFailure {
    let Some(trouble) = store_trouble else {
        return failure;
    };
    match failure {
        StepFailure::Failed(_)
        | StepFailure::BadInput(_)
        | StepFailure::Trapped(_)
        | StepFailure::Exited(_)
        | StepFailure::MissingOutput(_) => StepFailure::Host(format!(
            "the store failed under the step ({trouble}; the details are in the step's log); the step then ended with: {failure}"
        )),
        other => other,
    }
}

impl WasiView for StepState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Bytes every line is counted as on top of its text: an empty line still costs a row in
/// memory and in the run records, so a flood of them must reach the cap too.
const LINE_OVERHEAD: usize = 64;

/// A step's log lines with caps on their number and total size.
pub struct StepLog {
    pub(crate) lines: Vec<LogLine>,
    bytes: usize,
    max_bytes: usize,
    max_lines: usize,
    /// Lines dropped because a cap was reached.
    pub(crate) dropped: u64,
}

impl StepLog {
    pub(crate) fn new(max_bytes: usize, max_lines: usize) -> Self {
        Self {
            lines: Vec::new(),
            bytes: 0,
            max_bytes,
            max_lines,
            dropped: 0,
        }
    }

    /// Appends a line unless a cap is reached; returns whether it was kept.
    pub(crate) fn push(&mut self, line: LogLine) -> bool {
        let cost = line.message.len().saturating_add(LINE_OVERHEAD);
        if self.lines.len() >= self.max_lines || self.bytes.saturating_add(cost) > self.max_bytes {
            self.dropped += 1;
            return false;
        }
        self.bytes += cost;
        self.lines.push(line);
        true
    }

    /// The lines kept, and a closing host note if some were dropped (the note may go past
    /// the caps by one line).
    pub(crate) fn finish(mut self) -> Vec<LogLine> {
        if self.dropped > 0 {
            self.lines.push(LogLine {
                stream: LogStream::Host,
                message: format!(
                    "log truncated: {} more lines dropped (a step keeps at most {} lines and {} bytes of log)",
                    self.dropped, self.max_lines, self.max_bytes
                ),
            });
        }
        self.lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn line(text: &str) -> LogLine {
        LogLine {
            stream: LogStream::Emit("info"),
            message: text.into(),
        }
    }

    #[test]
    fn empty_lines_count_against_the_caps() {
        let mut log = StepLog::new(1 << 20, 100);
        for _ in 0..1000 {
            log.push(line(""));
        }
        let lines = log.finish();
        assert_eq!(lines.len(), 101);
        assert!(
            lines[100].message.contains("900 more lines dropped"),
            "{:?}",
            lines[100]
        );
        let mut by_bytes = StepLog::new(10 * LINE_OVERHEAD, 1000);
        for _ in 0..1000 {
            by_bytes.push(line(""));
        }
        assert_eq!(by_bytes.finish().len(), 11);
    }
    #[test]
    fn what_a_step_does_after_the_store_failed_is_the_store_s_doing() {
        let trouble = Some("artifact-open: input `data` (inputs.data)");
        for failure in [
            StepFailure::Failed("no input".into()),
            StepFailure::BadInput("no input".into()),
            StepFailure::Trapped("panicked".into()),
            StepFailure::Exited(1),
            StepFailure::MissingOutput("out".into()),
        ] {
            let blamed = blame(failure.clone(), trouble);
            assert!(
                matches!(&blamed, StepFailure::Host(m) if m.ends_with(&failure.to_string())),
                "{blamed:?}"
            );
            // Without trouble in the store the step's own failure stands.
            assert_eq!(blame(failure.clone(), None), failure);
        }
        for own in [
            StepFailure::TimedOut(Duration::from_secs(1)),
            StepFailure::Cancelled,
            StepFailure::DamagedInput("bad bytes".into()),
            StepFailure::OutOfFuel(5),
        ] {
            assert_eq!(blame(own.clone(), trouble), own);
        }
    }
}
