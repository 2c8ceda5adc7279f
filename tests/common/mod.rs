//! A small HTTP/1.1 test server for integration tests, built on hyper 1.
//!
//! It runs on its own OS thread with its own (current-thread) tokio runtime, so it never
//! competes with the runtime of the test that drives load at it, and it is shut down when
//! the [`TestServer`] is dropped (stalled or slow requests are simply cancelled).
//!
//! ```ignore
//! let server = TestServer::start(
//!     ServerConfig::new()
//!         .route("/slow", Route::ok().delay(Duration::from_millis(200)))
//!         .route("/fail", Route::status(503))
//!         .record_header("x-test"),
//! );
//! let base = server.url(); // "http://127.0.0.1:PORT"
//! // ... drive load ...
//! assert_eq!(server.count("/slow"), 10);
//! assert!(server.max_in_flight() <= 10);
//! ```
//!
//! What it records:
//! * requests per path ([`TestServer::count`]) and in total ([`TestServer::total`]),
//!   counted when the request head has been read (before any delay);
//! * requests in flight now, their all-time peak, and a peak over a window that
//!   [`TestServer::reset_max`] restarts;
//! * the arrival [`Instant`] of every request (the first [`MAX_ARRIVALS`]);
//! * the request body bytes received, all requests together;
//! * the last value seen of one chosen header.
//!
//! A port where nothing listens is `support::closed_port` (one copy for every test).
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener as StdListener};
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

/// How the server answers one path.
#[derive(Debug, Clone)]
pub struct Route {
    /// Wait this long after reading the request before answering.
    pub delay: Duration,
    /// Status code of the answer.
    pub status: u16,
    /// Size of the answer's body in bytes (all `b'x'`).
    pub body_size: usize,
    /// Read the request, then never answer (until the client gives up or the server drops).
    pub stall: bool,
}

impl Default for Route {
    fn default() -> Self {
        Route::ok()
    }
}

impl Route {
    /// `200 OK`, empty body, no delay.
    pub fn ok() -> Route {
        Route {
            delay: Duration::ZERO,
            status: 200,
            body_size: 0,
            stall: false,
        }
    }

    /// Answers with `status`, empty body, no delay.
    pub fn status(status: u16) -> Route {
        Route {
            status,
            ..Route::ok()
        }
    }

    /// Reads the request and never answers.
    pub fn stalled() -> Route {
        Route {
            stall: true,
            ..Route::ok()
        }
    }

    pub fn delay(mut self, d: Duration) -> Route {
        self.delay = d;
        self
    }

    pub fn with_status(mut self, status: u16) -> Route {
        self.status = status;
        self
    }

    pub fn body(mut self, size: usize) -> Route {
        self.body_size = size;
        self
    }
}

/// Routes by exact path (the query string is ignored), plus a default for other paths.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    routes: HashMap<String, Route>,
    fallback: Route,
    header: Option<String>,
    close: bool,
    idle_timeout: Option<Duration>,
}

impl ServerConfig {
    /// Every path answers `200 OK` at once until configured otherwise.
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

    fn route_for(&self, path: &str) -> &Route {
        self.routes.get(path).unwrap_or(&self.fallback)
    }
}

#[derive(Debug, Default)]
struct Flight {
    now: u64,
    peak: u64,
    window_peak: u64,
}

#[derive(Debug, Default)]
struct Seen {
    counts: HashMap<String, u64>,
    total: u64,
    body_bytes: u64,
    arrivals: Vec<Instant>,
    last_header: Option<String>,
}

struct State {
    config: ServerConfig,
    flight: Mutex<Flight>,
    seen: Mutex<Seen>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl State {
    fn arrive(&self, path: &str, at: Instant, header: Option<String>) {
        let mut seen = lock(&self.seen);
        *seen.counts.entry(path.to_string()).or_default() += 1;
        seen.total += 1;
        if seen.arrivals.len() < MAX_ARRIVALS {
            seen.arrivals.push(at);
        }
        if header.is_some() {
            seen.last_header = header;
        }
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
    state.arrive(&path, at, header);
    let _flight = InFlight::enter(state.clone());
    let route = state.config.route_for(&path).clone();
    // Read the request body to its end so the connection stays reusable.
    if let Ok(body) = req.into_body().collect().await {
        lock(&state.seen).body_bytes += body.to_bytes().len() as u64;
    }
    if route.stall {
        std::future::pending::<()>().await;
    }
    if !route.delay.is_zero() {
        tokio::time::sleep(route.delay).await;
    }
    let resp = Response::builder()
        .status(route.status)
        .body(Full::new(Bytes::from(vec![b'x'; route.body_size])))
        .expect("a valid status code");
    Ok(resp)
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
        let listener = StdListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(State {
            config,
            flight: Mutex::new(Flight::default()),
            seen: Mutex::new(Seen::default()),
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

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests received for exactly this path (query ignored).
    pub fn count(&self, path: &str) -> u64 {
        lock(&self.state.seen)
            .counts
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Requests received in total.
    pub fn total(&self) -> u64 {
        lock(&self.state.seen).total
    }

    /// Request body bytes received, all requests together.
    pub fn body_bytes(&self) -> u64 {
        lock(&self.state.seen).body_bytes
    }

    /// Requests received but not yet answered.
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
        lock(&self.state.seen)
            .arrivals
            .iter()
            .filter(|&&a| a >= t)
            .count()
    }

    /// Requests that arrived in `[from, to)`.
    pub fn arrivals_between(&self, from: Instant, to: Instant) -> usize {
        lock(&self.state.seen)
            .arrivals
            .iter()
            .filter(|&&a| a >= from && a < to)
            .count()
    }

    /// Arrival times of the first [`MAX_ARRIVALS`] requests, in order.
    pub fn arrivals(&self) -> Vec<Instant> {
        lock(&self.state.seen).arrivals.clone()
    }

    /// The last value seen of the header chosen with [`ServerConfig::record_header`].
    pub fn last_header(&self) -> Option<String> {
        lock(&self.state.seen).last_header.clone()
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

fn serve(listener: StdListener, state: Arc<State>, mut shutdown: oneshot::Receiver<()>) {
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

/// When [`ResetServer`] resets a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reset {
    /// On the first request of each connection, before any response byte.
    BeforeResponse,
    /// On the first request, after the response head and 100 of its 1000 body bytes.
    MidBody,
    /// The first request of each connection gets a full keep-alive answer; the second is
    /// reset after its response head and 100 body bytes (the connection was reused).
    MidBodyOnReuse,
}

/// A bare TCP server that resets connections after receiving a request (see [`Reset`]):
/// it reads only the first bytes of the doomed request, counts it, maybe writes part of
/// a response, and closes with the rest of the request unread, so the kernel sends RST.
/// Either way the request did reach the server. One thread, one connection at a time;
/// GET requests without a body only.
pub struct ResetServer {
    addr: SocketAddr,
    count: Arc<std::sync::atomic::AtomicU64>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ResetServer {
    pub fn start(mode: Reset) -> ResetServer {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let listener = StdListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (c, s) = (count.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Acquire) {
                let mut stream = match listener.accept() {
                    Ok((stream, _)) => stream,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(2));
                        continue;
                    }
                };
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                if mode == Reset::MidBodyOnReuse {
                    // Read one whole request head, answer it in full, keep the connection.
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match stream.read(&mut byte) {
                            Ok(1) => head.push(byte[0]),
                            _ => break,
                        }
                    }
                    if !head.ends_with(b"\r\n\r\n") {
                        continue;
                    }
                    c.fetch_add(1, Ordering::AcqRel);
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
                }
                let mut first = [0u8; 8];
                if stream.read_exact(&mut first).is_err() {
                    continue;
                }
                c.fetch_add(1, Ordering::AcqRel);
                if mode != Reset::BeforeResponse {
                    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n");
                    let _ = stream.write_all(&[b'x'; 100]);
                    let _ = stream.flush();
                }
                std::thread::sleep(Duration::from_millis(20));
                // Dropped with unread request bytes: RST.
            }
        });
        ResetServer {
            addr,
            count,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests that reached the server.
    pub fn count(&self) -> u64 {
        self.count.load(std::sync::atomic::Ordering::Acquire)
    }
}

impl Drop for ResetServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
