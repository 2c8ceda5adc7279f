//! What both HTTP/1.1 executors share: a TCP (or TLS over TCP) stream to an origin,
//! opened with TCP_NODELAY, and the open-connection gauge that follows it.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::classify::classify_io;
use super::{Attempt, Origin, Requests};
use crate::metrics::{ErrorKind, Gauges};

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
        }
    }

    pub fn into_attempt(self, latency_us: Option<u64>) -> Attempt {
        Attempt::failed(self.kind, self.message, latency_us)
    }
}

/// Resolves the origin, connects to the first address that answers, and shakes hands
/// with TLS when the origin is https.
pub async fn connect_stream(reqs: &Requests, origin: &Origin) -> Result<Stream, Failed> {
    let addrs: Vec<std::net::SocketAddr> =
        match tokio::net::lookup_host((origin.host.as_str(), origin.port)).await {
            Ok(a) => a.collect(),
            Err(e) => {
                return Err(Failed {
                    kind: ErrorKind::Dns,
                    message: format!("cannot resolve '{}': {e}", origin.host),
                })
            }
        };
    let mut last_err = None;
    let mut stream = None;
    for addr in &addrs {
        match TcpStream::connect(addr).await {
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
            return Err(Failed { kind, message });
        }
    };
    let _ = stream.set_nodelay(true);
    let stream = if origin.https {
        let name =
            rustls::pki_types::ServerName::try_from(origin.host.clone()).map_err(|e| Failed {
                kind: ErrorKind::Tls,
                message: format!("invalid TLS server name '{}': {e}", origin.host),
            })?;
        let tls = tokio_rustls::TlsConnector::from(reqs.tls.clone())
            .connect(name, stream)
            .await
            .map_err(|e| Failed {
                kind: match e.kind() {
                    std::io::ErrorKind::ConnectionReset => ErrorKind::ConnectionReset,
                    _ => ErrorKind::Tls,
                },
                message: format!("TLS handshake with {}: {e}", origin.host),
            })?;
        Stream::Tls(Box::new(tls))
    } else {
        Stream::Plain(stream)
    };
    Ok(stream)
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
