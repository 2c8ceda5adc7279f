//! The test HTTP/1.1 server (hyper 1): the one every test that needs a well-behaved
//! server uses. It runs on its own OS thread with its own (current-thread) tokio
//! runtime, so it never competes with the runtime of the test that drives load at it,
//! and it is shut down when the [`TestServer`] is dropped (stalled or slow requests are
//! simply cancelled).
//!
//! How it answers: by a table of routes (exact path, query ignored, plus a fallback),
//!
//! ```ignore
//! let server = TestServer::start(
//!     ServerConfig::new()
//!         .route("/slow", Route::ok().delay(Duration::from_millis(200)))
//!         .route("/fail", Route::status(503))
//!         .record_header("x-test"),
//! );
//! ```
//!
//! or by a closure given each request's number (from 0) and what it looked like:
//!
//! ```ignore
//! let server = TestServer::answering(|n, seen| Reply::status(400 + (n % 100) as u16));
//! ```
//!
//! What it records:
//! * requests per path ([`TestServer::count`]) and in total ([`TestServer::requests`]),
//!   counted when the request head has been read (before any delay);
//! * requests in flight now, their all-time peak, and a peak over a window that
//!   [`TestServer::reset_max`] restarts;
//! * the arrival [`Instant`] of every request (the first [`MAX_ARRIVALS`]);
//! * the request body bytes received, all requests together;
//! * the last request as it was received ([`TestServer::last`]), and the last value seen
//!   of one chosen header.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::oneshot;

/// Arrival times kept; later arrivals are counted but their times are not stored.
pub const MAX_ARRIVALS: usize = 200_000;

/// One answer of the server.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
    /// Wait this long after reading the request before answering.
    pub delay: Duration,
    pub headers: Vec<(String, String)>,
    /// Read the request, then never answer (until the client gives up or the server
    /// drops).
    pub stall: bool,
}

impl Reply {
    /// `200 OK` with the body `ok`, at once.
    pub fn ok() -> Reply {
        Reply {
            status: 200,
            body: Bytes::from_static(b"ok"),
            delay: Duration::ZERO,
            headers: Vec::new(),
            stall: false,
        }
    }

    /// `status` with the body `ok`, at once.
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            ..Reply::ok()
        }
    }

    pub fn delay(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }

    pub fn body(mut self, b: impl Into<Bytes>) -> Reply {
        self.body = b.into();
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// How the server answers one path of a [`ServerConfig`]: a [`Reply`] with an empty body
/// unless [`Route::body`] sets its size.
#[derive(Debug, Clone)]
pub struct Route(Reply);

impl Default for Route {
    fn default() -> Self {
        Route::ok()
    }
}

impl Route {
    /// `200 OK`, empty body, no delay.
    pub fn ok() -> Route {
        Route(Reply::ok().body(Bytes::new()))
    }

    /// Answers with `status`, empty body, no delay.
    pub fn status(status: u16) -> Route {
        Route::ok().with_status(status)
    }

    /// Reads the request and never answers.
    pub fn stalled() -> Route {
        let mut r = Route::ok();
        r.0.stall = true;
        r
    }

    pub fn delay(mut self, d: Duration) -> Route {
        self.0.delay = d;
        self
    }

    pub fn with_status(mut self, status: u16) -> Route {
        self.0.status = status;
        self
    }

    /// A body of `size` bytes (all `b'x'`).
    pub fn body(mut self, size: usize) -> Route {
        self.0.body = Bytes::from(vec![b'x'; size]);
        self
    }
}

/// What a request looked like to the server.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

type Handler = Arc<dyn Fn(u64, &Seen) -> Reply + Send + Sync>;

/// How the server answers, and how it treats connections.
#[derive(Clone, Default)]
pub struct ServerConfig {
    routes: HashMap<String, Route>,
    fallback: Route,
    /// Decides every answer when set (routes are then not used).
    answer: Option<Handler>,
    header: Option<String>,
    close: bool,
    idle_timeout: Option<Duration>,
}

impl ServerConfig {
    /// Every path answers `200 OK` (empty body) at once until configured otherwise.
    pub fn new() -> ServerConfig {
        ServerConfig::default()
    }

    /// How to answer requests whose path is exactly `path`.
    pub fn route(mut self, path: &str, route: Route) -> ServerConfig {
        self.routes.insert(path.to_string(), route);
        self
    }

    /// How to answer every path without its own route.
    pub fn fallback(mut self, route: Route) -> ServerConfig {
        self.fallback = route;
        self
    }

    /// Every answer decided by `f`, given the request's number (from 0) and what it
    /// looked like.
    pub fn answer(mut self, f: impl Fn(u64, &Seen) -> Reply + Send + Sync + 'static) -> Self {
        self.answer = Some(Arc::new(f));
        self
    }

    /// Remember the last value of this request header (see [`TestServer::last_header`]).
    pub fn record_header(mut self, name: &str) -> ServerConfig {
        self.header = Some(name.to_ascii_lowercase());
        self
    }

    /// Answer every request with `Connection: close` and close the connection after it
    /// (no keep-alive), so every request needs a new connection.
    pub fn close_connections(mut self) -> ServerConfig {
        self.close = true;
        self
    }

    /// Close a keep-alive connection that has waited this long for its next request (as
    /// servers with a keep-alive timeout do). Uses hyper's header-read timeout, which
    /// starts as soon as the connection goes idle.
    pub fn idle_timeout(mut self, d: Duration) -> ServerConfig {
        self.idle_timeout = Some(d);
        self
    }

    fn reply(&self, n: u64, seen: &Seen, path: &str) -> Reply {
        match &self.answer {
            Some(f) => f(n, seen),
            None => self.routes.get(path).unwrap_or(&self.fallback).0.clone(),
        }
    }
}

#[derive(Debug, Default)]
struct Flight {
    now: u64,
    peak: u64,
    window_peak: u64,
}

#[derive(Debug, Default)]
struct Record {
    counts: HashMap<String, u64>,
    total: u64,
    body_bytes: u64,
    arrivals: Vec<Instant>,
    last_header: Option<String>,
    last: Option<Seen>,
}

struct State {
    config: ServerConfig,
    flight: Mutex<Flight>,
    record: Mutex<Record>,
    /// Connections accepted.
    connections: std::sync::atomic::AtomicU64,
    /// When the first [`MAX_ARRIVALS`] connections were accepted.
    accepted: Mutex<Vec<Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl State {
    /// Counts a request whose head arrived; its number (from 0).
    fn arrive(&self, path: &str, at: Instant, header: Option<String>) -> u64 {
        let mut rec = lock(&self.record);
        let n = rec.total;
        *rec.counts.entry(path.to_string()).or_default() += 1;
        rec.total += 1;
        if rec.arrivals.len() < MAX_ARRIVALS {
            rec.arrivals.push(at);
        }
        if header.is_some() {
            rec.last_header = header;
        }
        n
    }
}

/// Counts a request in flight from its arrival until its answer is handed to hyper, or
/// until hyper drops it (client gone, server shut down).
struct InFlight(Arc<State>);

impl InFlight {
    fn enter(state: Arc<State>) -> InFlight {
        {
            let mut f = lock(&state.flight);
            f.now += 1;
            f.peak = f.peak.max(f.now);
            f.window_peak = f.window_peak.max(f.now);
        }
        InFlight(state)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        lock(&self.0.flight).now -= 1;
    }
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let at = Instant::now();
    let path = req.uri().path().to_string();
    let header = state.config.header.as_deref().and_then(|h| {
        req.headers()
            .get(h)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    });
    let n = state.arrive(&path, at, header);
    let _flight = InFlight::enter(state.clone());
    let (parts, body) = req.into_parts();
    // Read the request body to its end so the connection stays reusable.
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let seen = Seen {
        method: parts.method.to_string(),
        path_and_query: parts
            .uri
            .path_and_query()
            .map_or("/".into(), |p| p.to_string()),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
    };
    let reply = state.config.reply(n, &seen, &path);
    {
        let mut rec = lock(&state.record);
        rec.body_bytes += seen.body.len() as u64;
        rec.last = Some(seen);
    }
    if reply.stall {
        std::future::pending::<()>().await;
    }
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut resp = Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        resp = resp.header(k, v);
    }
    Ok(resp
        .body(Full::new(reply.body))
        .expect("a valid status and headers"))
}

/// A running test server; dropping it shuts it down.
pub struct TestServer {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Binds 127.0.0.1 on a free port and starts serving on a thread of its own.
    pub fn start(config: ServerConfig) -> TestServer {
        TestServer::start_on("127.0.0.1:0".parse().unwrap(), config)
    }

    /// [`TestServer::start`] on another local address (the fleet's network-namespace
    /// test serves on its bridge's address, which other namespaces reach).
    pub fn start_on(bind: SocketAddr, config: ServerConfig) -> TestServer {
        let listener = TcpListener::bind(bind).unwrap_or_else(|e| panic!("bind {bind}: {e}"));
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(State {
            config,
            flight: Mutex::new(Flight::default()),
            record: Mutex::new(Record::default()),
            connections: std::sync::atomic::AtomicU64::new(0),
            accepted: Mutex::new(Vec::new()),
        });
        let (tx, rx) = oneshot::channel();
        let st = state.clone();
        let thread = std::thread::Builder::new()
            .name(format!("test-server-{}", addr.port()))
            .spawn(move || serve(listener, st, rx))
            .expect("spawn the server thread");
        TestServer {
            addr,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// A server whose every answer `f` decides (see [`ServerConfig::answer`]).
    pub fn answering(f: impl Fn(u64, &Seen) -> Reply + Send + Sync + 'static) -> TestServer {
        TestServer::start(ServerConfig::new().answer(f))
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests received for exactly this path (query ignored).
    pub fn count(&self, path: &str) -> u64 {
        lock(&self.state.record)
            .counts
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Requests whose head reached the server, in total.
    pub fn requests(&self) -> u64 {
        lock(&self.state.record).total
    }

    /// Request body bytes received, all requests together.
    pub fn body_bytes(&self) -> u64 {
        lock(&self.state.record).body_bytes
    }

    /// The last request received (once its body was read).
    pub fn last(&self) -> Option<Seen> {
        lock(&self.state.record).last.clone()
    }

    /// Requests received but not yet answered.
    /// Connections accepted since the start.
    pub fn connections(&self) -> u64 {
        self.state
            .connections
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// When the first connections were accepted, in order.
    pub fn accept_times(&self) -> Vec<Instant> {
        lock(&self.state.accepted).clone()
    }

    pub fn in_flight(&self) -> u64 {
        lock(&self.state.flight).now
    }

    /// Most requests in flight at once since the start or the last [`reset_max`].
    ///
    /// [`reset_max`]: TestServer::reset_max
    pub fn max_in_flight(&self) -> u64 {
        lock(&self.state.flight).window_peak
    }

    /// Most requests in flight at once since the start, whatever the resets.
    pub fn peak_in_flight(&self) -> u64 {
        lock(&self.state.flight).peak
    }

    /// Starts a new window for [`max_in_flight`]: its value becomes what is in flight now.
    ///
    /// [`max_in_flight`]: TestServer::max_in_flight
    pub fn reset_max(&self) {
        let mut f = lock(&self.state.flight);
        f.window_peak = f.now;
    }

    /// Requests that arrived at or after `t`.
    pub fn arrivals_since(&self, t: Instant) -> usize {
        lock(&self.state.record)
            .arrivals
            .iter()
            .filter(|&&a| a >= t)
            .count()
    }

    /// Requests that arrived in `[from, to)`.
    pub fn arrivals_between(&self, from: Instant, to: Instant) -> usize {
        lock(&self.state.record)
            .arrivals
            .iter()
            .filter(|&&a| a >= from && a < to)
            .count()
    }

    /// Arrival times of the first [`MAX_ARRIVALS`] requests, in order.
    pub fn arrivals(&self) -> Vec<Instant> {
        lock(&self.state.record).arrivals.clone()
    }

    /// The last value seen of the header chosen with [`ServerConfig::record_header`].
    pub fn last_header(&self) -> Option<String> {
        lock(&self.state.record).last_header.clone()
    }

    /// Polls (every 10 ms, without blocking the runtime) until `cond` holds or `timeout`
    /// passes; true if it held.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut cond: impl FnMut(&TestServer) -> bool,
    ) -> bool {
        let end = Instant::now() + timeout;
        loop {
            if cond(self) {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(listener: TcpListener, state: Arc<State>, mut shutdown: oneshot::Receiver<()>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the server's runtime");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("register the listener");
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    state.connections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    {
                        let mut a = lock(&state.accepted);
                        if a.len() < MAX_ARRIVALS {
                            a.push(Instant::now());
                        }
                    }
                    let _ = stream.set_nodelay(true);
                    let st = state.clone();
                    let mut builder = http1::Builder::new();
                    builder.keep_alive(!state.config.close);
                    if let Some(idle) = state.config.idle_timeout {
                        builder.timer(TokioTimer::new()).header_read_timeout(idle);
                    }
                    tokio::spawn(async move {
                        let svc = service_fn(move |req| handle(st.clone(), req));
                        let _ = builder
                            .serve_connection(TokioIo::new(stream), svc)
                            .await;
                    });
                }
            }
        }
    });
    // Cancels every connection still open (stalled or delayed requests included).
    rt.shutdown_timeout(Duration::from_millis(500));
}
