//! `weft`: validate and run typed YAML workflows of sandboxed WebAssembly steps.
//!
//! Wiring only: argument parsing, settings from flags and environment, the tracing
//! subscriber, and output formatting. The work happens in the library crates.

mod cli;
mod commands;
mod progress;
mod remote;
mod settings;
mod summary;
mod text;

use clap::Parser;
use std::process::ExitCode;

/// Exit code when a step failed or a command could not do its work.
pub const EXIT_FAILED: u8 = 1;
/// Exit code when the workflow (or another input) is invalid.
pub const EXIT_INVALID: u8 = 2;

fn main() -> ExitCode {
    quiet_panics();
    let args = cli::Cli::parse();
    if let cli::Command::Compile {
        memory,
        max_bytes,
        fuel,
    } = args.command
    {
        // The compiler child (see weft_sandbox::CompileProcess): no runtime, no tracing;
        // its stdout is the compiled code, its stderr the error.
        return match weft_sandbox::compile_child_main(weft_sandbox::ChildArgs {
            fuel,
            memory,
            max_bytes,
        }) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(EXIT_FAILED)
            }
        };
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WEFT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        // Events carry guest text (a step's log lines at WEFT_LOG=debug): no colours, and
        // every line escaped on its way to the terminal.
        .with_ansi(false)
        .with_writer(|| text::EscapingWriter(std::io::stderr()))
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

/// A panic is a bug in Weft, not the user's error: say so in one paragraph, without the
/// Rust backtrace that `RUST_BACKTRACE=1` (set in many shells) would add; `WEFT_BACKTRACE=1`
/// shows it for a bug report.
fn quiet_panics() {
    if std::env::var_os("WEFT_BACKTRACE").is_some_and(|v| v == "1") {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "error: weft hit an internal error{place}: {}\nThis is a bug in weft; please report it (WEFT_BACKTRACE=1 shows the backtrace).",
            text::shown(&message)
        );
    }));
}
