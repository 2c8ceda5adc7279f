//! HTTP/2 (`[http] version`, `--http2`) against real local HTTP/2 servers: hyper's (h2c
//! prior knowledge, and TLS with ALPN) for the counts, and the `h2` crate's for a server
//! that sends GOAWAY mid-run and one that resets streams. Every run is bounded in
//! requests and time; the servers count what reached them, and volley's counts must
//! match exactly.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::*;
use tokio::sync::oneshot;

/// How an [`H2Server`] treats the streams it accepts.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// hyper's HTTP/2 server: `200 ok` to every request.
    Hyper,
    /// The same, each answer this long after its request.
    HyperDelayed(Duration),
    /// The `h2` crate's server: every `n`th stream (counted over the whole server) gets
    /// no answer; the connection is ended at once with GOAWAY (INTERNAL_ERROR).
    GoawayEvery(u64),
    /// The `h2` crate's server, per connection: stream 1, 5, 9, ... refused
    /// (RST_STREAM REFUSED_STREAM), stream 3, 7, 11, ... reset (INTERNAL_ERROR), the
    /// others answered `200 ok`.
    Resets,
}

/// What reached the server.
#[derive(Default)]
struct Counts {
    /// Streams opened (requests whose headers arrived).
    streams: AtomicU64,
    /// Streams opened that were HTTP/2 (always, for an h2 server; checked for hyper).
    h2_streams: AtomicU64,
    answered: AtomicU64,
    refused: AtomicU64,
    reset: AtomicU64,
    goaways: AtomicU64,
    connections: AtomicU64,
    /// The most streams one connection had in flight at once (hyper modes).
    peak_streams_per_connection: AtomicU64,
}

/// An HTTP/2 server on 127.0.0.1, on its own thread and runtime; stops when dropped.
struct H2Server {
    addr: SocketAddr,
    tls: bool,
    counts: Arc<Counts>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl H2Server {
    fn start(mode: Mode, tls: bool) -> H2Server {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let counts = Arc::new(Counts::default());
        let acceptor = tls.then(tls_acceptor);
        let (tx, mut rx) = oneshot::channel::<()>();
        let c = counts.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    tokio::select! {
                        _ = &mut rx => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let _ = stream.set_nodelay(true);
                            c.connections.fetch_add(1, Ordering::AcqRel);
                            let c = c.clone();
                            let acceptor = acceptor.clone();
                            tokio::spawn(async move {
                                match acceptor {
                                    Some(a) => {
                                        if let Ok(s) = a.accept(stream).await {
                                            serve(s, mode, c).await;
                                        }
                                    }
                                    None => serve(stream, mode, c).await,
                                }
                            });
                        }
                    }
                }
            });
            rt.shutdown_timeout(Duration::from_millis(300));
        });
        H2Server {
            addr,
            tls,
            counts,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    fn get(&self, f: impl Fn(&Counts) -> &AtomicU64) -> u64 {
        f(&self.counts).load(Ordering::Acquire)
    }
}

impl Drop for H2Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// TLS with the test certificate, offering only `h2` through ALPN.
fn tls_acceptor() -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = vec![CertificateDer::from_pem_slice(TEST_CERT.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(TEST_KEY.as_bytes()).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

async fn serve<IO>(io: IO, mode: Mode, c: Arc<Counts>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    match mode {
        Mode::Hyper | Mode::HyperDelayed(_) => {
            let delay = match mode {
                Mode::HyperDelayed(d) => d,
                _ => Duration::ZERO,
            };
            let in_flight = Arc::new(AtomicU64::new(0));
            let svc = service_fn(move |req: Request<Incoming>| {
                let c = c.clone();
                let in_flight = in_flight.clone();
                async move {
                    let now = in_flight.fetch_add(1, Ordering::AcqRel) + 1;
                    c.peak_streams_per_connection
                        .fetch_max(now, Ordering::AcqRel);
                    tokio::time::sleep(delay).await;
                    in_flight.fetch_sub(1, Ordering::AcqRel);
                    c.streams.fetch_add(1, Ordering::AcqRel);
                    if req.version() == hyper::Version::HTTP_2 {
                        c.h2_streams.fetch_add(1, Ordering::AcqRel);
                    }
                    c.answered.fetch_add(1, Ordering::AcqRel);
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                }
            });
            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(io), svc)
                .await;
        }
        Mode::GoawayEvery(_) | Mode::Resets => serve_h2(io, mode, c).await,
    }
}

async fn serve_h2<IO>(io: IO, mode: Mode, c: Arc<Counts>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let Ok(mut conn) = h2::server::handshake(io).await else {
        return;
    };
    // Streams left unanswered while the connection goes away.
    let mut held = Vec::new();
    let mut k = 0u64;
    while let Some(accepted) = conn.accept().await {
        let Ok((_req, mut respond)) = accepted else {
            break;
        };
        let n = c.streams.fetch_add(1, Ordering::AcqRel) + 1;
        c.h2_streams.fetch_add(1, Ordering::AcqRel);
        let this = k;
        k += 1;
        match mode {
            Mode::GoawayEvery(every) if n.is_multiple_of(every) => {
                c.goaways.fetch_add(1, Ordering::AcqRel);
                held.push(respond);
                conn.abrupt_shutdown(h2::Reason::INTERNAL_ERROR);
                continue;
            }
            Mode::Resets if this % 4 == 1 => {
                c.refused.fetch_add(1, Ordering::AcqRel);
                respond.send_reset(h2::Reason::REFUSED_STREAM);
                continue;
            }
            Mode::Resets if this % 4 == 3 => {
                c.reset.fetch_add(1, Ordering::AcqRel);
                respond.send_reset(h2::Reason::INTERNAL_ERROR);
                continue;
            }
            _ => {}
        }
        let resp = http::Response::new(());
        if let Ok(mut body) = respond.send_response(resp, false) {
            if body.send_data(Bytes::from_static(b"ok"), true).is_ok() {
                c.answered.fetch_add(1, Ordering::AcqRel);
            }
        }
    }
    drop(held);
}

fn status_total(doc: &serde_json::Value, code: &str) -> u64 {
    doc["totals"]["status"][code].as_u64().unwrap_or(0)
}

fn kind(doc: &serde_json::Value, k: &str) -> u64 {
    doc["totals"]["errors_by_kind"][k].as_u64().unwrap_or(0)
}

/// A scenario of `iterations` GETs of `/` by `vus` VUs on `url`, with `[http] version`
/// and certificates not verified (the test certificate is self-signed).
fn tls_scenario(url: &str, version: &str, vus: u32, iterations: u32) -> String {
    format!(
        r#"name = "h2 tls"
base_url = "{url}"

[load]
vus = {vus}
iterations = {iterations}

[http]
version = "{version}"
insecure = true

[[request]]
path = "/"
"#
    )
}

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn h2c_prior_knowledge_counts_every_stream_exactly() {
    let server = H2Server::start(Mode::Hyper, false);
    let dir = scratch("h2c-count");
    // Bounded by count: 4 VUs, 200 requests.
    let (_, doc) = quick(
        &dir,
        &format!("{}/count", server.url()),
        &["--http2", "-c", "4", "-n", "200"],
        LIMIT,
    );
    assert_eq!(total(&doc, "requests"), 200);
    assert_eq!(total(&doc, "ok"), 200);
    assert_eq!(server.get(|c| &c.streams), 200);
    assert_eq!(
        server.get(|c| &c.h2_streams),
        200,
        "every request was HTTP/2"
    );
    // One connection per VU, each carrying many streams.
    assert!(
        server.get(|c| &c.connections) <= 4,
        "{}",
        server.get(|c| &c.connections)
    );
}

#[test]
fn a_timed_h2_scenario_counts_what_the_server_saw() {
    let server = H2Server::start(Mode::Hyper, false);
    let dir = scratch("h2c-timed");
    let text = format!(
        r#"name = "h2 timed"
base_url = "{}"

[load]
vus = 3
duration = "1s"

[http]
version = "2"

[[request]]
path = "/a"

[[request]]
path = "/b"
method = "POST"
body = "hello"
"#,
        server.url()
    );
    let (_, doc) = scenario(&dir, &text, LIMIT);
    let requests = total(&doc, "requests");
    let ok = total(&doc, "ok");
    assert!(requests > 0);
    let seen = server.get(|c| &c.streams);
    assert_eq!(server.get(|c| &c.h2_streams), seen);
    // Every answer volley counted the server gave, and the server saw nothing volley did
    // not count. About one run in six (of ~30,000 streams on 3 connections), one
    // connection breaks while a stream is being written ("broken pipe", counted as
    // connection_closed; that run's server saw ok, not requests): that request is an
    // error, as a refused connect is. So the rule is ok <= seen <= requests, with at most
    // one such error per connection. The cause of the break is not known yet.
    assert!(
        ok <= seen && seen <= requests,
        "seen {seen}: {}",
        doc["totals"]
    );
    assert!(requests - ok <= 3, "{}", doc["totals"]);
}

#[test]
fn tls_alpn_negotiates_h2_with_auto_and_2() {
    for version in ["auto", "2"] {
        let server = H2Server::start(Mode::Hyper, true);
        let dir = scratch(&format!("h2-tls-{version}"));
        let text = tls_scenario(&server.url(), version, 2, 40);
        let (_, doc) = scenario(&dir, &text, LIMIT);
        assert_eq!(total(&doc, "requests"), 40, "{version}");
        assert_eq!(total(&doc, "ok"), 40, "{version}");
        assert_eq!(server.get(|c| &c.h2_streams), 40, "{version}");
    }
}

#[test]
fn auto_falls_back_to_http1_where_tls_offers_no_h2_and_2_refuses() {
    // The support TLS server speaks HTTP/1.1 and offers no ALPN.
    for (version, ok) in [("auto", true), ("2", false)] {
        let server = TlsServer::start();
        let dir = scratch(&format!("h2-fallback-{version}"));
        let text = tls_scenario(&server.url(), version, 1, 5);
        let (_, doc) = scenario(&dir, &text, LIMIT);
        assert_eq!(total(&doc, "requests"), 5, "{version}");
        if ok {
            assert_eq!(total(&doc, "ok"), 5);
            assert_eq!(server.requests(), 5);
        } else {
            // No HTTP/2, no request sent: a TLS error each time.
            assert_eq!(kind(&doc, "tls"), 5, "{doc}");
            assert_eq!(server.requests(), 0);
        }
    }
}

#[test]
fn goaway_mid_run_is_counted_and_classified() {
    // Every 7th stream: the server ends the connection with GOAWAY instead of answering.
    let server = H2Server::start(Mode::GoawayEvery(7), false);
    let dir = scratch("h2-goaway");
    let (_, doc) = quick(
        &dir,
        &server.url(),
        &["--http2", "-c", "2", "-n", "70", "--timeout", "10s"],
        LIMIT,
    );
    let goaways = server.get(|c| &c.goaways);
    assert_eq!(goaways, 10, "{doc}");
    assert_eq!(total(&doc, "requests"), 70);
    // Every request reached the server once (a stream the server processed is never
    // sent again), and each one it dropped with GOAWAY is a `goaway` error.
    assert_eq!(server.get(|c| &c.streams), 70);
    assert_eq!(kind(&doc, "goaway"), goaways, "{doc}");
    assert_eq!(status_total(&doc, "200"), server.get(|c| &c.answered));
    assert_eq!(status_total(&doc, "200") + goaways, 70);
    // A new connection after each GOAWAY.
    assert!(server.get(|c| &c.connections) > goaways);
}

#[test]
fn reset_streams_are_classified_and_refused_ones_sent_again() {
    let server = H2Server::start(Mode::Resets, false);
    let dir = scratch("h2-resets");
    let (_, doc) = quick(
        &dir,
        &server.url(),
        &["--http2", "-c", "2", "-n", "60", "--timeout", "10s"],
        LIMIT,
    );
    let refused = server.get(|c| &c.refused);
    let reset = server.get(|c| &c.reset);
    assert!(refused > 0 && reset > 0, "refused {refused}, reset {reset}");
    assert_eq!(total(&doc, "requests"), 60);
    // A refused stream was never processed: sent again, not counted.
    assert_eq!(server.get(|c| &c.streams), 60 + refused);
    assert_eq!(kind(&doc, "stream_reset"), reset, "{doc}");
    assert_eq!(status_total(&doc, "200"), server.get(|c| &c.answered));
    assert_eq!(status_total(&doc, "200") + reset, 60);
    // A reset stream leaves its connection up: one connection per VU.
    assert_eq!(server.get(|c| &c.connections), 2);
}

#[test]
fn retry_never_counts_a_refused_stream_as_stream_reset() {
    let server = H2Server::start(Mode::Resets, false);
    let dir = scratch("h2-refused-never");
    let (_, doc) = quick(
        &dir,
        &server.url(),
        &["--http2", "-c", "1", "-n", "8", "--no-retry"],
        LIMIT,
    );
    assert_eq!(total(&doc, "requests"), 8);
    assert_eq!(server.get(|c| &c.streams), 8);
    let resets = server.get(|c| &c.refused) + server.get(|c| &c.reset);
    assert_eq!(kind(&doc, "stream_reset"), resets, "{doc}");
    assert_eq!(total(&doc, "ok"), 8 - resets);
}

#[test]
fn bad_http_versions_are_exit_2_naming_file_line_and_key() {
    let dir = scratch("h2-invalid");
    let cases: &[(&str, &str)] = &[
        (
            "version = \"3\"",
            "must be \"1.1\", \"2\" or \"auto\", got \"3\"",
        ),
        ("version = 3", "must be \"1.1\", \"2\" or \"auto\", got 3"),
        (
            "version = \"2\"\nclient = \"h1\"",
            "client = \"h1\" speaks HTTP/1.1 only",
        ),
        (
            "version = \"2\"\ncookies = true",
            "cannot follow redirects or keep cookies",
        ),
    ];
    for (http, expected) in cases {
        let file = dir.join("bad.toml");
        std::fs::write(
            &file,
            format!(
                "name = \"bad\"\nbase_url = \"http://127.0.0.1:1\"\n\n[http]\n{http}\n\n[[request]]\npath = \"/\"\n"
            ),
        )
        .unwrap();
        let r = run(&["run", file.to_str().unwrap(), "--headless"], LIMIT);
        assert_eq!(r.code(), Some(2), "{http}: {}", r.stderr);
        assert!(r.stderr.contains(expected), "{http}: {}", r.stderr);
        assert!(r.stderr.contains("bad.toml:5"), "{http}: {}", r.stderr);
        assert!(r.stderr.contains("version"), "{http}: {}", r.stderr);
    }
    let r = run(
        &[
            "http://127.0.0.1:1/",
            "--http2",
            "--client",
            "h1",
            "--headless",
        ],
        LIMIT,
    );
    assert_eq!(r.code(), Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("--http2"), "{}", r.stderr);
}

#[test]
fn h2_requests_have_phase_timings() {
    let server = H2Server::start(Mode::HyperDelayed(Duration::from_millis(50)), false);
    let dir = scratch("h2c-phases");
    let (_, doc) = quick(
        &dir,
        &server.url(),
        &["--http2", "-c", "2", "-n", "20"],
        LIMIT,
    );
    assert_eq!(total(&doc, "ok"), 20);
    let phases = &doc["endpoints"][0]["phases_ms"];
    assert_eq!(phases["ttfb"]["count"].as_u64(), Some(20), "{phases}");
    assert_eq!(phases["total"]["count"].as_u64(), Some(20));
    // The server waits 50 ms before the response head: waiting is that, plus loopback
    // and scheduling. The fastest request shows the loopback alone (one request on time
    // is enough); the median gets room for a loaded machine.
    let ttfb = phases["ttfb"]["p50"].as_f64().unwrap();
    assert!((50.0..75.0).contains(&ttfb), "ttfb p50 {ttfb} ms");
    // (Phase histograms keep 2 significant digits: within 1% of the server's 50 ms.)
    let min = phases["ttfb"]["min"].as_f64().unwrap();
    assert!((49.5..60.0).contains(&min), "ttfb min {min} ms");
    // The body came with the head: the server's 50 ms are not in receiving.
    assert!(phases["receive"]["min"].as_f64().unwrap() < 5.0, "{phases}");
    assert!(
        phases["receive"]["p50"].as_f64().unwrap() < 25.0,
        "{phases}"
    );
    // Connect timed once per connection opened.
    assert_eq!(
        phases["connect"]["count"].as_u64(),
        Some(server.get(|c| &c.connections))
    );
}

/// `[http] connections`: VUs share HTTP/2 connections as asked (the server sees that
/// many connections, and never more streams in flight on one than VUs share it), and
/// every stream is one request, counted on both sides.
#[test]
fn vus_share_connections_as_asked_and_every_stream_is_counted() {
    let server = H2Server::start(Mode::HyperDelayed(Duration::from_millis(5)), false);
    let dir = scratch("h2c-shared");
    let text = format!(
        "name = \"shared\"\nbase_url = \"{}\"\n\n[load]\nvus = 8\niterations = 240\n\n[http]\nversion = \"2\"\nconnections = 3\n\n[[request]]\npath = \"/\"\n",
        server.url()
    );
    let (_, doc) = scenario(&dir, &text, LIMIT);
    assert_eq!(total(&doc, "requests"), 240, "{}", doc["totals"]);
    assert_eq!(total(&doc, "ok"), 240, "{}", doc["totals"]);
    assert_eq!(server.get(|c| &c.streams), 240);
    assert_eq!(server.get(|c| &c.h2_streams), 240);
    assert_eq!(server.get(|c| &c.connections), 3);
    assert_eq!(doc["connections"]["opened"].as_u64(), Some(3));
    // 8 VUs on 3 connections: at most 3 on one.
    let peak = server.get(|c| &c.peak_streams_per_connection);
    assert!(peak <= 3, "{peak} streams at once on a connection");
    // The VUs of a connection did multiplex on it (each request waits 5 ms).
    assert!(peak > 1, "never more than one stream at once");
}

/// A batch step (`steps = [["a", "b", "c", "d"]]`) with `streams_per_connection`: one VU
/// has up to that many streams in flight on its own one connection, each a request,
/// counted on both sides; iterations are not multiplied.
#[test]
fn a_vu_multiplexes_its_batch_on_its_one_connection() {
    // (streams per connection, most streams expected at once on a connection)
    for (streams, per_conn) in [(4u64, 4u64), (2, 2)] {
        let server = H2Server::start(Mode::HyperDelayed(Duration::from_millis(20)), false);
        let dir = scratch("h2c-batch");
        let text = format!(
            "name = \"batch\"\nbase_url = \"{}\"\n\n[load]\nvus = 2\niterations = 15\n\n\
             [http]\nversion = \"2\"\nstreams_per_connection = {streams}\n\n\
             [[request]]\nname = \"page\"\npath = \"/\"\n\n\
             [[request]]\nname = \"a\"\npath = \"/a\"\n\n[[request]]\nname = \"b\"\npath = \"/b\"\n\n\
             [[request]]\nname = \"c\"\npath = \"/c\"\n\n[[request]]\nname = \"d\"\npath = \"/d\"\n\n\
             [[user]]\nname = \"browser\"\nsteps = [\"page\", [\"a\", \"b\", \"c\", \"d\"]]\n",
            server.url()
        );
        let (_, doc) = scenario(&dir, &text, LIMIT);
        // 15 iterations of 5 requests: 75, each one stream.
        assert_eq!(total(&doc, "requests"), 75, "{streams}: {}", doc["totals"]);
        assert_eq!(total(&doc, "ok"), 75, "{streams}: {}", doc["totals"]);
        assert_eq!(server.get(|c| &c.streams), 75, "{streams}");
        assert_eq!(server.get(|c| &c.h2_streams), 75, "{streams}");
        for ep in doc["endpoints"].as_array().unwrap() {
            assert_eq!(ep["requests"].as_u64(), Some(15), "{streams}: {ep}");
        }
        // One connection per VU, however many streams its batches use.
        assert_eq!(server.get(|c| &c.connections), 2, "{streams}");
        assert_eq!(doc["connections"]["opened"].as_u64(), Some(2), "{streams}");
        let peak = server.get(|c| &c.peak_streams_per_connection);
        assert!(
            peak <= per_conn,
            "{streams}: {peak} streams at once on a connection"
        );
        // The batch did go out together (each answer waits 20 ms).
        assert!(peak > 1, "{streams}: never more than one stream at once");
    }
}

#[test]
fn sharing_keys_need_http2_and_name_the_key() {
    let dir = scratch("h2-shared-invalid");
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "name = \"bad\"\nbase_url = \"http://127.0.0.1:1\"\n\n[http]\nconnections = 4\n\n[[request]]\npath = \"/\"\n",
    )
    .unwrap();
    let r = run(&["run", file.to_str().unwrap(), "--headless"], LIMIT);
    assert_eq!(r.code(), Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("bad.toml:5:15: key 'http.connections': connections shares HTTP/2 connections between VUs: it needs [http] version = \"2\""),
        "{}",
        r.stderr
    );
}

/// GOAWAY on a connection four VUs share (`connections = 1`): every request is counted
/// once, each answer the server gave is an ok, and every other request is a `goaway`
/// error; none is sent twice (the server never sees more streams than volley counts
/// requests).
///
/// Not exact on the server's side: this server ends the connection at once after its
/// GOAWAY (INTERNAL_ERROR), and the streams other VUs had open on it then fail with the
/// connection (hyper says "stream closed because of a broken pipe"), some of which the
/// server's accept loop never took. hyper gives no stream ids to set them against the
/// GOAWAY's last stream id, so volley counts them as `goaway` (the server may have
/// processed them) rather than send them again: the server saw 61-66 of 70.
#[test]
fn goaway_on_a_shared_connection_is_counted_per_stream() {
    let server = H2Server::start(Mode::GoawayEvery(7), false);
    let dir = scratch("h2-goaway-shared");
    let text = format!(
        "name = \"shared goaway\"\nbase_url = \"{}\"\ntimeout = \"10s\"\n\n[load]\nvus = 4\niterations = 70\n\n[http]\nversion = \"2\"\nconnections = 1\n\n[[request]]\npath = \"/\"\n",
        server.url()
    );
    let (_, doc) = scenario(&dir, &text, LIMIT);
    assert_eq!(total(&doc, "requests"), 70, "{}", doc["totals"]);
    let answered = server.get(|c| &c.answered);
    assert_eq!(status_total(&doc, "200"), answered, "{}", doc["totals"]);
    assert_eq!(kind(&doc, "goaway"), 70 - answered, "{}", doc["totals"]);
    let seen = server.get(|c| &c.streams);
    assert!(seen <= 70, "the server saw {seen} streams of 70 requests");
    assert!(server.get(|c| &c.goaways) >= 1);
}
