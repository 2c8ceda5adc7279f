//! volley's own HTTP/1.1 client, the default hot path: one keep-alive connection per VU
//! and origin, the request written from bytes serialized once per run, the response
//! head parsed with `httparse` (hyper's own parser) into nothing but what the run needs.
//!
//! Compared with hyper's client connection it skips, per request: building an
//! `http::Request` (a `HeaderMap` clone), hyper's dispatcher and its channel, and the
//! `HeaderMap` of the response, which is only built when a check or capture reads
//! headers. It handles what a load tool meets: Content-Length, chunked bodies (with
//! trailers), bodies that end with the connection, HEAD/204/304, interim 1xx responses,
//! `Connection: close` and HTTP/1.0 servers, over plain TCP or rustls.
//!
//! The exchange, connect included, runs under one deadline (one timer per request) that
//! starts with the latency. A request that a server closing a kept-alive connection never
//! answered is sent again once, on the rule every client shares
//! ([`super::conn::may_resend`]), and the dropped attempt is counted as a retry.

use std::mem::MaybeUninit;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::classify::classify_io;
use super::conn::{
    connect_stream, may_resend, Failed, Failure, OpenConn, Opened, Progress, Stream, MAX_INTERIM,
};
use super::stream::{StreamOpts, StreamReader};
use super::{Attempt, Prepared, Rendered, Requests, Want, MAX_KEPT_BODY};
use crate::metrics::{ErrorKind, Gauges, Phases};

/// Most response headers accepted (hyper's default limit too).
const MAX_HEADERS: usize = 100;
/// Largest response head accepted.
const MAX_HEAD: usize = 64 << 10;
/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4 << 10;
/// First size of a connection's read buffer; it doubles when a read fills it, up to
/// [`MAX_READ`].
const FIRST_READ: usize = 4 << 10;
const MAX_READ: usize = 256 << 10;

/// One VU's connections, by origin, and a scratch buffer for requests with rendered parts.
pub struct H1Client {
    conns: Vec<Option<H1Conn>>,
    scratch: Vec<u8>,
    /// The streamed response in progress, outside the exchange so that what a stream
    /// did is kept when its deadline cuts it off.
    stream: Option<StreamReader>,
}

struct H1Conn {
    stream: Stream,
    buf: ReadBuf,
    /// An exchange began and did not finish (its future was dropped): the connection
    /// may hold the rest of that response, so it is never reused.
    busy: bool,
    /// When the first byte of the response in progress arrived.
    first_byte: Option<Instant>,
    /// Inside a streamed body: the longest wait for more bytes.
    idle: Option<Duration>,
    _open: OpenConn,
}

impl H1Conn {
    /// A new connection on `stream`, counted open in `gauges`.
    fn new(stream: Stream, gauges: &Arc<Gauges>) -> H1Conn {
        H1Conn {
            stream,
            buf: ReadBuf::new(),
            busy: false,
            first_byte: None,
            idle: None,
            _open: OpenConn::new(gauges),
        }
    }
}

/// A read buffer: bytes `start..end` are received and not yet consumed.
struct ReadBuf {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuf {
    fn new() -> ReadBuf {
        ReadBuf {
            data: vec![0; FIRST_READ],
            start: 0,
            end: 0,
        }
    }

    fn filled(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    fn len(&self) -> usize {
        self.end - self.start
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Free space at the end, after moving unread bytes to the front or growing.
    fn space(&mut self) -> &mut [u8] {
        if self.end == self.data.len() {
            if self.start > 0 {
                self.data.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let grown = (self.data.len() * 2).max(FIRST_READ);
                self.data.resize(grown, 0);
            }
        }
        &mut self.data[self.end..]
    }
}

/// Why an exchange failed, and whether sending it again is safe.
struct RoundTripError {
    failed: Failed,
    /// The request could not be written.
    unsent: bool,
    /// Some of a response arrived.
    answered: bool,
}

impl RoundTripError {
    fn new(kind: ErrorKind, message: String, answered: bool) -> RoundTripError {
        RoundTripError {
            failed: Failed::new(kind, message),
            unsent: false,
            answered,
        }
    }
}

/// A complete response.
struct Response {
    status: u16,
    bytes: u64,
    body: Option<Bytes>,
    headers: Option<HeaderMap>,
    keep_alive: bool,
    /// Writing the request (to the socket's send buffer), microseconds.
    send_us: u64,
    /// From starting to write the request to the first response byte, microseconds.
    ttfb_us: u64,
    /// From the first response byte to the last, microseconds.
    receive_us: u64,
    /// The connection this response came on was opened for it: how long that took.
    opened: Option<Opened>,
    /// When the last body byte arrived (the latency's end: one clock read fewer).
    done: Instant,
}

/// How the response body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked,
    UntilClose,
}

/// What the request loop needs from a response head.
struct Head {
    status: u16,
    len: usize,
    framing: Framing,
    keep_alive: bool,
    headers: Option<HeaderMap>,
    /// `Content-Type: text/event-stream`.
    event_stream: bool,
}

/// Where body bytes go: counted, kept when wanted, and timed when streamed.
struct Sink<'a> {
    bytes: u64,
    kept: Option<Vec<u8>>,
    stream: Option<&'a mut StreamReader>,
}

impl Sink<'_> {
    fn take(&mut self, data: &[u8]) {
        self.bytes += data.len() as u64;
        if let Some(k) = &mut self.kept {
            if k.len() + data.len() <= MAX_KEPT_BODY {
                k.extend_from_slice(data);
            } else {
                self.kept = None;
            }
        }
        if let Some(s) = &mut self.stream {
            s.data(data);
        }
    }

    fn chunk_end(&mut self) {
        if let Some(s) = &mut self.stream {
            s.chunk_end();
        }
    }
}

/// A stream that went quiet for longer than its idle limit.
#[derive(Debug)]
struct Stalled(Duration);

impl std::fmt::Display for Stalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stream stalled: nothing for {:?}", self.0)
    }
}

impl std::error::Error for Stalled {}

impl H1Client {
    pub fn new(n_origins: usize) -> Self {
        H1Client {
            conns: (0..n_origins).map(|_| None).collect(),
            scratch: Vec::new(),
            stream: None,
        }
    }

    /// Opens the connection `p` will use, ahead of its first request; true when one is
    /// open. The request then finds it as a kept-alive one (no connect phase; if the
    /// server closed it meanwhile, the resend rule covers it).
    pub async fn warm(&mut self, reqs: &Requests, p: &Prepared, gauges: &Arc<Gauges>) -> bool {
        let slot = &mut self.conns[p.origin];
        if slot.is_some() {
            return true;
        }
        let Ok((stream, _)) = connect_stream(reqs, &reqs.origins[p.origin]).await else {
            return false;
        };
        *slot = Some(H1Conn::new(stream, gauges));
        true
    }

    /// Counts the open connections in `gauges` from now on (a client warmed before the
    /// run, handed to one of its VUs).
    pub fn adopt(&mut self, gauges: &Arc<Gauges>) {
        for c in self.conns.iter_mut().flatten() {
            c._open = OpenConn::new(gauges);
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
        let wire: &[u8] = match rendered {
            None => &p.wire,
            Some(r) => match render(&mut self.scratch, p, r) {
                Ok(()) => &self.scratch,
                Err(f) => return f.into_attempt(None),
            },
        };
        let slot = &mut self.conns[p.origin];
        let mut sent = false;
        let mut retry = None;
        self.stream = None;
        let exchange = exchange(
            slot,
            reqs,
            p,
            wire,
            (want, &mut self.stream),
            gauges,
            (start, &mut sent, &mut retry),
        );
        let result = tokio::time::timeout_at(deadline, exchange).await;
        let end = match &result {
            Ok(Ok(r)) => r.done,
            _ => Instant::now(),
        };
        let latency = end.saturating_duration_since(start).as_micros() as u64;
        let mut attempt = match result {
            Ok(Ok(r)) => {
                let phases = Phases {
                    dns_us: r.opened.and_then(|o| o.dns_us),
                    connect_us: r.opened.map(|o| o.connect_us),
                    tls_us: r.opened.and_then(|o| o.tls_us),
                    send_us: Some(r.send_us),
                    ttfb_us: r.ttfb_us,
                    receive_us: r.receive_us,
                };
                let mut a = Attempt::response(r.status, latency, r.bytes, r.body, r.headers);
                a.phases = Some(phases);
                a
            }
            Ok(Err(f)) => f.into_attempt(None),
            Err(_) => {
                // Mid-exchange: the connection is in an unknown state, never reuse it.
                self.conns[p.origin] = None;
                Attempt::timed_out(sent, p.timeout, latency)
            }
        };
        attempt.retry = retry;
        attempt.stream = self.stream.take().map(|s| Box::new(s.finish()));
        attempt
    }
}

/// Connects when needed, sends, reads the response; sends once more on a fresh
/// connection when a kept-alive one ended under the request before any response (and the
/// run's retry policy allows it: see [`may_resend`]).
async fn exchange(
    slot: &mut Option<H1Conn>,
    reqs: &Requests,
    p: &Prepared,
    wire: &[u8],
    (want, stream): (Want, &mut Option<StreamReader>),
    gauges: &Arc<Gauges>,
    (start, sent, retry): Progress<'_>,
) -> Result<Response, Failed> {
    let mut retried = false;
    let mut opened = None;
    loop {
        if slot.as_mut().is_some_and(|c| c.busy || !c.idle_and_open()) {
            *slot = None;
        }
        let reused = slot.is_some();
        let conn = match slot {
            Some(c) => c,
            None => {
                let (stream, o) = connect_stream(reqs, &reqs.origins[p.origin]).await?;
                opened = Some(o);
                slot.insert(H1Conn::new(stream, gauges))
            }
        };
        *sent = true;
        conn.busy = true;
        let streamed = (p.stream, &mut *stream);
        // On a kept-alive connection, at the first try, the write starts now: the
        // request's start (a clock read fewer per request on the hot path).
        let sent_at = if reused && !retried {
            start
        } else {
            Instant::now()
        };
        match conn
            .round_trip(wire, sent_at, p.method == Method::HEAD, want, streamed)
            .await
        {
            Ok(mut r) => {
                conn.busy = false;
                if !r.keep_alive {
                    *slot = None;
                }
                r.opened = opened;
                return Ok(r);
            }
            Err(e) => {
                *slot = None;
                let failed = Failure {
                    kind: e.failed.kind,
                    unsent: e.unsent,
                    answered: e.answered,
                };
                let reusable = reused && !retried;
                if !may_resend(reqs.retry, &p.method, reusable, failed, start, retry) {
                    return Err(e.failed);
                }
                retried = true;
            }
        }
    }
}

impl H1Conn {
    /// Whether the kept-alive connection can take a request: on plain TCP, a connection
    /// the server has closed (or sent unasked-for bytes on) is readable while idle. The
    /// check costs no system call unless the socket is readable. TLS connections are
    /// not checked (a session ticket also makes them readable); the resend rule covers them.
    fn idle_and_open(&mut self) -> bool {
        if self.buf.len() > 0 {
            return false;
        }
        let Stream::Plain(tcp) = &self.stream else {
            return true;
        };
        let mut cx = Context::from_waker(Waker::noop());
        match tcp.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            Poll::Ready(Ok(())) => {
                let mut probe = [0u8; 1];
                matches!(tcp.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
            }
        }
    }

    /// Reads more bytes into the buffer; `Ok(0)` at end of stream.
    async fn fill(&mut self) -> std::io::Result<usize> {
        let space = self.buf.space();
        let asked = space.len();
        let n = match self.idle {
            None => self.stream.read(space).await?,
            Some(d) => match tokio::time::timeout(d, self.stream.read(space)).await {
                Ok(r) => r?,
                Err(_) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        Stalled(d),
                    ))
                }
            },
        };
        if n > 0 && self.first_byte.is_none() {
            self.first_byte = Some(Instant::now());
        }
        self.buf.end += n;
        // A read that filled the space: the next one gets a bigger buffer.
        let size = self.buf.data.len();
        if n == asked && size < MAX_READ {
            self.buf.data.resize((size * 2).min(MAX_READ), 0);
        }
        Ok(n)
    }

    async fn round_trip(
        &mut self,
        wire: &[u8],
        sent_at: Instant,
        head_request: bool,
        want: Want,
        (opts, stream): (StreamOpts, &mut Option<StreamReader>),
    ) -> Result<Response, RoundTripError> {
        self.first_byte = None;
        self.idle = None;
        let written = async {
            self.stream.write_all(wire).await?;
            self.stream.flush().await
        };
        if let Err(e) = written.await {
            return Err(RoundTripError {
                failed: Failed::new(classify_io(&e), format!("sending the request: {e}")),
                unsent: true,
                answered: false,
            });
        }
        let send_us = sent_at.elapsed().as_micros() as u64;
        let head = self.read_head(head_request, want).await?;
        if (opts.forced || head.event_stream) && !head_request {
            self.idle = Some(opts.idle);
            *stream = Some(StreamReader::new(
                head.event_stream,
                head.framing == Framing::Chunked,
                want.events,
                sent_at,
                self.first_byte,
            ));
        }
        let mut sink = Sink {
            bytes: 0,
            kept: want.body.then(Vec::new),
            stream: stream.as_mut(),
        };
        let mut keep_alive = head.keep_alive;
        match head.framing {
            Framing::Length(len) => {
                while sink.bytes < len {
                    let bytes = sink.bytes;
                    if self.buf.len() == 0 {
                        match self.fill().await {
                            Ok(0) => {
                                return Err(body_error(
                                    ErrorKind::BodyRead,
                                    format!("connection closed after {bytes} of {len} body bytes"),
                                ))
                            }
                            Ok(_) => {}
                            Err(e) => return Err(body_io_error(&e, bytes)),
                        }
                    }
                    let n = self.buf.len().min((len - bytes) as usize);
                    sink.take(&self.buf.filled()[..n]);
                    self.buf.consume(n);
                }
            }
            Framing::UntilClose => {
                keep_alive = false;
                loop {
                    if self.buf.len() > 0 {
                        sink.take(self.buf.filled());
                        let n = self.buf.len();
                        self.buf.consume(n);
                    }
                    match self.fill().await {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(e) => return Err(body_io_error(&e, sink.bytes)),
                    }
                }
            }
            Framing::Chunked => self.read_chunked(&mut sink).await?,
        }
        // Bytes past the response were not asked for: the connection is out of step.
        if self.buf.len() > 0 {
            keep_alive = false;
        }
        let done = Instant::now();
        let first = self.first_byte.unwrap_or(done);
        Ok(Response {
            status: head.status,
            bytes: sink.bytes,
            body: sink.kept.map(Bytes::from),
            headers: head.headers,
            keep_alive,
            send_us,
            ttfb_us: first.saturating_duration_since(sent_at).as_micros() as u64,
            receive_us: done.saturating_duration_since(first).as_micros() as u64,
            opened: None,
            done,
        })
    }

    /// Reads and parses the response head, skipping interim (1xx) responses.
    async fn read_head(&mut self, head_request: bool, want: Want) -> Result<Head, RoundTripError> {
        let mut answered = false;
        let mut interim = 0;
        loop {
            if self.buf.len() > 0 {
                answered = true;
                if let Some(head) = parse_head(self.buf.filled(), head_request, want)? {
                    self.buf.consume(head.len);
                    if (100..200).contains(&head.status) && head.status != 101 {
                        interim += 1;
                        if interim > MAX_INTERIM {
                            return Err(RoundTripError::new(
                                ErrorKind::InvalidResponse,
                                format!("more than {MAX_INTERIM} interim (1xx) responses"),
                                true,
                            ));
                        }
                        continue;
                    }
                    return Ok(head);
                }
                if self.buf.len() > MAX_HEAD {
                    return Err(RoundTripError::new(
                        ErrorKind::InvalidResponse,
                        format!("response head longer than {MAX_HEAD} bytes"),
                        true,
                    ));
                }
            }
            match self.fill().await {
                Ok(0) if answered => {
                    return Err(RoundTripError::new(
                        ErrorKind::ConnectionClosed,
                        "connection closed in the middle of the response head".into(),
                        true,
                    ))
                }
                Ok(0) => {
                    return Err(RoundTripError::new(
                        ErrorKind::ConnectionClosed,
                        "connection closed before a response".into(),
                        false,
                    ))
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(RoundTripError::new(
                        classify_io(&e),
                        format!("reading the response head: {e}"),
                        answered,
                    ))
                }
            }
        }
    }

    /// Reads a chunked body through its last chunk and trailers.
    async fn read_chunked(&mut self, sink: &mut Sink<'_>) -> Result<(), RoundTripError> {
        loop {
            let bytes = &sink.bytes;
            let line = self.line(*bytes).await?;
            let size = chunk_size(&self.buf.filled()[..line.0]).ok_or_else(|| {
                body_error(
                    ErrorKind::BodyRead,
                    format!("invalid chunk size line after {bytes} body bytes"),
                )
            })?;
            self.buf.consume(line.1);
            if size == 0 {
                // Trailers, up to an empty line.
                loop {
                    let (content, with_end) = self.line(sink.bytes).await?;
                    self.buf.consume(with_end);
                    if content == 0 {
                        return Ok(());
                    }
                }
            }
            let mut left = size;
            while left > 0 {
                if self.buf.len() == 0 {
                    self.fill_body(sink.bytes).await?;
                }
                let n = self.buf.len().min(left.min(usize::MAX as u64) as usize);
                sink.take(&self.buf.filled()[..n]);
                self.buf.consume(n);
                left -= n as u64;
            }
            sink.chunk_end();
            let bytes = &sink.bytes;
            let (content, with_end) = self.line(*bytes).await?;
            if content != 0 {
                return Err(body_error(
                    ErrorKind::BodyRead,
                    format!("chunk not followed by CRLF after {bytes} body bytes"),
                ));
            }
            self.buf.consume(with_end);
        }
    }

    /// Waits for a whole line at the front of the buffer; returns its length without
    /// and with the line end (CRLF or LF).
    async fn line(&mut self, bytes: u64) -> Result<(usize, usize), RoundTripError> {
        loop {
            let filled = self.buf.filled();
            if let Some(lf) = filled.iter().position(|&b| b == b'\n') {
                let content = if lf > 0 && filled[lf - 1] == b'\r' {
                    lf - 1
                } else {
                    lf
                };
                return Ok((content, lf + 1));
            }
            if filled.len() > MAX_LINE {
                return Err(body_error(
                    ErrorKind::BodyRead,
                    format!("chunk line longer than {MAX_LINE} bytes after {bytes} body bytes"),
                ));
            }
            self.fill_body(bytes).await?;
        }
    }

    async fn fill_body(&mut self, bytes: u64) -> Result<(), RoundTripError> {
        match self.fill().await {
            Ok(0) => Err(body_error(
                ErrorKind::BodyRead,
                format!("connection closed in a chunked body after {bytes} body bytes"),
            )),
            Ok(_) => Ok(()),
            Err(e) => Err(body_io_error(&e, bytes)),
        }
    }
}

fn body_error(kind: ErrorKind, message: String) -> RoundTripError {
    RoundTripError::new(kind, message, true)
}

/// A read error in the body: a reset is a reset, anything else a body that could not
/// be read (as on the hyper path).
fn body_io_error(e: &std::io::Error, bytes: u64) -> RoundTripError {
    let kind = match classify_io(e) {
        _ if e.get_ref().is_some_and(|i| i.is::<Stalled>()) => ErrorKind::StreamStalled,
        ErrorKind::ConnectionReset => ErrorKind::ConnectionReset,
        _ => ErrorKind::BodyRead,
    };
    body_error(kind, format!("{e} (after {bytes} body bytes)"))
}

/// The size at the start of a chunk-size line (hex digits, then optional extensions).
fn chunk_size(line: &[u8]) -> Option<u64> {
    let end = line
        .iter()
        .position(|&b| b == b';' || b == b' ' || b == b'\t')
        .unwrap_or(line.len());
    let digits = &line[..end];
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    let mut size = 0u64;
    for &d in digits {
        size = size * 16 + (d as char).to_digit(16)? as u64;
    }
    Some(size)
}

/// Parses a response head at the start of `buf`; `None` when it is not complete yet.
fn parse_head(buf: &[u8], head_request: bool, want: Want) -> Result<Option<Head>, RoundTripError> {
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut resp, buf, &mut slots);
    let len = match parsed {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => {
            return Err(RoundTripError::new(
                ErrorKind::InvalidResponse,
                format!("invalid response head: {e}"),
                true,
            ))
        }
    };
    let status = resp.code.unwrap_or(0);
    let invalid = |what: &str| {
        RoundTripError::new(
            ErrorKind::InvalidResponse,
            format!("invalid response head: {what}"),
            true,
        )
    };
    // httparse reads three digits; 000-099 are no HTTP status (hyper refuses them too).
    if status < 100 {
        return Err(invalid(&format!("status {status:03} is not in 100-999")));
    }
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut transfer_encoding = false;
    let mut close = false;
    let mut keep_alive_asked = false;
    let mut event_stream = false;
    for h in resp.headers.iter() {
        let name = h.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            for part in h.value.split(|&b| b == b',') {
                let n = parse_length(part).ok_or_else(|| invalid("bad content-length"))?;
                if length.is_some_and(|l| l != n) {
                    return Err(invalid("conflicting content-length values"));
                }
                length = Some(n);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            transfer_encoding = true;
            // Chunked only when it is the last coding.
            chunked = h
                .value
                .split(|&b| b == b',')
                .next_back()
                .is_some_and(|c| c.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case(b"content-type") {
            event_stream = h
                .value
                .trim_ascii_start()
                .get(..17)
                .is_some_and(|v| v.eq_ignore_ascii_case(b"text/event-stream"));
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_asked |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    let framing = if head_request || status == 204 || status == 304 || status < 200 {
        Framing::Length(0)
    } else if chunked {
        Framing::Chunked
    } else if transfer_encoding {
        Framing::UntilClose
    } else {
        match length {
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        }
    };
    let http11 = resp.version == Some(1);
    let keep_alive = !close && (http11 || keep_alive_asked) && status != 101;
    let headers = want.headers.then(|| {
        let mut map = HeaderMap::with_capacity(resp.headers.len());
        for h in resp.headers.iter() {
            if let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(h.name.as_bytes()),
                HeaderValue::from_bytes(h.value),
            ) {
                map.append(k, v);
            }
        }
        map
    });
    Ok(Some(Head {
        status,
        len,
        framing,
        keep_alive,
        headers,
        event_stream,
    }))
}

fn parse_length(v: &[u8]) -> Option<u64> {
    let v = v.trim_ascii();
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

/// The bytes of a request: request line, headers, blank line, body.
pub fn serialize(
    out: &mut Vec<u8>,
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    body: &[u8],
) {
    out.reserve(64 + target.len() + headers.len() * 32 + body.len());
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (k, v) in headers {
        out.extend_from_slice(k.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let has_length = headers.contains_key(http::header::CONTENT_LENGTH);
    let expects_body = matches!(*method, Method::POST | Method::PUT | Method::PATCH);
    if !has_length && (!body.is_empty() || expects_body) {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// The bytes of a request whose path, headers or body were rendered for this send.
fn render(out: &mut Vec<u8>, p: &Prepared, r: &Rendered) -> Result<(), Failed> {
    out.clear();
    let uri = r.uri(p)?;
    let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
    serialize(out, &p.method, target, &r.headers(p), r.body(p));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(bytes: &[u8]) -> Head {
        parse_head(bytes, false, Want::default())
            .ok()
            .flatten()
            .expect("a complete head")
    }

    #[test]
    fn framing_follows_the_head() {
        let h = head(b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello");
        assert_eq!(
            (h.status, h.framing, h.keep_alive),
            (200, Framing::Length(13), true)
        );
        assert_eq!(h.len, 39);
        let h = head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
        assert_eq!(h.framing, Framing::Chunked);
        let h = head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
        assert_eq!(h.framing, Framing::UntilClose);
        // Transfer-Encoding wins over Content-Length.
        let h = head(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n");
        assert_eq!(h.framing, Framing::Chunked);
        let h = head(b"HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(h.framing, Framing::UntilClose);
        let h = head(b"HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n\r\n");
        assert_eq!(h.framing, Framing::Length(0));
        let h = head(b"HTTP/1.1 304 Not Modified\r\n\r\n");
        assert_eq!(h.framing, Framing::Length(0));
        let h = parse_head(
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n",
            true,
            Want::default(),
        )
        .ok()
        .flatten()
        .unwrap();
        assert_eq!(h.framing, Framing::Length(0), "a HEAD response has no body");
    }

    #[test]
    fn keep_alive_follows_version_and_connection() {
        assert!(
            !head(b"HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 0\r\n\r\n").keep_alive
        );
        assert!(
            !head(b"HTTP/1.1 200 OK\r\nconnection: Upgrade, CLOSE\r\ncontent-length: 0\r\n\r\n")
                .keep_alive
        );
        assert!(!head(b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n").keep_alive);
        assert!(
            head(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\ncontent-length: 0\r\n\r\n")
                .keep_alive
        );
        assert!(!head(b"HTTP/1.1 101 Switching Protocols\r\n\r\n").keep_alive);
    }

    #[test]
    fn bad_heads_are_invalid_responses_and_partial_ones_wait() {
        let want = Want::default();
        assert!(matches!(
            parse_head(b"HTTP/1.1 200 OK\r\ncontent-le", false, want),
            Ok(None)
        ));
        assert!(matches!(parse_head(b"", false, want), Ok(None)));
        for bad in [
            &b"SSH-2.0-OpenSSH_9.6\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: five\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 042 Odd\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 000 Zero\r\ncontent-length: 0\r\n\r\n",
        ] {
            match parse_head(bad, false, want) {
                Err(e) => assert_eq!(e.failed.kind, ErrorKind::InvalidResponse),
                Ok(_) => panic!("{:?} parsed", String::from_utf8_lossy(bad)),
            }
        }
        // The same length twice is fine.
        let h = head(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nContent-Length: 5, 5\r\n\r\n");
        assert_eq!(h.framing, Framing::Length(5));
    }

    #[test]
    fn headers_are_built_only_when_wanted() {
        let bytes = b"HTTP/1.1 200 OK\r\nX-Token: abc\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\ncontent-length: 0\r\n\r\n";
        assert!(head(bytes).headers.is_none());
        let want = Want {
            headers: true,
            body: false,
            events: false,
        };
        let h = parse_head(bytes, false, want).ok().flatten().unwrap();
        let map = h.headers.unwrap();
        assert_eq!(map["x-token"], "abc");
        assert_eq!(map.get_all("set-cookie").iter().count(), 2);
    }

    #[test]
    fn chunk_sizes() {
        assert_eq!(chunk_size(b"0"), Some(0));
        assert_eq!(chunk_size(b"1a"), Some(26));
        assert_eq!(chunk_size(b"FF;name=value"), Some(255));
        assert_eq!(chunk_size(b"10 "), Some(16));
        assert_eq!(chunk_size(b""), None);
        assert_eq!(chunk_size(b"xyz"), None);
        assert_eq!(chunk_size(b"-1"), None);
        assert_eq!(
            chunk_size(b"1000000000000000"),
            None,
            "16 hex digits overflow"
        );
    }

    #[test]
    fn requests_serialize_with_their_headers_and_length() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::HOST,
            HeaderValue::from_static("127.0.0.1:8080"),
        );
        headers.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static("volley/test"),
        );
        let mut out = Vec::new();
        serialize(&mut out, &Method::GET, "/a?b=1", &headers, b"");
        assert_eq!(
            out,
            b"GET /a?b=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nuser-agent: volley/test\r\n\r\n"
        );
        out.clear();
        serialize(&mut out, &Method::POST, "/", &HeaderMap::new(), b"");
        assert_eq!(out, b"POST / HTTP/1.1\r\ncontent-length: 0\r\n\r\n");
        out.clear();
        serialize(&mut out, &Method::PUT, "/x", &HeaderMap::new(), b"{}");
        assert_eq!(out, b"PUT /x HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}");
    }
}
