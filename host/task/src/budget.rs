//! Byte budgets: a tenant's quota of the bytes one run may produce, or of the bytes it may
//! store in all, shared by every step that counts against it and taken as each step writes
//! — so parallel steps together never write past it, and the write that would cross it
//! fails its step there, before the output is published.

use crate::StepFailure;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// A quota of bytes and what counts against it: bytes `settled` (stored, or counted from
/// the store) and bytes `pending` (taken by writes not finished yet). A recount of the
/// store replaces only the settled bytes, so what is being written keeps counting.
#[derive(Debug)]
pub struct ByteBudget {
    /// The quota's name and scope as the error says it (`run-output-bytes … per run`).
    quota: &'static str,
    scope: &'static str,
    limit: u64,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    settled: u64,
    pending: u64,
    /// Settled since a recount began, when one is under way: the listing may have missed
    /// them.
    since_recount: Option<u64>,
}

impl ByteBudget {
    /// `settled` of `limit` bytes already counted, e.g. by a run's committed steps before
    /// it was resumed.
    pub fn new(quota: &'static str, scope: &'static str, limit: u64, settled: u64) -> ByteBudget {
        ByteBudget {
            quota,
            scope,
            limit,
            counts: Mutex::new(Counts {
                settled,
                pending: 0,
                since_recount: None,
            }),
        }
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes `bytes` as pending, or takes nothing and says which quota they would exceed.
    /// Nothing (0 bytes) always fits.
    pub fn take(&self, bytes: u64) -> Result<(), String> {
        if bytes == 0 {
            return Ok(());
        }
        let mut counts = self.counts();
        let total = counts.settled.saturating_add(counts.pending).saturating_add(bytes);
        if total > self.limit {
            return Err(format!(
                "{}: {total} bytes, more than the tenant's quota of {} {}",
                self.quota, self.limit, self.scope
            ));
        }
        counts.pending += bytes;
        Ok(())
    }

    /// Pending bytes that were not kept.
    pub fn release(&self, bytes: u64) {
        let mut counts = self.counts();
        counts.pending = counts.pending.saturating_sub(bytes);
    }

    /// Pending bytes that were kept.
    pub fn settle(&self, bytes: u64) {
        let mut counts = self.counts();
        let moved = bytes.min(counts.pending);
        counts.pending -= moved;
        counts.settled = counts.settled.saturating_add(moved);
        if let Some(since) = &mut counts.since_recount {
            *since = since.saturating_add(moved);
        }
    }

    /// Bytes counted, settled and pending.
    pub fn used(&self) -> u64 {
        let counts = self.counts();
        counts.settled.saturating_add(counts.pending)
    }

    /// A recount begins: bytes settled from now on are added to its result, since its
    /// listing may pass their keys before they are stored.
    pub fn begin_recount(&self) {
        self.counts().since_recount = Some(0);
    }

    /// The recount failed: the settled bytes stand as they are.
    pub fn abandon_recount(&self) {
        self.counts().since_recount = None;
    }

    /// Replaces the settled bytes with a fresh count (the store listed again), plus what
    /// settled since [`ByteBudget::begin_recount`]; pending bytes still count. Errs high:
    /// bytes the listing did see and settled meanwhile count twice until the next recount.
    pub fn set_settled(&self, bytes: u64) {
        let mut counts = self.counts();
        let since = counts.since_recount.take().unwrap_or(0);
        counts.settled = bytes.saturating_add(since);
    }

    /// The quota in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

/// What one step attempt takes from its budgets: settled when the attempt succeeds
/// ([`StepBudget::settle`]); whatever it still holds is released when it is dropped —
/// a failed attempt keeps nothing, and neither does one whose executor panicked.
#[derive(Default, Debug)]
pub struct StepBudget {
    budgets: Vec<Arc<ByteBudget>>,
    taken: AtomicU64,
}

impl StepBudget {
    /// A step's share of `budgets` (none: a step without quotas).
    pub fn new(budgets: Vec<Arc<ByteBudget>>) -> StepBudget {
        StepBudget {
            budgets,
            taken: AtomicU64::new(0),
        }
    }

    /// Takes `bytes` from every budget, or from none: the step fails with the quota named.
    pub fn take(&self, bytes: u64) -> Result<(), StepFailure> {
        for (i, budget) in self.budgets.iter().enumerate() {
            if let Err(message) = budget.take(bytes) {
                for earlier in &self.budgets[..i] {
                    earlier.release(bytes);
                }
                return Err(StepFailure::Quota(message));
            }
        }
        self.taken.fetch_add(bytes, Ordering::Relaxed);
        Ok(())
    }

    /// Gives back `bytes` taken for a write that did not happen.
    pub fn release(&self, bytes: u64) {
        let _ = self
            .taken
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| Some(t.saturating_sub(bytes)));
        for budget in &self.budgets {
            budget.release(bytes);
        }
    }

    /// The attempt succeeded: what it took is kept.
    pub fn settle(&self) {
        let taken = self.taken.swap(0, Ordering::Relaxed);
        for budget in &self.budgets {
            budget.settle(taken);
        }
    }
}

impl Drop for StepBudget {
    fn drop(&mut self) {
        let taken = self.taken.swap(0, Ordering::Relaxed);
        for budget in &self.budgets {
            budget.release(taken);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_past_any_budget_takes_nothing_and_names_the_quota() {
        let run = Arc::new(ByteBudget::new("run-output-bytes", "per run", 100, 0));
        let stored = Arc::new(ByteBudget::new("stored-bytes", "in all", 1000, 950));
        let step = StepBudget::new(vec![run.clone(), stored.clone()]);
        step.take(40).expect("within both");
        let Err(StepFailure::Quota(message)) = step.take(40) else {
            panic!("stored-bytes is passed");
        };
        assert!(message.starts_with("stored-bytes: 1030 bytes"), "{message}");
        assert_eq!((run.used(), stored.used()), (40, 990), "the refused write took nothing");
        drop(step);
        assert_eq!(
            (run.used(), stored.used()),
            (0, 950),
            "a failed step gives back what it took"
        );
    }

    #[test]
    fn a_recount_replaces_what_is_settled_and_what_is_written_still_counts() {
        let stored = Arc::new(ByteBudget::new("stored-bytes", "in all", 1000, 950));
        let step = StepBudget::new(vec![stored.clone()]);
        step.take(30).expect("fits");
        stored.begin_recount();
        step.release(10);
        step.settle();
        drop(step);
        // The listing missed the 20 bytes settled while it ran: they still count.
        stored.set_settled(900);
        assert_eq!(stored.used(), 920, "settled bytes stay when the step is dropped");
        let step = StepBudget::new(vec![stored.clone()]);
        step.take(30).expect("fits");
        stored.set_settled(900);
        assert_eq!(stored.used(), 930, "pending bytes survive a recount");
        drop(step);
        stored.set_settled(1000);
        assert!(stored.take(0).is_ok(), "nothing always fits, even at the limit");
        assert!(stored.take(1).is_err());
    }

    #[test]
    fn parallel_steps_together_never_pass_the_limit() {
        let run = Arc::new(ByteBudget::new("run-output-bytes", "per run", 1000, 0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let step = StepBudget::new(vec![run.clone()]);
                std::thread::spawn(move || {
                    let granted = (0..100).filter(|_| step.take(7).is_ok()).count();
                    step.settle();
                    granted
                })
            })
            .collect();
        let granted: usize = threads.into_iter().map(|t| t.join().expect("thread")).sum();
        assert_eq!(granted, 1000 / 7);
        assert_eq!(run.used(), 7 * (1000 / 7));
    }
}
