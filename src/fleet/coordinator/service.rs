//! The Fleet service: a worker's call, from its registration to its last snapshot.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::{observe, FleetService, Inner, Slot, WorkerState, WorkerView};
use crate::control::proto::{
    self, coordinator_message, worker_message, CoordinatorMessage, WorkerMessage,
};
use crate::control::{wire, PROTOCOL_VERSION};
use crate::fleet::protocol::{self, HISTOGRAM_SIGFIG};
use crate::state::EventKind;

impl Inner {
    /// Admits a worker or says why not; its index.
    pub(super) fn admit(&self, reg: &proto::Register) -> Result<usize, Status> {
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
        let phases = u32::from(crate::metrics::PHASE_SIGFIG);
        if reg.phase_histogram_sigfig != phases {
            return refuse(format!(
                "worker refused: its phase histograms keep {}, the coordinator's {phases} significant digits: the merge would not be exact (use the same build)",
                match reg.phase_histogram_sigfig {
                    0 => "an unknown number of (an older build)".to_string(),
                    n => n.to_string(),
                }
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

    /// [`Inner::with_slot`] for a decoded report: its histogram changes go into the
    /// merged sums under the same lock, so the sums always match the slots' snapshots.
    fn with_report(&self, index: usize, changes: Vec<wire::Changed>, f: impl FnOnce(&mut Slot)) {
        let mut b = self.board.lock().expect("fleet board");
        if let Some(s) = b.slots[index].as_mut() {
            s.view.last_seen = Instant::now();
            f(s);
            b.sums.apply(index, changes);
        }
        drop(b);
        self.changed.notify_one();
    }

    fn offset_ms(clock_us: i64) -> f64 {
        (clock_us - protocol::now_us()) as f64 / 1000.0
    }

    /// Reads a worker's messages until its call ends.
    async fn read(&self, index: usize, mut inbound: Streaming<WorkerMessage>) {
        // Lean: the whole-run histograms are added up from each report's changes.
        let mut decoder = wire::Decoder::lean();
        let lost = loop {
            let msg = match inbound.message().await {
                Ok(Some(m)) => m,
                Ok(None) => break "its connection ended before its results".to_string(),
                Err(s) => break format!("its connection failed: {}", s.message()),
            };
            match msg.msg {
                Some(worker_message::Msg::Ready(r)) => {
                    self.with_slot(index, |s| {
                        s.view.state = WorkerState::Ready;
                        s.view.clock_offset_ms = Self::offset_ms(r.clock_unix_us);
                    });
                    if r.preconnect_wanted > 0 {
                        let detail = format!(
                            "worker {index} ready: {} of {} connections open for its {} VUs",
                            r.preconnected, r.preconnect_wanted, r.preconnect_vus
                        );
                        let mut b = self.board.lock().expect("fleet board");
                        self.event(&mut b, EventKind::Other("fleet".into()), detail);
                    }
                }
                Some(worker_message::Msg::Report(r)) => {
                    self.count(r.snapshot_json.len());
                    match decoder.decode(&r.snapshot_json) {
                        Ok(snap) => self.with_report(index, decoder.take_changes(), |s| {
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
                        Ok(snap) => self.with_report(index, decoder.take_changes(), |s| {
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
    pub(super) fn lose(&self, index: usize, why: &str) {
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
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
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
