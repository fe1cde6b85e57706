//! The cache key of a step execution: a digest over everything its outputs can depend on.
//! Steps are hermetic (no clock, randomness, network or files but their inputs), so this
//! is the component, every input's digest, every parameter and the output types — and
//! the granted capabilities, none today; a step granted any would have to stay uncached.
//! Limits are left out: they decide whether a step finishes, not what it writes.

use std::sync::Arc;
use weft_artifacts::Digest;
use weft_model::ParamValue;
use weft_task::Provenance;

/// Version of the key's layout; bump it when the text below changes.
const LAYOUT: &str = "weft-cache-key/1";

/// Computes the key. Parameters arrive complete (defaults applied) in declaration order,
/// so writing a default out or leaving it implied gives the same key.
pub fn cache_key(
    component: &Digest,
    inputs: &[(String, Arc<Provenance>)],
    params: &[(String, ParamValue)],
    outputs: &[(String, String)],
) -> Digest {
    let mut text = format!("{LAYOUT}\ncomponent {component}\n");
    for (port, p) in inputs {
        text.push_str(&format!("input {port} {}\n", p.artifact.digest));
    }
    for (name, value) in params {
        let value = match value {
            // Exact bits: `0.1` and `0.1000000000000000055` are different parameters.
            ParamValue::Float(f) => format!("float {:016x}", f.to_bits()),
            ParamValue::Int(i) => format!("int {i}"),
            ParamValue::Bool(b) => format!("bool {b}"),
            ParamValue::Str(s) => format!("str {}", serde_json::Value::from(s.as_str())),
        };
        text.push_str(&format!("param {name} {value}\n"));
    }
    for (port, media_type) in outputs {
        text.push_str(&format!("output {port} {media_type}\n"));
    }
    text.push_str("grants none\n");
    Digest::of(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_artifacts::ArtifactMeta;

    fn input(bytes: &[u8]) -> Vec<(String, Arc<Provenance>)> {
        let meta = ArtifactMeta {
            digest: Digest::of(bytes),
            size: bytes.len() as u64,
            media_type: "text/plain".into(),
        };
        vec![("data".into(), Provenance::origin("inputs.data", meta))]
    }

    #[test]
    fn every_part_changes_the_key_and_nothing_else_does() {
        let c = Digest::of(b"component");
        let params = vec![("k".to_string(), ParamValue::Float(0.1))];
        let outputs = vec![("out".to_string(), "text/plain".to_string())];
        let base = cache_key(&c, &input(b"x"), &params, &outputs);
        assert_eq!(base, cache_key(&c, &input(b"x"), &params, &outputs));
        assert_ne!(
            base,
            cache_key(&Digest::of(b"componenT"), &input(b"x"), &params, &outputs)
        );
        assert_ne!(base, cache_key(&c, &input(b"y"), &params, &outputs));
        let nudged = vec![("k".to_string(), ParamValue::Float(f64::from_bits(0.1f64.to_bits() + 1)))];
        assert_ne!(base, cache_key(&c, &input(b"x"), &nudged, &outputs));
        let typed = vec![("k".to_string(), ParamValue::Str("0.1".into()))];
        assert_ne!(base, cache_key(&c, &input(b"x"), &typed, &outputs));
        let retyped = vec![("out".to_string(), "text/csv".to_string())];
        assert_ne!(base, cache_key(&c, &input(b"x"), &params, &retyped));
        // Where an input came from does not matter, only its bytes.
        let mut moved = input(b"x");
        moved[0].1 = Provenance::origin("other.out", moved[0].1.artifact.clone());
        assert_eq!(base, cache_key(&c, &moved, &params, &outputs));
    }
}
