//! Runs executed by workers, seen from the process that submits them: handing a recorded
//! run to the queue, and following it from its records until it ends (the workers'
//! commits are the only news: this process executes nothing).

use crate::Runner;
use crate::start::Prepared;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;
use weft_engine::{CancelSignal, RunEvent, RunReport, RunStatus, StepReport, StepState, StepStatus};
use weft_records::{RecordsError, RunDetail, RunLimits};

/// How long following a run waits out records that do not answer before it gives up.
const FOLLOW_OUTAGE: Duration = Duration::from_secs(600);

/// How a run is handed to workers.
#[derive(Debug, Clone)]
pub struct OnWorkers {
    /// Most steps of the run's tenant executing at once over every worker (0: no limit).
    pub step_limit: u64,
    /// Most bytes the run's executed steps may produce together (`run-output-bytes`).
    pub output_bytes: Option<u64>,
    /// Most bytes the run's tenant may store in all (`stored-bytes`).
    pub stored_bytes: Option<u64>,
    /// How often the records are looked at while following the run.
    pub poll: Duration,
}

impl Runner {
    /// Hands `prepared` to the workers and follows it until it ends; `cancel` cancels it
    /// (its queued steps leave the queue, its workers stop its executing ones).
    pub(crate) async fn run_on_workers(
        &self,
        prepared: &Prepared,
        workers: &OnWorkers,
        cancel: &CancelSignal,
        time_limit: Option<Duration>,
        events: Option<UnboundedSender<RunEvent>>,
    ) -> anyhow::Result<RunReport> {
        let run_id = &prepared.run_id;
        let limits = RunLimits {
            step_limit: workers.step_limit,
            time_limit,
            output_bytes: workers.output_bytes,
            stored_bytes: workers.stored_bytes,
        };
        self.queue(prepared, &limits).await?;
        let follow = self.follow(run_id, workers.poll, events);
        tokio::pin!(follow);
        tokio::select! {
            report = &mut follow => return report,
            () = cancel.cancelled() => {}
        }
        self.cancel_queued(run_id).await?;
        follow.await
    }

    /// Hands a recorded run to the workers, within `limits`: its first steps are queued,
    /// in one transaction with marking the run as theirs. Returns `Some` when the run is
    /// over already (nothing to execute).
    pub async fn queue(&self, prepared: &Prepared, limits: &RunLimits) -> anyhow::Result<Option<RunStatus>> {
        Ok(self.records.queue_run(&prepared.run_id, &prepared.plan, limits).await?)
    }

    /// Asks a run workers execute to stop: its queued steps leave the queue at once, its
    /// executing steps are interrupted by their workers; the run ends cancelled when the
    /// last of them is in. `false` when the run is not running.
    pub async fn cancel_queued(&self, run_id: &str) -> anyhow::Result<bool> {
        if !self.records.request_cancel(run_id).await? {
            return Ok(false);
        }
        let (plan, _) = self.locked_plan(run_id).await?.unlock()?;
        self.records.advance_run(run_id, &plan).await?;
        Ok(true)
    }

    /// Follows a run from its records, looking every `poll` (one row; the whole run only
    /// when something moved on), until it ends; sends what changed to `events`. Returns
    /// the run's report as recorded. Records that fail (PostgreSQL restarting) are waited
    /// out for up to 10 minutes: the workers go on meanwhile.
    pub async fn follow(
        &self,
        run_id: &str,
        poll: Duration,
        events: Option<UnboundedSender<RunEvent>>,
    ) -> anyhow::Result<RunReport> {
        let mut seen: HashMap<String, StepStatus> = HashMap::new();
        let mut last = None;
        let mut outage: Option<Instant> = None;
        loop {
            let detail = match self.look(run_id, &mut last).await {
                Ok(Some(detail)) => detail,
                Ok(None) => {
                    tokio::time::sleep(poll).await;
                    continue;
                }
                // What no wait mends ends it; anything else (PostgreSQL restarting, too
                // many clients, a busy database) is waited out.
                Err(e @ (RecordsError::UnknownRun(_) | RecordsError::Corrupt(_))) => return Err(e.into()),
                Err(e) => {
                    let since = *outage.get_or_insert_with(|| {
                        tracing::warn!("cannot read the run's records (trying again until they answer): {e}");
                        Instant::now()
                    });
                    if since.elapsed() >= FOLLOW_OUTAGE {
                        return Err(anyhow::Error::new(e).context(format!(
                            "the records did not answer for {} s; run {run_id} goes on on the workers",
                            FOLLOW_OUTAGE.as_secs()
                        )));
                    }
                    tokio::time::sleep(poll.max(Duration::from_secs(1))).await;
                    continue;
                }
            };
            if outage.take().is_some() {
                tracing::info!("the run's records answer again");
            }
            if let Some(tx) = &events {
                for step in &detail.steps {
                    if seen.get(&step.id) != Some(&step.status) {
                        seen.insert(step.id.clone(), step.status);
                        if let Some(state) = state_of(step) {
                            let _ = tx.send(RunEvent {
                                step: step.id.clone(),
                                state,
                                metrics: step.metrics.clone(),
                            });
                        }
                    }
                }
            }
            if detail.status() != RunStatus::Running {
                return Ok(detail.report());
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// The whole run when it moved on since `last` (which is updated), else `None`.
    async fn look(&self, run_id: &str, last: &mut Option<(RunStatus, u64)>) -> Result<Option<RunDetail>, RecordsError> {
        let progress = self.records.progress(run_id).await?;
        if *last == Some(progress) {
            return Ok(None);
        }
        let detail = self.records.run(run_id).await?;
        *last = Some(progress);
        Ok(Some(detail))
    }
}

/// What a recorded step's status says to a live display (`None`: nothing new).
fn state_of(step: &StepReport) -> Option<StepState> {
    let why = || step.error.clone().unwrap_or_default();
    Some(match step.status {
        StepStatus::Pending => return None,
        StepStatus::Succeeded => match &step.reuse {
            Some(reuse) => StepState::Reused(reuse.clone()),
            None => StepState::Succeeded(Duration::from_secs_f64(step.duration_ms.unwrap_or(0.0).max(0.0) / 1e3)),
        },
        StepStatus::Failed => StepState::Failed(why()),
        StepStatus::Blocked => StepState::Blocked(why()),
        StepStatus::Skipped => StepState::Skipped(why()),
        StepStatus::Cancelled => StepState::Cancelled,
    })
}
