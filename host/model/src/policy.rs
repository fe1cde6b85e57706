//! How the engine treats a step beyond its limits: retries with exponential backoff, and
//! whether its results may be reused from the cache. Parsed from `retry:` and `cache:`.

use crate::authored::MapReader;
use crate::diagnostic::Diagnostic;
use crate::quantity::parse_duration;
use crate::span::Spanned;
use crate::yaml::{Node, Scalar};
use std::time::Duration;

/// Most retries a workflow may ask for.
pub const MAX_RETRIES: u32 = 100;

/// How a failed step is tried again. Only failures a retry may fix are retried (a step's
/// `failed` error, a host problem); bad input and limit violations are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Retry {
    /// Retries after the first attempt (0: none).
    pub max: u32,
    /// Wait before the first retry; doubled for each one after.
    pub backoff: Duration,
    /// Longest wait.
    pub max_backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            max: 0,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
        }
    }
}

impl Retry {
    /// The wait before retry number `retry` (1 for the first), given `jitter` in [0, 1):
    /// the exponential delay, capped, then scaled into its upper half ("equal jitter") so
    /// that retries of many steps spread out but never come sooner than half the delay.
    pub fn delay(&self, retry: u32, jitter: f64) -> Duration {
        let doubled = self
            .backoff
            .saturating_mul(1u32.checked_shl(retry.saturating_sub(1)).unwrap_or(u32::MAX));
        doubled
            .min(self.max_backoff)
            .mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0)
    }
}

/// A step's engine policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Policy {
    /// Retries on retryable failures.
    pub retry: Retry,
    /// Whether results may come from (and go to) the cache; `cache: false` turns it off.
    pub cache: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            retry: Retry::default(),
            cache: true,
        }
    }
}

/// Parses `retry: N` or `retry: {max, backoff, max_backoff}`.
pub(crate) fn parse_retry(node: &Node, field: &str, diags: &mut Vec<Diagnostic>) -> Option<Spanned<Retry>> {
    let count = |n: &Node, field: &str, diags: &mut Vec<Diagnostic>| match n.scalar() {
        Some(Scalar::Int(i)) if (0..=i64::from(MAX_RETRIES)).contains(&i) => u32::try_from(i).ok(),
        other => {
            let found = match other {
                Some(Scalar::Int(i)) => i.to_string(),
                _ => n.shape().to_string(),
            };
            diags.push(Diagnostic::new(
                n.span,
                field,
                format!("expected a number of retries from 0 to {MAX_RETRIES}, found {found}"),
            ));
            None
        }
    };
    if node.scalar().is_some() {
        let max = count(node, field, diags)?;
        return Some(Spanned::new(
            Retry {
                max,
                ..Retry::default()
            },
            node.span,
        ));
    }
    let map = MapReader::new(node, field, diags)?;
    map.check_keys(&["max", "backoff", "max_backoff"], diags);
    let mut retry = Retry::default();
    let mut ok = true;
    match map.get("max") {
        Some(n) => match count(n, &map.sub("max"), diags) {
            Some(max) => retry.max = max,
            None => ok = false,
        },
        None => {
            diags.push(Diagnostic::new(node.span, field, "missing required key `max`"));
            ok = false;
        }
    }
    for (key, slot) in [("backoff", &mut retry.backoff), ("max_backoff", &mut retry.max_backoff)] {
        if let Some(n) = map.get(key) {
            match duration(n) {
                Ok(d) => *slot = d,
                Err(e) => {
                    diags.push(Diagnostic::new(n.span, map.sub(key), e));
                    ok = false;
                }
            }
        }
    }
    if ok && retry.max_backoff < retry.backoff {
        diags.push(Diagnostic::new(
            node.span,
            field,
            "`max_backoff` is shorter than `backoff`",
        ));
        ok = false;
    }
    ok.then(|| Spanned::new(retry, node.span))
}

/// A duration written as text (`500ms`, `2s`); `0s` is allowed (retry at once).
pub(crate) fn duration(n: &Node) -> Result<Duration, String> {
    match n.scalar() {
        Some(Scalar::Str(s)) => parse_duration(s),
        _ => Err(format!("expected a duration like `2s`, found {}", n.shape())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_keeps_the_upper_half() {
        let r = Retry {
            max: 5,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
        };
        assert_eq!(r.delay(1, 1.0), Duration::from_millis(100));
        assert_eq!(r.delay(2, 1.0), Duration::from_millis(200));
        assert_eq!(r.delay(3, 1.0), Duration::from_millis(350));
        assert_eq!(r.delay(3, 0.0), Duration::from_millis(175));
        assert_eq!(r.delay(40, 0.5), Duration::from_micros(262_500));
    }
}
