//! Self-watch: the result document carries the generator's own figures a second, the
//! summary prints them, and a `generator_cpu` threshold is judged on them.

mod support;

use std::time::Duration;

use support::{read_doc, run, scratch};
use volley::demo::{DemoOptions, DemoServer};

#[test]
fn a_run_records_the_generator_and_judges_generator_cpu() {
    let server = DemoServer::spawn(DemoOptions::default()).expect("demo target");
    let dir = scratch("selfwatch");
    let (r, doc) = support::run_scenario(
        &dir,
        &format!(
            "name = \"selfwatch\"\nbase_url = \"{}\"\n\n[load]\nvus = 2\nduration = \"3s\"\n\n\
             [[request]]\npath = \"/api/items\"\n\n[[threshold]]\nexpr = \"generator_cpu <= 100%\"\n",
            server.url()
        ),
    );
    let g = &doc["generator"];
    let series = g["series"].as_array().expect("generator.series");
    assert!(series.len() >= 2, "{g:#}");
    for s in series {
        assert!(s["rss_bytes"].as_u64().unwrap_or(0) > 0, "{s}");
        assert!(s["fds"].as_u64().unwrap_or(0) > 0, "{s}");
        assert!(s["lag_p99_ms"].as_f64().is_some_and(|v| v >= 0.0), "{s}");
    }
    // Seconds are numbered like the timeline's.
    let ts: Vec<u64> = series.iter().filter_map(|s| s["t"].as_u64()).collect();
    assert!(ts.windows(2).all(|w| w[1] > w[0]) && ts[0] <= 1, "{ts:?}");
    assert!(g["generator_bottleneck"].is_boolean());
    assert_eq!(g["capacity_cores"], 1.0);
    let max = g["summary"]["rss_bytes"]["max"].as_f64().unwrap_or(0.0);
    assert!(max > 0.0, "{g:#}");

    let t = &doc["thresholds"][0];
    assert_eq!(t["metric"], "generator_cpu", "{t}");
    assert!(t["value"].as_f64().is_some_and(|v| v >= 0.0), "{t}");
    assert_eq!(t["passed"], true);
    assert!(r.stdout.contains("  generator  CPU "), "{}", r.stdout);
    let _ = std::fs::remove_dir_all(&dir);
}

/// An open-model plan: `rate` iterations a second of one GET `base` + `path` on at most
/// `max_vus`.
fn open_plan(base: &str, path: &str, rate: u32, max_vus: u32, secs: u32) -> volley::scenario::Plan {
    volley::scenario::parse(
        std::path::Path::new("open.toml"),
        &format!(
            "name = \"open\"\nbase_url = \"{base}\"\n\n[load]\nmodel = \"open\"\nrate = \"{rate}/s\"\n\
             max_vus = {max_vus}\nduration = \"{secs}s\"\n\n[[request]]\npath = \"{path}\"\n"
        ),
    )
    .expect("scenario parses")
}

/// An open model whose runtime is blocked 120 ms at a time (a stand-in for an overloaded
/// generator): iterations start well behind schedule although VUs are free, and self-watch
/// records it as arrival lag and calls volley the bottleneck. The target is fast and on its
/// own thread.
#[tokio::test(flavor = "current_thread")]
async fn an_overloaded_open_model_records_arrival_lag() {
    let server = DemoServer::spawn(DemoOptions::default()).expect("demo target");
    let plan = open_plan(&server.url(), "/health", 100, 50, 5);
    let handle = volley::engine::start(plan);
    let blocker = tokio::spawn(async {
        // Bounded: at most 40 x 150 ms, and aborted when the run ends.
        for _ in 0..40 {
            std::thread::sleep(Duration::from_millis(120));
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    });
    let snap = tokio::time::timeout(Duration::from_secs(60), handle.wait())
        .await
        .expect("the run ends");
    blocker.abort();
    let g = &snap.generator;
    let lags: Vec<Option<f64>> = g.samples.iter().map(|s| s.arrival_lag_ms).collect();
    assert!(lags.len() >= 3, "{g:?}");
    let worst = lags.iter().flatten().copied().fold(0.0, f64::max);
    assert!(
        worst >= 50.0,
        "arrivals blocked 120 ms at a time, worst lag p99 {worst} ms: {lags:?}"
    );
    let verdict = g.bottleneck.as_ref().expect("volley is the bottleneck");
    assert!(
        verdict.reason.contains("arrivals start") || verdict.reason.contains("lag"),
        "{}",
        verdict.reason
    );
    assert!(snap.total.requests > 0);
}

/// The closed model has no schedule: no arrival lag in its series or its document.
#[test]
fn the_closed_model_has_no_arrival_lag() {
    let server = DemoServer::spawn(DemoOptions::default()).expect("demo target");
    let (_, doc) = quick_run(&server, "selfwatch-closed", &["-c", "2"]);
    let series = doc["generator"]["series"].as_array().expect("series");
    assert!(!series.is_empty());
    assert!(
        series.iter().all(|s| s.get("arrival_lag_ms").is_none()),
        "{series:?}"
    );
}

/// A slow target keeps every VU busy: iterations wait for a free VU (and are dropped past
/// 1 s), which is the target's doing. The arrival lag leaves that wait out, so it stays far
/// below the second-long waits and makes no verdict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_a_busy_vu_is_not_arrival_lag() {
    let slow = support::TestServer::answering(|_, _| {
        support::Reply::ok()
            .delay(Duration::from_millis(300))
            .body("slow")
    });
    let plan = open_plan(&slow.url(), "/", 40, 2, 4);
    let snap = tokio::time::timeout(Duration::from_secs(60), volley::engine::start(plan).wait())
        .await
        .expect("the run ends");
    let lags: Vec<f64> = snap
        .generator
        .samples
        .iter()
        .filter_map(|s| s.arrival_lag_ms)
        .collect();
    assert!(!lags.is_empty(), "iterations started");
    let worst = lags.iter().copied().fold(0.0, f64::max);
    assert!(worst < 300.0, "VU waits counted as lag: {lags:?}");
    assert!(snap.dropped > 0, "the slow target did keep every VU busy");
}

/// `--no-self-watch` (for bench/compare.sh MODE=selfwatch) leaves the sampler out.
#[test]
fn no_self_watch_leaves_the_generator_out() {
    let server = DemoServer::spawn(DemoOptions::default()).expect("demo target");
    let (r, doc) = quick_run(&server, "selfwatch-off", &["-c", "1", "--no-self-watch"]);
    assert!(doc.get("generator").is_none(), "{:#}", doc["generator"]);
    assert!(doc["totals"]["requests"].as_u64().unwrap_or(0) > 0);
    assert!(!r.stdout.contains("  generator  "), "{}", r.stdout);
}

/// `volley URL -d 2s --headless ARGS --out json=...` on the demo target's /health.
fn quick_run(server: &DemoServer, name: &str, args: &[&str]) -> (support::Run, serde_json::Value) {
    let dir = scratch(name);
    let result = dir.join("r.json");
    let url = format!("{}/health", server.url());
    let out = format!("json={}", result.display());
    let mut all = vec![url.as_str(), "-d", "2s", "--headless", "--out", &out];
    all.extend_from_slice(args);
    let r = run(&all, Duration::from_secs(60));
    assert_eq!(r.code(), Some(0), "{r:?}");
    let doc = read_doc(&result);
    let _ = std::fs::remove_dir_all(&dir);
    (r, doc)
}
