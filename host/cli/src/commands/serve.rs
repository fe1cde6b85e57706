//! `weft serve`: the HTTP API (weft-server) on the configured records and store. Publishes
//! the components of the plugin path as the built-in public steps, resumes the runs a
//! stopped server left running, prints the address it listens on, and serves until Ctrl-C
//! or SIGTERM; runs still executing then stay recorded as running and are resumed by the
//! next start.

use crate::cli::ServeArgs;
use crate::settings::Settings;
use anyhow::Context;
use weft_server::{Server, ServerConfig};

pub async fn serve(args: &ServeArgs, settings: &Settings) -> anyhow::Result<u8> {
    if args.openapi {
        print!("{}", weft_server::openapi::document());
        return Ok(0);
    }
    let runner = settings.runner().await?;
    let slots = args
        .slots
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, std::num::NonZero::get));
    let mut overrides = serde_json::Map::new();
    for text in &args.quota {
        let (name, value) = weft_server::Quotas::parse_setting(text).map_err(anyhow::Error::msg)?;
        overrides.insert(name, value);
    }
    // A tenant may use every slot unless told otherwise.
    let defaults = weft_server::Quotas {
        concurrent_steps: slots as u64,
        ..weft_server::Quotas::default()
    };
    let config = ServerConfig {
        slots,
        max_upload_bytes: args.max_upload_size,
        quotas: defaults.with_overrides(&overrides).map_err(anyhow::Error::msg)?,
        ..ServerConfig::default()
    };
    let store = weft_artifacts::shown_url(runner.store.url());
    let server = Server::new(runner, config);
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.addr))?;
    let addr = listener.local_addr()?;
    match server.publish_builtin(&settings.plugin_path).await {
        Ok(n) => eprintln!(
            "published {n} built-in step(s) as public steps of `{}`",
            weft_records::BUILTIN_TENANT
        ),
        Err(e) => eprintln!("warning: cannot publish the built-in steps: {e:#}"),
    }
    match server.resume_interrupted().await {
        Ok(0) => {}
        Ok(n) => eprintln!("resumed {n} interrupted run(s)"),
        Err(e) => eprintln!("warning: cannot look for interrupted runs: {e:#}"),
    }
    // Said once everything above is done: a client that waits for this line finds the
    // built-in steps published.
    eprintln!(
        "weft serving on http://{addr} (records: {}, store: {store})",
        settings.records
    );
    // Open event streams would hold a graceful shutdown forever: on a signal the process
    // ends; what it was running is resumed by the next start.
    tokio::select! {
        served = server.serve(listener, std::future::pending()) => served.context("serving")?,
        () = stopped() => eprintln!("stopping"),
    }
    Ok(0)
}

/// Ctrl-C or SIGTERM.
async fn stopped() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
