//! One module per command; `dispatch` picks one.

mod artifact;
mod audit;
mod lineage;
mod metrics;
mod plugin;
mod plugin_project;
mod remote;
mod remote_read;
mod replay;
mod run;
mod runs;
mod serve;
mod step;
mod store;
mod tenant;
mod validate;
mod worker;

use crate::cli::{Cli, Command, PluginCommand};
use crate::settings::Settings;
use anyhow::Context;
use std::sync::Arc;
use weft_sandbox::Sandbox;

/// Runs the chosen command; returns the process exit code.
pub async fn dispatch(cli: Cli) -> anyhow::Result<u8> {
    // With `--server`, what a server answers goes there; `replay`, which executes from this
    // machine's records, is refused rather than answered from the wrong place; what is local
    // by nature (validate, plugin, step, tenant, serve, store, records, audit) runs here.
    if let Some(server) = cli.global.server.as_deref() {
        let remote = || crate::remote::Remote::new(server, cli.global.token.as_deref());
        match cli.command {
            Command::Run(args) => return remote::run(&args, &remote()?, server).await,
            Command::Runs(cmd) => return remote::runs(cmd, &remote()?, server).await,
            Command::Logs { run, step } => return remote::logs(&run, step.as_deref(), &remote()?).await,
            Command::Cancel { run } => return remote::cancel(&run, &remote()?).await,
            Command::Artifact(cmd) => return remote_read::artifact(cmd, &remote()?).await,
            Command::Metrics { runs, last, step } => return remote_read::metrics(runs, last, step, &remote()?).await,
            Command::Lineage { digest, json } => return remote_read::lineage(&digest, json, &remote()?).await,
            Command::Replay { .. } => {
                anyhow::bail!(
                    "`replay` executes a step on this machine from its local records, not the server's \
                     (--server / WEFT_SERVER is set): unset it"
                )
            }
            _ => {}
        }
    }
    let settings = Settings::from_args(&cli.global)?;
    match cli.command {
        Command::Validate(args) => validate::validate(&args, &settings).await,
        Command::Run(args) => run::run(&args, &settings).await,
        Command::Plugin(PluginCommand::New { lang, name, into }) => plugin_project::new(&lang, &name, into.as_deref()),
        Command::Plugin(PluginCommand::Build { dir }) => plugin_project::build(&dir, &settings).await,
        Command::Plugin(PluginCommand::Test { dir }) => plugin_project::test(&dir, &settings).await,
        Command::Plugin(PluginCommand::Publish { what, public }) => {
            let server = cli
                .global
                .server
                .as_deref()
                .context("publishing needs a server: --server URL --token T (or WEFT_SERVER and WEFT_TOKEN)")?;
            let remote = crate::remote::Remote::new(server, cli.global.token.as_deref())?;
            plugin_project::publish(&what, public, &remote, &settings).await
        }
        Command::Plugin(PluginCommand::Inspect { file }) => plugin::inspect(file, &*sandbox(&settings, false)?).await,
        Command::Artifact(cmd) => artifact::artifact(cmd, &settings).await,
        Command::Store(cmd) => store::store(cmd, &settings).await,
        Command::Records(cmd) => store::records(cmd, &settings).await,
        Command::Tenant(cmd) => tenant::tenant(cmd, &settings).await,
        Command::Audit {
            tenant,
            after,
            limit,
            json,
        } => audit::audit(&tenant, after, limit, json, &settings).await,
        Command::Serve(args) => serve::serve(&args, &settings).await,
        Command::Worker(args) => worker::worker(&args, &settings).await,
        Command::Metrics { runs, last, step } => metrics::metrics(runs, last, step, &settings).await,
        Command::Step(cmd) => step::step(cmd, &settings).await,
        Command::Runs(cmd) => runs::runs(cmd, &settings).await,
        Command::Logs { run, step } => runs::logs(&run, step.as_deref(), &settings).await,
        Command::Cancel { run } => runs::cancel(&run, &settings).await,
        Command::Lineage { digest, json } => lineage::lineage(&digest, json, &settings).await,
        Command::Replay { run, step } => replay::replay(&run, &step, &settings).await,
        // Handled in `main` before the runtime starts; here only for completeness.
        Command::Compile { .. } => Ok(crate::EXIT_INVALID),
    }
}

/// The sandbox; fuel metering costs every step some speed, so it is on only when the
/// workflow sets a fuel budget somewhere.
pub(crate) fn sandbox(settings: &Settings, fuel: bool) -> anyhow::Result<Arc<Sandbox>> {
    settings.loader().sandbox(fuel)
}
