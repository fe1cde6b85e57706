//! Byte budgets: a tenant's quota of the bytes one run may produce, or of the bytes it may
//! store in all, shared by every step that counts against it and taken as each step writes
//! — so parallel steps together never write past it, and the write that would cross it
//! fails its step there, before the output is published.

use crate::StepFailure;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A quota of bytes and what has been taken from it.
#[derive(Debug)]
pub struct ByteBudget {
    /// The quota's name and scope as the error says it (`run-output-bytes … per run`).
    quota: &'static str,
    scope: &'static str,
    limit: u64,
    used: AtomicU64,
}

impl ByteBudget {
    /// `used` of `limit` bytes already taken, e.g. by a run's committed steps before it
    /// was resumed.
    pub fn new(quota: &'static str, scope: &'static str, limit: u64, used: u64) -> ByteBudget {
        ByteBudget {
            quota,
            scope,
            limit,
            used: AtomicU64::new(used),
        }
    }

    /// Takes `bytes`, or takes nothing and says which quota they would exceed.
    pub fn take(&self, bytes: u64) -> Result<(), String> {
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let total = used.saturating_add(bytes);
            if total > self.limit {
                return Err(format!(
                    "{}: {total} bytes, more than the tenant's quota of {} {}",
                    self.quota, self.limit, self.scope
                ));
            }
            match self
                .used
                .compare_exchange_weak(used, total, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(now) => used = now,
            }
        }
    }

    /// Returns bytes taken for something that was not kept.
    pub fn give_back(&self, bytes: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| Some(u.saturating_sub(bytes)));
    }

    /// Bytes taken.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Sets what is taken to a fresh count (the store listed again).
    pub fn set_used(&self, bytes: u64) {
        self.used.store(bytes, Ordering::Relaxed);
    }

    /// The quota in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

/// What one step attempt takes from its budgets, so that a step that fails gives back
/// what it wrote (nothing of it is kept).
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
                    earlier.give_back(bytes);
                }
                return Err(StepFailure::Quota(message));
            }
        }
        self.taken.fetch_add(bytes, Ordering::Relaxed);
        Ok(())
    }

    /// Gives back everything this step took.
    pub fn give_back(&self) {
        let taken = self.taken.swap(0, Ordering::Relaxed);
        for budget in &self.budgets {
            budget.give_back(taken);
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
        step.give_back();
        assert_eq!(
            (run.used(), stored.used()),
            (0, 950),
            "a failed step gives back what it took"
        );
    }

    #[test]
    fn parallel_steps_together_never_pass_the_limit() {
        let run = Arc::new(ByteBudget::new("run-output-bytes", "per run", 1000, 0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let step = StepBudget::new(vec![run.clone()]);
                std::thread::spawn(move || (0..100).filter(|_| step.take(7).is_ok()).count())
            })
            .collect();
        let granted: usize = threads.into_iter().map(|t| t.join().expect("thread")).sum();
        assert_eq!(granted, 1000 / 7);
        assert_eq!(run.used(), 7 * (1000 / 7));
    }
}
