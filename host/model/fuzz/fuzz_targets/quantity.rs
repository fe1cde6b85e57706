//! Fuzzes the parsers of durations and sizes (workflow `limits:`, `timeout:`, `retry:`, and
//! the CLI's `--timeout` and `--memory`): any text gives a value within bounds or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};
use weft_model::quantity::{
    MAX_DURATION, MAX_MEMORY, MIN_MEMORY, parse_bytes, parse_duration, parse_memory_limit, parse_timeout,
};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let message_ok = |e: &String| e.len() < 300;
    match parse_duration(&text) {
        Ok(d) => {
            assert!(d <= MAX_DURATION);
            // What the engine does with a limit: this must never overflow.
            let _ = Instant::now() + d;
        }
        Err(e) => assert!(message_ok(&e), "{e}"),
    }
    match parse_timeout(&text) {
        Ok(d) => assert!(d > Duration::ZERO && d <= MAX_DURATION),
        Err(e) => assert!(message_ok(&e), "{e}"),
    }
    if let Err(e) = parse_bytes(&text) {
        assert!(message_ok(&e), "{e}");
    }
    match parse_memory_limit(&text) {
        Ok(m) => assert!((MIN_MEMORY..=MAX_MEMORY).contains(&m)),
        Err(e) => assert!(message_ok(&e), "{e}"),
    }
});
