//! The load engine: VU tasks, the request executors, and a controller that obeys
//! [`Command`]s. It knows nothing of the UI: it publishes [`Snapshot`]s on a watch channel.

mod command;
mod controller;
pub mod executor;
mod gate;
mod inspect;
mod open;
mod vu;

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

pub use command::{Command, Spike, SpikeChange};
pub use controller::DEFAULT_SHARDS;

use crate::metrics::Snapshot;
use crate::scenario::Plan;

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

/// Starts a run of `plan` on the current tokio runtime.
pub fn start(plan: Plan) -> EngineHandle {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let endpoints: Vec<(String, String)> = plan
        .endpoints
        .iter()
        .map(|e| (e.name.clone(), e.method.to_string()))
        .collect();
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Snapshot::empty(&plan.name, &endpoints)));
    let done = tokio::spawn(controller::run(plan, cmd_rx, snap_tx));
    EngineHandle {
        commands: cmd_tx,
        snapshots: snap_rx,
        done,
    }
}
