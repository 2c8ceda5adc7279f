//! Source addresses (`[http] local_addresses`, `--bind`): connections are bound to them
//! in turn, on volley's own HTTP/1.1 client and on hyper's; bad lists are refused before
//! any request. Traffic stays on loopback (127.0.0.0/8 is all loopback on Linux).

mod support;

use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::RawServer;

/// A server that records the source address of every connection it accepts and answers
/// each request on it with a 2-byte 200 (keep-alive).
fn recording_server() -> (RawServer, Arc<Mutex<Vec<IpAddr>>>) {
    let peers: Arc<Mutex<Vec<IpAddr>>> = Arc::default();
    let seen = peers.clone();
    let server = RawServer::start(move |mut conn| {
        if let Ok(peer) = conn.stream.peer_addr() {
            seen.lock().unwrap().push(peer.ip());
        }
        // Bounded: the client's requests, at most 1,000 on one connection.
        for _ in 0..1000 {
            if !conn.read_head() || !conn.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") {
                break;
            }
        }
    });
    (server, peers)
}

fn plan(toml: &str) -> volley::scenario::Plan {
    volley::scenario::parse(Path::new("bind.toml"), toml).unwrap_or_else(|e| panic!("{e}"))
}

/// `vus` VUs, 3 requests each, bound to 127.0.0.2 and 127.0.0.3, on `client`.
fn bound(url: &str, client: &str, vus: u32) -> String {
    format!(
        "name = \"bind\"\nbase_url = \"{url}\"\n[load]\nvus = {vus}\niterations = {}\n\
         [http]\nclient = \"{client}\"\nlocal_addresses = [\"127.0.0.2\", \"127.0.0.3\"]\n\
         [[request]]\npath = \"/\"\n",
        vus * 3
    )
}

fn counts(peers: &[IpAddr]) -> (usize, usize, usize) {
    let two: IpAddr = "127.0.0.2".parse().unwrap();
    let three: IpAddr = "127.0.0.3".parse().unwrap();
    (
        peers.iter().filter(|p| **p == two).count(),
        peers.iter().filter(|p| **p == three).count(),
        peers.iter().filter(|p| **p != two && **p != three).count(),
    )
}

/// Each new connection comes from the next source address in turn: as many from each of
/// the two (one more from one when their number is odd), none from 127.0.0.1; every
/// request got its answer, and the server saw each connection volley counted.
#[tokio::test(flavor = "current_thread")]
async fn connections_come_from_the_source_addresses_in_turn() {
    for client in ["h1", "hyper"] {
        let (server, peers) = recording_server();
        let s = volley::engine::start(plan(&bound(&server.url(), client, 6)))
            .wait()
            .await;
        assert_eq!(s.total.requests, 18, "{client}");
        assert_eq!(s.total.errors, 0, "{client}");
        let peers = peers.lock().unwrap().clone();
        assert_eq!(s.connections_opened, peers.len() as u64, "{client}");
        assert!(peers.len() >= 2, "{client}: {peers:?}");
        let (two, three, other) = counts(&peers);
        assert_eq!(other, 0, "{client}: {peers:?}");
        assert!(two.abs_diff(three) <= 1, "{client}: {peers:?}");
    }
}

fn refused(toml: &str) -> String {
    match volley::scenario::parse(Path::new("bind.toml"), toml) {
        Ok(_) => panic!("accepted:\n{toml}"),
        Err(e) => e.to_string(),
    }
}

/// A list that cannot be used is refused with the file, line and key: not an address, a
/// family the target is not, a request on the reqwest client.
#[test]
fn bad_source_addresses_are_refused_with_file_line_and_key() {
    let base = "name = \"b\"\nbase_url = \"http://127.0.0.1:9\"\n[load]\nvus = 1\niterations = 1\n";
    let e = refused(&format!(
        "{base}[http]\nlocal_addresses = [\"127.0.0.2\", \"nope\"]\n[[request]]\npath = \"/\"\n"
    ));
    assert!(e.contains("bind.toml:7:"), "{e}");
    assert!(e.contains("key 'http.local_addresses'"), "{e}");
    assert!(e.contains("'nope' is not an IP address"), "{e}");
    let e = refused(&format!(
        "{base}[http]\nlocal_addresses = [\"::1\"]\n[[request]]\npath = \"/\"\n"
    ));
    assert!(e.contains("bind.toml:7:"), "{e}");
    assert!(
        e.contains("::1 is an IPv6 address but the target 127.0.0.1 is IPv4"),
        "{e}"
    );
    let e = refused(&format!(
        "{base}[http]\nclient = \"reqwest\"\nlocal_addresses = [\"127.0.0.2\"]\n[[request]]\npath = \"/\"\n"
    ));
    assert!(e.contains("key 'http.local_addresses'"), "{e}");
    assert!(e.contains("reqwest client"), "{e}");
    // A name may resolve to either family: accepted.
    plan("name = \"b\"\nbase_url = \"http://localhost:9\"\n[load]\nvus = 1\niterations = 1\n[http]\n\
          local_addresses = [\"::1\", \"127.0.0.2\"]\n[[request]]\npath = \"/\"\n");
}

/// `--bind` in quick mode: a bad list exits 2 before any request; a good one binds.
#[test]
fn the_bind_flag_binds_and_refuses_bad_lists() {
    let (server, peers) = recording_server();
    let url = server.url();
    let r = support::run(
        &[&url, "--headless", "-n", "4", "--bind", "127.0.0.2,nope"],
        Duration::from_secs(30),
    );
    assert_eq!(r.code(), Some(2), "{r:?}");
    assert!(
        r.stderr.contains("--bind: 'nope' is not an IP address"),
        "{}",
        r.stderr
    );
    let r = support::run(
        &[&url, "--headless", "-n", "4", "--bind", "::1"],
        Duration::from_secs(30),
    );
    assert_eq!(r.code(), Some(2), "{r:?}");
    assert!(
        r.stderr.contains("--bind: ::1 is an IPv6 address"),
        "{}",
        r.stderr
    );
    assert_eq!(server.requests(), 0, "nothing sent for a refused list");
    let dir = support::scratch("bind-flag");
    let (_, doc) = support::quick(
        &dir,
        &url,
        &["-c", "4", "-n", "8", "--bind", "127.0.0.3, 127.0.0.2"],
        Duration::from_secs(30),
    );
    assert_eq!(support::total(&doc, "requests"), 8);
    let peers = peers.lock().unwrap().clone();
    let (two, three, other) = counts(&peers);
    assert_eq!(other, 0, "{peers:?}");
    assert!(two + three >= 2 && two.abs_diff(three) <= 1, "{peers:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
