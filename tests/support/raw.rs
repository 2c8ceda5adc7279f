//! Bare TCP servers, for misbehaviour HTTP libraries will not produce: [`RawServer`]
//! (a closure gets each connection), [`dropping_server`] (drops requests in several ways,
//! by path), [`ResetServer`] (resets connections), and [`closed_port`].

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One accepted connection of a [`RawServer`].
pub struct Conn {
    pub stream: TcpStream,
    /// Path of the last request head read.
    pub path: String,
    pub(super) requests: Arc<AtomicU64>,
    pub(super) stop: Arc<AtomicBool>,
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
    count: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ResetServer {
    pub fn start(mode: Reset) -> ResetServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let count = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
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
        self.count.load(Ordering::Acquire)
    }
}

impl Drop for ResetServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
