//! Throw-away services on loopback for the tests: a PostgreSQL cluster ([`postgres`]) and
//! a SeaweedFS S3 server ([`seaweedfs`]), each on free ports in a fresh directory, stopped
//! and removed when its guard drops. `cargo xtask services` and `cargo xtask ci` start one
//! of each for every test (`WEFT_TEST_POSTGRES`, `WEFT_TEST_S3`); a fault test starts its
//! own, to stop and start it again under running workers without disturbing other tests.

pub mod postgres;
pub mod seaweedfs;

use anyhow::{Context, Result, bail};
use std::process::Command;

/// Runs a command, echoing it to stderr; fails if it fails (xtask's too).
pub fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("+ {cmd:?}");
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("command failed: {cmd:?}");
    }
    Ok(())
}
