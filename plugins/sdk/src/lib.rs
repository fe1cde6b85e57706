//! Guest-side helpers for Weft steps written in Rust: the generated bindings to `wit/`,
//! chunked artifact IO, typed parameter access and the standard table format.
//!
//! A step implements [`Guest`] (`describe` and `run`) and registers itself with
//! `weft_step::export!(MyStep);`.

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

/// Logs one message into the step's log.
pub fn log(level: Level, message: &str) {
    bindings::weft::step::log::emit(level, message);
}

/// Records a metric of this step execution.
pub fn metric(name: &str, value: f64) {
    bindings::weft::step::metrics::record(name, value);
}

/// Builds a port declaration.
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

/// Builds a parameter declaration.
pub fn param(name: &str, ty: ParamType, default: Option<ParamValue>, description: &str) -> ParamSpec {
    ParamSpec {
        name: name.into(),
        ty,
        default,
        description: description.into(),
    }
}

/// Shorthand for a bad-input error (not retried).
pub fn bad_input(message: impl Into<String>) -> StepError {
    StepError::BadInput(message.into())
}

/// Shorthand for a failure a retry may fix.
pub fn failed(message: impl Into<String>) -> StepError {
    StepError::Failed(message.into())
}
