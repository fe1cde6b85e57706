//! `weft validate FILE`: every problem at once, nothing run.

use crate::cli::WorkflowArgs;
use crate::load::{LoadError, load_workflow};
use crate::settings::Settings;
use weft_sandbox::Sandbox;

pub async fn validate(args: &WorkflowArgs, settings: &Settings, sandbox: &Sandbox) -> anyhow::Result<u8> {
    match load_workflow(&args.file, &args.params, settings, sandbox).await {
        Ok(w) => {
            println!(
                "{}: valid workflow `{}` with {} steps",
                args.file.display(),
                w.plan.name,
                w.plan.steps.len()
            );
            Ok(0)
        }
        Err(LoadError::Invalid(text)) => {
            eprintln!("{text}");
            Ok(crate::EXIT_INVALID)
        }
        Err(LoadError::Other(e)) => Err(e),
    }
}
