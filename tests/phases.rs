//! Per-phase timings (`phases_ms` in the result document: connect, tls, ttfb, receive,
//! total) against local servers whose delays are known: one that waits 50 ms before its
//! first byte, and one that sends the head at once and the body 100 ms later.

mod support;

use std::time::Duration;

use support::*;

const LIMIT: Duration = Duration::from_secs(60);

fn phase(doc: &serde_json::Value, name: &str, key: &str) -> f64 {
    doc["endpoints"][0]["phases_ms"][name][key]
        .as_f64()
        .unwrap_or_else(|| panic!("no phases_ms.{name}.{key}: {}", doc["endpoints"][0]))
}

#[test]
fn time_to_first_byte_is_the_server_s_wait() {
    let server = TestServer::answering(|_, _| Reply::ok().delay(Duration::from_millis(50)));
    let dir = scratch("phases-ttfb");
    let (_, doc) = quick(&dir, &server.url(), &["-c", "2", "-n", "20"], LIMIT);
    assert_eq!(total(&doc, "ok"), 20);
    let ttfb = phase(&doc, "ttfb", "p50");
    eprintln!(
        "server waits 50 ms: ttfb p50 {ttfb} ms (min {}), receive p50 {} ms",
        phase(&doc, "ttfb", "min"),
        phase(&doc, "receive", "p50")
    );
    // The server waits 50 ms before its first byte: waiting is that, plus loopback and
    // scheduling. The fastest request shows the loopback alone (it needs one request
    // on time, not half of them); the median gets room for a loaded machine.
    assert!((50.0..75.0).contains(&ttfb), "ttfb p50 {ttfb} ms");
    // (Phase histograms keep 2 significant digits: a value reads back within 1%, so
    // 50.05 ms may read 49.92.)
    let min = phase(&doc, "ttfb", "min");
    assert!((49.5..60.0).contains(&min), "ttfb min {min} ms");
    // The body came with the head: receiving is short (the server's 50 ms are not in it).
    let receive = phase(&doc, "receive", "min");
    assert!(receive < 5.0, "receive min {receive} ms");
    let receive = phase(&doc, "receive", "p50");
    assert!(receive < 25.0, "receive p50 {receive} ms");
    // Every request has the phases; connect only the ones that opened a connection.
    assert_eq!(phase(&doc, "ttfb", "count"), 20.0);
    assert_eq!(phase(&doc, "total", "count"), 20.0);
    let opened = doc["connections"]["opened"].as_f64().unwrap();
    assert_eq!(phase(&doc, "connect", "count"), opened);
    assert!(doc["endpoints"][0]["phases_ms"].get("tls").is_none());
    // The phases fit in the total.
    assert!(phase(&doc, "total", "min") >= phase(&doc, "ttfb", "min"));
    // The run's totals carry them too.
    assert_eq!(doc["totals"]["phases_ms"], doc["endpoints"][0]["phases_ms"]);
}

#[test]
fn receiving_is_the_time_from_the_head_to_the_last_body_byte() {
    let server = RawServer::start(|mut c| {
        while c.read_head() {
            if !c.write(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n") {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
            if !c.write(b"0123456789") {
                return;
            }
        }
    });
    let dir = scratch("phases-receive");
    let (_, doc) = quick(&dir, &server.url(), &["-c", "1", "-n", "5"], LIMIT);
    assert_eq!(total(&doc, "ok"), 5);
    let receive = phase(&doc, "receive", "p50");
    eprintln!(
        "server trickles the body 100 ms: receive p50 {receive} ms, ttfb p50 {} ms",
        phase(&doc, "ttfb", "p50")
    );
    // The first byte is timed when volley reads it: a VU scheduled late moves a little
    // of the wait from receiving to waiting, never out of the total. So one request read
    // on time shows all of it in receiving, and the median most of it, even on a loaded
    // machine; a late read of the body adds to it.
    let receive_max = phase(&doc, "receive", "max");
    assert!(receive_max >= 95.0, "receive max {receive_max} ms");
    assert!((75.0..125.0).contains(&receive), "receive p50 {receive} ms");
    // Phase histograms keep 2 significant digits: a minimum of just over 100 ms may read
    // as the bottom of its bucket, up to 1% lower (99.84 ms for 100.1 ms).
    let min = phase(&doc, "total", "min");
    assert!(min >= 99.0, "total min {min} ms");
    // The head came at once: none of the 100 ms is waiting.
    let ttfb = phase(&doc, "ttfb", "min");
    assert!(ttfb < 10.0, "ttfb min {ttfb} ms");
    let ttfb = phase(&doc, "ttfb", "p50");
    assert!(ttfb < 25.0, "ttfb p50 {ttfb} ms");
}

#[test]
fn tls_handshakes_are_timed_once_per_connection() {
    let server = TlsServer::start();
    let dir = scratch("phases-tls");
    let (_, doc) = quick(
        &dir,
        &server.url(),
        &["-c", "2", "-n", "10", "--insecure"],
        LIMIT,
    );
    assert_eq!(total(&doc, "ok"), 10);
    let opened = doc["connections"]["opened"].as_f64().unwrap();
    assert_eq!(phase(&doc, "tls", "count"), opened);
    assert_eq!(phase(&doc, "connect", "count"), opened);
    assert!(phase(&doc, "tls", "min") > 0.0);
}

/// Thresholds on phases and streams are judged on those timings, per endpoint and over
/// all requests, and fail the run (exit 99) like any other. The slow endpoint waits
/// 200 ms, far above what the thresholds that must pass allow (a loaded machine's
/// scheduling stays well under the gap), and those must still be below the slow
/// endpoint's figure, so that judging over all requests instead of per endpoint fails.
#[test]
fn thresholds_judge_phases_per_endpoint_and_overall() {
    let server = TestServer::start(
        ServerConfig::new()
            .route("/slow", Route::ok().delay(Duration::from_millis(200)))
            .route("/fast", Route::ok()),
    );
    let dir = scratch("phases-thresholds");
    let file = dir.join("s.toml");
    let out = dir.join("out.json");
    std::fs::write(
        &file,
        format!(
            r#"name = "phase thresholds"
base_url = "{}"
thresholds = ["ttfb p50 > 1us", "connect p99 < 10s", "send max < 10s", "gap p95 < 1s"]
[load]
vus = 1
iterations = 3
[[user]]
name = "both"
steps = ["slow", "fast"]
[[request]]
name = "slow"
path = "/slow"
thresholds = ["ttfb p95 < 20ms", "ttfb min >= 190ms", "receive p99 < 100ms"]
[[request]]
name = "fast"
path = "/fast"
thresholds = ["ttfb p95 < 150ms"]
"#,
            server.url()
        ),
    )
    .unwrap();
    let out_arg = format!("json={}", out.display());
    let r = run(
        &[
            "run",
            file.to_str().unwrap(),
            "--headless",
            "--out",
            &out_arg,
        ],
        LIMIT,
    );
    assert_eq!(r.code(), Some(99), "{r:?}");
    assert!(
        r.stderr
            .contains("thresholds failed: ttfb p95 < 20ms (slow)"),
        "{}",
        r.stderr
    );
    let doc = read_doc(&out);
    let verdicts: Vec<(String, String, bool)> = doc["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["metric"].as_str().unwrap().to_string(),
                t["passed"].as_bool().unwrap(),
            )
        })
        .collect();
    let want = [
        ("ttfb p50 > 1us", "ttfb p50", true),
        ("connect p99 < 10s", "connect p99", true),
        ("send max < 10s", "send max", true),
        // No streamed response: nothing to judge, not a failure.
        ("gap p95 < 1s", "gap p95", true),
        ("ttfb p95 < 20ms (slow)", "ttfb p95", false),
        ("ttfb min >= 190ms (slow)", "ttfb min", true),
        ("receive p99 < 100ms (slow)", "receive p99", true),
        ("ttfb p95 < 150ms (fast)", "ttfb p95", true),
    ];
    for (name, metric, passed) in want {
        assert!(
            verdicts.contains(&(name.into(), metric.into(), passed)),
            "{name}: {verdicts:?}"
        );
    }
    // The value judged is the phase's own figure, as the document shows it.
    let verdict = |name: &str| {
        doc["thresholds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no threshold {name}"))
            .clone()
    };
    let slow = verdict("ttfb p95 < 20ms (slow)");
    let ttfb_p95 = doc["endpoints"][0]["phases_ms"]["ttfb"]["p95"]
        .as_f64()
        .unwrap();
    assert_eq!(slow["value"].as_f64(), Some(ttfb_p95));
    // (Within the phases' 2 significant digits of the server's 200 ms.)
    assert!(ttfb_p95 >= 198.0, "{ttfb_p95}");
    let gap = verdict("gap p95 < 1s");
    assert!(gap["value"].is_null(), "{gap}");
}

/// A request to a host name resolves it (timed as `dns`); writing the request is timed
/// as `send`, and both sit inside the total.
#[test]
fn dns_and_send_are_timed() {
    let server = TestServer::answering(|_, _| Reply::ok());
    let url = format!("http://localhost:{}/", server.addr().port());
    let dir = scratch("phases-dns");
    let (_, doc) = quick(&dir, &url, &["-c", "1", "-n", "4"], LIMIT);
    assert_eq!(total(&doc, "ok"), 4);
    let opened = doc["connections"]["opened"].as_f64().unwrap();
    assert_eq!(phase(&doc, "dns", "count"), opened);
    assert_eq!(phase(&doc, "send", "count"), 4.0);
    assert!(phase(&doc, "send", "max") <= phase(&doc, "ttfb", "max"));
    // An address needs no resolving.
    let (_, doc) = quick(&dir, &server.url(), &["-c", "1", "-n", "2"], LIMIT);
    assert!(doc["endpoints"][0]["phases_ms"].get("dns").is_none());
}

/// A server that sleeps its thread 50 ms between reading the request and writing the
/// whole response (no timer wheel in between): time to first byte is those 50 ms plus
/// loopback and scheduling, within a few milliseconds; receiving is next to nothing.
#[test]
fn time_to_first_byte_matches_a_thread_sleeping_server() {
    let server = RawServer::start(|mut c| {
        while c.read_head() {
            std::thread::sleep(Duration::from_millis(50));
            if !c.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok") {
                return;
            }
        }
    });
    let dir = scratch("phases-ttfb-raw");
    let (_, doc) = quick(&dir, &server.url(), &["-c", "1", "-n", "10"], LIMIT);
    assert_eq!(total(&doc, "ok"), 10);
    let (p50, min) = (phase(&doc, "ttfb", "p50"), phase(&doc, "ttfb", "min"));
    let receive = phase(&doc, "receive", "p50");
    eprintln!("thread sleeps 50 ms: ttfb p50 {p50} ms (min {min}), receive p50 {receive} ms");
    // Never below the server's wait, to within the phases' 2 significant digits (1%:
    // 50.05 ms may read 49.92).
    assert!(min >= 49.5, "ttfb min {min} ms");
    // Above it by loopback and scheduling only: the fastest request within a few
    // milliseconds (one request on time is enough), the median with room for a loaded
    // machine.
    assert!(min < 55.0, "ttfb min {min} ms");
    assert!(p50 < 75.0, "ttfb p50 {p50} ms");
    // The whole response came in one write: receiving is next to nothing.
    let receive_min = phase(&doc, "receive", "min");
    assert!(receive_min < 1.0, "receive min {receive_min} ms");
    assert!(receive < 25.0, "receive p50 {receive} ms");
}
