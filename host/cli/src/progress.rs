//! Live progress of a run: one bar per step on a terminal, plain lines otherwise (CI logs).

use crate::text::shown;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;
use weft_engine::{Reuse, RunEvent, StepState};

/// Shows events until the channel closes.
pub async fn show(step_ids: Vec<String>, mut rx: UnboundedReceiver<RunEvent>, plain: bool) {
    if plain || !std::io::stderr().is_terminal() {
        let started = Instant::now();
        while let Some(ev) = rx.recv().await {
            if let Some(line) = plain_line(&ev) {
                eprintln!("[{:>8.1?}] {:<20} {line}", started.elapsed(), ev.step);
            }
        }
        return;
    }
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
    let width = step_ids.iter().map(String::len).max().unwrap_or(4);
    let style = |tpl: &str| ProgressStyle::with_template(tpl).unwrap_or_else(|_| ProgressStyle::default_spinner());
    let mut bars: HashMap<String, ProgressBar> = HashMap::new();
    for id in &step_ids {
        let bar = multi.add(ProgressBar::new_spinner());
        bar.set_style(style(&format!("  {{prefix:<{width}}} {{msg}}")));
        bar.set_prefix(id.clone());
        bar.set_message("waiting");
        bars.insert(id.clone(), bar);
    }
    while let Some(ev) = rx.recv().await {
        let Some(bar) = bars.get(&ev.step) else {
            continue;
        };
        match &ev.state {
            StepState::Waiting => bar.set_message("waiting"),
            StepState::Running => {
                bar.set_style(style(&format!(
                    "{{spinner:.cyan}} {{prefix:<{width}}} running {{elapsed}}"
                )));
                bar.enable_steady_tick(Duration::from_millis(100));
            }
            StepState::Succeeded(d) => {
                bar.set_style(style(&format!("\x1b[32m✓\x1b[0m {{prefix:<{width}}} {{msg}}")));
                bar.finish_with_message(format!("done in {}", fmt_duration(*d)));
            }
            StepState::Failed(m) => {
                bar.set_style(style(&format!("\x1b[31m✗\x1b[0m {{prefix:<{width}}} {{msg}}")));
                bar.finish_with_message(format!("failed: {}", shown(m)));
            }
            StepState::Blocked(m) => {
                bar.set_style(style(&format!("\x1b[33m-\x1b[0m {{prefix:<{width}}} {{msg}}")));
                bar.finish_with_message(shown(m).into_owned());
            }
            StepState::Skipped(m) => {
                bar.set_style(style(&format!("\x1b[2m-\x1b[0m {{prefix:<{width}}} {{msg}}")));
                bar.finish_with_message(shown(m).into_owned());
            }
            StepState::Retrying { .. } => {
                bar.set_style(style(&format!("\x1b[33m↻\x1b[0m {{prefix:<{width}}} {{msg}}")));
                bar.set_message(plain_line(&ev).unwrap_or_default());
            }
            StepState::Reused(_) | StepState::Cancelled => {
                let mark = if ev.state == StepState::Cancelled {
                    "\x1b[31m■\x1b[0m"
                } else {
                    "\x1b[32m✓\x1b[0m"
                };
                bar.set_style(style(&format!("{mark} {{prefix:<{width}}} {{msg}}")));
                bar.finish_with_message(plain_line(&ev).unwrap_or_default());
            }
        }
    }
    for bar in bars.values() {
        if !bar.is_finished() {
            bar.finish();
        }
    }
}

fn plain_line(ev: &RunEvent) -> Option<String> {
    Some(match &ev.state {
        StepState::Waiting => return None,
        StepState::Running => "running".to_string(),
        StepState::Succeeded(d) => format!("done in {}", fmt_duration(*d)),
        StepState::Failed(m) => format!("FAILED: {}", shown(m)),
        StepState::Blocked(m) | StepState::Skipped(m) => shown(m).into_owned(),
        StepState::Retrying { attempt, delay, error } => {
            format!(
                "retrying (attempt {attempt}) in {}: {}",
                fmt_duration(*delay),
                shown(error)
            )
        }
        StepState::Reused(Reuse::Cached(run)) => format!("cached (from run {run})"),
        StepState::Reused(Reuse::Resumed) => "done before the interruption (resumed)".to_string(),
        StepState::Cancelled => "cancelled".to_string(),
    })
}

/// A duration for humans: µs, ms or s.
pub fn fmt_duration(d: Duration) -> String {
    let us = d.as_micros();
    if us < 1_000 {
        format!("{us} µs")
    } else if us < 1_000_000 {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}
