//! The demo's streaming routes:
//!
//! | request                      | response                                                   |
//! |------------------------------|------------------------------------------------------------|
//! | `GET /api/stream?tokens=N`   | server-sent events: N token events (default 20, at most 500) and `[DONE]`, after a long-tailed wait for the first byte |
//! | `GET /ws/chat` (WebSocket)   | a chat echo: each text message is answered `{"from": "demo", "reply": TEXT}` |

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderValue, CACHE_CONTROL, CONNECTION, CONTENT_TYPE, UPGRADE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::latency::Latency;

/// Default and largest number of tokens a stream sends.
const DEFAULT_TOKENS: usize = 20;
const MAX_TOKENS: usize = 500;

/// A response body fed through a channel, one data frame a message.
#[derive(Debug)]
pub(crate) struct ChannelBody(mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|m| m.map(|b| Ok(Frame::data(b))))
    }
}

/// The streaming routes' timing.
#[derive(Debug)]
pub(crate) struct Streaming {
    /// Wait before the first byte of a stream: long-tailed, as a model warming up.
    first_byte: Latency,
    /// Between two tokens.
    token: Latency,
    /// Before a chat reply.
    reply: Latency,
}

impl Default for Streaming {
    fn default() -> Self {
        Streaming {
            first_byte: Latency::new(Duration::from_millis(40), 1.0, 20.0),
            token: Latency::new(Duration::from_millis(8), 0.5, 10.0),
            reply: Latency::new(Duration::from_millis(3), 0.6, 10.0),
        }
    }
}

/// Whether a request is one of the streaming routes.
pub(crate) fn is_streaming(req: &Request<Incoming>) -> bool {
    req.method() == Method::GET && matches!(req.uri().path(), "/api/stream" | "/ws/chat")
}

/// Serves a streaming route.
pub(crate) async fn handle(s: Arc<Streaming>, req: Request<Incoming>) -> Response<ChannelBody> {
    if req.uri().path() == "/ws/chat" {
        return chat(s, req);
    }
    let tokens = req
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("tokens=")))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(DEFAULT_TOKENS)
        .min(MAX_TOKENS);
    tokio::time::sleep(s.first_byte.sample()).await;
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        for t in 0..tokens {
            let event = format!("event: token\ndata: {{\"index\":{t},\"text\":\"tok{t}\"}}\n\n");
            if tx.send(Bytes::from(event)).await.is_err() {
                return;
            }
            tokio::time::sleep(s.token.sample()).await;
        }
        let _ = tx.send(Bytes::from_static(b"data: [DONE]\n\n")).await;
    });
    let mut r = Response::new(ChannelBody(rx));
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// The WebSocket upgrade of `/ws/chat`, then an echo task on the upgraded connection.
fn chat(s: Arc<Streaming>, mut req: Request<Incoming>) -> Response<ChannelBody> {
    let empty = || ChannelBody(mpsc::channel(1).1);
    let key = req
        .headers()
        .get("sec-websocket-key")
        .map(|k| derive_accept_key(k.as_bytes()));
    let upgrade = req
        .headers()
        .get(UPGRADE)
        .is_some_and(|u| u.as_bytes().eq_ignore_ascii_case(b"websocket"));
    let (Some(accept), true) = (key, upgrade) else {
        let mut r = Response::new(empty());
        *r.status_mut() = StatusCode::BAD_REQUEST;
        return r;
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        while let Some(Ok(msg)) = ws.next().await {
            let Message::Text(text) = msg else {
                continue;
            };
            tokio::time::sleep(s.reply.sample()).await;
            let reply = serde_json::json!({ "from": "demo", "reply": text.as_str() });
            if ws.send(Message::text(reply.to_string())).await.is_err() {
                return;
            }
        }
    });
    let mut r = Response::new(empty());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert("sec-websocket-accept", v);
    }
    r
}
