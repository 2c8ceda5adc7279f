//! Support for the reliability tests (`tests/hostile.rs`, `tests/interrupt.rs`,
//! `tests/secrets.rs`): the volley binary run with a time limit and its memory sampled,
//! signals, a pseudo-terminal, and local servers that misbehave on purpose.
//!
//! Every server binds 127.0.0.1 on a free port, runs on threads of its own and stops when
//! dropped. Each counts the requests that reached it (a complete request head was read),
//! so a test can compare what volley reports with what the server saw.
#![allow(dead_code)]

use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

/// The volley binary under test.
pub fn volley_bin() -> &'static str {
    env!("CARGO_BIN_EXE_volley")
}

/// A fresh, empty scratch folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("volley-rel-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch folder");
    dir
}

/// Reads a result document written with `--out json=PATH`.
pub fn read_doc(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: not written: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Writes `toml` to DIR/s.toml and runs it headless with `--out json=DIR/r.json` (60 s at
/// most); requires exit code 0 and returns the run and its result document.
pub fn run_scenario(dir: &Path, toml: &str) -> (Run, serde_json::Value) {
    let file = dir.join("s.toml");
    std::fs::write(&file, toml).expect("write scenario");
    let result = dir.join("r.json");
    let r = run(
        &[
            "run",
            &file.display().to_string(),
            "--headless",
            "--out",
            &format!("json={}", result.display()),
        ],
        Duration::from_secs(60),
    );
    assert_eq!(r.code(), Some(0), "{r:?}");
    let doc = read_doc(&result);
    (r, doc)
}

/// `doc.totals.errors_by_kind` as (kind, count) pairs.
pub fn kinds(doc: &serde_json::Value) -> Vec<(String, u64)> {
    doc["totals"]["errors_by_kind"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

/// `doc.totals[key]` as a number (0 when absent).
pub fn total(doc: &serde_json::Value, key: &str) -> u64 {
    doc["totals"][key].as_u64().unwrap_or(0)
}

/// How one run of the binary went.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub wall: Duration,
    /// Highest resident set size seen while it ran (VmHWM), in KiB.
    pub peak_rss_kib: u64,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// Peak resident set size of a live process, in KiB (0 when it cannot be read).
pub fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// A volley process with its output collected in the background.
pub struct Spawned {
    pub child: Child,
    started: Instant,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
    peak: u64,
}

fn collect(mut from: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    })
}

impl Spawned {
    /// Starts volley with `args` and extra environment variables (stdin closed).
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Spawned {
        Spawned::start_in(Path::new("."), args, envs)
    }

    /// [`Spawned::start`] with `dir` as the working folder.
    pub fn start_in(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Spawned {
        let mut cmd = Command::new(volley_bin());
        cmd.current_dir(dir)
            .args(args)
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn volley");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            collect(child.stdout.take().unwrap(), stdout.clone()),
            collect(child.stderr.take().unwrap(), stderr.clone()),
        ];
        Spawned {
            child,
            started: Instant::now(),
            stdout,
            stderr,
            readers,
            peak: 0,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (SIGINT, SIGTERM, SIGHUP, ...).
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill({sig}) failed");
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Waits until stderr contains `needle` (or `limit` passes); true if it did.
    pub fn wait_stderr(&mut self, needle: &str, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            self.sample();
            if self.stderr_text().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    fn sample(&mut self) {
        self.peak = self.peak.max(peak_rss_kib(self.child.id()));
    }

    /// Waits for the exit, sampling memory; kills it and panics past `limit`.
    pub fn finish(mut self, limit: Duration) -> Run {
        let status = loop {
            self.sample();
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                break st;
            }
            if self.started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "volley did not exit within {limit:?}\nstderr:\n{}",
                    self.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let wall = self.started.elapsed();
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let stdout = String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned();
        let stderr = self.stderr_text();
        Run {
            status,
            stdout,
            stderr,
            wall,
            peak_rss_kib: self.peak,
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs volley to its end (at most `limit`).
pub fn run(args: &[&str], limit: Duration) -> Run {
    Spawned::start(args, &[]).finish(limit)
}

/// Runs quick mode headless against `url` with `args`; returns the run and its document.
pub fn quick(dir: &Path, url: &str, args: &[&str], limit: Duration) -> (Run, serde_json::Value) {
    let out = dir.join("out.json");
    let out_arg = format!("json={}", out.display());
    let mut all = vec![url, "--headless", "--out", &out_arg];
    all.extend_from_slice(args);
    let r = run(&all, limit);
    eprintln!("{url}: wall {:?}, peak RSS {} KiB", r.wall, r.peak_rss_kib);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let doc = read_doc(&out);
    assert_exit(&r, &doc);
    (r, doc)
}

/// Exit 0, or 1 with its line when not a single request got a response (an HTTP status
/// of any kind is a response).
pub fn assert_exit(r: &Run, doc: &serde_json::Value) {
    let responses: u64 = doc["totals"]["status"]
        .as_object()
        .map_or(0, |m| m.values().filter_map(|v| v.as_u64()).sum());
    if total(doc, "requests") > 0 && responses == 0 {
        assert_eq!(r.code(), Some(1), "{r:?}");
        assert!(
            r.stderr
                .contains("no request got a response: is the target up?"),
            "{}",
            r.stderr
        );
    } else {
        assert_eq!(r.code(), Some(0), "{r:?}");
    }
}

/// Runs a scenario file headless; returns the run and its document.
pub fn scenario(dir: &Path, text: &str, limit: Duration) -> (Run, serde_json::Value) {
    let file = dir.join("s.toml");
    std::fs::write(&file, text).unwrap();
    let out = dir.join("out.json");
    let r = run(
        &[
            "run",
            file.to_str().unwrap(),
            "--headless",
            "--out",
            &format!("json={}", out.display()),
        ],
        limit,
    );
    eprintln!(
        "scenario: wall {:?}, peak RSS {} KiB",
        r.wall, r.peak_rss_kib
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let doc = read_doc(&out);
    assert_exit(&r, &doc);
    (r, doc)
}

// ---------------------------------------------------------------------------------------
// A well-behaved HTTP server whose answers a closure decides.

/// One answer of [`HttpServer`].
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
    pub delay: Duration,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn ok() -> Reply {
        Reply {
            status: 200,
            body: Bytes::from_static(b"ok"),
            delay: Duration::ZERO,
            headers: Vec::new(),
        }
    }

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

/// What a request looked like to the server.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

type Handler = Arc<dyn Fn(u64, &Seen) -> Reply + Send + Sync>;

struct HttpState {
    handler: Handler,
    requests: AtomicU64,
    in_flight: AtomicU64,
    last: Mutex<Option<Seen>>,
}

/// A keep-alive HTTP/1.1 server (hyper) on its own thread and runtime. The handler gets
/// the request's number (from 0) and what it looked like.
pub struct HttpServer {
    addr: SocketAddr,
    state: Arc<HttpState>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    pub fn start(handler: impl Fn(u64, &Seen) -> Reply + Send + Sync + 'static) -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(HttpState {
            handler: Arc::new(handler),
            requests: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            last: Mutex::new(None),
        });
        let (tx, mut rx) = oneshot::channel::<()>();
        let st = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    tokio::select! {
                        _ = &mut rx => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let _ = stream.set_nodelay(true);
                            let st = st.clone();
                            tokio::spawn(async move {
                                let svc = service_fn(move |req| serve(st.clone(), req));
                                let _ = http1::Builder::new()
                                    .serve_connection(TokioIo::new(stream), svc)
                                    .await;
                            });
                        }
                    }
                }
            });
            rt.shutdown_timeout(Duration::from_millis(300));
        });
        HttpServer {
            addr,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests whose head reached the server.
    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::Acquire)
    }

    /// Requests received and not yet answered.
    pub fn in_flight(&self) -> u64 {
        self.state.in_flight.load(Ordering::Acquire)
    }

    /// The last request received.
    pub fn last(&self) -> Option<Seen> {
        self.state.last.lock().unwrap().clone()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Flight(Arc<HttpState>);

impl Drop for Flight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn serve(
    state: Arc<HttpState>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    use http_body_util::BodyExt;
    let n = state.requests.fetch_add(1, Ordering::AcqRel);
    state.in_flight.fetch_add(1, Ordering::AcqRel);
    let _flight = Flight(state.clone());
    let (parts, body) = req.into_parts();
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
    let reply = (state.handler)(n, &seen);
    *state.last.lock().unwrap() = Some(seen);
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

// ---------------------------------------------------------------------------------------
// A bare TCP server for misbehaviour HTTP libraries will not produce.

/// One accepted connection of a [`RawServer`].
pub struct Conn {
    pub stream: TcpStream,
    /// Path of the last request head read.
    pub path: String,
    requests: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Conn {
    /// Reads one request head (GET without a body); counts it. False when the client
    /// closed the connection (or went quiet for 5 s, or the server is stopping) first.
    pub fn read_head(&mut self) -> bool {
        let _ = self
            .stream
            .set_read_timeout(Some(Duration::from_millis(100)));
        let mut head = Vec::with_capacity(256);
        let mut buf = [0u8; 1024];
        let end = Instant::now() + Duration::from_secs(5);
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            if self.stop.load(Ordering::Acquire) || Instant::now() > end {
                return false;
            }
            match self.stream.read(&mut buf) {
                Ok(0) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return false,
            }
        }
        let line = String::from_utf8_lossy(&head);
        self.path = line.split(' ').nth(1).unwrap_or("/").to_string();
        self.requests.fetch_add(1, Ordering::AcqRel);
        true
    }

    /// Writes bytes; false when the client is gone.
    pub fn write(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok() && self.stream.flush().is_ok()
    }

    /// Keeps the connection open, answering nothing, until the client closes it or the
    /// server stops (never longer than `limit`).
    pub fn hold(&mut self, limit: Duration) {
        let _ = self
            .stream
            .set_read_timeout(Some(Duration::from_millis(50)));
        let end = Instant::now() + limit;
        let mut buf = [0u8; 1024];
        while !self.stop.load(Ordering::Acquire) && Instant::now() < end {
            match self.stream.read(&mut buf) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return,
            }
        }
    }

    /// Closes with a TCP reset (SO_LINGER 0) instead of a clean FIN.
    pub fn reset(self) {
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: setsockopt on a socket we own, with a correctly sized linger struct.
        unsafe {
            libc::setsockopt(
                self.stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                &linger as *const libc::linger as *const libc::c_void,
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
        drop(self.stream);
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}

/// A TCP server that runs `handler` on a thread per connection.
pub struct RawServer {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    connections: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RawServer {
    pub fn start(handler: impl Fn(Conn) + Send + Sync + 'static) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicU64::new(0));
        let connections = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let handler = Arc::new(handler);
        let (r, c, s) = (requests.clone(), connections.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut workers: Vec<JoinHandle<()>> = Vec::new();
            while !s.load(Ordering::Acquire) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_nodelay(true);
                        c.fetch_add(1, Ordering::AcqRel);
                        let conn = Conn {
                            stream,
                            path: String::new(),
                            requests: r.clone(),
                            stop: s.clone(),
                        };
                        let h = handler.clone();
                        workers.push(std::thread::spawn(move || h(conn)));
                        workers.retain(|w| !w.is_finished());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(1)),
                }
            }
            for w in workers {
                let _ = w.join();
            }
        });
        RawServer {
            addr,
            requests,
            connections,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Request heads read (see [`Conn::read_head`]).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Acquire)
    }

    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Acquire)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A port on 127.0.0.1 where nothing listens, for refused connects.
pub fn closed_port() -> u16 {
    // Bound but never listening, and kept open for the rest of the test process: connects
    // are refused, and no other test can take the port meanwhile.
    let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
    socket
        .bind("127.0.0.1:0".parse().expect("an address"))
        .expect("bind 127.0.0.1:0");
    let port = socket.local_addr().expect("local address").port();
    std::mem::forget(socket);
    port
}

// ---------------------------------------------------------------------------------------
// TLS: a server with a self-signed certificate (for 127.0.0.1 and localhost).

/// Self-signed P-256 leaf certificate (not a CA) for IP 127.0.0.1 and DNS localhost,
/// valid to 2126: no client trusts it without `--insecure`.
pub const TEST_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBoDCCAUagAwIBAgIUCkV75kb/TT/wZGsZXntUd2/ltCcwCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLdm9sbGV5IHRlc3QwIBcNMjYxMTI1MjA1MjU2WhgPMjEyNjEx
MDEyMDUyNTZaMBYxFDASBgNVBAMMC3ZvbGxleSB0ZXN0MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEmF0nbKXmomwtjCFlMBONZF0fKiURtjzCTnpwLJHwh0Rz4kK5
twjFGihjDWzNtRrhHtA/C1ZExZJPZDwEPQoQIqNwMG4wDAYDVR0TAQH/BAIwADAO
BgNVHQ8BAf8EBAMCB4AwEwYDVR0lBAwwCgYIKwYBBQUHAwEwGgYDVR0RBBMwEYcE
fwAAAYIJbG9jYWxob3N0MB0GA1UdDgQWBBQhUaRMbThe7E6MiacYBSPFrwqdKDAK
BggqhkjOPQQDAgNIADBFAiAexIvmjN1KBtCxjTYJMeiW0uUx0Uc+IgF3UqLrdQkM
lAIhAKruKGheElkEaR/484aJ1wNeedS1LD60ecg9ViFSveCR
-----END CERTIFICATE-----
";

/// The certificate's private key (PKCS#8). A test key: it protects nothing.
pub const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgHjYUSlTLMxczfBqz
k/qZUaUrZhwAtKxwGrWZyQp2yt2hRANCAASYXSdspeaibC2MIWUwE41kXR8qJRG2
PMJOenAskfCHRHPiQrm3CMUaKGMNbM21GuEe0D8LVkTFkk9kPAQ9ChAi
-----END PRIVATE KEY-----
";

/// An HTTPS server (rustls, self-signed certificate) answering `200 ok` with keep-alive.
/// Counts completed handshakes and requests.
pub struct TlsServer {
    raw: RawServer,
    handshakes: Arc<AtomicU64>,
}

impl TlsServer {
    pub fn start() -> TlsServer {
        TlsServer::start_with(Duration::ZERO, true)
    }

    /// A server that waits `handshake_delay` before it takes part in each TLS handshake,
    /// and answers requests only when `answer` (else it reads them and stays silent).
    pub fn start_with(handshake_delay: Duration, answer: bool) -> TlsServer {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = vec![CertificateDer::from_pem_slice(TEST_CERT.as_bytes()).unwrap()];
        let key = PrivateKeyDer::from_pem_slice(TEST_KEY.as_bytes()).unwrap();
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
        );
        let handshakes = Arc::new(AtomicU64::new(0));
        let hs = handshakes.clone();
        let raw = RawServer::start(move |conn| {
            let Conn {
                stream,
                requests,
                stop,
                ..
            } = conn;
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            std::thread::sleep(handshake_delay);
            let Ok(tls) = rustls::ServerConnection::new(config.clone()) else {
                return;
            };
            let mut s = rustls::StreamOwned::new(tls, stream);
            let mut shook = false;
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !stop.load(Ordering::Acquire) {
                let n = match s.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                if !shook {
                    shook = true;
                    hs.fetch_add(1, Ordering::AcqRel);
                }
                head.extend_from_slice(&buf[..n]);
                while let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                    head.drain(..i + 4);
                    requests.fetch_add(1, Ordering::AcqRel);
                    if !answer {
                        continue;
                    }
                    if s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .and_then(|_| s.flush())
                        .is_err()
                    {
                        return;
                    }
                }
            }
        });
        TlsServer { raw, handshakes }
    }

    /// `https://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        self.raw.url().replacen("http://", "https://", 1)
    }

    pub fn requests(&self) -> u64 {
        self.raw.requests()
    }

    /// TLS sessions that got as far as application data.
    pub fn handshakes(&self) -> u64 {
        self.handshakes.load(Ordering::Acquire)
    }
}

// ---------------------------------------------------------------------------------------
// A pseudo-terminal (as in tests/console_pty.rs).

/// A volley process on a pty; everything it prints is collected.
pub struct PtyChild {
    pub child: Child,
    /// `None` once the terminal has hung up ([`PtyChild::hang_up`]).
    master: Option<std::fs::File>,
    output: Arc<Mutex<Vec<u8>>>,
    /// Tells the reader to let go of its copy of the master side.
    closing: Arc<AtomicBool>,
    /// Ends when the pty has no writer left (the child and its output are gone).
    reader: Option<JoinHandle<()>>,
    size: (u16, u16),
}

impl PtyChild {
    pub fn spawn(args: &[&str], envs: &[(&str, &str)], cols: u16, rows: u16) -> PtyChild {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // Both sides close-on-exec from the start: a child spawned meanwhile by another
        // test (tests run in parallel) must not inherit this master, or the terminal
        // could not hang up when the test closes it.
        // SAFETY: posix_openpt returns a new descriptor we own, or -1.
        let master_fd =
            unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
        assert!(master_fd >= 0, "posix_openpt failed");
        let mut name = [0 as libc::c_char; 128];
        // SAFETY: a valid master descriptor; ptsname_r writes into a buffer we own.
        unsafe {
            assert_eq!(libc::grantpt(master_fd), 0, "grantpt failed");
            assert_eq!(libc::unlockpt(master_fd), 0, "unlockpt failed");
            assert_eq!(
                libc::ptsname_r(master_fd, name.as_mut_ptr(), name.len()),
                0,
                "ptsname_r failed"
            );
            libc::ioctl(master_fd, libc::TIOCSWINSZ, &ws);
        }
        // SAFETY: a NUL-terminated path from ptsname_r.
        let slave_fd = unsafe {
            libc::open(
                name.as_ptr(),
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
            )
        };
        assert!(slave_fd >= 0, "cannot open the pty's slave side");
        // SAFETY: fresh descriptors we own.
        let slave = unsafe { OwnedFd::from_raw_fd(slave_fd) };
        let master = unsafe { std::fs::File::from_raw_fd(master_fd) };
        let mut cmd = Command::new(volley_bin());
        cmd.args(args)
            .env("TERM", "xterm-256color")
            .env_remove("NO_COLOR")
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        for (k, v) in envs {
            cmd.env(k, v);
        }
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn volley");
        let output = Arc::new(Mutex::new(Vec::new()));
        let out = output.clone();
        let mut from = master.try_clone().unwrap();
        let closing = Arc::new(AtomicBool::new(false));
        let stop = closing.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while !stop.load(Ordering::Acquire) {
                let mut pfd = libc::pollfd {
                    fd: from.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: poll(2) on one pollfd that lives across the call.
                if unsafe { libc::poll(&mut pfd, 1, 50) } <= 0 {
                    continue;
                }
                match from.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => out.lock().unwrap().extend_from_slice(&buf[..n]),
                }
            }
        });
        PtyChild {
            child,
            master: Some(master),
            output,
            closing,
            reader: Some(reader),
            size: (rows, cols),
        }
    }

    pub fn keys(&mut self, s: &str) {
        let master = self.master.as_mut().expect("the terminal is still there");
        master.write_all(s.as_bytes()).unwrap();
        master.flush().unwrap();
    }

    /// Closes the terminal, as a dropped SSH connection or a closed terminal window does:
    /// every copy of the master side is closed, so the kernel hangs up the child's
    /// terminal (SIGHUP, then end-of-file and I/O errors).
    pub fn hang_up(&mut self) {
        self.closing.store(true, Ordering::Release);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        self.master = None;
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// The screen as a person sees it now: the output so far run through a terminal
    /// emulator (vt100), as plain text, one line per row.
    pub fn screen(&self) -> String {
        let nz = |n: u16| std::num::NonZeroU16::new(n.max(1)).expect("at least 1");
        let mut parser = vt100::Parser::new(nz(self.size.0), nz(self.size.1), 0);
        parser.process(&self.output.lock().unwrap());
        parser.screen().contents()
    }

    /// Waits until the screen shows `needle`.
    pub fn wait_screen(&self, needle: &str, limit: Duration) -> bool {
        eventually(limit, || self.screen().contains(needle))
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill({sig}) failed");
    }

    /// Waits until the output contains `needle`.
    pub fn wait_for(&self, needle: &str, limit: Duration) -> bool {
        eventually(limit, || self.text().contains(needle))
    }

    /// Types `q` every 200 ms until the process exits (a finished run waits on its DONE
    /// screen for it), at most for `limit`.
    pub fn quit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            // The pty may already be closed when the process is on its way out.
            if let Some(m) = self.master.as_mut() {
                let _ = m.write_all(b"q");
            }
            if let Some(st) = self.wait_exit(Duration::from_millis(200)) {
                return Some(st);
            }
        }
        None
    }

    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(st) = self.child.try_wait().unwrap() {
                // Everything the child printed: the reader ends once the pty has no writer
                // left (bounded, in case a grandchild still holds it).
                if let Some(r) = self.reader.take() {
                    eventually(Duration::from_secs(5), || r.is_finished());
                    if r.is_finished() {
                        let _ = r.join();
                    }
                }
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for PtyChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` every 10 ms until it holds or `limit` passes; true if it held.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

// ---------------------------------------------------------------------------------------
// A server that drops requests, and other ways to make a count go wrong (tests/truth.rs).

/// How long `/wait-close` waits before it reads the second request and closes.
pub const WAIT_CLOSE: Duration = Duration::from_millis(500);

/// Misbehaves on purpose, by path; every request head it reads is counted:
///
/// * `/reset-second`: answers the first request of a connection (keep-alive), reads the
///   second and resets the connection;
/// * `/close-second`: the same, but closes the connection cleanly (FIN);
/// * `/wait-close`: answers the first, then waits [`WAIT_CLOSE`] without reading, reads the
///   second and closes;
/// * `/status-042`: answers `042` (no HTTP status);
/// * `/upgrade`: answers `101 Switching Protocols` to a plain GET, then closes;
/// * `/endless-100`: sends `100 Continue` over and over (a batch every millisecond) until
///   the client goes away;
/// * anything else: `200 ok`, keep-alive.
pub fn dropping_server() -> RawServer {
    RawServer::start(|mut c: Conn| {
        let mut on_conn = 0;
        while c.read_head() {
            on_conn += 1;
            let ok = match (c.path.as_str(), on_conn) {
                ("/reset-second", 2) => {
                    c.reset();
                    return;
                }
                ("/close-second", 2) => return,
                ("/wait-close", 1) => {
                    if !c.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok") {
                        return;
                    }
                    std::thread::sleep(WAIT_CLOSE);
                    // Read (and count) the request that waited, then close.
                    c.read_head();
                    return;
                }
                ("/status-042", _) => c.write(b"HTTP/1.1 042 Odd\r\ncontent-length: 0\r\n\r\n"),
                ("/upgrade", _) => {
                    c.write(b"HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\nconnection: upgrade\r\n\r\n");
                    std::thread::sleep(Duration::from_millis(20));
                    return;
                }
                ("/endless-100", _) => {
                    let batch = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(16);
                    let end = Instant::now() + Duration::from_secs(10);
                    while !c.stopping() && Instant::now() < end && c.write(&batch) {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    return;
                }
                _ => c.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
            };
            if !ok {
                return;
            }
        }
    })
}
