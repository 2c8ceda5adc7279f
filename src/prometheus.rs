//! `--prometheus ADDR`: live metrics in the Prometheus text exposition format (0.0.4) on
//! `http://ADDR/metrics` while the run lasts, served from the engine's latest snapshot
//! by a small hyper server on a thread of its own; after the run it keeps serving the
//! final (`done`) snapshot for `--prometheus-grace` (default 15 s; until `q` in the
//! console, Ctrl-C headless) so that a last scrape sees how the run ended.
//!
//! Metrics (labels `endpoint` and `method` on the per-endpoint ones; no "total" series:
//! sum them in PromQL):
//!
//! | metric | type | meaning |
//! | --- | --- | --- |
//! | `volley_requests_total` | counter | requests finished (ok and errors) |
//! | `volley_responses_total{status}` | counter | responses by HTTP status |
//! | `volley_errors_total{kind}` | counter | errors by kind (`timeout`, `http_503`, ...) |
//! | `volley_retries_total{reason}` | counter | attempts dropped unanswered on a reused connection and sent again (`closed_before_response`, `reset_before_response`): `requests + retries` reached the server |
//! | `volley_bytes_received_total` | counter | response body bytes |
//! | `volley_request_duration_seconds` | histogram | latency, cumulative buckets |
//! | `volley_request_duration_quantile_seconds{quantile}` | gauge | exact HDR percentiles over the run |
//! | `volley_requests_per_second` | gauge | throughput over the last second |
//! | `volley_vus`, `volley_vus_target` | gauge | active and target VUs |
//! | `volley_in_flight` | gauge | requests in flight |
//! | `volley_connections_open`, `volley_connections_opened_total` | gauge, counter | connections (the open gauge is absent when unknown: the reqwest client ran) |
//! | `volley_arrival_rate` | gauge | open model: iterations started per second (target) |
//! | `volley_dropped_iterations_total` | counter | open model: iterations dropped (VUs busy) |
//! | `volley_run_state{state}` | gauge | 1 for the current state |
//! | `volley_elapsed_seconds` | gauge | wall time since the start |
//! | `volley_threshold_passed{threshold,endpoint}` | gauge | 1 passing, 0 failing (absent while pending) |
//! | `volley_threshold_value{threshold,endpoint}` | gauge | the thresholded metric's value now |
//! | `volley_thresholds_failed` | gauge | number of failing thresholds |
//! | `volley_info{scenario,version}` | gauge | always 1 |

use std::convert::Infallible;
use std::fmt::Write as _;
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
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{oneshot, watch};

use crate::error::Error;
use crate::headless::recv;
use crate::metrics::verdict::ThresholdStatus;
use crate::metrics::{EndpointStats, RunState, Snapshot};
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
        let thread = std::thread::Builder::new()
            .name("volley-prometheus".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    let feed = Feed::default();
                    tokio::select! {
                        _ = serve_feed(listener, feed.clone()) => {}
                        _ = stop_rx => {}
                        _ = lifecycle(attach_rx, feed, grace, ended_tx) => {}
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
) {
    let Ok(mut rx) = attach.await else {
        // No run will start: nothing to serve.
        return;
    };
    *feed.lock().unwrap_or_else(|p| p.into_inner()) = Some(rx.clone());
    let mut int = signal(SignalKind::interrupt()).ok();
    let mut term = signal(SignalKind::terminate()).ok();
    let mut hup = signal(SignalKind::hangup()).ok();
    let mut signalled = false;
    // The run has ended when its final snapshot says so, or when the engine is gone.
    loop {
        if rx.borrow_and_update().state == RunState::Done {
            break;
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { break },
            _ = recv(&mut int) => signalled = true,
            _ = recv(&mut term) => signalled = true,
            _ = recv(&mut hup) => signalled = true,
        }
    }
    if grace.is_zero() || signalled {
        return;
    }
    let _ = ended.send(());
    tokio::select! {
        _ = tokio::time::sleep(grace) => {}
        _ = recv(&mut int) => {}
        _ = recv(&mut term) => {}
        _ = recv(&mut hup) => {}
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

/// Escapes a label value.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A float as Prometheus writes it.
fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// A metric family's type.
#[derive(Clone, Copy)]
enum Type {
    Counter,
    Gauge,
    Histogram,
}

impl Type {
    fn as_str(self) -> &'static str {
        match self {
            Type::Counter => "counter",
            Type::Gauge => "gauge",
            Type::Histogram => "histogram",
        }
    }
}

/// Where a family's samples come from.
enum Source {
    /// One unlabelled sample of the run; `None` leaves the family out.
    Run(fn(&Snapshot) -> Option<f64>),
    /// One sample per endpoint.
    Endpoint(fn(&EndpointStats) -> f64),
    /// One sample per endpoint and key of a map of counts, the key under this label.
    EndpointBy(&'static str, fn(&EndpointStats) -> Vec<(String, u64)>),
    /// One sample per threshold that has a value (labels `threshold`, `endpoint`); the
    /// family is left out when the run has no thresholds.
    Threshold(fn(&ThresholdStatus) -> Option<f64>),
    /// Samples of another shape, written by the function under the family's name.
    Samples(fn(&Snapshot, &str, &mut Out)),
}

/// One metric family of the exposition: name, type, help text and value source.
struct Family {
    name: &'static str,
    kind: Type,
    help: &'static str,
    source: Source,
}

const fn family(name: &'static str, kind: Type, help: &'static str, source: Source) -> Family {
    Family {
        name,
        kind,
        help,
        source,
    }
}

/// Every family, in the order written (see the table in the module's documentation).
const FAMILIES: &[Family] = &[
    family(
        "volley_info",
        Type::Gauge,
        "The run: scenario and volley version.",
        Source::Samples(|snap, name, o| {
            let labels = [
                ("scenario", snap.scenario.as_str()),
                ("version", env!("CARGO_PKG_VERSION")),
            ];
            o.sample(name, &labels, 1.0);
        }),
    ),
    family(
        "volley_run_state",
        Type::Gauge,
        "1 for the run's current state.",
        Source::Samples(|snap, name, o| {
            for st in [
                RunState::Running,
                RunState::Paused,
                RunState::Stopping,
                RunState::Done,
            ] {
                let state = st.label().to_ascii_lowercase();
                o.sample(
                    name,
                    &[("state", state.as_str())],
                    (snap.state == st) as u8 as f64,
                );
            }
        }),
    ),
    family(
        "volley_elapsed_seconds",
        Type::Gauge,
        "Wall time since the run started.",
        Source::Run(|s| Some(s.elapsed.as_secs_f64())),
    ),
    family(
        "volley_vus",
        Type::Gauge,
        "Active virtual users.",
        Source::Run(|s| Some(s.vus_active as f64)),
    ),
    family(
        "volley_vus_target",
        Type::Gauge,
        "Virtual users asked for.",
        Source::Run(|s| Some(s.vus_target as f64)),
    ),
    family(
        "volley_in_flight",
        Type::Gauge,
        "Requests in flight.",
        Source::Run(|s| Some(s.in_flight as f64)),
    ),
    // Unknown when the reqwest client ran (its pool closes connections out of sight).
    family(
        "volley_connections_open",
        Type::Gauge,
        "Connections open now.",
        Source::Run(|s| {
            s.connections_open_known
                .then_some(s.connections_open as f64)
        }),
    ),
    family(
        "volley_connections_opened_total",
        Type::Counter,
        "Connections opened (reconnects included).",
        Source::Run(|s| Some(s.connections_opened as f64)),
    ),
    family(
        "volley_arrival_rate",
        Type::Gauge,
        "Open model: iterations started per second (target).",
        Source::Run(|s| s.rate),
    ),
    family(
        "volley_dropped_iterations_total",
        Type::Counter,
        "Open model: iterations not started because every VU was busy.",
        Source::Run(|s| Some(s.dropped as f64)),
    ),
    family(
        "volley_requests_per_second",
        Type::Gauge,
        "Requests finished per second, over the last second.",
        Source::Endpoint(|e| e.rps_now),
    ),
    family(
        "volley_requests_total",
        Type::Counter,
        "Requests finished (ok and errors).",
        Source::Endpoint(|e| e.requests as f64),
    ),
    family(
        "volley_responses_total",
        Type::Counter,
        "Responses by HTTP status code.",
        Source::EndpointBy("status", |e| {
            e.status.iter().map(|(c, n)| (c.to_string(), *n)).collect()
        }),
    ),
    family(
        "volley_errors_total",
        Type::Counter,
        "Errors by kind (timeout, connect_refused, http_503, ...).",
        Source::EndpointBy("kind", |e| counts(&e.errors_by_kind)),
    ),
    family(
        "volley_retries_total",
        Type::Counter,
        "Attempts a reused connection dropped before any response, sent again, by reason.",
        Source::EndpointBy("reason", |e| counts(&e.retries)),
    ),
    family(
        "volley_bytes_received_total",
        Type::Counter,
        "Response body bytes received.",
        Source::Endpoint(|e| e.bytes as f64),
    ),
    family(
        "volley_request_duration_seconds",
        Type::Histogram,
        "Request latency (send to last body byte); _sum is from the HDR mean.",
        Source::Samples(duration_histograms),
    ),
    family(
        "volley_request_duration_quantile_seconds",
        Type::Gauge,
        "Latency percentiles over the run so far, from HDR histograms (3 significant digits).",
        Source::Samples(duration_quantiles),
    ),
    family(
        "volley_thresholds_failed",
        Type::Gauge,
        "Thresholds failing now.",
        Source::Run(|s| {
            Some(
                s.thresholds
                    .iter()
                    .filter(|t| t.passed == Some(false))
                    .count() as f64,
            )
        }),
    ),
    family(
        "volley_threshold_passed",
        Type::Gauge,
        "1 when the threshold passes, 0 when it fails (absent while pending).",
        Source::Threshold(|t| t.passed.map(|p| p as u8 as f64)),
    ),
    family(
        "volley_threshold_value",
        Type::Gauge,
        "The thresholded metric's value now, in the threshold's unit.",
        Source::Threshold(|t| t.value.filter(|v| v.is_finite())),
    ),
];

fn counts(map: &std::collections::BTreeMap<String, u64>) -> Vec<(String, u64)> {
    map.iter().map(|(k, n)| (k.clone(), *n)).collect()
}

/// The latency histogram of each endpoint: cumulative buckets, sum and count.
fn duration_histograms(snap: &Snapshot, name: &str, o: &mut Out) {
    let (bucket, sum, count) = (
        format!("{name}_bucket"),
        format!("{name}_sum"),
        format!("{name}_count"),
    );
    for e in &snap.endpoints {
        let h = &e.hist;
        let [a, b] = ep_labels(e);
        for &le in BUCKETS {
            let n = if h.is_empty() {
                0
            } else {
                h.count_between(0, (le * 1e6).round() as u64)
            };
            o.sample(&bucket, &[a, b, ("le", num(le).as_str())], n as f64);
        }
        o.sample(&bucket, &[a, b, ("le", "+Inf")], h.len() as f64);
        let total = if h.is_empty() {
            0.0
        } else {
            h.mean() * h.len() as f64 / 1e6
        };
        o.sample(&sum, &[a, b], total);
        o.sample(&count, &[a, b], h.len() as f64);
    }
}

/// The [`QUANTILES`] of each endpoint that recorded a latency.
fn duration_quantiles(snap: &Snapshot, name: &str, o: &mut Out) {
    for e in snap.endpoints.iter().filter(|e| !e.hist.is_empty()) {
        let [a, b] = ep_labels(e);
        for &q in QUANTILES {
            let v = e.hist.value_at_quantile(q) as f64 / 1e6;
            o.sample(name, &[a, b, ("quantile", num(q).as_str())], v);
        }
    }
}

impl Family {
    fn write(&self, snap: &Snapshot, o: &mut Out) {
        let name = self.name;
        match &self.source {
            Source::Run(value) => {
                if let Some(v) = value(snap) {
                    o.header(self);
                    o.sample(name, &[], v);
                }
            }
            Source::Endpoint(value) => {
                o.header(self);
                for e in &snap.endpoints {
                    o.sample(name, &ep_labels(e), value(e));
                }
            }
            Source::EndpointBy(key, counts) => {
                o.header(self);
                for e in &snap.endpoints {
                    let [a, b] = ep_labels(e);
                    for (k, n) in counts(e) {
                        o.sample(name, &[a, b, (*key, k.as_str())], n as f64);
                    }
                }
            }
            Source::Threshold(value) => {
                if snap.thresholds.is_empty() {
                    return;
                }
                o.header(self);
                for t in &snap.thresholds {
                    if let Some(v) = value(t) {
                        let labels = [
                            ("threshold", t.text.as_str()),
                            ("endpoint", t.endpoint.as_deref().unwrap_or("")),
                        ];
                        o.sample(name, &labels, v);
                    }
                }
            }
            Source::Samples(write) => {
                o.header(self);
                write(snap, name, o);
            }
        }
    }
}

/// The exposition text being written.
struct Out {
    s: String,
}

impl Out {
    fn header(&mut self, f: &Family) {
        let _ = writeln!(self.s, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(self.s, "# TYPE {} {}", f.name, f.kind.as_str());
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: f64) {
        self.s.push_str(name);
        if !labels.is_empty() {
            self.s.push('{');
            for (i, (k, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.s.push(',');
                }
                let _ = write!(self.s, "{k}=\"{}\"", label(val));
            }
            self.s.push('}');
        }
        let _ = writeln!(self.s, " {}", num(v));
    }
}

fn ep_labels(e: &EndpointStats) -> [(&'static str, &str); 2] {
    [("endpoint", e.name.as_str()), ("method", e.method.as_str())]
}

/// Renders the exposition text for a snapshot: every family of [`FAMILIES`] that has
/// samples.
pub fn render(snap: &Snapshot) -> String {
    let mut o = Out {
        s: String::with_capacity(8 * 1024),
    };
    for f in FAMILIES {
        f.write(snap, &mut o);
    }
    o.s
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
    say!("volley: Prometheus metrics on {}", e.url());
    e.start(grace).map(Some)
}

/// Hands a run's snapshots to the exporter, if there is one.
pub fn serve_run(attach: Option<Attach>, handle: &crate::engine::EngineHandle) {
    if let Some(a) = attach {
        a.run(handle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot that sets every family's source: two endpoints (one with a quote and a
    /// newline in its name, for label escaping), statuses, errors, retries, latencies,
    /// the open model's rate, a pending, a passing and a failing threshold.
    fn full_snapshot() -> Snapshot {
        let mut snap = Snapshot::empty(
            "shop \"x\"",
            &[
                ("login".into(), "POST".into()),
                ("se\"arch\n".into(), "GET".into()),
            ],
        );
        snap.state = RunState::Paused;
        snap.elapsed = Duration::from_millis(12_345);
        snap.vus_active = 7;
        snap.vus_target = 9;
        snap.in_flight = 3;
        snap.connections_open = 4;
        snap.connections_opened = 11;
        snap.rate = Some(12.5);
        snap.dropped = 2;
        for (i, e) in snap.endpoints.iter_mut().enumerate() {
            let k = i as u64 + 1;
            e.requests = 100 * k;
            e.rps_now = 10.25 * k as f64;
            e.bytes = 4096 * k;
            e.status.insert(200, 90 * k);
            e.status.insert(503, 10 * k);
            e.errors_by_kind.insert("http_503".into(), 10 * k);
            e.errors_by_kind.insert("timeout".into(), k);
            e.retries.insert("closed_before_response".into(), k);
            let mut h = (*e.hist).clone();
            for v in [900, 4_000, 12_000, 48_000, 260_000, 1_700_000] {
                h.record_n(v * k, 3 * k).unwrap();
            }
            e.hist = Arc::new(h);
        }
        let th = |text: &str, endpoint: Option<&str>, value: Option<f64>, passed| {
            crate::metrics::verdict::ThresholdStatus {
                text: text.into(),
                endpoint: endpoint.map(Into::into),
                value,
                shown: String::new(),
                passed,
                abort_on_fail: false,
            }
        };
        snap.thresholds = vec![
            th("p95 < 500ms", None, Some(48.1), Some(true)),
            th("error_rate < 1%", Some("login"), Some(0.1), Some(false)),
            th("rps > 10 over 30s", None, None, None),
        ];
        snap
    }

    /// The whole exposition text of a fixed snapshot, byte for byte.
    #[test]
    fn exposition_of_a_fixed_snapshot() {
        let mut snap = full_snapshot();
        insta::assert_snapshot!("exposition", render(&snap));
        // The families that come and go: no open count, no rate, no thresholds, and an
        // endpoint without a single latency (no quantiles, zero buckets).
        snap.connections_open_known = false;
        snap.rate = None;
        snap.thresholds.clear();
        snap.endpoints[1].hist = Arc::new(crate::metrics::new_histogram());
        insta::assert_snapshot!("exposition_sparse", render(&snap));
    }

    #[test]
    fn retries_are_exported_and_an_unknown_open_count_is_not() {
        let mut snap = Snapshot::empty("t", &[("a".into(), "GET".into())]);
        snap.endpoints[0]
            .retries
            .insert("reset_before_response".into(), 7);
        snap.connections_open = 0;
        let text = render(&snap);
        assert!(
            text.contains(r#"volley_retries_total{endpoint="a",method="GET",reason="reset_before_response"} 7"#),
            "{text}"
        );
        assert!(text.contains("volley_connections_open "), "{text}");
        snap.connections_open_known = false;
        let text = render(&snap);
        assert!(!text.contains("volley_connections_open "), "{text}");
        assert!(text.contains("volley_connections_opened_total "), "{text}");
    }
}
