//! Host side of the `log` and `metrics` imports. Each call is bounded: a message larger
//! than [`MAX_LOG_MESSAGE`] or a metric name longer than [`MAX_METRIC_NAME`] fails the step
//! (a request that size is a bug or an attack, and the host has already copied it once);
//! lines past the log's caps and metrics past [`MAX_METRICS`] are dropped with a note.

use crate::bindings::weft::step::{log, metrics, types};
use crate::state::StepState;
use weft_task::{LogLine, LogStream, StepFailure};

/// Largest message one `log.emit` may carry, in bytes.
pub const MAX_LOG_MESSAGE: usize = 64 << 10;
/// Most distinct metric names one execution may record.
pub const MAX_METRICS: usize = 10_000;
/// Longest metric name, in bytes.
pub const MAX_METRIC_NAME: usize = 256;

impl log::Host for StepState {
    async fn emit(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        if message.len() > MAX_LOG_MESSAGE {
            return Err(self.refuse(StepFailure::HostCallTooLarge(format!(
                "a log message of {} bytes (the limit is {MAX_LOG_MESSAGE})",
                message.len()
            ))));
        }
        let label = match level {
            log::Level::Trace => "trace",
            log::Level::Debug => "debug",
            log::Level::Info => "info",
            log::Level::Warn => "warn",
            log::Level::Error => "error",
        };
        // Only what is kept is traced: the caps bound the host's log as well as the records.
        if self.log.push(LogLine {
            stream: LogStream::Emit(label),
            message,
        }) && let Some(line) = self.log.lines.last()
        {
            tracing::debug!(target: "weft::step", level = label, "{}", line.message);
        }
        Ok(())
    }
}

impl metrics::Host for StepState {
    async fn record(&mut self, name: String, value: f64) -> wasmtime::Result<()> {
        if name.len() > MAX_METRIC_NAME {
            return Err(self.refuse(StepFailure::HostCallTooLarge(format!(
                "a metric name of {} bytes (the limit is {MAX_METRIC_NAME})",
                name.len()
            ))));
        }
        if !value.is_finite() {
            // SQL has no NaN, and an infinite accuracy means a bug upstream: say so here,
            // where the step can be named, instead of losing the value later.
            return Err(self.refuse(StepFailure::InvalidCall(format!(
                "metric `{}` = {value}: metrics must be finite numbers",
                crate::outcome::clip(&name, 64)
            ))));
        }
        if let Some(&at) = self.metric_index.get(&name) {
            self.metrics[at].1 = value;
        } else if self.metrics.len() < MAX_METRICS {
            self.metric_index.insert(name.clone(), self.metrics.len());
            self.metrics.push((name, value));
        } else if !self.metrics_dropped {
            self.metrics_dropped = true;
            self.log.push(LogLine {
                stream: LogStream::Host,
                message: format!(
                    "metric `{name}` and later new names dropped: a step records at most {MAX_METRICS} metrics"
                ),
            });
        }
        Ok(())
    }
}

impl types::Host for StepState {}
