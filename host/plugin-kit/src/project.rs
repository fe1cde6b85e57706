//! A new step project (`weft plugin new`): a template that counts the lines, words and bytes
//! of a text, with its tests, a sample input for the smoke run (`test-data/text.txt`), a
//! README that says how to build, test and use it, and everything it builds from beside it
//! — the SDK and the WIT of this Weft, and the toolchain pins with their lock files — so it
//! builds and passes its tests wherever it is put, with no path into a Weft checkout.

use crate::Lang;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

/// The WIT world every step implements.
const WIT: &str = include_str!("../../../wit/weft.wit");

/// One file of a new project: its path in the project and its text (`__NAME__` filled in).
type File = (&'static str, &'static str);

const RUST: &[File] = &[
    ("Cargo.toml", include_str!("../templates/rust/Cargo.toml.in")),
    ("Cargo.lock", include_str!("../templates/rust/Cargo.lock.in")),
    ("src/lib.rs", include_str!("../templates/rust/lib.rs")),
    ("README.md", include_str!("../templates/rust/README.md")),
    (".gitignore", "target/\nbuild/\n*.wasm\n"),
    (
        "weft-step/Cargo.toml",
        include_str!("../templates/rust/weft-step.Cargo.toml"),
    ),
    ("weft-step/src/lib.rs", include_str!("../../../plugins/sdk/src/lib.rs")),
    ("weft-step/src/io.rs", include_str!("../../../plugins/sdk/src/io.rs")),
    (
        "weft-step/src/params.rs",
        include_str!("../../../plugins/sdk/src/params.rs"),
    ),
    (
        "weft-step/src/table.rs",
        include_str!("../../../plugins/sdk/src/table.rs"),
    ),
    ("weft-step/wit/weft.wit", WIT),
];

const PYTHON: &[File] = &[
    ("app.py", include_str!("../templates/python/app.py")),
    ("counting.py", include_str!("../templates/python/counting.py")),
    ("test_counting.py", include_str!("../templates/python/test_counting.py")),
    ("README.md", include_str!("../templates/python/README.md")),
    (".gitignore", "build/\n*.wasm\n__pycache__/\n"),
    (
        "requirements.txt",
        include_str!("../../../plugins/python/requirements.txt"),
    ),
    ("weft_step.py", include_str!("../../../plugins/python/sdk/weft_step.py")),
    ("wit/weft.wit", WIT),
];

const JS: &[File] = &[
    ("app.js", include_str!("../templates/js/app.js")),
    ("counting.js", include_str!("../templates/js/counting.js")),
    ("counting.test.js", include_str!("../templates/js/counting.test.js")),
    ("README.md", include_str!("../templates/js/README.md")),
    (".gitignore", "node_modules/\nbuild/\n*.wasm\n"),
    ("package.json", include_str!("../templates/js/package.json.in")),
    (
        "package-lock.json",
        include_str!("../../../plugins/js/package-lock.json"),
    ),
    ("weft-step.js", include_str!("../../../plugins/js/sdk/weft-step.js")),
    ("wit/weft.wit", WIT),
];

const C: &[File] = &[
    ("app.c", include_str!("../templates/c/app.c")),
    ("counting.c", include_str!("../templates/c/counting.c")),
    ("counting.h", include_str!("../templates/c/counting.h")),
    ("test_counting.c", include_str!("../templates/c/test_counting.c")),
    ("README.md", include_str!("../templates/c/README.md")),
    (".gitignore", "*.wasm\nbuild/\n"),
    ("weft_step.c", include_str!("../../../plugins/c/sdk/weft_step.c")),
    ("weft_step.h", include_str!("../../../plugins/c/sdk/weft_step.h")),
    ("weft_json.c", include_str!("../../../plugins/c/sdk/weft_json.c")),
    ("weft_json.h", include_str!("../../../plugins/c/sdk/weft_json.h")),
    ("wit/weft.wit", WIT),
];

/// The sample input every template's smoke run reads (`weft plugin test`).
const SAMPLE: File = (
    "test-data/text.txt",
    "Weft runs steps written in any language.\nThis text is what the smoke run counts.\n",
);

pub(crate) fn files(lang: Lang) -> &'static [File] {
    match lang {
        Lang::Rust => RUST,
        Lang::Python => PYTHON,
        Lang::Js => JS,
        Lang::C => C,
    }
}

/// The files of a new project named `name`, rendered.
pub fn render(lang: Lang, name: &str) -> Vec<(&'static str, String)> {
    files(lang)
        .iter()
        .chain(std::iter::once(&SAMPLE))
        .map(|(path, text)| (*path, fill(lang, path, text, name)))
        .collect()
}

/// A template's text with its name filled in; a vendored file made to stand alone.
fn fill(lang: Lang, path: &str, text: &str, name: &str) -> String {
    match (lang, path) {
        // In this repository the SDK finds the WIT two directories up; vendored, beside it.
        (Lang::Rust, "weft-step/src/lib.rs") => text.replacen("path: \"../../wit\"", "path: \"wit\"", 1),
        // The lock file is this repository's JavaScript toolchain's, under the project's name.
        (Lang::Js, "package-lock.json") => text.replacen("\"weft-js-plugins\"", &format!("\"{name}\""), 2),
        // Cargo keeps its lock's packages sorted by name: the project's takes its place.
        (Lang::Rust, "Cargo.lock") => sorted_lock(&text.replace("__NAME__", name)),
        _ => text.replace("__NAME__", name),
    }
}

/// A Cargo lock file with its `[[package]]` blocks in name order, as cargo writes it (and
/// as `cargo build --locked` requires it to be, byte for byte).
fn sorted_lock(text: &str) -> String {
    const SEPARATOR: &str = "\n[[package]]\n";
    let mut blocks = text.split(SEPARATOR);
    let header = blocks.next().unwrap_or_default();
    let mut packages: Vec<&str> = blocks.collect();
    // Stable: versions of one name stay in the order cargo wrote them.
    packages.sort_by_key(|block| block.lines().next().unwrap_or_default().to_string());
    let mut out = header.to_string();
    for block in packages {
        out.push_str(SEPARATOR);
        out.push_str(block);
    }
    out
}

/// Creates the project `name` in `into` (else `./NAME`); returns its directory.
pub fn create(lang: Lang, name: &str, into: Option<&Path>) -> anyhow::Result<PathBuf> {
    if !is_step_name(name) {
        bail!("`{name}` is not a step name: use a lowercase letter, then lowercase letters, digits, `-` or `_`");
    }
    if lang == Lang::Rust && clashes(name) {
        bail!(
            "`{name}` is the name of a crate a Rust step builds with (or of Rust's own): cargo could not tell them apart; choose another"
        );
    }
    let dir = into.map_or_else(|| PathBuf::from(name), |d| d.join(name));
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    for (path, text) in render(lang, name) {
        let file = dir.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&file, text).with_context(|| format!("writing {}", file.display()))?;
    }
    Ok(dir)
}

/// Whether a Rust project named `name` would clash with a package of its lock file (the
/// SDK and what it builds with) or with Rust's own crates.
fn clashes(name: &str) -> bool {
    let crate_name = name.replace('-', "_");
    ["std", "core", "alloc", "proc_macro", "test"].contains(&crate_name.as_str())
        || include_str!("../templates/rust/Cargo.lock.in")
            .lines()
            .filter_map(|l| l.strip_prefix("name = \"").and_then(|r| r.strip_suffix('"')))
            .any(|package| package != "__NAME__" && package.replace('-', "_") == crate_name)
}

/// A step name: a lowercase letter, then lowercase letters, digits, `-` or `_` (as the
/// host checks `describe().name`).
fn is_step_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.len() <= 64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_project_is_complete_named_and_stands_alone() {
        for lang in Lang::ALL {
            let files = render(lang, "my-step");
            assert!(files.iter().all(|(_, text)| !text.contains("__NAME__")), "{lang}");
            for wanted in ["README.md", ".gitignore", "test-data/text.txt"] {
                assert!(files.iter().any(|(p, _)| *p == wanted), "{lang}: {wanted}");
            }
            assert!(
                files.iter().any(|(p, _)| p.ends_with("wit/weft.wit")),
                "{lang}: the WIT"
            );
            // Nothing points into a Weft checkout.
            for (path, text) in &files {
                for outside in ["../sdk", "../../wit", "plugins/", "xtask", "workspace = true"] {
                    assert!(!text.contains(outside), "{lang}: {path} names `{outside}`");
                }
            }
        }
        for name in ["a-first", "my-step", "zz-last"] {
            let rust = render(Lang::Rust, name);
            let lock = &rust.iter().find(|(p, _)| *p == "Cargo.lock").expect("a lock").1;
            assert!(lock.contains(&format!("name = \"{name}\"")), "{lock}");
            let names: Vec<&str> = lock.lines().filter(|l| l.starts_with("name = ")).collect();
            assert!(names.is_sorted(), "the lock's packages stay in name order: {names:?}");
            assert_eq!(lock.matches("[[package]]").count(), names.len());
        }
        let js = render(Lang::Js, "my-step");
        let lock = &js.iter().find(|(p, _)| *p == "package-lock.json").expect("a lock").1;
        assert!(lock.starts_with("{\n  \"name\": \"my-step\""), "{lock}");
    }

    #[test]
    fn refuses_bad_names_and_existing_dirs() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(create(Lang::Rust, "Bad Name", Some(dir.path())).is_err());
        for taken in ["serde", "weft-step", "weft_step", "test", "memchr"] {
            assert!(create(Lang::Rust, taken, Some(dir.path())).is_err(), "{taken}");
        }
        assert!(
            create(Lang::Python, "serde", Some(dir.path())).is_ok(),
            "only Rust's crates clash"
        );
        let made = create(Lang::Python, "ok", Some(dir.path())).expect("created");
        assert!(made.join("app.py").exists() && made.join("weft_step.py").exists());
        assert!(create(Lang::Python, "ok", Some(dir.path())).is_err());
    }
}
