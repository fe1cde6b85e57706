//! Why a step failed, in classes the scheduler acts on (retry or not) and users read.

use std::time::Duration;

/// Why a step failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepFailure {
    /// The step said its inputs or parameters are wrong.
    #[error("bad input: {0}")]
    BadInput(String),
    /// The step failed in a way it says a retry may fix.
    #[error("failed: {0}")]
    Failed(String),
    /// The wall-clock limit passed.
    #[error("timed out after {0:?}")]
    TimedOut(Duration),
    /// The memory limit was hit.
    #[error("out of memory: {0}")]
    OutOfMemory(String),
    /// The fuel budget ran out.
    #[error("ran out of fuel (CPU budget of {0} units)")]
    OutOfFuel(u64),
    /// A per-step cap on a shared resource was hit: open artifacts, instances, memories,
    /// tables, handles or output bytes; the message says which and its limit.
    #[error("resource limit: {0}")]
    ResourceLimit(String),
    /// A quota of the tenant the run belongs to was exceeded (a shared server's limit on,
    /// e.g., the artifact bytes of one run); the message names the quota and its value.
    #[error("quota exceeded: {0}")]
    Quota(String),
    /// One host call asked for more than a call may carry (a write chunk, a log message,
    /// a metric name).
    #[error("host call too large: {0}")]
    HostCallTooLarge(String),
    /// A host call with a value the host cannot take (a NaN or infinite metric).
    #[error("invalid host call: {0}")]
    InvalidCall(String),
    /// The guest called `exit` (WASI `exit`) instead of returning from `run`.
    #[error("the step called exit({0}) instead of returning")]
    Exited(i32),
    /// The guest trapped (panicked, hit `unreachable`, ...); carries the guest's last stderr.
    #[error("crashed: {0}")]
    Trapped(String),
    /// The step returned success without creating a declared output.
    #[error("did not write its declared output `{0}`")]
    MissingOutput(String),
    /// An input's bytes in the store do not match its address (found while the step read
    /// it, or when the host read what the step left unread): the step's result cannot be
    /// trusted. A retry reads the same bytes; producing the input again repairs it.
    #[error("damaged input: {0}")]
    DamagedInput(String),
    /// The host failed around the step (store error, ...).
    #[error("host error: {0}")]
    Host(String),
    /// Stopped from outside: the run was cancelled or ran out of time.
    #[error("cancelled")]
    Cancelled,
}

impl StepFailure {
    /// Whether running the step again could succeed (only failures the step calls
    /// transient, and host-side errors).
    pub fn is_retryable(&self) -> bool {
        matches!(self, StepFailure::Failed(_) | StepFailure::Host(_))
    }

    /// The same failure with its message cut to at most `max` bytes (on a character
    /// boundary) and a note saying how long it was: a step's words are kept in memory, in
    /// the records and on screen for every attempt.
    pub fn capped(self, max: usize) -> StepFailure {
        use StepFailure as F;
        let cut = |m: String| cap_message(m, max);
        match self {
            F::BadInput(m) => F::BadInput(cut(m)),
            F::Failed(m) => F::Failed(cut(m)),
            F::OutOfMemory(m) => F::OutOfMemory(cut(m)),
            F::ResourceLimit(m) => F::ResourceLimit(cut(m)),
            F::Quota(m) => F::Quota(cut(m)),
            F::HostCallTooLarge(m) => F::HostCallTooLarge(cut(m)),
            F::Trapped(m) => F::Trapped(cut(m)),
            F::MissingOutput(m) => F::MissingOutput(cut(m)),
            F::Host(m) => F::Host(cut(m)),
            F::DamagedInput(m) => F::DamagedInput(cut(m)),
            F::InvalidCall(m) => F::InvalidCall(cut(m)),
            other @ (F::TimedOut(_) | F::OutOfFuel(_) | F::Exited(_) | F::Cancelled) => other,
        }
    }
}

/// `message` cut to at most `max` bytes plus a note, if it is longer.
fn cap_message(mut message: String, max: usize) -> String {
    if message.len() <= max {
        return message;
    }
    let total = message.len();
    let mut end = max;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message.truncate(end);
    message.push_str(&format!(" [... truncated: the message had {total} bytes]"));
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_with_a_note() {
        let long = StepFailure::Failed("é".repeat(3000)).capped(4097);
        let StepFailure::Failed(m) = long else {
            panic!("kept its class")
        };
        assert!(m.starts_with(&"é".repeat(2048)), "cut on a character boundary");
        assert!(m.ends_with("[... truncated: the message had 6000 bytes]"), "{m}");
        assert!(m.len() < 4200);
        let short = StepFailure::BadInput("no column `x`".into());
        assert_eq!(short.clone().capped(4096), short);
        assert_eq!(StepFailure::Exited(0).capped(1), StepFailure::Exited(0));
    }
}
