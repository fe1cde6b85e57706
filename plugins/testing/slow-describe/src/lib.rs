//! Test guest `slow-describe`: its `describe()` never returns, first sleeping (a host call)
//! then spinning; loading it must fail at the describe time limit instead of hanging.

use weft_step::{Guest, Param, StepError, StepInfo};

/// The step; its `Guest` implementation is exported with `weft_step::export!`.
pub struct G;

impl Guest for G {
    fn describe() -> StepInfo {
        // Virtual sleeps return at once; the spin after them is what the limit must stop.
        std::thread::sleep(std::time::Duration::from_secs(3600));
        let mut x: u64 = 0;
        loop {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }

    fn run(_params: Vec<Param>) -> Result<(), StepError> {
        Ok(())
    }
}

weft_step::export!(G);
