//! The media type each step output will carry. Most outputs declare theirs; a `*/*`
//! output is a pass-through and carries the type of the artifacts bound to the step's
//! `*/*` inputs, which must agree (resolved through chains of pass-through steps).

use crate::authored::Workflow;
use crate::diagnostic::Diagnostic;
use crate::media_type::ANY;
use crate::plan::PlannedInput;
use crate::step_info::StepInfo;
use std::collections::{BTreeSet, HashMap};

/// Type of a pass-through output fed nothing it can take a type from.
const FALLBACK: &str = "application/octet-stream";

/// Resolves and memoizes output media types of the authored steps.
pub(crate) struct OutputTypes<'a> {
    wf: &'a Workflow,
    infos: &'a [Option<&'a StepInfo>],
    inputs: &'a [PlannedInput],
    index: &'a HashMap<&'a str, usize>,
    memo: HashMap<(usize, String), Option<String>>,
    /// Pass-through outputs fed artifacts of differing types.
    pub conflicts: Vec<Diagnostic>,
}

impl<'a> OutputTypes<'a> {
    pub fn new(
        wf: &'a Workflow,
        infos: &'a [Option<&'a StepInfo>],
        inputs: &'a [PlannedInput],
        index: &'a HashMap<&'a str, usize>,
    ) -> Self {
        Self {
            wf,
            infos,
            inputs,
            index,
            memo: HashMap::new(),
            conflicts: Vec::new(),
        }
    }

    /// The media type output `port` of step `step` carries; `None` if the step or port is
    /// unknown (reported elsewhere) or the resolution runs in a cycle (reported elsewhere).
    pub fn of(&mut self, step: usize, port: &str) -> Option<String> {
        self.resolve(step, port, 0)
    }

    fn resolve(&mut self, step: usize, port: &str, depth: usize) -> Option<String> {
        let info = self.infos[step]?;
        let declared = &info.output(port)?.media_type;
        if declared != ANY {
            return Some(declared.clone());
        }
        let key = (step, port.to_string());
        if let Some(known) = self.memo.get(&key) {
            return known.clone();
        }
        if depth > self.wf.steps.len() {
            return None; // a cycle; the graph check reports it
        }
        let decl = &self.wf.steps[step];
        let mut types = BTreeSet::new();
        for binding in &decl.inputs {
            if info.input(&binding.port.value).is_none_or(|p| p.media_type != ANY) {
                continue;
            }
            for source in &binding.sources {
                let found = match source.value.split_once('.') {
                    Some(("inputs", name)) => self
                        .inputs
                        .iter()
                        .find(|i| i.name == name)
                        .map(|i| i.media_type.clone()),
                    Some((s, p)) => match self.index.get(s) {
                        Some(&j) => self.resolve(j, p, depth + 1),
                        None => None,
                    },
                    None => None,
                };
                types.extend(found);
            }
        }
        let resolved = match types.len() {
            0 => FALLBACK.to_string(),
            1 => types.pop_first().unwrap_or_else(|| FALLBACK.to_string()),
            _ => {
                self.conflicts.push(Diagnostic::new(
                    decl.id.span,
                    format!("steps.{}.inputs", decl.id.value),
                    format!(
                        "pass-through output `{port}` would carry differing types: {}",
                        types.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
                FALLBACK.to_string()
            }
        };
        self.memo.insert(key, Some(resolved.clone()));
        Some(resolved)
    }
}
