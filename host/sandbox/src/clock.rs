//! Deterministic time for hermetic steps: outputs must depend only on inputs, component and
//! parameters, so a step sees virtual time, and waiting on it never waits.
//!
//! One counter per execution drives both clocks. It advances one tick per reading (so loops
//! that wait on time progress) and by the whole requested duration when the guest sleeps
//! (`wasi:clocks/monotonic-clock` `subscribe-duration` / `subscribe-instant`, which is what
//! `std::thread::sleep` and language runtimes' timers use): the pollable is ready at once.
//! A real sleep would hold the step inside a host call, where no epoch deadline can stop
//! it, and would make its duration part of its result.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock;
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock};

/// The instant every step's wall clock starts at: 2000-01-01T00:00:00Z.
pub const VIRTUAL_EPOCH_SECS: u64 = 946_684_800;
/// How far virtual time advances per reading, so loops that wait on time still progress.
const TICK_NANOS: u64 = 1_000;

/// Virtual nanoseconds since the start of one execution, shared by its clocks.
#[derive(Clone, Default)]
pub struct VirtualTime(Arc<AtomicU64>);

impl VirtualTime {
    /// The current virtual time; advances it by one tick.
    fn read(&self) -> u64 {
        self.advance(TICK_NANOS)
    }

    /// Sleeps `nanos` of virtual time: returns at once with the clocks moved on.
    fn sleep(&self, nanos: u64) {
        self.advance(nanos);
    }

    /// Moves time on, saturating (a guest may ask to sleep `u64::MAX`); returns the time before.
    fn advance(&self, nanos: u64) -> u64 {
        match self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| Some(t.saturating_add(nanos)))
        {
            Ok(t) | Err(t) => t,
        }
    }

    /// Sleeps until the virtual monotonic clock reads `when` (no-op if it is past).
    fn sleep_until(&self, when: u64) {
        self.0.fetch_max(when, Ordering::Relaxed);
    }

    /// The wall clock over this time, starting at [`VIRTUAL_EPOCH_SECS`].
    pub fn wall_clock(&self) -> impl HostWallClock + use<> {
        VirtualWallClock(self.clone())
    }

    /// The monotonic clock over this time, starting at zero.
    pub fn monotonic_clock(&self) -> impl HostMonotonicClock + use<> {
        VirtualMonotonicClock(self.clone())
    }
}

struct VirtualWallClock(VirtualTime);

impl HostWallClock for VirtualWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(TICK_NANOS)
    }

    fn now(&self) -> Duration {
        Duration::from_secs(VIRTUAL_EPOCH_SECS) + Duration::from_nanos(self.0.read())
    }
}

struct VirtualMonotonicClock(VirtualTime);

impl HostMonotonicClock for VirtualMonotonicClock {
    fn resolution(&self) -> u64 {
        TICK_NANOS
    }

    fn now(&self) -> u64 {
        self.0.read()
    }
}

/// What the replaced `wasi:clocks/monotonic-clock` functions reach in a store.
pub struct VirtualClockView<'a> {
    /// The execution's virtual time.
    pub time: &'a VirtualTime,
    /// The store's resource table, where pollables live.
    pub table: &'a mut ResourceTable,
}

struct VirtualClock;

impl HasData for VirtualClock {
    type Data<'a> = VirtualClockView<'a>;
}

/// A pollable that is always ready: the end of a virtual sleep.
struct Ready;

#[async_trait::async_trait]
impl Pollable for Ready {
    async fn ready(&mut self) {}
}

impl VirtualClockView<'_> {
    fn ready(&mut self) -> wasmtime::Result<Resource<DynPollable>> {
        let ready = self.table.push(Ready)?;
        subscribe(self.table, ready)
    }
}

impl monotonic_clock::Host for VirtualClockView<'_> {
    fn now(&mut self) -> wasmtime::Result<u64> {
        Ok(self.time.read())
    }

    fn resolution(&mut self) -> wasmtime::Result<u64> {
        Ok(TICK_NANOS)
    }

    fn subscribe_instant(&mut self, when: u64) -> wasmtime::Result<Resource<DynPollable>> {
        self.time.sleep_until(when);
        self.ready()
    }

    fn subscribe_duration(&mut self, nanos: u64) -> wasmtime::Result<Resource<DynPollable>> {
        self.time.sleep(nanos);
        self.ready()
    }
}

/// Replaces wasmtime-wasi's `wasi:clocks/monotonic-clock` (whose pollables wait in real
/// time) with the virtual one; call after `wasmtime_wasi::p2::add_to_linker_async`.
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> VirtualClockView<'_>,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let added = monotonic_clock::add_to_linker::<T, VirtualClock>(linker, view);
    linker.allow_shadowing(false);
    added
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_are_virtual_and_advance() {
        let time = VirtualTime::default();
        let wall = time.wall_clock();
        let a = wall.now();
        let b = wall.now();
        assert_eq!(a, Duration::from_secs(VIRTUAL_EPOCH_SECS));
        assert!(b > a);
        let mono = VirtualTime::default().monotonic_clock();
        assert_eq!(mono.now(), 0);
        assert_eq!(mono.now(), TICK_NANOS);
    }

    #[test]
    fn sleeping_moves_both_clocks_on_at_once() {
        let time = VirtualTime::default();
        let (wall, mono) = (time.wall_clock(), time.monotonic_clock());
        let hour = 3_600_000_000_000;
        time.sleep(hour);
        assert!(mono.now() >= hour);
        assert!(wall.now() >= Duration::from_secs(VIRTUAL_EPOCH_SECS + 3600));
        // Sleeping until a past instant does not turn time back; an absurd sleep saturates.
        time.sleep_until(5);
        assert!(mono.now() >= hour);
        time.sleep(u64::MAX);
        assert_eq!(mono.now(), u64::MAX);
    }
}
