//! The docs name real files: every `*.rs`, `*.yaml` or `*.sql` path in backticks in
//! README.md, ARCHITECTURE.md and SECURITY.md (where SECURITY.md names the test behind each
//! claim) is a file of this repository. Paths may be shortened from the left
//! (`sandbox/tests/hostile.rs`, `hostile.rs`), so a name matches any file ending with it.

mod common;

use std::path::Path;

fn files(dir: &Path, root: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || ["target", "dist", "node_modules"].contains(&name.as_str()) {
            continue;
        }
        if path.is_dir() {
            files(&path, root, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
}

/// Backticked tokens of `text` that name a source file (a `::item` suffix is dropped).
fn named_files(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(|t| t.split("::").next().unwrap_or(t).trim().to_string())
        .filter(|t| {
            !t.contains(' ')
                && !t.contains('*')
                && !t.contains('<')
                && [".rs", ".yaml", ".sql"].iter().any(|ext| t.ends_with(ext))
        })
        .collect()
}

#[test]
fn files_named_in_the_docs_exist() {
    let root = common::root();
    let mut all = Vec::new();
    files(&root, &root, &mut all);
    let mut missing = Vec::new();
    let mut checked = 0;
    for doc in ["README.md", "ARCHITECTURE.md", "SECURITY.md"] {
        let text = std::fs::read_to_string(root.join(doc)).expect("doc");
        for name in named_files(&text) {
            checked += 1;
            let found = all.iter().any(|f| f == &name || f.ends_with(&format!("/{name}")));
            if !found {
                missing.push(format!("{doc}: `{name}`"));
            }
        }
    }
    assert!(
        checked > 30,
        "only {checked} file names found in the docs: is the parsing right?"
    );
    assert!(
        missing.is_empty(),
        "the docs name files that do not exist:\n{}",
        missing.join("\n")
    );
}

#[test]
fn a_missing_name_is_caught() {
    assert_eq!(
        named_files("see `a/b.rs::f` and `c.yaml`, not `x y.rs` or `*.rs`"),
        ["a/b.rs", "c.yaml"]
    );
}
