//! The runs executing in this server: each one's cancel signal and its events so far (with
//! sequence numbers, for server-sent events and their reconnects), and a count that tells
//! when the server is idle. A run is launched on its own task and leaves the hub when its
//! end is recorded; its events stay readable for a while after (the last
//! [`RECENT_RUNS`]), so a client that reconnects just after the end still gets it.

use crate::events::ServerEvent;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::{broadcast, watch};
use weft_engine::{CancelSignal, RunEvent, StepState};
use weft_runner::{Prepared, RunSettings, Runner};

/// Finished runs whose events are kept.
const RECENT_RUNS: usize = 256;

/// Most events kept per executing run (the oldest go first: a client reconnecting from
/// one of those reads the run's state with `GET /runs/{id}` instead).
const LIVE_HISTORY: usize = 65_536;

/// Most events kept per finished run, the newest (its end among them).
const FINISHED_HISTORY: usize = 1024;

/// Most events buffered per subscriber before it is dropped (it reconnects with
/// `Last-Event-ID` and catches up from the history).
const SUBSCRIBER_BUFFER: usize = 1024;

/// The runs of this process.
pub(crate) struct Hub {
    runs: Mutex<Runs>,
    executing: watch::Sender<usize>,
    /// What `/metrics` shows.
    pub(crate) metrics: crate::metrics::Metrics,
    /// Where run and step spans go, when traces are on.
    tracer: Option<crate::traces::Tracer>,
}

#[derive(Default)]
struct Runs {
    live: HashMap<String, Arc<LiveRun>>,
    recent: VecDeque<Arc<LiveRun>>,
    /// Runs each tenant is starting (admitted by `reserve_run`, not launched yet).
    starting: HashMap<String, usize>,
}

/// Room for one run of a tenant, taken before the run is recorded or reopened and given
/// back when dropped (after [`Hub::launch`] counted the run itself).
pub(crate) struct RunRoom {
    hub: Arc<Hub>,
    tenant: String,
}

impl Drop for RunRoom {
    fn drop(&mut self) {
        let mut runs = self.hub.runs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = runs.starting.get_mut(&self.tenant) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                runs.starting.remove(&self.tenant);
            }
        }
    }
}

impl Hub {
    /// A hub sending spans to `tracer`, if any.
    pub(crate) fn new(tracer: Option<crate::traces::Tracer>) -> Hub {
        Hub {
            runs: Mutex::new(Runs::default()),
            executing: watch::channel(0).0,
            metrics: crate::metrics::Metrics::default(),
            tracer,
        }
    }
}

/// One run executing here (or just finished).
pub(crate) struct LiveRun {
    pub(crate) tenant: String,
    pub(crate) run_id: String,
    pub(crate) cancel: CancelSignal,
    log: Mutex<EventLog>,
}

struct EventLog {
    history: VecDeque<ServerEvent>,
    /// Events published so far (the last one's id).
    published: u64,
    tx: broadcast::Sender<ServerEvent>,
    finished: bool,
}

impl LiveRun {
    fn new(tenant: &str, run_id: &str, cancel: CancelSignal) -> LiveRun {
        LiveRun {
            tenant: tenant.to_string(),
            run_id: run_id.to_string(),
            cancel,
            log: Mutex::new(EventLog {
                history: VecDeque::new(),
                published: 0,
                tx: broadcast::channel(SUBSCRIBER_BUFFER).0,
                finished: false,
            }),
        }
    }

    /// Numbers `event` and sends it to every subscriber.
    fn publish(&self, name: &'static str, data: serde_json::Value) {
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.published += 1;
        let event = ServerEvent {
            id: log.published,
            name,
            data,
        };
        log.history.push_back(event.clone());
        let keep = if name == crate::events::RUN_FINISHED {
            log.finished = true;
            FINISHED_HISTORY
        } else {
            LIVE_HISTORY
        };
        while log.history.len() > keep {
            log.history.pop_front();
        }
        // No subscriber is not an error.
        let _ = log.tx.send(event);
    }

    /// The events after `after`, and a receiver of the later ones (`None` once the run
    /// finished: there are none).
    pub(crate) fn subscribe(&self, after: u64) -> (Vec<ServerEvent>, Option<broadcast::Receiver<ServerEvent>>) {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        let mut past: Vec<ServerEvent> = log.history.iter().filter(|e| e.id > after).cloned().collect();
        // An id from another numbering (events replayed from the records, an earlier
        // attempt of a resumed run) must not hide the end: a finished run always ends
        // its stream with `run_finished`.
        if log.finished
            && past.is_empty()
            && let Some(end) = log.history.back()
        {
            past.push(end.clone());
        }
        let rx = (!log.finished).then(|| log.tx.subscribe());
        (past, rx)
    }
}

impl Hub {
    /// The run `run_id` of `tenant`, if it executes here or finished here lately.
    pub(crate) fn find(&self, tenant: &str, run_id: &str) -> Option<Arc<LiveRun>> {
        let runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        runs.live
            .get(run_id)
            .or_else(|| runs.recent.iter().find(|r| r.run_id == run_id))
            .filter(|r| r.tenant == tenant)
            .cloned()
    }

    /// Whether `tenant`'s run `run_id` executes here now.
    pub(crate) fn is_executing(&self, tenant: &str, run_id: &str) -> bool {
        let runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        runs.live.get(run_id).is_some_and(|r| r.tenant == tenant)
    }

    /// Waits at most `limit` for `tenant`'s run `run_id` to leave the executing runs;
    /// whether it did.
    pub(crate) async fn let_go(&self, tenant: &str, run_id: &str, limit: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while self.is_executing(tenant, run_id) {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        true
    }

    /// Room for one more run of `tenant`, if fewer than `limit` of its runs execute here or
    /// are being started; else how many there are.
    pub(crate) fn reserve_run(self: &Arc<Self>, tenant: &str, limit: u64) -> Result<RunRoom, u64> {
        let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
        let live = runs.live.values().filter(|r| r.tenant == tenant).count();
        let going = (live + runs.starting.get(tenant).copied().unwrap_or(0)) as u64;
        if going >= limit {
            return Err(going);
        }
        *runs.starting.entry(tenant.to_string()).or_insert(0) += 1;
        Ok(RunRoom {
            hub: self.clone(),
            tenant: tenant.to_string(),
        })
    }

    /// Executes `prepared` on its own task; its events and end go to the hub. `room`, the
    /// room reserved for it, is given back once the run counts itself.
    pub(crate) fn launch(
        self: &Arc<Self>,
        runner: Runner,
        prepared: Prepared,
        mut settings: RunSettings,
        room: Option<RunRoom>,
    ) {
        let cancel = CancelSignal::default();
        settings.cancel = cancel.clone();
        let run = Arc::new(LiveRun::new(runner.records.tenant(), &prepared.run_id, cancel));
        let trace = self
            .tracer
            .as_ref()
            .map(|t| Arc::new(t.run(&run.tenant, &run.run_id, prepared.resumed)));
        let workflow = prepared.plan.name.clone();
        {
            let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
            runs.live.insert(run.run_id.clone(), run.clone());
        }
        drop(room);
        self.executing.send_modify(|n| *n += 1);
        let hub = self.clone();
        tokio::spawn(async move {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<RunEvent>();
            let forward = {
                let (run, hub, trace) = (run.clone(), hub.clone(), trace.clone());
                tokio::spawn(async move {
                    while let Some(event) = rx.recv().await {
                        hub.count(&event.state);
                        if let Some(trace) = &trace {
                            trace.step(&event.step, &event.state);
                        }
                        if let Some((name, data)) = crate::events::step_event(&event) {
                            run.publish(name, data);
                        }
                        if !event.metrics.is_empty() {
                            run.publish(
                                crate::events::STEP_METRICS,
                                crate::events::metrics_json(&event.step, &event.metrics),
                            );
                        }
                    }
                })
            };
            let outcome = runner.run(prepared, &settings, Some(tx)).await;
            let _ = forward.await;
            let data = match &outcome {
                Ok(report) => serde_json::json!({
                    "run_id": report.run_id,
                    "status": report.status,
                    "error": report.error,
                }),
                Err(e) => {
                    tracing::error!(run = %run.run_id, "run stopped: {e:#}");
                    serde_json::json!({
                        "run_id": run.run_id,
                        "status": "interrupted",
                        "error": "the server could not record the run's progress; it is resumed when the server starts again",
                    })
                }
            };
            let status = data["status"].as_str().unwrap_or("interrupted");
            hub.metrics.run_finished(status);
            if let Some(trace) = &trace {
                trace.finished(&workflow, status, data["error"].as_str());
            }
            run.publish(crate::events::RUN_FINISHED, data);
            hub.finished(&run);
        });
    }

    fn finished(&self, run: &Arc<LiveRun>) {
        {
            let mut runs = self.runs.lock().unwrap_or_else(PoisonError::into_inner);
            runs.live.remove(&run.run_id);
            runs.recent.push_back(run.clone());
            if runs.recent.len() > RECENT_RUNS {
                runs.recent.pop_front();
            }
        }
        self.executing.send_modify(|n| *n -= 1);
    }

    /// Counts a step's end for `/metrics`.
    fn count(&self, state: &StepState) {
        let (outcome, seconds) = match state {
            StepState::Succeeded(d) => ("succeeded", Some(d.as_secs_f64())),
            StepState::Failed(_) => ("failed", None),
            StepState::Reused(_) => ("cached", None),
            StepState::Skipped(_) => ("skipped", None),
            StepState::Blocked(_) => ("blocked", None),
            StepState::Cancelled => ("cancelled", None),
            StepState::Waiting | StepState::Running | StepState::Retrying { .. } => return,
        };
        self.metrics.step_finished(outcome, seconds);
    }

    /// Sends the spans waiting now to the collector, if traces are on (at most `limit`).
    pub(crate) async fn flush_traces(&self, limit: std::time::Duration) {
        if let Some(tracer) = &self.tracer {
            tracer.flush(limit).await;
        }
    }

    /// Runs executing now.
    pub(crate) fn executing_runs(&self) -> usize {
        *self.executing.borrow()
    }

    /// Waits until no run executes.
    pub(crate) async fn idle(&self) {
        let mut rx = self.executing.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_for_runs_is_taken_at_once_and_given_back() {
        let hub = Arc::new(Hub::new(None));
        let first = hub.reserve_run("t", 2).expect("room");
        let second = hub.reserve_run("t", 2).expect("room");
        assert_eq!(hub.reserve_run("t", 2).err(), Some(2), "both are starting");
        assert!(hub.reserve_run("u", 2).is_ok(), "another tenant's room is its own");
        drop(first);
        let third = hub.reserve_run("t", 2).expect("room again");
        drop((second, third));
        assert!(hub.runs.lock().expect("lock").starting.is_empty());
    }

    #[test]
    fn a_runs_event_history_is_bounded_and_keeps_its_end() {
        let run = LiveRun::new("t", "r", CancelSignal::default());
        for _ in 0..LIVE_HISTORY + 10 {
            run.publish("step_started", serde_json::json!({"step": "s"}));
        }
        let (past, rx) = run.subscribe(0);
        assert_eq!(past.len(), LIVE_HISTORY);
        assert_eq!(past.first().map(|e| e.id), Some(11), "the oldest went first");
        assert!(rx.is_some());
        run.publish(crate::events::RUN_FINISHED, serde_json::json!({"status": "succeeded"}));
        let (past, rx) = run.subscribe(0);
        assert_eq!(past.len(), FINISHED_HISTORY);
        assert_eq!(
            past.last().map(|e| (e.id, e.name)),
            Some((LIVE_HISTORY as u64 + 11, crate::events::RUN_FINISHED))
        );
        assert!(rx.is_none());
        // A client past the end still gets the end.
        let (past, _) = run.subscribe(u64::MAX);
        assert_eq!(past.len(), 1);
    }
}
