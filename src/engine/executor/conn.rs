//! What both HTTP/1.1 executors share: a TCP (or TLS over TCP) stream to an origin,
//! opened with TCP_NODELAY, and the open-connection gauge that follows it.

use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::client::TlsStream;

use super::classify::classify_io;
use super::{Attempt, Origin, Requests};
use crate::metrics::{ErrorKind, Gauges, Retry, RetryReason};
use crate::scenario::RetryPolicy;

/// A plain or TLS stream, as one type so that every connection has the same driver type.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Decrements the open-connection gauge when the connection ends or is dropped.
pub struct OpenConn(Arc<Gauges>);

impl Drop for OpenConn {
    fn drop(&mut self) {
        self.0.connections_open.fetch_sub(1, Ordering::Relaxed);
    }
}

pub struct Failed {
    pub kind: ErrorKind,
    pub message: String,
    /// No connection could be made (DNS, connect or TLS handshake): nothing was sent.
    pub connect: bool,
}

impl OpenConn {
    /// Counts a connection as opened and open until the returned guard is dropped.
    pub fn new(gauges: &Arc<Gauges>) -> OpenConn {
        gauges.connections_open.fetch_add(1, Ordering::Relaxed);
        gauges.connections_opened.fetch_add(1, Ordering::Relaxed);
        OpenConn(gauges.clone())
    }
}

impl Failed {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Failed {
        Failed {
            kind,
            message: message.into(),
            connect: false,
        }
    }

    /// A failure to connect (DNS, TCP or TLS): the VU backs off after it.
    pub fn connecting(kind: ErrorKind, message: impl Into<String>) -> Failed {
        Failed {
            connect: true,
            ..Failed::new(kind, message)
        }
    }

    pub fn into_attempt(self, latency_us: Option<u64>) -> Attempt {
        let mut a = Attempt::failed(self.kind, self.message, latency_us);
        a.connect_failed = self.connect;
        a
    }
}

/// How long opening a connection took, microseconds: the TCP connect (to the address
/// that answered, after name resolution) and the TLS handshake.
#[derive(Debug, Clone, Copy, Default)]
pub struct Opened {
    /// Name resolution, when the host is a name (an IP address needs none).
    pub dns_us: Option<u64>,
    pub connect_us: u64,
    pub tls_us: Option<u64>,
}

/// The source addresses outgoing connections are bound to, in turn (`--bind`, `[http]
/// local_addresses`): each source address has its own ephemeral ports, so `n` of them
/// carry `n` times the connections to one target address. Empty: the system chooses.
#[derive(Debug, Default)]
pub struct Bind {
    addrs: Vec<IpAddr>,
    next: AtomicUsize,
}

impl Bind {
    pub fn new(addrs: Vec<IpAddr>) -> Bind {
        Bind {
            addrs,
            next: AtomicUsize::new(0),
        }
    }

    /// The next source address of `target`'s family (round robin over the run's
    /// connections); `Ok(None)` when none are set.
    fn pick(&self, target: &SocketAddr) -> Result<Option<IpAddr>, String> {
        if self.addrs.is_empty() {
            return Ok(None);
        }
        let family = |a: &&IpAddr| a.is_ipv4() == target.is_ipv4();
        let n = self.addrs.iter().filter(family).count();
        if n == 0 {
            return Err(format!(
                "no source address (--bind, local_addresses) is {} like {target}",
                if target.is_ipv4() { "IPv4" } else { "IPv6" }
            ));
        }
        let k = self.next.fetch_add(1, Ordering::Relaxed) % n;
        Ok(self.addrs.iter().filter(family).nth(k).copied())
    }
}

/// A TCP connection to `addr`, from the source address `local` when one is given.
async fn connect_tcp(addr: &SocketAddr, local: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let Some(ip) = local else {
        return TcpStream::connect(addr).await;
    };
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // The port is chosen at connect time, per destination (Linux): a bind to port 0 would
    // otherwise take one of the source address's ports for good, whatever the target.
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let on: libc::c_int = 1;
        // SAFETY: a valid socket, a c_int option of the right size.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_IP,
                libc::IP_BIND_ADDRESS_NO_PORT,
                (&on as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
    socket.bind(SocketAddr::new(ip, 0))?;
    socket.connect(*addr).await
}

/// Resolves the origin, connects to the first address that answers, and shakes hands
/// with TLS when the origin is https.
pub async fn connect_stream(reqs: &Requests, origin: &Origin) -> Result<(Stream, Opened), Failed> {
    connect_stream_with(origin, &reqs.tls).await
}

/// [`connect_stream`] with the TLS configuration `tls` (which sets the ALPN offer).
pub async fn connect_stream_with(
    origin: &Origin,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<(Stream, Opened), Failed> {
    let resolving = Instant::now();
    let addrs: Vec<std::net::SocketAddr> =
        match tokio::net::lookup_host((origin.host.as_str(), origin.port)).await {
            Ok(a) => a.collect(),
            Err(e) => {
                return Err(Failed::connecting(
                    ErrorKind::Dns,
                    format!("cannot resolve '{}': {e}", origin.host),
                ))
            }
        };
    let dns_us = origin
        .host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_err()
        .then(|| resolving.elapsed().as_micros() as u64);
    let mut last_err = None;
    let mut stream = None;
    let connecting = Instant::now();
    for addr in &addrs {
        let local = match origin.bind.pick(addr) {
            Ok(local) => local,
            Err(e) => {
                last_err = Some((addr, std::io::Error::other(e)));
                continue;
            }
        };
        match connect_tcp(addr, local).await {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_err = Some((addr, e)),
        }
    }
    let stream = match stream {
        Some(s) => s,
        None => {
            let (kind, message) = match last_err {
                Some((addr, e)) => (classify_io(&e), format!("connect to {addr}: {e}")),
                None => (
                    ErrorKind::Dns,
                    format!("'{}' has no addresses", origin.host),
                ),
            };
            return Err(Failed::connecting(kind, message));
        }
    };
    let _ = stream.set_nodelay(true);
    let mut opened = Opened {
        dns_us,
        connect_us: connecting.elapsed().as_micros() as u64,
        tls_us: None,
    };
    let stream = if origin.https {
        let shaking = Instant::now();
        let name = rustls::pki_types::ServerName::try_from(origin.host.clone()).map_err(|e| {
            Failed::connecting(
                ErrorKind::Tls,
                format!("invalid TLS server name '{}': {e}", origin.host),
            )
        })?;
        let tls = tokio_rustls::TlsConnector::from(tls.clone())
            .connect(name, stream)
            .await
            .map_err(|e| {
                Failed::connecting(
                    match e.kind() {
                        std::io::ErrorKind::ConnectionReset => ErrorKind::ConnectionReset,
                        _ => ErrorKind::Tls,
                    },
                    format!("TLS handshake with {}: {e}", origin.host),
                )
            })?;
        opened.tls_us = Some(shaking.elapsed().as_micros() as u64);
        Stream::Tls(Box::new(tls))
    } else {
        Stream::Plain(stream)
    };
    Ok((stream, opened))
}

/// How an attempt on a connection failed, as far as sending it again is concerned.
#[derive(Debug, Clone, Copy)]
pub struct Failure {
    pub kind: ErrorKind,
    /// The request could not be handed to the connection (never written, or the write
    /// failed): the server cannot have read all of it.
    pub unsent: bool,
    /// Some of a response arrived.
    pub answered: bool,
}

/// Whether a failed attempt is sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    No,
    /// Yes; the server never got the request, so the attempt is not counted.
    Unsent,
    /// Yes; the server may have read the request, so the attempt is counted as a retry.
    Counted(RetryReason),
}

/// The retry rule, the same for every client: only an attempt on a reused keep-alive
/// connection (`reusable`: reused, and not already a second attempt) that ended before
/// any byte of a response, and only with `retry = "stale"`. A request the server cannot
/// have read is sent again whatever its method; one it may have read only when it is
/// idempotent (never a POST or PATCH), and that first attempt is counted.
pub fn resend(policy: RetryPolicy, method: &http::Method, reusable: bool, f: Failure) -> Resend {
    if policy == RetryPolicy::Never || !reusable {
        return Resend::No;
    }
    if f.unsent {
        return Resend::Unsent;
    }
    match RetryReason::of(f.kind) {
        Some(reason) if !f.answered && idempotent(method) => Resend::Counted(reason),
        _ => Resend::No,
    }
}

/// What an exchange reports back besides its result: when the request started, whether
/// a request was written, and the first attempt of a request sent twice.
pub type Progress<'a> = (Instant, &'a mut bool, &'a mut Option<Retry>);

/// [`resend`] for a failed attempt of a request that started at `start`: true when it
/// is sent again; a counted retry is noted in `retry`.
pub fn may_resend(
    policy: RetryPolicy,
    method: &http::Method,
    reusable: bool,
    f: Failure,
    start: Instant,
    retry: &mut Option<Retry>,
) -> bool {
    match resend(policy, method, reusable, f) {
        Resend::No => false,
        Resend::Unsent => true,
        Resend::Counted(reason) => {
            *retry = Some(Retry {
                reason,
                first_us: start.elapsed().as_micros() as u64,
            });
            true
        }
    }
}

/// Whether an HTTP/2 stream the server said it did not process (refused with
/// REFUSED_STREAM, or above the last stream id of its GOAWAY; RFC 9113, 8.7) is sent
/// again: once more whatever the method and however new the connection, unless it
/// already was a second attempt or the policy is `never`. Not counted as a retry: the
/// server never processed the first attempt.
pub fn resend_refused(policy: RetryPolicy, retried: bool) -> bool {
    policy != RetryPolicy::Never && !retried
}

/// Methods whose request may be sent again when a kept-alive connection turned out to be
/// closed by the server as it was reused.
pub fn idempotent(m: &http::Method) -> bool {
    matches!(
        *m,
        http::Method::GET
            | http::Method::HEAD
            | http::Method::PUT
            | http::Method::DELETE
            | http::Method::OPTIONS
    )
}

/// Most interim (1xx) responses accepted before the final one; past that the response
/// is `invalid_response` (a server sending `100 Continue` forever would keep a VU busy).
pub const MAX_INTERIM: usize = 32;

/// The error message for an HTTP status of 400 or more.
pub fn status_message(status: u16) -> String {
    match http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("HTTP {status} {reason}"),
        None => format!("HTTP {status}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(kind: ErrorKind, unsent: bool, answered: bool) -> Failure {
        Failure {
            kind,
            unsent,
            answered,
        }
    }

    #[test]
    fn the_retry_rule() {
        use http::Method;
        let closed = failure(ErrorKind::ConnectionClosed, false, false);
        let reset = failure(ErrorKind::ConnectionReset, false, false);
        let stale = RetryPolicy::Stale;
        assert_eq!(
            resend(stale, &Method::GET, true, closed),
            Resend::Counted(RetryReason::ClosedBeforeResponse)
        );
        assert_eq!(
            resend(stale, &Method::DELETE, true, reset),
            Resend::Counted(RetryReason::ResetBeforeResponse)
        );
        // The server may have read a POST: never sent twice.
        assert_eq!(resend(stale, &Method::POST, true, closed), Resend::No);
        assert_eq!(resend(stale, &Method::PATCH, true, reset), Resend::No);
        // ... unless it provably never left.
        let unsent = failure(ErrorKind::ConnectionClosed, true, false);
        assert_eq!(resend(stale, &Method::POST, true, unsent), Resend::Unsent);
        // A fresh connection, a second attempt, a response begun, another error: no.
        assert_eq!(resend(stale, &Method::GET, false, closed), Resend::No);
        let answered = failure(ErrorKind::ConnectionReset, false, true);
        assert_eq!(resend(stale, &Method::GET, true, answered), Resend::No);
        let timeout = failure(ErrorKind::Timeout, false, false);
        assert_eq!(resend(stale, &Method::GET, true, timeout), Resend::No);
        // A refused HTTP/2 stream: once, on any connection, unless `never`.
        assert!(resend_refused(stale, false));
        assert!(!resend_refused(stale, true));
        assert!(!resend_refused(RetryPolicy::Never, false));
        // `never`: nothing is sent again.
        for f in [closed, reset, unsent] {
            assert_eq!(
                resend(RetryPolicy::Never, &Method::GET, true, f),
                Resend::No
            );
        }
    }
}
