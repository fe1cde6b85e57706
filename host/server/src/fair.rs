//! Fair shares of the server's step slots between tenants. At most `capacity` steps execute
//! at once over every run of every tenant, and at most a tenant's `concurrent-steps` quota of
//! its own; when a slot frees, it goes to the waiting tenant with the fewest steps executing
//! (the one waiting longest among equals), so a tenant that floods the server with runs
//! waits behind its own steps, never ahead of another tenant's first one.
//!
//! Each run gets a [`RunAdmission`] (the runner's `Admission`): it takes a slot before a step
//! executes and gives it back after, and hands each step the byte quotas its writes count
//! against (the run's `run-output-bytes`, the tenant's `stored-bytes`).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::oneshot;
use weft_task::{Admission, ByteBudget, Permit, StepFailure, StepTask};

/// How often a waiting step looks at its run's cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(20);

/// The server's step slots.
pub(crate) struct Fair {
    capacity: usize,
    slots: Mutex<Slots>,
}

#[derive(Default)]
struct Slots {
    running: usize,
    arrivals: u64,
    tenants: HashMap<String, TenantSlots>,
}

#[derive(Default)]
struct TenantSlots {
    running: usize,
    /// Its quota of steps executing at once (as of its latest request).
    cap: usize,
    /// Waiting steps: arrival number and where to say "go".
    waiting: VecDeque<(u64, oneshot::Sender<()>)>,
}

impl Slots {
    /// Hands free slots to waiting steps, fairest first.
    fn dispatch(&mut self, capacity: usize) {
        while self.running < capacity {
            let next = self
                .tenants
                .iter()
                .filter(|(_, t)| t.running < t.cap)
                .filter_map(|(name, t)| {
                    t.waiting
                        .front()
                        .map(|(arrival, _)| (t.running, *arrival, name.clone()))
                })
                .min();
            let Some((_, _, name)) = next else {
                return;
            };
            let Some(tenant) = self.tenants.get_mut(&name) else {
                return;
            };
            let Some((_, go)) = tenant.waiting.pop_front() else {
                return;
            };
            // A waiter that gave up (its run was cancelled) no longer listens.
            if go.send(()).is_ok() {
                tenant.running += 1;
                self.running += 1;
            }
        }
    }
}

/// A slot held; dropping it frees it.
struct Slot {
    fair: Arc<Fair>,
    tenant: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.fair.release(&self.tenant);
    }
}

/// A waiter for a slot. Dropped before its slot became a [`Slot`] (its run was cancelled
/// while the slot was on its way), it gives the slot back instead of losing it.
struct Waiting {
    rx: Option<oneshot::Receiver<()>>,
    fair: Arc<Fair>,
    tenant: String,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            // No slot can be sent after `close`; one sent before is still there to take.
            rx.close();
            if rx.try_recv().is_ok() {
                self.fair.release(&self.tenant);
            }
        }
    }
}

impl Fair {
    /// `capacity` slots in all.
    pub(crate) fn new(capacity: usize) -> Arc<Fair> {
        Arc::new(Fair {
            capacity: capacity.max(1),
            slots: Mutex::new(Slots::default()),
        })
    }

    /// Waits for a slot for `tenant`, which may hold at most `cap` at once. Safe to drop
    /// at any point: a slot handed over to a waiter that is gone is given back.
    async fn acquire(self: &Arc<Self>, tenant: &str, cap: usize) -> Slot {
        let rx = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            slots.arrivals += 1;
            let arrival = slots.arrivals;
            let (tx, rx) = oneshot::channel();
            let t = slots.tenants.entry(tenant.to_string()).or_default();
            t.cap = cap.max(1);
            t.waiting.push_back((arrival, tx));
            slots.dispatch(self.capacity);
            rx
        };
        let mut waiting = Waiting {
            rx: Some(rx),
            fair: self.clone(),
            tenant: tenant.to_string(),
        };
        if let Some(rx) = waiting.rx.as_mut() {
            // The sender is dropped only after a send (the slot is ours) or never: the
            // hub keeps `self` alive, so the channel cannot close otherwise.
            let _ = rx.await;
        }
        waiting.rx = None;
        Slot {
            fair: self.clone(),
            tenant: tenant.to_string(),
        }
    }

    /// Gives back a slot `tenant` held.
    fn release(&self, tenant: &str) {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots.running = slots.running.saturating_sub(1);
        if let Some(t) = slots.tenants.get_mut(tenant) {
            t.running = t.running.saturating_sub(1);
        }
        slots.dispatch(self.capacity);
    }

    /// Steps holding a slot, and steps waiting for one, now.
    pub(crate) fn load(&self) -> (usize, usize) {
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        (slots.running, slots.tenants.values().map(|t| t.waiting.len()).sum())
    }

    /// Steps executing now: in all, and of `tenant`.
    #[cfg(test)]
    fn running(&self, tenant: &str) -> (usize, usize) {
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        (slots.running, slots.tenants.get(tenant).map_or(0, |t| t.running))
    }
}

/// One run's admission: its tenant's fair share of the slots, and its output quota.
pub(crate) struct RunAdmission {
    pub(crate) fair: Arc<Fair>,
    pub(crate) tenant: String,
    /// The tenant's `concurrent-steps` quota.
    pub(crate) concurrent_steps: usize,
    /// The byte quotas its steps' writes count against: the run's `run-output-bytes`, the
    /// tenant's `stored-bytes`.
    pub(crate) budgets: Vec<Arc<ByteBudget>>,
}

#[async_trait::async_trait]
impl Admission for RunAdmission {
    async fn admit(&self, task: &StepTask) -> Result<Permit, StepFailure> {
        let slot = self.fair.acquire(&self.tenant, self.concurrent_steps);
        tokio::pin!(slot);
        loop {
            tokio::select! {
                // A slot that arrived is taken before the cancel flag is looked at.
                biased;
                slot = &mut slot => return Ok(Box::new(slot)),
                () = tokio::time::sleep(CANCEL_POLL) => {
                    if task.interrupt.as_ref().is_some_and(|flag| flag.load(Ordering::Relaxed)) {
                        return Err(StepFailure::Cancelled);
                    }
                }
            }
        }
    }

    fn budgets(&self) -> Vec<Arc<ByteBudget>> {
        self.budgets.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_freed_slot_goes_to_the_tenant_with_the_fewest_running() {
        let fair = Fair::new(2);
        let a1 = fair.acquire("a", 10).await;
        let a2 = fair.acquire("a", 10).await;
        assert_eq!(fair.running("a"), (2, 2));
        // a floods, then b asks once: b is served first when a slot frees.
        let waiting_a = tokio::spawn({
            let fair = fair.clone();
            async move { fair.acquire("a", 10).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let waiting_b = tokio::spawn({
            let fair = fair.clone();
            async move { fair.acquire("b", 10).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(a1);
        // (Bounded: were a served first, b would wait for a slot this test still holds.)
        let b = tokio::time::timeout(Duration::from_secs(5), waiting_b)
            .await
            .expect("b is served at the first freed slot")
            .expect("b");
        assert_eq!(fair.running("b"), (2, 1));
        assert!(!waiting_a.is_finished(), "a waits behind b");
        drop(a2);
        let a3 = waiting_a.await.expect("a");
        assert_eq!(fair.running("a"), (2, 1));
        drop((a3, b));
        assert_eq!(fair.running("a"), (0, 0));
    }

    #[tokio::test]
    async fn a_tenant_never_holds_more_than_its_quota() {
        let fair = Fair::new(4);
        let a1 = fair.acquire("a", 1).await;
        let blocked = tokio::spawn({
            let fair = fair.clone();
            async move { fair.acquire("a", 1).await }
        });
        let b = fair.acquire("b", 4).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!blocked.is_finished(), "a is at its quota though slots are free");
        drop(a1);
        let a2 = tokio::time::timeout(Duration::from_secs(5), blocked)
            .await
            .expect("a's second step starts once its first is done")
            .expect("a");
        assert_eq!(fair.running("a"), (2, 1));
        drop((a2, b));
    }

    /// A waiter dropped after its slot was sent, before it took it: the slot comes back.
    #[tokio::test]
    async fn a_slot_sent_to_a_waiter_that_is_dropped_comes_back() {
        let fair = Fair::new(1);
        let held = fair.acquire("a", 1).await;
        let mut waiter = Box::pin(fair.acquire("b", 1));
        // Polled once: b is queued.
        assert!(futures::poll!(waiter.as_mut()).is_pending());
        drop(held); // the slot is sent to b
        assert_eq!(fair.running("b"), (1, 1));
        drop(waiter); // b gives up before taking it
        assert_eq!(fair.running("b"), (0, 0), "the slot came back");
        let _again = tokio::time::timeout(Duration::from_secs(5), fair.acquire("c", 1))
            .await
            .expect("the slot is free");
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_does_not_keep_a_slot() {
        let fair = Fair::new(1);
        let held = fair.acquire("a", 1).await;
        let given_up = tokio::spawn({
            let fair = fair.clone();
            async move { fair.acquire("b", 1).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        given_up.abort();
        let _ = given_up.await;
        drop(held);
        assert_eq!(fair.running("b"), (0, 0));
        let _again = fair.acquire("b", 1).await;
        assert_eq!(fair.running("b"), (1, 1));
    }
}
