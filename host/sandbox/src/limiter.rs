//! Per-store resource limiter: one memory budget for the whole step — the sum of every
//! linear memory and table it creates or grows, not each one alone (a component can hold
//! many core instances, each with its own memory) — and caps on how many instances,
//! memories and tables it may create, far below what the shared pooling allocator holds,
//! so one step cannot exhaust slots its neighbours need. It remembers which limit was hit,
//! so the failure names it rather than being a bare trap.

use wasmtime::ResourceLimiter;

/// Bytes a table element is counted as (a function reference is a pointer).
const TABLE_ELEMENT_BYTES: u64 = 8;

/// Limits one step's memories, tables and instances.
pub struct StepLimiter {
    /// Largest total of all linear memories and tables together, in bytes.
    pub memory_limit: u64,
    /// Largest table, in elements.
    pub table_elements: usize,
    /// Core instances one step may create.
    pub max_instances: usize,
    /// Linear memories one step may create.
    pub max_memories: usize,
    /// Tables one step may create.
    pub max_tables: usize,
    /// Bytes of memory and tables in use now.
    pub used: u64,
    /// Set once a growth past the limit was refused.
    pub memory_exceeded: bool,
}

impl StepLimiter {
    /// A limiter with a memory budget and caps on counts.
    pub fn new(memory_limit: u64, counts: &crate::sandbox::StepCounts) -> Self {
        Self {
            memory_limit,
            table_elements: 1 << 20,
            max_instances: counts.instances,
            max_memories: counts.memories,
            max_tables: counts.tables,
            used: 0,
            memory_exceeded: false,
        }
    }

    /// Accounts for a growth of `more` bytes, or says why it is refused.
    fn grow(&mut self, more: u64, what: &str) -> wasmtime::Result<bool> {
        let total = self.used.saturating_add(more);
        if total > self.memory_limit {
            self.memory_exceeded = true;
            // An error (not `Ok(false)`) traps at once: guests that would abort on a failed
            // allocation otherwise print confusing messages or spin.
            return Err(wasmtime::format_err!(
                "memory limit exceeded: growing a {what} would bring the step's memories and tables to {total} bytes, the limit is {}",
                self.memory_limit
            ));
        }
        self.used = total;
        Ok(true)
    }
}

impl ResourceLimiter for StepLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.grow((desired as u64).saturating_sub(current as u64), "memory")
    }

    fn table_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            return Ok(false);
        }
        let more = (desired as u64).saturating_sub(current as u64);
        self.grow(more.saturating_mul(TABLE_ELEMENT_BYTES), "table")
    }

    fn instances(&self) -> usize {
        self.max_instances
    }

    fn tables(&self) -> usize {
        self.max_tables
    }

    fn memories(&self) -> usize {
        self.max_memories
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::StepCounts;

    #[test]
    fn memories_and_tables_share_one_budget() {
        let mut l = StepLimiter::new(64 << 20, &StepCounts::default());
        // Sixteen memories of 3 MiB fit, and each alone is far under the limit...
        for _ in 0..16 {
            assert!(l.memory_growing(0, 3 << 20, None).expect("fits"));
        }
        // ...but their sum is counted: the next 17 MiB does not fit, wherever it goes.
        let err = l.memory_growing(0, 17 << 20, None).expect_err("over the total");
        assert!(err.to_string().contains("the limit is 67108864"), "{err}");
        assert!(l.memory_exceeded);
        let mut t = StepLimiter::new(1 << 20, &StepCounts::default());
        assert!(t.memory_growing(0, 1 << 19, None).expect("fits"));
        assert!(
            t.table_growing(0, (1 << 16) + 1, None).is_err(),
            "over 512 KiB of table on top"
        );
    }

    #[test]
    fn growth_counts_only_the_difference() {
        let mut l = StepLimiter::new(10 << 20, &StepCounts::default());
        assert!(l.memory_growing(0, 4 << 20, None).expect("fits"));
        assert!(l.memory_growing(4 << 20, 8 << 20, None).expect("fits"));
        assert_eq!(l.used, 8 << 20);
        assert!(l.memory_growing(8 << 20, 12 << 20, None).is_err());
    }
}
