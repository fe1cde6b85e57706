//! Test guest `work`: burns a chosen amount of CPU over its input and writes a digest of it,
//! or fails the way it is told to; used by the crash, retry and cache tests.

use weft_step::{Guest, Param, ParamType, ParamValue, StepError, StepInfo, bad_input, failed, io, param, port};

/// The step; its `Guest` implementation is exported with `weft_step::export!`.
pub struct G;

impl Guest for G {
    fn describe() -> StepInfo {
        StepInfo {
            name: "test-work".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Mixes its input `rounds` times with `salt` and writes the result as text; or fails \
                          (`fail: failed` retryably, `fail: bad-input` for good)."
                .into(),
            inputs: vec![port("data", "*/*", "Any bytes")],
            outputs: vec![port("data", "text/plain", "The input's length and mixed value")],
            params: vec![
                param(
                    "rounds",
                    ParamType::Int,
                    Some(ParamValue::Int(100_000)),
                    "Mixing rounds (CPU time)",
                ),
                param(
                    "salt",
                    ParamType::Int,
                    Some(ParamValue::Int(0)),
                    "Mixed in: changes the output",
                ),
                param(
                    "fail",
                    ParamType::Str,
                    Some(ParamValue::Str(String::new())),
                    "`failed`, `bad-input` or empty",
                ),
            ],
        }
    }

    fn run(params: Vec<Param>) -> Result<(), StepError> {
        let p = weft_step::params::Params(params);
        match p.str("fail")?.as_str() {
            "" => {}
            "failed" => return Err(failed("told to fail (retryable)")),
            "bad-input" => return Err(bad_input("told to fail (bad input)")),
            other => return Err(bad_input(format!("unknown `fail` value `{other}`"))),
        }
        let data = io::read_bytes("data")?;
        let value = mix(&data, p.int("salt")?, p.int("rounds")?);
        weft_step::metric("value", (value >> 11) as f64);
        io::write_bytes("data", format!("{} {value:016x}\n", data.len()).as_bytes())
    }
}

weft_step::export!(G);

/// FNV-1a over the bytes, then `rounds` xorshift-multiply steps.
fn mix(data: &[u8], salt: i64, rounds: i64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ salt.cast_unsigned();
    for b in data {
        h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
    }
    for _ in 0..rounds.max(0) {
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixing_depends_on_data_salt_and_rounds() {
        let base = mix(b"abc", 1, 10);
        assert_eq!(base, mix(b"abc", 1, 10));
        assert_ne!(base, mix(b"abd", 1, 10));
        assert_ne!(base, mix(b"abc", 2, 10));
        assert_ne!(base, mix(b"abc", 1, 11));
    }
}
