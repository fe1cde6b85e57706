//! Lineage: which run, step, component, parameters and inputs produced an artifact,
//! recursively back to the workflow inputs — answered from the records alone.

use crate::read::digest;
use crate::{Records, RecordsError};
use std::collections::{BTreeMap, HashMap};
use weft_artifacts::Digest;

/// Where an artifact came from.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    /// A workflow input of a run.
    Input {
        /// The run.
        run_id: String,
        /// The input's name.
        name: String,
    },
    /// A step's execution.
    Step {
        /// The run it executed in.
        run_id: String,
        /// The step id.
        step: String,
        /// The output port.
        port: String,
        /// The `uses:` reference.
        uses: String,
        /// Digest of the component that ran.
        component: Digest,
        /// Its parameters.
        params: BTreeMap<String, serde_json::Value>,
    },
    /// Nothing in the records produced it.
    Unknown,
}

/// One artifact in a lineage graph.
#[derive(Debug, Clone, PartialEq)]
pub struct LineageNode {
    /// The artifact.
    pub digest: Digest,
    /// Who made it.
    pub origin: Origin,
    /// What its producer read: (input port, index of that artifact's node).
    pub inputs: Vec<(String, usize)>,
}

/// Identifies a node while the graph is built.
#[derive(Hash, PartialEq, Eq, Clone)]
enum Key {
    Input(String, String),
    Step(String, String, String),
}

impl Records {
    /// The lineage of `digest`: node 0 is the artifact itself; every node lists the nodes
    /// of the artifacts its producer read. Executions are preferred over cache hits (a hit
    /// leads to the execution it reused). `None` when the records never saw the digest.
    pub async fn lineage(&self, of: &Digest) -> Result<Option<Vec<LineageNode>>, RecordsError> {
        let producer = self
            .db
            .first::<(String, String, String)>(
                "SELECT o.run_id, o.step, o.port FROM step_outputs o \
                 JOIN steps s ON s.run_id = o.run_id AND s.step = o.step \
                 JOIN runs r ON r.id = o.run_id \
                 WHERE o.digest = $1 AND r.tenant = $2 \
                 ORDER BY (s.reuse IS NULL) DESC, s.finished_at, o.run_id LIMIT 1",
                vec![of.to_string().into(), self.tenant.as_str().into()],
            )
            .await?;
        let key = match producer {
            Some((run_id, step, port)) => Key::Step(run_id, step, port),
            None => {
                let input = self
                    .db
                    .first::<(String, String)>(
                        "SELECT i.run_id, i.name FROM run_inputs i JOIN runs r ON r.id = i.run_id \
                         WHERE i.digest = $1 AND r.tenant = $2 ORDER BY r.started_at LIMIT 1",
                        vec![of.to_string().into(), self.tenant.as_str().into()],
                    )
                    .await?;
                match input {
                    Some((run_id, name)) => Key::Input(run_id, name),
                    None => return Ok(None),
                }
            }
        };
        let mut nodes = Vec::new();
        let mut seen = HashMap::new();
        self.visit(key, *of, &mut nodes, &mut seen).await?;
        Ok(Some(nodes))
    }

    /// Adds the node for `key` (and, depth first, its inputs); returns its index.
    async fn visit(
        &self,
        key: Key,
        artifact: Digest,
        nodes: &mut Vec<LineageNode>,
        seen: &mut HashMap<Key, usize>,
    ) -> Result<usize, RecordsError> {
        // Iterative over an explicit stack: lineages of long chains must not overflow.
        let root = nodes.len();
        let mut stack = vec![(key, artifact, None::<(usize, String)>)];
        while let Some((key, artifact, parent)) = stack.pop() {
            let index = match seen.get(&key) {
                Some(&i) => i,
                None => {
                    let i = nodes.len();
                    seen.insert(key.clone(), i);
                    let (origin, inputs) = self.origin(&key).await?;
                    nodes.push(LineageNode {
                        digest: artifact,
                        origin,
                        inputs: Vec::new(),
                    });
                    for (port, child, child_digest) in inputs.into_iter().rev() {
                        stack.push((child, child_digest, Some((i, port))));
                    }
                    i
                }
            };
            if let Some((p, port)) = parent {
                nodes[p].inputs.push((port, index));
            }
        }
        // Children were pushed reversed and popped in order; keep ports in binding order.
        Ok(root)
    }

    /// Who made the artifact at `key`, and the keys of what it read.
    async fn origin(&self, key: &Key) -> Result<(Origin, Vec<(String, Key, Digest)>), RecordsError> {
        let (run_id, step, port) = match key {
            Key::Input(run_id, name) => {
                return Ok((
                    Origin::Input {
                        run_id: run_id.clone(),
                        name: name.clone(),
                    },
                    Vec::new(),
                ));
            }
            Key::Step(run_id, step, port) => (run_id.clone(), step.clone(), port.clone()),
        };
        let Some((uses, component, params, reuse, cache_key)) = self
            .db
            .first::<(String, String, String, Option<String>, Option<String>)>(
                "SELECT uses, component, params, reuse, cache_key FROM steps WHERE run_id = $1 AND step = $2",
                vec![run_id.as_str().into(), step.as_str().into()],
            )
            .await?
        else {
            return Ok((Origin::Unknown, Vec::new()));
        };
        // A cache hit made nothing: follow it to the execution it reused.
        if reuse.as_deref() == Some("cached")
            && let Some(cache_key) = cache_key
            && let Some((original_run, original_step)) = self
                .db
                .first::<(String, String)>(
                    "SELECT run_id, step FROM cache_entries WHERE tenant = $1 AND cache_key = $2",
                    vec![self.tenant.as_str().into(), cache_key.into()],
                )
                .await?
        {
            let original = Key::Step(original_run, original_step, port);
            return Box::pin(self.origin(&original)).await;
        }
        let inputs = self
            .db
            .all::<(String, String, String)>(
                "SELECT port, source, digest FROM step_inputs WHERE run_id = $1 AND step = $2 ORDER BY position",
                vec![run_id.as_str().into(), step.as_str().into()],
            )
            .await?
            .into_iter()
            .map(|(input_port, source, input_digest)| {
                let child = match source.strip_prefix("inputs.") {
                    Some(name) => Key::Input(run_id.clone(), name.to_string()),
                    None => {
                        let (s, p) = source.rsplit_once('.').unwrap_or((source.as_str(), ""));
                        Key::Step(run_id.clone(), s.to_string(), p.to_string())
                    }
                };
                Ok((input_port, child, digest(&input_digest)?))
            })
            .collect::<Result<Vec<_>, RecordsError>>()?;
        Ok((
            Origin::Step {
                run_id,
                step,
                port,
                uses,
                component: digest(&component)?,
                params: serde_json::from_str(&params).unwrap_or_default(),
            },
            inputs,
        ))
    }
}

/// A lineage graph as JSON (`weft lineage --json`, the HTTP API): one object per node —
/// `digest`, `origin` (`kind` input, step or unknown, with where it came from) and
/// `inputs` (`port`, index of that artifact's `node`).
pub fn lineage_json(nodes: &[LineageNode]) -> serde_json::Value {
    let items: Vec<serde_json::Value> = nodes
        .iter()
        .map(|n| {
            let origin = match &n.origin {
                Origin::Input { run_id, name } => serde_json::json!({"kind": "input", "run": run_id, "name": name}),
                Origin::Step {
                    run_id,
                    step,
                    port,
                    uses,
                    component,
                    params,
                } => serde_json::json!({"kind": "step", "run": run_id, "step": step, "port": port, "uses": uses,
                    "component": component.to_string(), "params": params}),
                Origin::Unknown => serde_json::json!({"kind": "unknown"}),
            };
            let inputs: Vec<serde_json::Value> = n
                .inputs
                .iter()
                .map(|(port, i)| serde_json::json!({"port": port, "node": i}))
                .collect();
            serde_json::json!({"digest": n.digest.to_string(), "origin": origin, "inputs": inputs})
        })
        .collect();
    serde_json::Value::Array(items)
}

/// A lineage graph read back from [`lineage_json`] (what `weft lineage --server` receives):
/// every field checked, every node index in range, so a rendering never indexes past it.
pub fn lineage_from_json(value: &serde_json::Value) -> Result<Vec<LineageNode>, String> {
    let items = value.as_array().ok_or("a lineage is a JSON array of nodes")?;
    let text = |v: &serde_json::Value, key: &str| -> Result<String, String> {
        v[key]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("a lineage node has no `{key}`"))
    };
    let mut nodes = Vec::with_capacity(items.len());
    for item in items {
        let digest = text(item, "digest")?.parse::<Digest>()?;
        let o = &item["origin"];
        let origin = match o["kind"].as_str() {
            Some("input") => Origin::Input {
                run_id: text(o, "run")?,
                name: text(o, "name")?,
            },
            Some("step") => Origin::Step {
                run_id: text(o, "run")?,
                step: text(o, "step")?,
                port: text(o, "port")?,
                uses: text(o, "uses")?,
                component: text(o, "component")?.parse::<Digest>()?,
                params: serde_json::from_value(o["params"].clone()).map_err(|e| format!("a node's params: {e}"))?,
            },
            Some("unknown") => Origin::Unknown,
            _ => return Err("a lineage node's origin is not input, step or unknown".to_string()),
        };
        let mut inputs = Vec::new();
        for input in item["inputs"].as_array().ok_or("a lineage node has no `inputs`")? {
            let node = input["node"]
                .as_u64()
                .and_then(|i| usize::try_from(i).ok())
                .filter(|i| *i < items.len())
                .ok_or("a lineage node names a node that is not there")?;
            inputs.push((text(input, "port")?, node));
        }
        nodes.push(LineageNode { digest, origin, inputs });
    }
    if nodes.is_empty() {
        return Err("a lineage has at least its artifact's node".to_string());
    }
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_reads_back_to_the_same_graph() {
        let nodes = vec![
            LineageNode {
                digest: Digest::of(b"model"),
                origin: Origin::Step {
                    run_id: "r1".into(),
                    step: "train".into(),
                    port: "model".into(),
                    uses: "builtin:train".into(),
                    component: Digest::of(b"component"),
                    params: BTreeMap::from([("depth".to_string(), serde_json::json!(3))]),
                },
                inputs: vec![("data".into(), 1)],
            },
            LineageNode {
                digest: Digest::of(b"data"),
                origin: Origin::Input {
                    run_id: "r1".into(),
                    name: "data".into(),
                },
                inputs: vec![],
            },
            LineageNode {
                digest: Digest::of(b"x"),
                origin: Origin::Unknown,
                inputs: vec![],
            },
        ];
        assert_eq!(lineage_from_json(&lineage_json(&nodes)).expect("reads back"), nodes);
    }

    #[test]
    fn a_node_index_out_of_range_is_refused() {
        let mut json = lineage_json(&[LineageNode {
            digest: Digest::of(b"a"),
            origin: Origin::Unknown,
            inputs: vec![("p".into(), 0)],
        }]);
        json[0]["inputs"][0]["node"] = serde_json::json!(1);
        assert!(lineage_from_json(&json).expect_err("refused").contains("not there"));
        assert!(lineage_from_json(&serde_json::json!([])).is_err());
    }
}
