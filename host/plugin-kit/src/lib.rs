//! What a step project is made of and built with, for authors outside this repository:
//! [`project`] makes a new one (a template and the SDK and WIT vendored beside it, at this
//! Weft's version), [`Lang::detect`] tells its language, [`toolchain`] says which tools are
//! missing and the one command that installs each, and [`recipe`] builds a component — the
//! same recipes `cargo xtask build-plugins` uses for Weft's own steps.

pub mod project;
pub mod recipe;
pub mod toolchain;
#[cfg(test)]
mod vocabulary;

use anyhow::bail;
use std::path::Path;

/// A language steps are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Rust, with the `weft-step` crate.
    Rust,
    /// Python, with `weft_step.py` (componentize-py).
    Python,
    /// JavaScript, with `weft-step.js` (componentize-js).
    Js,
    /// C, with `weft_step.h` (wit-bindgen's C bindings, clang, wasi-libc).
    C,
}

impl Lang {
    /// Every language, in the order they are listed to users.
    pub const ALL: [Lang; 4] = [Lang::Rust, Lang::Python, Lang::Js, Lang::C];

    /// The name used on the command line (`--lang`).
    pub fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
            Lang::C => "c",
        }
    }

    /// The language named `name` on the command line.
    pub fn parse(name: &str) -> anyhow::Result<Lang> {
        match Lang::ALL.into_iter().find(|l| l.name() == name) {
            Some(lang) => Ok(lang),
            None => bail!(
                "no template for `{name}`: choose one of {}",
                Lang::ALL.map(Lang::name).join(", ")
            ),
        }
    }

    /// The language of the project in `dir`, by the file its step starts from.
    pub fn detect(dir: &Path) -> anyhow::Result<Lang> {
        let found: Vec<Lang> = [
            (Lang::Rust, "Cargo.toml"),
            (Lang::Python, "app.py"),
            (Lang::Js, "app.js"),
            (Lang::C, "app.c"),
        ]
        .into_iter()
        .filter(|(_, file)| dir.join(file).is_file())
        .map(|(lang, _)| lang)
        .collect();
        match found.as_slice() {
            [lang] => Ok(*lang),
            [] => bail!(
                "{} is not a step project: it has none of Cargo.toml (Rust), app.py (Python), app.js (JavaScript), app.c (C); make one with `weft plugin new --lang LANG NAME`",
                dir.display()
            ),
            many => bail!(
                "{} holds more than one kind of step project ({}): keep one per directory",
                dir.display(),
                many.iter().map(|l| l.name()).collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_is_known_by_its_entry_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(Lang::detect(dir.path()).is_err());
        std::fs::write(dir.path().join("app.py"), "").expect("write");
        assert_eq!(Lang::detect(dir.path()).expect("python"), Lang::Python);
        std::fs::write(dir.path().join("app.js"), "").expect("write");
        let both = Lang::detect(dir.path()).expect_err("two kinds");
        assert!(both.to_string().contains("python, js"), "{both}");
        assert_eq!(Lang::parse("c").expect("c"), Lang::C);
        assert!(Lang::parse("go").is_err());
    }
}
