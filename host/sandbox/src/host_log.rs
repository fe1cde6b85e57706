//! Host side of the `log` and `metrics` imports.

use crate::bindings::weft::step::{log, metrics, types};
use crate::outcome::{LogLine, LogStream};
use crate::state::StepState;

impl log::Host for StepState {
    async fn emit(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        let label = match level {
            log::Level::Trace => "trace",
            log::Level::Debug => "debug",
            log::Level::Info => "info",
            log::Level::Warn => "warn",
            log::Level::Error => "error",
        };
        tracing::debug!(target: "weft::step", level = label, "{message}");
        self.log.push(LogLine {
            stream: LogStream::Emit(label),
            message,
        });
        Ok(())
    }
}

/// Most distinct metric names one execution may record; guards host memory.
const MAX_METRICS: usize = 10_000;

impl metrics::Host for StepState {
    async fn record(&mut self, name: String, value: f64) -> wasmtime::Result<()> {
        if let Some(slot) = self.metrics.iter_mut().find(|(n, _)| *n == name) {
            slot.1 = value;
        } else if self.metrics.len() < MAX_METRICS && name.len() <= 256 {
            self.metrics.push((name, value));
        }
        Ok(())
    }
}

impl types::Host for StepState {}
