//! WebSocket requests: connect (TCP and TLS as every client here), the upgrade
//! handshake (tokio-tungstenite over that stream), then the request's step script.
//!
//! A session is one request in the counts: `101` when its script ran to the end, else
//! the error that stopped it (`timeout` for an `expect` or `receive` that waited too
//! long, `ws_closed` when the server closed first, `message_too_large` over the
//! request's `ws_max_message`). What it did (messages and bytes each way, the server's
//! close code, the handshake time and each `expect`'s send-to-match latency) is a
//! [`WsSample`], kept whatever the outcome.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::classify::classify_io;
use super::conn::{connect_stream, OpenConn, Stream};
use super::{Attempt, Prepared, Requests};
use crate::metrics::{ErrorKind, Gauges, Outcome, WsSample};
use crate::scenario::{WsMatch, WsPlan, WsStep};

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
    for (n, step) in plan.steps.iter().enumerate() {
        let at = format!("step {} of {}", n + 1, plan.steps.len());
        match step {
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
        let msg = match tokio::time::timeout_at(until, ws.next()).await {
            Err(_) => return Err(Wait::TimedOut),
            Ok(None) => {
                return Err(Wait::Stopped(Stop::new(
                    ErrorKind::WsClosed,
                    "the connection ended",
                )))
            }
            Ok(Some(Err(e))) => return Err(Wait::Stopped(ws_stop(e, ""))),
            Ok(Some(Ok(m))) => m,
        };
        match msg {
            Message::Text(t) => {
                sample.received += 1;
                sample.bytes_received += t.len() as u64;
                return Ok(t.as_str().to_string());
            }
            Message::Binary(b) => {
                sample.received += 1;
                sample.bytes_received += b.len() as u64;
                return Ok(String::from_utf8_lossy(&b).into_owned());
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
                return Err(Wait::Stopped(Stop::new(ErrorKind::WsClosed, why)));
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => {}
        }
    }
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
