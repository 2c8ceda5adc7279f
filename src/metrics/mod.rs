//! Metrics: lock-striped recording, a ticking aggregator, and mergeable snapshots.

mod aggregator;
mod gauges;
pub mod generator;
mod kind;
pub mod procstat;
mod recorder;
mod snapshot;
mod stream;
mod target;
pub mod verdict;
mod ws;

/// The control state's types, which snapshots carry (they live in [`crate::state`]).
pub use crate::state::{AbortCause, Event, EventKind, RunState, SpikeView, StageStatus};
pub use aggregator::{Aggregator, TICK};
pub use gauges::Gauges;
pub use kind::{error_key, ErrorKind, Outcome, Retry, RetryReason};
pub use recorder::{
    new_histogram, new_phase_histogram, Accum, PhaseHists, Phases, Recorder, Sample, PHASE_SIGFIG,
};
pub use snapshot::{
    merge_timelines, push_row, EndpointStats, ErrorSample, Snapshot, TimelineRow, WorkerRow,
    WorkerState, MAX_TIMELINE_ROWS, RECENT_ERRORS,
};
pub use stream::{StreamHists, StreamSample};
pub use target::{TargetSample, TargetSeries};
pub use ws::{EchoCounts, WsSample, WsStats};
