//! Where an input artifact came from: the host's record of the run, kept as a shared DAG
//! (each artifact points at the inputs of the step that made it) so binding an input costs
//! one reference count, and flattened only when a step asks for its `lineage`.

use std::collections::HashSet;
use std::sync::Arc;
use weft_artifacts::{ArtifactMeta, Digest};
use weft_model::ParamValue;

/// One artifact and how it was made.
#[derive(Debug, Clone, PartialEq)]
pub struct Provenance {
    /// `inputs.NAME`, `STEP.PORT`, or a local file's path.
    pub source: String,
    /// The artifact.
    pub artifact: ArtifactMeta,
    /// The step that wrote it; `None` for a workflow input or a local file.
    pub made_by: Option<MadeBy>,
}

/// The step execution that wrote an artifact.
#[derive(Debug, Clone, PartialEq)]
pub struct MadeBy {
    /// The component's declared `name@version`.
    pub step: String,
    /// Digest of the component's bytes.
    pub component: Digest,
    /// Every parameter it ran with.
    pub params: Vec<(String, ParamValue)>,
    /// What it read.
    pub inputs: Vec<Arc<Provenance>>,
}

impl Provenance {
    /// An artifact nothing in this run made: a workflow input or a local file.
    pub fn origin(source: impl Into<String>, artifact: ArtifactMeta) -> Arc<Provenance> {
        Arc::new(Provenance {
            source: source.into(),
            artifact,
            made_by: None,
        })
    }

    /// Every artifact behind `roots`, each source once, every entry after the entries of
    /// the artifacts it was made from (a step can print them top-down as a recipe).
    pub fn flatten(roots: &[Arc<Provenance>]) -> Vec<&Provenance> {
        fn visit<'a>(p: &'a Provenance, seen: &mut HashSet<&'a str>, out: &mut Vec<&'a Provenance>) {
            if !seen.insert(p.source.as_str()) {
                return;
            }
            if let Some(m) = &p.made_by {
                for input in &m.inputs {
                    visit(input, seen, out);
                }
            }
            out.push(p);
        }
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for root in roots {
            visit(root, &mut seen, &mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(bytes: &[u8]) -> ArtifactMeta {
        ArtifactMeta {
            digest: Digest::of(bytes),
            size: bytes.len() as u64,
            media_type: "text/plain".into(),
        }
    }

    fn made(source: &str, inputs: Vec<Arc<Provenance>>) -> Arc<Provenance> {
        Arc::new(Provenance {
            source: source.into(),
            artifact: meta(source.as_bytes()),
            made_by: Some(MadeBy {
                step: "copy@0.1.0".into(),
                component: Digest::of(b"copy"),
                params: Vec::new(),
                inputs,
            }),
        })
    }

    #[test]
    fn flattening_lists_each_source_once_after_what_it_was_made_from() {
        let data = Provenance::origin("inputs.data", meta(b"d"));
        let a = made("a.out", vec![data.clone()]);
        let b = made("b.out", vec![data.clone(), a.clone()]);
        let c = made("c.out", vec![a.clone(), b.clone()]);
        let roots = [c, data];
        let sources: Vec<&str> = Provenance::flatten(&roots).iter().map(|p| p.source.as_str()).collect();
        assert_eq!(sources, ["inputs.data", "a.out", "b.out", "c.out"]);
    }
}
