//! Where Weft's tests and benchmarks find the components they load.
//!
//! The test guests (`plugins/testing/*`: hostile and trivial steps) are built by this
//! crate's build script, so a test that depends on this crate can never run against
//! stale or missing guests: `weft_test_programs::TEST_NOOP`, [`path`], or [`dir`] (laid out
//! like a plugin directory, for `weft --plugins`). Weft's own steps (`dist/plugins`, in
//! four languages with their own toolchains) stay built by `cargo xtask build-plugins`;
//! [`plugins`] and [`component`] name that command when they are missing.
//!
//! The services tests run against (PostgreSQL, S3) are found through [`services`].

pub mod services;

use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/programs.rs"));

/// The directory of the built test guests, one `NAME.wasm` per guest: a plugin directory
/// for `weft --plugins`. On no default plugin path, so no user's `uses:` finds a memory bomb.
pub fn dir() -> &'static Path {
    Path::new(DIR)
}

/// The built test guest `name` (its package name, e.g. `test-noop`), if there is one.
pub fn path(name: &str) -> Option<PathBuf> {
    NAMES.contains(&name).then(|| dir().join(format!("{name}.wasm")))
}

/// The repository root (canonical, so that messages name a plain path).
pub fn root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// Weft's own built steps, `dist/plugins`; panics with the command to run when they
/// have not been built.
pub fn plugins() -> PathBuf {
    let dir = root().join("dist/plugins");
    if !dir.join("csv-to-table.wasm").is_file() {
        panic!("{} is empty: run `cargo xtask build-plugins` first", dir.display());
    }
    dir
}

/// The component named `name`: a test guest (built with this crate) or one of Weft's own
/// steps in `dist/plugins`; panics with the command to run when the latter is missing.
pub fn component(name: &str) -> PathBuf {
    if let Some(p) = path(name) {
        return p;
    }
    let p = root().join("dist/plugins").join(format!("{name}.wasm"));
    if !p.is_file() {
        panic!("{} is missing: run `cargo xtask build-plugins` first", p.display());
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_guest_is_built_into_dir() {
        assert!(NAMES.contains(&"test-noop"), "{NAMES:?}");
        for name in NAMES {
            let p = path(name).expect("a guest");
            assert!(p.is_file(), "{}", p.display());
            assert_eq!(p.parent(), Some(dir()));
        }
        assert_eq!(Path::new(TEST_NOOP), path("test-noop").expect("noop"));
        assert_eq!(path("csv-to-table"), None);
    }
}
