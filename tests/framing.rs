//! Every way a server may frame a response, against every client: the binary, headless,
//! against a raw local server that writes the bytes itself. All three clients must count
//! the same requests, the same body bytes and the same connections, with no errors.
//!
//! Each run is bounded by a request count and a wall-time limit.

mod support;

use std::path::Path;
use std::time::Duration;

use support::{scratch, total, Conn, RawServer};

const CLIENTS: [&str; 3] = ["h1", "hyper", "reqwest"];

/// Answers every request on a kept-alive connection by its path, in small writes.
fn framing_server() -> RawServer {
    RawServer::start(|mut c: Conn| {
        while c.read_head() {
            let ok = match c.path.as_str() {
                // 5 + 26 decoded bytes, a chunk extension, a trailer, written in pieces.
                "/chunked" => {
                    let parts: [&[u8]; 6] = [
                        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                        b"5;ext=1\r\nhel",
                        b"lo\r\n1a\r\nabcdefghijklm",
                        b"nopqrstuvwxyz\r\n0\r",
                        b"\nx-trailer: t\r\n",
                        b"\r\n",
                    ];
                    parts.iter().all(|p| c.write(p))
                }
                // An interim response first.
                "/continue" => c.write(
                    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
                ),
                // HTTP/1.0 with keep-alive asked for.
                "/http10" => c.write(
                    b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc",
                ),
                // The head one byte at a time, then the body.
                "/split" => {
                    let head = b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n";
                    head.chunks(1).all(|b| c.write(b)) && c.write(b"body")
                }
                // A HEAD answer: a length, no body.
                "/head" => c.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n"),
                // No length: the body ends with the connection.
                "/close" => {
                    c.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n");
                    c.write(&[b'x'; 100]);
                    return;
                }
                // 204 with no body, kept alive.
                "/empty" => c.write(b"HTTP/1.1 204 No Content\r\n\r\n"),
                _ => c.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"),
            };
            if !ok {
                return;
            }
        }
    })
}

/// Quick mode headless, 60 s at most; the result document.
fn quick(dir: &Path, url: &str, args: &[&str]) -> serde_json::Value {
    support::quick(dir, url, args, Duration::from_secs(60)).1
}

#[test]
fn every_client_reads_every_framing() {
    // (path, method, body bytes per response, kept alive)
    let cases = [
        ("/chunked", "GET", 31, true),
        ("/continue", "GET", 2, true),
        ("/http10", "GET", 3, true),
        ("/split", "GET", 4, true),
        ("/head", "HEAD", 0, true),
        ("/close", "GET", 100, false),
        ("/empty", "GET", 0, true),
    ];
    for client in CLIENTS {
        for (path, method, body, kept_alive) in cases {
            let server = framing_server();
            let dir = scratch(&format!("framing-{client}{}", path.replace('/', "-")));
            let url = format!("{}{}", server.url().trim_end_matches('/'), path);
            let doc = quick(
                &dir,
                &url,
                &[
                    "-c",
                    "2",
                    "-n",
                    "40",
                    "-m",
                    method,
                    "--client",
                    client,
                    "--timeout",
                    "5s",
                ],
            );
            let what = format!("{client} {method} {path}");
            assert_eq!(total(&doc, "requests"), 40, "{what}");
            assert_eq!(total(&doc, "errors"), 0, "{what}: {}", doc["totals"]);
            assert_eq!(total(&doc, "bytes_received"), 40 * body, "{what}");
            assert_eq!(
                server.requests(),
                40,
                "{what}: the server saw another count"
            );
            if kept_alive && client == "reqwest" {
                // reqwest's pool hands a connection back asynchronously, so a VU may open
                // another now and then; it must still reuse them.
                assert!(
                    server.connections() < 20,
                    "{what}: {} connections",
                    server.connections()
                );
            } else if kept_alive {
                assert!(
                    server.connections() <= 2,
                    "{what}: {} connections for 2 VUs on kept-alive responses",
                    server.connections()
                );
            } else {
                assert_eq!(
                    server.connections(),
                    40,
                    "{what}: one connection per response"
                );
            }
        }
    }
}

/// Checks read the decoded body of a chunked response and the headers of a split head.
#[test]
fn checks_see_decoded_bodies_and_headers() {
    let server = framing_server();
    for client in ["h1", "hyper"] {
        let dir = scratch(&format!("framing-checks-{client}"));
        let (_, doc) = support::scenario(
            &dir,
            &format!(
                r#"
name = "framing"
base_url = "{url}"

[http]
client = "{client}"

[load]
vus = 1
iterations = 10

[[request]]
name = "chunked"
path = "/chunked"
check = [{{ body_contains = "helloabc" }}, {{ body_contains = "xyz" }}]

[[request]]
name = "split"
path = "/split"
check = [{{ header = "content-length" }}, {{ body_contains = "body" }}]
"#,
                url = server.url().trim_end_matches('/'),
            ),
            Duration::from_secs(60),
        );
        assert_eq!(total(&doc, "errors"), 0, "{client}: {}", doc["totals"]);
        let checks = doc["checks"].as_array().unwrap();
        assert_eq!(checks.len(), 4, "{client}: {checks:?}");
        for c in checks {
            assert_eq!(c["fails"], 0, "{client}: {c}");
            assert!(c["passes"].as_u64().unwrap() > 0, "{client}: {c}");
        }
    }
}
