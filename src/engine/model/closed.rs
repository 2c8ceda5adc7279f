//! The closed model: a number of VUs, each looping over its user type's flow; the load is
//! how many of them run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinHandle;

use super::{Leftover, Model};
use crate::engine::vu::{run_closed_vu, stagger, RunCtx};
use crate::engine::Segment;
use crate::state::EventKind;
use crate::units;

struct Vu {
    retire: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

/// VUs in a loop: a level is a number of VUs.
#[derive(Default)]
pub(super) struct Closed {
    vus: Vec<Vu>,
    /// VUs told to finish their iteration and leave.
    retiring: Vec<JoinHandle<()>>,
    next_id: u64,
    /// A fleet worker's part: it runs its share of each level.
    segment: Option<Arc<dyn Segment>>,
}

impl Closed {
    pub fn with_segment(segment: Option<Arc<dyn Segment>>) -> Closed {
        Closed {
            segment,
            ..Closed::default()
        }
    }

    /// This process's VUs of a level of `n` VUs.
    fn mine(&self, n: u64) -> u64 {
        self.segment.as_ref().map_or(n, |s| s.share(n))
    }

    fn set_vus(&mut self, ctx: &Arc<RunCtx>, n: u32) {
        let cur = self.vus.len() as u32;
        if n > cur {
            for k in 0..n - cur {
                let retire = Arc::new(AtomicBool::new(false));
                let handle = tokio::spawn(run_closed_vu(
                    ctx.clone(),
                    ctx.global(self.next_id),
                    retire.clone(),
                    stagger(k),
                ));
                self.next_id += 1;
                self.vus.push(Vu { retire, handle });
            }
        } else if n < cur {
            for vu in self.vus.drain(n as usize..) {
                vu.retire.store(true, Ordering::Release);
                self.retiring.push(vu.handle);
            }
            ctx.gate.poke();
            self.retiring.retain(|h| !h.is_finished());
        }
        ctx.gauges.vus_target.store(n, Ordering::Relaxed);
        if n == 0 {
            // No VU to wait for: the run clock runs (a load set to 0 during start-up).
            ctx.control.start_run(Instant::now());
        }
    }
}

impl Model for Closed {
    fn is_open(&self) -> bool {
        false
    }

    fn start_detail(&self, initial: f64) -> String {
        units::vus(initial as u64)
    }

    fn startup_goal(&self, initial: f64) -> u64 {
        self.mine(initial.round().max(0.0) as u64).max(1)
    }

    fn spike_level(&self, level: f64) -> f64 {
        level.round()
    }

    fn set_event(&self) -> EventKind {
        EventKind::SetVus
    }

    fn apply(&mut self, ctx: &Arc<RunCtx>, level: f64) {
        let n = self.mine(level.round().clamp(0.0, u32::MAX as f64) as u64);
        self.set_vus(ctx, n as u32);
    }

    fn stop(&mut self) -> Leftover {
        let mut vus: Vec<JoinHandle<()>> = self.vus.drain(..).map(|v| v.handle).collect();
        vus.append(&mut self.retiring);
        Leftover {
            vus,
            scheduler: None,
        }
    }
}
