//! Stopping a run from outside: Ctrl-C, `weft cancel`, or the run's time limit. One
//! signal per run; its flag doubles as the sandbox's interrupt, so running steps stop at
//! the next epoch tick, and its watch channel wakes steps waiting out a retry backoff.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::watch;

/// Cancels one run; cheap to clone, every clone is the same signal.
#[derive(Clone, Debug)]
pub struct CancelSignal {
    flag: Arc<AtomicBool>,
    /// Why, and whether the stop is a failure (a time limit, lost records) rather than a
    /// cancel someone asked for; the first reason given wins.
    reason: Arc<watch::Sender<Option<(String, bool)>>>,
}

impl Default for CancelSignal {
    fn default() -> Self {
        Self {
            flag: Arc::new(AtomicBool::new(false)),
            reason: Arc::new(watch::channel(None).0),
        }
    }
}

impl CancelSignal {
    /// Asks the run to stop, saying why; the first reason given is kept.
    pub fn cancel(&self, reason: impl Into<String>) {
        self.stop(reason.into(), false);
    }

    /// Stops the run because it cannot go on (its time limit passed, its records failed):
    /// it ends as failed, not cancelled.
    pub fn fail(&self, reason: impl Into<String>) {
        self.stop(reason.into(), true);
    }

    fn stop(&self, reason: String, failure: bool) {
        self.reason.send_if_modified(|r| {
            if r.is_some() {
                return false;
            }
            *r = Some((reason, failure));
            true
        });
        self.flag.store(true, Ordering::Relaxed);
    }

    /// Whether the run was stopped as a failure (see [`CancelSignal::fail`]).
    pub fn failed(&self) -> bool {
        self.reason.borrow().as_ref().is_some_and(|(_, failure)| *failure)
    }

    /// Whether the run was asked to stop.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// Why the run was asked to stop.
    pub fn reason(&self) -> Option<String> {
        self.reason.borrow().as_ref().map(|(r, _)| r.clone())
    }

    /// Resolves once the run is asked to stop.
    pub async fn cancelled(&self) {
        let mut rx = self.reason.subscribe();
        // The sender lives as long as `self`, so `wait_for` cannot fail.
        let _ = rx.wait_for(Option::is_some).await;
    }

    /// The flag the sandbox polls at every epoch tick.
    pub(crate) fn interrupt(&self) -> Arc<AtomicBool> {
        self.flag.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_reason_wins_and_waiters_wake() {
        let signal = CancelSignal::default();
        let waiter = tokio::spawn({
            let s = signal.clone();
            async move { s.cancelled().await }
        });
        assert!(!signal.is_cancelled());
        signal.cancel("timed out");
        signal.cancel("Ctrl-C");
        waiter.await.expect("woke");
        assert!(signal.interrupt().load(Ordering::Relaxed));
        assert_eq!(signal.reason().as_deref(), Some("timed out"));
        assert!(!signal.failed());
        let failing = CancelSignal::default();
        failing.fail("time limit");
        assert!(failing.failed() && failing.is_cancelled());
        // A waiter that comes late returns at once.
        signal.cancelled().await;
    }
}
