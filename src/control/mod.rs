//! The control API every run serves: a gRPC service (tonic + prost, protocol in
//! proto/volley/control/v1/control.proto) on a Unix socket in the per-user run directory,
//! and on TCP when `--control ADDR` asks (a token always, TLS off loopback). `volley ctl`
//! and `volley ls` are its command-line clients. The engine does not know it is remote:
//! the service translates messages to the engine's `Command`s and its snapshots to
//! messages (`convert`, `wire`).

pub mod auth;
pub mod client;
pub mod convert;
pub mod ctl;
mod listen;
pub mod proto;
pub mod rundir;
pub mod server;
pub mod tls;
pub mod wire;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, oneshot, watch};

use crate::engine::{Command, EngineHandle};
use crate::metrics::Snapshot;
use crate::scenario::Plan;
use rundir::{Meta, MetaOutcome, RunDir};

/// The protocol version this volley speaks (the `v1` of the proto package).
pub const PROTOCOL_VERSION: u32 = 1;

/// `--control`: where the run serves its control API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlSpec {
    /// No control API at all.
    Off,
    /// The Unix socket in the run directory (the default).
    Local,
    /// The Unix socket and this TCP address.
    Tcp(SocketAddr),
}

/// Parses `--control`: `off`, `local`, or an address (`127.0.0.1:7600`, `:7600`, `7600`).
pub fn parse_control(s: &str) -> Result<ControlSpec, String> {
    match s.trim() {
        "off" | "none" => Ok(ControlSpec::Off),
        "local" | "unix" | "" => Ok(ControlSpec::Local),
        t => crate::prometheus::parse_addr(t)
            .map(ControlSpec::Tcp)
            .map_err(|e| e.replace("9464", "7600")),
    }
}

/// The control flags of a run.
#[derive(Debug, Clone)]
pub struct ControlOptions {
    pub spec: ControlSpec,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub self_signed: bool,
    /// `console`, `headless` or `detached` (for `volley ls`).
    pub mode: &'static str,
    /// The TCP listener's token, when the caller has one (a fleet coordinator's
    /// `--token-file`); a new random one otherwise.
    pub token: Option<String>,
    /// More gRPC services on the TCP listener (a coordinator's Fleet service), each
    /// behind its own token check.
    pub routes: Option<tonic::service::Routes>,
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// A bad flag or a refused configuration (exit 2).
    #[error("--control: {0}")]
    Usage(String),
    #[error(transparent)]
    RunDir(#[from] rundir::RunDirError),
    #[error("--control: cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

impl ControlError {
    /// As volley's error: a port that cannot be bound is an I/O failure (exit 1), the
    /// rest is bad input (exit 2).
    pub fn into_error(self) -> crate::error::Error {
        match self {
            ControlError::Bind { .. } => crate::error::Error::Io {
                context: self.to_string(),
                source: std::io::Error::other("bind"),
            },
            e => crate::error::Error::Usage(e.to_string()),
        }
    }
}

/// The engine's side of a run, as the control thread gets it once the engine starts.
type EngineSide = (
    tokio::sync::mpsc::UnboundedSender<Command>,
    watch::Receiver<Arc<Snapshot>>,
);

/// A run's control host: its run directory entry and the thread serving the API (on its
/// own runtime, so it outlives the engine's and never competes with it for a worker).
pub struct Host {
    pub dir: RunDir,
    meta: Meta,
    outcome: watch::Sender<Option<proto::Outcome>>,
    start: Option<oneshot::Sender<EngineSide>>,
    shutdown: Option<oneshot::Sender<()>>,
    stopped: std::sync::mpsc::Receiver<()>,
    finished: bool,
}

impl Host {
    /// Creates the run's folder and binds its listeners, before any request is sent: a
    /// refused configuration or a busy port stops the run here.
    pub fn prepare(plan: &Plan, opts: &ControlOptions) -> Result<Option<Host>, ControlError> {
        if opts.spec == ControlSpec::Off {
            return Ok(None);
        }
        // Check the TCP configuration before anything is created.
        let tcp = match &opts.spec {
            ControlSpec::Tcp(addr) => Some((*addr, tcp_tls(*addr, opts)?)),
            _ => None,
        };
        let dir = match RunDir::create() {
            Ok(d) => d,
            // A run directory that cannot be made (a read-only home) costs the local API,
            // not the run; one that others could enter is refused.
            Err(rundir::RunDirError::Io { path, source }) if tcp.is_none() => {
                say!(
                    "volley: no control API for this run: run directory '{}': {source} (set VOLLEY_RUN_DIR, or --control off)",
                    path.display()
                );
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let sock_path = dir.socket();
        let unix = std::os::unix::net::UnixListener::bind(&sock_path).map_err(|source| {
            ControlError::Bind {
                addr: sock_path.display().to_string(),
                source,
            }
        })?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&sock_path, std::fs::Permissions::from_mode(0o600)).map_err(
            |source| ControlError::Bind {
                addr: sock_path.display().to_string(),
                source,
            },
        )?;
        unix.set_nonblocking(true)
            .map_err(|source| ControlError::Bind {
                addr: sock_path.display().to_string(),
                source,
            })?;
        let mut token = None;
        let tcp = match tcp {
            Some((addr, tls)) => {
                let l = std::net::TcpListener::bind(addr).map_err(|source| ControlError::Bind {
                    addr: addr.to_string(),
                    source,
                })?;
                l.set_nonblocking(true)
                    .map_err(|source| ControlError::Bind {
                        addr: addr.to_string(),
                        source,
                    })?;
                let bound = l.local_addr().unwrap_or(addr);
                let t = opts.token.clone().unwrap_or_else(auth::new_token);
                dir.write_private(rundir::TOKEN, t.as_bytes())?;
                token = Some(t);
                Some((l, bound, tls))
            }
            None => None,
        };
        let meta = Meta {
            id: dir.id.clone(),
            pid: std::process::id(),
            volley_version: env!("CARGO_PKG_VERSION").into(),
            protocol_version: PROTOCOL_VERSION,
            scenario: plan.name.clone(),
            target: convert::target(plan),
            started_unix_ms: rundir::now_ms(),
            mode: opts.mode.into(),
            tcp: tcp.as_ref().map(|(_, a, tls)| match tls {
                Some(_) => format!("https://{a}"),
                None => format!("http://{a}"),
            }),
            tls_fingerprint: tcp
                .as_ref()
                .and_then(|(_, _, tls)| tls.as_ref().map(|t| t.fingerprint.clone())),
            ended_unix_ms: None,
            outcome: None,
        };
        dir.write_meta(&meta)?;
        say!(
            "volley: run {} (volley ctl {} status; volley ls)",
            dir.id,
            dir.id
        );
        if let (Some((_, addr, tls)), Some(t)) = (&tcp, &token) {
            let scheme = if tls.is_some() { "https" } else { "http" };
            match opts.token {
                Some(_) => say!(
                    "volley: control API on {scheme}://{addr}; its token in {}",
                    dir.file(rundir::TOKEN).display()
                ),
                None => say!(
                    "volley: control API on {scheme}://{addr}; token (shown once, also in {}): {t}",
                    dir.file(rundir::TOKEN).display()
                ),
            }
            if let Some(tls) = tls {
                say!(
                    "volley: control TLS certificate SHA-256 {}",
                    tls.fingerprint
                );
            }
        }
        let hello = proto::HelloReply {
            protocol_version: PROTOCOL_VERSION,
            volley_version: env!("CARGO_PKG_VERSION").into(),
            run_id: dir.id.clone(),
            scenario: plan.name.clone(),
            target: meta.target.clone(),
            plan: convert::plan_summary(plan),
            started_unix_ms: meta.started_unix_ms,
            pid: meta.pid,
            status: None,
            scenario_text: crate::report::RunInfo::of(plan).scenario_text,
            endpoints: plan
                .endpoints
                .iter()
                .map(|e| proto::Endpoint {
                    name: e.name.clone(),
                    method: e.method.to_string(),
                })
                .collect(),
        };
        let (outcome_tx, outcome_rx) = watch::channel(None);
        let (start_tx, start_rx) = oneshot::channel::<EngineSide>();
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let (stopped_tx, stopped_rx) = std::sync::mpsc::channel();
        let run_id = dir.id.clone();
        let tcp = tcp.map(|(l, _, tls)| {
            (
                l,
                tls.map(|t| t.config),
                token.unwrap_or_default(),
                opts.routes.clone(),
            )
        });
        std::thread::Builder::new()
            .name("volley-control".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(serve(
                        run_id,
                        hello,
                        unix,
                        tcp,
                        outcome_rx,
                        start_rx,
                        shutdown_rx,
                    ));
                }
                let _ = stopped_tx.send(());
            })
            .map_err(|source| ControlError::Bind {
                addr: "control thread".into(),
                source,
            })?;
        Ok(Some(Host {
            dir,
            meta,
            outcome: outcome_tx,
            start: Some(start_tx),
            shutdown: Some(shutdown_tx),
            stopped: stopped_rx,
            finished: false,
        }))
    }

    /// The TCP listener's URL (`http://127.0.0.1:41234`), when the run has one.
    pub fn tcp_url(&self) -> Option<&str> {
        self.meta.tcp.as_deref()
    }

    /// What to call with the engine's handle once it has started (the API serves from
    /// then on).
    pub fn starter(&mut self) -> impl FnOnce(&EngineHandle) + Send + 'static {
        let start = self.start.take();
        move |h: &EngineHandle| {
            if let Some(s) = start {
                let _ = s.send((h.commands.clone(), h.snapshots.clone()));
            }
        }
    }

    /// The run has ended and its results are written: keeps the result document in the
    /// run directory, records the outcome, answers `Wait`, and stops serving (in-flight
    /// calls get a moment to finish).
    pub fn finish(&mut self, code: i32, reason: &str, doc: &crate::report::ResultDoc) {
        self.finished = true;
        let mut json = Vec::new();
        if crate::report::write_json(doc, &mut json).is_ok() {
            if let Err(e) = self.dir.write_private(rundir::RESULT, &json) {
                say!("volley: {e}");
            }
        }
        let t = &doc.totals;
        self.meta.ended_unix_ms = Some(rundir::now_ms());
        self.meta.outcome = Some(MetaOutcome {
            exit_code: code,
            reason: reason.into(),
            run_time_s: doc.duration_s,
            vus: doc.vus_max,
            requests: t.requests,
            rps: t.rps,
            error_rate: t.error_rate,
        });
        if let Err(e) = self.dir.write_meta(&self.meta) {
            say!("volley: {e}");
        }
        let _ = self.outcome.send(Some(proto::Outcome {
            exit_code: code,
            reason: reason.into(),
            partial: doc.partial,
        }));
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
            let _ = self.stopped.recv_timeout(Duration::from_secs(1));
        }
        let _ = std::fs::remove_file(self.dir.socket());
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if !self.finished {
            // Ended without results (an error before the run): say so in the metadata.
            self.meta.ended_unix_ms = Some(rundir::now_ms());
            self.meta.outcome = Some(MetaOutcome {
                exit_code: crate::error::exit::FAILURE,
                reason: "volley stopped before the run's results were written".into(),
                run_time_s: 0.0,
                vus: 0,
                requests: 0,
                rps: 0.0,
                error_rate: 0.0,
            });
            let _ = self.dir.write_meta(&self.meta);
            let _ = self.outcome.send(Some(proto::Outcome {
                exit_code: crate::error::exit::FAILURE,
                reason: "volley stopped before the run's results were written".into(),
                partial: true,
            }));
        }
        self.stop();
    }
}

/// The TLS a TCP address gets: required off loopback (refused without it), optional on it.
fn tcp_tls(
    addr: SocketAddr,
    opts: &ControlOptions,
) -> Result<Option<tls::ServerTls>, ControlError> {
    let tls = match (&opts.cert, &opts.key, opts.self_signed) {
        (Some(c), Some(k), _) => Some(tls::from_files(c, k).map_err(ControlError::Usage)?),
        (Some(_), None, _) | (None, Some(_), _) => {
            return Err(ControlError::Usage(
                "--control-cert and --control-key go together".into(),
            ))
        }
        (None, None, true) => {
            Some(tls::self_signed(&addr.ip().to_string()).map_err(ControlError::Usage)?)
        }
        (None, None, false) => None,
    };
    if tls.is_none() && !addr.ip().is_loopback() {
        return Err(ControlError::Usage(format!(
            "{addr} is not a loopback address: the control API there needs TLS (--control-cert FILE --control-key FILE, or --control-self-signed); refusing to start"
        )));
    }
    Ok(tls)
}

type TcpSide = (
    std::net::TcpListener,
    Option<Arc<rustls::ServerConfig>>,
    String,
    Option<tonic::service::Routes>,
);

/// The control thread: waits for the engine, then serves until told to stop.
async fn serve(
    run_id: String,
    hello: proto::HelloReply,
    unix: std::os::unix::net::UnixListener,
    tcp: Option<TcpSide>,
    outcome: watch::Receiver<Option<proto::Outcome>>,
    start: oneshot::Receiver<EngineSide>,
    shutdown: oneshot::Receiver<()>,
) {
    let Ok((commands, snapshots)) = start.await else {
        return;
    };
    let (events, _) = broadcast::channel(256);
    let failures = Arc::new(AtomicU64::new(0));
    let shared = Arc::new(server::Shared {
        run_id,
        hello,
        commands,
        snapshots,
        outcome,
        control_events: events,
        control_log: Mutex::new(Vec::new()),
        auth_failures: failures.clone(),
    });
    let (stop_tx, _) = broadcast::channel::<()>(1);
    let mut servers = Vec::new();
    if let Ok(l) = tokio::net::UnixListener::from_std(unix) {
        let svc = server::compressed(proto::control_server::ControlServer::new(server::Service {
            shared: shared.clone(),
            transport: "local",
        }));
        let mut stop = stop_tx.subscribe();
        servers.push(tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(svc)
                .serve_with_incoming_shutdown(listen::unix(l), async move {
                    let _ = stop.recv().await;
                }),
        ));
    }
    if let Some((l, tls, token, routes)) = tcp {
        if let Ok(l) = tokio::net::TcpListener::from_std(l) {
            let svc = tonic::service::interceptor::InterceptedService::new(
                server::compressed(proto::control_server::ControlServer::new(server::Service {
                    shared: shared.clone(),
                    transport: "tcp",
                })),
                auth::TokenCheck::new(&token, failures),
            );
            let mut stop = stop_tx.subscribe();
            let mut builder = tonic::transport::Server::builder();
            let router = match routes {
                Some(r) => builder.add_routes(r).add_service(svc),
                None => builder.add_service(svc),
            };
            servers.push(tokio::spawn(router.serve_with_incoming_shutdown(
                listen::tcp(l, tls),
                async move {
                    let _ = stop.recv().await;
                },
            )));
        }
    }
    let _ = shutdown.await;
    let _ = stop_tx.send(());
    // In-flight calls (a Wait, the last Watch update) finish; a stuck client does not
    // hold the process.
    let _ = tokio::time::timeout(Duration::from_millis(800), async {
        for s in servers {
            let _ = s.await;
        }
    })
    .await;
}

/// Decodes a `CommandRequest` as the server does (for the fuzz target).
pub fn decode_command(bytes: &[u8]) -> Result<proto::CommandRequest, prost::DecodeError> {
    <proto::CommandRequest as prost::Message>::decode(bytes)
}
