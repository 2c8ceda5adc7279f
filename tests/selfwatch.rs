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
    let scenario = dir.join("s.toml");
    std::fs::write(
        &scenario,
        format!(
            "name = \"selfwatch\"\nbase_url = \"{}\"\n\n[load]\nvus = 2\nduration = \"3s\"\n\n\
             [[request]]\npath = \"/api/items\"\n\n[[threshold]]\nexpr = \"generator_cpu <= 100%\"\n",
            server.url()
        ),
    )
    .expect("write scenario");
    let result = dir.join("r.json");
    let r = run(
        &[
            "run",
            &scenario.display().to_string(),
            "--headless",
            "--out",
            &format!("json={}", result.display()),
        ],
        Duration::from_secs(60),
    );
    assert_eq!(r.code(), Some(0), "{r:?}");
    let doc = read_doc(&result);
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
