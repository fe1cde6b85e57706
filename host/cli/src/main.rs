//! `weft`: validate and run typed YAML workflows of sandboxed WebAssembly steps.
//!
//! Wiring only: argument parsing, settings from flags and environment, the tracing
//! subscriber, and output formatting. The work happens in the library crates.

mod cli;
mod commands;
mod load;
mod progress;
mod settings;
mod summary;

use clap::Parser;
use std::process::ExitCode;

/// Exit code when a step failed or a command could not do its work.
pub const EXIT_FAILED: u8 = 1;
/// Exit code when the workflow (or another input) is invalid.
pub const EXIT_INVALID: u8 = 2;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WEFT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    match runtime.block_on(commands::dispatch(args)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}
