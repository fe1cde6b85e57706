//! `cargo xtask ui`: the web UI on the embedded defaults, in one command. Sets up as `demo`
//! does (wasm target, plugin toolchains, plugins, release `weft`), makes (or gives a new
//! token to) the tenant `demo` in `./.weft`, starts `weft serve`, runs the breast-cancer
//! example through it so there is something to look at, and prints the UI's address and
//! the token to sign in with. The server runs until Ctrl-C.

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where the server listens unless `WEFT_UI_ADDR` says otherwise.
const ADDR: &str = "127.0.0.1:8080";
/// The tenant the UI is opened as.
const TENANT: &str = "demo";

pub fn open(root: &Path) -> Result<()> {
    crate::demo_setup(root)?;
    crate::run(Command::new(crate::cargo()).current_dir(root).args([
        "build",
        "--release",
        "--locked",
        "--package",
        "weft",
    ]))?;
    let weft = target_dir(root).join("release/weft");
    // The embedded defaults: whatever the shell names elsewhere is not used.
    let weft = |args: &[&str]| {
        let mut command = Command::new(&weft);
        command.current_dir(root).args(args);
        for name in ["WEFT_HOME", "WEFT_RECORDS", "WEFT_STORE", "WEFT_SERVER", "WEFT_TOKEN"] {
            command.env_remove(name);
        }
        command
    };
    // A token is shown once, when made: an existing tenant gets a new one.
    let made = weft(&["tenant", "create", TENANT]).stderr(Stdio::null()).output()?;
    let token = if made.status.success() {
        made.stdout
    } else {
        let rotated = weft(&["tenant", "token", TENANT]).output()?;
        if !rotated.status.success() {
            bail!(
                "cannot make the tenant `{TENANT}`: {}",
                String::from_utf8_lossy(&rotated.stderr)
            );
        }
        rotated.stdout
    };
    let token = String::from_utf8(token)?.trim().to_string();
    let addr = std::env::var("WEFT_UI_ADDR").unwrap_or_else(|_| ADDR.into());
    let mut server = Server(
        weft(&["serve", "--addr", &addr])
            .stderr(Stdio::piped())
            .spawn()
            .context("starting weft serve")?,
    );
    let mut lines = BufReader::new(server.0.stderr.take().context("the server's stderr")?).lines();
    let url = loop {
        let Some(line) = lines.next() else {
            bail!("weft serve stopped before serving (is {addr} taken? set WEFT_UI_ADDR)");
        };
        let line = line?;
        eprintln!("{line}");
        if let Some(rest) = line.strip_prefix("weft serving on ") {
            break rest.split_whitespace().next().unwrap_or_default().to_string();
        }
    };
    // The server's log keeps flowing to the terminal.
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(|line| eprintln!("{line}")));
    println!();
    println!("Weft's web UI: {url}/ui/");
    println!("Sign in as tenant `{TENANT}` with this token (a new one each time this runs):");
    println!("{token}");
    println!("Running the breast-cancer example through it; Ctrl-C stops the server.");
    println!();
    let ran = weft(&["run", "--server", &url, "--no-progress", "examples/breast-cancer.yaml"])
        .env("WEFT_TOKEN", &token)
        .status()?;
    if !ran.success() {
        eprintln!("(the example did not succeed; the UI shows why)");
    }
    server.0.wait()?;
    Ok(())
}

/// The server, stopped if this command fails before it waits on it.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}
