//! Weft's workflow model: strict YAML → authored workflow → validated, typed [`Plan`].
//!
//! Pure code: no IO, no async, no wasmtime, and no panic on any input. Every problem
//! is reported at once, each with its YAML position and the field it concerns.

pub mod authored;
pub mod component_ref;
pub mod condition;
pub mod diagnostic;
mod expand;
pub mod expr;
mod graph;
pub mod media_type;
mod output_types;
pub mod plan;
pub mod policy;
pub mod quantity;
pub mod span;
pub mod step_info;
pub mod validate;
pub mod yaml;

pub use authored::Workflow;
pub use component_ref::ComponentRef;
pub use diagnostic::{Diagnostic, Diagnostics};
pub use plan::{Binding, Condition, Instance, Limits, Plan, PlannedInput, PlannedStep, Source};
pub use policy::{Policy, Retry};
pub use span::{Span, Spanned};
pub use step_info::{ParamSpec, ParamType, ParamValue, Port, StepInfo};
pub use validate::{Catalog, validate};

/// Parses workflow text into the authored model. On success, also returns the shape
/// problems found (unknown keys, wrong value kinds); pass them on so they are reported
/// together with validation's. Fails only when the text is not usable YAML.
pub fn parse(text: &str) -> Result<(Workflow, Vec<Diagnostic>), Diagnostics> {
    let root = yaml::load(text).map_err(|errs| {
        Diagnostics(
            errs.into_iter()
                .map(|e| Diagnostic::new(e.span, "", e.message))
                .collect(),
        )
    })?;
    Workflow::from_node(&root).map_err(Diagnostics)
}

/// Parses and validates in one go, reporting every problem, sorted by position.
pub fn parse_and_validate(text: &str, catalog: &Catalog, overrides: &[(String, String)]) -> Result<Plan, Diagnostics> {
    let (wf, mut problems) = parse(text)?;
    match validate(&wf, catalog, overrides) {
        Ok(plan) if problems.is_empty() => Ok(plan),
        Ok(_) => {
            problems.sort();
            Err(Diagnostics(problems))
        }
        Err(mut more) => {
            problems.append(&mut more);
            problems.sort();
            problems.dedup();
            Err(Diagnostics(problems))
        }
    }
}
