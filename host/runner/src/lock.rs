//! The locked plan: the one hand-off between loading a workflow and running it.
//!
//! Loading resolves everything that could change later — which component each `uses:`
//! names (pinned to the digest of its bytes), parameter values after defaults and
//! overrides, limits, retry and cache policy, every binding, the stored inputs — into one
//! serialisable, versioned document. It is recorded with the run when the run starts;
//! `--resume`, `weft replay` and (later) remote workers execute exactly this document and
//! never resolve the workflow again (Spin's `LockedApp` plays the same part).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use weft_artifacts::{ArtifactMeta, Digest};
use weft_model::{Binding, Condition, Instance, Limits, ParamValue, Plan, PlannedInput, PlannedStep, Policy, StepInfo};

/// The version of the document's format. Bump it whenever the serialised form changes;
/// a document of another version is refused with a message, never half-understood.
pub const LOCK_FORMAT: u32 = 1;

/// A run's fully resolved plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockedPlan {
    /// [`LOCK_FORMAT`] when written.
    pub format: u32,
    /// Workflow name.
    pub workflow: String,
    /// Workflow parameters after defaults and overrides.
    pub params: Vec<(String, ParamValue)>,
    /// The workflow's inputs, as stored when the run started.
    pub inputs: Vec<LockedInput>,
    /// Longest the whole run may take.
    pub timeout: Option<Duration>,
    /// Every component the run uses, once each.
    pub components: Vec<LockedComponent>,
    /// Steps in a topological order.
    pub steps: Vec<LockedStep>,
}

/// A workflow input and the artifact it was stored as.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockedInput {
    /// Name, referred to as `inputs.NAME`.
    pub name: String,
    /// The path as written in the workflow.
    pub path: String,
    /// The stored bytes.
    pub artifact: ArtifactMeta,
}

/// A component, pinned to its bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockedComponent {
    /// Digest of its bytes (archived in the store under it).
    pub digest: Digest,
    /// Its declaration, as `describe()` answered when the run was locked.
    pub info: StepInfo,
}

/// One step of the plan; the component is an index into [`LockedPlan::components`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LockedStep {
    /// Step id.
    pub id: String,
    /// The component reference as written (for messages; never resolved again).
    pub uses: String,
    /// Index into [`LockedPlan::components`].
    pub component: usize,
    /// Output port → media type.
    pub outputs: Vec<(String, String)>,
    /// Input bindings.
    pub inputs: Vec<Binding>,
    /// Every declared parameter with its value.
    pub params: Vec<(String, ParamValue)>,
    /// Limits set by the workflow.
    pub limits: Limits,
    /// Retries and caching.
    pub policy: Policy,
    /// Indices of the steps that must finish first (all smaller than this step's).
    pub deps: Vec<usize>,
    /// For a fanned-out step: which instance this is.
    pub instance: Option<Instance>,
    /// Most instances of the authored step running at once.
    pub concurrency: Option<usize>,
    /// The `when:` condition as written (parsed again, with the locked parameters, when
    /// the plan is unlocked: its parse tree is deeper than a JSON reader should nest).
    pub condition: Option<String>,
    /// The label a worker must carry to execute it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runs_on: Option<String>,
}

/// Why a recorded document cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Not a locked plan, or damaged.
    #[error("the recorded plan does not parse: {0}")]
    Parse(String),
    /// Written by another version of Weft.
    #[error("the recorded plan has format {found}; this Weft reads format {LOCK_FORMAT}")]
    Format {
        /// The version found.
        found: u32,
    },
    /// Parses, but does not hold together (an index out of range, ...).
    #[error("the recorded plan is inconsistent: {0}")]
    Inconsistent(String),
}

impl LockedPlan {
    /// Locks a validated plan: `digests[i]` is the component of `plan.steps[i]`, `inputs`
    /// the stored workflow inputs (one for every input the plan names).
    pub fn lock(
        plan: &Plan,
        digests: &[Digest],
        inputs: &BTreeMap<String, ArtifactMeta>,
    ) -> Result<LockedPlan, LockError> {
        if digests.len() != plan.steps.len() {
            return Err(LockError::Inconsistent(format!(
                "{} component digests for {} steps",
                digests.len(),
                plan.steps.len()
            )));
        }
        if let Some(missing) = plan.inputs.iter().find(|i| !inputs.contains_key(&i.name)) {
            return Err(LockError::Inconsistent(format!(
                "workflow input `{}` was not stored",
                missing.name
            )));
        }
        let mut components: Vec<LockedComponent> = Vec::new();
        let mut index: BTreeMap<Digest, usize> = BTreeMap::new();
        let steps = plan
            .steps
            .iter()
            .zip(digests)
            .map(|(s, digest)| {
                let component = *index.entry(*digest).or_insert_with(|| {
                    components.push(LockedComponent {
                        digest: *digest,
                        info: (*s.info).clone(),
                    });
                    components.len() - 1
                });
                LockedStep {
                    id: s.id.clone(),
                    uses: s.uses.clone(),
                    component,
                    outputs: s.outputs.clone(),
                    inputs: s.inputs.clone(),
                    params: s.params.clone(),
                    limits: s.limits,
                    policy: s.policy,
                    deps: s.deps.clone(),
                    instance: s.instance.clone(),
                    concurrency: s.concurrency,
                    condition: s.condition.as_ref().map(|c| c.text.clone()),
                    runs_on: s.runs_on.clone(),
                }
            })
            .collect();
        let locked = LockedPlan {
            format: LOCK_FORMAT,
            workflow: plan.name.clone(),
            params: plan.params.clone(),
            inputs: plan
                .inputs
                .iter()
                .filter_map(|i| {
                    Some(LockedInput {
                        name: i.name.clone(),
                        path: i.path.clone(),
                        artifact: inputs.get(&i.name)?.clone(),
                    })
                })
                .collect(),
            timeout: plan.timeout,
            components,
            steps,
        };
        locked.check()?;
        Ok(locked)
    }

    /// The document as recorded.
    pub fn to_json(&self) -> String {
        // Plain data with string keys and finite numbers: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a recorded document, refusing other formats and inconsistent ones.
    pub fn from_json(text: &str) -> Result<LockedPlan, LockError> {
        #[derive(Deserialize)]
        struct Head {
            format: u32,
        }
        let head: Head = serde_json::from_str(text).map_err(|e| LockError::Parse(e.to_string()))?;
        if head.format != LOCK_FORMAT {
            return Err(LockError::Format { found: head.format });
        }
        let plan: LockedPlan = serde_json::from_str(text).map_err(|e| LockError::Parse(e.to_string()))?;
        plan.check()?;
        Ok(plan)
    }

    /// What the scheduler, the sandbox and the executors rely on without checking again:
    /// indices in range, dependencies before dependents, ids unique, every binding's
    /// source there (an earlier step's declared output, or a stored input), outputs the
    /// component declares, and the model's bounds on limits, retries and concurrency
    /// (a deadline past them would overflow, a concurrency of 0 would never start). A
    /// document is data like any other: it is checked before anything runs from it.
    fn check(&self) -> Result<(), LockError> {
        use weft_model::quantity::{MAX_DURATION, MAX_MEMORY};
        let bad = |m: String| Err(LockError::Inconsistent(m));
        let within = |d: Option<Duration>| d.is_none_or(|d| d <= MAX_DURATION);
        if !within(self.timeout) {
            return bad("the run's time limit is out of bounds".into());
        }
        let inputs: std::collections::HashSet<&str> = self.inputs.iter().map(|i| i.name.as_str()).collect();
        let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for (i, s) in self.steps.iter().enumerate() {
            let id = &s.id;
            let Some(component) = self.components.get(s.component) else {
                return bad(format!("step `{id}` names component #{}", s.component));
            };
            if let Some(d) = s.deps.iter().find(|&&d| d >= i) {
                return bad(format!(
                    "step `{id}` depends on step #{d}, which does not come before it"
                ));
            }
            if index.insert(id.as_str(), i).is_some() {
                return bad(format!("step `{id}` appears twice"));
            }
            if let Some((port, _)) = s.outputs.iter().find(|(p, _)| component.info.output(p).is_none()) {
                return bad(format!(
                    "step `{id}` writes `{port}`, which its component does not declare"
                ));
            }
            for b in &s.inputs {
                let known = match &b.source {
                    weft_model::Source::Input(name) => inputs.contains(name.as_str()),
                    weft_model::Source::Step { step, port } => index
                        .get(step.as_str())
                        .is_some_and(|&d| s.deps.contains(&d) && self.steps[d].outputs.iter().any(|(p, _)| p == port)),
                };
                if !known {
                    return bad(format!(
                        "step `{id}` reads `{}`, which nothing before it provides",
                        b.port
                    ));
                }
            }
            let limits = s.limits;
            if !within(limits.timeout) || limits.memory.is_some_and(|m| m > MAX_MEMORY) {
                return bad(format!("step `{id}` has limits out of bounds"));
            }
            let retry = s.policy.retry;
            if retry.max > weft_model::policy::MAX_RETRIES
                || !within(Some(retry.backoff))
                || !within(Some(retry.max_backoff))
            {
                return bad(format!("step `{id}` has a retry policy out of bounds"));
            }
            if s.concurrency == Some(0) {
                return bad(format!("step `{id}` may never run (concurrency 0)"));
            }
        }
        Ok(())
    }

    /// The plan to schedule and the component digest of each of its steps.
    pub fn unlock(&self) -> Result<(Plan, Vec<Digest>), LockError> {
        let workflow_params: BTreeMap<String, ParamValue> = self.params.iter().cloned().collect();
        let infos: Vec<Arc<StepInfo>> = self.components.iter().map(|c| Arc::new(c.info.clone())).collect();
        let mut steps = Vec::with_capacity(self.steps.len());
        let mut digests = Vec::with_capacity(self.steps.len());
        for s in &self.steps {
            let info = infos
                .get(s.component)
                .ok_or_else(|| LockError::Inconsistent(format!("step `{}` names a missing component", s.id)))?;
            let condition = match &s.condition {
                Some(text) => Some(Condition {
                    text: text.clone(),
                    expr: weft_model::condition::Expr::parse(text)
                        .and_then(|e| e.fold_params(&workflow_params))
                        .map_err(|e| LockError::Inconsistent(format!("condition of `{}`: {e}", s.id)))?,
                }),
                None => None,
            };
            digests.push(self.components[s.component].digest);
            steps.push(PlannedStep {
                id: s.id.clone(),
                uses: s.uses.clone(),
                info: info.clone(),
                outputs: s.outputs.clone(),
                inputs: s.inputs.clone(),
                params: s.params.clone(),
                limits: s.limits,
                policy: s.policy,
                deps: s.deps.clone(),
                instance: s.instance.clone(),
                concurrency: s.concurrency,
                condition,
                runs_on: s.runs_on.clone(),
            });
        }
        let plan = Plan {
            name: self.workflow.clone(),
            params: self.params.clone(),
            inputs: self
                .inputs
                .iter()
                .map(|i| PlannedInput {
                    name: i.name.clone(),
                    path: i.path.clone(),
                    media_type: i.artifact.media_type.clone(),
                })
                .collect(),
            steps,
            timeout: self.timeout,
        };
        Ok((plan, digests))
    }

    /// The stored workflow inputs by name.
    pub fn input_artifacts(&self) -> BTreeMap<String, ArtifactMeta> {
        self.inputs
            .iter()
            .map(|i| (i.name.clone(), i.artifact.clone()))
            .collect()
    }

    /// One step by id.
    pub fn step(&self, id: &str) -> Option<&LockedStep> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// Whether any step sets a fuel budget (the sandbox must then meter fuel).
    pub fn needs_fuel(&self) -> bool {
        self.steps.iter().any(|s| s.limits.fuel.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_model::{Catalog, ParamSpec, ParamType, Port, Source};

    fn port(name: &str, many: bool) -> Port {
        Port {
            name: name.into(),
            media_type: "text/plain".into(),
            description: String::new(),
            many,
        }
    }

    /// A plan with everything a lock must carry: parameters, a matrix, a fan-in, a
    /// condition on a metric and a parameter, limits and a retry policy.
    fn plan() -> (Plan, Vec<Digest>, BTreeMap<String, ArtifactMeta>) {
        let info = StepInfo {
            name: "work".into(),
            version: "1.2.3".into(),
            description: "d".into(),
            inputs: vec![port("data", true)],
            outputs: vec![port("data", false)],
            params: vec![ParamSpec {
                name: "rate".into(),
                ty: ParamType::Float,
                default: Some(ParamValue::Float(0.5)),
                description: String::new(),
            }],
        };
        let catalog: Catalog = [("work".to_string(), Ok(info))].into();
        let yaml = "name: locked\nparams:\n  floor: {type: float, default: 0.25}\ninputs:\n  seed: {path: seed.txt}\n\
                    timeout: 1h\nsteps:\n  fan:\n    uses: work\n    inputs: {data: inputs.seed}\n    \
                    matrix: {rate: [0.1, 0.2, 0.3]}\n    limits: {memory: 64Mi, timeout: 30s}\n    \
                    retry: {max: 2, backoff: 10ms}\n  pick:\n    uses: work\n    inputs: {data: fan.data}\n  \
                    join:\n    uses: work\n    inputs: {data: pick.data}\n    \
                    when: \"steps.pick.metrics.loss < params.floor && params.floor > 0.1\"\n    cache: false\n";
        let plan = weft_model::parse_and_validate(yaml, &catalog, &[("floor".into(), "0.3".into())])
            .unwrap_or_else(|d| panic!("{}", d.render("locked.yaml")));
        let digests = plan.steps.iter().map(|_| Digest::of(b"work component")).collect();
        let seed = ArtifactMeta {
            digest: Digest::of(b"seed"),
            size: 4,
            media_type: "text/plain".into(),
        };
        (plan, digests, [("seed".to_string(), seed)].into())
    }

    #[test]
    fn a_locked_plan_unlocks_to_the_plan_it_was_made_from() {
        let (plan, digests, inputs) = plan();
        assert_eq!(plan.steps.len(), 5, "three instances, the fan-in and the join");
        let locked = LockedPlan::lock(&plan, &digests, &inputs).expect("locks");
        assert_eq!(locked.components.len(), 1, "one component, stored once");
        let back = LockedPlan::from_json(&locked.to_json()).expect("reads back");
        assert_eq!(back, locked);
        let (unlocked, unlocked_digests) = back.unlock().expect("unlocks");
        assert_eq!(unlocked, plan);
        assert_eq!(unlocked_digests, digests);
        assert_eq!(back.input_artifacts(), inputs);
    }

    #[test]
    fn other_formats_and_inconsistent_plans_are_refused() {
        let (plan, digests, inputs) = plan();
        let locked = LockedPlan::lock(&plan, &digests, &inputs).expect("locks");
        let newer = LockedPlan {
            format: LOCK_FORMAT + 1,
            ..locked.clone()
        };
        let e = LockedPlan::from_json(&newer.to_json()).expect_err("newer format");
        assert!(e.to_string().contains("has format 2"), "{e}");
        let mut cycle = locked.clone();
        cycle.steps[0].deps = vec![4];
        let e = LockedPlan::from_json(&cycle.to_json()).expect_err("forward dependency");
        assert!(e.to_string().contains("does not come before it"), "{e}");
        let mut missing = locked.clone();
        missing.steps[1].component = 7;
        assert!(LockedPlan::from_json(&missing.to_json()).is_err());
        let mut twice = locked;
        twice.steps[1].id = twice.steps[0].id.clone();
        assert!(LockedPlan::from_json(&twice.to_json()).is_err());
        assert!(matches!(
            LockedPlan::from_json("{\"format\": 1}"),
            Err(LockError::Parse(_))
        ));
        assert!(LockedPlan::from_json("[]").is_err());
    }

    #[test]
    fn a_document_outside_the_models_bounds_is_refused() {
        let (plan, digests, inputs) = plan();
        let locked = LockedPlan::lock(&plan, &digests, &inputs).expect("locks");
        let refused = |change: &dyn Fn(&mut LockedPlan), why: &str| {
            let mut doc = locked.clone();
            change(&mut doc);
            let e = LockedPlan::from_json(&doc.to_json()).expect_err(why);
            assert!(matches!(e, LockError::Inconsistent(_)), "{why}: {e}");
        };
        refused(&|d| d.steps[0].concurrency = Some(0), "concurrency 0");
        refused(
            &|d| d.steps[0].limits.timeout = Some(Duration::MAX),
            "a timeout that overflows",
        );
        refused(&|d| d.steps[0].limits.memory = Some(u64::MAX), "memory past 4 GiB");
        refused(&|d| d.steps[0].policy.retry.max = u32::MAX, "retries past the bound");
        refused(&|d| d.timeout = Some(Duration::MAX), "a run timeout that overflows");
        refused(&|d| d.inputs.clear(), "an input nothing stored");
        refused(
            &|d| {
                d.steps[3].inputs[0].source = Source::Step {
                    step: "nope".into(),
                    port: "data".into(),
                }
            },
            "an unknown source",
        );
        refused(&|d| d.steps[3].outputs[0].0 = "other".into(), "an undeclared output");
        // Locking checks the same: a digest short, an input not stored.
        assert!(LockedPlan::lock(&plan, &digests[1..], &inputs).is_err());
        assert!(LockedPlan::lock(&plan, &digests, &BTreeMap::new()).is_err());
    }
}
