//! The load engine: VU tasks, the request executors, and a controller that obeys
//! [`Command`]s. It knows nothing of the UI: it publishes [`Snapshot`]s on a watch channel.

mod command;
mod controller;
pub mod executor;
mod gate;
mod inspect;
mod open;
mod selfwatch;
mod state;
mod vu;

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

pub use command::{Command, Spike, SpikeChange, StopSignal};
pub use controller::{shards_for, DEFAULT_SHARDS};
pub use state::{ControlState, LiveSpike, RunClock, SpikeClock};

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

/// A running engine: send it commands, watch its snapshots, await its final result.
pub struct EngineHandle {
    pub commands: mpsc::UnboundedSender<Command>,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub done: tokio::task::JoinHandle<Snapshot>,
}

impl EngineHandle {
    /// Waits for the run to end and returns its final snapshot.
    pub async fn wait(self) -> Snapshot {
        match self.done.await {
            Ok(s) => s,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => {
                let mut last = (*self.snapshots.borrow()).as_ref().clone();
                last.partial = true;
                last
            }
        }
    }
}

/// How watching a run ended (headless mode or the console): its final snapshot, and
/// whether the operator cut it short.
pub struct Watched {
    pub snapshot: Snapshot,
    /// The operator insisted (a second Ctrl-C): results are what was published last.
    pub forced: bool,
}

/// Engine settings that are not part of the scenario.
#[derive(Debug, Clone, Copy, Default)]
pub struct EngineOptions {
    /// Keep every second's latency histogram (encoded) for HDR interval logs; costs a few
    /// KB per endpoint per second, so only when `--out hdr` asks for it.
    pub interval_histograms: bool,
}

/// Starts a run of `plan` on the current tokio runtime.
pub fn start(plan: Plan) -> EngineHandle {
    start_with(plan, EngineOptions::default())
}

/// Starts a run with options.
pub fn start_with(plan: Plan, opts: EngineOptions) -> EngineHandle {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let endpoints: Vec<(String, String)> = plan
        .endpoints
        .iter()
        .map(|e| (e.name.clone(), e.method.to_string()))
        .collect();
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Snapshot::empty(&plan.name, &endpoints)));
    let done = tokio::spawn(controller::run(plan, opts, cmd_rx, snap_tx));
    EngineHandle {
        commands: cmd_tx,
        snapshots: snap_rx,
        done,
    }
}
