//! `weft lineage DIGEST`: the audit question "what data and code made this artifact",
//! answered from the run records as an indented tree back to the workflow inputs.

use crate::settings::Settings;
use anyhow::bail;
use std::collections::HashSet;
use std::fmt::Write;
use weft_artifacts::Digest;
use weft_records::{LineageNode, Origin};

pub async fn lineage(digest: &str, json: bool, settings: &Settings) -> anyhow::Result<u8> {
    let digest: Digest = digest.parse().map_err(anyhow::Error::msg)?;
    let records = settings.records().await?;
    let Some(nodes) = records.lineage(&digest).await? else {
        bail!("no recorded run produced or took {digest}");
    };
    if json {
        println!("{}", crate::text::json(&weft_records::lineage_json(&nodes))?);
    } else {
        print!("{}", render(&nodes));
    }
    Ok(0)
}

/// The tree, each node once; a node met again says so instead of repeating its subtree.
pub(crate) fn render(nodes: &[LineageNode]) -> String {
    let mut out = String::new();
    let mut shown = HashSet::new();
    // (node, depth, the consumer's port)
    let mut stack = vec![(0usize, 0usize, None::<String>)];
    while let Some((i, depth, port)) = stack.pop() {
        let node = &nodes[i];
        let indent = "  ".repeat(depth);
        let via = port.map(|p| format!("{p} ← ")).unwrap_or_default();
        let _ = write!(out, "{indent}{via}{} ", node.digest);
        let again = !shown.insert(i);
        match &node.origin {
            Origin::Input { run_id, name } => {
                let _ = writeln!(out, "workflow input `{name}` of run {run_id}");
            }
            Origin::Step {
                run_id,
                step,
                port,
                uses,
                component,
                params,
            } => {
                let _ = writeln!(out, "{step}.{port} of run {run_id}");
                if again {
                    let _ = writeln!(out, "{indent}  (made as shown above)");
                    continue;
                }
                let params: Vec<String> = params
                    .iter()
                    .map(|(k, v)| format!("{k}={}", crate::text::shown(&v.to_string())))
                    .collect();
                let _ = writeln!(out, "{indent}  made by `{uses}` component {component}");
                if !params.is_empty() {
                    let _ = writeln!(out, "{indent}  with {}", params.join(" "));
                }
            }
            Origin::Unknown => {
                let _ = writeln!(out, "(producer not recorded)");
            }
        }
        for (port, child) in node.inputs.iter().rev() {
            stack.push((*child, depth + 1, Some(port.clone())));
        }
    }
    out
}
