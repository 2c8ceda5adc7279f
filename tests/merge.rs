//! `volley merge`: the documents of several parts of one run merge into the run's document
//! exactly: counts add up to what the server saw, and every percentile is the one of the
//! union of the parts' histograms.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::{Route, ServerConfig, TestServer};
use volley::metrics::{new_histogram, new_phase_histogram, TimelineRow};
use volley::report::{latency_of, ResultDoc};

fn volley() -> Command {
    Command::new(env!("CARGO_BIN_EXE_volley"))
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("volley-merge-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A server with the scenario's two paths, `/slow` answering after `slow`.
fn server(slow: Duration) -> TestServer {
    TestServer::start(
        ServerConfig::new()
            .route("/fast", Route::ok())
            .route("/slow", Route::ok().delay(slow)),
    )
}

fn scenario(dir: &Path, url: &str, name: &str, iterations: u64) -> PathBuf {
    let p = dir.join(format!("{name}-{iterations}.toml"));
    std::fs::write(
        &p,
        format!(
            r#"name = "{name}"
base_url = "{url}"
thresholds = ["p95 < 5s", "error_rate < 60%", "p99 < 5s over 2s", "mean < 5s"]

[load]
vus = 2
iterations = {iterations}

[[request]]
name = "fast"
path = "/fast"

[[request]]
name = "slow"
path = "/slow"
check = [{{ status = 200 }}]
"#
        ),
    )
    .unwrap();
    p
}

/// Runs one part; `rows` keeps every row's histogram (as `--out hdr=` does).
fn run_part(scenario: &Path, out: &Path, rows: bool) {
    let mut cmd = volley();
    cmd.arg("run")
        .arg(scenario)
        .arg("--headless")
        .arg("--out")
        .arg(format!("json={}", out.display()));
    if rows {
        cmd.arg("--out")
            .arg(format!("hdr={}", out.with_extension("hdr").display()));
    }
    let o = cmd.output().unwrap();
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(99),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn read(p: &Path) -> ResultDoc {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn hist(enc: &Option<String>) -> hdrhistogram::Histogram<u64> {
    enc.as_deref()
        .map(|e| TimelineRow::decode_hist(e).unwrap())
        .unwrap_or_else(new_histogram)
}

#[test]
fn merged_parts_are_the_union_of_their_histograms_and_the_servers_count() {
    let srv = server(Duration::from_millis(3));
    let d = dir("union");
    let mut files = Vec::new();
    for (i, n) in [40u64, 25, 31].iter().enumerate() {
        let out = d.join(format!("part{i}.json"));
        run_part(&scenario(&d, &srv.url(), "fleet", *n), &out, i > 0);
        files.push(out);
    }
    let merged = d.join("all.json");
    let o = volley()
        .arg("merge")
        .args(&files)
        .arg("--out")
        .arg(format!("json={}", merged.display()))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let parts: Vec<ResultDoc> = files.iter().map(|f| read(f)).collect();
    let all = read(&merged);

    // Counts: the server saw every request the parts sent, and the merge counts them all.
    assert_eq!(all.totals.requests, srv.requests());
    // Without a flow every iteration sends one of the requests.
    assert_eq!(all.totals.requests, 40 + 25 + 31);
    for (i, ep) in all.endpoints.iter().enumerate() {
        let sum: u64 = parts.iter().map(|p| p.endpoints[i].requests).sum();
        assert_eq!(ep.requests, sum, "{}", ep.name);
        assert_eq!(ep.requests, srv.count(&format!("/{}", ep.name)));
        let ok: u64 = parts.iter().map(|p| p.endpoints[i].ok).sum();
        assert_eq!(ep.ok, ok);
    }
    // Percentiles: those of the union of the parts' histograms, exactly.
    let mut union = new_histogram();
    for p in &parts {
        union.add(hist(&p.totals.hdr)).unwrap();
    }
    assert_eq!(all.totals.latency_ms, latency_of(&union));
    assert_eq!(all.totals.latency_ms.count, all.totals.requests);
    for (i, ep) in all.endpoints.iter().enumerate() {
        let mut u = new_histogram();
        for p in &parts {
            u.add(hist(&p.endpoints[i].hdr)).unwrap();
        }
        assert_eq!(ep.latency_ms, latency_of(&u), "{}", ep.name);
    }
    // Phases (the h1 client measures them) merge from their histograms too.
    let ttfb = |d: &ResultDoc| d.totals.phases_ms.as_ref().map(|p| p.hdr.ttfb.clone());
    // (Phase histograms have fewer significant digits than the latency's: the union is
    // of their kind.)
    let mut u = new_phase_histogram();
    for p in &parts {
        u.add(hist(&ttfb(p).expect("phases recorded"))).unwrap();
    }
    assert_eq!(all.totals.phases_ms.as_ref().unwrap().ttfb, latency_of(&u));
    // Thresholds are judged again on the merged data: the same expressions, the merged
    // values.
    assert_eq!(all.thresholds.len(), 4);
    let p95 = all
        .thresholds
        .iter()
        .find(|t| t.expression == "p95 < 5s")
        .unwrap();
    assert_eq!(p95.value, all.totals.latency_ms.p95);
    assert!(p95.passed);
    let mean = all
        .thresholds
        .iter()
        .find(|t| t.expression == "mean < 5s")
        .unwrap();
    assert!((mean.value - all.totals.latency_ms.mean).abs() < 0.001);
    // The first part has no per-row histograms: the windowed threshold is the parts'
    // verdict, without a value.
    let windowed = all
        .thresholds
        .iter()
        .find(|t| t.expression.ends_with("over 2s"))
        .unwrap();
    assert!(windowed.value.is_nan() && windowed.passed);
    // Checks add.
    let passes: u64 = parts.iter().map(|p| p.checks[0].passes).sum();
    assert_eq!(all.checks[0].passes, passes);
    // The timeline's rows add up to the totals.
    assert_eq!(
        all.timeline.iter().map(|r| r.requests).sum::<u64>(),
        all.totals.requests
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn one_part_merges_into_itself() {
    let srv = server(Duration::ZERO);
    let d = dir("one");
    let part = d.join("part.json");
    run_part(&scenario(&d, &srv.url(), "solo", 30), &part, true);
    let merged = d.join("all.json");
    let o = volley()
        .args(["merge", part.to_str().unwrap(), "--out"])
        .arg(format!("json={}", merged.display()))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (a, b) = (read(&part), read(&merged));
    // Throughput is requests over the document's duration, which the document keeps to
    // the millisecond: everything else is the same to the last digit.
    assert_eq!(a.duration_s, b.duration_s);
    let same = |x: &volley::report::Stats, y: &volley::report::Stats| {
        assert_eq!(y.rps, y.requests as f64 / b.duration_s);
        assert_eq!(
            volley::report::Stats {
                rps: 0.0,
                ..x.clone()
            },
            volley::report::Stats {
                rps: 0.0,
                ..y.clone()
            }
        );
    };
    same(&a.totals, &b.totals);
    for (x, y) in a.endpoints.iter().zip(&b.endpoints) {
        same(x, y);
    }
    assert_eq!(a.timeline, b.timeline);
    assert_eq!(a.checks, b.checks);
    assert_eq!(a.thresholds, b.thresholds);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn parts_of_different_runs_are_refused_with_exit_2() {
    let srv = server(Duration::ZERO);
    let d = dir("different");
    let (a, b) = (d.join("a.json"), d.join("b.json"));
    run_part(&scenario(&d, &srv.url(), "one", 3), &a, false);
    run_part(&scenario(&d, &srv.url(), "other", 3), &b, false);
    let o = volley().arg("merge").args([&a, &b]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("b.json is not a part of the same run: its scenario is 'other', not 'one'"),
        "{err}"
    );
    let not_json = d.join("x.json");
    std::fs::write(&not_json, "{}").unwrap();
    let o = volley()
        .arg("merge")
        .args([&a, &not_json])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&d);
}
