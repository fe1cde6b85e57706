//! `weft store verify [--repair]`: read every artifact of the tenant back and check it
//! against its address — those in the store and the small ones kept in the run records;
//! with `--repair`, move the bad ones of the store into quarantine and delete the bad rows
//! of the records (the next run that produces them stores them again).
//! `weft records check | recover`: the same care for the run records file.

use crate::cli::{RecordsCommand, StoreCommand};
use crate::settings::Settings;
use std::io::Write;

pub async fn store(cmd: StoreCommand, settings: &Settings) -> anyhow::Result<u8> {
    let StoreCommand::Verify { repair, json } = cmd;
    let (records, store) = settings.store_and_records().await?;
    let started = std::time::Instant::now();
    let mut checked = 0usize;
    let summary = store
        .verify_all(repair, |blob| {
            checked += 1;
            if !json && checked.is_multiple_of(1000) {
                eprint!("\rchecked {checked} artifacts");
                let _ = std::io::stderr().flush();
            }
            if let (false, Some(problem)) = (json, &blob.problem) {
                eprintln!("\rBAD {}: {problem}", blob.key);
            }
        })
        .await?;
    let inline = records.check_small_artifacts(repair).await?;
    for bad in &inline.bad {
        if !json {
            eprintln!("BAD {} (in the run records): {}", bad.digest, bad.problem);
        }
    }
    // Unreadable blobs are never moved: they count as left, for the user to look at.
    let unrepaired = summary.bad.iter().filter(|b| b.quarantined.is_none()).count()
        + inline.bad.iter().filter(|b| !b.removed).count();
    if json {
        let bad: Vec<serde_json::Value> = summary
            .bad
            .iter()
            .map(|b| serde_json::json!({"key": b.key, "problem": b.problem, "quarantined": b.quarantined}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "good": summary.good, "bytes": summary.bytes, "bad": bad,
                "records": {
                    "good": inline.good, "bytes": inline.bytes,
                    "bad": inline.bad.iter().map(|b| serde_json::json!({
                        "digest": b.digest, "problem": b.problem, "removed": b.removed,
                    })).collect::<Vec<_>>(),
                },
            }))?
        );
    } else {
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{} artifacts ({} bytes) match their address; {} bad{} ({secs:.1} s)",
            summary.good,
            summary.bytes,
            summary.bad.len(),
            if repair && !summary.bad.is_empty() {
                format!(", moved to quarantine under {}", store.url())
            } else if !summary.bad.is_empty() {
                " (`weft store verify --repair` moves them aside)".into()
            } else {
                String::new()
            }
        );
        println!(
            "{} small artifacts ({} bytes) in the run records match their address; {} bad{}",
            inline.good,
            inline.bytes,
            inline.bad.len(),
            if repair && !inline.bad.is_empty() {
                ", deleted (the next run that produces them stores them again)"
            } else if !inline.bad.is_empty() {
                " (`weft store verify --repair` deletes them)"
            } else {
                ""
            }
        );
    }
    Ok(if unrepaired == 0 { 0 } else { crate::EXIT_FAILED })
}

pub async fn records(cmd: RecordsCommand, settings: &Settings) -> anyhow::Result<u8> {
    let path = match &settings.records {
        weft_records::Location::Sqlite(path) => path,
        postgres @ weft_records::Location::Postgres(_) => anyhow::bail!(
            "`weft records check` and `recover` are for a SQLite file; the records at {postgres} are a \
             PostgreSQL database, which checks itself (its administrator's tools apply: pg_amcheck, backups)"
        ),
    };
    match cmd {
        RecordsCommand::Check => {
            let problems = weft_records::check(path)
                .await
                .map_err(|e| anyhow::anyhow!("{e} ({})", path.display()))?;
            if problems.is_empty() {
                println!("{}: ok", path.display());
                return Ok(0);
            }
            for p in &problems {
                println!("{}: {p}", path.display());
            }
            println!("`weft records recover` saves what is readable into a fresh file");
            Ok(crate::EXIT_FAILED)
        }
        RecordsCommand::Recover => {
            let done = weft_records::recover(path)
                .await
                .map_err(|e| anyhow::anyhow!("{e} ({})", path.display()))?;
            for (table, rows) in &done.copied {
                println!("kept {rows} rows of {table}");
            }
            for (table, why) in &done.lost {
                println!("LOST {table}: {why}");
            }
            println!(
                "fresh records at {}; the damaged file is kept as {}",
                path.display(),
                done.damaged.display()
            );
            Ok(if done.lost.is_empty() { 0 } else { crate::EXIT_FAILED })
        }
    }
}
