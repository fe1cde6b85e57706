//! `weft plugin new --lang LANG NAME`: a new step project from a template that builds and
//! passes its own test out of the box (CI checks each template by building and running it).

use anyhow::{Context, bail};
use std::path::{Path, PathBuf};

/// The languages there are templates for.
pub const LANGS: [&str; 4] = ["rust", "python", "js", "c"];

/// Template files of a language: (path in the new project, text with `__NAME__` holes).
fn files(lang: &str) -> &'static [(&'static str, &'static str)] {
    match lang {
        "rust" => &[
            ("Cargo.toml", include_str!("../../templates/rust/Cargo.toml.in")),
            ("src/lib.rs", include_str!("../../templates/rust/lib.rs")),
            ("README.md", include_str!("../../templates/rust/README.md")),
        ],
        "python" => &[
            ("app.py", include_str!("../../templates/python/app.py")),
            ("counting.py", include_str!("../../templates/python/counting.py")),
            (
                "test_counting.py",
                include_str!("../../templates/python/test_counting.py"),
            ),
            ("README.md", include_str!("../../templates/python/README.md")),
        ],
        "js" => &[
            ("app.js", include_str!("../../templates/js/app.js")),
            ("counting.js", include_str!("../../templates/js/counting.js")),
            ("counting.test.js", include_str!("../../templates/js/counting.test.js")),
            ("README.md", include_str!("../../templates/js/README.md")),
        ],
        "c" => &[
            ("app.c", include_str!("../../templates/c/app.c")),
            ("counting.c", include_str!("../../templates/c/counting.c")),
            ("counting.h", include_str!("../../templates/c/counting.h")),
            ("test_counting.c", include_str!("../../templates/c/test_counting.c")),
            ("README.md", include_str!("../../templates/c/README.md")),
        ],
        _ => &[],
    }
}

/// The files of a new project, rendered.
pub fn render(lang: &str, name: &str) -> Vec<(&'static str, String)> {
    files(lang)
        .iter()
        .map(|(path, text)| (*path, text.replace("__NAME__", name)))
        .collect()
}

/// Creates the project; returns its directory.
pub fn create(lang: &str, name: &str, into: Option<&Path>) -> anyhow::Result<PathBuf> {
    if !LANGS.contains(&lang) {
        bail!("no template for `{lang}`: choose one of {}", LANGS.join(", "));
    }
    if !weft_model::step_info::is_identifier(name) {
        bail!("`{name}` is not a step name: use a lowercase letter, then lowercase letters, digits, `-` or `_`");
    }
    let dir = into
        .map_or_else(|| PathBuf::from("plugins").join(lang), Path::to_path_buf)
        .join(name);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_is_complete_and_named() {
        for lang in LANGS {
            let files = render(lang, "my-step");
            assert!(files.len() >= 3, "{lang}");
            assert!(files.iter().all(|(_, text)| !text.contains("__NAME__")), "{lang}");
            assert!(files.iter().any(|(p, _)| *p == "README.md"), "{lang}");
            assert!(files.iter().any(|(_, text)| text.contains("my-step")), "{lang}");
        }
    }

    #[test]
    fn refuses_bad_names_and_existing_dirs() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(create("rust", "Bad Name", Some(dir.path())).is_err());
        assert!(create("go", "x", Some(dir.path())).is_err());
        let made = create("python", "ok", Some(dir.path())).expect("created");
        assert!(made.join("app.py").exists());
        assert!(create("python", "ok", Some(dir.path())).is_err());
    }
}
