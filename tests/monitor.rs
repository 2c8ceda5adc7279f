//! Target monitor: an in-test exporter serving known values, and exporters that serve
//! garbage, hang or die. Failures are events; the run's own numbers are untouched.

mod support;

use std::time::Duration;

use support::{read_doc, scratch, Reply, Spawned, TestServer};
use volley::demo::{DemoOptions, DemoServer};

/// The `n`th scrape (from 0) serves the gauge `app_queue_depth` = 10 x (n + 1).
fn exposition(n: u64) -> String {
    format!(
        "# HELP app_queue_depth Jobs waiting.\n# TYPE app_queue_depth gauge\n\
         app_queue_depth{{queue=\"main\"}} {}\napp_queue_depth{{queue=\"other\"}} 5\n",
        10 * (n + 1)
    )
}

fn scenario(dir: &std::path::Path, target: &str, monitor: &str, secs: u32) -> String {
    let path = dir.join("s.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"monitored\"\nbase_url = \"{target}\"\n\n[load]\nvus = 2\nduration = \"{secs}s\"\n\n\
             [[request]]\npath = \"/health\"\n\n[monitor]\n{monitor}\n"
        ),
    )
    .expect("write scenario");
    path.display().to_string()
}

/// Starts `volley run FILE --headless --out json=DIR/r.json`; returns it and the path.
fn start_run(dir: &std::path::Path, file: &str) -> (Spawned, std::path::PathBuf) {
    let result = dir.join("r.json");
    let out = format!("json={}", result.display());
    (
        Spawned::start(&["run", file, "--headless", "--out", &out], &[]),
        result,
    )
}

fn values(doc: &serde_json::Value) -> Vec<Option<f64>> {
    doc["monitor"]["rows"]
        .as_array()
        .expect("monitor.rows")
        .iter()
        .map(|r| r["values"][0].as_f64())
        .collect()
}

#[test]
fn the_series_equal_what_the_exporter_served() {
    let demo = DemoServer::spawn(DemoOptions::default()).expect("demo target");
    let exporter = TestServer::answering(|n, _| Reply::ok().body(exposition(n)));
    let dir = scratch("monitor-known");
    let file = scenario(
        &dir,
        &demo.url(),
        &format!(
            "prometheus = \"{}/metrics\"\nseries = ['app_queue_depth{{queue=\"main\"}}', \"app_queue_depth\"]",
            exporter.url()
        ),
        4,
    );
    let (r, result) = start_run(&dir, &file);
    let r = r.finish(Duration::from_secs(60));
    assert_eq!(r.code(), Some(0), "{r:?}");
    let doc = read_doc(&result);
    let served = exporter.requests();
    let got = values(&doc);
    assert!(got.len() >= 3, "{:#}", doc["monitor"]);
    // Scrape n served 10 x (n + 1); every scrape is in the result, in order.
    let want: Vec<Option<f64>> = (0..got.len() as u64)
        .map(|n| Some(10.0 * (n + 1) as f64))
        .collect();
    assert_eq!(got, want);
    assert!(served >= got.len() as u64);
    // The second series sums both queues.
    let sums: Vec<Option<f64>> = doc["monitor"]["rows"]
        .as_array()
        .map(|rows| rows.iter().map(|r| r["values"][1].as_f64()).collect())
        .unwrap_or_default();
    assert_eq!(sums[0], Some(15.0));
    assert_eq!(doc["monitor"]["failures"], 0);
    assert_eq!(doc["monitor"]["summary"][0]["min"], 10.0);
    assert!(
        r.stdout
            .contains("app_queue_depth{queue=\"main\"}  min 10.00"),
        "{}",
        r.stdout
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn garbage_a_hang_and_a_dead_exporter_are_events_and_the_run_is_unaffected() {
    let demo = DemoServer::spawn(DemoOptions::default()).expect("demo target");
    // Scrape 0 is good, 1 is garbage, 2 hangs past the scrape timeout, then good again.
    let exporter = TestServer::answering(|n, _| match n {
        1 => Reply::ok().body("<html>not metrics</html>"),
        2 => Reply::ok()
            .delay(Duration::from_secs(3))
            .body(exposition(n)),
        _ => Reply::ok().body(exposition(n)),
    });
    let dir = scratch("monitor-bad");
    let file = scenario(
        &dir,
        &demo.url(),
        &format!(
            "prometheus = \"{}/metrics\"\nseries = [\"app_queue_depth\"]",
            exporter.url()
        ),
        6,
    );
    let (run, result) = start_run(&dir, &file);
    // Kill the exporter once it has answered its fifth scrape: the rest are refused.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while exporter.requests() < 5 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(exporter);
    let r = run.finish(Duration::from_secs(60));
    assert_eq!(r.code(), Some(0), "{r:?}");
    let doc = read_doc(&result);
    let got = values(&doc);
    assert_eq!(got[0], Some(15.0), "{got:?}");
    assert_eq!(got[1], None, "garbage: {got:?}");
    assert_eq!(got[2], None, "hang: {got:?}");
    assert!(
        got.iter().skip(3).any(Option::is_some),
        "recovered: {got:?}"
    );
    assert_eq!(
        got.last().copied().flatten(),
        None,
        "dead at the end: {got:?}"
    );
    assert!(doc["monitor"]["failures"].as_u64().unwrap_or(0) >= 3);
    let events: Vec<String> = doc["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "monitor")
        .map(|e| e["detail"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e.contains("not the Prometheus text format")),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e.contains("scraping again")),
        "{events:?}"
    );
    assert!(
        events.iter().any(|e| e.contains("cannot connect")),
        "{events:?}"
    );
    // The load itself never noticed.
    assert_eq!(doc["totals"]["errors"], 0);
    assert!(doc["totals"]["requests"].as_u64().unwrap_or(0) > 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn monitor_flag_and_section_are_checked_before_anything_runs() {
    let dir = scratch("monitor-bad-input");
    for (monitor, expect) in [
        ("pid = 1\nprocess = \"x\"", "give one source"),
        ("prometheus = \"ftp://x/metrics\"", "is not an http(s) URL"),
        (
            "prometheus = \"http://127.0.0.1:9/metrics\"\nseries = [\"1bad\"]",
            "metric name",
        ),
        ("url = \"http://127.0.0.1:9/metrics\"", "unknown key 'url'"),
    ] {
        let file = scenario(&dir, "http://127.0.0.1:9", monitor, 1);
        let r = support::run(&["check", &file], Duration::from_secs(30));
        assert_eq!(r.code(), Some(2), "{monitor}: {r:?}");
        assert!(r.stderr.contains(expect), "{monitor}: {}", r.stderr);
    }
    let r = support::run(
        &[
            "http://127.0.0.1:9/",
            "-n",
            "1",
            "--headless",
            "--monitor",
            "pid:zero",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(r.code(), Some(2), "{r:?}");
    assert!(r.stderr.contains("pid:N"), "{}", r.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_local_process_by_pid() {
    let demo = DemoServer::spawn(DemoOptions::default()).expect("demo target");
    let dir = scratch("monitor-pid");
    // The test process itself (it serves the demo target, so it has a pulse).
    let file = scenario(
        &dir,
        &demo.url(),
        &format!("pid = {}", std::process::id()),
        3,
    );
    let (r, result) = start_run(&dir, &file);
    let r = r.finish(Duration::from_secs(60));
    assert_eq!(r.code(), Some(0), "{r:?}");
    let doc = read_doc(&result);
    assert_eq!(
        doc["monitor"]["series"],
        serde_json::json!(["cpu_pct", "rss_bytes"])
    );
    let rss: Vec<f64> = doc["monitor"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["values"][1].as_f64())
        .collect();
    assert!(
        !rss.is_empty() && rss.iter().all(|v| *v > 0.0),
        "{:#}",
        doc["monitor"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
