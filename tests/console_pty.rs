//! End to end: the binary in a pseudo-terminal, steered by keys, checked against what the
//! server saw.

mod support;

use std::time::{Duration, Instant};

use support::{eventually, read_doc, scratch, PtyChild};
use volley::demo::{DemoOptions, DemoServer};

/// The most requests in flight at the server over `window`, sampled often.
fn max_in_flight(server: &DemoServer, window: Duration) -> u64 {
    let start = Instant::now();
    let mut max = 0;
    while start.elapsed() < window {
        max = max.max(server.stats.in_flight());
        std::thread::sleep(Duration::from_millis(5));
    }
    max
}

#[test]
fn keys_steer_a_live_run_and_results_match_the_server() {
    let server = DemoServer::spawn(DemoOptions {
        search_latency: Duration::from_millis(100),
        ..DemoOptions::default()
    })
    .unwrap();
    let dir = std::env::temp_dir().join(format!("volley-pty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("search.toml");
    std::fs::write(
        &scenario,
        format!(
            "name = \"pty\"\nbase_url = \"{}\"\n[load]\nvus = 4\nduration = \"60s\"\n\
             [[request]]\nname = \"search\"\npath = \"/api/search?q=x\"\n",
            server.url()
        ),
    )
    .unwrap();
    let json = dir.join("out.json");
    let mut vt = PtyChild::spawn(
        &[
            "run",
            scenario.to_str().unwrap(),
            "--out",
            &format!("json={}", json.display()),
            "--fps",
            "20",
        ],
        &[],
        80,
        24,
    );

    // The console is up and load flows at 4 VUs.
    assert!(
        eventually(Duration::from_secs(10), || vt.text().contains("RUNNING")),
        "{}",
        vt.text()
    );
    assert!(eventually(Duration::from_secs(5), || server
        .stats
        .in_flight()
        == 4));
    assert!(max_in_flight(&server, Duration::from_millis(500)) <= 4);

    // Pause: nothing new reaches the server until resume.
    vt.keys("p");
    assert!(eventually(Duration::from_secs(5), || vt
        .text()
        .contains("PAUSED")));
    assert!(eventually(Duration::from_secs(5), || server
        .stats
        .in_flight()
        == 0));
    let before = server.stats.total();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        server.stats.total(),
        before,
        "requests arrived while paused"
    );
    vt.keys("p");
    assert!(eventually(Duration::from_secs(5), || server.stats.total() > before));

    // Type an exact VU count: concurrency follows it.
    vt.keys("v\x152\r");
    // Retired VUs finish their in-flight request (search is long-tailed, capped at 1 s)
    // and end; until then the header shows "VUs 4 → 2", then "VUs 2  rps". (The server's
    // in-flight count alone can dip to 2 between requests before the command lands.)
    let header_shows_within = |vt: &PtyChild, limit: Duration, f: &dyn Fn(&str) -> bool| {
        eventually(limit, || {
            let screen = vt.screen();
            f(screen.lines().next().unwrap_or(""))
        })
    };
    let header_shows = |vt: &PtyChild, f: &dyn Fn(&str) -> bool| {
        header_shows_within(vt, Duration::from_secs(10), f)
    };
    // Exactly 2 active and no change pending ("VUs 2 → 6" would also contain "VUs 2 ").
    let settled_at_2 = |h: &str| h.contains("VUs 2  rps") && !h.contains("SPIKE");
    assert!(header_shows(&vt, &settled_at_2), "{}", vt.screen());
    assert!(eventually(Duration::from_secs(3), || server
        .stats
        .in_flight()
        <= 2));
    let m = max_in_flight(&server, Duration::from_millis(800));
    assert!(
        (1..=2).contains(&m),
        "max in flight {m} after setting 2 VUs"
    );

    // Spike x3 for 5s: concurrency rises to 6, then returns to 2 by itself. (Long enough
    // for a loaded machine to show it; the server's high-water mark catches the rise
    // between two polls. Until now there were never more than 4 in flight.)
    assert!(server.stats.max_in_flight() <= 4);
    vt.keys("S\x15x3 5s\r");
    assert!(
        eventually(Duration::from_secs(5), || server.stats.max_in_flight() >= 5),
        "the spike did not raise concurrency"
    );
    // The engine's spike reaches the screen (the state reads SPIKE); it ends 5 s after it
    // began, its VUs finish their last request (<= 1 s) and end: the header is back to
    // "VUs 2" with no spike.
    assert!(
        header_shows(&vt, &|h: &str| h.contains("SPIKE")),
        "{}",
        vt.screen()
    );
    assert!(
        header_shows_within(&vt, Duration::from_secs(20), &settled_at_2),
        "{}",
        vt.screen()
    );
    // Never more than the spike's 6 VUs at once.
    let peak = server.stats.max_in_flight();
    assert!(peak <= 6, "{peak} in flight at once, the spike is 6 VUs");
    assert!(
        eventually(Duration::from_secs(3), || server.stats.in_flight() <= 2),
        "concurrency did not return after the spike"
    );
    let m = max_in_flight(&server, Duration::from_millis(600));
    assert!(m <= 2, "max in flight {m} after the spike ended");

    // Quit: drain, restore the terminal, print the summary, write the JSON.
    vt.keys("q");
    let status = vt
        .wait_exit(Duration::from_secs(10))
        .expect("volley did not exit");
    assert!(status.success(), "{status:?}\n{}", vt.text());
    std::thread::sleep(Duration::from_millis(200));
    let text = vt.text();
    assert!(text.contains("\x1b[?1049l"), "alternate screen not left");
    assert!(text.contains("requests "), "no summary: {text}");

    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let reported = doc["totals"]["requests"].as_u64().unwrap();
    assert_eq!(reported, server.stats.route_count("search"));
    assert_eq!(reported, server.stats.total());
    assert_eq!(doc["totals"]["errors"].as_u64(), Some(0));
    let kinds: Vec<&str> = doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in ["pause", "resume", "set_vus", "spike", "spike_end", "stop"] {
        assert!(kinds.contains(&k), "event {k} missing from {kinds:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn terminal_too_small_then_quit_restores() {
    let server = DemoServer::spawn(DemoOptions::default()).unwrap();
    let url = format!("{}/health", server.url());
    let mut vt = PtyChild::spawn(&[&url, "-c", "2", "-d", "30s"], &[], 60, 20);
    assert!(
        eventually(Duration::from_secs(10), || vt
            .text()
            .contains("terminal too small")),
        "{}",
        vt.text()
    );
    vt.keys("q");
    let status = vt
        .wait_exit(Duration::from_secs(10))
        .expect("volley did not exit");
    assert!(status.success());
    assert!(vt.text().contains("\x1b[?1049l"));
    assert!(vt.text().contains("STOPPED EARLY"));
}

/// `volley demo` (the default scenario) streams tokens and chats: its console shows the
/// token stream's time to first byte and gaps, and the chat's reply latency, under their
/// rows; the run's document has them too.
#[test]
fn the_default_demo_shows_streaming_endpoints_with_ttfb_and_gaps() {
    let dir = scratch("pty-demo-streams");
    let json = dir.join("out.json");
    let mut vt = PtyChild::spawn(
        &[
            "demo",
            "--vus",
            "4",
            "--duration",
            "30s",
            "--out",
            &format!("json={}", json.display()),
            "--fps",
            "20",
        ],
        &[],
        120,
        40,
    );
    let shown = eventually(Duration::from_secs(25), || {
        let s = vt.screen();
        s.contains("token stream")
            && s.contains("↳ ttfb")
            && s.contains("↳ gap")
            && s.contains("↳ expect")
    });
    assert!(shown, "{}", vt.screen());
    vt.keys("q");
    let status = vt
        .wait_exit(Duration::from_secs(15))
        .expect("volley did not exit");
    assert!(status.success(), "{status:?}");
    let doc = read_doc(&json);
    let eps = doc["endpoints"].as_array().unwrap();
    let ep = |name: &str| {
        eps.iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no {name}: {doc}"))
    };
    let s = &ep("token stream")["stream"];
    assert!(s["responses"].as_u64().unwrap() > 0, "{s}");
    assert!(s["ttfb_ms"]["count"].as_u64().unwrap() > 0, "{s}");
    assert!(s["gap_ms"]["count"].as_u64().unwrap() > 0, "{s}");
    assert!(
        ep("chat socket")["ws"]["expect_ms"]["count"]
            .as_u64()
            .unwrap()
            > 0
    );
}
