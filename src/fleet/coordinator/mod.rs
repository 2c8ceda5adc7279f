//! The coordinator: admits the workers (same scenario, volley and histograms, or refused
//! with the reason), starts them together at `t0`, passes plan changes on as versioned
//! changes applied at an agreed instant, and adds the workers' snapshots into the one
//! view that consoles, `volley ctl`, thresholds and reports see.
//!
//! To everything above it the coordinator is an engine: [`start`] returns an
//! [`EngineHandle`] whose commands go to every worker and whose snapshots are the merged
//! ones, so the control API, the console, headless mode and the reports run unchanged.

mod drive;
mod service;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{broadcast, mpsc, watch, Notify};

use super::protocol;
use crate::control::proto::{self, coordinator_message, CoordinatorMessage};
use crate::control::PROTOCOL_VERSION;
use crate::engine::{Command, EngineHandle};
use crate::metrics::{Snapshot, WorkerRow};
use crate::state::{Event, EventKind, RunState};
use crate::thresholds::ThresholdSpec;

/// How long the workers have between the start order and `t0`.
pub const START_LEAD: Duration = Duration::from_millis(500);
/// How long the workers have between a plan change and its `apply_at`.
pub const CHANGE_LEAD: Duration = Duration::from_millis(150);
/// A worker silent this long is lost (it sends a heartbeat every second).
pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the coordinator does when a worker is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LossPolicy {
    /// Go on with the others (the load drops by the lost worker's part).
    Continue,
    /// Stop the whole run (its results are partial).
    Abort,
}

/// How the coordinator runs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub workers: usize,
    /// The scenario's text hash: a worker with another scenario is refused.
    pub scenario_sha256: String,
    pub overrides: proto::Overrides,
    pub run_id: String,
    pub on_loss: LossPolicy,
    /// How long the workers have to register and get ready.
    pub register_timeout: Duration,
    /// The scenario's name and endpoints (name, method), for the view before any report.
    pub scenario: String,
    pub endpoints: Vec<(String, String)>,
    pub thresholds: Vec<ThresholdSpec>,
}

pub use crate::metrics::WorkerState;

/// One worker, as the console's workers panel shows it.
#[derive(Debug, Clone)]
pub struct WorkerView {
    pub index: usize,
    pub state: WorkerState,
    pub host: String,
    pub pid: u32,
    /// The worker's clock minus the coordinator's, as last measured (one-way delay
    /// included), in milliseconds.
    pub clock_offset_ms: f64,
    pub cpu_percent: f64,
    /// When the worker was last heard from.
    pub last_seen: Instant,
    pub vus: u32,
    pub rps: f64,
    pub error_rate: f64,
    /// Where it wrote its own result document.
    pub result_path: Option<String>,
    /// When its engine started (wall clock).
    pub started_at: Option<SystemTime>,
    /// Why it was lost.
    pub lost: Option<String>,
}

struct Slot {
    view: WorkerView,
    snapshot: Option<Arc<Snapshot>>,
}

#[derive(Default)]
struct Board {
    slots: Vec<Option<Slot>>,
    /// `t0`, once the start was ordered.
    t0_us: Option<i64>,
    /// The coordinator's own events (workers joining, lost, the start).
    events: Vec<Event>,
    version: u64,
    /// Why the coordinator aborted the run (an abort_on_fail threshold on the merged
    /// data).
    abort: Option<String>,
    /// The merged whole-run histograms, kept current report by report (the slots'
    /// snapshots have empty ones: they come through a lean decoder).
    sums: super::sums::HistSums,
}

struct Inner {
    settings: Settings,
    board: Mutex<Board>,
    changed: Notify,
    orders: broadcast::Sender<CoordinatorMessage>,
    created: Instant,
    /// Snapshot bytes the workers sent (reports and their last snapshots).
    received: std::sync::atomic::AtomicU64,
    /// The merged timeline rows every worker has closed.
    cache: Mutex<super::view::MergeCache>,
}

/// The workers' view, for the console's workers panel and the result document.
#[derive(Clone)]
pub struct Workers(Arc<Inner>);

impl Workers {
    /// Every admitted worker, in index order.
    pub fn list(&self) -> Vec<WorkerView> {
        let b = self.0.board.lock().expect("fleet board");
        b.slots.iter().flatten().map(|s| s.view.clone()).collect()
    }

    /// The spread of the workers' engine start times, when all have started.
    pub fn start_skew(&self) -> Option<Duration> {
        let starts: Vec<SystemTime> = self.list().iter().filter_map(|w| w.started_at).collect();
        if starts.len() < self.0.settings.workers {
            return None;
        }
        let (lo, hi) = (starts.iter().min()?, starts.iter().max()?);
        hi.duration_since(*lo).ok()
    }

    /// Snapshot bytes received from the workers so far.
    pub fn received_bytes(&self) -> u64 {
        self.0.received.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The workers that were lost.
    pub fn lost(&self) -> Vec<usize> {
        self.list()
            .iter()
            .filter(|w| w.state == WorkerState::Lost)
            .map(|w| w.index)
            .collect()
    }
}

/// The coordinator's gRPC side: what its listener serves besides the control API.
#[derive(Clone)]
pub struct FleetService(Arc<Inner>);

/// Starts the coordinator on the current runtime: the Fleet service to serve, the
/// workers' view, and the engine handle of the merged run.
pub fn start(settings: Settings) -> (FleetService, Workers, EngineHandle) {
    let (orders, _) = broadcast::channel(1024);
    let empty = Snapshot::empty(&settings.scenario, &settings.endpoints);
    let inner = Arc::new(Inner {
        board: Mutex::new(Board {
            slots: (0..settings.workers).map(|_| None).collect(),
            sums: super::sums::HistSums::new(settings.workers),
            ..Board::default()
        }),
        settings,
        changed: Notify::new(),
        orders,
        created: Instant::now(),
        received: Default::default(),
        cache: Default::default(),
    });
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (snap_tx, snap_rx) = watch::channel(Arc::new(empty));
    let done = tokio::spawn(drive::drive(inner.clone(), cmd_rx, snap_tx));
    (
        FleetService(inner.clone()),
        Workers(inner),
        EngineHandle {
            commands: cmd_tx,
            snapshots: snap_rx,
            done,
        },
    )
}

impl Inner {
    fn event(&self, b: &mut Board, kind: EventKind, detail: String) {
        let t = match b.t0_us {
            Some(t0) => (protocol::now_us() - t0) as f64 / 1e6,
            None => 0.0,
        };
        b.events.push(Event {
            t: t.max(0.0),
            kind,
            detail,
        });
    }

    fn broadcast(&self, msg: coordinator_message::Msg) {
        let _ = self.orders.send(CoordinatorMessage { msg: Some(msg) });
    }

    /// Orders a plan change for every worker.
    fn change(&self, cmd: &Command) {
        let mut b = self.board.lock().expect("fleet board");
        b.version += 1;
        let version = b.version;
        drop(b);
        let apply_at = protocol::now_us() + CHANGE_LEAD.as_micros() as i64;
        self.broadcast(coordinator_message::Msg::Change(proto::PlanChange {
            version,
            apply_at_unix_us: apply_at,
            command: Some(proto::CommandRequest {
                version: PROTOCOL_VERSION,
                sender: protocol::sender_of(cmd)
                    .unwrap_or(protocol::COORDINATOR)
                    .into(),
                command: Some(protocol::command_message(cmd)),
            }),
        }));
    }

    /// The merged view now.
    fn merged(&self) -> Snapshot {
        let b = self.board.lock().expect("fleet board");
        let parts: Vec<(Arc<Snapshot>, bool)> = b
            .slots
            .iter()
            .flatten()
            .filter_map(|s| {
                let last = matches!(s.view.state, WorkerState::Finished | WorkerState::Lost);
                Some((s.snapshot.clone()?, last))
            })
            .collect();
        let all = b
            .slots
            .iter()
            .all(|s| s.as_ref().is_some_and(|s| s.snapshot.is_some()));
        let snaps: Vec<Arc<Snapshot>> = parts.iter().map(|(s, _)| s.clone()).collect();
        let states: Vec<WorkerState> = b.slots.iter().flatten().map(|s| s.view.state).collect();
        let fleet_events = b.events.clone();
        let abort = b.abort.clone();
        let sums = b.sums.now();
        let rows: Vec<WorkerRow> = b.slots.iter().flatten().map(|s| row(&s.view)).collect();
        let lost = states.contains(&WorkerState::Lost);
        drop(b);
        let s = &self.settings;
        let view: Vec<super::view::Part> = parts
            .iter()
            .map(|(snapshot, last)| super::view::Part {
                snapshot,
                last: *last,
            })
            .collect();
        let mut merged = super::view::merge(&view, all, &mut self.cache.lock().expect("cache"));
        if let Some(m) = merged.as_mut() {
            super::sums::fill(m, &sums);
        }
        let mut m = merged.unwrap_or_else(|| {
            let mut e = Snapshot::empty(&s.scenario, &s.endpoints);
            e.started_at = SystemTime::now() - self.created.elapsed();
            e
        });
        m.state = fleet_state(&snaps, &states, s.workers);
        m.events = Arc::new(merge_events(&m.events, &fleet_events));
        m.partial |= lost || abort.is_some();
        if abort.is_some() {
            m.abort = abort;
        }
        m.workers = Some(Arc::new(rows));
        m.thresholds = super::merge::judge(&m, &s.thresholds);
        m
    }
}

/// A worker as the snapshot carries it.
fn row(v: &WorkerView) -> WorkerRow {
    WorkerRow {
        index: v.index as u32,
        state: v.state,
        host: v.host.clone(),
        vus: v.vus,
        rps: v.rps,
        error_rate: v.error_rate,
        cpu_percent: v.cpu_percent,
        heartbeat_age_s: v.last_seen.elapsed().as_secs_f64(),
        clock_offset_ms: v.clock_offset_ms,
    }
}

/// A worker's figures for the workers panel.
fn observe(v: &mut WorkerView, s: &Snapshot) {
    v.vus = s.vus_active;
    v.rps = s.total.rps_now;
    v.error_rate = if s.total.requests == 0 {
        0.0
    } else {
        s.total.errors as f64 / s.total.requests as f64
    };
    v.started_at = Some(s.started_at);
}

/// The fleet's state: running until every worker is done (or lost); paused or stopping
/// when the workers that report say so.
fn fleet_state(snaps: &[Arc<Snapshot>], states: &[WorkerState], n: usize) -> RunState {
    let over = states
        .iter()
        .filter(|s| matches!(s, WorkerState::Finished | WorkerState::Lost))
        .count();
    if states.len() == n && over == n {
        return RunState::Done;
    }
    let live: Vec<RunState> = snaps
        .iter()
        .map(|s| s.state)
        .filter(|s| *s != RunState::Done)
        .collect();
    if live.contains(&RunState::Stopping) || (over > 0 && live.is_empty()) {
        RunState::Stopping
    } else if !live.is_empty() && live.iter().all(|s| *s == RunState::Paused) {
        RunState::Paused
    } else {
        RunState::Running
    }
}

/// The workers' events (each worker records the same start, stages and changes: kept
/// once) and the coordinator's, in time order.
fn merge_events(workers: &[Event], fleet: &[Event]) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::new();
    for e in workers {
        let seen = out
            .iter()
            .rev()
            .take(64)
            .any(|o| o.kind == e.kind && o.detail == e.detail && (o.t - e.t).abs() < 2.0);
        if !seen {
            out.push(e.clone());
        }
    }
    out.extend(fleet.iter().cloned());
    out.sort_by(|a, b| a.t.total_cmp(&b.t));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(t: f64, detail: &str) -> Event {
        Event {
            t,
            kind: EventKind::SetVus,
            detail: detail.into(),
        }
    }

    #[test]
    fn the_same_event_from_every_worker_is_kept_once() {
        let workers = [
            ev(1.0, "10 -> 20"),
            ev(1.01, "10 -> 20"),
            ev(1.02, "10 -> 20"),
        ];
        let fleet = [ev(0.5, "worker 1 joined")];
        let out = merge_events(&workers, &fleet);
        let details: Vec<&str> = out.iter().map(|e| e.detail.as_str()).collect();
        assert_eq!(details, ["worker 1 joined", "10 -> 20"]);
        // The same change at another time is another event.
        let out = merge_events(&[ev(1.0, "a"), ev(9.0, "a")], &[]);
        assert_eq!(out.len(), 2);
    }

    /// Two builds of one version may keep their phase histograms at different precisions
    /// (3 significant digits before 2026-12-02, 2 after): the coordinator refuses a worker
    /// whose phases would not merge exactly, also one that does not say (an older build).
    #[tokio::test]
    async fn a_worker_whose_phase_histograms_differ_is_refused() {
        let (service, _workers, _engine) = start(Settings {
            workers: 2,
            scenario_sha256: "abc".into(),
            overrides: Default::default(),
            run_id: "r".into(),
            on_loss: LossPolicy::Continue,
            register_timeout: Duration::from_secs(5),
            scenario: "s".into(),
            endpoints: Vec::new(),
            thresholds: Vec::new(),
        });
        let reg = |phases: u32| proto::Register {
            version: PROTOCOL_VERSION,
            volley_version: env!("CARGO_PKG_VERSION").into(),
            scenario_sha256: "abc".into(),
            histogram_sigfig: protocol::HISTOGRAM_SIGFIG,
            phase_histogram_sigfig: phases,
            ..Default::default()
        };
        for phases in [0, 3] {
            let err = service.0.admit(&reg(phases)).expect_err("refused");
            assert!(err.message().contains("phase histograms keep"), "{err:?}");
        }
        let mine = u32::from(crate::metrics::PHASE_SIGFIG);
        assert_eq!(service.0.admit(&reg(mine)).expect("admitted"), 0);
    }

    #[test]
    fn the_fleet_is_done_when_every_worker_is_over() {
        use WorkerState::*;
        assert_eq!(fleet_state(&[], &[Finished, Lost], 2), RunState::Done);
        // One done, the other's end not yet reported: the fleet is stopping.
        assert_eq!(
            fleet_state(&[], &[Finished, Running], 2),
            RunState::Stopping
        );
        let mut paused = Snapshot::empty("s", &[]);
        paused.state = RunState::Paused;
        let p = Arc::new(paused);
        assert_eq!(
            fleet_state(&[p.clone(), p.clone()], &[Running, Running], 2),
            RunState::Paused
        );
    }
}
