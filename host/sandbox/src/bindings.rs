//! Host bindings generated from `wit/weft.wit`.

#![allow(missing_docs)]

wasmtime::component::bindgen!({
    world: "step-component",
    path: "../../wit",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "weft:step/artifacts.reader": crate::host_artifacts::ReaderHandle,
        "weft:step/artifacts.writer": crate::host_artifacts::WriterHandle,
    },
});

pub use weft::step::types as wit_types;
