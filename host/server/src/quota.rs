//! Per-tenant quotas: server defaults (`weft serve --quota NAME=VALUE`) with per-tenant
//! overrides kept in the records (`weft tenant quota TENANT NAME=VALUE`). What each bounds,
//! and where it is enforced:
//!
//! | name | bounds | exceeded |
//! |---|---|---|
//! | `concurrent-steps` | the tenant's steps executing at once, over all its runs | its steps wait (`fair.rs`) |
//! | `concurrent-runs` | the tenant's runs executing or waiting for slots at once | 429 at submit or resume |
//! | `step-memory` | the memory a step may use (its `limits.memory`, or the server's default) | 422 at submit |
//! | `step-timeout` | the wall time a step may take (`limits.timeout`, or the default) | 422 at submit |
//! | `step-fuel` | the fuel a step may use (`limits.fuel`, which it must then set); unset: no bound | 422 at submit |
//! | `run-output-bytes` | the bytes a run's steps may produce together | the write that passes it fails its step with `quota exceeded` |
//! | `stored-bytes` | the bytes of every artifact the tenant stores (`usage.rs`) | that write fails its step; an upload or a publication answers 422 |
//! | `submissions-per-minute` | workflow submissions, valid or not | 429 with `Retry-After` |
//! | `component-size` | a component the tenant publishes | 413 |

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};
use weft_model::quantity::{parse_bytes, parse_timeout};

/// A tenant's quotas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Quotas {
    /// Steps executing at once over all the tenant's runs.
    pub concurrent_steps: u64,
    /// Runs executing (or waiting for slots) at once.
    pub concurrent_runs: u64,
    /// Most memory of one step, bytes.
    pub step_memory: u64,
    /// Longest wall time of one step, seconds.
    pub step_timeout: u64,
    /// Most fuel one step may set; `None`: no bound.
    pub step_fuel: Option<u64>,
    /// Most bytes one run's steps may produce together.
    pub run_output_bytes: u64,
    /// Most bytes of artifacts the tenant may store in all.
    pub stored_bytes: u64,
    /// Most workflow submissions per minute.
    pub submissions_per_minute: u64,
    /// Largest component the tenant may publish, bytes.
    pub component_size: u64,
}

impl Default for Quotas {
    fn default() -> Quotas {
        Quotas {
            concurrent_steps: 4,
            concurrent_runs: 1000,
            step_memory: 4 << 30,
            step_timeout: 3600,
            step_fuel: None,
            run_output_bytes: 64 << 30,
            stored_bytes: 1 << 40,
            submissions_per_minute: 60,
            component_size: weft_runner::MAX_COMPONENT_BYTES,
        }
    }
}

/// The quota names, as written in `NAME=VALUE`.
pub const QUOTA_NAMES: [&str; 9] = [
    "concurrent-steps",
    "concurrent-runs",
    "step-memory",
    "step-timeout",
    "step-fuel",
    "run-output-bytes",
    "stored-bytes",
    "submissions-per-minute",
    "component-size",
];

impl Quotas {
    /// Reads `NAME=VALUE` (sizes like `1Gi`, durations like `10m`, counts as numbers;
    /// `step-fuel=none` for no bound) into the JSON value it is kept as.
    pub fn parse_setting(text: &str) -> Result<(String, serde_json::Value), String> {
        let (name, value) = text
            .split_once('=')
            .ok_or_else(|| format!("`{text}`: write NAME=VALUE (names: {})", QUOTA_NAMES.join(", ")))?;
        let count = |v: &str| {
            v.parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("`{name}`: `{v}` is not a positive whole number"))
        };
        let value = match name {
            "concurrent-steps" | "concurrent-runs" | "submissions-per-minute" => serde_json::json!(count(value)?),
            "step-fuel" if value == "none" => serde_json::Value::Null,
            "step-fuel" => serde_json::json!(count(value)?),
            "step-memory" | "run-output-bytes" | "stored-bytes" | "component-size" => {
                serde_json::json!(parse_bytes(value).map_err(|e| format!("`{name}`: {e}"))?)
            }
            "step-timeout" => serde_json::json!(
                parse_timeout(value)
                    .map_err(|e| format!("`{name}`: {e}"))?
                    .as_secs()
                    .max(1)
            ),
            _ => return Err(format!("no quota `{name}` (names: {})", QUOTA_NAMES.join(", "))),
        };
        Ok((name.to_string(), value))
    }

    /// These quotas with `overrides` (quota name → value, as [`Quotas::parse_setting`]
    /// makes them) applied.
    pub fn with_overrides(&self, overrides: &serde_json::Map<String, serde_json::Value>) -> Result<Quotas, String> {
        let mut merged = match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => return Err("quotas are not a JSON object".into()),
        };
        for (k, v) in overrides {
            merged.insert(k.clone(), v.clone());
        }
        serde_json::from_value(serde_json::Value::Object(merged)).map_err(|e| format!("bad quota overrides: {e}"))
    }

    /// The problems of a plan against the step quotas: each step's effective memory, time
    /// and fuel (its limits, or the sandbox's defaults) as (step id, problem).
    pub(crate) fn check_plan(
        &self,
        plan: &weft_model::Plan,
        default_memory: u64,
        default_timeout: Duration,
    ) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        for step in &plan.steps {
            let memory = step.limits.memory.unwrap_or(default_memory);
            if memory > self.step_memory {
                problems.push((
                    step.id.clone(),
                    format!(
                        "quota step-memory: the step may use {memory} bytes, more than the tenant's quota of {} \
                         (set a lower `limits.memory`)",
                        self.step_memory
                    ),
                ));
            }
            let timeout = step.limits.timeout.unwrap_or(default_timeout);
            if timeout > Duration::from_secs(self.step_timeout) {
                problems.push((
                    step.id.clone(),
                    format!(
                        "quota step-timeout: the step may run {} s, longer than the tenant's quota of {} s \
                         (set a shorter `limits.timeout`)",
                        timeout.as_secs(),
                        self.step_timeout
                    ),
                ));
            }
            match (step.limits.fuel, self.step_fuel) {
                (Some(fuel), Some(quota)) if fuel > quota => problems.push((
                    step.id.clone(),
                    format!("quota step-fuel: the step sets {fuel} fuel, more than the tenant's quota of {quota}"),
                )),
                (None, Some(quota)) => problems.push((
                    step.id.clone(),
                    format!("quota step-fuel: set `limits.fuel` to at most the tenant's quota of {quota}"),
                )),
                _ => {}
            }
        }
        problems
    }
}

/// Submissions per minute, per tenant: a token bucket each, refilled continuously.
#[derive(Default)]
pub(crate) struct SubmissionRate {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl SubmissionRate {
    /// Takes one submission of `tenant`'s `per_minute`; `Err(wait)` when none is left.
    pub(crate) fn take(&self, tenant: &str, per_minute: u64) -> Result<(), Duration> {
        let per_minute = per_minute.max(1) as f64;
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let (tokens, last) = buckets.entry(tenant.to_string()).or_insert((per_minute, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * per_minute / 60.0).min(per_minute);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) * 60.0 / per_minute))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_into_overrides_that_apply() {
        let mut overrides = serde_json::Map::new();
        for text in [
            "concurrent-steps=2",
            "step-memory=64Mi",
            "step-timeout=10m",
            "step-fuel=1000",
        ] {
            let (k, v) = Quotas::parse_setting(text).expect(text);
            overrides.insert(k, v);
        }
        let q = Quotas::default().with_overrides(&overrides).expect("valid");
        assert_eq!(q.concurrent_steps, 2);
        assert_eq!(q.step_memory, 64 << 20);
        assert_eq!(q.step_timeout, 600);
        assert_eq!(q.step_fuel, Some(1000));
        assert_eq!(q.submissions_per_minute, Quotas::default().submissions_per_minute);
        for bad in [
            "nope=1",
            "concurrent-steps=0",
            "concurrent-steps=x",
            "step-memory=lots",
            "concurrent-steps",
        ] {
            assert!(Quotas::parse_setting(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Quotas::parse_setting("step-fuel=none").expect("none").1,
            serde_json::Value::Null
        );
    }

    #[test]
    fn the_submission_bucket_empties_and_says_how_long_to_wait() {
        let rate = SubmissionRate::default();
        for _ in 0..3 {
            assert!(rate.take("a", 3).is_ok());
        }
        let wait = rate.take("a", 3).expect_err("empty");
        assert!(
            wait > Duration::from_secs(15) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert!(rate.take("b", 3).is_ok(), "another tenant has its own bucket");
    }
}
