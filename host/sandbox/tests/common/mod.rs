//! Helpers shared by the sandbox's guest tests.

use std::path::PathBuf;

/// The built component named `name`: Weft's steps are in dist/plugins, the test guests
/// (`test-*`) in dist/testing.
pub fn plugin(name: &str) -> PathBuf {
    let dist = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../dist");
    let path = ["plugins", "testing"]
        .iter()
        .map(|d| dist.join(d).join(format!("{name}.wasm")))
        .find(|p| p.exists())
        .unwrap_or_else(|| dist.join("plugins").join(format!("{name}.wasm")));
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask build-plugins` first",
        path.display()
    );
    path
}
