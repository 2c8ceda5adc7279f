//! WebSocket requests: connect (TCP and TLS as every client here), the upgrade
//! handshake (tokio-tungstenite over that stream), then the request's step script.
//!
//! A session is one request in the counts: `101` when its script ran to the end, else
//! the error that stopped it (`timeout` for an `expect` or `receive` that waited too
//! long, `ws_closed` when the server closed first, `message_too_large` over the
//! request's `ws_max_message`). What it did (messages and bytes each way, the server's
//! close code, the handshake time, each `expect`'s send-to-match latency and what its
//! `echo` steps did) is a [`WsSample`], kept whatever the outcome.
//!
//! An `echo` step sends its messages on a schedule fixed when it starts (message k is due
//! at start + k / rate; a late send is sent at once, never skipped, so the step sends
//! exactly floor(rate x duration)), reads the echoes meanwhile and times each from when
//! its message was due, as the open model does: a slow server does not slow the sends
//! down and hide its own latency. The step holds its sends while the run is paused (the
//! schedule moves by the pause) and ends at once when the run stops.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::super::gate::{Gate, Phase};
use super::classify::classify_io;
use super::conn::{connect_stream, OpenConn, Stream};
use super::{Attempt, Prepared, Requests};
use crate::metrics::{ErrorKind, Gauges, Outcome, WsSample};
use crate::scenario::{WsEcho, WsMatch, WsPlan, WsStep};

/// How long a close waits for the server's answering close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Why a session stopped before its script's end.
struct Stop {
    kind: ErrorKind,
    message: String,
}

impl Stop {
    fn new(kind: ErrorKind, message: impl Into<String>) -> Stop {
        Stop {
            kind,
            message: message.into(),
        }
    }
}

/// Runs one session: `sends` are the rendered texts of the script's `send` steps, in
/// order.
pub async fn session(
    reqs: &Requests,
    p: &Prepared,
    plan: &WsPlan,
    sends: &[String],
    gauges: &Arc<Gauges>,
) -> Attempt {
    let start = Instant::now();
    let mut sample = WsSample::default();
    let result = run(reqs, p, plan, sends, gauges, start, &mut sample).await;
    let latency = start.elapsed().as_micros() as u64;
    let mut attempt = match result {
        Ok(()) => Attempt::response(101, latency, sample.bytes_received, None, None),
        Err(Err(a)) => a,
        Err(Ok(stop)) => Attempt::failed(stop.kind, stop.message, Some(latency)),
    };
    attempt.ws = Some(Box::new(sample));
    attempt
}

type Socket = WebSocketStream<Stream>;

#[allow(clippy::result_large_err)]
async fn run(
    reqs: &Requests,
    p: &Prepared,
    plan: &WsPlan,
    sends: &[String],
    gauges: &Arc<Gauges>,
    start: Instant,
    sample: &mut WsSample,
) -> Result<(), Result<Stop, Attempt>> {
    let deadline = tokio::time::Instant::from_std(start) + p.timeout;
    let connected =
        tokio::time::timeout_at(deadline, connect_stream(reqs, &reqs.origins[p.origin])).await;
    let stream = match connected {
        Err(_) => {
            return Err(Err(Attempt::timed_out(
                false,
                p.timeout,
                start.elapsed().as_micros() as u64,
            )))
        }
        Ok(Err(f)) => return Err(Err(f.into_attempt(None))),
        Ok(Ok((s, _))) => s,
    };
    let _open = OpenConn::new(gauges);
    sample.opened = true;
    let request = handshake_request(reqs, p).map_err(|m| Ok(Stop::new(ErrorKind::Other, m)))?;
    let config = WebSocketConfig::default()
        .max_message_size(Some(plan.max_message))
        .max_frame_size(Some(plan.max_message));
    let shake = tokio_tungstenite::client_async_with_config(request, stream, Some(config));
    let mut ws = match tokio::time::timeout_at(deadline, shake).await {
        Err(_) => {
            return Err(Err(Attempt::timed_out(
                true,
                p.timeout,
                start.elapsed().as_micros() as u64,
            )))
        }
        Ok(Err(WsError::Http(resp))) => {
            let status = resp.status().as_u16();
            let latency = start.elapsed().as_micros() as u64;
            let mut a = Attempt::response(status, latency, 0, None, None);
            if status < 400 {
                a.outcome = Outcome::Error(ErrorKind::InvalidResponse);
                a.message = Some(format!(
                    "the WebSocket handshake was answered {status}, not 101 Switching Protocols"
                ));
            }
            return Err(Err(a));
        }
        Ok(Err(e)) => return Err(Ok(ws_stop(e, "in the handshake"))),
        Ok(Ok((ws, _))) => ws,
    };
    sample.handshake_us = Some(start.elapsed().as_micros() as u64);
    let mut sends = sends.iter();
    let mut last_send = Instant::now();
    let mut closed_by_script = false;
    // The last sequence number an `echo` step used: unique in the session.
    let mut seq = 0u64;
    for (n, step) in plan.steps.iter().enumerate() {
        let at = format!("step {} of {}", n + 1, plan.steps.len());
        match step {
            WsStep::Echo(e) => {
                let parts: Vec<&str> = (0..e.parts.len())
                    .map(|_| sends.next().map_or("", String::as_str))
                    .collect();
                let end = echo(&mut ws, e, &parts, &mut seq, &reqs.gate, sample)
                    .await
                    .map_err(|mut s| {
                        s.message = format!("{} ({at})", s.message);
                        Ok(s)
                    })?;
                last_send = Instant::now();
                match end {
                    EchoEnd::Done { timeouts: 0, .. } => {}
                    EchoEnd::Done { timeouts, sent } => {
                        close(&mut ws, 1000, sample).await;
                        return Err(Ok(Stop::new(
                            ErrorKind::Timeout,
                            format!(
                                "{timeouts} of {sent} echoes not back within {:?} ({at})",
                                e.within
                            ),
                        )));
                    }
                    // The run stopped: no more steps, a clean close.
                    EchoEnd::Stopped => break,
                }
            }
            WsStep::Send(_) => {
                let text = sends.next().cloned().unwrap_or_default();
                let len = text.len() as u64;
                ws.send(Message::text(text))
                    .await
                    .map_err(|e| Ok(ws_stop(e, &format!("sending ({at})"))))?;
                sample.sent += 1;
                sample.bytes_sent += len;
                last_send = Instant::now();
            }
            WsStep::Expect { what, within } => {
                let until = tokio::time::Instant::now() + *within;
                loop {
                    let text = next_message(&mut ws, until, sample).await.map_err(|e| {
                        Ok(e.during(
                            &format!("waiting for a message {} ({at})", what.describe()),
                            *within,
                        ))
                    })?;
                    if matches(what, &text) {
                        sample
                            .expect_us
                            .push(last_send.elapsed().as_micros() as u64);
                        break;
                    }
                }
            }
            WsStep::Receive { n, within } => {
                let until = tokio::time::Instant::now() + *within;
                for got in 0..*n {
                    next_message(&mut ws, until, sample).await.map_err(|e| {
                        Ok(e.during(
                            &format!("receiving message {} of {n} ({at})", got + 1),
                            *within,
                        ))
                    })?;
                }
            }
            WsStep::Sleep(d) => tokio::time::sleep(*d).await,
            WsStep::Close(code) => {
                close(&mut ws, *code, sample).await;
                closed_by_script = true;
                break;
            }
        }
    }
    if !closed_by_script {
        close(&mut ws, 1000, sample).await;
    }
    Ok(())
}

fn matches(what: &WsMatch, text: &str) -> bool {
    what.matches(text)
}

/// Why waiting for a message ended without one.
enum Wait {
    TimedOut,
    Stopped(Stop),
}

impl Wait {
    fn during(self, what: &str, within: Duration) -> Stop {
        match self {
            Wait::TimedOut => Stop::new(
                ErrorKind::Timeout,
                format!("no answer within {within:?}: {what}"),
            ),
            Wait::Stopped(mut s) => {
                s.message = format!("{} while {what}", s.message);
                s
            }
        }
    }
}

/// The next text or binary message (as text), counting it; pings are answered by
/// tungstenite, a close ends the wait.
async fn next_message(
    ws: &mut Socket,
    until: tokio::time::Instant,
    sample: &mut WsSample,
) -> Result<String, Wait> {
    loop {
        let got = match tokio::time::timeout_at(until, ws.next()).await {
            Err(_) => return Err(Wait::TimedOut),
            Ok(got) => got,
        };
        match read_one(ws, got, sample).await.map_err(Wait::Stopped)? {
            Some(Message::Text(t)) => return Ok(t.as_str().to_string()),
            Some(Message::Binary(b)) => return Ok(String::from_utf8_lossy(&b).into_owned()),
            _ => {}
        }
    }
}

/// What one read from the socket gave: a text or binary message (counted), `None` for a
/// control frame (tungstenite answers pings), or why the session cannot go on (the
/// server's close, counted with its code, the connection's end or an error).
async fn read_one(
    ws: &mut Socket,
    got: Option<Result<Message, WsError>>,
    sample: &mut WsSample,
) -> Result<Option<Message>, Stop> {
    let msg = match got {
        None => return Err(Stop::new(ErrorKind::WsClosed, "the connection ended")),
        Some(Err(e)) => return Err(ws_stop(e, "")),
        Some(Ok(m)) => m,
    };
    match msg {
        Message::Text(ref t) => {
            sample.received += 1;
            sample.bytes_received += t.len() as u64;
            Ok(Some(msg))
        }
        Message::Binary(ref b) => {
            sample.received += 1;
            sample.bytes_received += b.len() as u64;
            Ok(Some(msg))
        }
        Message::Close(frame) => {
            let code = frame.as_ref().map(|f| u16::from(f.code));
            sample.close_code = code;
            // tungstenite answers the close; the closing handshake is done.
            sample.closed = true;
            let why = match &frame {
                Some(f) if f.reason.is_empty() => {
                    format!("the server closed the socket ({})", u16::from(f.code))
                }
                Some(f) => format!(
                    "the server closed the socket ({} {})",
                    u16::from(f.code),
                    f.reason
                ),
                None => "the server closed the socket (no code)".to_string(),
            };
            let _ = tokio::time::timeout(CLOSE_WAIT, ws.close(None)).await;
            Err(Stop::new(ErrorKind::WsClosed, why))
        }
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => Ok(None),
    }
}

/// How an `echo` step ended, when the session can go on.
enum EchoEnd {
    /// Every message was sent and each echoed or timed out.
    Done { sent: u64, timeouts: u64 },
    /// The run stopped: the messages still waiting were counted lost.
    Stopped,
}

/// Runs an `echo` step: `parts` are the rendered texts around its `{{seq}}`s; `seq` is
/// the session's last sequence number. Counts into `sample.echo`; the messages still
/// waiting for their echo when it fails are counted lost.
async fn echo(
    ws: &mut Socket,
    e: &WsEcho,
    parts: &[&str],
    seq: &mut u64,
    gate: &Gate,
    sample: &mut WsSample,
) -> Result<EchoEnd, Stop> {
    let count = e.rate.count(e.duration);
    let first = *seq + 1;
    // Numbers are taken for the whole step, sent or not: a later step never reuses one.
    *seq = seq.saturating_add(count);
    let mut w = Waiting::new(first);
    let r = echo_loop(ws, e, parts, count, gate, sample, &mut w).await;
    if !matches!(r, Ok(EchoEnd::Done { .. })) {
        sample.echo.lost += w.outstanding();
    }
    r
}

/// The messages of an `echo` step waiting for their echo, by sequence number from
/// `front`: when each was due, `None` once echoed (or timed out at the front).
struct Waiting {
    front: u64,
    due: VecDeque<Option<tokio::time::Instant>>,
    outstanding: u64,
}

impl Waiting {
    fn new(first: u64) -> Waiting {
        Waiting {
            front: first,
            due: VecDeque::new(),
            outstanding: 0,
        }
    }

    fn outstanding(&self) -> u64 {
        self.outstanding
    }

    fn push(&mut self, due: tokio::time::Instant) {
        self.due.push_back(Some(due));
        self.outstanding += 1;
    }

    /// The echo of message `seq`: when it was due, if it was still waiting.
    fn take(&mut self, seq: u64) -> Option<tokio::time::Instant> {
        let i = usize::try_from(seq.checked_sub(self.front)?).ok()?;
        let due = self.due.get_mut(i)?.take()?;
        self.outstanding -= 1;
        self.trim();
        Some(due)
    }

    /// When the oldest waiting message was due.
    fn oldest(&self) -> Option<tokio::time::Instant> {
        self.due.front().copied().flatten()
    }

    /// Drops the oldest waiting message (timed out).
    fn pop(&mut self) {
        if self.due.pop_front().flatten().is_some() {
            self.outstanding -= 1;
        }
        self.front += 1;
        self.trim();
    }

    fn trim(&mut self) {
        while let Some(None) = self.due.front() {
            self.due.pop_front();
            self.front += 1;
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn echo_loop(
    ws: &mut Socket,
    e: &WsEcho,
    parts: &[&str],
    count: u64,
    gate: &Gate,
    sample: &mut WsSample,
    w: &mut Waiting,
) -> Result<EchoEnd, Stop> {
    let start = tokio::time::Instant::now();
    let first = w.front;
    let mut timeouts = 0u64;
    // The pauses so far move the schedule.
    let mut shift = Duration::ZERO;
    let mut paused_since: Option<tokio::time::Instant> = None;
    let mut k = 0u64;
    let send_timer = tokio::time::sleep_until(start);
    let deadline_timer = tokio::time::sleep_until(start);
    // One waiter on the gate, armed again each time it fires (not one per loop).
    let changed = gate.changed();
    tokio::pin!(send_timer, deadline_timer, changed);
    changed.as_mut().enable();
    loop {
        match gate.phase() {
            Phase::Stopping => return Ok(EchoEnd::Stopped),
            Phase::Paused => {
                paused_since.get_or_insert_with(tokio::time::Instant::now);
            }
            Phase::Running => {
                if let Some(p) = paused_since.take() {
                    shift += p.elapsed();
                }
            }
        }
        let sending = k < count && paused_since.is_none();
        if k == count && w.outstanding() == 0 {
            return Ok(EchoEnd::Done {
                sent: count,
                timeouts,
            });
        }
        let due = start + shift + e.rate.offset(k);
        if sending && send_timer.deadline() != due {
            send_timer.as_mut().reset(due);
        }
        let oldest = w.oldest().map(|d| d + e.within);
        if let Some(d) = oldest.filter(|d| *d != deadline_timer.deadline()) {
            deadline_timer.as_mut().reset(d);
        }
        tokio::select! {
            biased;
            _ = &mut changed => {
                changed.set(gate.changed());
                changed.as_mut().enable();
            }
            got = ws.next() => {
                let read = read_one(ws, got, sample).await.map_err(|mut s| {
                    s.message = format!("{} while waiting for echoes", s.message);
                    s
                });
                let Some(m) = read? else {
                    continue;
                };
                let now = tokio::time::Instant::now();
                let text: &str = match &m {
                    Message::Text(t) => t.as_str(),
                    Message::Binary(b) => std::str::from_utf8(b).unwrap_or(""),
                    _ => "",
                };
                if let Some(due) = echo_seq(text, parts).and_then(|s| w.take(s)) {
                    sample.record_echo(now.saturating_duration_since(due).as_micros() as u64);
                }
            }
            _ = &mut deadline_timer, if oldest.is_some() => {
                let now = deadline_timer.deadline();
                while w.oldest().is_some_and(|d| d + e.within <= now) {
                    w.pop();
                    timeouts += 1;
                    sample.echo.timeouts += 1;
                }
            }
            _ = &mut send_timer, if sending => {
                let text = echo_message(parts, first + k);
                let len = text.len() as u64;
                // A send waits only when the server reads no more: then the run's stop
                // and `within` still end it.
                let send = ws.send(Message::text(text));
                let stuck = tokio::time::sleep(e.within);
                tokio::pin!(send, stuck);
                loop {
                    tokio::select! {
                        biased;
                        r = &mut send => {
                            r.map_err(|e| ws_stop(e, "sending an echo message"))?;
                            break;
                        }
                        _ = &mut changed => {
                            changed.set(gate.changed());
                            changed.as_mut().enable();
                            if gate.phase() == Phase::Stopping {
                                return Ok(EchoEnd::Stopped);
                            }
                        }
                        _ = &mut stuck => {
                            return Err(Stop::new(
                                ErrorKind::Timeout,
                                format!(
                                    "an echo message could not be sent within {:?} (the server reads no more)",
                                    e.within
                                ),
                            ))
                        }
                    }
                }
                sample.sent += 1;
                sample.bytes_sent += len;
                sample.echo.sent += 1;
                w.push(due);
                k += 1;
            }
        }
    }
}

/// The message with sequence number `seq`: the parts joined by it.
fn echo_message(parts: &[&str], seq: u64) -> String {
    let digits = seq.to_string();
    let len = parts.iter().map(|p| p.len()).sum::<usize>() + digits.len() * parts.len();
    let mut out = String::with_capacity(len);
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push_str(&digits);
        }
        out.push_str(p);
    }
    out
}

/// The sequence number of the echo message in `text`: the message itself (as
/// [`echo_message`] made it) anywhere in `text`, so a verbatim echo and one the server
/// wraps both match. `None` for any other message.
fn echo_seq(text: &str, parts: &[&str]) -> Option<u64> {
    let (head, rest) = parts.split_first()?;
    let bytes = text.as_bytes();
    let mut from = 0;
    while from <= text.len() {
        // Where the message could start: at `head`, or (no head) at a run of digits.
        let at = if head.is_empty() {
            from + bytes[from..].iter().enumerate().position(|(i, b)| {
                b.is_ascii_digit() && (from + i == 0 || !bytes[from + i - 1].is_ascii_digit())
            })?
        } else {
            from + text.get(from..)?.find(head)?
        };
        let after = &text[at + head.len()..];
        let run = after.bytes().take_while(u8::is_ascii_digit).count().min(20);
        // The longest number the rest of the message follows (a part may start with a
        // digit); no leading zeros, as the message never has them.
        for len in (1..=run).rev() {
            let digits = &after[..len];
            if len > 1 && digits.starts_with('0') {
                continue;
            }
            let Ok(seq) = digits.parse::<u64>() else {
                continue;
            };
            if follows(&after[len..], rest, digits) {
                return Some(seq);
            }
        }
        from = at + 1;
        while from < text.len() && !text.is_char_boundary(from) {
            from += 1;
        }
    }
    None
}

/// `t` starts with `rest` joined by `digits` (each part after the first digits).
fn follows(mut t: &str, rest: &[&str], digits: &str) -> bool {
    for (i, p) in rest.iter().enumerate() {
        if i > 0 {
            match t.strip_prefix(digits) {
                Some(r) => t = r,
                None => return false,
            }
        }
        match t.strip_prefix(p) {
            Some(r) => t = r,
            None => return false,
        }
    }
    true
}

/// Closes with `code` and waits (briefly) for the server's close frame; messages that
/// arrive meanwhile are counted.
async fn close(ws: &mut Socket, code: u16, sample: &mut WsSample) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: "".into(),
    };
    if ws.close(Some(frame)).await.is_err() {
        return;
    }
    let until = tokio::time::Instant::now() + CLOSE_WAIT;
    loop {
        match tokio::time::timeout_at(until, ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => {
                sample.close_code = frame.map(|f| u16::from(f.code));
                sample.closed = true;
                return;
            }
            Ok(Some(Ok(Message::Text(t)))) => {
                sample.received += 1;
                sample.bytes_received += t.len() as u64;
            }
            Ok(Some(Ok(Message::Binary(b)))) => {
                sample.received += 1;
                sample.bytes_received += b.len() as u64;
            }
            Ok(Some(Ok(_))) => {}
            // The server answered the close and ended the connection.
            Ok(None) | Ok(Some(Err(WsError::ConnectionClosed))) => {
                sample.closed = true;
                return;
            }
            Ok(Some(Err(_))) | Err(_) => return,
        }
    }
}

/// The classified error of a tungstenite failure.
fn ws_stop(e: WsError, during: &str) -> Stop {
    let kind = match &e {
        WsError::Capacity(_) => ErrorKind::MessageTooLarge,
        WsError::Io(io) => classify_io(io),
        WsError::ConnectionClosed | WsError::AlreadyClosed => ErrorKind::WsClosed,
        WsError::Tls(_) => ErrorKind::Tls,
        WsError::Protocol(_) | WsError::Utf8(_) | WsError::Url(_) | WsError::HttpFormat(_) => {
            ErrorKind::InvalidResponse
        }
        _ => ErrorKind::Other,
    };
    let sep = if during.is_empty() { "" } else { " " };
    Stop::new(kind, format!("{e}{sep}{during}"))
}

/// The upgrade request: the endpoint's URL as ws:// or wss://, its headers (Host,
/// User-Agent, the scenario's) and the WebSocket ones.
fn handshake_request(reqs: &Requests, p: &Prepared) -> Result<http::Request<()>, String> {
    let o = &reqs.origins[p.origin];
    let scheme = if o.https { "wss" } else { "ws" };
    let target = p.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let host = p
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or(&o.host)
        .to_string();
    let mut b = http::Request::get(format!("{scheme}://{host}{target}"));
    for (k, v) in &p.headers {
        if k != http::header::CONTENT_LENGTH {
            b = b.header(k, v);
        }
    }
    b.header(http::header::CONNECTION, "Upgrade")
        .header(http::header::UPGRADE, "websocket")
        .header(http::header::SEC_WEBSOCKET_VERSION, "13")
        .header(http::header::SEC_WEBSOCKET_KEY, generate_key())
        .body(())
        .map_err(|e| format!("building the WebSocket handshake: {e}"))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::scenario::wsscript::EchoRate;

    /// A loopback echo server; counts the messages it got.
    async fn echo_socket() -> (Socket, Arc<AtomicU64>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let got = Arc::new(AtomicU64::new(0));
        let g = got.clone();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            while let Some(Ok(m)) = ws.next().await {
                if m.is_text() {
                    g.fetch_add(1, Ordering::AcqRel);
                    if ws.send(m).await.is_err() {
                        return;
                    }
                }
            }
        });
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/"), Stream::Plain(tcp))
            .await
            .unwrap();
        (ws, got)
    }

    fn step(per_s: u64, duration: Duration) -> WsEcho {
        WsEcho {
            parts: vec![Default::default(); 2],
            rate: EchoRate {
                milli: per_s * 1000,
                per: Duration::from_secs(1),
            },
            duration,
            within: Duration::from_secs(10),
        }
    }

    #[tokio::test]
    async fn a_paused_run_holds_the_sends_and_a_stopped_one_ends_the_step() {
        let (mut ws, got) = echo_socket().await;
        let gate = Gate::default();
        let mut sample = WsSample::default();
        let mut seq = 0;
        let parts = ["m", ""];
        // Paused from the start: nothing goes out until the run resumes.
        gate.set(Phase::Paused);
        let e = step(50, Duration::from_millis(200));
        {
            let run = echo(&mut ws, &e, &parts, &mut seq, &gate, &mut sample);
            tokio::pin!(run);
            let held = tokio::time::timeout(Duration::from_millis(300), &mut run).await;
            assert!(held.is_err());
            assert_eq!(got.load(Ordering::Acquire), 0);
            gate.set(Phase::Running);
            let end = tokio::time::timeout(Duration::from_secs(60), run).await;
            assert!(matches!(
                end,
                Ok(Ok(EchoEnd::Done {
                    sent: 10,
                    timeouts: 0
                }))
            ));
        }
        assert_eq!(got.load(Ordering::Acquire), 10);
        assert_eq!(
            (sample.sent, sample.echo.sent, sample.echo.echoed),
            (10, 10, 10)
        );
        assert_eq!(seq, 10);
        // A ten-minute step ends when the run stops; its numbers go on from 11.
        let e = step(100, Duration::from_secs(600));
        let stopper = {
            let gate = gate.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                gate.set(Phase::Stopping);
            })
        };
        let end = tokio::time::timeout(
            Duration::from_secs(60),
            echo(&mut ws, &e, &parts, &mut seq, &gate, &mut sample),
        )
        .await;
        stopper.await.unwrap();
        assert!(matches!(end, Ok(Ok(EchoEnd::Stopped))));
        let c = sample.echo;
        assert!(c.sent > 10 && c.sent < 60_010, "{c:?}");
        assert_eq!(c.sent, c.echoed + c.timeouts + c.lost);
        assert_eq!(seq, 10 + 60_000);
    }

    #[test]
    fn an_echo_is_matched_by_its_message_verbatim_or_wrapped() {
        let parts = ["{\"seq\": ", ", \"n\": 7}"];
        let m = echo_message(&parts, 42);
        assert_eq!(m, "{\"seq\": 42, \"n\": 7}");
        assert_eq!(echo_seq(&m, &parts), Some(42));
        assert_eq!(echo_seq(&format!("got: {m}!"), &parts), Some(42));
        assert_eq!(echo_seq("{\"seq\": 42, \"n\": 8}", &parts), None);
        assert_eq!(echo_seq("{\"seq\": 042, \"n\": 7}", &parts), None);
        assert_eq!(echo_seq("{\"seq\": , \"n\": 7}", &parts), None);
        // The number twice; no text before it; a part starting with a digit.
        let parts = ["", "-", "9"];
        assert_eq!(echo_message(&parts, 12), "12-129");
        assert_eq!(echo_seq("12-129", &parts), Some(12));
        assert_eq!(echo_seq("x 7-79", &parts), Some(7));
        assert_eq!(echo_seq("12-139", &parts), None);
        assert_eq!(echo_seq("é12-129", &parts), Some(12));
        let parts = ["n", "n"];
        assert_eq!(echo_seq("n5n", &parts), Some(5));
        assert_eq!(echo_seq("nnn18446744073709551615n", &parts), Some(u64::MAX));
        assert_eq!(echo_seq("nn", &parts), None);
        assert_eq!(echo_seq("", &parts), None);
    }

    #[test]
    fn waiting_messages_are_taken_in_any_order_and_time_out_oldest_first() {
        let t0 = tokio::time::Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut w = Waiting::new(5);
        for ms in [0, 10, 20, 30] {
            w.push(at(ms));
        }
        assert_eq!(w.take(6), Some(at(10)));
        assert_eq!(w.take(6), None);
        assert_eq!(w.take(4), None);
        assert_eq!(w.take(9), None);
        assert_eq!(w.oldest(), Some(at(0)));
        assert_eq!(w.take(5), Some(at(0)));
        // 5 and 6 are gone: 7 is the oldest.
        assert_eq!(w.oldest(), Some(at(20)));
        w.pop();
        assert_eq!((w.outstanding(), w.oldest()), (1, Some(at(30))));
        assert_eq!(w.take(8), Some(at(30)));
        assert_eq!((w.outstanding(), w.oldest()), (0, None));
    }
}
