//! Bounded validation: each class of hostile workflow, generated at the largest size the
//! loader accepts (1 MiB), must parse and validate within 256 MiB of heap and a bounded
//! time, with bounded output.
//!
//! Memory is measured exactly by a counting global allocator (peak live bytes while one
//! case runs), so the memory assertion is deterministic. Time is printed, and asserted
//! only with a wide margin (a quadratic case took minutes; these take milliseconds).
//! Figures for BENCHMARKS.md:
//! `cargo test --release -p weft-model --test bounds -- --nocapture --test-threads 1`.

use common::param;
use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use weft_model::yaml::MAX_YAML_BYTES;
use weft_model::{Catalog, ParamType, ParamValue, Port, StepInfo};

mod common;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

#[allow(unsafe_code)]
// SAFETY: every call is forwarded to the system allocator unchanged; only counters change.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size - layout.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The memory bound of the issue, for any workflow the loader accepts.
const MAX_PEAK: usize = 256 << 20;
/// A wide bound on time, far above the milliseconds measured, far below the minutes a
/// quadratic case took: catches a regression without being a flaky timer.
const MAX_TIME: Duration = Duration::from_secs(30);
/// Longest rendered report: 100 problems and a closing line, each clipped.
const MAX_RENDERED: usize = 101 * 1400;

/// One case at a time: the allocator's counters are global.
static SERIAL: Mutex<()> = Mutex::new(());

fn port(name: &str, media_type: &str, many: bool) -> Port {
    Port {
        many,
        ..common::port(name, media_type)
    }
}

/// A small fixed catalog, plus a component that declares `wide_ports` input ports.
fn catalog(wide_ports: usize) -> Catalog {
    let step = |name: &str, inputs, outputs, params| {
        Ok(StepInfo {
            name: name.into(),
            version: "0.1.0".into(),
            description: String::new(),
            inputs,
            outputs,
            params,
        })
    };
    let mut c = Catalog::new();
    c.insert(
        "t".into(),
        step(
            "t",
            vec![port("i", "text/plain", false)],
            vec![port("o", "text/plain", false)],
            vec![
                param("s", ParamType::Str, Some(ParamValue::Str(String::new()))),
                param("n", ParamType::Int, Some(ParamValue::Int(0))),
            ],
        ),
    );
    c.insert(
        "src".into(),
        step("src", vec![], vec![port("o", "text/plain", false)], vec![]),
    );
    // A long self-description, shared (not copied) by every instance of a sweep.
    let mut documented = c.get("t").cloned().expect("t").expect("ok");
    documented.name = "documented".into();
    documented.description = "d".repeat(100_000);
    c.insert("documented".into(), Ok(documented));
    c.insert(
        "pass".into(),
        step(
            "pass",
            vec![port("i", "*/*", false)],
            vec![port("o", "*/*", false)],
            vec![],
        ),
    );
    c.insert(
        "fanin".into(),
        step(
            "fanin",
            vec![port("i", "text/plain", false), port("all", "text/plain", true)],
            vec![port("o", "text/plain", false)],
            vec![],
        ),
    );
    c.insert(
        "wide".into(),
        step(
            "wide",
            (0..wide_ports)
                .map(|k| port(&format!("p{k}"), "text/plain", false))
                .collect(),
            (0..wide_ports)
                .map(|k| port(&format!("q{k}"), "text/plain", false))
                .collect(),
            (0..wide_ports)
                .map(|k| param(&format!("x{k}"), ParamType::Int, Some(ParamValue::Int(0))))
                .collect(),
        ),
    );
    c
}

/// Appends `item(k)` for k = 0, 1, ... while the text stays within the loader's cap.
fn fill(text: &mut String, reserve: usize, item: impl Fn(usize) -> String) -> usize {
    let mut k = 0;
    loop {
        let next = item(k);
        if text.len() + next.len() + reserve > MAX_YAML_BYTES {
            return k;
        }
        text.push_str(&next);
        k += 1;
    }
}

struct Figures {
    time: Duration,
    peak: usize,
    problems: usize,
    rendered: usize,
}

/// Parses and validates `text`, measuring time, peak heap and the rendered report.
fn measure(name: &str, text: &str, catalog: &Catalog) -> Figures {
    assert!(text.len() <= MAX_YAML_BYTES, "{name}: generated {} bytes", text.len());
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let start = Instant::now();
    let result = weft_model::parse_and_validate(text, catalog, &[]);
    let (problems, rendered, first) = match &result {
        Ok(plan) => (0, plan.steps.len(), String::new()),
        Err(d) => {
            let text = d.render("w.yaml");
            let first: String = text.lines().next().unwrap_or("").chars().take(110).collect();
            (d.0.len(), text.len(), first)
        }
    };
    drop(result);
    let time = start.elapsed();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    println!(
        "{name:<28} {:>8} bytes  {:>9.1} ms  peak {:>7.1} MiB  {problems:>6} problems  {rendered:>7} {}",
        text.len(),
        time.as_secs_f64() * 1000.0,
        peak as f64 / f64::from(1 << 20),
        if problems == 0 { "planned steps" } else { "bytes shown" },
    );
    if !first.is_empty() {
        println!("    {first}");
    }
    assert!(peak <= MAX_PEAK, "{name}: peak heap {peak} bytes");
    assert!(time <= MAX_TIME, "{name}: took {time:?}");
    assert!(rendered <= MAX_RENDERED, "{name}: rendered {rendered} bytes");
    Figures {
        time,
        peak,
        problems,
        rendered,
    }
}

const HEAD: &str = "name: w\nsteps:\n";

#[test]
fn when_chains() {
    // As many steps as fit, each with the longest condition allowed, and one far longer.
    let chain = vec!["steps.s0.metrics.m > 1"; 60].join(" && ");
    let mut text = HEAD.to_string();
    text.push_str("  s0: {uses: src}\n");
    fill(&mut text, 0, |k| {
        format!("  w{k}: {{uses: src, after: [s0], when: \"{chain}\"}}\n")
    });
    let f = measure("when: longest allowed", &text, &catalog(0));
    assert_eq!(f.problems, 0, "a condition of 240 tokens is allowed");

    let mut text = HEAD.to_string();
    text.push_str("  s0: {uses: src}\n  w: {uses: src, when: \"");
    fill(&mut text, 4, |_| "true && ".into());
    text.push_str("1\"}\n");
    let f = measure("when: 1 MiB chain", &text, &catalog(0));
    assert_eq!(f.problems, 1);

    let mut text = HEAD.to_string();
    text.push_str("  s0: {uses: src}\n  w: {uses: src, when: \"");
    let depth = (MAX_YAML_BYTES - 100) / 4;
    text.push_str(&"!(".repeat(depth / 2));
    text.push_str("\"}\n");
    measure("when: deep nesting", &text, &catalog(0));
}

#[test]
fn many_keys_in_one_mapping() {
    let mut text = HEAD.to_string();
    text.push_str("  s: {uses: src}\nparams:\n");
    let n = fill(&mut text, 0, |k| format!("  p{k}: {{type: int, default: 1}}\n"));
    let f = measure("params: distinct keys", &text, &catalog(0));
    assert_eq!(f.problems, 0, "{n} params are fine");

    let mut text = HEAD.to_string();
    text.push_str("  s: {uses: src}\nextra:\n");
    fill(&mut text, 0, |k| format!("  k{k}: 1\n"));
    measure("one mapping: distinct keys", &text, &catalog(0));

    let mut text = HEAD.to_string();
    text.push_str("  s: {uses: src}\nx:\n");
    fill(&mut text, 0, |_| "  a: 1\n".into());
    let f = measure("one mapping: duplicate keys", &text, &catalog(0));
    assert!(f.problems > 100_000);

    let mut text = HEAD.to_string();
    text.push_str("  s:\n    uses: t\n    inputs: {i: inputs.a}\n    with:\n");
    fill(&mut text, 30, |k| format!("      w{k}: 1\n"));
    text.push_str("inputs: {a: {path: a.txt}}\n");
    let f = measure("with: unknown params", &text, &catalog(0));
    assert!(f.problems > 60_000);
}

#[test]
fn long_chains_and_cycles() {
    // A chain of steps, each after the next, leading into a two-step cycle.
    let mut text = HEAD.to_string();
    let n = fill(&mut text, 80, |k| {
        format!("  s{k}: {{uses: src, after: [s{}]}}\n", k + 1)
    });
    let _ = write!(
        text,
        "  s{n}: {{uses: src, after: [s{}]}}\n  s{}: {{uses: src, after: [s{n}]}}\n",
        n + 1,
        n + 1
    );
    let f = measure("chain into a cycle", &text, &catalog(0));
    assert_eq!(f.problems, 1);

    // One cycle through every step.
    let mut text = HEAD.to_string();
    let n = fill(&mut text, 40, |k| {
        format!("  s{k}: {{uses: src, after: [s{}]}}\n", k + 1)
    });
    let _ = writeln!(text, "  s{n}: {{uses: src, after: [s0]}}");
    let f = measure("one cycle of every step", &text, &catalog(0));
    assert_eq!(f.problems, 1);

    // A valid chain of pass-through steps, consumer first (the deepest resolution).
    let mut text = HEAD.to_string();
    let n = fill(&mut text, 40, |k| {
        format!("  s{k}: {{uses: pass, inputs: {{i: s{}.o}}}}\n", k + 1)
    });
    let _ = writeln!(text, "  s{n}: {{uses: src}}");
    let f = measure("pass-through chain", &text, &catalog(0));
    assert_eq!(f.problems, 0);

    // As many steps as fit, each as short as a step can be.
    let mut text = HEAD.to_string();
    fill(&mut text, 0, |k| format!("  s{k}: {{uses: src}}\n"));
    let f = measure("minimal steps", &text, &catalog(0));
    assert_eq!(f.problems, 0);

    // The longest valid chain of ordinary steps.
    let mut text = HEAD.to_string();
    text.push_str("  s0: {uses: src}\n");
    fill(&mut text, 0, |k| {
        format!("  s{}: {{uses: t, inputs: {{i: s{k}.o}}}}\n", k + 1)
    });
    let f = measure("valid chain", &text, &catalog(0));
    assert_eq!(f.problems, 0);
}

#[test]
fn dangling_references() {
    let mut text = HEAD.to_string();
    fill(&mut text, 0, |k| {
        format!("  s{k}: {{uses: t, inputs: {{i: x{k}.o}}}}\n")
    });
    let f = measure("one dangling ref per step", &text, &catalog(0));
    assert!(f.problems > 10_000);

    let mut text = HEAD.to_string();
    fill(&mut text, 0, |k| format!("  s{k}: {{uses: nope{k}}}\n"));
    measure("unresolved components", &text, &catalog(0));
}

#[test]
fn matrix_expansion() {
    // The largest sweep allowed, a follower, and fan-ins reading every instance.
    let values: Vec<String> = (0..10_000).map(|k| k.to_string()).collect();
    let text = format!(
        "{HEAD}  a: {{uses: src}}\n  m: {{uses: t, inputs: {{i: a.o}}, matrix: {{n: [{}]}}}}\n  f: {{uses: t, inputs: {{i: m.o}}}}\n  g: {{uses: fanin, inputs: {{i: a.o, all: f.o}}}}\n",
        values.join(", ")
    );
    let f = measure("matrix: 10,000 instances", &text, &catalog(0));
    assert_eq!(f.problems, 0);

    // A component with a 100 KB description swept 10,000 times: the plan shares it.
    let text = format!(
        "{HEAD}  a: {{uses: src}}\n  m: {{uses: documented, inputs: {{i: a.o}}, matrix: {{n: [{}]}}}}\n",
        values.join(", ")
    );
    let f = measure("matrix: documented component", &text, &catalog(0));
    assert_eq!(f.problems, 0);
    assert!(f.peak < 64 << 20, "the description is not copied per instance");

    // Two sweeps: a follower of one fans in every instance of the other (10^4 x 10^4).
    let half: Vec<String> = (0..10_000).map(|k| k.to_string()).collect();
    let text = format!(
        "{HEAD}  a: {{uses: src}}\n  m: {{uses: t, inputs: {{i: a.o}}, matrix: {{n: [{v}]}}}}\n  k: {{uses: t, inputs: {{i: a.o}}, matrix: {{n: [{v}]}}}}\n  g: {{uses: fanin, inputs: {{i: m.o, all: k.o}}}}\n",
        v = half.join(", ")
    );
    let f = measure("matrix: multiplied fan-in", &text, &catalog(0));
    assert_eq!(f.problems, 1);

    // Many sweeps, each under the per-step cap, together far over the plan's.
    let mut text = HEAD.to_string();
    text.push_str("  a: {uses: src}\n");
    let sweep: Vec<String> = (0..5_000).map(|k| k.to_string()).collect();
    let sweep = sweep.join(",");
    fill(&mut text, 0, |k| {
        format!("  m{k}: {{uses: t, inputs: {{i: a.o}}, matrix: {{n: [{sweep}]}}}}\n")
    });
    let f = measure("matrix: many sweeps", &text, &catalog(0));
    assert!(f.problems >= 1);

    // A long parameter copied into every instance.
    let text = format!(
        "{HEAD}  a: {{uses: src}}\n  m: {{uses: t, inputs: {{i: a.o}}, with: {{s: '{}'}}, matrix: {{n: [{}]}}}}\n",
        "x".repeat(900_000),
        values[..5_000].join(",")
    );
    let f = measure("matrix: long parameter", &text, &catalog(0));
    assert_eq!(f.problems, 1);
}

#[test]
fn repeated_substitutions() {
    let big = "y".repeat(60_000);
    let mut text = format!("name: w\nparams:\n  big: {{type: string, default: '{big}'}}\nsteps:\n  a: {{uses: src}}\n");
    let template = "${{ params.big }}".repeat(500);
    fill(&mut text, 0, |k| {
        format!("  s{k}: {{uses: t, inputs: {{i: a.o}}, with: {{s: \"{template}\"}}}}\n")
    });
    let f = measure("substitutions", &text, &catalog(0));
    assert!(f.problems >= 1);

    let mut text = format!("name: w\nparams:\n  big: {{type: string, default: '{big}'}}\nsteps:\n  a: {{uses: src}}\n");
    fill(&mut text, 0, |k| {
        format!("  s{k}: {{uses: t, inputs: {{i: a.o}}, with: {{s: \"${{{{ params.big }}}}\"}}}}\n")
    });
    let f = measure("substitutions: many steps", &text, &catalog(0));
    assert_eq!(f.problems, 1, "the plan's bytes are bounded too");
}

#[test]
fn wide_components() {
    // A component with 80,000 ports and parameters, bound port by port.
    let ports = 80_000;
    let cat = catalog(ports);
    let mut text = HEAD.to_string();
    text.push_str("  a: {uses: src}\n  w:\n    uses: wide\n    inputs:\n");
    fill(&mut text, 0, |k| format!("      p{k}: a.o\n"));
    let f = measure("80k ports: bound", &text, &cat);
    assert!(f.problems >= 1, "not every port is bound");

    let mut text = HEAD.to_string();
    fill(&mut text, 0, |k| {
        format!("  w{k}: {{uses: wide, inputs: {{p0: w{k}.q{k}}}}}\n")
    });
    measure("80k ports: many steps", &text, &cat);
}

#[test]
fn long_text_everywhere() {
    let long = "z".repeat(MAX_YAML_BYTES - 200);
    let cases = [
        ("long uses", format!("{HEAD}  s: {{uses: '{long}'}}\n")),
        (
            "long reference",
            format!("{HEAD}  s: {{uses: t, inputs: {{i: '{long}.o'}}}}\n"),
        ),
        ("long when", format!("{HEAD}  s: {{uses: src, when: '{long}'}}\n")),
        (
            "long timeout",
            format!("{HEAD}  s: {{uses: src, limits: {{timeout: '{long}'}}}}\n"),
        ),
        ("long key", format!("{HEAD}  s: {{uses: src}}\n{long}: 1\n")),
        ("deep yaml", format!("a: {}\n", "[".repeat(MAX_YAML_BYTES - 10))),
        (
            "tiny nodes",
            format!(
                "{HEAD}  s: {{uses: src}}\nx: [{}]\n",
                "{},".repeat((MAX_YAML_BYTES - 60) / 3)
            ),
        ),
        (
            "tiny scalars",
            format!(
                "{HEAD}  s: {{uses: src}}\nx: [{}]\n",
                "1,".repeat((MAX_YAML_BYTES - 60) / 2)
            ),
        ),
    ];
    for (name, text) in cases {
        let f = measure(name, &text, &catalog(0));
        assert!(
            f.problems >= 1 && f.rendered < 4000,
            "{name}: {} bytes shown",
            f.rendered
        );
    }
}

#[test]
fn out_of_range_numbers_are_errors() {
    let text = "name: w\nparams:\n  p: {type: float, default: 1e400}\n  q: {type: float, default: .nan}\nsteps:\n  a: {uses: src}\n  s: {uses: t, inputs: {i: a.o}, with: {n: -1e999}, matrix: {s: [1e400, x]}}\n  c: {uses: src, after: [a], when: 'steps.a.metrics.m > 1e400'}\n";
    let err = weft_model::parse_and_validate(text, &catalog(0), &[]).expect_err("invalid");
    let shown = err.to_string();
    for expected in [
        "3:29: params.p.default: `1e400` is out of range for a 64-bit float",
        "4:29: params.q.default: `.nan` is not a finite number",
        "7:44: steps.s.with.n: `-1e999` is out of range",
        "7:66: steps.s.matrix.s: `1e400` is out of range",
        "8:36: steps.c.when: invalid condition: `1e400` is out of range",
    ] {
        assert!(shown.contains(expected), "missing {expected:?} in\n{shown}");
    }
    let err = weft_model::parse_and_validate(
        "name: w\nparams:\n  p: {type: float, default: 1}\nsteps:\n  a: {uses: src}\n",
        &catalog(0),
        &[("p".into(), "inf".into())],
    )
    .expect_err("invalid");
    assert!(err.to_string().contains("`inf` is not a finite number"), "{err}");
}

#[test]
fn huge_durations_and_counts_are_errors() {
    let text = "name: w\ntimeout: 9999999999h\nsteps:\n  a:\n    uses: src\n    limits: {timeout: 18446744073709551615s, memory: 99999999999999999999Gi, fuel: 1e400}\n    retry: {max: 1000, backoff: 200h, max_backoff: 99999999999ms}\n    concurrency: 9223372036854775807\n";
    let err = weft_model::parse_and_validate(text, &catalog(0), &[]).expect_err("invalid");
    let shown = err.to_string();
    for expected in [
        "2:10: timeout: `9999999999h` is longer than the 168h maximum (7 days)",
        "6:23: steps.a.limits.timeout: `18446744073709551615s` is longer than the 168h maximum",
        "6:54: steps.a.limits.memory: at most 4Gi",
        "6:84: steps.a.limits.fuel: `1e400` is out of range",
        "7:18: steps.a.retry.max: expected a number of retries from 0 to 100, found 1000",
        "7:33: steps.a.retry.backoff: `200h` is longer than the 168h maximum",
        "7:52: steps.a.retry.max_backoff: `99999999999ms` is longer than the 168h maximum",
        "8:18: steps.a.concurrency: at most 10000, found 9223372036854775807",
    ] {
        assert!(shown.contains(expected), "missing {expected:?} in\n{shown}");
    }
}

#[test]
fn a_worker_label_is_short_and_plain() {
    let long = "x".repeat(64);
    let text = format!(
        "name: w\nsteps:\n  a: {{uses: src, runs-on: gpu}}\n  b: {{uses: src, runs-on: 'gpu,cpu'}}\n  c: {{uses: src, runs-on: {long}}}\n  d: {{uses: src, runs-on: ''}}\n"
    );
    let err = weft_model::parse_and_validate(&text, &catalog(0), &[]).expect_err("invalid");
    let shown = err.to_string();
    for expected in [
        "4:27: steps.b.runs-on: a worker label is 1 to 63 letters, digits and `-`, found `gpu,cpu`",
        "5:27: steps.c.runs-on: a worker label is 1 to 63 letters, digits and `-`, found `xxxx",
        "6:27: steps.d.runs-on: a worker label is 1 to 63",
    ] {
        assert!(shown.contains(expected), "missing {expected:?} in\n{shown}");
    }
    assert!(!shown.contains("steps.a."), "{shown}");
    let plan = weft_model::parse_and_validate("name: w\nsteps:\n  a: {uses: src, runs-on: gpu-2}\n", &catalog(0), &[])
        .expect("valid");
    assert_eq!(plan.steps[0].runs_on.as_deref(), Some("gpu-2"));
}

#[test]
fn figures_stay_small() {
    // Keeps the helper's fields used when a case asserts only on some of them.
    let f = measure("minimal", "name: w\nsteps:\n  a: {uses: src}\n", &catalog(0));
    assert!(f.time < MAX_TIME && f.peak < MAX_PEAK && f.problems == 0 && f.rendered == 1);
}
