//! Human quantities, bounded at parse time: memory sizes (`256Mi`) and durations (`60s`),
//! as written in `limits:`, `timeout:`, `retry:` and on the command line (`--timeout`,
//! `--memory`). Every parser here accepts any text without panicking and returns only
//! values the engine can add to an `Instant` or hand to wasmtime.

use std::time::Duration;

/// Longest duration accepted anywhere (step and run timeouts, retry backoffs): 7 days.
///
/// Why 7 days: a step or run that needs longer than a week is better split or resumed
/// (`weft run --resume`) than held in one process; a week is far above any timeout seen in
/// practice (steps take seconds to hours), and far below the point where `Instant + d`
/// overflows (which panics in the engine's and sandbox's deadline arithmetic).
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Smallest memory limit: one WebAssembly page.
pub const MIN_MEMORY: u64 = 1 << 16;
/// Largest memory limit: a wasm32 linear memory cannot grow past 4 GiB.
pub const MAX_MEMORY: u64 = 4 << 30;

/// Parses a byte size: a plain integer, or an integer with `Ki Mi Gi` (powers of 1024)
/// or `K M G` / `k` (powers of 1000) suffix.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mul: u64 = match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "k" | "K" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        _ if num.is_empty() => return Err(format!("`{}` is not a size like `256Mi` or `1Gi`", clip(text))),
        _ => {
            return Err(format!(
                "`{}` has unknown unit `{}`; use Ki, Mi, Gi, K, M or G",
                clip(text),
                clip(unit)
            ));
        }
    };
    if num.is_empty() {
        return Err(format!("`{}` is not a size like `256Mi` or `1Gi`", clip(text)));
    }
    // Digits past u64 are certainly too large.
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .ok_or_else(|| format!("`{}` is too large", clip(text)))
}

/// Parses a memory limit: a size (see [`parse_bytes`]) from 64Ki to 4Gi.
pub fn parse_memory_limit(text: &str) -> Result<u64, String> {
    match parse_bytes(text) {
        Err(e) if e.ends_with("too large") => Err(too_much_memory()),
        other => check_memory_limit(other?),
    }
}

/// Checks that a memory limit in bytes lies from 64Ki to 4Gi.
pub fn check_memory_limit(bytes: u64) -> Result<u64, String> {
    if bytes > MAX_MEMORY {
        Err(too_much_memory())
    } else if bytes < MIN_MEMORY {
        Err("at least 64Ki: one WebAssembly page".into())
    } else {
        Ok(bytes)
    }
}

fn too_much_memory() -> String {
    "at most 4Gi: a wasm32 memory cannot grow past 4 GiB".into()
}

/// Parses a duration: an integer with `ms`, `s`, `m` or `h`, at most [`MAX_DURATION`].
/// Zero is allowed (a retry backoff of `0s` retries at once); see [`parse_timeout`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(format!(
            "`{}` is not a duration like `500ms`, `30s` or `5m`",
            clip(text)
        ));
    }
    let unit_ms: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "" => return Err(format!("`{}` needs a unit: ms, s, m or h", clip(text))),
        _ => {
            return Err(format!(
                "`{}` has unknown unit `{}`; use ms, s, m or h",
                clip(text),
                clip(unit)
            ));
        }
    };
    let too_long = || {
        format!(
            "`{}` is longer than the {}h maximum (7 days)",
            clip(text),
            MAX_DURATION.as_secs() / 3600
        )
    };
    // Digits past u64 are certainly too long; anything else is compared in milliseconds.
    let n = num.parse::<u64>().ok().ok_or_else(too_long)?;
    let ms = n.checked_mul(unit_ms).ok_or_else(too_long)?;
    let d = Duration::from_millis(ms);
    if d > MAX_DURATION {
        return Err(too_long());
    }
    Ok(d)
}

/// Parses a time limit: a duration (see [`parse_duration`]) longer than zero.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    parse_duration(text).and_then(nonzero)
}

/// `d`, unless it is zero (a time limit of zero would stop everything at once).
pub fn nonzero(d: Duration) -> Result<Duration, String> {
    if d.is_zero() {
        Err("must be longer than zero".into())
    } else {
        Ok(d)
    }
}

/// User text quoted in a message, shortened so a message stays small whatever the input.
fn clip(text: &str) -> String {
    crate::diagnostic::clip(text, 40)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("256Mi"), Ok(256 << 20));
        assert_eq!(parse_bytes("1G"), Ok(1_000_000_000));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert!(parse_bytes("1Pi").is_err());
        assert!(parse_bytes("Mi").is_err());
        assert!(parse_bytes("99999999999999999999Gi").is_err());
        assert!(parse_bytes("").is_err());
    }

    #[test]
    fn memory_limits_are_bounded() {
        assert_eq!(parse_memory_limit("64Mi"), Ok(64 << 20));
        assert_eq!(parse_memory_limit("4Gi"), Ok(4 << 30));
        assert!(parse_memory_limit("5Gi").expect_err("big").contains("at most 4Gi"));
        assert!(
            parse_memory_limit("99999999999999999999Gi")
                .expect_err("huge")
                .contains("at most 4Gi")
        );
        assert!(parse_memory_limit("1Ki").expect_err("small").contains("at least 64Ki"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("1d").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn durations_are_bounded() {
        assert_eq!(parse_duration("168h"), Ok(MAX_DURATION));
        for huge in [
            "169h",
            "604800001ms",
            "18446744073709551615s",
            "99999999999999999999999h",
        ] {
            let e = parse_duration(huge).expect_err(huge);
            assert!(e.contains("longer than the 168h maximum"), "{e}");
        }
        assert_eq!(parse_timeout("0ms"), Err("must be longer than zero".into()));
        // Every accepted duration can be added to an Instant.
        let _ = std::time::Instant::now() + parse_timeout("168h").expect("max");
    }

    #[test]
    fn messages_stay_short() {
        let long = "9".repeat(100_000) + "parsecs";
        assert!(parse_duration(&long).expect_err("long").len() < 200);
        assert!(parse_bytes(&long).expect_err("long").len() < 200);
    }
}
