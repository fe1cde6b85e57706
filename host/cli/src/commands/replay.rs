//! `weft replay RUN STEP`: the runner executes one recorded step again, exactly as its
//! plan was locked; this prints the comparison with the recorded outputs.

use crate::commands::runs::resolve;
use crate::settings::Settings;
use comfy_table::Table;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use weft_runner::StoredCopy;

pub async fn replay(run: &str, step: &str, settings: &Settings) -> anyhow::Result<u8> {
    let runner = settings.runner().await?;
    let run = resolve(&runner.records, run).await?;
    let replay = runner.replay(&run, step).await?;
    let outputs = match &replay.outcome {
        Ok(outputs) => outputs,
        Err(failure) => {
            println!(
                "replaying `{step}` of run {run}: the step failed this time: {}",
                crate::text::shown_lines(&failure.to_string())
            );
            return Ok(crate::EXIT_FAILED);
        }
    };
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["output", "recorded", "replayed", "identical", "stored copy"]);
    for o in outputs {
        let same = o.replayed == Some(o.recorded);
        let what = |corrupt: bool| if corrupt { "DAMAGED" } else { "UNREADABLE" };
        table.add_row([
            o.port.clone(),
            o.recorded.to_string(),
            o.replayed.map_or_else(|| "(not written)".into(), |d| d.to_string()),
            if same { "yes".into() } else { "NO".to_string() },
            match &o.stored {
                StoredCopy::Intact => "ok".to_string(),
                StoredCopy::Repaired { corrupt } => format!("{}, repaired from this replay", what(*corrupt)),
                StoredCopy::Bad { corrupt, error } => format!("{}: {error}", what(*corrupt)),
            },
        ]);
    }
    println!(
        "replayed `{step}` of run {run} (component {}):\n{table}",
        replay.component
    );
    let identical = replay.identical();
    println!(
        "{}",
        if identical {
            "outputs are bit-identical"
        } else {
            "outputs DIFFER from the recorded ones, or the stored copy was damaged"
        }
    );
    Ok(if identical { 0 } else { crate::EXIT_FAILED })
}
