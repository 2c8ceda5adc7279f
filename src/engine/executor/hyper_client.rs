//! The hot path: one keep-alive HTTP/1.1 connection per VU and origin, on hyper's
//! connection API over a tokio `TcpStream` with TCP_NODELAY (TLS through tokio-rustls).
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
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper_util::rt::TokioIo;

use super::classify::classify_hyper;
use super::conn::{
    connect_stream, may_resend, Failed, Failure, OpenConn, Progress, Stream, MAX_INTERIM,
};
use super::{Attempt, Origin, Prepared, Rendered, Requests, Want, MAX_KEPT_BODY};
use crate::metrics::{ErrorKind, Gauges};

type Body = Full<bytes::Bytes>;
type Sender = SendRequest<Body>;
type ConnDriver = Connection<TokioIo<Stream>, Body>;

/// One VU's hyper connections, by origin.
pub struct HyperClient {
    conns: Vec<Option<Conn>>,
    /// Interim responses to the request in flight (hyper reports them through a
    /// callback); one counter per VU, reset per request.
    interim: Arc<AtomicUsize>,
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

impl HyperClient {
    pub fn new(n_origins: usize) -> Self {
        HyperClient {
            conns: (0..n_origins).map(|_| None).collect(),
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
            Ok(Ok((status, bytes, body, headers))) => {
                Attempt::response(status, latency, bytes, body, headers)
            }
            Ok(Err(f)) => {
                self.conns[p.origin] = None;
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
        let resp = loop {
            // Reuse the connection unless the server closed it.
            if self.conns[p.origin].as_ref().is_some_and(Conn::is_closed) {
                self.conns[p.origin] = None;
            }
            let reused = self.conns[p.origin].is_some();
            if !reused {
                let origin = &reqs.origins[p.origin];
                self.conns[p.origin] = Some(connect(reqs, origin, gauges).await?);
            }
            let mut req = build_request(p, rendered)?;
            // hyper skips interim responses itself: count them to stop an endless stream.
            let interim = self.interim.clone();
            interim.store(0, Ordering::Relaxed);
            let seen = interim.clone();
            hyper::ext::on_informational(&mut req, move |_| {
                seen.fetch_add(1, Ordering::Relaxed);
            });
            let conn = self.conns[p.origin].as_mut().expect("connected above");
            *sent = true;
            let head = async {
                if let Err(e) = driven(&mut conn.driver, std::pin::pin!(conn.sender.ready())).await
                {
                    return Ok(Err((e, true)));
                }
                let send = std::pin::pin!(conn.sender.try_send_request(req));
                let mut fut = std::pin::pin!(driven(&mut conn.driver, send));
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
                    self.conns[p.origin] = None;
                    let (kind, message) = classify_hyper(&e, false);
                    // hyper does not say whether part of a head arrived before the
                    // connection ended (h1 does): a closed or reset connection here is
                    // taken as ended before any response byte.
                    let failure = Failure {
                        kind,
                        unsent,
                        answered: false,
                    };
                    let reusable = reused && !retried;
                    if !may_resend(reqs.retry, &p.method, reusable, failure, start, retry) {
                        return Err(Failed::new(kind, message));
                    }
                    retried = true;
                }
            }
        };
        let driver = &mut self.conns[p.origin]
            .as_mut()
            .expect("a response came from this connection")
            .driver;
        let read = async {
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
            Ok((status, bytes, kept.map(|k| k.freeze()), headers))
        };
        driven(driver, std::pin::pin!(read)).await
    }
}

/// A response read to its end: status, body bytes, the body and headers when wanted.
type Exchanged = (u16, u64, Option<bytes::Bytes>, Option<http::HeaderMap>);

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
        *req.uri_mut() = r.uri(p)?;
        *req.headers_mut() = r.headers(p).into_owned();
        *req.body_mut() = Full::new(r.body(p).clone());
    }
    Ok(req)
}

async fn connect(reqs: &Requests, origin: &Origin, gauges: &Arc<Gauges>) -> Result<Conn, Failed> {
    let stream = connect_stream(reqs, origin).await?;
    let (sender, driver) = http1::handshake(TokioIo::new(stream)).await.map_err(|e| {
        let (kind, message) = classify_hyper(&e, false);
        Failed::connecting(kind, message)
    })?;
    Ok(Conn {
        sender,
        driver: Some((driver, OpenConn::new(gauges))),
    })
}
