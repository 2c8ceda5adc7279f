//! One keep-alive connection per VU and origin on hyper's connection API, over a tokio
//! `TcpStream` with TCP_NODELAY (TLS through tokio-rustls): HTTP/1.1, or HTTP/2 when the
//! plan asks for it (`[http] version`: prior knowledge on cleartext, ALPN over TLS). An
//! HTTP/2 connection carries one stream at a time (the VU's one request in flight), or,
//! shared (see `shared`) by a VU's batch clients (`streams_per_connection`) or by VUs
//! (`connections`), one per client on it; each stream is one request.
//!
//! The connection's state machine runs inside the VU's own task (polled alongside the
//! request, see [`Driven`]) rather than in a task of its own: one task wake-up per
//! response instead of two, and no channel hop between two tasks per request.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2, TrySendError};
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::classify::{classify_hyper, h2_unprocessed};
use super::conn::{
    connect_stream_with, may_resend, resend_refused, Failed, Failure, OpenConn, Opened, Progress,
    Stream, MAX_INTERIM,
};
use super::{Attempt, Origin, Prepared, Rendered, Requests, Want, MAX_KEPT_BODY};
use crate::metrics::{ErrorKind, Gauges, Phases};
use crate::scenario::HttpVersion;

mod shared;

pub use shared::H2Pool;

type Body = Full<bytes::Bytes>;
type Request = http::Request<Body>;
type SendResult = Result<http::Response<Incoming>, TrySendError<Request>>;

/// The request side of a connection, HTTP/1.1 or HTTP/2.
enum Sender {
    H1(http1::SendRequest<Body>),
    H2(http2::SendRequest<Body>),
}

impl Sender {
    fn is_closed(&self) -> bool {
        match self {
            Sender::H1(s) => s.is_closed(),
            Sender::H2(s) => s.is_closed(),
        }
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<hyper::Result<()>> {
        match self {
            Sender::H1(s) => s.poll_ready(cx),
            Sender::H2(s) => s.poll_ready(cx),
        }
    }

    fn is_h2(&self) -> bool {
        matches!(self, Sender::H2(_))
    }
}

/// A connection's state machine, HTTP/1.1 or HTTP/2 (whose socket I/O hyper runs in a
/// task of its own; this is the part that hands it requests).
enum ConnDriver {
    /// Boxed: hyper's HTTP/1.1 state machine is several times the size of the HTTP/2
    /// handle (allocated once per connection).
    H1(Box<http1::Connection<TokioIo<Stream>, Body>>),
    H2(http2::Connection<TokioIo<Stream>, Body, TokioExecutor>),
}

impl Future for ConnDriver {
    type Output = hyper::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            ConnDriver::H1(c) => Pin::new(c.as_mut()).poll(cx),
            ConnDriver::H2(c) => Pin::new(c).poll(cx),
        }
    }
}

/// One VU's hyper connections, by origin.
pub struct HyperClient {
    conns: Vec<Option<Conn>>,
    /// HTTP/2 connections shared with other VUs: the run's pool and this VU's slot.
    shared: Option<(Arc<H2Pool>, usize)>,
    /// Interim responses to the request in flight (hyper reports them through a
    /// callback); one counter per VU, reset per request.
    interim: Arc<AtomicUsize>,
}

/// An open connection: the request handle and the connection's state machine, which
/// only makes progress while the VU polls it (during a request).
struct Conn {
    sender: Sender,
    driver: Driver,
}

impl Conn {
    fn is_closed(&self) -> bool {
        let ended = self.driver.live.is_none() && self.driver.remote.is_none();
        ended || self.sender.is_closed()
    }
}

/// A connection's state machine while it runs, and how it ended.
struct Driver {
    /// `None` once the connection has ended (closed by the server, or failed).
    live: Option<(ConnDriver, OpenConn)>,
    /// The connection ended on the server's GOAWAY with an error code (HTTP/2): why.
    goaway: Option<String>,
    /// A shared connection: its state machine runs in a task of its own, which notes
    /// a GOAWAY here.
    remote: Option<shared::GoawayNote>,
}

impl Driver {
    /// Polls the connection; notes how it ended when it does.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some((driver, _)) = self.live.as_mut() else {
            return Poll::Ready(());
        };
        let Poll::Ready(ended) = Pin::new(driver).poll(cx) else {
            return Poll::Pending;
        };
        if let Err(e) = ended {
            let (kind, message) = classify_hyper(&e, false);
            if kind == ErrorKind::Goaway {
                self.goaway = Some(message);
            }
        }
        self.live = None;
        Poll::Ready(())
    }

    /// A request on this connection failed with `kind`: `goaway` instead when the
    /// connection ended under it after the server's GOAWAY (the stream was at or below
    /// the GOAWAY's last stream id, so the server may have processed it).
    async fn went_away(&mut self, kind: ErrorKind, message: String) -> (ErrorKind, String) {
        use ErrorKind::{BodyRead, ConnectionClosed, ConnectionReset};
        if !matches!(kind, ConnectionClosed | ConnectionReset | BodyRead) {
            return (kind, message);
        }
        // hyper hands the GOAWAY to the connection's state machine, not to the stream:
        // let it see it (a shared one's task: let it run).
        std::future::poll_fn(|cx| {
            let _ = self.poll(cx);
            Poll::Ready(())
        })
        .await;
        if let Some(note) = &self.remote {
            tokio::task::yield_now().await;
            self.goaway = note.lock().expect("goaway note").clone();
        }
        match &self.goaway {
            Some(why) => (
                ErrorKind::Goaway,
                format!("{why} (GOAWAY; the connection ended before the response: {message})"),
            ),
            None => (kind, message),
        }
    }
}

/// Polls `fut` and the connection it depends on together. The connection is polled
/// after the future (which may have just queued a request for it) and the future once
/// more if the connection moved, so a request goes out, and a response comes back,
/// within one poll of the VU task.
struct Driven<'a, F> {
    driver: &'a mut Driver,
    fut: F,
}

impl<F: Future + Unpin> Future for Driven<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        if let Poll::Ready(out) = Pin::new(&mut this.fut).poll(cx) {
            return Poll::Ready(out);
        }
        if this.driver.live.is_some() {
            // When it ends (closed or failed), the sender side sees it closed and any
            // pending request gets the connection's error.
            let _ = this.driver.poll(cx);
            return Pin::new(&mut this.fut).poll(cx);
        }
        Poll::Pending
    }
}

fn driven<F: Future + Unpin>(driver: &mut Driver, fut: F) -> Driven<'_, F> {
    Driven { driver, fut }
}

impl HyperClient {
    /// A VU's client; `shared`: the run's pool of HTTP/2 connections and the VU's slot
    /// in it, when VUs share connections.
    pub fn new(n_origins: usize, shared: Option<(Arc<H2Pool>, usize)>) -> Self {
        HyperClient {
            conns: (0..n_origins).map(|_| None).collect(),
            shared,
            interim: Arc::new(AtomicUsize::new(0)),
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
        // Latency and the deadline both run from here: connecting is part of the wait.
        let start = Instant::now();
        let deadline = tokio::time::Instant::from_std(start) + p.timeout;
        let mut sent = false;
        let mut retry = None;
        let exchange = self.exchange(
            reqs,
            p,
            rendered,
            want,
            gauges,
            (start, &mut sent, &mut retry),
        );
        let result = tokio::time::timeout_at(deadline, exchange).await;
        let latency = start.elapsed().as_micros() as u64;
        let mut attempt = match result {
            Ok(Ok((status, bytes, body, headers, phases))) => {
                let mut a = Attempt::response(status, latency, bytes, body, headers);
                a.phases = Some(phases);
                a
            }
            Ok(Err(f)) => {
                // An HTTP/2 stream reset ends that stream alone: the connection stays.
                if f.kind != ErrorKind::StreamReset {
                    self.conns[p.origin] = None;
                }
                f.into_attempt(None)
            }
            Err(_) => {
                // The connection is in an unknown state: never reuse it.
                self.conns[p.origin] = None;
                Attempt::timed_out(sent, p.timeout, latency)
            }
        };
        attempt.retry = retry;
        attempt
    }

    /// Connects when needed, sends, reads the response; sends once more on a fresh
    /// connection when a kept-alive one ended under the request before any response (on
    /// the rule of [`may_resend`]).
    async fn exchange(
        &mut self,
        reqs: &Requests,
        p: &Prepared,
        rendered: Option<&Rendered>,
        want: Want,
        gauges: &Arc<Gauges>,
        (start, sent, retry): Progress<'_>,
    ) -> Result<Exchanged, Failed> {
        let mut retried = false;
        let mut opened: Option<Opened> = None;
        let mut sent_at: Instant;
        let resp = loop {
            // Reuse the connection unless the server closed it.
            if self.conns[p.origin].as_ref().is_some_and(Conn::is_closed) {
                self.conns[p.origin] = None;
            }
            let mut reused = self.conns[p.origin].is_some();
            if !reused {
                let (conn, o) = match &self.shared {
                    Some((pool, slot)) => shared::conn(pool, *slot, reqs, p.origin, gauges).await?,
                    None => {
                        let (c, o) = connect(reqs, &reqs.origins[p.origin], gauges).await?;
                        (c, Some(o))
                    }
                };
                self.conns[p.origin] = Some(conn);
                // Another VU's open connection is a reused one.
                reused = o.is_none();
                opened = o;
            }
            let h2 = self.conns[p.origin]
                .as_ref()
                .is_some_and(|c| c.sender.is_h2());
            let mut req = build_request(p, rendered, h2.then_some(&reqs.origins[p.origin]))?;
            // hyper skips interim responses itself: count them to stop an endless stream.
            let interim = self.interim.clone();
            interim.store(0, Ordering::Relaxed);
            let seen = interim.clone();
            hyper::ext::on_informational(&mut req, move |_| {
                seen.fetch_add(1, Ordering::Relaxed);
            });
            let conn = self.conns[p.origin].as_mut().expect("connected above");
            *sent = true;
            sent_at = Instant::now();
            let head = async {
                let ready = std::future::poll_fn(|cx| conn.sender.poll_ready(cx));
                if let Err(e) = driven(&mut conn.driver, std::pin::pin!(ready)).await {
                    return Ok(Err((e, true)));
                }
                match &mut conn.sender {
                    Sender::H1(s) => {
                        send_head(&mut conn.driver, s.try_send_request(req), &interim).await
                    }
                    Sender::H2(s) => {
                        send_head(&mut conn.driver, s.try_send_request(req), &interim).await
                    }
                }
            };
            match head.await {
                Ok(Ok(resp)) => break resp,
                Err(()) => {
                    return Err(Failed::new(
                        ErrorKind::InvalidResponse,
                        format!("more than {MAX_INTERIM} interim (1xx) responses"),
                    ))
                }
                Ok(Err((e, unsent))) => {
                    let (kind, message) = classify_hyper(&e, false);
                    let (kind, message) = match self.conns[p.origin].as_mut() {
                        Some(c) if c.sender.is_h2() => c.driver.went_away(kind, message).await,
                        _ => (kind, message),
                    };
                    if kind != ErrorKind::StreamReset {
                        self.conns[p.origin] = None;
                    }
                    // hyper does not say whether part of a head arrived before the
                    // connection ended (h1 does): a closed or reset connection here is
                    // taken as ended before any response byte.
                    let failure = Failure {
                        kind,
                        unsent,
                        answered: false,
                    };
                    let reusable = reused && !retried;
                    let again = if h2_unprocessed(&e) {
                        resend_refused(reqs.retry, retried)
                    } else {
                        may_resend(reqs.retry, &p.method, reusable, failure, start, retry)
                    };
                    if !again {
                        return Err(Failed::new(kind, message));
                    }
                    retried = true;
                }
            }
        };
        let conn = self.conns[p.origin]
            .as_mut()
            .expect("a response came from this connection");
        let h2 = conn.sender.is_h2();
        let driver = &mut conn.driver;
        let head_at = Instant::now();
        let (opened, sent_at) = (opened, sent_at);
        let read = async move {
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
                        return Err(Failed::new(
                            kind,
                            format!("{message} (after {bytes} body bytes)"),
                        ));
                    }
                }
            }
            let done = Instant::now();
            // hyper writes the request inside its connection task: when the write ended
            // is not seen here, so `send` stays unmeasured.
            let phases = Phases {
                dns_us: opened.and_then(|o| o.dns_us),
                connect_us: opened.map(|o| o.connect_us),
                tls_us: opened.and_then(|o| o.tls_us),
                send_us: None,
                ttfb_us: head_at.saturating_duration_since(sent_at).as_micros() as u64,
                receive_us: done.saturating_duration_since(head_at).as_micros() as u64,
            };
            Ok((status, bytes, kept.map(|k| k.freeze()), headers, phases))
        };
        match driven(driver, std::pin::pin!(read)).await {
            Err(f) if h2 => {
                let (kind, message) = driver.went_away(f.kind, f.message).await;
                Err(Failed::new(kind, message))
            }
            done => done,
        }
    }
}

/// Sends a request (`send`, from either protocol's sender) and waits for the response
/// head, driving the connection meanwhile; `Err(())` past [`MAX_INTERIM`] interim
/// responses, else the response or hyper's error and whether the request never left.
async fn send_head(
    driver: &mut Driver,
    send: impl Future<Output = SendResult>,
    interim: &AtomicUsize,
) -> Result<Result<http::Response<Incoming>, (hyper::Error, bool)>, ()> {
    let send = std::pin::pin!(send);
    let mut fut = std::pin::pin!(driven(driver, send));
    std::future::poll_fn(|cx| {
        let polled = fut.as_mut().poll(cx);
        if interim.load(Ordering::Relaxed) > MAX_INTERIM {
            return Poll::Ready(Err(()));
        }
        polled.map(|r| {
            Ok(r.map_err(|mut e| {
                let unsent = e.take_message().is_some();
                (e.into_error(), unsent)
            }))
        })
    })
    .await
}

/// A response read to its end: status, body bytes, the body and headers when wanted,
/// and its phases (the time to first byte is to the response head: hyper hands over
/// heads, not bytes).
type Exchanged = (
    u16,
    u64,
    Option<bytes::Bytes>,
    Option<http::HeaderMap>,
    Phases,
);

/// The request for one send: the prepared template plus what was rendered. Over HTTP/2
/// (`h2` names the origin) the URI is absolute and the Host header becomes its
/// authority (`:authority`), as HTTP/2 wants.
fn build_request(
    p: &Prepared,
    rendered: Option<&Rendered>,
    h2: Option<&Origin>,
) -> Result<Request, Failed> {
    let mut req = http::Request::new(Full::new(p.body.clone()));
    *req.method_mut() = p.method.clone();
    *req.uri_mut() = p.uri.clone();
    *req.headers_mut() = p.headers.clone();
    if let Some(r) = rendered {
        *req.uri_mut() = r.uri(p)?;
        *req.headers_mut() = r.headers(p).into_owned();
        *req.body_mut() = Full::new(r.body(p).clone());
    }
    if let Some(origin) = h2 {
        let authority = req
            .headers_mut()
            .remove(http::header::HOST)
            .ok_or_else(|| Failed::new(ErrorKind::Other, "the request has no Host header"))?;
        let pq = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
        let absolute = http::Uri::builder()
            .scheme(if origin.https { "https" } else { "http" })
            .authority(authority.as_bytes())
            .path_and_query(pq)
            .build()
            .map_err(|e| {
                Failed::new(
                    ErrorKind::Other,
                    format!("cannot form an HTTP/2 request URI: {e}"),
                )
            })?;
        *req.uri_mut() = absolute;
        *req.version_mut() = http::Version::HTTP_2;
    }
    Ok(req)
}

/// Connects, and starts HTTP/2 when the plan's version and the origin call for it:
/// `"2"` always (prior knowledge on cleartext, ALPN `h2` over TLS), `"auto"` when TLS
/// negotiated `h2`.
async fn connect(
    reqs: &Requests,
    origin: &Origin,
    gauges: &Arc<Gauges>,
) -> Result<(Conn, Opened), Failed> {
    let tls = match reqs.version {
        HttpVersion::Http1 => &reqs.tls,
        HttpVersion::Http2 | HttpVersion::Auto => &reqs.tls_h2,
    };
    let (stream, opened) = connect_stream_with(origin, tls).await?;
    let negotiated_h2 = match &stream {
        Stream::Tls(t) => t.get_ref().1.alpn_protocol() == Some(b"h2"),
        Stream::Plain(_) => false,
    };
    let h2 = match reqs.version {
        HttpVersion::Http1 => false,
        HttpVersion::Auto => negotiated_h2,
        HttpVersion::Http2 if origin.https && !negotiated_h2 => {
            return Err(Failed::connecting(
                ErrorKind::Tls,
                format!(
                    "{} did not agree to HTTP/2 through ALPN (version = \"2\"; \"auto\" falls back to HTTP/1.1)",
                    origin.host
                ),
            ));
        }
        HttpVersion::Http2 => true,
    };
    let failed = |e: hyper::Error| {
        let (kind, message) = classify_hyper(&e, false);
        Failed::connecting(kind, message)
    };
    let (sender, driver) = if h2 {
        let (s, d) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .map_err(failed)?;
        (Sender::H2(s), ConnDriver::H2(d))
    } else {
        let (s, d) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(failed)?;
        (Sender::H1(s), ConnDriver::H1(Box::new(d)))
    };
    let conn = Conn {
        sender,
        driver: Driver {
            live: Some((driver, OpenConn::new(gauges))),
            goaway: None,
            remote: None,
        },
    };
    Ok((conn, opened))
}
