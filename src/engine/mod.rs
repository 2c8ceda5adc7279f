//! The load engine: VU tasks, the request executors, and a controller that obeys
//! [`Command`]s. It knows nothing of the UI: it publishes [`Snapshot`]s on a watch channel.

mod command;
mod controller;
pub mod executor;
mod gate;
mod inspect;
mod lanes;
mod model;
mod run;
mod selfwatch;
mod state;
mod supervise;
mod vu;
mod warm;

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

pub use command::{Command, Spike, SpikeChange, StopSignal};
pub use lanes::Lanes;
pub use run::{shards_for, DEFAULT_SHARDS};
pub use state::{ControlState, LiveSpike, RunClock, SpikeClock};
pub use supervise::{last_published, supervise, OnSignal, RunOutcome, Signals, Watcher, HURRY};
pub use warm::{preconnect, Warm};

use crate::metrics::Snapshot;
use crate::scenario::Plan;

static WORKER_PANICKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// True once a VU of this process panicked: the run was stopped and its results are
/// partial; the process exits 1 after writing them. (Under the console, a panic of any
/// other thread is `ui::term::panicked_thread`.)
pub fn worker_panicked() -> bool {
    WORKER_PANICKED.load(std::sync::atomic::Ordering::Relaxed)
}

pub(crate) fn note_panic() {
    WORKER_PANICKED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Sleeps until `until`; never, without one (a deadline the run does not have yet).
pub(crate) async fn sleep_opt(until: Option<tokio::time::Instant>) {
    match until {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// A running engine: send it commands, watch its snapshots, await its final result.
pub struct EngineHandle {
    pub commands: mpsc::UnboundedSender<Command>,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub done: tokio::task::JoinHandle<Snapshot>,
}

impl EngineHandle {
    /// Waits for the run to end and returns its final snapshot (a panic of the engine
    /// resumes here).
    pub async fn wait(self) -> Snapshot {
        supervise::final_snapshot(self.done.await, &self.snapshots)
    }
}

/// This process's part of a run split over several processes (a fleet's worker): which
/// of the run's units (VUs at a moment, arrivals, data rows) are its own. The engine runs
/// the whole plan's levels and takes its part of each; the fleet implements it.
pub trait Segment: Send + Sync + std::fmt::Debug {
    /// This part's share of `q` units (VUs now, iterations).
    fn share(&self, q: u64) -> u64;
    /// Whether the run's unit `k` (the `k`-th arrival, from 0) is this part's.
    fn owns(&self, k: u64) -> bool;
    /// The run's number of this part's `j`-th unit (a VU's id, a data row).
    fn nth(&self, j: u64) -> u64;
}

/// Engine settings that are not part of the scenario.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Keep every second's latency histogram (encoded) for HDR interval logs; costs a few
    /// KB per endpoint per second, so only when `--out hdr` asks for it.
    pub interval_histograms: bool,
    /// Leave self-watch out (to measure what it costs).
    pub no_self_watch: bool,
    /// Run only this part of the plan (a fleet's worker); the whole plan without one.
    pub segment: Option<Arc<dyn Segment>>,
    /// Thread-per-core: the VUs run on these engine threads, each with a runtime of its
    /// own; without, on the runtime the run is started on (`--threads 1`, and tests).
    pub lanes: Option<Arc<Lanes>>,
    /// Clients with their connections already open ([`preconnect`]), for the VUs to
    /// take when they start; made from the same plan.
    pub warm: Option<Arc<Warm>>,
}

impl EngineOptions {
    /// Engine threads the VUs run on: the lanes, or the current runtime's workers.
    pub(crate) fn engine_threads(&self) -> usize {
        match &self.lanes {
            Some(l) => l.len(),
            None => tokio::runtime::Handle::current().metrics().num_workers(),
        }
    }
}

/// Starts a run of `plan` on the current tokio runtime.
pub fn start(plan: Plan) -> EngineHandle {
    start_with(plan, EngineOptions::default())
}

/// Starts a run with options.
pub fn start_with(plan: Plan, opts: EngineOptions) -> EngineHandle {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let endpoints = plan.endpoint_names();
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Snapshot::empty(&plan.name, &endpoints)));
    let done = tokio::spawn(run::run(plan, opts, cmd_rx, snap_tx));
    EngineHandle {
        commands: cmd_tx,
        snapshots: snap_rx,
        done,
    }
}
