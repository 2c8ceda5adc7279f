//! The engine against real HTTP servers on 127.0.0.1: what volley reports must match what
//! the server received, and the control commands must show up in the server's traffic.
//!
//! Every test takes the `SERIAL` lock, so the timing-sensitive ones never share the two
//! cores with another run. Timing assertions have wide margins; nothing asserts throughput.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::{closed_port, Reset, ResetServer, Route, ServerConfig, TestServer};
use volley::engine::{self, Command, EngineHandle, Spike, SpikeChange};
use volley::metrics::{EndpointStats, RunState, Snapshot};
use volley::scenario::Plan;

/// One engine run at a time (see the module docs). A tokio mutex: no poisoning, and it
/// may be held across awaits.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Longest any single run may take before the test fails instead of hanging.
const RUN_LIMIT: Duration = Duration::from_secs(30);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn plan(toml: &str) -> Plan {
    volley::scenario::parse(Path::new("test.toml"), toml)
        .unwrap_or_else(|e| panic!("scenario does not parse: {e}\n---\n{toml}"))
}

fn send(h: &EngineHandle, cmd: Command) {
    h.commands
        .send(cmd.clone())
        .unwrap_or_else(|_| panic!("the engine ended before {cmd:?}"));
}

/// Waits for the final snapshot, failing the test if the run does not end in time.
async fn finish(h: EngineHandle) -> Snapshot {
    tokio::time::timeout(RUN_LIMIT, h.wait())
        .await
        .expect("the run did not end within RUN_LIMIT")
}

fn endpoint<'a>(s: &'a Snapshot, name: &str) -> &'a EndpointStats {
    s.endpoints
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no endpoint named {name}"))
}

fn kind(e: &EndpointStats, k: &str) -> u64 {
    e.errors_by_kind.get(k).copied().unwrap_or(0)
}

fn has_event(s: &Snapshot, kind: &str) -> bool {
    s.events.iter().any(|e| e.kind == kind)
}

/// Waits until the engine's published snapshot satisfies `f` (snapshots come every 100 ms).
/// Conditions on the engine's own state, unlike the server's in-flight count, cannot be
/// met by chance before a command has landed.
async fn engine_reaches(h: &EngineHandle, limit: Duration, f: impl Fn(&Snapshot) -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f(&h.snapshots.borrow()) {
            return true;
        }
        tokio::time::sleep(ms(10)).await;
    }
    f(&h.snapshots.borrow())
}

fn event_kinds(s: &Snapshot) -> Vec<String> {
    s.events.iter().map(|e| e.kind.to_string()).collect()
}

/// Invariants of every final snapshot: nothing left running, per-endpoint figures add up
/// to the total, every request is either ok or an error.
fn check_final(s: &Snapshot) {
    assert_eq!(s.state, RunState::Done);
    assert_eq!(s.in_flight, 0, "requests still in flight after the run");
    assert_eq!(s.vus_active, 0, "VUs still alive after the run");
    let sum: u64 = s.endpoints.iter().map(|e| e.requests).sum();
    assert_eq!(
        sum, s.total.requests,
        "endpoints do not add up to the total"
    );
    for e in std::iter::once(&s.total).chain(s.endpoints.iter()) {
        assert_eq!(
            e.ok + e.errors,
            e.requests,
            "{}: ok + errors != requests",
            e.name
        );
        let statuses: u64 = e.status.values().sum();
        let kinds: u64 = e
            .errors_by_kind
            .iter()
            .filter(|(k, _)| !k.starts_with("http_"))
            .map(|(_, v)| v)
            .sum();
        assert_eq!(
            statuses + kinds,
            e.requests,
            "{}: outcomes != requests",
            e.name
        );
    }
}

// ---------------------------------------------------------------------------------------
// Accounting, run for both executors.
// ---------------------------------------------------------------------------------------

/// 10 VUs, 2000 iterations: the server saw exactly 2000 requests and so does the report.
async fn exact_accounting(client: &str) {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(
        ServerConfig::new()
            .route("/items", Route::ok().body(64))
            .record_header("x-volley-test"),
    );
    let h = engine::start(plan(&format!(
        r#"
name = "exact"
base_url = "{url}"
[headers]
x-volley-test = "exact-{client}"
[load]
vus = 10
iterations = 2000
[http]
client = "{client}"
[[request]]
name = "items"
path = "/items"
"#,
        url = server.url()
    )));
    let s = finish(h).await;
    check_final(&s);
    assert_eq!(server.requests(), 2000);
    assert_eq!(server.count("/items"), 2000);
    assert_eq!(s.total.requests, 2000);
    // What the `-n` progress line reads: iterations done against the limit.
    assert_eq!((s.iterations_done, s.iteration_limit), (2000, Some(2000)));
    let e = endpoint(&s, "items");
    assert_eq!(e.requests, 2000);
    assert_eq!(e.ok, 2000);
    assert_eq!(e.errors, 0, "errors: {:?}", e.errors_by_kind);
    assert_eq!(e.status.get(&200), Some(&2000));
    assert_eq!(e.bytes, 2000 * 64, "body bytes");
    assert_eq!(s.total.bytes, 2000 * 64);
    assert_eq!(e.hist.len(), 2000, "one latency per answered request");
    assert!(
        server.peak_in_flight() <= 10,
        "more than 10 requests at once"
    );
    assert_eq!(
        server.last_header().as_deref(),
        Some(&*format!("exact-{client}"))
    );
    assert!(
        !s.partial,
        "a run that reached its iteration limit is complete"
    );
}

/// Weights 1:2:7 over 3000 iterations: shares within 3 points, counts equal the server's.
async fn weights(client: &str) {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(ServerConfig::new());
    let h = engine::start(plan(&format!(
        r#"
name = "weights"
base_url = "{url}"
[load]
vus = 10
iterations = 3000
[http]
client = "{client}"
[[request]]
name = "a"
path = "/a"
weight = 1
[[request]]
name = "b"
path = "/b"
weight = 2
[[request]]
name = "c"
path = "/c"
weight = 7
"#,
        url = server.url()
    )));
    let s = finish(h).await;
    check_final(&s);
    assert_eq!(s.total.requests, 3000);
    assert_eq!(server.requests(), 3000);
    for (name, weight) in [("a", 1.0), ("b", 2.0), ("c", 7.0)] {
        let e = endpoint(&s, name);
        assert_eq!(
            e.requests,
            server.count(&format!("/{name}")),
            "endpoint {name}"
        );
        assert_eq!(e.ok, e.requests, "endpoint {name}");
        let share = e.requests as f64 / 3000.0 * 100.0;
        let want = weight * 10.0;
        assert!(
            (share - want).abs() <= 3.0,
            "endpoint {name}: {share:.1}% of requests, weight says {want}%"
        );
    }
}

/// A route that answers 503: every request on it is an `http_503` error.
async fn http_5xx(client: &str) {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(ServerConfig::new().route("/fail", Route::status(503)));
    let h = engine::start(plan(&format!(
        r#"
name = "5xx"
base_url = "{url}"
[load]
vus = 4
iterations = 400
[http]
client = "{client}"
[[request]]
name = "ok"
path = "/ok"
[[request]]
name = "fail"
path = "/fail"
"#,
        url = server.url()
    )));
    let s = finish(h).await;
    check_final(&s);
    assert_eq!(s.total.requests, 400);
    assert_eq!(server.requests(), 400);
    let fail = endpoint(&s, "fail");
    let n = fail.requests;
    assert!(n > 0);
    assert_eq!(n, server.count("/fail"));
    assert_eq!(
        kind(fail, "http_503"),
        n,
        "errors: {:?}",
        fail.errors_by_kind
    );
    assert_eq!(fail.errors, n);
    assert_eq!(fail.ok, 0);
    assert_eq!(fail.status.get(&503), Some(&n));
    assert_eq!(fail.status.len(), 1, "statuses: {:?}", fail.status);
    let ok = endpoint(&s, "ok");
    assert_eq!(ok.requests, server.count("/ok"));
    assert_eq!(ok.ok, ok.requests);
    assert_eq!(ok.errors, 0, "errors: {:?}", ok.errors_by_kind);
    assert_eq!(kind(&s.total, "http_503"), n);
    assert!(
        fail.recent_errors.iter().all(|e| e.kind == "http_503"),
        "{:?}",
        fail.recent_errors
    );
}

/// Nothing listens on the target port: every request is `connect_refused`.
async fn connect_refused(client: &str) {
    let _serial = SERIAL.lock().await;
    let port = closed_port();
    let h = engine::start(plan(&format!(
        r#"
name = "refused"
base_url = "http://127.0.0.1:{port}"
[load]
vus = 2
iterations = 20
[http]
client = "{client}"
[[request]]
name = "nothing"
path = "/"
"#
    )));
    let s = finish(h).await;
    check_final(&s);
    let e = endpoint(&s, "nothing");
    assert_eq!(e.requests, 20);
    assert_eq!(e.ok, 0);
    let refused = kind(e, "connect_refused");
    assert!(refused > 0, "errors: {:?}", e.errors_by_kind);
    assert_eq!(refused, 20, "errors: {:?}", e.errors_by_kind);
    assert_eq!(kind(&s.total, "connect_refused"), 20);
    // Nothing connected, on any client (reqwest counts through its connector).
    assert_eq!(s.connections_opened, 0);
}

/// A 5 s route and a stalled route with a 200 ms timeout: both time out, the fast route
/// (with a timeout of its own) does not, and the run ends on time instead of waiting for
/// the slow answers.
async fn timeouts(client: &str) {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(
        ServerConfig::new()
            .route("/slow", Route::ok().delay(Duration::from_secs(5)))
            .route("/stall", Route::stalled()),
    );
    let started = Instant::now();
    let h = engine::start(plan(&format!(
        r#"
name = "timeouts"
base_url = "{url}"
timeout = "200ms"
[load]
vus = 4
duration = "1s"
[http]
client = "{client}"
[[request]]
name = "fast"
path = "/fast"
timeout = "5s"
[[request]]
name = "slow"
path = "/slow"
[[request]]
name = "stall"
path = "/stall"
"#,
        url = server.url()
    )));
    let s = finish(h).await;
    let wall = started.elapsed();
    check_final(&s);
    // 1 s of run plus at most one 200 ms timeout to drain; the 5 s answers never came.
    assert!(wall < ms(4000), "the run took {wall:?}");
    for (name, path) in [("slow", "/slow"), ("stall", "/stall")] {
        let e = endpoint(&s, name);
        assert!(e.requests > 0, "{name}: no requests");
        assert_eq!(e.requests, server.count(path), "{name}");
        assert_eq!(
            kind(e, "timeout"),
            e.requests,
            "{name}: {:?}",
            e.errors_by_kind
        );
        assert_eq!(e.ok, 0, "{name}");
        assert!(
            e.hist.max() < 1_000_000,
            "{name}: waited {} us",
            e.hist.max()
        );
    }
    let fast = endpoint(&s, "fast");
    assert!(fast.requests > 0);
    assert_eq!(fast.requests, server.count("/fast"));
    assert_eq!(fast.ok, fast.requests, "errors: {:?}", fast.errors_by_kind);
    assert_eq!(s.total.requests, server.requests());
}

/// Requests that outlive the graceful-stop period are aborted and counted as `aborted`.
async fn graceful_stop_abort(client: &str) {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(
        ServerConfig::new().route("/hang", Route::ok().delay(Duration::from_secs(5))),
    );
    let h = engine::start(plan(&format!(
        r#"
name = "abort"
base_url = "{url}"
[load]
vus = 3
duration = "60s"
graceful_stop = "300ms"
[http]
client = "{client}"
[[request]]
name = "hang"
path = "/hang"
"#,
        url = server.url()
    )));
    assert!(
        server.wait_for(ms(3000), |s| s.in_flight() == 3).await,
        "the 3 VUs never all reached the server"
    );
    tokio::time::sleep(ms(200)).await;
    let stop = Instant::now();
    send(&h, Command::Stop);
    let s = finish(h).await;
    let took = stop.elapsed();
    check_final(&s);
    assert!(
        took >= ms(250),
        "ended {took:?} after Stop: no graceful period"
    );
    assert!(
        took < ms(5000),
        "ended {took:?} after Stop: graceful_stop is 300ms and the requests never end"
    );
    let e = endpoint(&s, "hang");
    assert_eq!(e.aborted, 3, "errors: {:?}", e.errors_by_kind);
    assert_eq!(
        kind(e, "aborted"),
        0,
        "not an error: {:?}",
        e.errors_by_kind
    );
    assert_eq!((e.requests, e.ok, e.errors), (0, 0, 0));
    assert_eq!(s.total.aborted, server.requests(), "reported != received");
    assert_eq!(
        s.aborted_by,
        Some(volley::metrics::AbortCause::GracefulStopTimeout)
    );
    assert!(s.partial);
    assert!(has_event(&s, "abort"), "events: {:?}", event_kinds(&s));
}

/// A server that closes every connection after its answer (`Connection: close`): each
/// request needs a new connection, and none of that may show up as an error.
async fn server_closes_connections(client: &str) {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(ServerConfig::new().close_connections());
    let h = engine::start(plan(&format!(
        r#"
name = "close"
base_url = "{url}"
[load]
vus = 4
iterations = 500
[http]
client = "{client}"
[[request]]
name = "c"
path = "/c"
"#,
        url = server.url()
    )));
    let s = finish(h).await;
    check_final(&s);
    let e = endpoint(&s, "c");
    assert_eq!(e.errors, 0, "errors: {:?}", e.errors_by_kind);
    assert_eq!(e.requests, 500);
    assert_eq!(
        server.requests(),
        500,
        "reported 500, received {}",
        server.requests()
    );
}

/// A POST with a JSON body: every request's body and Content-Type reach the server.
async fn request_body_reaches_server(client: &str) {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(ServerConfig::new().record_header("content-type"));
    let h = engine::start(plan(&format!(
        r#"
name = "post"
base_url = "{url}"
[load]
vus = 2
iterations = 100
[http]
client = "{client}"
[[request]]
name = "create"
method = "POST"
path = "/items"
json = {{ a = 1, b = "xy" }}
"#,
        url = server.url()
    )));
    let s = finish(h).await;
    check_final(&s);
    let e = endpoint(&s, "create");
    assert_eq!(e.method, "POST");
    assert_eq!(e.ok, 100, "errors: {:?}", e.errors_by_kind);
    assert_eq!(server.count("/items"), 100);
    let body = br#"{"a":1,"b":"xy"}"#.len() as u64;
    assert_eq!(server.body_bytes(), 100 * body);
    assert_eq!(server.last_header().as_deref(), Some("application/json"));
}

/// A server that closes keep-alive connections idle for 150 ms (as nginx, Node.js and most
/// servers do after their keep-alive timeout), with VUs that think for about that long:
/// many requests go out on a connection the server is closing at that very moment. The
/// server never sees those requests, so they must not be reported as requests that
/// failed: the client should send them again on a new connection, as browsers and Go's
/// net/http do.
///
/// Before the executors retried stale connections, `connection_closed` /
/// `connection_reset` errors were reported here for requests that never reached the
/// server. The retry must not go too far either: see `reset_*_is_sent_once`.
async fn stale_keep_alive_connections(client: &str) {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(ServerConfig::new().idle_timeout(ms(150)));
    let h = engine::start(plan(&format!(
        r#"
name = "stale"
base_url = "{url}"
[load]
vus = 8
iterations = 160
think_time = "150ms"
[http]
client = "{client}"
[[request]]
name = "s"
path = "/s"
"#,
        url = server.url()
    )));
    let s = finish(h).await;
    check_final(&s);
    let e = endpoint(&s, "s");
    assert_eq!(e.requests, 160);
    // An attempt counted as a retry may have been read by the server, or not (it closed
    // the idle connection as the request arrived): never fewer than it got.
    assert!(
        e.requests + e.retries_total() >= server.requests(),
        "retries {:?}, received {}",
        e.retries,
        server.requests()
    );
    assert_eq!(
        (e.errors, server.requests()),
        (0, 160),
        "(errors, requests received by the server); errors: {:?}, e.g. {:?}",
        e.errors_by_kind,
        e.recent_errors.front().map(|m| &m.message)
    );
}

/// The server reads a request, then resets the connection: the request reached the
/// server, so it is one failed request and must not be sent again (and counted once).
async fn reset_after_request_is_sent_once(client: &str, mode: Reset) {
    let _serial = SERIAL.lock().await;
    let server = ResetServer::start(mode);
    let h = engine::start(plan(&format!(
        r#"
name = "reset"
base_url = "{url}"
[load]
vus = 1
iterations = 10
[http]
client = "{client}"
[[request]]
name = "r"
path = "/r"
"#,
        url = server.url()
    )));
    let s = finish(h).await;
    check_final(&s);
    let e = endpoint(&s, "r");
    assert_eq!(e.requests, 10);
    assert_eq!(
        server.count(),
        10,
        "{mode:?}: the server received {} requests for 10 reported; statuses {:?}, errors {:?}",
        server.count(),
        e.status,
        e.errors_by_kind
    );
    let resets = if mode == Reset::MidBodyOnReuse { 5 } else { 10 };
    assert_eq!(e.errors, resets, "{mode:?}: errors {:?}", e.errors_by_kind);
}

/// Reset before any response, on a fresh (not reused) connection: not a stale keep-alive.
async fn reset_before_response_is_sent_once(client: &str) {
    reset_after_request_is_sent_once(client, Reset::BeforeResponse).await
}

/// Reset in the middle of the response body (after the head and 100 bytes).
async fn reset_mid_body_is_sent_once(client: &str) {
    reset_after_request_is_sent_once(client, Reset::MidBody).await
}

/// Reset in the middle of the body of the second request on a kept-alive connection: a
/// response had begun, so the request was not lost to a stale connection.
async fn reset_mid_body_on_reused_connection_is_sent_once(client: &str) {
    reset_after_request_is_sent_once(client, Reset::MidBodyOnReuse).await
}

macro_rules! for_each_client {
    ($($test:ident),* $(,)?) => {
        mod h1_client {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test("h1").await
                }
            )*
        }
        mod hyper_client {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test("hyper").await
                }
            )*
        }
        mod reqwest_client {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test("reqwest").await
                }
            )*
        }
    };
}

for_each_client!(
    exact_accounting,
    weights,
    http_5xx,
    connect_refused,
    timeouts,
    graceful_stop_abort,
    server_closes_connections,
    request_body_reaches_server,
    stale_keep_alive_connections,
    reset_mid_body_is_sent_once,
    reset_before_response_is_sent_once,
    reset_mid_body_on_reused_connection_is_sent_once,
);

// ---------------------------------------------------------------------------------------
// Control.
// ---------------------------------------------------------------------------------------

/// Stop a 60 s run after 1 s: it ends promptly, nothing is lost, the result is partial.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_early() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(ServerConfig::new().fallback(Route::ok().delay(ms(2))));
    let h = engine::start(plan(&format!(
        r#"
name = "stop"
base_url = "{url}"
[load]
vus = 4
duration = "60s"
[[request]]
path = "/x"
"#,
        url = server.url()
    )));
    tokio::time::sleep(ms(1000)).await;
    let stop = Instant::now();
    send(&h, Command::Stop);
    let s = finish(h).await;
    let took = stop.elapsed();
    let ended = Instant::now();
    check_final(&s);
    assert!(
        took < ms(10_000),
        "ended {took:?} after Stop (the run is 60 s)"
    );
    assert!(s.total.requests > 0);
    assert_eq!(s.total.requests, server.requests(), "reported != received");
    assert_eq!(s.total.ok, s.total.requests);
    assert!(s.partial, "a stopped run is partial");
    assert!(has_event(&s, "stop"), "events: {:?}", event_kinds(&s));
    assert!(s.run_time < Duration::from_secs(10));
    tokio::time::sleep(ms(200)).await;
    assert_eq!(
        server.arrivals_since(ended),
        0,
        "requests after the run ended"
    );
}

/// Stop with requests in flight that finish within the graceful-stop period: they are
/// waited for and counted as ok, nothing is aborted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_stop_waits_for_in_flight() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(ServerConfig::new().fallback(Route::ok().delay(ms(400))));
    let h = engine::start(plan(&format!(
        r#"
name = "graceful"
base_url = "{url}"
[load]
vus = 3
duration = "60s"
graceful_stop = "3s"
[[request]]
path = "/g"
"#,
        url = server.url()
    )));
    assert!(server.wait_for(ms(3000), |s| s.in_flight() == 3).await);
    let stop = Instant::now();
    send(&h, Command::Stop);
    let s = finish(h).await;
    let took = stop.elapsed();
    check_final(&s);
    // The requests take 400 ms; the graceful period is 3 s and must not be waited out.
    assert!(took < ms(2800), "ended {took:?} after Stop");
    assert_eq!(s.total.aborted, 0, "{:?}", s.total.errors_by_kind);
    assert_eq!(s.aborted_by, None);
    assert_eq!(s.total.errors, 0, "{:?}", s.total.errors_by_kind);
    assert_eq!(s.total.requests, server.requests());
    assert!(s.total.requests >= 3);
    assert!(!has_event(&s, "abort"), "events: {:?}", event_kinds(&s));
}

/// The supervisor, with no terminal and no signals: an operator's "quit now" during the
/// graceful stop cuts it short, and the outcome is the engine's own final count (the
/// requests cut off counted as aborted), marked forced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervise_quit_now_cuts_the_graceful_stop_short() {
    struct Obey;
    impl engine::Watcher for Obey {
        fn on_signal(&mut self, _: engine::StopSignal) -> engine::OnSignal {
            engine::OnSignal::Stop
        }
    }
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(ServerConfig::new().fallback(Route::ok().delay(ms(20_000))));
    let h = engine::start(plan(&format!(
        r#"
name = "supervised"
base_url = "{url}"
[load]
vus = 2
duration = "60s"
graceful_stop = "30s"
[[request]]
path = "/slow"
"#,
        url = server.url()
    )));
    assert!(server.wait_for(ms(5000), |s| s.in_flight() == 2).await);
    send(&h, Command::Stop);
    assert!(engine_reaches(&h, ms(5000), |s| s.state == RunState::Stopping).await);
    let quit_now = std::sync::Arc::new(tokio::sync::Notify::new());
    quit_now.notify_one();
    let stop = Instant::now();
    let out = tokio::time::timeout(
        RUN_LIMIT,
        engine::supervise(h, engine::Signals::none(), quit_now, &mut Obey),
    )
    .await
    .expect("the supervisor did not return within RUN_LIMIT");
    let took = stop.elapsed();
    assert!(out.forced);
    assert!(took < ms(10_000), "returned {took:?} after quit-now");
    let s = out.snapshot;
    assert_eq!(s.state, RunState::Done, "the engine's own final count");
    assert!(s.partial);
    assert_eq!(s.aborted_by, Some(volley::metrics::AbortCause::SecondStop));
    assert_eq!(s.total.aborted, 2, "{:?}", s.total.errors_by_kind);
    assert_eq!(s.total.errors, 0, "{:?}", s.total.errors_by_kind);
}

/// 10 VUs never have more than 10 requests at the server; after SetVus(3), at most 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_follows_vus() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(ServerConfig::new().fallback(Route::ok().delay(ms(200))));
    let h = engine::start(plan(&format!(
        r#"
name = "concurrency"
base_url = "{url}"
[load]
vus = 10
duration = "30s"
[[request]]
path = "/slow"
"#,
        url = server.url()
    )));
    assert!(
        server.wait_for(ms(3000), |s| s.max_in_flight() >= 10).await,
        "never reached 10 in flight (max {})",
        server.max_in_flight()
    );
    tokio::time::sleep(ms(600)).await;
    assert_eq!(server.max_in_flight(), 10, "10 VUs, one request each");

    send(&h, Command::SetVus(3));
    // The 7 retired VUs finish the request they are in (200 ms) and stop; a VU counts as
    // active until its task has ended.
    assert!(
        engine_reaches(&h, ms(5000), |s| s.vus_active == 3).await,
        "retired VUs never ended: {} active",
        h.snapshots.borrow().vus_active
    );
    assert!(
        server.wait_for(ms(2000), |s| s.in_flight() <= 3).await,
        "retired VUs still busy: {} in flight",
        server.in_flight()
    );
    server.reset_max();
    tokio::time::sleep(ms(1000)).await;
    let max = server.max_in_flight();
    assert!(max <= 3 && max > 0, "max in flight {max} with 3 VUs");
    assert_eq!(h.snapshots.borrow().vus_active, 3);

    send(&h, Command::Stop);
    let s = finish(h).await;
    check_final(&s);
    assert_eq!(server.peak_in_flight(), 10);
    assert_eq!(s.total.requests, server.requests());
    assert_eq!(s.vus_target, 3);
    assert!(has_event(&s, "set_vus"), "events: {:?}", event_kinds(&s));
}

/// Pause: in-flight requests finish, then nothing arrives until Resume; the paused time
/// does not count towards the planned duration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(ServerConfig::new().fallback(Route::ok().delay(ms(100))));
    let started = Instant::now();
    let h = engine::start(plan(&format!(
        r#"
name = "pause"
base_url = "{url}"
[load]
vus = 4
duration = "2s"
[[request]]
path = "/p"
"#,
        url = server.url()
    )));
    assert!(
        server.wait_for(ms(5000), |s| s.requests() > 0).await,
        "no request before the pause"
    );
    let paused = Instant::now();
    send(&h, Command::Pause);
    // The engine closes its gate when it takes the command: only then can no new request
    // start (before that, in-flight can be 0 between two rounds of requests).
    assert!(engine_reaches(&h, ms(5000), |s| s.state == RunState::Paused).await);
    assert!(
        server.wait_for(ms(2000), |s| s.in_flight() == 0).await,
        "in-flight requests did not drain after Pause"
    );
    tokio::time::sleep(ms(50)).await;
    let quiet = Instant::now();
    tokio::time::sleep(ms(1000)).await;
    assert_eq!(
        server.arrivals_since(quiet),
        0,
        "requests arrived while paused"
    );
    assert_eq!(h.snapshots.borrow().state, RunState::Paused);

    let resumed = Instant::now();
    send(&h, Command::Resume);
    let pause = resumed - paused;
    assert!(
        server
            .wait_for(ms(5000), |s| s.arrivals_since(resumed) > 0)
            .await,
        "nothing arrived after Resume"
    );

    let s = finish(h).await;
    let wall = started.elapsed();
    check_final(&s);
    assert_eq!(s.total.requests, server.requests());
    assert!(!s.partial, "the run reached its planned duration");
    // The planned 2 s are counted on the run clock, which stops while paused.
    assert!(s.run_time >= ms(1950), "run_time {:?}", s.run_time);
    assert!(s.run_time < ms(3000), "run_time {:?}", s.run_time);
    assert!(wall >= ms(1950) + pause, "wall {wall:?}, pause {pause:?}");
    let excluded = s.elapsed.saturating_sub(s.run_time);
    let diff = excluded.as_secs_f64() - pause.as_secs_f64();
    assert!(
        diff.abs() < 1.0,
        "elapsed {:?} - run_time {:?} = {excluded:?}, but the pause lasted {pause:?}",
        s.elapsed,
        s.run_time
    );
    assert!(has_event(&s, "pause") && has_event(&s, "resume"));
}

/// Stop while paused: the run ends at once and the pause is not counted as run time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_while_paused() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(ServerConfig::new().fallback(Route::ok().delay(ms(20))));
    let started = Instant::now();
    let h = engine::start(plan(&format!(
        r#"
name = "pause-stop"
base_url = "{url}"
[load]
vus = 2
duration = "60s"
[[request]]
path = "/p"
"#,
        url = server.url()
    )));
    tokio::time::sleep(ms(400)).await;
    let paused_at = started.elapsed();
    send(&h, Command::Pause);
    assert!(engine_reaches(&h, ms(5000), |s| s.state == RunState::Paused).await);
    assert!(server.wait_for(ms(2000), |s| s.in_flight() == 0).await);
    tokio::time::sleep(ms(1500)).await;
    let stop = Instant::now();
    send(&h, Command::Stop);
    let s = finish(h).await;
    let took = stop.elapsed();
    check_final(&s);
    assert!(took < ms(3000), "ended {took:?} after Stop");
    assert_eq!(s.total.requests, server.requests());
    assert!(s.partial);
    // The 1.5 s pause is not run time (a late Pause adds a little).
    assert!(
        s.run_time < paused_at + ms(1000),
        "run_time {:?} includes the pause (elapsed {:?})",
        s.run_time,
        s.elapsed
    );
}

/// Spike x3 for 5 s on 2 VUs: 6 requests at once, then back to 2 by itself. (5 s: the
/// wait for 6 in flight must fall inside the spike on a loaded machine too.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spike_and_return() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(ServerConfig::new().fallback(Route::ok().delay(ms(200))));
    let h = engine::start(plan(&format!(
        r#"
name = "spike"
base_url = "{url}"
[load]
vus = 2
duration = "30s"
[[request]]
path = "/s"
"#,
        url = server.url()
    )));
    assert!(server.wait_for(ms(3000), |s| s.requests() >= 4).await);
    assert!(server.max_in_flight() <= 2);

    let spiked = Instant::now();
    send(
        &h,
        Command::Spike(Spike {
            change: SpikeChange::Times(3.0),
            duration: ms(5000),
        }),
    );
    assert!(
        server.wait_for(ms(4500), |s| s.max_in_flight() >= 6).await,
        "the spike never reached 6 in flight (max {})",
        server.max_in_flight()
    );
    assert_eq!(server.max_in_flight(), 6, "2 VUs x3");

    // The spike ends 5 s after it began; the extra VUs finish their 200 ms request and
    // end (a VU counts as active until its task has ended).
    assert!(
        engine_reaches(&h, ms(12000), |s| has_event(s, "spike_end")
            && s.vus_active == 2)
        .await,
        "the spike did not end: {} VUs active",
        h.snapshots.borrow().vus_active
    );
    assert!(spiked.elapsed() >= ms(5000), "the spike ended early");
    assert!(
        server.wait_for(ms(2000), |s| s.in_flight() <= 2).await,
        "still {} in flight after the spike",
        server.in_flight()
    );
    server.reset_max();
    tokio::time::sleep(ms(700)).await;
    let max = server.max_in_flight();
    assert!(max <= 2 && max > 0, "max in flight {max} after the spike");

    send(&h, Command::Stop);
    let s = finish(h).await;
    check_final(&s);
    assert_eq!(server.peak_in_flight(), 6);
    assert_eq!(s.total.requests, server.requests());
    assert_eq!(s.vus_target, 2);
    assert!(has_event(&s, "spike"), "events: {:?}", event_kinds(&s));
    assert!(has_event(&s, "spike_end"), "events: {:?}", event_kinds(&s));
}

/// Pausing during a spike stops the spike's clock with the run clock: it keeps its time
/// left through the pause, and a spike started while paused does not run down until the
/// resume. The events say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_spike_keeps_its_time_left() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(ServerConfig::new().fallback(Route::ok().delay(ms(20))));
    let h = engine::start(plan(&format!(
        r#"
name = "spike-pause"
base_url = "{url}"
[load]
vus = 1
duration = "30s"
[[request]]
path = "/s"
"#,
        url = server.url()
    )));
    assert!(server.wait_for(ms(3000), |s| s.requests() >= 2).await);
    let spike = |secs: u64| {
        Command::Spike(Spike {
            change: SpikeChange::Times(2.0),
            duration: ms(secs * 1000),
        })
    };
    let remaining = |h: &EngineHandle| h.snapshots.borrow().spike.as_ref().map(|s| s.remaining);

    send(&h, spike(2));
    send(&h, Command::Pause);
    assert!(
        engine_reaches(&h, ms(3000), |s| s.state == RunState::Paused
            && s.spike.is_some())
        .await,
        "never paused with the spike on"
    );
    let held = remaining(&h).expect("the spike is on");
    // Longer than the whole spike: a spike clock that ran on would have ended it.
    tokio::time::sleep(ms(2500)).await;
    assert_eq!(remaining(&h), Some(held), "the spike ran down while paused");
    assert!(!has_event(&h.snapshots.borrow(), "spike_end"));

    send(&h, Command::Resume);
    assert!(
        engine_reaches(&h, ms(6000), |s| has_event(s, "spike_end")).await,
        "the spike did not end after the resume"
    );

    // A spike started while paused waits for the resume.
    send(&h, Command::Pause);
    assert!(engine_reaches(&h, ms(3000), |s| s.state == RunState::Paused).await);
    send(&h, spike(1));
    assert!(engine_reaches(&h, ms(3000), |s| s.spike.is_some()).await);
    tokio::time::sleep(ms(1500)).await;
    assert_eq!(
        remaining(&h),
        Some(ms(1000)),
        "it ran down before the resume"
    );
    let before = server.requests();
    send(&h, Command::Resume);
    assert!(
        engine_reaches(&h, ms(6000), |s| s
            .events
            .iter()
            .filter(|e| e.kind == "spike_end")
            .count()
            == 2)
        .await,
        "the second spike did not end after the resume"
    );
    assert!(server.requests() > before, "the spike sent no request");

    send(&h, Command::Stop);
    let s = finish(h).await;
    check_final(&s);
    let detail = |kind: &str| -> Vec<String> {
        s.events
            .iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.detail.clone())
            .collect()
    };
    assert!(
        detail("pause")[0].contains("spike x2 for 2s held with"),
        "{:?}",
        detail("pause")
    );
    assert!(
        detail("resume")[0].contains("spike x2 for 2s runs again with"),
        "{:?}",
        detail("resume")
    );
    assert!(
        detail("spike")[1].contains("its clock starts on resume"),
        "{:?}",
        detail("spike")
    );
}

/// Start-up is reported apart from run time: the run clock starts when the first VU
/// starts, start-up lasts until every VU of the initial load started, and the planned
/// duration is counted on the run clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_is_reported_apart_from_run_time() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(ServerConfig::new().fallback(Route::ok().delay(ms(5))));
    let vus = 400;
    let h = engine::start(plan(&format!(
        r#"
name = "startup"
base_url = "{url}"
[load]
vus = {vus}
duration = "1s"
[[request]]
path = "/s"
"#,
        url = server.url()
    )));
    let s = finish(h).await;
    check_final(&s);
    let startup = s.startup.expect("start-up reported");
    assert!(
        startup <= s.elapsed,
        "start-up {startup:?}, elapsed {:?}",
        s.elapsed
    );
    // The run clock did not count what came before the first VU.
    assert!(
        s.run_time < s.elapsed,
        "run {:?}, wall {:?}",
        s.run_time,
        s.elapsed
    );
    assert!(s.run_time >= ms(1000), "ended early: {:?}", s.run_time);
    let doc = volley::report::ResultDoc::from_snapshot(&s, &volley::report::RunInfo::default());
    let ms_doc = doc.startup_ms.expect("startup_ms in the result document");
    assert!((ms_doc - startup.as_secs_f64() * 1000.0).abs() < 0.01);
    let mut text = Vec::new();
    volley::report::write_summary(&doc, &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("start-up "), "{text}");
}

/// A manual SetVus during a spike is the level the spike returns to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_vus_during_spike_is_the_new_base() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(ServerConfig::new().fallback(Route::ok().delay(ms(100))));
    let h = engine::start(plan(&format!(
        r#"
name = "spike-set"
base_url = "{url}"
[load]
vus = 3
duration = "30s"
[[request]]
path = "/s"
"#,
        url = server.url()
    )));
    assert!(server.wait_for(ms(3000), |s| s.requests() >= 3).await);
    send(
        &h,
        Command::Spike(Spike {
            change: SpikeChange::Plus(2),
            duration: ms(5000),
        }),
    );
    // 5 s: the SetVus lands inside the spike on a loaded machine too (checked on the
    // events below).
    assert!(server.wait_for(ms(4000), |s| s.max_in_flight() >= 5).await);
    send(&h, Command::SetVus(1));
    // The spike ends at +5 s; VUs above 1 finish a 100 ms request and end.
    assert!(
        engine_reaches(&h, ms(12000), |s| has_event(s, "spike_end")
            && s.vus_active == 1)
        .await,
        "the spike did not end: {} VUs active",
        h.snapshots.borrow().vus_active
    );
    assert!(server.wait_for(ms(2000), |s| s.in_flight() <= 1).await);
    server.reset_max();
    tokio::time::sleep(ms(500)).await;
    let max = server.max_in_flight();
    assert_eq!(max, 1, "after the spike the run should hold 1 VU");
    send(&h, Command::Stop);
    let s = finish(h).await;
    check_final(&s);
    assert_eq!(s.vus_target, 1);
    assert_eq!(s.total.requests, server.requests());
    // The new base was set during the spike, not after it.
    let kinds = event_kinds(&s);
    let at = |k: &str| kinds.iter().position(|e| e == k);
    assert!(
        at("set_vus").is_some() && at("set_vus") < at("spike_end"),
        "events: {kinds:?}"
    );
}

/// Think time spaces each VU's requests: 2 VUs x 100 ms over 1 s is about 20 requests;
/// never more (the upper bound), and on a loaded machine, where sleeps run long, fewer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn think_time_spaces_requests() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(ServerConfig::new());
    let h = engine::start(plan(&format!(
        r#"
name = "think"
base_url = "{url}"
[load]
vus = 2
duration = "1s"
think_time = "100ms"
[[request]]
path = "/t"
"#,
        url = server.url()
    )));
    let s = finish(h).await;
    check_final(&s);
    let n = s.total.requests;
    assert!((5..=24).contains(&n), "{n} requests");
    assert_eq!(n, server.requests());
    // The requests are spread over the second, not bunched at its start.
    let arrivals = server.arrivals();
    let span = arrivals
        .last()
        .unwrap()
        .duration_since(*arrivals.first().unwrap());
    assert!(span >= ms(500), "{n} requests within {span:?}");
}
