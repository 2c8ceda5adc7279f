//! The gRPC service: a thin adapter from the protocol to the engine's command channel and
//! snapshot watch. Authentication is not here: the TCP listener wraps this service in the
//! token interceptor (`auth`), the Unix socket checks its peer's uid when it accepts.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::proto::{self, control_server::Control};
use super::{convert, wire, PROTOCOL_VERSION};
use crate::engine::Command;
use crate::metrics::{RunState, Snapshot};

/// What every connection of one run shares.
pub struct Shared {
    pub run_id: String,
    /// The static part of `Hello` (its status is filled in per call).
    pub hello: proto::HelloReply,
    pub commands: mpsc::UnboundedSender<Command>,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    /// Set once the run has ended and its results are written.
    pub outcome: watch::Receiver<Option<proto::Outcome>>,
    pub control_events: broadcast::Sender<proto::ControlEvent>,
    pub control_log: Mutex<Vec<proto::ControlEvent>>,
    pub auth_failures: Arc<AtomicU64>,
}

/// The service as one transport serves it; `transport` ("local" or "tcp") labels the
/// senders of commands in the events.
#[derive(Clone)]
pub struct Service {
    pub shared: Arc<Shared>,
    pub transport: &'static str,
}

/// Refuses a request of another protocol version, naming both.
pub fn check_version(v: u32) -> Result<(), Status> {
    if v == PROTOCOL_VERSION {
        return Ok(());
    }
    Err(Status::failed_precondition(format!(
        "control protocol mismatch: this run speaks v{PROTOCOL_VERSION} (volley {}), the client v{v}: use the same volley version as the run",
        env!("CARGO_PKG_VERSION")
    )))
}

/// A sender label as it goes into events: printable, at most 64 characters.
fn label(s: &str, transport: &str) -> String {
    let clean: String = s.chars().filter(|c| !c.is_control()).take(64).collect();
    let clean = if clean.trim().is_empty() {
        "client".to_string()
    } else {
        clean
    };
    format!("{clean} ({transport})")
}

impl Shared {
    pub fn status(&self) -> proto::RunStatus {
        let snap = self.snapshots.borrow().clone();
        let mut st = convert::status(&snap);
        st.run_id = self.run_id.clone();
        st.outcome = self.outcome.borrow().clone();
        st.auth_failures = self.auth_failures.load(Ordering::Relaxed);
        st
    }

    fn update(
        &self,
        snap: &Snapshot,
        events: Vec<proto::ControlEvent>,
        enc: &mut Option<wire::Encoder>,
    ) -> proto::WatchUpdate {
        let mut st = convert::status(snap);
        st.run_id = self.run_id.clone();
        st.outcome = self.outcome.borrow().clone();
        st.auth_failures = self.auth_failures.load(Ordering::Relaxed);
        proto::WatchUpdate {
            status: Some(st),
            snapshot_json: match enc {
                Some(e) => e.encode(snap),
                None => wire::encode(snap),
            },
            control_events: events,
        }
    }
}

/// The service with gzip both ways for the clients that accept it (a console's snapshot
/// stream is JSON with repeated keys: gzip takes about half of it off the wire).
pub fn compressed(
    svc: proto::control_server::ControlServer<Service>,
) -> proto::control_server::ControlServer<Service> {
    use tonic::codec::CompressionEncoding::Gzip;
    svc.send_compressed(Gzip).accept_compressed(Gzip)
}

type WatchStream =
    Pin<Box<dyn tokio_stream::Stream<Item = Result<proto::WatchUpdate, Status>> + Send>>;

#[tonic::async_trait]
impl Control for Service {
    async fn hello(
        &self,
        req: Request<proto::HelloRequest>,
    ) -> Result<Response<proto::HelloReply>, Status> {
        check_version(req.get_ref().version)?;
        let mut hello = self.shared.hello.clone();
        hello.status = Some(self.shared.status());
        Ok(Response::new(hello))
    }

    async fn command(
        &self,
        req: Request<proto::CommandRequest>,
    ) -> Result<Response<proto::CommandReply>, Status> {
        let req = req.into_inner();
        check_version(req.version)?;
        let cmd = req
            .command
            .ok_or_else(|| Status::invalid_argument("no command in the request"))?;
        let snap = self.shared.snapshots.borrow().clone();
        if snap.state == RunState::Done || self.shared.outcome.borrow().is_some() {
            return Err(Status::failed_precondition("the run has ended"));
        }
        let (commands, applied) = convert::command(&cmd, &snap)?;
        let sender = label(&req.sender, self.transport);
        for c in commands {
            self.shared
                .commands
                .send(Command::By {
                    sender: sender.clone(),
                    command: Box::new(c),
                })
                .map_err(|_| Status::failed_precondition("the run has ended"))?;
        }
        let event = proto::ControlEvent {
            t: snap.elapsed.as_secs_f64(),
            sender,
            applied: applied.clone(),
        };
        {
            let mut log = self
                .shared
                .control_log
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            // Bounded: a script's thousand commands do not grow the run's memory forever.
            if log.len() >= 1000 {
                log.remove(0);
            }
            log.push(event.clone());
        }
        let _ = self.shared.control_events.send(event);
        Ok(Response::new(proto::CommandReply {
            applied,
            status: Some(self.shared.status()),
        }))
    }

    async fn status(
        &self,
        req: Request<proto::StatusRequest>,
    ) -> Result<Response<proto::RunStatus>, Status> {
        check_version(req.get_ref().version)?;
        Ok(Response::new(self.shared.status()))
    }

    type WatchStream = WatchStream;

    async fn watch(
        &self,
        req: Request<proto::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        check_version(req.get_ref().version)?;
        let mut enc = req.get_ref().deltas.then(wire::Encoder::default);
        let every_ms = req.get_ref().every_ms;
        let shared = self.shared.clone();
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            let mut snaps = shared.snapshots.clone();
            let mut outcome = shared.outcome.clone();
            let mut events = shared.control_events.subscribe();
            // First: the whole picture, with every control event so far.
            let log = shared
                .control_log
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            let first = {
                let snap = snaps.borrow_and_update().clone();
                shared.update(&snap, log, &mut enc)
            };
            if tx.send(Ok(first)).await.is_err() {
                return;
            }
            let mut pending = Vec::new();
            let every = std::time::Duration::from_millis(u64::from(every_ms.min(60_000)));
            let mut last_sent = tokio::time::Instant::now();
            // A snapshot came that is not sent yet (too soon after the last update).
            let mut due = false;
            loop {
                let ended = outcome.borrow().is_some();
                if ended {
                    let snap = snaps.borrow().clone();
                    let _ = tx.send(Ok(shared.update(&snap, pending, &mut enc))).await;
                    return;
                }
                tokio::select! {
                    changed = snaps.changed() => {
                        if changed.is_err() {
                            // The engine is gone: wait for the outcome (or the end of
                            // the process).
                            if outcome.changed().await.is_err() {
                                return;
                            }
                            continue;
                        }
                        if last_sent.elapsed() < every {
                            snaps.borrow_and_update();
                            due = true;
                            continue;
                        }
                        let snap = snaps.borrow_and_update().clone();
                        let update = shared.update(&snap, std::mem::take(&mut pending), &mut enc);
                        if tx.send(Ok(update)).await.is_err() {
                            return;
                        }
                        last_sent = tokio::time::Instant::now();
                    }
                    _ = tokio::time::sleep_until(last_sent + every), if due => {
                        due = false;
                        let snap = snaps.borrow().clone();
                        let update = shared.update(&snap, std::mem::take(&mut pending), &mut enc);
                        if tx.send(Ok(update)).await.is_err() {
                            return;
                        }
                        last_sent = tokio::time::Instant::now();
                    }
                    e = events.recv() => match e {
                        Ok(e) => pending.push(e),
                        Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => {}
                    },
                    changed = outcome.changed() => {
                        if changed.is_err() {
                            return;
                        }
                    }
                    _ = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn wait(
        &self,
        req: Request<proto::WaitRequest>,
    ) -> Result<Response<proto::WaitReply>, Status> {
        check_version(req.get_ref().version)?;
        let mut outcome = self.shared.outcome.clone();
        let got = outcome
            .wait_for(|o| o.is_some())
            .await
            .map_err(|_| Status::unavailable("the run ended without an outcome"))?
            .clone();
        Ok(Response::new(proto::WaitReply {
            outcome: got,
            status: Some(self.shared.status()),
        }))
    }
}
