//! Streamed responses against server-sent-event servers written here: the events the
//! server wrote are the events volley counts, a stream that stalls is classified
//! `stream_stalled` (with its events counted), a server that never sends a first byte
//! times out, and checks and captures read events.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::*;

const LIMIT: Duration = Duration::from_secs(60);

/// Writes one chunk of a chunked body; false when the client is gone.
fn chunk(c: &mut Conn, data: &[u8]) -> bool {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    c.write(&out)
}

const SSE_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";

/// A server whose `n`th stream (from 0) has `1 + n % 7` token events and a `[DONE]`
/// event, some split over chunks; `sent` counts the events whose last byte was
/// written. Paths under `/echo/` get a plain `ok`.
fn sse_server(sent: Arc<AtomicU64>) -> RawServer {
    let nth = Arc::new(AtomicU64::new(0));
    RawServer::start(move |mut c| {
        while c.read_head() {
            if c.path.starts_with("/echo/") {
                if !c.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok") {
                    return;
                }
                continue;
            }
            let n = nth.fetch_add(1, Ordering::AcqRel);
            if !c.write(SSE_HEAD) {
                return;
            }
            let tokens = 1 + n % 7;
            for t in 0..tokens {
                let ok = if t % 3 == 2 {
                    // An event split over two chunks, CRLF line ends.
                    chunk(
                        &mut c,
                        format!("event: token\r\ndata: {{\"t\":{t}").as_bytes(),
                    ) && chunk(&mut c, b"}\r\n\r\n")
                } else {
                    chunk(
                        &mut c,
                        format!(": note\ndata: {{\"t\":{t}}}\n\n").as_bytes(),
                    )
                };
                if !ok {
                    return;
                }
                sent.fetch_add(1, Ordering::AcqRel);
                std::thread::sleep(Duration::from_millis(2));
            }
            if !chunk(&mut c, b"data: [DONE]\n\n") || !c.write(b"0\r\n\r\n") {
                return;
            }
            sent.fetch_add(1, Ordering::AcqRel);
        }
    })
}

fn stream_of(doc: &serde_json::Value) -> &serde_json::Value {
    let s = &doc["endpoints"][0]["stream"];
    assert!(s.is_object(), "no stream section: {}", doc["endpoints"][0]);
    s
}

#[test]
fn every_event_the_server_sent_is_counted() {
    let sent = Arc::new(AtomicU64::new(0));
    let server = sse_server(sent.clone());
    let dir = scratch("stream-count");
    // No --stream: a text/event-stream response is timed as a stream anyway.
    let (_, doc) = quick(&dir, &server.url(), &["-c", "3", "-n", "40"], LIMIT);
    assert_eq!(total(&doc, "ok"), 40);
    let s = stream_of(&doc);
    let sent = sent.load(Ordering::Acquire);
    // 40 responses of 1 + n % 7 tokens and [DONE]: 40 * 2 + (0+1+..+6) * 5 + (0+..+4).
    assert_eq!(sent, 80 + 21 * 5 + 10);
    assert_eq!(s["events"].as_u64(), Some(sent), "{s}");
    assert_eq!(s["responses"].as_u64(), Some(40));
    assert_eq!(s["first_event_ms"]["count"].as_u64(), Some(40));
    assert_eq!(s["ttfb_ms"]["count"].as_u64(), Some(40));
    // One gap per event after each response's first.
    assert_eq!(s["gap_ms"]["count"].as_u64(), Some(sent - 40));
    assert_eq!(s["events_per_response"]["min"].as_f64(), Some(2.0));
    assert_eq!(s["events_per_response"]["max"].as_f64(), Some(8.0));
    // The first event comes after the first byte, the stream ends after both.
    assert!(s["first_event_ms"]["min"].as_f64() >= s["ttfb_ms"]["min"].as_f64());
    assert!(s["duration_ms"]["min"].as_f64() >= s["first_event_ms"]["min"].as_f64());
    // The gaps are the server's 2 ms sleeps (or more) when volley reads each event as it
    // comes; events a late read (a loaded machine) finds waiting together have gaps of
    // next to nothing, so one timely pair is what can be asked for: the largest gap.
    assert!(s["gap_ms"]["max"].as_f64().unwrap() >= 1.9, "{s}");
}

#[test]
fn checks_count_events_and_read_the_last_one_and_captures_read_an_event() {
    let sent = Arc::new(AtomicU64::new(0));
    let server = sse_server(sent.clone());
    let dir = scratch("stream-checks");
    let text = format!(
        r#"
name = "sse"
base_url = "{url}"
[load]
vus = 1
iterations = 14
[[request]]
name = "tokens"
path = "/chat"
[[request.check]]
event = "last"
body_contains = "[DONE]"
[[request.check]]
name = "at least 3"
events = "3.."
[[request.check]]
event = 0
json_path = "$.t"
equals = 0
[[request.capture]]
var = "second"
event = 1
json = "$.t"
[[request]]
name = "echo"
path = "/echo/{{{{second}}}}"
[user]
"#,
        url = server.url()
    );
    // One user type with steps: tokens, then echo with the captured value.
    let text = text.replace(
        "[user]\n",
        "[[user]]\nname = \"u\"\nsteps = [\"tokens\", \"echo\"]\n",
    );
    let (_, doc) = scenario(&dir, &text, LIMIT);
    let checks: Vec<(String, u64, u64)> = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["passes"].as_u64().unwrap(),
                c["fails"].as_u64().unwrap(),
            )
        })
        .collect();
    // 14 streams of 1 + k % 7 tokens and [DONE].
    let three_or_more = (0..14u64).filter(|k| 1 + k % 7 + 1 >= 3).count() as u64;
    assert_eq!(three_or_more, 12);
    assert_eq!(
        checks,
        vec![
            ("last event: contains '[DONE]'".to_string(), 14, 0),
            ("at least 3".to_string(), three_or_more, 14 - three_or_more),
            ("event 0: $.t == 0".to_string(), 14, 0),
        ]
    );
    // The capture reads event 1: {"t":1} when there are two tokens or more, [DONE] (no
    // JSON: nothing captured, the echo is skipped) when there is one.
    let echo = &doc["endpoints"][1];
    assert_eq!(echo["requests"].as_u64(), Some(12), "{echo}");
    assert_eq!(echo["skipped"].as_u64(), Some(2));
    // The two one-token streams failed a check first (a response is rejected once).
    let tokens = &doc["endpoints"][0];
    assert_eq!(tokens["errors_by_kind"]["check_failed"].as_u64(), Some(2));
    assert_eq!(
        tokens["stream"]["events"].as_u64(),
        Some(sent.load(Ordering::Acquire))
    );
}

#[test]
fn a_stalled_stream_is_classified_with_its_events_counted() {
    let server = RawServer::start(|mut c| {
        if !c.read_head() || !c.write(SSE_HEAD) {
            return;
        }
        for t in 0..3 {
            if !chunk(&mut c, format!("data: {t}\n\n").as_bytes()) {
                return;
            }
        }
        // Then nothing, with the connection open.
        c.hold(Duration::from_secs(20));
    });
    let dir = scratch("stream-stall");
    let text = format!(
        r#"
name = "stall"
base_url = "{}"
timeout = "20s"
[load]
vus = 2
iterations = 4
[[request]]
path = "/"
stream = true
stream_idle = "300ms"
"#,
        server.url()
    );
    let (r, doc) = scenario(&dir, &text, LIMIT);
    assert_eq!(kinds(&doc), vec![("stream_stalled".to_string(), 4)]);
    let s = stream_of(&doc);
    assert_eq!(s["responses"].as_u64(), Some(4));
    assert_eq!(s["events"].as_u64(), Some(12));
    // Each stream waited its 300 ms idle limit, not the 20 s timeout.
    assert!(r.wall < Duration::from_secs(15), "{:?}", r.wall);
    let recent = doc["endpoints"][0]["recent_errors"].to_string();
    assert!(recent.contains("stream stalled"), "{recent}");
}

#[test]
fn a_server_that_never_sends_a_first_byte_times_out() {
    let server = RawServer::start(|mut c| {
        if c.read_head() {
            c.hold(Duration::from_secs(20));
        }
    });
    let dir = scratch("stream-no-first-byte");
    let (r, doc) = quick(
        &dir,
        &server.url(),
        &["--stream", "-c", "1", "-n", "3", "--timeout", "300ms"],
        LIMIT,
    );
    assert_eq!(kinds(&doc), vec![("timeout".to_string(), 3)]);
    // No head came: no stream to time.
    assert!(doc["endpoints"][0].get("stream").is_none());
    assert!(r.wall < Duration::from_secs(15), "{:?}", r.wall);
}

#[test]
fn chunks_are_the_events_of_a_stream_that_is_not_sse() {
    let server = RawServer::start(|mut c| {
        while c.read_head() {
            if !c.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n") {
                return;
            }
            for t in 0..5 {
                if !chunk(&mut c, format!("piece {t}").as_bytes()) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            if !c.write(b"0\r\n\r\n") {
                return;
            }
        }
    });
    let dir = scratch("stream-chunks");
    let (_, doc) = quick(
        &dir,
        &server.url(),
        &["--stream", "-c", "1", "-n", "6"],
        LIMIT,
    );
    let s = stream_of(&doc);
    assert_eq!(s["responses"].as_u64(), Some(6));
    assert_eq!(s["events"].as_u64(), Some(30));
    assert_eq!(s["gap_ms"]["count"].as_u64(), Some(24));
    // Without --stream a plain chunked body is not a stream.
    let (_, doc) = quick(&dir, &server.url(), &["-c", "1", "-n", "2"], LIMIT);
    assert!(doc["endpoints"][0].get("stream").is_none());
}

#[test]
fn the_demo_s_streaming_scenario_chats_and_streams_without_errors() {
    let dir = scratch("stream-demo");
    let out = dir.join("out.json");
    let r = run(
        &[
            "demo",
            "--scenario",
            "streaming",
            "--headless",
            "--duration",
            "2s",
            "--out",
            &format!("json={}", out.display()),
        ],
        LIMIT,
    );
    assert_eq!(r.code(), Some(0), "{r:?}");
    let doc = read_doc(&out);
    assert_eq!(total(&doc, "errors"), 0, "{}", doc["totals"]);
    let eps = doc["endpoints"].as_array().unwrap();
    let names: Vec<&str> = eps.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["login", "chat socket", "token stream"]);
    // Every chat message got its reply: two sends, two expects matched per session.
    let ws = &eps[1]["ws"];
    let sessions = ws["sessions"].as_u64().unwrap();
    assert!(sessions > 0, "{ws}");
    assert_eq!(ws["messages_sent"].as_u64(), Some(2 * sessions));
    assert_eq!(ws["expect_ms"]["count"].as_u64(), Some(2 * sessions));
    // Every token stream: 20 tokens and [DONE], with a first byte and gaps timed.
    let s = &eps[2]["stream"];
    let streams = s["responses"].as_u64().unwrap();
    assert!(streams > 0, "{s}");
    assert_eq!(s["events"].as_u64(), Some(21 * streams));
    assert_eq!(s["gap_ms"]["count"].as_u64(), Some(20 * streams));
    assert!(s["ttfb_ms"]["p50"].as_f64().unwrap() > 0.0);
}
