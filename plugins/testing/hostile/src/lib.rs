//! Test guest `hostile`: one attack on the host per run, chosen by the `attack` parameter
//! and sized by `count`; the sandbox tests check that each one fails only this step, with
//! a message that names the limit it hit.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};
use weft_step::bindings::weft::step::artifacts;
use weft_step::params::Params;
use weft_step::{Guest, Level, Param, ParamType, StepError, StepInfo, failed};

#[cfg(target_arch = "wasm32")]
mod wasi_random;

/// Memory the `stash` attack reads and then dirties: a later instance must find it zeroed.
static STASH: std::sync::Mutex<[u8; 4096]> = std::sync::Mutex::new([0; 4096]);

/// The step; its `Guest` implementation is exported with `weft_step::export!`.
pub struct G;

impl Guest for G {
    fn describe() -> StepInfo {
        StepInfo {
            name: "test-hostile".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Attacks the host in the way `attack` names, `count` times or bytes.".into(),
            inputs: vec![weft_step::port("data", "*/*", "Opened by `open-inputs`")],
            outputs: vec![weft_step::port(
                "out",
                "application/octet-stream",
                "Written by `big-write`, `chunked-write`, `peek`, `random` and `stash`",
            )],
            params: vec![
                weft_step::param(
                    "attack",
                    ParamType::Str,
                    None,
                    "sleep, sleep-forever, empty-logs, empty-stdout, big-log, long-failure, metrics, \
                     long-metric-name, nan-metric, open-inputs, peek, peek-hold, big-write, chunked-write, \
                     big-random, exit, random or stash",
                ),
                weft_step::param("count", ParamType::Int, None, "How many times, or how many bytes"),
            ],
        }
    }

    fn run(params: Vec<Param>) -> Result<(), StepError> {
        let params = Params(params);
        let attack = params.str("attack")?;
        let count = usize::try_from(params.int("count")?).map_err(|_| failed("`count` is negative"))?;
        // Most attacks leave the declared output empty, so a step that survives its attack
        // succeeds.
        let out = artifacts::create("out").map_err(failed)?;
        match attack.as_str() {
            // A blocking host call: with real time this would hold the step for `count` hours.
            "sleep" => {
                let started = Instant::now();
                for _ in 0..count {
                    std::thread::sleep(Duration::from_secs(3600));
                }
                weft_step::metric("slept_seconds", started.elapsed().as_secs_f64());
            }
            "sleep-forever" => loop {
                std::thread::sleep(Duration::from_secs(3600));
            },
            "empty-logs" => (0..count).for_each(|_| weft_step::log(Level::Info, "")),
            "empty-stdout" => (0..count).for_each(|_| println!()),
            "big-log" => weft_step::log(Level::Info, &"x".repeat(count)),
            "long-failure" => return Err(failed("x".repeat(count))),
            "metrics" => (0..count).for_each(|i| weft_step::metric(&format!("m{i}"), 1.0)),
            "long-metric-name" => weft_step::metric(&"m".repeat(count), 1.0),
            "nan-metric" => weft_step::metric("loss", f64::NAN),
            "open-inputs" => {
                // Kept open on purpose: the host must bound how many a step can hold.
                let mut held = Vec::with_capacity(count);
                for _ in 0..count {
                    held.push(artifacts::open("data").map_err(failed)?);
                }
                weft_step::metric("opened", held.len() as f64);
            }
            // Read the first `count` bytes of the input, then drop the reader (`peek`) or
            // leave it open when returning (`peek-hold`): the host must check the rest.
            "peek" | "peek-hold" => {
                let reader = artifacts::open("data").map_err(failed)?;
                let head = reader.read(u32::try_from(count).unwrap_or(u32::MAX)).map_err(failed)?;
                out.write(&head).map_err(failed)?;
                if attack == "peek-hold" {
                    std::mem::forget(reader);
                }
            }
            "big-write" => out.write(&vec![7u8; count]).map_err(failed)?,
            // As much as `big-write` could, in the largest chunks the host takes.
            "chunked-write" => {
                let chunk = vec![7u8; 1 << 20];
                for _ in 0..count {
                    out.write(&chunk).map_err(failed)?;
                }
            }
            #[cfg(target_arch = "wasm32")]
            "big-random" => {
                let bytes = wasi_random::random_bytes(count as u64);
                weft_step::metric("random_bytes", bytes.len() as f64);
            }
            "exit" => std::process::exit(i32::try_from(count).unwrap_or(i32::MAX)),
            "random" => {
                // The standard library seeds hash maps from WASI randomness: this shows which
                // bytes the host gave this execution.
                let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                h.write_u64(0);
                let line = format!("random {:016x}", h.finish());
                weft_step::log(Level::Info, &line);
                out.write(line.as_bytes()).map_err(failed)?;
            }
            // What an earlier step left in this memory: writes the stash as found (all zeros
            // in a fresh instance), then fills it for whoever comes next.
            "stash" => {
                let mut stash = STASH.lock().map_err(|_| failed("stash poisoned"))?;
                out.write(&stash[..]).map_err(failed)?;
                stash.fill(0x5a);
            }
            other => return Err(weft_step::bad_input(format!("unknown attack `{other}`"))),
        }
        Ok(())
    }
}

weft_step::export!(G);
