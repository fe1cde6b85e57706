//! Run ids: sortable by start time, unique enough for one store.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::SystemTime;

/// A new run id like `20261129T181530Z-3f9a1c`: UTC start time, then 24 bits that differ
/// between processes and calls started in the same second.
pub fn new_run_id() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let now = SystemTime::now();
    let stamp = humantime::format_rfc3339_seconds(now).to_string();
    let compact: String = stamp.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let nanos = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mix =
        nanos ^ std::process::id().rotate_left(12) ^ COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9E37_79B9);
    format!("{compact}-{:06x}", mix & 0xFF_FFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_and_uniqueness() {
        let a = new_run_id();
        let b = new_run_id();
        assert_eq!(a.len(), "20261129T181530Z-3f9a1c".len(), "{a}");
        assert!(a.contains('T') && a.contains("Z-"));
        assert_ne!(a, b);
    }
}
