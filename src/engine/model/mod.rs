//! The load models, one type each behind [`Model`]: the controller decides the load
//! level (stages, commands, spikes) and the model makes it so. The closed model runs that
//! many VUs; the open model starts that many iterations per second (after k6's
//! `lib/executor/`, one file per executor).

mod closed;
mod open;
mod timer;

use std::sync::Arc;

use tokio::task::{JoinHandle, JoinSet};

use super::state::ControlState;
use super::vu::RunCtx;
use super::Segment;
use crate::scenario::{LoadModel, Plan};
use crate::state::EventKind;

/// What the controller drives.
pub(super) trait Model: Send {
    /// True when load levels are arrival rates (iterations/s), false when they are VUs.
    fn is_open(&self) -> bool;

    /// The `start` event's detail for this initial level: `10 VUs`, `5/s on at most 50 VUs`.
    fn start_detail(&self, initial: f64) -> String;

    /// How many VUs must have started for start-up to be over.
    fn startup_goal(&self, initial: f64) -> u64;

    /// The run starts (before the first level is applied).
    fn begin(&mut self, _ctx: &Arc<RunCtx>) {}

    /// The level a spike runs at: what this model can run of `level`.
    fn spike_level(&self, level: f64) -> f64;

    /// The kind of event a level set by hand is.
    fn set_event(&self) -> EventKind;

    /// Runs at `level` from now on.
    fn apply(&mut self, ctx: &Arc<RunCtx>, level: f64);

    /// The first level is applied: start what runs beside the VUs.
    fn started(&mut self, _ctx: &Arc<RunCtx>) {}

    /// The run stops (the gate is already closed): what is still running.
    fn stop(&mut self) -> Leftover;
}

/// The model of `plan`, its initial level set (the open model's rate is published now).
/// With a `segment` (a fleet's worker), levels stay the whole run's and the model runs
/// its part of each.
pub(super) fn of(
    plan: &Plan,
    control: &ControlState,
    segment: Option<Arc<dyn Segment>>,
) -> (Box<dyn Model>, f64) {
    match plan.load.model {
        LoadModel::Closed => (
            Box::new(closed::Closed::with_segment(segment)),
            plan.load.vus as f64,
        ),
        LoadModel::Open { rate, max_vus } => {
            control.set_rate(rate);
            (Box::new(open::Open::new(max_vus)), rate)
        }
    }
}

/// Tasks still running when a model stops: the drain waits for them, or cuts them off.
#[derive(Default)]
pub(super) struct Leftover {
    /// VU tasks (closed model).
    pub vus: Vec<JoinHandle<()>>,
    /// The schedulers (open model: one, or one per lane), which hand back their VU tasks: the idle ones leave at
    /// once, the busy ones when their iteration is over.
    pub schedulers: Vec<JoinHandle<JoinSet<()>>>,
}

impl Leftover {
    /// The VU tasks, and the open model's once its scheduler has ended.
    pub async fn collect(self) -> (Vec<JoinHandle<()>>, Vec<JoinSet<()>>) {
        let mut pools = Vec::new();
        for s in self.schedulers {
            pools.push(s.await.unwrap_or_default());
        }
        (self.vus, pools)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_model_speaks_its_own_unit() {
        let closed = closed::Closed::default();
        let open = open::Open::new(50);
        assert!(!closed.is_open());
        assert!(open.is_open());
        assert_eq!(closed.start_detail(10.0), "10 VUs");
        assert_eq!(open.start_detail(5.0), "5.0/s on at most 50 VUs");
        // Start-up: the initial VUs (at least one), or the open model's first VU.
        assert_eq!(closed.startup_goal(0.0), 1);
        assert_eq!(closed.startup_goal(12.4), 12);
        assert_eq!(open.startup_goal(200.0), 1);
        // A spike runs whole VUs, or any rate.
        assert_eq!(closed.spike_level(12.5), 13.0);
        assert_eq!(open.spike_level(12.5), 12.5);
        assert_eq!(closed.set_event(), EventKind::SetVus);
        assert_eq!(open.set_event(), EventKind::SetRate);
    }
}
