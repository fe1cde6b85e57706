//! A plugin author's project outside this repository: `weft plugin new` makes one (with the
//! SDK and WIT vendored, see `weft_plugin_kit::project`), `weft plugin build` turns it into
//! `NAME.wasm` checked as `inspect` checks it, `weft plugin test` runs its own tests and
//! then the component once on its `test-data/`, `weft plugin publish` sends it (and its
//! README) to a server's registry.

use super::plugin::{Checked, check};
use crate::cli::StepCommand;
use crate::settings::Settings;
use crate::text::shown;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use weft_model::StepInfo;
use weft_plugin_kit::{Lang, project, recipe, toolchain};

/// `weft plugin new --lang LANG NAME [--into DIR]`.
pub fn new(lang: &str, name: &str, into: Option<&Path>) -> anyhow::Result<u8> {
    let lang = Lang::parse(lang)?;
    let dir = project::create(lang, name, into)?;
    println!(
        "created {} ({lang}, with the SDK and WIT of weft {})",
        dir.display(),
        env!("CARGO_PKG_VERSION")
    );
    let missing = toolchain::missing(lang, &dir);
    for m in &missing {
        println!("  before building: {m}");
    }
    println!("next: cd {} && weft plugin build && weft plugin test", dir.display());
    println!("      (its README.md says how to use and publish it)");
    Ok(0)
}

/// The project in `dir` and its language, or why it is not one or cannot be built here.
fn project(dir: &Path) -> anyhow::Result<(PathBuf, Lang)> {
    let dir = dir
        .canonicalize()
        .with_context(|| format!("{} is not a directory", dir.display()))?;
    let lang = Lang::detect(&dir)?;
    let missing = toolchain::missing(lang, &dir);
    if !missing.is_empty() {
        let lines: Vec<String> = missing.iter().map(|m| format!("  {m}")).collect();
        bail!(
            "a {lang} step needs tools this machine lacks:\n{}\nthen run this again",
            lines.join("\n")
        );
    }
    Ok((dir, lang))
}

/// `weft plugin build [DIR]`.
pub async fn build(dir: &Path, settings: &Settings) -> anyhow::Result<u8> {
    let (dir, lang) = project(dir)?;
    match built(&dir, lang, settings).await? {
        Some((file, info)) => {
            let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            println!(
                "built {} {} ({lang}): {} ({})",
                shown(&info.name),
                shown(&info.version),
                file.display(),
                weft_runner::fmt_size(size)
            );
            Ok(0)
        }
        None => Ok(crate::EXIT_FAILED),
    }
}

/// Builds the project, checks the component, and writes it as `DIR/NAME.wasm`; `None`
/// (with the reasons printed) when the component is refused.
async fn built(dir: &Path, lang: Lang, settings: &Settings) -> anyhow::Result<Option<(PathBuf, StepInfo)>> {
    let raw = compile(dir, lang)?;
    let bytes = weft_runner::read_component(&raw)?;
    let sandbox = super::sandbox(settings, false)?;
    let component = match check(&dir.display().to_string(), &bytes, &sandbox).await? {
        Checked::Step(c) => c,
        Checked::NotAStep(why) => {
            println!("{why}");
            return Ok(None);
        }
    };
    let info = component.info.clone();
    let problems = info.problems();
    if !problems.is_empty() {
        println!("{}: its declaration has problems:", dir.display());
        for p in &problems {
            println!("  {}", shown(p));
        }
        return Ok(None);
    }
    // `problems()` is empty: the name is an identifier, safe as a file name.
    let file = dir.join(format!("{}.wasm", info.name));
    std::fs::write(&file, &bytes).with_context(|| format!("writing {}", file.display()))?;
    Ok(Some((file, info)))
}

/// Runs the language's recipe on the project; returns the component it made.
fn compile(dir: &Path, lang: Lang) -> anyhow::Result<PathBuf> {
    let build = dir.join("build");
    std::fs::create_dir_all(&build).with_context(|| format!("creating {}", build.display()))?;
    let wit = dir.join("wit");
    let out = build.join("step.wasm");
    match lang {
        Lang::Rust => {
            let package = package_name(dir)?;
            let target = target_dir(dir);
            recipe::rust(&cargo(), dir, &target, &[&package], dir.join("Cargo.lock").exists())?;
            return Ok(recipe::rust_output(&target, &package));
        }
        Lang::Python => recipe::python(dir, &wit, &[], &out)?,
        Lang::Js => recipe::js(
            &dir.join("node_modules/.bin/componentize-js"),
            dir,
            &wit,
            Path::new("app.js"),
            &out,
        )?,
        Lang::C => {
            let bindings = build.join("bindings");
            recipe::c_bindings(&wit, &bindings)?;
            let sources = recipe::c_files(dir, |n| !n.starts_with("test_"))?;
            recipe::c(&sources, &[dir], &bindings, &build.join("step.core.wasm"), &out)?;
        }
    }
    Ok(out)
}

/// The `cargo` to run: `$CARGO` when `weft` itself runs under cargo, else the one on `PATH`.
fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Where cargo builds a Rust project: `CARGO_TARGET_DIR` when the user set one, as cargo
/// itself would (a relative one from the project, where cargo runs), else its `target/`.
fn target_dir(dir: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| dir.join("target"), |t| dir.join(t))
}

/// The package name in `dir/Cargo.toml` (the first `name = "…"` of its `[package]`).
fn package_name(dir: &Path) -> anyhow::Result<String> {
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).with_context(|| format!("reading {}", manifest.display()))?;
    let package = text.split("[package]").nth(1).unwrap_or_default();
    package
        .lines()
        .find_map(|l| l.trim().strip_prefix("name = \"").and_then(|r| r.strip_suffix('"')))
        .map(str::to_string)
        .with_context(|| format!("{}: no package name", manifest.display()))
}

/// `weft plugin test [DIR]`.
pub async fn test(dir: &Path, settings: &Settings) -> anyhow::Result<u8> {
    let (dir, lang) = project(dir)?;
    println!("== the tests of {} ({lang})", dir.display());
    native_tests(&dir, lang)?;
    println!("== building the component");
    let Some((file, info)) = built(&dir, lang, settings).await? else {
        return Ok(crate::EXIT_FAILED);
    };
    println!("== a smoke run of {} on test-data/", file.display());
    let data = dir.join("test-data");
    let mut inputs = Vec::new();
    for port in &info.inputs {
        let Some(path) = sample(&data, &port.name)? else {
            println!(
                "no smoke run: no test-data/{}.* for input `{}` (add one, named after the port)",
                port.name,
                shown(&port.name)
            );
            return Ok(0);
        };
        // A sample is of its port's type when its name does not say so (a `.json` for a
        // Weft table, a file without an extension).
        let guessed = weft_model::media_type::guess_from_path(&path.display().to_string());
        let declared = &port.media_type;
        let media_type =
            (!weft_model::media_type::accepts(declared, guessed) && !declared.contains('*')).then(|| declared.clone());
        inputs.push(weft_runner::LocalInput {
            port: port.name.clone(),
            file: path,
            media_type,
        });
    }
    let params = sample_params(&data)?;
    let required: Vec<&str> = info
        .params
        .iter()
        .filter(|p| p.default.is_none() && !params.iter().any(|(name, _)| *name == p.name))
        .map(|p| p.name.as_str())
        .collect();
    if !required.is_empty() {
        println!(
            "no smoke run: parameters {} have no default (give them in test-data/params, a NAME=VALUE per line)",
            required.join(", ")
        );
        return Ok(0);
    }
    let run = StepCommand::Run {
        file,
        inputs,
        params,
        out: dir.join("build/smoke"),
        memory: None,
        timeout: None,
    };
    super::step::step(run, settings).await
}

/// The project's own tests, by the language's test runner.
fn native_tests(dir: &Path, lang: Lang) -> anyhow::Result<()> {
    match lang {
        Lang::Rust => recipe::run(
            Command::new(cargo())
                .current_dir(dir)
                .arg("test")
                .args(dir.join("Cargo.lock").exists().then_some("--locked"))
                .env("CARGO_TARGET_DIR", target_dir(dir)),
            "the failing tests are above",
        ),
        Lang::Python => recipe::run(
            Command::new("python3")
                .current_dir(dir)
                .args(["-m", "unittest", "discover", "-v"]),
            "the failing tests are above",
        ),
        Lang::Js => recipe::run(
            Command::new("node").current_dir(dir).arg("--test"),
            "the failing tests are above",
        ),
        Lang::C => {
            let exe = dir.join("build/tests");
            std::fs::create_dir_all(dir.join("build"))?;
            recipe::c_tests(&[dir], &exe)?;
            recipe::run(Command::new(&exe).current_dir(dir), "the failing tests are above")
        }
    }
}

/// The parameters of the smoke run: `test-data/params`, a `NAME=VALUE` per line (blank
/// lines and `#` comments skipped), if there is one.
fn sample_params(data: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let file = data.join("params");
    if !file.is_file() {
        return Ok(Vec::new());
    }
    let text = weft_runner::read_capped(&file, 64 << 10).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let text = String::from_utf8(text).with_context(|| format!("{} is not UTF-8 text", file.display()))?;
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .with_context(|| format!("{}: `{l}` is not NAME=VALUE", file.display()))
        })
        .collect()
}

/// The file in `data` named after `port` (`text.txt` for `text`), if there is one.
fn sample(data: &Path, port: &str) -> anyhow::Result<Option<PathBuf>> {
    let Ok(entries) = std::fs::read_dir(data) else {
        return Ok(None);
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.file_stem().is_some_and(|s| s == port))
        .collect();
    found.sort();
    Ok(found.into_iter().next())
}

/// Largest README sent with a step (the server keeps at most 256 KiB).
const MAX_README: u64 = 256 << 10;

/// `weft plugin publish [PROJECT|FILE.wasm] [--public]`.
pub async fn publish(
    what: &Path,
    public: bool,
    remote: &crate::remote::Remote,
    settings: &Settings,
) -> anyhow::Result<u8> {
    let (file, readme) = if what.is_dir() {
        let (dir, lang) = project(what)?;
        let Some((file, _)) = built(&dir, lang, settings).await? else {
            return Ok(crate::EXIT_FAILED);
        };
        let readme = dir.join("README.md");
        (file, readme.is_file().then_some(readme))
    } else {
        (what.to_path_buf(), None)
    };
    // The server checks it too; checked here first, a refusal reads as `inspect`'s.
    let bytes = weft_runner::read_component(&file)?;
    let sandbox = super::sandbox(settings, false)?;
    let info = match check(&file.display().to_string(), &bytes, &sandbox).await? {
        Checked::Step(c) => c.info.clone(),
        Checked::NotAStep(why) => {
            println!("{why}");
            return Ok(crate::EXIT_FAILED);
        }
    };
    let (name, version) = (info.name.clone(), info.version.clone());
    if !info.problems().is_empty() {
        for p in info.problems() {
            println!("{}: {}", file.display(), shown(&p));
        }
        return Ok(crate::EXIT_FAILED);
    }
    let path = format!("/steps/{name}/{version}?public={public}");
    let (status, body) = remote.put(&path, bytes).await?;
    let step = crate::remote::ok(status, body).with_context(|| format!("publishing {name}@{version}"))?;
    let again = status == 200;
    if let Some(readme) = readme {
        let size = std::fs::metadata(&readme).map(|m| m.len()).unwrap_or(0);
        if size > MAX_README {
            println!("{}: over {MAX_README} bytes, not sent", readme.display());
        } else {
            let text = std::fs::read(&readme).with_context(|| format!("reading {}", readme.display()))?;
            let (status, body) = remote.put(&format!("/steps/{name}/{version}/readme"), text).await?;
            if status != 204 {
                crate::remote::ok(status, body).with_context(|| format!("sending {}", readme.display()))?;
            }
        }
    }
    println!(
        "{} {}@{} to {} ({}, {}): workflows there say `uses: {}@{}` or `uses: {}`",
        if again { "already published:" } else { "published" },
        shown(&name),
        shown(&version),
        remote.base(),
        if public { "public" } else { "private to your tenant" },
        step["digest"].as_str().unwrap_or("?"),
        shown(&name),
        shown(&version),
        step["digest"].as_str().unwrap_or("sha256:…"),
    );
    Ok(0)
}
