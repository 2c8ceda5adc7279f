//! Hostile and broken servers: the binary, headless, against local servers that misbehave
//! on purpose. In every case the errors are counted under the right kind, memory stays
//! bounded, the run ends on time, and what volley reports equals what the server saw.
//!
//! Each run is bounded by a request count or a duration, and by a wall-time limit after
//! which the test kills volley and fails.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use support::{
    closed_port, kinds, quick, scenario, scratch, total, Conn, RawServer, Reply, TestServer,
};

const MIB: u64 = 1 << 20;

fn kind_map(doc: &serde_json::Value) -> BTreeMap<String, u64> {
    kinds(doc).into_iter().collect()
}

/// Every request is an error of `kind`, and the numbers add up.
fn all_errors_of(doc: &serde_json::Value, kind: &str) {
    let requests = total(doc, "requests");
    assert!(requests > 0, "no requests");
    assert_eq!(total(doc, "errors"), requests, "{}", doc["totals"]);
    assert_eq!(
        kind_map(doc),
        BTreeMap::from([(kind.to_string(), requests)]),
        "{}",
        doc["totals"]["recent_errors"]
    );
}

#[test]
fn connection_refused_is_counted_and_does_not_spin_forever() {
    let dir = scratch("refused");
    let url = format!("http://127.0.0.1:{}/", closed_port());
    let (r, doc) = quick(
        &dir,
        &url,
        &["-c", "4", "-n", "40", "-d", "20s"],
        Duration::from_secs(20),
    );
    assert_eq!(total(&doc, "requests"), 40);
    all_errors_of(&doc, "connect_refused");
    // Refused connections have no latency and no bytes.
    assert_eq!(doc["totals"]["latency_ms"]["count"].as_u64(), Some(0));
    assert_eq!(total(&doc, "bytes_received"), 0);
    // VUs back off (10 ms doubling to 1 s, jittered) after a failed connect: 10 each, ~3 s.
    assert!(r.wall < Duration::from_secs(15), "took {:?}", r.wall);
}

/// A server that accepts, reads the request, and never answers.
fn silent_server() -> RawServer {
    RawServer::start(|mut c: Conn| {
        if c.read_head() {
            c.hold(Duration::from_secs(60));
        }
    })
}

#[test]
fn a_silent_server_times_out_and_the_run_ends_on_time() {
    let server = silent_server();
    let dir = scratch("silent");
    let (r, doc) = quick(
        &dir,
        &server.url(),
        &["-c", "4", "-d", "2s", "--timeout", "300ms"],
        Duration::from_secs(20),
    );
    all_errors_of(&doc, "timeout");
    let requests = total(&doc, "requests");
    assert!(requests >= 8, "only {requests} requests in 2 s at 4 VUs");
    assert_eq!(
        requests,
        server.requests(),
        "volley and the server disagree"
    );
    // Timeouts are in the latency histogram, at about the timeout.
    let lat = &doc["totals"]["latency_ms"];
    assert_eq!(lat["count"].as_u64(), Some(requests));
    // (the latency and the deadline both run from before the connect; HDR reads 0.1% low)
    assert!(lat["min"].as_f64().unwrap() >= 299.7, "{lat}");
    // A timed-out connection is never reused: one connection per request.
    assert_eq!(doc["connections"]["opened"].as_u64(), Some(requests));
    // 2 s of load, then at most one timeout of draining.
    assert!(r.wall < Duration::from_secs(15), "took {:?}", r.wall);
}

#[test]
fn requests_still_hanging_at_the_end_are_aborted_after_the_graceful_stop() {
    let server = silent_server();
    let dir = scratch("hanging");
    let (r, doc) = quick(
        &dir,
        &server.url(),
        &[
            "-c",
            "3",
            "-d",
            "1s",
            "--timeout",
            "60s",
            "--graceful-stop",
            "500ms",
        ],
        Duration::from_secs(20),
    );
    // Each VU sent one request that never ended: cancelled after the grace, counted as
    // aborted (not as a request that completed, not as an error).
    assert_eq!(total(&doc, "aborted"), 3);
    assert_eq!(total(&doc, "requests"), 0);
    assert_eq!(total(&doc, "errors"), 0);
    assert_eq!(server.requests(), 3);
    assert_eq!(doc["aborted_by"], "graceful_stop_timeout");
    let abort = doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "abort")
        .expect("an abort event");
    assert_eq!(
        abort["detail"],
        "3 requests still in flight after the 500ms graceful stop, cut off (counted as aborted, not as errors)"
    );
    let events: Vec<&str> = doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(events.contains(&"abort"), "{events:?}");
    assert!(r.wall < Duration::from_secs(15), "took {:?}", r.wall);
}

#[test]
fn resets_mid_headers_and_mid_body_are_connection_resets() {
    let mid_headers = RawServer::start(|mut c: Conn| {
        if c.read_head() {
            c.write(b"HTTP/1.1 200 OK\r\nContent-Le");
            std::thread::sleep(Duration::from_millis(5));
            c.reset();
        }
    });
    let mid_body = RawServer::start(|mut c: Conn| {
        if c.read_head() {
            c.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n");
            c.write(&[b'x'; 100]);
            std::thread::sleep(Duration::from_millis(5));
            c.reset();
        }
    });
    for (name, server) in [("mid-headers", &mid_headers), ("mid-body", &mid_body)] {
        let dir = scratch(&format!("reset-{name}"));
        let (_, doc) = quick(
            &dir,
            &server.url(),
            &["-c", "2", "-n", "100", "-d", "20s", "--timeout", "5s"],
            Duration::from_secs(30),
        );
        assert_eq!(total(&doc, "requests"), 100, "{name}");
        all_errors_of(&doc, "connection_reset");
        assert_eq!(
            server.requests(),
            100,
            "{name}: the server saw a different count"
        );
        // Bytes of a failed exchange are not counted as received.
        assert_eq!(total(&doc, "bytes_received"), 0, "{name}");
    }
}

#[test]
fn garbage_instead_of_http_is_an_invalid_response() {
    let server = RawServer::start(|mut c: Conn| {
        if c.read_head() {
            c.write(b"SSH-2.0-OpenSSH_9.6\r\n\x00\x01\x02 definitely not HTTP\r\n\r\n");
        }
    });
    let dir = scratch("garbage");
    let (_, doc) = quick(
        &dir,
        &server.url(),
        &["-c", "2", "-n", "100", "-d", "20s", "--timeout", "5s"],
        Duration::from_secs(30),
    );
    assert_eq!(total(&doc, "requests"), 100);
    all_errors_of(&doc, "invalid_response");
    assert_eq!(server.requests(), 100);
}

#[test]
fn a_slow_drip_completes_within_its_timeout_and_times_out_past_it() {
    // /drip: 20 body bytes, one every 25 ms (~0.5 s). /stuck: a byte every 50 ms of a
    // body of 1000, longer than its timeout. Keep-alive for /drip.
    let server = RawServer::start(|mut c: Conn| {
        while c.read_head() {
            if c.path == "/drip" {
                if !c.write(b"HTTP/1.1 200 OK\r\ncontent-length: 20\r\n\r\n") {
                    return;
                }
                for _ in 0..20 {
                    std::thread::sleep(Duration::from_millis(25));
                    if !c.write(b"d") {
                        return;
                    }
                }
            } else {
                c.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n");
                for _ in 0..1000 {
                    std::thread::sleep(Duration::from_millis(50));
                    if c.stopping() || !c.write(b"s") {
                        return;
                    }
                }
            }
        }
    });
    let dir = scratch("drip");
    let (r, doc) = scenario(
        &dir,
        &format!(
            "name = \"drip\"\nbase_url = \"{}\"\n[load]\nvus = 4\nduration = \"2s\"\n\
             [[request]]\nname = \"drip\"\npath = \"/drip\"\ntimeout = \"3s\"\n\
             [[request]]\nname = \"stuck\"\npath = \"/stuck\"\ntimeout = \"400ms\"\n",
            server.url()
        ),
        Duration::from_secs(20),
    );
    let eps = doc["endpoints"].as_array().unwrap();
    let drip = &eps[0];
    let stuck = &eps[1];
    let drip_n = drip["requests"].as_u64().unwrap();
    assert!(
        drip_n > 0 && stuck["requests"].as_u64().unwrap() > 0,
        "{eps:?}"
    );
    assert_eq!(drip["ok"].as_u64(), Some(drip_n), "{drip}");
    assert_eq!(drip["bytes_received"].as_u64(), Some(20 * drip_n));
    assert!(
        drip["latency_ms"]["min"].as_f64().unwrap() >= 450.0,
        "{drip}"
    );
    assert_eq!(stuck["errors"], stuck["requests"], "{stuck}");
    assert_eq!(
        stuck["errors_by_kind"]["timeout"], stuck["requests"],
        "{stuck}"
    );
    assert_eq!(total(&doc, "requests"), server.requests());
    // 2 s, then drips in flight finish (< 0.5 s) or time out (0.4 s).
    assert!(r.wall < Duration::from_secs(15), "took {:?}", r.wall);
}

/// Serves a 100 MiB body (from one shared buffer) on every request, keep-alive.
fn huge_body_server() -> RawServer {
    static CHUNK: [u8; 1 << 20] = [b'z'; 1 << 20];
    RawServer::start(|mut c: Conn| {
        while c.read_head() {
            if !c.write(b"HTTP/1.1 200 OK\r\ncontent-length: 104857600\r\n\r\n") {
                return;
            }
            for _ in 0..100 {
                if c.stopping() || !c.write(&CHUNK) {
                    return;
                }
            }
        }
    })
}

#[test]
fn a_100_mib_body_is_counted_not_buffered() {
    let server = huge_body_server();
    let dir = scratch("huge");
    let (r, doc) = quick(
        &dir,
        &server.url(),
        &["-c", "1", "-n", "3", "-d", "60s", "--timeout", "30s"],
        Duration::from_secs(60),
    );
    assert_eq!(total(&doc, "requests"), 3);
    assert_eq!(total(&doc, "ok"), 3);
    assert_eq!(total(&doc, "bytes_received"), 300 * MIB);
    assert_eq!(server.requests(), 3);
    assert!(
        r.peak_rss_kib > 0 && r.peak_rss_kib < 64 * 1024,
        "peak RSS {} KiB: the body was buffered",
        r.peak_rss_kib
    );
}

#[test]
fn a_capture_on_a_100_mib_body_keeps_at_most_the_limit_and_fails_clearly() {
    let server = huge_body_server();
    let dir = scratch("huge-capture");
    let (r, doc) = scenario(
        &dir,
        &format!(
            "name = \"huge\"\nbase_url = \"{}\"\n[load]\niterations = 2\n\
             [[request]]\nname = \"big\"\npath = \"/big\"\ntimeout = \"30s\"\n\
             capture = [{{ var = \"id\", regex = \"id=(\\\\d+)\" }}]\n",
            server.url()
        ),
        Duration::from_secs(60),
    );
    // The body is read to its end and counted, but kept only up to 16 MiB: the capture
    // finds nothing and says so.
    assert_eq!(total(&doc, "requests"), 2);
    assert_eq!(total(&doc, "bytes_received"), 200 * MIB);
    all_errors_of(&doc, "capture_failed");
    assert_eq!(server.requests(), 2);
    assert!(
        r.peak_rss_kib > 0 && r.peak_rss_kib < 80 * 1024,
        "peak RSS {} KiB",
        r.peak_rss_kib
    );
}

#[test]
fn a_server_that_closes_every_connection_costs_reconnects_not_errors() {
    // Announced: `Connection: close` on every answer.
    let announced = RawServer::start(|mut c: Conn| {
        if c.read_head() {
            c.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok");
        }
    });
    // Silent: a keep-alive answer, then the connection is closed anyway.
    let silent = RawServer::start(|mut c: Conn| {
        if c.read_head() {
            c.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        }
    });
    for (name, server) in [("announced", &announced), ("silent", &silent)] {
        let dir = scratch(&format!("close-{name}"));
        let (_, doc) = quick(
            &dir,
            &server.url(),
            &["-c", "4", "-n", "400", "-d", "30s"],
            Duration::from_secs(40),
        );
        assert_eq!(total(&doc, "requests"), 400, "{name}");
        assert_eq!(total(&doc, "ok"), 400, "{name}: {}", doc["totals"]);
        assert_eq!(
            server.requests(),
            400,
            "{name}: the server saw a different count"
        );
        assert_eq!(server.connections(), 400, "{name}");
        assert_eq!(doc["connections"]["opened"].as_u64(), Some(400), "{name}");
    }
}

#[test]
fn a_hundred_thousand_errors_keep_the_results_bounded() {
    // Statuses 400..=999 in turn: 600 distinct error kinds and messages.
    let server = TestServer::answering(|n, _| Reply::status(400 + (n % 600) as u16));
    let dir = scratch("errors-100k");
    let (r, doc) = quick(
        &dir,
        &server.url(),
        // A request count and no duration: on a slow machine it takes longer, never less.
        &["-c", "8", "-n", "100000"],
        Duration::from_secs(600),
    );
    assert_eq!(total(&doc, "requests"), 100_000);
    assert_eq!(total(&doc, "errors"), 100_000);
    assert_eq!(server.requests(), 100_000);
    // Grouped by kind: one key per status, the counts add up.
    let by_kind = kind_map(&doc);
    assert_eq!(by_kind.len(), 600);
    assert_eq!(by_kind.values().sum::<u64>(), 100_000);
    assert!(by_kind.keys().all(|k| k.starts_with("http_")));
    // A bounded sample of messages, not one per error.
    let recent = doc["totals"]["recent_errors"].as_array().unwrap();
    assert!(!recent.is_empty() && recent.len() <= 50, "{}", recent.len());
    let size = std::fs::metadata(dir.join("out.json")).unwrap().len();
    assert!(size < 512 * 1024, "the result document is {size} bytes");
    assert!(r.stdout.lines().count() < 200, "summary:\n{}", r.stdout);
    assert!(
        r.peak_rss_kib > 0 && r.peak_rss_kib < 64 * 1024,
        "peak RSS {} KiB",
        r.peak_rss_kib
    );
}
