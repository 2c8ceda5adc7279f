//! The hot path: one keep-alive HTTP/1.1 connection per VU and origin, on hyper's
//! connection API over a tokio `TcpStream` with TCP_NODELAY (TLS through tokio-rustls).
//!
//! The connection's state machine runs inside the VU's own task (polled alongside the
//! request, see [`Driven`]) rather than in a task of its own: one task wake-up per
//! response instead of two, and no channel hop between two tasks per request.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::classify::{classify_hyper, classify_io};
use super::{Attempt, Origin, Prepared, Rendered, Requests, Want, MAX_KEPT_BODY};
use crate::metrics::{ErrorKind, Gauges, Outcome};

type Body = Full<bytes::Bytes>;
type Sender = SendRequest<Body>;
type ConnDriver = Connection<TokioIo<Stream>, Body>;

/// One VU's hyper connections, by origin.
pub struct HyperClient {
    conns: Vec<Option<Conn>>,
}

/// An open connection: the request handle and the connection's state machine, which
/// only makes progress while the VU polls it (during a request).
struct Conn {
    sender: Sender,
    /// `None` once the connection has ended (closed by the server, or failed).
    driver: Option<(ConnDriver, OpenConn)>,
}

impl Conn {
    fn is_closed(&self) -> bool {
        self.driver.is_none() || self.sender.is_closed()
    }
}

/// Polls `fut` and the connection it depends on together. The connection is polled
/// after the future (which may have just queued a request for it) and the future once
/// more if the connection moved, so a request goes out, and a response comes back,
/// within one poll of the VU task.
struct Driven<'a, F> {
    driver: &'a mut Option<(ConnDriver, OpenConn)>,
    fut: F,
}

impl<F: Future + Unpin> Future for Driven<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        if let Poll::Ready(out) = Pin::new(&mut this.fut).poll(cx) {
            return Poll::Ready(out);
        }
        if let Some((driver, _)) = this.driver.as_mut() {
            if Pin::new(driver).poll(cx).is_ready() {
                // Ended (closed or failed): the sender side now sees it closed and any
                // pending request gets the connection's error.
                *this.driver = None;
            }
            return Pin::new(&mut this.fut).poll(cx);
        }
        Poll::Pending
    }
}

fn driven<F: Future + Unpin>(driver: &mut Option<(ConnDriver, OpenConn)>, fut: F) -> Driven<'_, F> {
    Driven { driver, fut }
}

/// A plain or TLS stream, as one type so that every connection has the same driver type.
enum Stream {
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
struct OpenConn(Arc<Gauges>);

impl Drop for OpenConn {
    fn drop(&mut self) {
        self.0.connections_open.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Failed {
    kind: ErrorKind,
    message: String,
}

impl HyperClient {
    pub fn new(n_origins: usize) -> Self {
        HyperClient {
            conns: (0..n_origins).map(|_| None).collect(),
        }
    }

    pub async fn send(
        &mut self,
        reqs: &Requests,
        p: &Prepared,
        rendered: Option<&Rendered>,
        want: Want,
        gauges: &Arc<Gauges>,
    ) -> Attempt {
        let deadline = tokio::time::Instant::now() + p.timeout;
        let mut retried = false;
        let (resp, start) = loop {
            // Reuse the connection unless the server closed it.
            if self.conns[p.origin].as_ref().is_some_and(Conn::is_closed) {
                self.conns[p.origin] = None;
            }
            let reused = self.conns[p.origin].is_some();
            if !reused {
                let origin = &reqs.origins[p.origin];
                match tokio::time::timeout_at(deadline, connect(reqs, origin, gauges)).await {
                    Ok(Ok(s)) => self.conns[p.origin] = Some(s),
                    Ok(Err(f)) => return failed(f, None),
                    Err(_) => {
                        return failed(
                            Failed {
                                kind: ErrorKind::Timeout,
                                message: format!("connect timed out after {:?}", p.timeout),
                            },
                            None,
                        )
                    }
                }
            }
            let req = match build_request(p, rendered) {
                Ok(r) => r,
                Err(f) => return failed(f, None),
            };
            let conn = self.conns[p.origin].as_mut().expect("connected above");
            let start = Instant::now();
            let head = tokio::time::timeout_at(deadline, async {
                if let Err(e) = driven(&mut conn.driver, std::pin::pin!(conn.sender.ready())).await
                {
                    return Err((e, true));
                }
                let send = std::pin::pin!(conn.sender.try_send_request(req));
                driven(&mut conn.driver, send).await.map_err(|mut e| {
                    let unsent = e.take_message().is_some();
                    (e.into_error(), unsent)
                })
            })
            .await;
            match head {
                Ok(Ok(resp)) => break (resp, start),
                Ok(Err((e, unsent))) => {
                    self.conns[p.origin] = None;
                    let (kind, message) = classify_hyper(&e, false);
                    // A keep-alive connection the server was closing as we used it: the
                    // request never reached the server (or, idempotent, can be sent again).
                    let stale = matches!(
                        kind,
                        ErrorKind::ConnectionClosed | ErrorKind::ConnectionReset
                    );
                    if reused && !retried && (unsent || (stale && idempotent(&p.method))) {
                        retried = true;
                        continue;
                    }
                    return failed(Failed { kind, message }, None);
                }
                Err(_) => {
                    self.conns[p.origin] = None;
                    return failed(
                        Failed {
                            kind: ErrorKind::Timeout,
                            message: format!("no complete response within {:?}", p.timeout),
                        },
                        Some(start.elapsed().as_micros() as u64),
                    );
                }
            }
        };
        let driver = &mut self.conns[p.origin]
            .as_mut()
            .expect("a response came from this connection")
            .driver;
        let exchange = async {
            let status = resp.status().as_u16();
            let (parts, mut body) = resp.into_parts();
            let headers = want.headers.then_some(parts.headers);
            let mut bytes = 0u64;
            let mut kept: Option<bytes::BytesMut> = want.body.then(bytes::BytesMut::new);
            while let Some(frame) = body.frame().await {
                match frame {
                    Ok(f) => {
                        if let Some(d) = f.data_ref() {
                            bytes += d.len() as u64;
                            if let Some(k) = &mut kept {
                                if k.len() + d.len() <= MAX_KEPT_BODY {
                                    k.extend_from_slice(d);
                                } else {
                                    kept = None;
                                }
                            }
                        }
                    }
                    Err(e) => {
                        let (kind, message) = classify_hyper(&e, true);
                        return Err(Failed {
                            kind,
                            message: format!("{message} (after {bytes} body bytes)"),
                        });
                    }
                }
            }
            Ok((status, bytes, kept.map(|k| k.freeze()), headers))
        };
        let result =
            tokio::time::timeout_at(deadline, driven(driver, std::pin::pin!(exchange))).await;
        let latency = start.elapsed().as_micros() as u64;
        match result {
            Ok(Ok((status, bytes, body, headers))) => Attempt {
                outcome: Outcome::Status(status),
                latency_us: Some(latency),
                bytes,
                message: (status >= 400).then(|| status_message(status)),
                body,
                headers,
            },
            Ok(Err(f)) => {
                self.conns[p.origin] = None;
                failed(f, None)
            }
            Err(_) => {
                // The connection is in an unknown state: never reuse it.
                self.conns[p.origin] = None;
                failed(
                    Failed {
                        kind: ErrorKind::Timeout,
                        message: format!("no complete response within {:?}", p.timeout),
                    },
                    Some(latency),
                )
            }
        }
    }
}

fn idempotent(m: &http::Method) -> bool {
    matches!(
        *m,
        http::Method::GET
            | http::Method::HEAD
            | http::Method::PUT
            | http::Method::DELETE
            | http::Method::OPTIONS
    )
}

/// The request for one send: the prepared template plus what was rendered.
fn build_request(
    p: &Prepared,
    rendered: Option<&Rendered>,
) -> Result<http::Request<Full<bytes::Bytes>>, Failed> {
    let mut req = http::Request::new(Full::new(p.body.clone()));
    *req.method_mut() = p.method.clone();
    *req.uri_mut() = p.uri.clone();
    *req.headers_mut() = p.headers.clone();
    if let Some(r) = rendered {
        if let Some(path) = &r.path {
            *req.uri_mut() = path.parse().map_err(|e| Failed {
                kind: ErrorKind::Other,
                message: format!("rendered path is not a valid URI: {e}"),
            })?;
        }
        for (k, v) in &r.headers {
            req.headers_mut().insert(k.clone(), v.clone());
        }
        if let Some(b) = &r.body {
            req.headers_mut().insert(
                http::header::CONTENT_LENGTH,
                http::HeaderValue::from(b.len()),
            );
            *req.body_mut() = Full::new(b.clone());
        }
    }
    Ok(req)
}

fn failed(f: Failed, latency_us: Option<u64>) -> Attempt {
    Attempt::failed(f.kind, f.message, latency_us)
}

pub fn status_message(status: u16) -> String {
    match http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("HTTP {status} {reason}"),
        None => format!("HTTP {status}"),
    }
}

async fn connect(reqs: &Requests, origin: &Origin, gauges: &Arc<Gauges>) -> Result<Conn, Failed> {
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
    let (sender, driver) = http1::handshake(TokioIo::new(stream)).await.map_err(|e| {
        let (kind, message) = classify_hyper(&e, false);
        Failed { kind, message }
    })?;
    gauges.connections_open.fetch_add(1, Ordering::Relaxed);
    gauges.connections_opened.fetch_add(1, Ordering::Relaxed);
    Ok(Conn {
        sender,
        driver: Some((driver, OpenConn(gauges.clone()))),
    })
}
