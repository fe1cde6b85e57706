//! `weft validate FILE`: every problem at once, nothing run.

use crate::cli::WorkflowArgs;
use crate::settings::Settings;
use weft_runner::LoadError;

pub async fn validate(args: &WorkflowArgs, settings: &Settings) -> anyhow::Result<u8> {
    match settings.loader().load(&args.file, &args.params).await {
        Ok(w) => {
            println!(
                "{}: valid workflow `{}` with {} steps",
                args.file.display(),
                w.plan.name,
                w.plan.steps.len()
            );
            Ok(0)
        }
        Err(LoadError::Invalid(invalid)) => {
            eprintln!("{}", invalid.text);
            Ok(crate::EXIT_INVALID)
        }
        Err(LoadError::Other(e)) => Err(e),
    }
}
