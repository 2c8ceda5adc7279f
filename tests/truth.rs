//! Counting truth: every attempt a server saw is in the report, and its time is in the
//! latency. The binary, headless, against [`support::dropping_server`] and friends, for
//! each client: `requests + retries` equals the request heads the server read, with
//! `--no-retry` (`retry = "never"`) and without.
//!
//! Each run is bounded by a request count (or a 1 s duration) and a wall-time limit.

mod support;

use std::path::Path;
use std::time::Duration;

use support::{
    closed_port, dropping_server, scenario, scratch, total, Conn, RawServer, TlsServer, WAIT_CLOSE,
};

const CLIENTS: [&str; 3] = ["h1", "hyper", "reqwest"];

/// Quick mode headless, 60 s at most; the result document.
fn quick(dir: &Path, url: &str, args: &[&str]) -> serde_json::Value {
    support::quick(dir, url, args, Duration::from_secs(60)).1
}

fn retries(doc: &serde_json::Value) -> u64 {
    doc["totals"]["retries"]["total"]
        .as_u64()
        .expect("retries.total")
}

fn kind(doc: &serde_json::Value, k: &str) -> u64 {
    doc["totals"]["errors_by_kind"][k].as_u64().unwrap_or(0)
}

/// A server that reads a second request on a kept-alive connection and drops it (reset
/// or close): with the default retry the dropped attempt is sent again and counted in
/// `retries`; with `--no-retry` it is an error. Either way `requests + retries` is what
/// the server read.
#[test]
fn a_request_the_server_read_and_dropped_is_counted() {
    for (path, reason, error) in [
        ("/reset-second", "reset_before_response", "connection_reset"),
        (
            "/close-second",
            "closed_before_response",
            "connection_closed",
        ),
    ] {
        for client in CLIENTS {
            for no_retry in [false, true] {
                let server = dropping_server();
                let what = format!("{client} {path} no_retry={no_retry}");
                let dir = scratch(&format!(
                    "truth-{client}{}-{no_retry}",
                    path.replace('/', "-")
                ));
                let url = format!("{}{path}", server.url());
                let mut args = vec![
                    "-c",
                    "5",
                    "-n",
                    "100",
                    "--client",
                    client,
                    "--timeout",
                    "5s",
                ];
                if no_retry {
                    args.push("--no-retry");
                }
                let doc = quick(&dir, &url, &args);
                let (requests, retried) = (total(&doc, "requests"), retries(&doc));
                eprintln!(
                    "{what}: server read {} heads; volley: {requests} requests + {retried} retries = {}; ok {}, errors {:?}",
                    server.requests(),
                    requests + retried,
                    total(&doc, "ok"),
                    doc["totals"]["errors_by_kind"]
                );
                assert_eq!(requests, 100, "{what}");
                assert_eq!(
                    requests + retried,
                    server.requests(),
                    "{what}: requests + retries != heads the server read; {}",
                    doc["totals"]
                );
                if no_retry {
                    assert_eq!(retried, 0, "{what}");
                    assert!(kind(&doc, error) > 0, "{what}: {}", doc["totals"]);
                    assert_eq!(
                        total(&doc, "errors"),
                        kind(&doc, error),
                        "{what}: {}",
                        doc["totals"]
                    );
                } else {
                    // Every request but each VU's first was dropped once, then answered.
                    assert_eq!(total(&doc, "ok"), 100, "{what}: {}", doc["totals"]);
                    assert!(retried >= 50, "{what}: {retried} retries");
                    assert_eq!(
                        doc["totals"]["retries"]["by_reason"][reason].as_u64(),
                        Some(retried),
                        "{what}: {}",
                        doc["totals"]["retries"]
                    );
                    assert_eq!(doc["endpoints"][0]["retries"], doc["totals"]["retries"]);
                }
            }
        }
    }
}

/// The server waits before dropping the request: the retried request's latency runs
/// from its first attempt, so it includes the wait.
#[test]
fn a_retried_request_s_latency_includes_the_dropped_attempt() {
    for client in CLIENTS {
        let server = dropping_server();
        let dir = scratch(&format!("truth-wait-{client}"));
        let url = format!("{}/wait-close", server.url());
        let doc = quick(
            &dir,
            &url,
            &["-c", "2", "-n", "6", "--client", client, "--timeout", "5s"],
        );
        let lat = &doc["totals"]["latency_ms"];
        assert_eq!(total(&doc, "ok"), 6, "{client}: {}", doc["totals"]);
        assert!(retries(&doc) >= 2, "{client}: {}", doc["totals"]["retries"]);
        assert_eq!(total(&doc, "requests") + retries(&doc), server.requests());
        // The server's wait starts when it has answered the connection's first request,
        // a little before the client sends the second: allow for that turnaround, up to
        // 200 ms on a loaded machine (a fresh request here takes a millisecond or so:
        // 300 ms can only be the server's wait).
        let wait = WAIT_CLOSE.as_millis() as f64 - 200.0;
        assert!(lat["max"].as_f64().unwrap() >= wait, "{client}: {lat}");
        // A third of the requests waited: the mean cannot be a fresh request's.
        assert!(
            lat["mean"].as_f64().unwrap() >= wait / 4.0,
            "{client}: {lat}"
        );
        let spent = doc["totals"]["retries"]["time_ms"].as_f64().unwrap();
        assert!(spent >= wait * retries(&doc) as f64, "{client}: {spent} ms");
    }
}

/// Statuses outside 100-999 are invalid responses; an unsolicited 101 is an error; a
/// stream of interim responses ends in an error (h1, hyper: capped) or at the timeout
/// (reqwest, which gives no hook on them), never counted ok.
#[test]
fn odd_statuses_are_errors_on_every_client() {
    for client in CLIENTS {
        for (path, expect) in [
            ("/status-042", "invalid_response"),
            ("/upgrade", "unexpected_upgrade"),
        ] {
            let server = dropping_server();
            let what = format!("{client} {path}");
            let dir = scratch(&format!("truth-status-{client}{}", path.replace('/', "-")));
            let url = format!("{}{path}", server.url());
            let doc = quick(
                &dir,
                &url,
                &["-c", "2", "-n", "20", "--client", client, "--timeout", "5s"],
            );
            assert_eq!(total(&doc, "requests"), 20, "{what}");
            assert_eq!(kind(&doc, expect), 20, "{what}: {}", doc["totals"]);
            assert_eq!(total(&doc, "ok"), 0, "{what}");
            assert_eq!(
                total(&doc, "requests") + retries(&doc),
                server.requests(),
                "{what}"
            );
        }
        let server = dropping_server();
        let dir = scratch(&format!("truth-endless-{client}"));
        let url = format!("{}/endless-100", server.url());
        let doc = quick(
            &dir,
            &url,
            &["-c", "1", "-n", "2", "--client", client, "--timeout", "1s"],
        );
        assert_eq!(total(&doc, "requests"), 2, "{client}");
        assert_eq!(total(&doc, "ok"), 0, "{client}: {}", doc["totals"]);
        let expect = if client == "reqwest" {
            "timeout"
        } else {
            "invalid_response"
        };
        assert_eq!(kind(&doc, expect), 2, "{client}: {}", doc["totals"]);
        if client == "reqwest" {
            let lat = &doc["totals"]["latency_ms"];
            // (HDR histograms keep 3 significant digits: a value may read 0.1% low)
            assert!(lat["min"].as_f64().unwrap() >= 999.0, "{client}: {lat}");
            assert!(lat["max"].as_f64().unwrap() < 3000.0, "{client}: {lat}");
        }
    }
}

/// A silent server behind a TLS handshake that takes 150 ms: a timeout's latency is the
/// time the request waited, from before its connect, so at least the timeout (it was
/// 150 ms short when it ran from the send) and not far above it.
#[test]
fn a_timeout_records_the_time_waited() {
    for client in CLIENTS {
        let server = TlsServer::start_with(Duration::from_millis(150), false);
        let dir = scratch(&format!("truth-timeout-{client}"));
        let doc = quick(
            &dir,
            &server.url(),
            &[
                "-c",
                "2",
                "-n",
                "4",
                "-k",
                "--client",
                client,
                "--timeout",
                "300ms",
            ],
        );
        assert_eq!(server.requests(), 4, "{client}");
        assert_eq!(kind(&doc, "timeout"), 4, "{client}: {}", doc["totals"]);
        let lat = &doc["totals"]["latency_ms"];
        assert_eq!(lat["count"].as_u64(), Some(4), "{client}: {lat}");
        // (HDR histograms keep 3 significant digits: a value may read 0.1% low)
        assert!(lat["min"].as_f64().unwrap() >= 299.7, "{client}: {lat}");
        assert!(lat["max"].as_f64().unwrap() < 1500.0, "{client}: {lat}");
    }
}

/// `https://` against a plain-HTTP port: every handshake fails. Each VU backs off
/// (10 ms doubling to 1 s) instead of trying again at once: in a 1 s run with 2 VUs the
/// server sees a few dozen connections at most, not thousands.
#[test]
fn failed_handshakes_back_off() {
    for client in CLIENTS {
        let server = RawServer::start(|mut c: Conn| {
            let mut buf = [0u8; 512];
            let _ = c.stream.set_read_timeout(Some(Duration::from_secs(2)));
            if std::io::Read::read(&mut c.stream, &mut buf).is_ok_and(|n| n > 0) {
                c.write(
                    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            }
        });
        let dir = scratch(&format!("truth-tls-{client}"));
        let url = server.url().replacen("http://", "https://", 1);
        let doc = quick(
            &dir,
            &url,
            &["-c", "2", "-d", "1s", "-k", "--client", client],
        );
        let connections = server.connections();
        eprintln!(
            "{client}: {connections} connections in 1 s; {} requests, errors {}",
            total(&doc, "requests"),
            doc["totals"]["errors_by_kind"]
        );
        assert!(connections > 0, "{client}");
        assert!(
            connections <= 40,
            "{client}: {connections} handshakes in 1 s with 2 VUs"
        );
        assert_eq!(kind(&doc, "tls"), total(&doc, "requests"), "{client}");
        assert_eq!(doc["connections"]["opened"].as_u64(), Some(0), "{client}");
    }
}

/// Connections opened are real TCP connections on every client: one per request against
/// a server that closes each one, none against a refused port. reqwest cannot say how
/// many are open, and says so (`null`).
#[test]
fn connections_opened_are_real_connections() {
    for client in CLIENTS {
        let server = RawServer::start(|mut c: Conn| {
            if c.read_head() {
                c.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok");
            }
        });
        let dir = scratch(&format!("truth-conns-{client}"));
        let doc = quick(
            &dir,
            &server.url(),
            &["-c", "2", "-n", "40", "--client", client],
        );
        assert_eq!(total(&doc, "ok"), 40, "{client}: {}", doc["totals"]);
        assert_eq!(server.connections(), 40, "{client}");
        assert_eq!(doc["connections"]["opened"].as_u64(), Some(40), "{client}");
        let open = &doc["connections"]["open_at_end"];
        if client == "reqwest" {
            assert!(open.is_null(), "{client}: {open}");
        } else {
            assert_eq!(open.as_u64(), Some(0), "{client}");
        }

        let dir = scratch(&format!("truth-refused-{client}"));
        let url = format!("http://127.0.0.1:{}/", closed_port());
        let doc = quick(&dir, &url, &["-c", "2", "-n", "6", "--client", client]);
        assert_eq!(
            kind(&doc, "connect_refused"),
            6,
            "{client}: {}",
            doc["totals"]
        );
        assert_eq!(doc["connections"]["opened"].as_u64(), Some(0), "{client}");
    }
}

/// `[http] retry` in a scenario: `never` as `--no-retry`, `stale` (the default) retries.
#[test]
fn the_scenario_retry_key_sets_the_policy() {
    // `run --no-retry` overrides the scenario's own "stale".
    let server = dropping_server();
    let dir = scratch("truth-scenario-override");
    let file = dir.join("s.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"retry\"\nbase_url = \"{}\"\n[http]\nretry = \"stale\"\n\
             [load]\nvus = 2\niterations = 20\n[[request]]\npath = \"/reset-second\"\n",
            server.url()
        ),
    )
    .unwrap();
    let out = dir.join("out.json");
    let r = support::run(
        &[
            "run",
            file.to_str().unwrap(),
            "--no-retry",
            "--headless",
            "--out",
            &format!("json={}", out.display()),
        ],
        Duration::from_secs(60),
    );
    assert_eq!(r.code(), Some(0), "{r:?}");
    let doc = support::read_doc(&out);
    assert_eq!(retries(&doc), 0, "{}", doc["totals"]);
    assert!(kind(&doc, "connection_reset") > 0, "{}", doc["totals"]);
    assert_eq!(total(&doc, "requests"), server.requests());

    for retry in ["never", "stale"] {
        let server = dropping_server();
        let dir = scratch(&format!("truth-scenario-{retry}"));
        let (r, doc) = scenario(
            &dir,
            &format!(
                "name = \"retry\"\nbase_url = \"{}\"\n[http]\nretry = \"{retry}\"\n\
                 [load]\nvus = 2\niterations = 20\n[[request]]\npath = \"/reset-second\"\n",
                server.url()
            ),
            Duration::from_secs(60),
        );
        assert_eq!(total(&doc, "requests"), 20, "{retry}");
        assert_eq!(total(&doc, "requests") + retries(&doc), server.requests());
        if retry == "never" {
            assert_eq!(retries(&doc), 0, "{retry}");
            assert!(kind(&doc, "connection_reset") > 0, "{}", doc["totals"]);
        } else {
            assert!(retries(&doc) > 0, "{retry}");
            assert_eq!(total(&doc, "errors"), 0, "{}", doc["totals"]);
            assert!(r.stdout.contains("retries "), "{}", r.stdout);
            assert!(r.stdout.contains("warning "), "{}", r.stdout);
            // The reports rendered from the document show them too.
            let out = dir.join("out.json");
            for kind in ["md", "html"] {
                let r = support::run(
                    &[
                        "report",
                        out.to_str().unwrap(),
                        "--out",
                        &format!("{kind}=-"),
                    ],
                    Duration::from_secs(30),
                );
                assert_eq!(r.code(), Some(0), "{r:?}");
                assert!(
                    r.stdout
                        .contains("attempts dropped by the server before any response were sent again (reset_before_response: "),
                    "{kind}: {}",
                    r.stdout
                );
            }
        }
    }
}
