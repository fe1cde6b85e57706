//! Guest-side helpers for Weft steps written in Rust: the generated bindings to `wit/`,
//! chunked artifact IO, typed parameter access and the standard table format.
//!
//! A step implements [`Guest`] (`describe`, its contract, and `run`) and registers itself
//! with `weft_step::export!(MyStep);`. `run` reads its parameters with [`params::Params`],
//! its inputs and outputs with [`io`], logs with [`log`], records [`metric`]s, and fails with
//! [`bad_input`] (never retried) or [`failed`] (a retry may help). A panic is a crash: its
//! message and place are shown once, but it is not retried as `failed` is.
//!
//! The names are the same in the four SDKs (Rust, Python, JavaScript, C), spelt as each
//! language spells names: [`io::read_bytes`] here is `readBytes` in JavaScript and
//! `weft_read_bytes` in C. The table of them is `docs/plugin-sdk.md` in Weft's repository.

pub mod io;
pub mod params;
pub mod table;

/// Bindings generated from `wit/weft.wit`; the only place `generate!` runs.
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "step-component",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "export_step",
        default_bindings_module: "weft_step::bindings",
    });
}

pub use bindings::export_step;
pub use bindings::exports::weft::step::step::Guest;
pub use bindings::weft::step::log::Level;
pub use bindings::weft::step::types::{
    MadeBy, Param, ParamSpec, ParamType, ParamValue, Port, Provenance, StepError, StepInfo,
};

/// Exports a [`Guest`] implementation as the component's `weft:step/step` interface.
///
/// The export exists only when compiling for WebAssembly: natively (for `cargo test` of a
/// step's logic) the host imports it would call do not exist and could not be linked.
#[macro_export]
macro_rules! export {
    ($step:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::export_step!($step);
    };
}

/// Appends `message` to the step's log at `level`. The host keeps at most 10,000 lines and
/// 1 MiB of a step's log.
pub fn log(level: Level, message: &str) {
    bindings::weft::step::log::emit(level, message);
}

/// Records the number `value` as the metric `name` of this execution (again: replaces).
pub fn metric(name: &str, value: f64) {
    bindings::weft::step::metrics::record(name, value);
}

/// A port declaration: `media_type` may end in `/*` (`text/*`).
pub fn port(name: &str, media_type: &str, description: &str) -> Port {
    Port {
        name: name.into(),
        media_type: media_type.into(),
        description: description.into(),
        many: false,
    }
}

/// Builds a fan-in input port: it takes any number of artifacts, read with
/// [`io::read_many`].
pub fn many_port(name: &str, media_type: &str, description: &str) -> Port {
    Port {
        many: true,
        ..port(name, media_type, description)
    }
}

/// A parameter declaration: `default` is a value of type `ty`, or `None` when a workflow
/// must give one.
pub fn param(name: &str, ty: ParamType, default: Option<ParamValue>, description: &str) -> ParamSpec {
    ParamSpec {
        name: name.into(),
        ty,
        default,
        description: description.into(),
    }
}

/// The error for wrong inputs or parameters, which running again cannot fix (never
/// retried): `return Err(bad_input("..."))`.
pub fn bad_input(message: impl Into<String>) -> StepError {
    StepError::BadInput(message.into())
}

/// The error for a failure a retry may fix (`retry:` in the workflow):
/// `return Err(failed("..."))`.
pub fn failed(message: impl Into<String>) -> StepError {
    StepError::Failed(message.into())
}
