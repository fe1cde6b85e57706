//! Golden tests: each `tests/invalid/NAME.yaml` is validated against a fixed catalog of
//! step declarations and the problems must equal `tests/invalid/NAME.expected`.
//! Set `WEFT_BLESS=1` to rewrite the expected files after an intended change.

use std::path::Path;
mod common;

use common::catalog;

#[test]
fn invalid_workflows_match_their_expected_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid");
    let bless = std::env::var_os("WEFT_BLESS").is_some();
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/invalid")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    let mut failures = Vec::new();
    for path in entries.iter().filter(|p| p.extension().is_some_and(|e| e == "yaml")) {
        let text = std::fs::read_to_string(path).expect("read yaml");
        let overrides: Vec<(String, String)> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# --param "))
            .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
            .collect();
        let actual = match weft_model::parse_and_validate(&text, &catalog(), &overrides) {
            Ok(_) => "(valid)\n".to_string(),
            Err(d) => d.to_string(),
        };
        let expected_path = path.with_extension("expected");
        if bless {
            std::fs::write(&expected_path, &actual).expect("bless");
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            failures.push(format!(
                "{}:\n--- expected\n{expected}--- actual\n{actual}",
                path.display()
            ));
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} golden files found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
