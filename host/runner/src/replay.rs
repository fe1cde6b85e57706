//! Replaying one recorded step: the component its locked plan pinned (from the store's
//! archive), its locked parameters and limits, the inputs its execution read (by digest,
//! from the records), the same random stream (step id and attempt) — then its outputs
//! compared with the recorded digests, and damaged stored copies repaired from the replay
//! when it reproduced them exactly.

use crate::Runner;
use anyhow::{Context, bail};
use weft_artifacts::{ArtifactMeta, Digest};
use weft_engine::{Reuse, StepStatus};
use weft_records::RunDetail;
use weft_sandbox::{StepRequest, StepSeed};
use weft_task::{Provenance, StepFailure};

/// What a replay found.
#[derive(Debug)]
pub struct Replay {
    /// The run.
    pub run_id: String,
    /// The step.
    pub step: String,
    /// Its component.
    pub component: Digest,
    /// The replay's outcome: each recorded output compared, or why the step failed now.
    pub outcome: Result<Vec<ReplayedOutput>, StepFailure>,
}

/// One recorded output against the replay's.
#[derive(Debug)]
pub struct ReplayedOutput {
    /// The port.
    pub port: String,
    /// What the records say it produced.
    pub recorded: Digest,
    /// What the replay produced (`None`: not written this time).
    pub replayed: Option<Digest>,
    /// The recorded output as the store holds it now.
    pub stored: StoredCopy,
}

/// The state of a recorded output in the store.
#[derive(Debug)]
pub enum StoredCopy {
    /// Present and matching its digest.
    Intact,
    /// Damaged or unreadable (`corrupt` tells which), then repaired from the replay.
    Repaired {
        /// Its bytes did not match its address (rather than unreadable).
        corrupt: bool,
    },
    /// Damaged or unreadable, not repaired (the replay did not reproduce it).
    Bad {
        /// Its bytes did not match its address (rather than unreadable).
        corrupt: bool,
        /// What the store said.
        error: String,
    },
}

impl Replay {
    /// Whether every output was reproduced bit for bit and every stored copy was intact.
    pub fn identical(&self) -> bool {
        self.outcome.as_ref().is_ok_and(|outputs| {
            outputs
                .iter()
                .all(|o| o.replayed == Some(o.recorded) && matches!(o.stored, StoredCopy::Intact))
        })
    }
}

impl Runner {
    /// Executes step `step` of run `run_id` again, exactly as its plan was locked.
    pub async fn replay(&self, run_id: &str, step: &str) -> anyhow::Result<Replay> {
        let detail = self.records.run(run_id).await?;
        let Some(rec) = detail.steps.iter().find(|s| s.id == step) else {
            let ids: Vec<&str> = detail.steps.iter().map(|s| s.id.as_str()).collect();
            bail!("run {run_id} has no step `{step}`; its steps: {}", ids.join(", "));
        };
        if rec.status != StepStatus::Succeeded {
            bail!(
                "step `{step}` of run {run_id} did not succeed ({}): there are no outputs to compare",
                rec.status.as_str()
            );
        }
        let locked = self.locked_plan(run_id).await?;
        let planned = locked
            .step(step)
            .with_context(|| format!("run {run_id}: step `{step}` is not in its locked plan"))?;
        let pinned = &locked.components[planned.component];
        if pinned.digest != rec.component {
            bail!(
                "run {run_id}: step `{step}` is recorded with component {}, its locked plan names {}",
                rec.component,
                pinned.digest
            );
        }
        let sandbox = self.loader.sandbox(planned.limits.fuel.is_some())?;
        let only = crate::LockedPlan {
            components: vec![pinned.clone()],
            steps: Vec::new(),
            ..locked.clone()
        };
        let component = self
            .archived_components(&only, &sandbox)
            .await?
            .pop()
            .context("bug: no component loaded")?;

        let mut inputs = Vec::new();
        for input in &rec.inputs {
            let meta = recorded_artifact(&detail, &input.source)
                .filter(|m| m.digest == input.digest)
                .with_context(|| format!("input `{}` ({}) is not in the records", input.port, input.source))?;
            inputs.push((input.port.clone(), Provenance::origin(input.source.clone(), meta)));
        }
        let seed = self.executed_seed(rec).await?;
        let outcome = sandbox
            .run(
                &component,
                StepRequest {
                    store: self.store.clone(),
                    inputs,
                    params: planned.params.clone(),
                    output_types: planned.outputs.clone(),
                    limits: planned.limits,
                    interrupt: None,
                    budget: Default::default(),
                    seed,
                },
            )
            .await;
        let mut staged = match outcome.result {
            Ok(staged) => staged,
            Err(failure) => {
                return Ok(Replay {
                    run_id: run_id.to_string(),
                    step: step.to_string(),
                    component: rec.component,
                    outcome: Err(failure),
                });
            }
        };
        let mut outputs = Vec::new();
        for (port, recorded) in &rec.outputs {
            let replayed = staged.iter().find(|o| o.port == *port).map(|o| o.staged.digest());
            let same = replayed == Some(recorded.digest);
            let stored = match self.store.verify(&recorded.digest).await {
                Ok(_) => StoredCopy::Intact,
                Err(e) => {
                    let corrupt = e.is_corruption();
                    let fixed = match staged.iter().position(|o| o.port == *port) {
                        Some(k) if same => self.repair(staged.remove(k).staged, &recorded.media_type).await,
                        _ => false,
                    };
                    if fixed {
                        StoredCopy::Repaired { corrupt }
                    } else {
                        StoredCopy::Bad {
                            corrupt,
                            error: e.to_string(),
                        }
                    }
                }
            };
            outputs.push(ReplayedOutput {
                port: port.clone(),
                recorded: recorded.digest,
                replayed,
                stored,
            });
        }
        Ok(Replay {
            run_id: run_id.to_string(),
            step: step.to_string(),
            component: rec.component,
            outcome: Ok(outputs),
        })
    }
}

impl Runner {
    /// The random stream of the execution that produced `rec`'s outputs: it follows from
    /// the step id and the attempt that succeeded — of the step itself, or, for a cache
    /// hit, of the step of the earlier run whose outputs it reused (its id may differ:
    /// renaming a step keeps its cache key).
    async fn executed_seed(&self, rec: &weft_engine::StepReport) -> anyhow::Result<StepSeed> {
        let executed = match &rec.reuse {
            Some(Reuse::Cached(from)) => {
                let earlier = self.records.run(from).await.with_context(|| {
                    format!(
                        "step `{}` reused the outputs of run {from}, whose records are needed to replay it",
                        rec.id
                    )
                })?;
                earlier
                    .steps
                    .into_iter()
                    .find(|s| {
                        // The execution whose outputs the hit took: same key, run (not
                        // reused itself), succeeded with exactly these outputs.
                        s.reuse.is_none()
                            && s.status == StepStatus::Succeeded
                            && s.cache_key.is_some()
                            && s.cache_key == rec.cache_key
                            && s.outputs == rec.outputs
                    })
                    .with_context(|| format!("run {from} has no executed step with the cache key of `{}`", rec.id))?
            }
            _ => rec.clone(),
        };
        Ok(StepSeed {
            attempt: executed.attempts.last().map_or(1, |a| a.number),
            step: executed.id,
        })
    }

    /// Publishes a replayed output again; a small one is kept in the records, which no
    /// step commit does here, so it is saved there at once.
    async fn repair(&self, staged: weft_artifacts::Staged, media_type: &str) -> bool {
        let Ok(meta) = self.store.publish(staged, media_type).await else {
            return false;
        };
        self.records
            .save_small_artifacts(&[(meta.digest, meta.size)])
            .await
            .is_ok()
    }
}

/// The recorded artifact behind a source (`inputs.NAME` or `STEP.PORT`) of the run.
fn recorded_artifact(detail: &RunDetail, source: &str) -> Option<ArtifactMeta> {
    match source.strip_prefix("inputs.") {
        Some(name) => detail.inputs.get(name).cloned(),
        None => {
            let (step, port) = source.rsplit_once('.')?;
            detail.steps.iter().find(|s| s.id == step)?.outputs.get(port).cloned()
        }
    }
}
