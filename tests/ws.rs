//! WebSocket requests against a tokio-tungstenite server written here: the messages the
//! server got and sent are the ones volley counts, a server closing with 1011, one that
//! never answers an `expect`, and a message over `ws_max_message`: each counted and
//! classified, nothing hangs. `echo` steps: exactly rate x duration messages reach the
//! server, each echo is matched and timed, a server that never echoes gives timeouts, one
//! that closes gives lost messages, a run that stops ends the step.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;

use support::*;

const LIMIT: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Counts {
    sessions: AtomicU64,
    received: AtomicU64,
    sent: AtomicU64,
}

/// A WebSocket server on 127.0.0.1: `/echo` answers each message with itself, `/wrap`
/// with `got: ` and itself, `/close1011` closes with 1011 at the first message,
/// `/silent` never answers, `/big` answers the first message with 2 MiB.
struct WsServer {
    url: String,
    counts: Arc<Counts>,
    _runtime: tokio::runtime::Runtime,
}

impl WsServer {
    fn start() -> WsServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let counts = Arc::new(Counts::default());
        let c = counts.clone();
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let c = c.clone();
                tokio::spawn(async move {
                    let mut path = String::new();
                    #[allow(clippy::result_large_err)] // tungstenite's callback type
                    let cb = |req: &Request, resp: Response| {
                        path = req.uri().path().to_string();
                        Ok(resp)
                    };
                    // The server takes big messages: the limit under test is volley's.
                    let config = WebSocketConfig::default().max_message_size(None);
                    let Ok(mut ws) =
                        tokio_tungstenite::accept_hdr_async_with_config(tcp, cb, Some(config))
                            .await
                    else {
                        return;
                    };
                    c.sessions.fetch_add(1, Ordering::AcqRel);
                    while let Some(Ok(msg)) = ws.next().await {
                        if !(msg.is_text() || msg.is_binary()) {
                            continue;
                        }
                        c.received.fetch_add(1, Ordering::AcqRel);
                        let answer = match path.as_str() {
                            "/echo" => msg,
                            "/wrap" => {
                                Message::text(format!("got: {}", msg.to_text().unwrap_or_default()))
                            }
                            "/close1011" => {
                                let _ = ws
                                    .close(Some(CloseFrame {
                                        code: CloseCode::Error,
                                        reason: "boom".into(),
                                    }))
                                    .await;
                                continue;
                            }
                            "/big" => Message::text("x".repeat(2 << 20)),
                            _ => continue,
                        };
                        // Counted when written: volley may close the socket while a
                        // message over its limit is still being written, failing the send.
                        c.sent.fetch_add(1, Ordering::AcqRel);
                        let _ = ws.send(answer).await;
                    }
                });
            }
        });
        WsServer {
            url,
            counts,
            _runtime: runtime,
        }
    }

    fn get(&self, f: impl Fn(&Counts) -> &AtomicU64) -> u64 {
        f(&self.counts).load(Ordering::Acquire)
    }
}

fn ws_of(doc: &serde_json::Value) -> &serde_json::Value {
    let s = &doc["endpoints"][0]["ws"];
    assert!(s.is_object(), "no ws section: {}", doc["endpoints"][0]);
    s
}

fn scenario_text(
    url: &str,
    path: &str,
    vus: u32,
    iterations: u32,
    extra: &str,
    script: &str,
) -> String {
    format!(
        r#"
name = "ws"
base_url = "http://127.0.0.1:1"
timeout = "10s"
[load]
vus = {vus}
iterations = {iterations}
[[request]]
name = "chat"
path = "{url}{path}"
{extra}
ws = """
{script}
"""
"#
    )
}

#[test]
fn every_message_the_server_got_and_sent_is_counted() {
    let server = WsServer::start();
    let dir = scratch("ws-echo");
    let script = r#"send json {"vu": {{vu}}, "text": "hello"}
expect json $.text == "hello" within 5s
send second {{iteration}}
send third
receive 2
close"#;
    let text = scenario_text(&server.url, "/echo", 3, 12, "", script);
    let (_, doc) = scenario(&dir, &text, LIMIT);
    let ws = ws_of(&doc);
    assert_eq!(total(&doc, "requests"), 12);
    assert_eq!(total(&doc, "errors"), 0, "{}", doc["totals"]);
    assert_eq!(doc["totals"]["status"]["101"].as_u64(), Some(12));
    let (got, sent) = (server.get(|c| &c.received), server.get(|c| &c.sent));
    assert_eq!(got, 36);
    assert_eq!(sent, 36);
    assert_eq!(ws["messages_sent"].as_u64(), Some(got), "{ws}");
    assert_eq!(ws["messages_received"].as_u64(), Some(sent), "{ws}");
    assert_eq!(server.get(|c| &c.sessions), 12);
    assert_eq!(ws["sessions"].as_u64(), Some(12));
    assert_eq!(ws["connections_opened"].as_u64(), Some(12));
    assert_eq!(ws["connections_closed"].as_u64(), Some(12));
    assert_eq!(ws["close_codes"]["1000"].as_u64(), Some(12));
    assert_eq!(ws["handshake_ms"]["count"].as_u64(), Some(12));
    assert_eq!(ws["expect_ms"]["count"].as_u64(), Some(12));
    assert_eq!(doc["connections"]["opened"].as_u64(), Some(12));
}

#[test]
fn a_server_closing_with_1011_is_ws_closed_with_its_code() {
    let server = WsServer::start();
    let dir = scratch("ws-1011");
    let script = "send hi\nexpect contains never within 5s";
    let text = scenario_text(&server.url, "/close1011", 2, 4, "", script);
    let (r, doc) = scenario(&dir, &text, LIMIT);
    assert_eq!(kinds(&doc), vec![("ws_closed".to_string(), 4)]);
    let ws = ws_of(&doc);
    assert_eq!(ws["close_codes"]["1011"].as_u64(), Some(4), "{ws}");
    assert_eq!(
        ws["messages_sent"].as_u64(),
        Some(server.get(|c| &c.received))
    );
    assert_eq!(ws["messages_received"].as_u64(), Some(0));
    let recent = doc["endpoints"][0]["recent_errors"].to_string();
    assert!(recent.contains("closed the socket (1011 boom)"), "{recent}");
    assert!(r.wall < Duration::from_secs(20), "{:?}", r.wall);
}

#[test]
fn an_expect_nobody_answers_times_out() {
    let server = WsServer::start();
    let dir = scratch("ws-silent");
    let script = "send hi\nexpect contains hi within 300ms\nsend never sent";
    let text = scenario_text(&server.url, "/silent", 1, 3, "", script);
    let (r, doc) = scenario(&dir, &text, LIMIT);
    assert_eq!(kinds(&doc), vec![("timeout".to_string(), 3)]);
    let ws = ws_of(&doc);
    // The send after the expect never went out.
    assert_eq!(ws["messages_sent"].as_u64(), Some(3));
    assert_eq!(server.get(|c| &c.received), 3);
    assert!(ws.get("expect_ms").is_none());
    let recent = doc["endpoints"][0]["recent_errors"].to_string();
    assert!(recent.contains("containing 'hi'"), "{recent}");
    assert!(r.wall < Duration::from_secs(20), "{:?}", r.wall);
}

#[test]
fn a_message_over_the_limit_is_message_too_large() {
    let server = WsServer::start();
    let dir = scratch("ws-big");
    let text = scenario_text(
        &server.url,
        "/big",
        1,
        2,
        "ws_max_message = 65536",
        "send hi\nreceive 1",
    );
    let (_, doc) = scenario(&dir, &text, LIMIT);
    assert_eq!(kinds(&doc), vec![("message_too_large".to_string(), 2)]);
    assert_eq!(server.get(|c| &c.sent), 2);
    assert_eq!(ws_of(&doc)["messages_received"].as_u64(), Some(0));
}

fn echo_of(doc: &serde_json::Value) -> &serde_json::Value {
    let e = &ws_of(doc)["echo"];
    assert!(e.is_object(), "no echo section: {}", ws_of(doc));
    // Every message sent is echoed, timed out or lost.
    let n = |k: &str| e[k].as_u64().unwrap();
    assert_eq!(n("sent"), n("echoed") + n("timeouts") + n("lost"), "{e}");
    e
}

#[test]
fn an_echo_step_sends_exactly_rate_times_duration_and_times_every_echo() {
    let server = WsServer::start();
    let dir = scratch("ws-echo-rate");
    // 20/s for 1s on each of 2 VUs, one session each, after an expect (the echo's
    // sequence numbers are the session's own, the other messages do not match them).
    let script = r#"send hello {{vu}}
expect contains hello
echo json {"seq": {{seq}}, "vu": {{vu}}, "text": "x at 5/s for 1s"} at 20/s for 1s within 10s
close"#;
    let text = scenario_text(&server.url, "/echo", 2, 2, "", script);
    let (_, doc) = scenario(&dir, &text, LIMIT);
    assert_eq!(total(&doc, "errors"), 0, "{}", doc["totals"]);
    assert_eq!(doc["totals"]["status"]["101"].as_u64(), Some(2));
    let ws = ws_of(&doc);
    let echo = echo_of(&doc);
    let got = server.get(|c| &c.received);
    // 2 sessions x (1 hello + 20 echo messages).
    assert_eq!(got, 2 * (1 + 20));
    assert_eq!(ws["messages_sent"].as_u64(), Some(got), "{ws}");
    assert_eq!(echo["sent"].as_u64(), Some(40), "{echo}");
    assert_eq!(echo["echoed"].as_u64(), Some(40), "{echo}");
    assert_eq!(ws["echo_ms"]["count"].as_u64(), Some(40), "{ws}");
    assert_eq!(
        ws["messages_received"].as_u64(),
        Some(server.get(|c| &c.sent))
    );
    assert_eq!(ws["close_codes"]["1000"].as_u64(), Some(2), "{ws}");
}

#[test]
fn an_echo_the_server_wraps_is_matched() {
    let server = WsServer::start();
    let dir = scratch("ws-echo-wrap");
    let script = "echo n{{seq}}n at 40/s for 250ms within 10s";
    let text = scenario_text(&server.url, "/wrap", 1, 1, "", script);
    let (_, doc) = scenario(&dir, &text, LIMIT);
    let echo = echo_of(&doc);
    assert_eq!(server.get(|c| &c.received), 10);
    assert_eq!(echo["echoed"].as_u64(), Some(10), "{echo}");
}

#[test]
fn echoes_that_never_come_are_timeouts_and_nothing_hangs() {
    let server = WsServer::start();
    let dir = scratch("ws-echo-silent");
    let script = "echo {{seq}} at 20/s for 500ms within 300ms\nsend never sent";
    let text = scenario_text(&server.url, "/silent", 1, 2, "", script);
    let (r, doc) = scenario(&dir, &text, LIMIT);
    assert_eq!(kinds(&doc), vec![("timeout".to_string(), 2)]);
    let echo = echo_of(&doc);
    assert_eq!(echo["sent"].as_u64(), Some(20), "{echo}");
    assert_eq!(echo["timeouts"].as_u64(), Some(20), "{echo}");
    // The step after the echo never ran.
    assert_eq!(ws_of(&doc)["messages_sent"].as_u64(), Some(20));
    assert_eq!(server.get(|c| &c.received), 20);
    assert!(ws_of(&doc).get("echo_ms").is_none());
    let recent = doc["endpoints"][0]["recent_errors"].to_string();
    assert!(
        recent.contains("10 of 10 echoes not back within 300ms"),
        "{recent}"
    );
    assert!(r.wall < Duration::from_secs(20), "{:?}", r.wall);
}

#[test]
fn a_server_closing_mid_echo_leaves_the_rest_lost() {
    let server = WsServer::start();
    let dir = scratch("ws-echo-1011");
    let script = "echo {{seq}} at 20/s for 1s within 5s";
    let text = scenario_text(&server.url, "/close1011", 1, 2, "", script);
    let (_, doc) = scenario(&dir, &text, LIMIT);
    assert_eq!(kinds(&doc), vec![("ws_closed".to_string(), 2)]);
    let echo = echo_of(&doc);
    assert!(echo["lost"].as_u64().unwrap() >= 2, "{echo}");
    assert_eq!(echo["echoed"].as_u64(), Some(0), "{echo}");
    assert_eq!(
        ws_of(&doc)["messages_sent"].as_u64(),
        Some(server.get(|c| &c.received))
    );
}

#[test]
fn a_run_that_stops_ends_the_echo_step() {
    let server = WsServer::start();
    let dir = scratch("ws-echo-stop");
    // A 10-minute step in a 1-second run: the stop ends it (not the graceful stop's
    // cut-off, which would lose the sessions' counts).
    let text = format!(
        r#"
name = "ws"
base_url = "http://127.0.0.1:1"
[load]
vus = 2
duration = "1s"
[[request]]
name = "chat"
path = "{}/echo"
ws = "echo {{{{seq}}}} at 20/s for 10m within 5s"
"#,
        server.url
    );
    let (r, doc) = scenario(&dir, &text, LIMIT);
    assert_eq!(total(&doc, "errors"), 0, "{}", doc["totals"]);
    assert_eq!(
        doc["totals"]["aborted"].as_u64().unwrap_or(0),
        0,
        "{}",
        doc["totals"]
    );
    let ws = ws_of(&doc);
    assert_eq!(ws["sessions"].as_u64(), Some(2), "{ws}");
    assert_eq!(ws["close_codes"]["1000"].as_u64(), Some(2), "{ws}");
    let echo = echo_of(&doc);
    let sent = echo["sent"].as_u64().unwrap();
    assert!(sent > 0 && sent < 2 * 20 * 600, "{echo}");
    assert_eq!(
        ws["messages_sent"].as_u64(),
        Some(server.get(|c| &c.received))
    );
    assert!(r.wall < Duration::from_secs(30), "{:?}", r.wall);
}

#[test]
fn a_threshold_on_ws_echo_is_judged() {
    let server = WsServer::start();
    let dir = scratch("ws-echo-threshold");
    let text = scenario_text(
        &server.url,
        "/echo",
        1,
        1,
        r#"thresholds = ["ws_echo p95 < 60m", "ws_echo p50 > 60m"]"#,
        "echo {{seq}} at 20/s for 500ms within 10s",
    );
    let file = dir.join("s.toml");
    std::fs::write(&file, text).unwrap();
    let out = dir.join("out.json");
    let r = run(
        &[
            "run",
            file.to_str().unwrap(),
            "--headless",
            "--out",
            &format!("json={}", out.display()),
        ],
        LIMIT,
    );
    assert_eq!(r.code(), Some(99), "{r:?}");
    let doc = read_doc(&out);
    let t = doc["thresholds"].as_array().unwrap();
    let verdict = |m: &str| {
        t.iter()
            .find(|x| x["expression"].as_str().is_some_and(|s| s.starts_with(m)))
            .unwrap_or_else(|| panic!("{m}: {t:?}"))["passed"]
            .as_bool()
    };
    assert_eq!(verdict("ws_echo p95"), Some(true));
    assert_eq!(verdict("ws_echo p50"), Some(false));
    assert_eq!(echo_of(&doc)["echoed"].as_u64(), Some(10));
}
