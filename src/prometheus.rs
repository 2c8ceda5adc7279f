//! `--prometheus ADDR`: live metrics in the Prometheus text exposition format (0.0.4) on
//! `http://ADDR/metrics` while the run lasts, served from the engine's latest snapshot
//! by a small hyper server on a thread of its own; after the run it keeps serving the
//! final (`done`) snapshot for `--prometheus-grace` (default 15 s; until `q` in the
//! console, Ctrl-C headless) so that a last scrape sees how the run ended.
//!
//! The metrics (labels `endpoint` and `method` on the per-endpoint ones; no "total"
//! series: sum them in PromQL) are the families of `exposition::FAMILIES`; the table of
//! them for users is in docs/reports.md, which a test keeps in step with it.

mod exposition;

pub use exposition::render;

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener as StdListener, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::{oneshot, watch};

use crate::engine::Signals;
use crate::error::Error;
use crate::metrics::{RunState, Snapshot};
use crate::scenario::format_duration;

/// Default port (the one registered for this kind of exporter is arbitrary; 9464 is
/// the OpenTelemetry Prometheus exporter's).
pub const DEFAULT_PORT: u16 = 9464;

/// Upper bounds of the latency histogram's buckets, seconds.
pub const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// Quantiles published from the HDR histograms.
pub const QUANTILES: &[f64] = &[0.5, 0.9, 0.95, 0.99, 0.999];

/// Parses `--prometheus`: `HOST:PORT`, `:PORT` or `PORT` (the last two on 127.0.0.1).
pub fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    let t = s.trim();
    let spec = if let Ok(port) = t.parse::<u16>() {
        format!("127.0.0.1:{port}")
    } else if let Some(port) = t.strip_prefix(':') {
        format!("127.0.0.1:{port}")
    } else {
        t.to_string()
    };
    spec.to_socket_addrs()
        .map_err(|e| format!("'{s}' is not an address like 127.0.0.1:{DEFAULT_PORT} ({e})"))?
        .next()
        .ok_or_else(|| format!("'{s}' resolves to no address"))
}

/// A bound (not yet serving) exporter.
#[derive(Debug)]
pub struct Exporter {
    listener: StdListener,
    addr: SocketAddr,
}

impl Exporter {
    /// Binds now (before the run starts), so a busy port is reported at once: a bad
    /// address is bad input (exit 2), a failed bind a run-time failure (exit 1).
    pub fn bind(spec: &str) -> Result<Exporter, Error> {
        let addr = parse_addr(spec).map_err(|m| Error::Usage(format!("--prometheus: {m}")))?;
        let listener = StdListener::bind(addr)
            .map_err(|e| Error::io(format!("--prometheus: cannot listen on {addr}"), e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("--prometheus", e))?;
        let addr = listener.local_addr().unwrap_or(addr);
        Ok(Exporter { listener, addr })
    }

    /// The address it listens on (the real port when bound to port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/metrics`.
    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }

    /// Serves on the current tokio runtime until the runtime shuts down.
    pub fn spawn(self, snapshots: watch::Receiver<Arc<Snapshot>>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(serve(self.listener, snapshots))
    }

    /// Serves on a thread and runtime of its own, so that it outlives the run: from
    /// [`Attach::run`] on it serves the run's snapshots; once the run has ended (its
    /// final `done` snapshot published) it keeps serving for `grace` so a last scrape
    /// sees the end, then stops, or earlier on [`Serving::stop`], Ctrl-C or SIGTERM (no
    /// grace at all when a signal stopped the run).
    pub fn start(self, grace: Duration) -> Result<(Serving, Attach), Error> {
        let (attach_tx, attach_rx) = oneshot::channel::<watch::Receiver<Arc<Snapshot>>>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (ended_tx, ended_rx) = std::sync::mpsc::channel::<()>();
        let url = self.url();
        let listener = self.listener;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io("--prometheus: cannot start the exporter", e))?;
        // Listened for from now, before the run starts: a signal that stops the run while
        // it comes up must end the exporter's grace too.
        let signals = Signals::listen_on(&rt);
        let thread = std::thread::Builder::new()
            .name("volley-prometheus".into())
            .spawn(move || {
                rt.block_on(async move {
                    let feed = Feed::default();
                    tokio::select! {
                        _ = serve_feed(listener, feed.clone()) => {}
                        _ = stop_rx => {}
                        _ = lifecycle(attach_rx, feed, grace, ended_tx, signals) => {}
                    }
                });
                rt.shutdown_timeout(Duration::from_millis(100));
            })
            .map_err(|e| Error::io("--prometheus: cannot start the exporter", e))?;
        Ok((
            Serving {
                url,
                grace,
                stop: Some(stop_tx),
                ended: ended_rx,
                thread: Some(thread),
            },
            Attach(Some(attach_tx)),
        ))
    }
}

/// Hands a run's snapshots to a [`Serving`] exporter (see [`Exporter::start`]).
#[derive(Debug)]
pub struct Attach(Option<oneshot::Sender<watch::Receiver<Arc<Snapshot>>>>);

impl Attach {
    pub fn run(mut self, handle: &crate::engine::EngineHandle) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(handle.snapshots.clone());
        }
    }
}

/// An exporter serving on its own thread (see [`Exporter::start`]).
#[derive(Debug)]
pub struct Serving {
    url: String,
    grace: Duration,
    stop: Option<oneshot::Sender<()>>,
    /// Says when the run ended (the grace period began); closed when serving stopped.
    ended: std::sync::mpsc::Receiver<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Serving {
    /// After a headless run: keeps serving out the grace period (saying so), then stops.
    pub fn linger(mut self) {
        if self.grace.is_zero() {
            return self.stop();
        }
        // The run's end reaches the exporter within moments; when serving has already
        // stopped, the channel is closed.
        if self.ended.recv_timeout(Duration::from_secs(2)).is_ok() {
            say!(
                "volley: Prometheus metrics stay on {} for {} for a last scrape (Ctrl-C to stop now, --prometheus-grace 0 to skip)",
                self.url,
                format_duration(self.grace)
            );
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Stops serving now (the console's `q`).
    pub fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// What the exporter serves: nothing before the run starts, then the run's snapshots.
type Feed = Arc<std::sync::Mutex<Option<watch::Receiver<Arc<Snapshot>>>>>;

/// Takes the run's snapshots when it starts, waits for its end, then for `grace` (or
/// Ctrl-C/SIGTERM). A run stopped by a signal gets no grace: whoever sent it wants
/// volley gone (a CI runner's cancel, a service manager, Ctrl-C).
async fn lifecycle(
    attach: oneshot::Receiver<watch::Receiver<Arc<Snapshot>>>,
    feed: Feed,
    grace: Duration,
    ended: std::sync::mpsc::Sender<()>,
    mut signals: Signals,
) {
    let Ok(mut rx) = attach.await else {
        // No run will start: nothing to serve.
        return;
    };
    *feed.lock().unwrap_or_else(|p| p.into_inner()) = Some(rx.clone());
    let mut signalled = false;
    // The run has ended when its final snapshot says so, or when the engine is gone.
    loop {
        if rx.borrow_and_update().state == RunState::Done {
            break;
        }
        tokio::select! {
            biased;
            _ = signals.recv() => signalled = true,
            r = rx.changed() => if r.is_err() { break },
        }
    }
    // The signal that stopped the run is delivered before the final snapshot exists, but
    // both can be ready at once: look at the signals once more before granting the grace.
    if !signalled {
        tokio::select! {
            biased;
            _ = signals.recv() => signalled = true,
            _ = std::future::ready(()) => {}
        }
    }
    if grace.is_zero() || signalled {
        return;
    }
    let _ = ended.send(());
    tokio::select! {
        _ = tokio::time::sleep(grace) => {}
        _ = signals.recv() => {}
    }
}

async fn serve(listener: StdListener, snapshots: watch::Receiver<Arc<Snapshot>>) {
    serve_feed(listener, Arc::new(std::sync::Mutex::new(Some(snapshots)))).await
}

async fn serve_feed(listener: StdListener, feed: Feed) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let feed = feed.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req: Request<Incoming>| {
                let snap = feed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .as_ref()
                    .map(|rx| rx.borrow().clone());
                async move {
                    Ok::<_, Infallible>(match snap {
                        Some(snap) => respond(&req, &snap),
                        None => text_response(
                            503,
                            "text/plain; charset=utf-8",
                            "the run has not started yet\n".into(),
                        ),
                    })
                }
            });
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn text_response(status: u16, ctype: &str, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", ctype)
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

fn respond(req: &Request<Incoming>, snap: &Snapshot) -> Response<Full<Bytes>> {
    let text = text_response;
    match (req.method().as_str(), req.uri().path()) {
        ("GET" | "HEAD", "/metrics") => text(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            render(snap),
        ),
        ("GET" | "HEAD", "/") => text(
            200,
            "text/html; charset=utf-8",
            "<html><body><h1>volley</h1><p><a href=\"/metrics\">/metrics</a></p></body></html>\n"
                .into(),
        ),
        ("GET" | "HEAD", _) => text(
            404,
            "text/plain; charset=utf-8",
            "not found: try /metrics\n".into(),
        ),
        _ => text(
            405,
            "text/plain; charset=utf-8",
            "method not allowed\n".into(),
        ),
    }
}

/// How long `--prometheus` keeps serving after the run ends, by default: a scrape
/// interval (Prometheus defaults to 15 s), so the next scrape sees `done`.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(15);

/// `--prometheus`: binds the exporter before the run, starts serving (see
/// [`Exporter::start`]) and says where on stderr.
pub fn for_run(spec: Option<&str>, grace: Duration) -> Result<Option<(Serving, Attach)>, Error> {
    let Some(spec) = spec else {
        return Ok(None);
    };
    let e = Exporter::bind(spec)?;
    let url = e.url();
    let started = e.start(grace)?;
    say!("volley: Prometheus metrics on {url}");
    Ok(Some(started))
}

/// Hands a run's snapshots to the exporter, if there is one.
pub fn serve_run(attach: Option<Attach>, handle: &crate::engine::EngineHandle) {
    if let Some(a) = attach {
        a.run(handle);
    }
}
