//! Weft's workflow model: strict YAML → authored workflow → validated, typed [`Plan`].
//!
//! Pure code: no IO, no async, no wasmtime, and no panic on any input. Every problem
//! is reported at once, each with its YAML position and the field it concerns.

pub mod authored;
pub mod component_ref;
pub mod diagnostic;
pub mod expr;
pub mod media_type;
pub mod plan;
pub mod quantity;
pub mod span;
pub mod step_info;
pub mod validate;
pub mod yaml;

pub use authored::Workflow;
pub use component_ref::ComponentRef;
pub use diagnostic::{Diagnostic, Diagnostics};
pub use plan::{Binding, Limits, Plan, PlannedInput, PlannedStep, Source};
pub use span::{Span, Spanned};
pub use step_info::{ParamSpec, ParamType, ParamValue, Port, StepInfo};
pub use validate::{Catalog, validate};

/// Parses workflow text into the authored model, reporting every YAML and shape problem.
pub fn parse(text: &str) -> Result<Workflow, Diagnostics> {
    let root = yaml::load(text).map_err(|errs| {
        Diagnostics(
            errs.into_iter()
                .map(|e| Diagnostic::new(e.span, "", e.message))
                .collect(),
        )
    })?;
    Workflow::from_node(&root).map_err(|mut d| {
        d.sort();
        Diagnostics(d)
    })
}

/// Parses and validates in one go.
pub fn parse_and_validate(text: &str, catalog: &Catalog, overrides: &[(String, String)]) -> Result<Plan, Diagnostics> {
    let wf = parse(text)?;
    validate(&wf, catalog, overrides).map_err(Diagnostics)
}
