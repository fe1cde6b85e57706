//! Throw-away services on loopback for the tests: a PostgreSQL cluster ([`postgres`]) and
//! a SeaweedFS S3 server ([`seaweedfs`]), each on free ports in a fresh directory, stopped
//! and removed when its guard drops. `cargo xtask services` and `cargo xtask ci` start one
//! of each for every test (`WEFT_TEST_POSTGRES`, `WEFT_TEST_S3`); a fault test starts its
//! own, to stop and start it again under running workers without disturbing other tests.

pub mod postgres;
pub mod seaweedfs;

use anyhow::{Context, Result, bail};
use std::net::TcpListener;
use std::process::Command;

/// `n` free loopback ports, below Linux's range for outgoing connections (32768 and up):
/// no client takes one while its server is stopped, so it starts again on the same ports.
/// Each is held until all are picked, then released.
pub(crate) fn free_ports(n: usize) -> Result<Vec<u16>> {
    use std::io::Read;
    let mut seed = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut seed))
        .context("reading /dev/urandom")?;
    let mut x = u64::from_le_bytes(seed) | 1;
    let mut held = Vec::with_capacity(n);
    for _ in 0..n * 1000 {
        if held.len() == n {
            break;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let port = 16384 + u16::try_from(x % 16384).unwrap_or(0);
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            held.push(listener);
        }
    }
    if held.len() < n {
        bail!("found only {} free loopback ports between 16384 and 32767", held.len());
    }
    held.iter().map(|l| Ok(l.local_addr()?.port())).collect()
}

/// Installs Debian `packages` (as root; else says the one command to run), without their
/// recommendations; `what` names them in messages.
pub fn apt_install(what: &str, packages: &[&str]) -> Result<()> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if !root {
        bail!("{what} needs `sudo apt-get install {}`", packages.join(" "));
    }
    run(Command::new("apt-get").arg("update").arg("-qq"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(packages)
        // Debian's packages cannot start services here (no systemd); they need not.
        .env("DEBIAN_FRONTEND", "noninteractive"))
    .with_context(|| format!("installing {what}"))
}

/// Runs a command, echoing it to stderr; fails if it fails (xtask's too).
pub fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("+ {cmd:?}");
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("command failed: {cmd:?}");
    }
    Ok(())
}
