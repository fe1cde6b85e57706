//! The media type each step output will carry. Most outputs declare theirs; a `*/*`
//! output is a pass-through and carries the type of the artifacts bound to the step's
//! `*/*` inputs, which must agree (resolved through chains of pass-through steps).

use crate::authored::Workflow;
use crate::diagnostic::Diagnostic;
use crate::media_type::ANY;
use crate::plan::PlannedInput;
use crate::validate::Declared;
use std::collections::{BTreeSet, HashMap};

/// Type of a pass-through output fed nothing it can take a type from.
const FALLBACK: &str = "application/octet-stream";

/// Resolves and memoizes output media types of the authored steps.
pub(crate) struct OutputTypes<'a> {
    wf: &'a Workflow,
    decls: &'a [Option<&'a Declared<'a>>],
    inputs: &'a [PlannedInput],
    input_index: &'a HashMap<&'a str, usize>,
    index: &'a HashMap<&'a str, usize>,
    /// Resolved pass-through outputs; `None` while being resolved (so a cycle stops).
    memo: HashMap<(usize, String), Option<String>>,
    /// Pass-through outputs fed artifacts of differing types.
    pub conflicts: Vec<Diagnostic>,
}

/// Where an upstream type comes from.
enum Upstream {
    Known(String),
    Output(usize, String),
}

impl<'a> OutputTypes<'a> {
    pub fn new(
        wf: &'a Workflow,
        decls: &'a [Option<&'a Declared<'a>>],
        inputs: &'a [PlannedInput],
        input_index: &'a HashMap<&'a str, usize>,
        index: &'a HashMap<&'a str, usize>,
    ) -> Self {
        Self {
            wf,
            decls,
            inputs,
            input_index,
            index,
            memo: HashMap::new(),
            conflicts: Vec::new(),
        }
    }

    /// The media type output `port` of step `step` carries; `None` if the step or port is
    /// unknown (reported elsewhere) or the resolution runs in a cycle (reported elsewhere).
    ///
    /// Iterative, with an explicit stack: a chain of a hundred thousand pass-through steps
    /// would overflow the thread's stack if resolved by recursion.
    pub fn of(&mut self, step: usize, port: &str) -> Option<String> {
        let declared = self.declared(step, port)?;
        if declared != ANY {
            return Some(declared.to_string());
        }
        let mut stack: Vec<(usize, String)> = vec![(step, port.to_string())];
        while let Some((s, p)) = stack.last().cloned() {
            let key = (s, p.clone());
            if matches!(self.memo.get(&key), Some(Some(_))) {
                stack.pop();
                continue;
            }
            let first_visit = !self.memo.contains_key(&key);
            self.memo.insert(key.clone(), None);
            // Resolve what is not known yet first; a pass-through still being resolved
            // (`None` in the memo) is a cycle and contributes nothing.
            let upstream = self.upstream(s);
            let pending: Vec<(usize, String)> = upstream
                .iter()
                .filter_map(|u| match u {
                    Upstream::Output(j, q) if self.declared(*j, q) == Some(ANY) => {
                        let k = (*j, q.clone());
                        (!self.memo.contains_key(&k)).then_some(k)
                    }
                    _ => None,
                })
                .collect();
            if first_visit && !pending.is_empty() {
                stack.extend(pending);
                continue;
            }
            let mut types = BTreeSet::new();
            for u in upstream {
                let found = match u {
                    Upstream::Known(t) => Some(t),
                    Upstream::Output(j, q) => match self.declared(j, &q) {
                        Some(ANY) => self.memo.get(&(j, q)).cloned().flatten(),
                        other => other.map(str::to_string),
                    },
                };
                types.extend(found);
            }
            let resolved = self.settle(s, &p, types);
            self.memo.insert(key, Some(resolved));
            stack.pop();
        }
        self.memo.get(&(step, port.to_string())).cloned().flatten()
    }

    /// The declared media type of an output, if the step and port are known.
    fn declared(&self, step: usize, port: &str) -> Option<&'a str> {
        self.decls[step]?.output(port).map(|p| p.media_type.as_str())
    }

    /// What feeds the `*/*` inputs of `step`.
    fn upstream(&self, step: usize) -> Vec<Upstream> {
        let Some(decl) = self.decls[step] else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for binding in &self.wf.steps[step].inputs {
            if decl.input(&binding.port.value).is_none_or(|p| p.media_type != ANY) {
                continue;
            }
            for source in &binding.sources {
                match source.value.split_once('.') {
                    Some(("inputs", name)) => {
                        if let Some(&i) = self.input_index.get(name) {
                            out.push(Upstream::Known(self.inputs[i].media_type.clone()));
                        }
                    }
                    Some((s, p)) => {
                        if let Some(&j) = self.index.get(s) {
                            out.push(Upstream::Output(j, p.to_string()));
                        }
                    }
                    None => {}
                }
            }
        }
        out
    }

    /// The one type `types` agree on, or the fallback (reporting a disagreement).
    fn settle(&mut self, step: usize, port: &str, mut types: BTreeSet<String>) -> String {
        match types.len() {
            0 => FALLBACK.to_string(),
            1 => types.pop_first().unwrap_or_else(|| FALLBACK.to_string()),
            _ => {
                let decl = &self.wf.steps[step];
                let listed: Vec<&str> = types.iter().map(String::as_str).collect();
                self.conflicts.push(Diagnostic::new(
                    decl.id.span,
                    format!("steps.{}.inputs", decl.id.value),
                    format!(
                        "pass-through output `{port}` would carry differing types: {}",
                        crate::diagnostic::listing(listed.into_iter())
                    ),
                ));
                FALLBACK.to_string()
            }
        }
    }
}
