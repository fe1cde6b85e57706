//! Which tools a project's language needs that this machine lacks, each with the one
//! command that installs it — said before a build starts rather than deep in its output.

use crate::Lang;
use std::path::Path;
use std::process::{Command, Stdio};

/// A tool that is missing, and how to get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// What is missing.
    pub tool: &'static str,
    /// The one command that installs it (or where to get it).
    pub install: &'static str,
}

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is missing: {}", self.tool, self.install)
    }
}

/// Whether `program args...` runs and succeeds.
fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// What `program args...` prints, run in `dir` (where a project's own toolchain file
/// applies), if it runs and succeeds.
fn output(program: &str, args: &[&str], dir: &Path) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The tools building and testing a `lang` project in `dir` needs that are missing.
pub fn missing(lang: Lang, dir: &Path) -> Vec<Missing> {
    let mut missing = Vec::new();
    let mut need = |ok: bool, tool: &'static str, install: &'static str| {
        if !ok {
            missing.push(Missing { tool, install });
        }
    };
    match lang {
        Lang::Rust => {
            let cargo = runs("cargo", &["--version"]);
            need(
                cargo,
                "cargo (Rust)",
                "install rustup from https://rustup.rs, then open a new shell",
            );
            if cargo {
                // Without rustup the target cannot be listed: the build will say.
                let targets = output("rustup", &["target", "list", "--installed"], dir);
                need(
                    targets.is_none_or(|t| t.lines().any(|l| l.trim() == "wasm32-wasip2")),
                    "the wasm32-wasip2 target",
                    "rustup target add wasm32-wasip2",
                );
            }
        }
        Lang::Python => {
            need(
                runs("python3", &["--version"]),
                "python3",
                "sudo apt-get install python3 python3-pip (or https://www.python.org)",
            );
            need(
                runs("componentize-py", &["--version"]),
                "componentize-py",
                "python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt",
            );
        }
        Lang::Js => {
            need(
                runs("node", &["--version"]),
                "node (Node.js 20 or newer)",
                "sudo apt-get install nodejs npm (or https://nodejs.org)",
            );
            need(
                dir.join("node_modules/.bin/componentize-js").exists(),
                "componentize-js (in node_modules)",
                "npm ci",
            );
        }
        Lang::C => {
            // clang finds wasi-libc for the target only when it is installed.
            let libc = output("clang", &["--target=wasm32-wasi", "-print-file-name=libc.a"], dir);
            need(
                libc.is_some_and(|path| path.trim() != "libc.a"),
                "clang with wasi-libc for wasm32-wasi",
                "sudo apt-get install clang lld wasi-libc libclang-rt-dev-wasm32",
            );
            need(
                runs("cc", &["--version"]),
                "cc (for the native tests)",
                "sudo apt-get install gcc",
            );
        }
    }
    missing
}
