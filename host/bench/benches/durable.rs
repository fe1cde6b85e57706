//! The cost of durable run records, measured side by side in interleaved rounds:
//!
//! (b) a 40-step chain of no-op steps through the engine with no journal (as in `overhead`);
//! (d) the same chain recorded in SQLite — run row, step rows, and every finished step
//!     committed in its own transaction before its dependent starts — WAL with
//!     `synchronous=NORMAL` (survives the process being killed, not a power loss);
//! (d') the same with `synchronous=FULL` (every commit syncs the WAL: survives power loss);
//! (e) a fan-out of 1,000 no-op steps (a `matrix`), with and without SQLite records, as
//!     steps per second at the CLI's default concurrency on this machine (2).
//! The cache is off in every run: each step executes and commits.
//! Run: `cargo bench -p weft-bench --bench durable` (the guests come from `weft-test-programs`).

use std::collections::BTreeMap;
use std::time::Duration;
use weft_bench::{Workload, chain_yaml, fanout_yaml, plugin, scratch_engine, summarize, us};
use weft_records::{Durability, Records};

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
    let normal = Records::open(&dir.path().join("normal.db"), "default", Durability::Process)
        .await
        .expect("records");
    let full = Records::open(&dir.path().join("full.db"), "default", Durability::Power)
        .await
        .expect("records");
    let chain = chain_yaml("test-noop", CHAIN, false);
    let workload = |records| {
        Workload::new(
            &chain,
            &sandbox,
            &store,
            std::slice::from_ref(&noop),
            BTreeMap::new(),
            records,
        )
    };
    let (bare, durable, strict) = (workload(None), workload(Some(normal.clone())), workload(Some(full)));
    let fan = fanout_yaml(FAN);
    let fan_bare = Workload::new(
        &fan,
        &sandbox,
        &store,
        std::slice::from_ref(&noop),
        BTreeMap::new(),
        None,
    );
    let fan_durable = Workload::new(
        &fan,
        &sandbox,
        &store,
        std::slice::from_ref(&noop),
        BTreeMap::new(),
        Some(normal),
    );
    assert_eq!(fan_bare.steps(), FAN);

    let (mut b, mut d, mut d_strict) = (Vec::new(), Vec::new(), Vec::new());
    let (mut e_bare, mut e_durable) = (Vec::new(), Vec::new());
    let per_step = |t: Duration| t / CHAIN as u32;
    for round in 0..WARMUP_ROUNDS + ROUNDS {
        let keep = round >= WARMUP_ROUNDS;
        let times = (
            per_step(bare.run(&format!("bare-{round}"), 2).await),
            per_step(durable.run(&format!("normal-{round}"), 2).await),
            per_step(strict.run(&format!("full-{round}"), 2).await),
        );
        if keep {
            b.push(times.0);
            d.push(times.1);
            d_strict.push(times.2);
        }
        if round < FAN_ROUNDS + 1 {
            let t_bare = fan_bare.run(&format!("fan-bare-{round}"), 2).await;
            let t_durable = fan_durable.run(&format!("fan-normal-{round}"), 2).await;
            if round > 0 {
                e_bare.push(t_bare);
                e_durable.push(t_durable);
            }
        }
    }
    let (b, d, d_strict) = (summarize(&mut b), summarize(&mut d), summarize(&mut d_strict));
    println!("| measurement | samples | p50 | p90 | p99 |");
    println!("|---|---|---|---|---|");
    for (name, s) in [
        ("(b) 40-step no-op chain, no records, per step", b),
        ("(d) 40-step no-op chain, SQLite WAL synchronous=NORMAL, per step", d),
        (
            "(d') 40-step no-op chain, SQLite WAL synchronous=FULL, per step",
            d_strict,
        ),
    ] {
        println!("| {name} | {} | {} | {} | {} |", s.n, us(s.p50), us(s.p90), us(s.p99));
    }
    println!();
    println!(
        "durable commit cost per step at p50: NORMAL {}, FULL {}",
        us(d.p50.saturating_sub(b.p50)),
        us(d_strict.p50.saturating_sub(b.p50))
    );
    let rate = |samples: &mut Vec<Duration>| {
        let s = summarize(samples);
        FAN as f64 / s.p50.as_secs_f64()
    };
    println!();
    println!("| fan-out of {FAN} no-op steps, concurrency 2 | runs | steps/s (median run) |");
    println!("|---|---|---|");
    println!("| (e) no records | {} | {:.0} |", e_bare.len(), rate(&mut e_bare));
    println!(
        "| (e) SQLite WAL synchronous=NORMAL | {} | {:.0} |",
        e_durable.len(),
        rate(&mut e_durable)
    );
}
