//! Run ids: sortable by start time (to the millisecond), unique enough for one store.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::SystemTime;

/// A new run id like `20261129-181530.123-3f9a1c`: UTC start date and time with
/// milliseconds, so ids sort in start order, then 24 bits that differ between processes
/// and calls started in the same millisecond.
pub fn new_run_id() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let now = SystemTime::now();
    // `2026-11-29T18:15:30.123Z`
    let stamp = humantime::format_rfc3339_millis(now).to_string();
    let digits: String = stamp.chars().filter(char::is_ascii_digit).collect();
    let (date, rest) = digits.split_at(8.min(digits.len()));
    let (time, millis) = rest.split_at(6.min(rest.len()));
    let nanos = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mix =
        nanos ^ std::process::id().rotate_left(12) ^ COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9E37_79B9);
    format!("{date}-{time}.{millis}-{:06x}", mix & 0xFF_FFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_order_and_uniqueness() {
        let a = new_run_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_run_id();
        assert_eq!(a.len(), "20261129-181530.123-3f9a1c".len(), "{a}");
        assert_eq!(&a[8..9], "-");
        assert_eq!(&a[15..16], ".");
        assert!(a < b, "{a} sorts before {b}");
    }
}
