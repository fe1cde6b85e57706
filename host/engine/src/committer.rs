//! Commits finished steps on their own task, in first-in-first-out order, batching whatever
//! queued up while the previous commit was in flight.
//!
//! Why this is enough for durability: a step is committed only after its outputs were
//! published, and — FIFO — only after every step it read from was committed, since those
//! finished (and were queued) before it started. A crash may lose the newest finished steps;
//! `--resume` runs them again, never a committed one. Steps therefore need not wait for
//! their producers' commits before starting, so commits overlap execution and group up.

use crate::journal::{Journal, JournalError};
use crate::report::StepReport;
use std::sync::Arc;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

/// Most steps per transaction.
const MAX_BATCH: usize = 512;

/// The sending side; dropping it lets the committer finish. Without a task (a journal
/// that discards commits), sending does nothing.
pub(crate) struct Committer {
    tx: Option<UnboundedSender<StepReport>>,
    task: Option<JoinHandle<Result<(), JournalError>>>,
}

impl Committer {
    /// Starts committing the steps of `run_id` to `journal`; `on_error` runs once if a
    /// commit fails (the run should stop: it can no longer promise durability).
    pub fn start(
        journal: Arc<dyn Journal>,
        run_id: String,
        on_error: impl FnOnce(&JournalError) + Send + 'static,
    ) -> Committer {
        if journal.discards_commits() {
            return Committer { tx: None, task: None };
        }
        let (tx, rx) = unbounded_channel();
        let task = tokio::spawn(commit_all(journal, run_id, rx, on_error));
        Committer {
            tx: Some(tx),
            task: Some(task),
        }
    }

    /// Whether steps sent are kept (spares the caller a copy when not).
    pub fn keeps(&self) -> bool {
        self.tx.is_some()
    }

    /// Queues a finished step.
    pub fn send(&self, step: StepReport) {
        if let Some(tx) = &self.tx {
            // The task ends early only after a failed commit, which it reports at `finish`.
            let _ = tx.send(step);
        }
    }

    /// Waits until everything queued is committed.
    pub async fn finish(self) -> Result<(), JournalError> {
        drop(self.tx);
        match self.task {
            None => Ok(()),
            Some(task) => match task.await {
                Ok(result) => result,
                Err(e) => Err(JournalError(format!("the commit task ended: {e}"))),
            },
        }
    }
}

async fn commit_all(
    journal: Arc<dyn Journal>,
    run_id: String,
    mut rx: UnboundedReceiver<StepReport>,
    on_error: impl FnOnce(&JournalError),
) -> Result<(), JournalError> {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        if let Err(e) = journal.commit(&run_id, &batch).await {
            on_error(&e);
            return Err(e);
        }
        batch.clear();
    }
    Ok(())
}
