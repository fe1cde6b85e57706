//! Per-store resource limiter: caps linear memory and table growth, and remembers that the
//! cap was hit so the failure can be reported as "out of memory" rather than a bare trap.

use wasmtime::ResourceLimiter;

/// Limits one step's memories and tables.
pub struct StepLimiter {
    /// Largest total linear memory, in bytes, per memory.
    pub memory_limit: u64,
    /// Largest table, in elements.
    pub table_elements: usize,
    /// Set once a growth past the limit was refused.
    pub memory_exceeded: bool,
}

impl ResourceLimiter for StepLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired as u64 > self.memory_limit {
            self.memory_exceeded = true;
            // An error (not `Ok(false)`) traps at once: guests that would abort on a failed
            // allocation otherwise print confusing messages or spin.
            return Err(wasmtime::format_err!(
                "memory limit exceeded: the step tried to grow a memory to {desired} bytes, the limit is {}",
                self.memory_limit
            ));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= self.table_elements)
    }

    fn instances(&self) -> usize {
        1000
    }

    fn tables(&self) -> usize {
        1000
    }

    fn memories(&self) -> usize {
        1000
    }
}
