//! The data of one step's `Store`: WASI context, resource table, limiter, the artifact
//! access the step's bindings allow, and what it logged and measured.

use crate::host_artifacts::StepIo;
use crate::limiter::StepLimiter;
use crate::outcome::LogLine;
use crate::output_pipe::CappedPipe;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Per-execution store data.
pub struct StepState {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: StepLimiter,
    pub(crate) io: StepIo,
    pub(crate) log: StepLog,
    pub(crate) metrics: Vec<(String, f64)>,
    pub(crate) stdout: CappedPipe,
    pub(crate) stderr: CappedPipe,
    /// When the step must stop; checked at every epoch tick.
    pub(crate) deadline: Option<Instant>,
    pub(crate) timed_out: bool,
    /// Set from outside to stop the step at the next epoch tick.
    pub(crate) interrupt: Option<Arc<AtomicBool>>,
    pub(crate) interrupted: bool,
}

impl WasiView for StepState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A step's log lines with a total size cap.
pub struct StepLog {
    pub(crate) lines: Vec<LogLine>,
    bytes: usize,
    cap: usize,
    pub(crate) truncated: bool,
}

impl StepLog {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            lines: Vec::new(),
            bytes: 0,
            cap,
            truncated: false,
        }
    }

    /// Appends a line unless the cap is reached; returns whether it was kept.
    pub(crate) fn push(&mut self, line: LogLine) -> bool {
        if self.bytes + line.message.len() > self.cap {
            self.truncated = true;
            return false;
        }
        self.bytes += line.message.len();
        self.lines.push(line);
        true
    }
}
