//! Checks what a plugin author outside this repository gets. With only the `weft` binary
//! and the toolchains, in a scratch directory outside the checkout, it makes a project per
//! language (`weft plugin new`) and runs `weft plugin test` on it: the project's own tests,
//! its build, and a smoke run. Then it runs the four components in one workflow, which
//! must give the same counts in every language. It prints each language's time from `new`
//! to a passing test and the size of its component. Last, it breaks each project's
//! `describe()`, then its `run()` (an exception in Python or JavaScript is `failed`, with
//! its type, message and place), then misuses the SDK twice (an undeclared input, a
//! parameter read as another type), and checks what the author is told against
//! `xtask/golden/` (the guest's own error and place, none of the host's internals; a misuse
//! as `bad input`, which is never retried).

use crate::tally::Tally;
use crate::{cargo, run};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const LANGS: [&str; 4] = ["rust", "python", "js", "c"];

/// How an author's commands run: `weft` as a user runs it — none of this shell's Weft
/// settings (the tests' services, homes, plugin paths) leak in, nor the cargo that runs this
/// check (its program and its target directory: the Rust project builds with the `cargo` on
/// `PATH`, into its own). With `--cold`, every cache a first build fills (cargo's registry,
/// npm's and pip's caches, Weft's compile cache) starts empty in the scratch directory, and
/// the Python project gets a fresh venv with componentize-py from PyPI, as its README says.
struct Author {
    bin: PathBuf,
    /// The empty caches' directory, for `--cold`.
    cold: Option<PathBuf>,
}

impl Author {
    fn command(&self, program: impl AsRef<std::ffi::OsStr>, dir: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(dir);
        for (name, _) in std::env::vars_os() {
            let shown = name.to_string_lossy();
            if shown.starts_with("WEFT_") || shown == "CARGO" || shown == "CARGO_TARGET_DIR" {
                cmd.env_remove(name);
            }
        }
        if let Some(cold) = &self.cold {
            cmd.env("CARGO_HOME", cold.join("cargo"))
                .env("npm_config_cache", cold.join("npm"))
                .env("PIP_CACHE_DIR", cold.join("pip"))
                .env("XDG_CACHE_HOME", cold.join("cache"));
            let venv = dir.join(".venv/bin");
            if venv.is_dir() {
                let path = std::env::var_os("PATH").unwrap_or_default();
                let paths = std::iter::once(venv).chain(std::env::split_paths(&path));
                cmd.env("PATH", std::env::join_paths(paths).unwrap_or(path));
            }
        }
        cmd
    }

    fn weft(&self, dir: &Path) -> Command {
        self.command(&self.bin, dir)
    }

    /// What the language's README has an author install in the project before building.
    fn install(&self, lang: &str, dir: &Path) -> Result<()> {
        if lang == "js" {
            run(self.command("npm", dir).args([
                "ci",
                "--prefer-offline",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ]))
            .context("npm ci in the new JavaScript project")?;
        }
        if lang == "python" && self.cold.is_some() {
            run(self.command("python3", dir).args(["-m", "venv", ".venv"]))?;
            run(self
                .command(dir.join(".venv/bin/pip"), dir)
                .args(["install", "--quiet", "-r", "requirements.txt"]))
            .context("pip install in the new Python project")?;
        }
        Ok(())
    }
}

/// Removes the scratch directory however the check ends (its `node_modules` and Rust
/// `target/` take hundreds of MB).
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The `weft` binary this checkout builds (debug, as the tests use it).
fn weft_binary(root: &Path) -> Result<PathBuf> {
    run(Command::new(cargo())
        .current_dir(root)
        .args(["build", "--quiet", "--locked", "--package", "weft"]))?;
    // A relative target directory is the checkout's (where cargo ran).
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |t| root.join(t));
    Ok(target.join("debug/weft"))
}

/// Makes, tests and runs one project per language; adds their tests to `tally`. `cold`:
/// with every cache empty (see [`Author`]).
pub fn check(root: &Path, tally: &mut Tally, cold: bool) -> Result<()> {
    let scratch = std::env::temp_dir().join(format!("weft-plugin-authors-{}", std::process::id()));
    if scratch.starts_with(root) {
        bail!("the scratch directory {} is inside the checkout", scratch.display());
    }
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)?;
    }
    std::fs::create_dir_all(&scratch)?;
    // As `weft` shows it (a temporary directory may be behind a symlink).
    let scratch = scratch.canonicalize()?;
    let _cleanup = Scratch(scratch.clone());
    let author = Author {
        bin: weft_binary(root)?,
        cold: cold.then(|| scratch.join("caches")),
    };
    let mut figures = Vec::new();
    for lang in LANGS {
        let name = format!("tpl-{lang}");
        let started = Instant::now();
        run(author.weft(&scratch).args(["plugin", "new", "--lang", lang, &name]))?;
        let dir = scratch.join(&name);
        author.install(lang, &dir)?;
        tally.run(author.weft(&dir).args(["plugin", "test"]))?;
        let size = std::fs::metadata(dir.join(format!("{name}.wasm")))
            .with_context(|| format!("{name}: no {name}.wasm after `weft plugin test`"))?
            .len();
        figures.push((lang, started.elapsed(), size));
    }
    chain(&author, &scratch)?;
    for lang in LANGS {
        golden_errors(root, &author, &scratch.join(format!("tpl-{lang}")), lang)?;
    }
    for (lang, took, size) in figures {
        eprintln!(
            "plugin author, {lang}{}: `weft plugin new` to a passing `weft plugin test` in {:.1} s; component {} KiB",
            if cold { " (cold caches)" } else { "" },
            took.as_secs_f64(),
            size / 1024
        );
    }
    Ok(())
}

/// Runs the four components one after another in one workflow, on one text: each must
/// count it the same (their outputs have one digest).
fn chain(author: &Author, scratch: &Path) -> Result<()> {
    std::fs::write(scratch.join("notes.txt"), "one two three\nfour five\n")?;
    let mut workflow =
        String::from("name: four-languages\ninputs:\n  notes: {path: notes.txt, media_type: text/plain}\nsteps:\n");
    for (i, lang) in LANGS.iter().enumerate() {
        let after = if i == 0 {
            String::new()
        } else {
            format!(", after: [{}]", LANGS[i - 1])
        };
        workflow.push_str(&format!(
            "  {lang}: {{uses: ./tpl-{lang}/tpl-{lang}.wasm, inputs: {{text: inputs.notes}}{after}}}\n"
        ));
    }
    std::fs::write(scratch.join("four.yaml"), workflow)?;
    let out = author.weft(scratch).args(["run", "--json", "four.yaml"]).output()?;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "`weft run four.yaml` printed no report: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    if !out.status.success() || report["status"] != "succeeded" {
        bail!("the four-language workflow did not succeed: {report:#}");
    }
    let digests: Vec<&str> = report["steps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .filter_map(|s| s["outputs"]["counts"]["digest"].as_str())
                .collect()
        })
        .unwrap_or_default();
    if digests.len() != LANGS.len() || digests.iter().any(|d| *d != digests[0]) {
        bail!("the four languages counted differently: {digests:?}");
    }
    eprintln!(
        "four-language workflow: {} steps, one count ({})",
        digests.len(),
        digests[0]
    );
    Ok(())
}

/// Where to break a template, per language: (file, the line the failure goes after, the
/// failing statement), for `describe()`, for `run()`, and for two misuses of the SDK in
/// `run()` (reading an input the step did not declare, and a parameter as another type:
/// bugs, so `bad-input`).
fn breakers(lang: &str) -> [(&'static str, &'static str, &'static str); 4] {
    const RUST_RUN: &str = "    fn run(params: Vec<Param>) -> Result<(), StepError> {\n";
    const C_RUN: &str = "bool exports_weft_step_step_run(weft_params_t *params, weft_error_t *err) {\n";
    match lang {
        "rust" => [
            (
                "src/lib.rs",
                "    fn describe() -> StepInfo {\n",
                "        panic!(\"golden describe failure\");\n",
            ),
            ("src/lib.rs", RUST_RUN, "        panic!(\"golden run failure\");\n"),
            ("src/lib.rs", RUST_RUN, "        io::read_bytes(\"nope\")?;\n"),
            (
                "src/lib.rs",
                RUST_RUN,
                "        weft_step::params::Params(params.clone()).str(\"min_word_length\")?;\n",
            ),
        ],
        "python" => [
            (
                "app.py",
                "    def describe(self):\n",
                "        raise KeyError(\"golden\")\n",
            ),
            (
                "app.py",
                "    def run(self, params):\n",
                "        raise ValueError(\"golden run failure\")\n",
            ),
            (
                "app.py",
                "    def run(self, params):\n",
                "        w.read_bytes(\"nope\")\n",
            ),
            (
                "app.py",
                "    def run(self, params):\n",
                "        w.Params(params).str(\"min_word_length\")\n",
            ),
        ],
        "js" => [
            (
                "app.js",
                "  describe() {\n",
                "    throw new Error('golden describe failure');\n",
            ),
            (
                "app.js",
                "  run(params) {\n",
                "    throw new Error('golden run failure');\n",
            ),
            ("app.js", "  run(params) {\n", "    w.readBytes('nope');\n"),
            (
                "app.js",
                "  run(params) {\n",
                "    new w.Params(params).str('min_word_length');\n",
            ),
        ],
        _ => [
            (
                "app.c",
                "void exports_weft_step_step_describe(exports_weft_step_step_step_info_t *ret) {\n",
                "    fprintf(stderr, \"golden describe failure\\n\");\n    abort();\n",
            ),
            (
                "app.c",
                C_RUN,
                "    fprintf(stderr, \"golden run failure\\n\");\n    abort();\n",
            ),
            (
                "app.c",
                C_RUN,
                "    { char *d; size_t n; if (!weft_read_bytes(\"nope\", &d, &n, err)) return false; }\n",
            ),
            (
                "app.c",
                C_RUN,
                "    { char *s; if (!weft_get_str(params, \"min_word_length\", &s, err)) return false; }\n",
            ),
        ],
    }
}

/// Breaks `describe()`, then `run()`, then misuses the SDK in `run()`, in the project in
/// `dir`, and compares what `weft` says with `xtask/golden/LANG-describe.txt`,
/// `LANG-run.txt`, `LANG-misuse.txt` and `LANG-param.txt` (the scratch path shown as `<dir>`, a run's
/// duration left out).
fn golden_errors(root: &Path, author: &Author, dir: &Path, lang: &str) -> Result<()> {
    for ((file, after, failure), what) in breakers(lang).into_iter().zip(["describe", "run", "misuse", "param"]) {
        let path = dir.join(file);
        let original = std::fs::read_to_string(&path)?;
        if !original.contains(after) {
            bail!("{}: no `{}` to break after", path.display(), after.trim());
        }
        std::fs::write(&path, original.replacen(after, &format!("{after}{failure}"), 1))?;
        let out = if what == "describe" {
            author.weft(dir).args(["plugin", "build"]).output()?
        } else {
            run(author.weft(dir).args(["plugin", "build"]))?;
            author
                .weft(dir)
                .args([
                    "step",
                    "run",
                    &format!("tpl-{lang}.wasm"),
                    "-i",
                    "text=test-data/text.txt",
                ])
                .output()?
        };
        std::fs::write(&path, original)?;
        let text = String::from_utf8_lossy(&out.stdout);
        let said = text
            .lines()
            .find(|l| l.contains("its describe() failed:") || l.contains(" failed after "))
            .with_context(|| format!("{lang} {what}: no failure said in:\n{text}"))?;
        let shown = said.replace(&dir.display().to_string(), "<dir>");
        // `NAME 0.1.0 failed after 1.2 ms: …`: the duration varies.
        let shown = match shown.split_once(" failed after ") {
            Some((head, rest)) => format!("{head} failed: {}", rest.split_once(": ").map_or(rest, |(_, r)| r)),
            None => shown,
        };
        let golden = root.join(format!("xtask/golden/{lang}-{what}.txt"));
        let expected = std::fs::read_to_string(&golden).unwrap_or_default();
        if std::env::var_os("WEFT_BLESS").is_some() {
            std::fs::write(&golden, format!("{shown}\n"))?;
        } else if expected.trim_end() != shown {
            bail!(
                "{lang}: a failing {what}() is shown as\n  {shown}\nnot as {} says\n  {}\n(WEFT_BLESS=1 cargo xtask check-templates writes what is shown)",
                golden.display(),
                expected.trim_end()
            );
        }
        eprintln!("golden {lang} {what}: {shown}");
    }
    Ok(())
}
