//! Commits finished steps on their own task, in first-in-first-out order, batching whatever
//! queued up while the previous commit was in flight.
//!
//! Why this is enough for durability: a step is committed only after its outputs were
//! published, and — FIFO — only after every step it read from was committed, since those
//! finished (and were queued) before it started. A crash may lose the newest finished steps;
//! `--resume` runs them again, never a committed one. Steps therefore need not wait for
//! their producers' commits before starting, so commits overlap execution and group up.

use crate::journal::{Journal, JournalError};
use crate::report::{RunReport, StepReport};
use std::sync::Arc;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;

/// Most steps per transaction.
const MAX_BATCH: usize = 512;

/// How long the first finished step of a batch waits for others to commit with it.
const GROUP_WINDOW: std::time::Duration = std::time::Duration::from_millis(1);

/// The sending side; dropping it lets the committer finish. Without a task (a journal
/// that discards commits), sending does nothing.
pub(crate) struct Committer {
    tx: Option<UnboundedSender<StepReport>>,
    task: Option<JoinHandle<Result<(), JournalError>>>,
}

impl Committer {
    /// Starts recording `run` (its planned steps, through `Journal::begin`, before any
    /// commit) and committing its steps to `journal`; `on_error` runs once if that fails
    /// (the run should stop: it can no longer promise durability).
    pub fn start(
        journal: Arc<dyn Journal>,
        run: RunReport,
        on_error: impl FnOnce(&JournalError) + Send + 'static,
    ) -> Committer {
        if journal.discards_commits() {
            return Committer { tx: None, task: None };
        }
        let (tx, rx) = unbounded_channel();
        let task = tokio::spawn(commit_all(journal, run, rx, on_error));
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
    run: RunReport,
    mut rx: UnboundedReceiver<StepReport>,
    on_error: impl FnOnce(&JournalError),
) -> Result<(), JournalError> {
    // The run starts without waiting for its step rows: they are written here, first.
    if let Err(e) = journal.begin(&run).await {
        on_error(&e);
        return Err(e);
    }
    let run_id = run.run_id;
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // Let steps finishing right now join this transaction: fewer, larger commits cost
        // the two cores less than one per step. The channel closing (the run's end) or a
        // full batch cuts the wait short.
        let window = tokio::time::sleep(GROUP_WINDOW);
        tokio::pin!(window);
        while batch.len() < MAX_BATCH {
            let room = MAX_BATCH - batch.len();
            tokio::select! {
                () = &mut window => break,
                n = rx.recv_many(&mut batch, room) => if n == 0 { break },
            }
        }
        if let Err(e) = journal.commit(&run_id, &batch).await {
            on_error(&e);
            return Err(e);
        }
        batch.clear();
    }
    Ok(())
}
