//! The coordinator: admits the workers (same scenario, volley and histograms, or refused
//! with the reason), starts them together at `t0`, passes plan changes on as versioned
//! changes applied at an agreed instant, and adds the workers' snapshots into the one
//! view that consoles, `volley ctl`, thresholds and reports see.
//!
//! To everything above it the coordinator is an engine: [`start`] returns an
//! [`EngineHandle`] whose commands go to every worker and whose snapshots are the merged
//! ones, so the control API, the console, headless mode and the reports run unchanged.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{broadcast, mpsc, watch, Notify};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::protocol::{self, HISTOGRAM_SIGFIG};
use crate::control::proto::{
    self, coordinator_message, worker_message, CoordinatorMessage, WorkerMessage,
};
use crate::control::{wire, PROTOCOL_VERSION};
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
/// How often the merged view is published.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(250);

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
    let done = tokio::spawn(drive(inner.clone(), cmd_rx, snap_tx));
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

    /// Admits a worker or says why not; its index.
    fn admit(&self, reg: &proto::Register) -> Result<usize, Status> {
        let refuse = |why: String| Err(Status::failed_precondition(why));
        if reg.version != PROTOCOL_VERSION {
            return refuse(format!(
                "worker refused: it speaks fleet protocol v{}, the coordinator v{PROTOCOL_VERSION}",
                reg.version
            ));
        }
        let mine = env!("CARGO_PKG_VERSION");
        if reg.volley_version != mine {
            return refuse(format!(
                "worker refused: it is volley {}, the coordinator volley {mine} (use the same image)",
                reg.volley_version
            ));
        }
        if reg.scenario_sha256 != self.settings.scenario_sha256 {
            return refuse(format!(
                "worker refused: its scenario (sha256 {}) is not the coordinator's (sha256 {})",
                short(&reg.scenario_sha256),
                short(&self.settings.scenario_sha256)
            ));
        }
        if reg.histogram_sigfig != HISTOGRAM_SIGFIG {
            return refuse(format!(
                "worker refused: its histograms keep {} significant digits, the coordinator's {HISTOGRAM_SIGFIG}: the merge would not be exact",
                reg.histogram_sigfig
            ));
        }
        let mut b = self.board.lock().expect("fleet board");
        if b.t0_us.is_some() {
            return refuse(
                "worker refused: the run has started (a worker that restarts must not replay its segment from zero)"
                    .into(),
            );
        }
        let n = b.slots.len();
        let index = match reg.index {
            Some(i) if i as usize >= n => {
                return refuse(format!(
                    "worker refused: index {i}, but the run has {n} workers (0 to {})",
                    n - 1
                ))
            }
            Some(i) if b.slots[i as usize].is_some() => {
                return refuse(format!("worker refused: index {i} is taken"))
            }
            Some(i) => i as usize,
            None => match b.slots.iter().position(Option::is_none) {
                Some(i) => i,
                None => return refuse(format!("worker refused: all {n} workers are there")),
            },
        };
        let offset = (reg.clock_unix_us - protocol::now_us()) as f64 / 1000.0;
        b.slots[index] = Some(Slot {
            view: WorkerView {
                index,
                state: WorkerState::Registered,
                host: reg
                    .host
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(64)
                    .collect(),
                pid: reg.pid,
                clock_offset_ms: offset,
                cpu_percent: 0.0,
                last_seen: Instant::now(),
                vus: 0,
                rps: 0.0,
                error_rate: 0.0,
                result_path: None,
                started_at: None,
                lost: None,
            },
            snapshot: None,
        });
        let detail = format!("worker {index} joined ({} pid {})", reg.host, reg.pid);
        self.event(&mut b, EventKind::Other("fleet".into()), detail);
        drop(b);
        self.changed.notify_one();
        Ok(index)
    }

    fn with_slot(&self, index: usize, f: impl FnOnce(&mut Slot)) {
        let mut b = self.board.lock().expect("fleet board");
        if let Some(s) = b.slots[index].as_mut() {
            s.view.last_seen = Instant::now();
            f(s);
        }
        drop(b);
        self.changed.notify_one();
    }

    fn offset_ms(clock_us: i64) -> f64 {
        (clock_us - protocol::now_us()) as f64 / 1000.0
    }

    /// Reads a worker's messages until its call ends.
    async fn read(&self, index: usize, mut inbound: Streaming<WorkerMessage>) {
        let mut decoder = wire::Decoder::default();
        let lost = loop {
            let msg = match inbound.message().await {
                Ok(Some(m)) => m,
                Ok(None) => break "its connection ended before its results".to_string(),
                Err(s) => break format!("its connection failed: {}", s.message()),
            };
            match msg.msg {
                Some(worker_message::Msg::Ready(r)) => self.with_slot(index, |s| {
                    s.view.state = WorkerState::Ready;
                    s.view.clock_offset_ms = Self::offset_ms(r.clock_unix_us);
                }),
                Some(worker_message::Msg::Report(r)) => {
                    self.count(r.snapshot_json.len());
                    match decoder.decode(&r.snapshot_json) {
                        Ok(snap) => self.with_slot(index, |s| {
                            s.view.state = WorkerState::Running;
                            s.view.cpu_percent = r.cpu_percent;
                            s.view.clock_offset_ms = Self::offset_ms(r.clock_unix_us);
                            observe(&mut s.view, &snap);
                            s.snapshot = Some(Arc::new(snap));
                        }),
                        Err(e) => break format!("it sent a snapshot that does not decode: {e}"),
                    }
                }
                Some(worker_message::Msg::Heartbeat(h)) => self.with_slot(index, |s| {
                    s.view.cpu_percent = h.cpu_percent;
                    s.view.clock_offset_ms = Self::offset_ms(h.clock_unix_us);
                }),
                Some(worker_message::Msg::Finished(f)) => {
                    self.count(f.snapshot_json.len());
                    match decoder.decode(&f.snapshot_json) {
                        Ok(snap) => self.with_slot(index, |s| {
                            s.view.state = WorkerState::Finished;
                            s.view.result_path =
                                (!f.result_path.is_empty()).then(|| f.result_path.clone());
                            observe(&mut s.view, &snap);
                            s.snapshot = Some(Arc::new(snap));
                        }),
                        Err(e) => break format!("its last snapshot does not decode: {e}"),
                    }
                    return;
                }
                Some(worker_message::Msg::Register(_)) | None => {}
            }
        };
        self.lose(index, &lost);
    }

    fn count(&self, bytes: usize) {
        self.received
            .fetch_add(bytes as u64, std::sync::atomic::Ordering::Relaxed);
    }

    /// Marks a worker lost (once); the policy is applied by the drive loop.
    fn lose(&self, index: usize, why: &str) {
        let mut b = self.board.lock().expect("fleet board");
        let Some(s) = b.slots[index].as_mut() else {
            return;
        };
        if matches!(s.view.state, WorkerState::Finished | WorkerState::Lost) {
            return;
        }
        s.view.state = WorkerState::Lost;
        s.view.lost = Some(why.to_string());
        drop(b);
        self.changed.notify_one();
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
        let merged = super::view::merge(&view, all, &mut self.cache.lock().expect("cache"));
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

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
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

#[tonic::async_trait]
impl proto::fleet_server::Fleet for FleetService {
    type JoinStream =
        Pin<Box<dyn tokio_stream::Stream<Item = Result<CoordinatorMessage, Status>> + Send>>;

    async fn join(
        &self,
        req: Request<Streaming<WorkerMessage>>,
    ) -> Result<Response<Self::JoinStream>, Status> {
        let mut inbound = req.into_inner();
        let first = inbound
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("a worker starts with Register"))?;
        let Some(worker_message::Msg::Register(reg)) = first.msg else {
            return Err(Status::invalid_argument("a worker starts with Register"));
        };
        let inner = self.0.clone();
        let index = inner.admit(&reg)?;
        let mut orders = inner.orders.subscribe();
        let (tx, rx) = mpsc::channel(64);
        let s = &inner.settings;
        let accepted = proto::Accepted {
            index: index as u32,
            weights: vec![1; s.workers],
            run_id: s.run_id.clone(),
            overrides: Some(s.overrides.clone()),
            clock_unix_us: protocol::now_us(),
        };
        let _ = tx
            .send(Ok(CoordinatorMessage {
                msg: Some(coordinator_message::Msg::Accepted(accepted)),
            }))
            .await;
        // The orders go out until the worker's side ends (finished or lost): then the
        // call ends, which tells the worker its last snapshot arrived.
        let (end_tx, mut end_rx) = tokio::sync::oneshot::channel::<()>();
        let fwd = inner.clone();
        tokio::spawn(async move {
            loop {
                let m = tokio::select! {
                    _ = &mut end_rx => break,
                    m = orders.recv() => m,
                };
                match m {
                    Ok(m) => {
                        if tx.send(Ok(m)).await.is_err() {
                            break;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        fwd.lose(index, &format!("it fell {n} orders behind"));
                        break;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        tokio::spawn(async move {
            inner.read(index, inbound).await;
            let _ = end_tx.send(());
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// The coordinator's run: waits for every worker to be ready, orders the start, passes
/// commands on, publishes the merged view, applies the loss policy; the final merged
/// snapshot.
async fn drive(
    inner: Arc<Inner>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    publish: watch::Sender<Arc<Snapshot>>,
) -> Snapshot {
    let n = inner.settings.workers;
    let deadline = tokio::time::Instant::now() + inner.settings.register_timeout;
    // 1. Every worker registers and gets ready.
    loop {
        let (ready, lost) = {
            let b = inner.board.lock().expect("fleet board");
            let ready = b
                .slots
                .iter()
                .flatten()
                .filter(|s| s.view.state == WorkerState::Ready)
                .count();
            let lost = b
                .slots
                .iter()
                .flatten()
                .find(|s| s.view.state == WorkerState::Lost)
                .map(|s| (s.view.index, s.view.lost.clone().unwrap_or_default()));
            (ready, lost)
        };
        if let Some((i, why)) = lost {
            return give_up(
                &inner,
                &publish,
                format!("worker {i} was lost before the start: {why}"),
            );
        }
        if ready == n {
            break;
        }
        publish.send_replace(Arc::new(inner.merged()));
        tokio::select! {
            _ = inner.changed.notified() => {}
            _ = tokio::time::sleep(PUBLISH_EVERY) => {}
            _ = tokio::time::sleep_until(deadline) => {
                return give_up(&inner, &publish, format!(
                    "only {ready} of {n} workers were ready after {}s",
                    inner.settings.register_timeout.as_secs()
                ));
            }
            c = commands.recv() => if c.as_ref().is_none_or(Command::is_stop) {
                return give_up(&inner, &publish, "stopped before the workers were ready".into());
            }
        }
    }
    // 2. The start, at one instant for all.
    let t0 = protocol::now_us() + START_LEAD.as_micros() as i64;
    {
        let mut b = inner.board.lock().expect("fleet board");
        b.t0_us = Some(t0);
        let detail = format!("{n} workers ready: start at t0 for all");
        inner.event(&mut b, EventKind::Other("fleet".into()), detail);
    }
    inner.broadcast(coordinator_message::Msg::Start(proto::Start {
        t0_unix_us: t0,
    }));
    // 3. Until every worker has finished or is lost.
    let mut commands_open = true;
    let mut handled_losses = 0usize;
    let mut stopping = false;
    let mut tick = tokio::time::interval(PUBLISH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            c = commands.recv(), if commands_open => match c {
                Some(c) => {
                    stopping |= c.is_stop();
                    inner.change(&c);
                }
                None => commands_open = false,
            },
            _ = inner.changed.notified() => {}
            _ = tick.tick() => {}
        }
        // Heartbeats: a worker silent too long is lost.
        let silent: Vec<usize> = {
            let b = inner.board.lock().expect("fleet board");
            b.slots
                .iter()
                .flatten()
                .filter(|s| {
                    matches!(s.view.state, WorkerState::Ready | WorkerState::Running)
                        && s.view.last_seen.elapsed() > HEARTBEAT_TIMEOUT
                })
                .map(|s| s.view.index)
                .collect()
        };
        for i in silent {
            inner.lose(
                i,
                &format!("no heartbeat for {}s", HEARTBEAT_TIMEOUT.as_secs()),
            );
        }
        let (lost, over): (Vec<(usize, String)>, usize) = {
            let b = inner.board.lock().expect("fleet board");
            let lost = b
                .slots
                .iter()
                .flatten()
                .filter(|s| s.view.state == WorkerState::Lost)
                .map(|s| (s.view.index, s.view.lost.clone().unwrap_or_default()))
                .collect();
            let over = b
                .slots
                .iter()
                .flatten()
                .filter(|s| matches!(s.view.state, WorkerState::Finished | WorkerState::Lost))
                .count();
            (lost, over)
        };
        for (i, why) in lost.iter().skip(handled_losses) {
            let policy = inner.settings.on_loss;
            let what = match policy {
                LossPolicy::Abort => "stopping the run (--on-worker-loss abort)",
                LossPolicy::Continue => "the others go on (--on-worker-loss continue)",
            };
            let mut b = inner.board.lock().expect("fleet board");
            inner.event(
                &mut b,
                EventKind::Other("fleet".into()),
                format!("worker {i} lost: {why}; {what}"),
            );
            drop(b);
            if policy == LossPolicy::Abort && !stopping {
                stopping = true;
                inner.change(&Command::Stop);
            }
        }
        handled_losses = lost.len();
        let merged = inner.merged();
        if !stopping {
            if let Some(why) = threshold_abort(&inner.settings.thresholds, &merged) {
                stopping = true;
                let mut b = inner.board.lock().expect("fleet board");
                inner.event(&mut b, EventKind::Abort, format!("aborted: {why}"));
                b.abort = Some(why);
                drop(b);
                inner.change(&Command::Stop);
            }
        }
        publish.send_replace(Arc::new(merged));
        if over == n {
            break;
        }
    }
    let mut last = inner.merged();
    last.state = RunState::Done;
    if let Some(skew) = Workers(inner.clone()).start_skew() {
        let mut b = inner.board.lock().expect("fleet board");
        inner.event(
            &mut b,
            EventKind::Other("fleet".into()),
            format!(
                "start skew {:.3} ms over {n} workers",
                skew.as_secs_f64() * 1000.0
            ),
        );
        drop(b);
        last = inner.merged();
        last.state = RunState::Done;
    }
    publish.send_replace(Arc::new(last.clone()));
    last
}

/// Why the run must stop, when an abort_on_fail threshold fails on the merged data
/// after its grace (as one process's aggregator decides on its own).
fn threshold_abort(specs: &[ThresholdSpec], s: &Snapshot) -> Option<String> {
    specs.iter().zip(&s.thresholds).find_map(|(spec, st)| {
        (spec.abort_on_fail && st.passed == Some(false) && s.run_time >= spec.abort_grace).then(
            || {
                format!(
                    "threshold '{}'{} failed: {}",
                    st.text,
                    st.endpoint
                        .as_ref()
                        .map_or(String::new(), |e| format!(" on {e}")),
                    st.shown
                )
            },
        )
    })
}

/// The run cannot start: the workers that came are told to stop; a partial, empty view.
fn give_up(inner: &Inner, publish: &watch::Sender<Arc<Snapshot>>, why: String) -> Snapshot {
    say!("volley: fleet: {why}");
    inner.change(&Command::Stop);
    let mut b = inner.board.lock().expect("fleet board");
    inner.event(&mut b, EventKind::Abort, format!("aborted: {why}"));
    drop(b);
    let mut s = inner.merged();
    s.state = RunState::Done;
    s.partial = true;
    s.abort = Some(why);
    publish.send_replace(Arc::new(s.clone()));
    s
}

/// Microseconds since the Unix epoch of a wall-clock time.
pub fn unix_us(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
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
