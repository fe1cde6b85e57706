//! A step's log lines and where each came from.

/// Where a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    /// `log.emit` at a level (`trace`..`error`).
    Emit(&'static str),
    /// The guest's stdout.
    Stdout,
    /// The guest's stderr.
    Stderr,
    /// A note from the host (truncation, limits).
    Host,
}

impl LogStream {
    /// Short label for display.
    pub fn label(self) -> &'static str {
        match self {
            LogStream::Emit(level) => level,
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
            LogStream::Host => "host",
        }
    }
}

/// One line of a step's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Source and level.
    pub stream: LogStream,
    /// The text.
    pub message: String,
}
