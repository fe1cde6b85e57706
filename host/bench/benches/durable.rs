//! The cost of durable run records, measured side by side in interleaved rounds:
//!
//! (b) a 40-step chain of no-op steps through the engine with no journal (as in `overhead`);
//! (d) the same chain recorded in SQLite — run row, step rows, and every finished step
//!     committed in its own transaction before its dependent starts — WAL with
//!     `synchronous=NORMAL` (survives the process being killed, not a power loss);
//! (d') the same with `synchronous=FULL` (every commit syncs the WAL: survives power loss);
//! (p), (p') the same chain recorded in PostgreSQL, `synchronous_commit=off` and `on` (the
//!     same two promises), when `WEFT_TEST_POSTGRES` names a server (a database of its own
//!     is created there and dropped);
//! (e) a fan-out of 1,000 no-op steps (a `matrix`), with no records, SQLite and PostgreSQL
//!     records, as steps per second at the CLI's default concurrency on this machine (2).
//! The cache is off in every run: each step executes and commits.
//! Run: `cargo bench -p weft-bench --bench durable` (the guests come from `weft-test-programs`;
//! `cargo xtask services` prints a `WEFT_TEST_POSTGRES` to add Postgres).

use std::collections::BTreeMap;
use std::time::Duration;
use weft_bench::{Workload, chain_yaml, fanout_yaml, plugin, scratch_engine, summarize, us};
use weft_records::testing::ScratchDatabase;
use weft_records::{Durability, Location, Records};

const CHAIN: usize = 40;
const FAN: usize = 1000;
const ROUNDS: usize = 30;
const FAN_ROUNDS: usize = 5;
const WARMUP_ROUNDS: usize = 3;

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sandbox, store) = scratch_engine(dir.path());
    let noop = sandbox.load_file(&plugin("test-noop")).await.expect("load");
    let open = |location: Location, durability| async move {
        Records::open(location, "default", durability).await.expect("records")
    };
    let sqlite = |name: &str| Location::Sqlite(dir.path().join(name));
    // Postgres when a server is named; the database is dropped when `_scratch` goes.
    let scratch = match weft_test_programs::services::postgres_if_set() {
        Some(admin) => Some(ScratchDatabase::create(&admin).await.expect("a bench database")),
        None => {
            println!("PostgreSQL left out: set WEFT_TEST_POSTGRES (cargo xtask services)");
            None
        }
    };
    let mut configs: Vec<(&str, Option<Records>)> = vec![
        ("(b) 40-step no-op chain, no records, per step", None),
        (
            "(d) 40-step no-op chain, SQLite WAL synchronous=NORMAL, per step",
            Some(open(sqlite("normal.db"), Durability::Process).await),
        ),
        (
            "(d') 40-step no-op chain, SQLite WAL synchronous=FULL, per step",
            Some(open(sqlite("full.db"), Durability::Power).await),
        ),
    ];
    if let Some(db) = &scratch {
        configs.push((
            "(p) 40-step no-op chain, PostgreSQL synchronous_commit=off, per step",
            Some(open(db.location(), Durability::Process).await),
        ));
        configs.push((
            "(p') 40-step no-op chain, PostgreSQL synchronous_commit=on, per step",
            Some(open(db.location(), Durability::Power).await),
        ));
    }
    let chain = chain_yaml("test-noop", CHAIN, false);
    let workload = |yaml: &str, records: Option<Records>| {
        Workload::new(
            yaml,
            &sandbox,
            &store,
            std::slice::from_ref(&noop),
            BTreeMap::new(),
            records,
        )
    };
    let chains: Vec<(&str, Workload)> = configs
        .iter()
        .map(|(name, records)| (*name, workload(&chain, records.clone())))
        .collect();
    let fan = fanout_yaml(FAN);
    // The fan-out: no records, and the `Process` records of each backend.
    let fans: Vec<(&str, Workload)> = [
        ("(e) no records", 0),
        ("(e) SQLite WAL synchronous=NORMAL", 1),
        ("(e) PostgreSQL synchronous_commit=off", 3),
    ]
    .into_iter()
    .filter_map(|(name, i)| configs.get(i).map(|(_, r)| (name, workload(&fan, r.clone()))))
    .collect();
    assert_eq!(fans[0].1.steps(), FAN);

    let mut chain_times: Vec<Vec<Duration>> = vec![Vec::new(); chains.len()];
    let mut fan_times: Vec<Vec<Duration>> = vec![Vec::new(); fans.len()];
    for round in 0..WARMUP_ROUNDS + ROUNDS {
        for (k, (_, w)) in chains.iter().enumerate() {
            let t = w.run(&format!("chain-{k}-{round}"), 2).await / CHAIN as u32;
            if round >= WARMUP_ROUNDS {
                chain_times[k].push(t);
            }
        }
        if round < FAN_ROUNDS + 1 {
            for (k, (_, w)) in fans.iter().enumerate() {
                let t = w.run(&format!("fan-{k}-{round}"), 2).await;
                if round > 0 {
                    fan_times[k].push(t);
                }
            }
        }
    }
    println!("| measurement | samples | p50 | p90 | p99 | durable cost per step (p50 − (b) p50) |");
    println!("|---|---|---|---|---|---|");
    let summaries: Vec<_> = chain_times.iter_mut().map(|t| summarize(t)).collect();
    let bare = summaries[0].p50;
    for ((name, _), s) in chains.iter().zip(&summaries) {
        let cost = if s.p50 == bare {
            "—".to_string()
        } else {
            us(s.p50.saturating_sub(bare))
        };
        println!(
            "| {name} | {} | {} | {} | {} | {cost} |",
            s.n,
            us(s.p50),
            us(s.p90),
            us(s.p99)
        );
    }
    println!();
    println!("| fan-out of {FAN} no-op steps, concurrency 2 | runs | steps/s (median run) |");
    println!("|---|---|---|");
    for ((name, _), times) in fans.iter().zip(&mut fan_times) {
        let s = summarize(times);
        println!("| {name} | {} | {:.0} |", times.len(), FAN as f64 / s.p50.as_secs_f64());
    }
    for (_, records) in configs.iter().filter_map(|(n, r)| r.as_ref().map(|r| (n, r))) {
        records.close().await;
    }
    drop(scratch);
}
