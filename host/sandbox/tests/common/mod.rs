//! Helpers shared by the sandbox's guest tests.

use std::path::PathBuf;

/// The component named `name`: a test guest (`test-*`, built by `weft-test-programs`) or
/// one of Weft's steps in dist/plugins.
pub fn plugin(name: &str) -> PathBuf {
    weft_test_programs::component(name)
}
