//! Reports and exports: every output rendered from a run's result document agrees with
//! it (counts and percentiles), HDR logs decode to the same histograms, the Prometheus
//! endpoint serves valid text during a run, saved documents re-render and compare, and
//! bad or old documents give a clear message with exit 2.
//!
//! Runs go to a test server on 127.0.0.1, are bounded in time, and take the `SERIAL`
//! lock so they never share the cores with each other.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::Histogram;
use support::{Route, ServerConfig, TestServer};
use volley::engine::{self, Command};
use volley::metrics::{new_histogram, push_row, TimelineRow, MAX_TIMELINE_ROWS};
use volley::output::{render, Baseline, OutKind};
use volley::report::{
    parse_doc, CheckResult, Comparison, Grade, GradePart, LoadError, ResultDoc, RunInfo, Stats,
    ThresholdResult, SCHEMA_VERSION,
};

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
const RUN_LIMIT: Duration = Duration::from_secs(40);
const SECRET: &str = "Bearer s3cr3t-t0ken-value";

fn volley() -> Process {
    Process::new(env!("CARGO_BIN_EXE_volley"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/results")
        .join(name)
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("volley-reports-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn out_of(doc: &ResultDoc, kind: OutKind) -> String {
    let mut buf = Vec::new();
    render(doc, kind, None, &mut buf).unwrap();
    String::from_utf8(buf).unwrap()
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// One real run, shared by the tests that only read its document: three endpoints
/// (fast, slow, failing), a secret header, VUs changed, paused and resumed.
fn run_doc() -> &'static ResultDoc {
    static DOC: OnceLock<ResultDoc> = OnceLock::new();
    DOC.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let _serial = SERIAL.lock().await;
            let server = TestServer::start(
                ServerConfig::new()
                    .route("/fast", Route::ok().body(64))
                    .route("/slow", Route::ok().delay(Duration::from_millis(25)))
                    .route("/fail", Route::status(503).delay(Duration::from_millis(2))),
            );
            let toml = format!(
                r#"
name = "report test"
base_url = "{url}"
[headers]
Authorization = "{SECRET}"
[load]
vus = 4
duration = "3s"
[[request]]
name = "fast, list"
path = "/fast"
weight = 5
[[request]]
name = "slow"
path = "/slow"
weight = 2
[[request]]
name = "fail"
path = "/fail"
weight = 1
"#,
                url = server.url()
            );
            let plan = volley::scenario::parse(Path::new("report-test.toml"), &toml).unwrap();
            let info = RunInfo::of(&plan);
            // Keep per-second histograms, as `--out hdr` does.
            let h = engine::start_with(
                plan,
                engine::EngineOptions {
                    interval_histograms: true,
                    ..engine::EngineOptions::default()
                },
            );
            tokio::time::sleep(Duration::from_millis(800)).await;
            h.commands.send(Command::SetVus(8)).unwrap();
            tokio::time::sleep(Duration::from_millis(700)).await;
            h.commands.send(Command::Pause).unwrap();
            tokio::time::sleep(Duration::from_millis(400)).await;
            h.commands.send(Command::Resume).unwrap();
            let snap = tokio::time::timeout(RUN_LIMIT, h.wait())
                .await
                .expect("the run ended in time");
            let mut doc = ResultDoc::from_snapshot(&snap, &info);
            // Thresholds, checks and a grade are filled by other parts of volley; give
            // the renderers some to show.
            doc.thresholds = vec![
                ThresholdResult {
                    name: "p95 < 500ms".into(),
                    metric: "p95".into(),
                    endpoint: None,
                    expression: "p95 < 500ms".into(),
                    value: doc.totals.latency_ms.p95,
                    passed: true,
                },
                ThresholdResult {
                    name: "error_rate < 1%".into(),
                    metric: "error_rate".into(),
                    endpoint: Some("fail".into()),
                    expression: "error_rate < 1%".into(),
                    value: 1.0,
                    passed: false,
                },
            ];
            doc.checks = vec![
                CheckResult {
                    name: "status is 200".into(),
                    endpoint: "fast, list".into(),
                    passes: doc.endpoints[0].ok,
                    fails: 0,
                },
                CheckResult {
                    name: "status is 200".into(),
                    endpoint: "fail".into(),
                    passes: 0,
                    fails: doc.endpoints[2].requests,
                },
            ];
            doc.grade = Some(Grade {
                score: 71.5,
                letter: "C".into(),
                parts: vec![
                    GradePart {
                        name: "latency".into(),
                        score: 92.0,
                        weight: Some(0.5),
                        detail: "p95 against 500ms".into(),
                    },
                    GradePart {
                        name: "errors".into(),
                        score: 51.0,
                        weight: Some(0.5),
                        detail: String::new(),
                    },
                ],
            });
            doc
        })
    })
}

// ---------------------------------------------------------------------------------------
// The document itself.
// ---------------------------------------------------------------------------------------

#[test]
fn the_run_document_is_consistent_and_keeps_no_secret() {
    let doc = run_doc();
    assert_eq!(doc.schema_version, SCHEMA_VERSION);
    assert!(
        doc.totals.requests > 50,
        "too few requests: {}",
        doc.totals.requests
    );
    let sum: u64 = doc.endpoints.iter().map(|e| e.requests).sum();
    assert_eq!(sum, doc.totals.requests);
    for e in &doc.endpoints {
        let rows: u64 = e.timeline.iter().map(|r| r.requests).sum();
        assert_eq!(rows, e.requests, "{}: timeline rows", e.name);
        // The per-second histograms add up to the whole run's.
        let mut all = new_histogram();
        for r in &e.timeline {
            if let Some(h) = r.histogram() {
                all.add(&h).unwrap();
            }
        }
        assert_eq!(all.len(), e.latency_ms.count, "{}", e.name);
        assert_eq!(Some(all.clone()), e.histogram(), "{}", e.name);
        if !all.is_empty() {
            assert_eq!(ms(all.value_at_quantile(0.95)), e.latency_ms.p95);
            assert_eq!(ms(all.max()), e.latency_ms.max);
        }
    }
    let kinds: Vec<&str> = doc.events.iter().map(|e| e.kind.as_str()).collect();
    for k in ["set_vus", "pause", "resume"] {
        assert!(kinds.contains(&k), "no {k} event in {kinds:?}");
    }
    let text = doc.scenario_text.as_deref().expect("scenario text");
    assert!(text.contains("name = \"report test\""), "{text}");
    assert!(text.contains("[redacted]"), "{text}");
    for kind in [
        OutKind::Json,
        OutKind::Csv,
        OutKind::Html,
        OutKind::Hdr,
        OutKind::Junit,
        OutKind::Md,
        OutKind::Txt,
    ] {
        let out = out_of(doc, kind);
        assert!(!out.contains("s3cr3t"), "{kind:?} shows the secret header");
    }
}

#[test]
fn json_round_trips_exactly() {
    let doc = run_doc();
    let text = out_of(doc, OutKind::Json);
    let back = parse_doc(&text).expect("parses back");
    assert_eq!(&back, doc);
    // Optional keys are absent when empty, so older readers see what they expect.
    let mut bare = doc.clone();
    bare.thresholds.clear();
    bare.checks.clear();
    bare.grade = None;
    let v: serde_json::Value = serde_json::from_str(&out_of(&bare, OutKind::Json)).unwrap();
    for k in ["thresholds", "checks", "grade"] {
        assert!(v.get(k).is_none(), "{k} present while empty");
    }
    // A threshold with nothing to measure has no value: JSON null, read back as NaN.
    let mut unjudged = doc.clone();
    unjudged.thresholds[0].value = f64::NAN;
    let back = parse_doc(&out_of(&unjudged, OutKind::Json)).expect("null value loads");
    assert!(back.thresholds[0].value.is_nan());
    assert!(out_of(&unjudged, OutKind::Md).contains("| – |"));
}

// ---------------------------------------------------------------------------------------
// CSV.
// ---------------------------------------------------------------------------------------

/// A minimal RFC 4180 reader (quoted fields, doubled quotes).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    rows
}

#[test]
fn csv_agrees_with_the_document() {
    let doc = run_doc();
    let rows = parse_csv(&out_of(doc, OutKind::Csv));
    let header = &rows[0];
    assert_eq!(header.join(","), volley::report::CSV_COLUMNS.join(","));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (c_t, c_scope, c_ep) = (col("t"), col("scope"), col("endpoint"));
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    let mut n = 0;
    for r in &rows[1..] {
        assert_eq!(r.len(), header.len(), "{r:?}");
        let t: u64 = r[c_t].parse().unwrap();
        let stats: &Stats = if r[c_scope] == "total" {
            &doc.totals
        } else {
            doc.endpoints.iter().find(|e| e.name == r[c_ep]).unwrap()
        };
        let timeline = if r[c_scope] == "total" {
            &doc.timeline
        } else {
            &stats.timeline
        };
        let row = timeline.iter().find(|x| x.t == t).unwrap();
        let f = |name: &str| r[col(name)].parse::<f64>().unwrap();
        assert_eq!(f("requests"), row.requests as f64);
        assert_eq!(f("ok"), row.ok as f64);
        assert_eq!(f("errors"), row.errors as f64);
        assert_eq!(f("rps"), row.rps);
        for (c, v) in [
            ("p50_ms", row.p50_ms),
            ("p90_ms", row.p90_ms),
            ("p95_ms", row.p95_ms),
            ("p99_ms", row.p99_ms),
            ("max_ms", row.max_ms),
        ] {
            assert_eq!(f(c), v, "{c} at {t}s of {}", stats.name);
        }
        assert_eq!(f("vus"), row.vus as f64);
        *seen.entry(r[c_ep].clone()).or_default() += row.requests;
        n += 1;
    }
    assert_eq!(
        n,
        doc.timeline.len()
            + doc
                .endpoints
                .iter()
                .map(|e| e.timeline.len())
                .sum::<usize>()
    );
    assert_eq!(seen["total"], doc.totals.requests);
    for e in &doc.endpoints {
        assert_eq!(seen[&e.name], e.requests, "{}", e.name);
    }
    // The events are on the rows of their second.
    let events: Vec<&String> = rows[1..].iter().map(|r| &r[col("events")]).collect();
    for k in ["set_vus", "pause", "resume"] {
        assert!(events.iter().any(|e| e.contains(k)), "no {k} marker");
    }
}

// ---------------------------------------------------------------------------------------
// HDR interval logs.
// ---------------------------------------------------------------------------------------

fn decode(b64: &str) -> Histogram<u64> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut &bytes[..])
        .unwrap()
}

#[test]
fn hdr_log_decodes_to_the_same_histograms() {
    let doc = run_doc();
    let log = out_of(doc, OutKind::Hdr);
    assert!(log.contains("#[Histogram log format version 1.3]"));
    let mut per_tag: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    let mut intervals = 0;
    let mut saw_start = false;
    for entry in IntervalLogIterator::new(log.as_bytes()) {
        match entry.expect("the log parses") {
            LogEntry::StartTime(_) | LogEntry::BaseTime(_) => saw_start = true,
            LogEntry::Interval(i) => {
                intervals += 1;
                let h = decode(i.encoded_histogram());
                if !h.is_empty() {
                    assert_eq!(i.max(), ms(h.max()), "Interval_Max is max / 1000");
                }
                let tag = i.tag().map(|t| t.as_str().to_string()).unwrap_or_default();
                per_tag
                    .entry(tag)
                    .or_insert_with(new_histogram)
                    .add(&h)
                    .unwrap();
            }
        }
    }
    assert!(saw_start);
    assert_eq!(
        intervals,
        doc.timeline.len()
            + doc
                .endpoints
                .iter()
                .map(|e| e.timeline.len())
                .sum::<usize>()
    );
    let tags = volley::report::hdr_tags(doc);
    assert_eq!(
        tags[0], "fast__list",
        "commas and spaces are not allowed in tags"
    );
    let check = |h: &Histogram<u64>, s: &Stats| {
        assert_eq!(h.len(), s.latency_ms.count, "{}", s.name);
        if s.latency_ms.count > 0 {
            assert_eq!(
                ms(h.value_at_quantile(0.50)),
                s.latency_ms.p50,
                "{}",
                s.name
            );
            assert_eq!(
                ms(h.value_at_quantile(0.90)),
                s.latency_ms.p90,
                "{}",
                s.name
            );
            assert_eq!(
                ms(h.value_at_quantile(0.95)),
                s.latency_ms.p95,
                "{}",
                s.name
            );
            assert_eq!(
                ms(h.value_at_quantile(0.99)),
                s.latency_ms.p99,
                "{}",
                s.name
            );
            assert_eq!(
                ms(h.value_at_quantile(0.999)),
                s.latency_ms.p999,
                "{}",
                s.name
            );
            assert_eq!(ms(h.max()), s.latency_ms.max, "{}", s.name);
            assert_eq!(ms(h.min()), s.latency_ms.min, "{}", s.name);
        }
    };
    check(&per_tag[""], &doc.totals);
    for (e, tag) in doc.endpoints.iter().zip(&tags) {
        check(&per_tag[tag], e);
    }
}

// ---------------------------------------------------------------------------------------
// HTML, Markdown, JUnit.
// ---------------------------------------------------------------------------------------

/// `name="value"` attributes of the first tag that has `marker`.
fn attrs_of(html: &str, marker: &str) -> BTreeMap<String, String> {
    let at = html.find(marker).unwrap_or_else(|| panic!("no {marker}"));
    let start = html[..at].rfind('<').unwrap();
    let end = at + html[at..].find('>').unwrap();
    let tag = &html[start..end];
    let mut out = BTreeMap::new();
    let mut rest = tag;
    while let Some(eq) = rest.find("=\"") {
        let name = rest[..eq].rsplit(' ').next().unwrap().to_string();
        let after = &rest[eq + 2..];
        let close = after.find('"').unwrap();
        out.insert(name, after[..close].to_string());
        rest = &after[close + 1..];
    }
    out
}

fn html_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[test]
fn html_agrees_with_the_document_and_is_self_contained() {
    let doc = run_doc();
    let html = out_of(doc, OutKind::Html);
    assert!(html.starts_with("<!doctype html>"));
    for bad in ["src=\"http", "href=\"http", "@import", "url(http", "<link "] {
        assert!(!html.contains(bad), "fetches something: {bad}");
    }
    let mut all: Vec<&Stats> = doc.endpoints.iter().collect();
    all.push(&doc.totals);
    for s in all {
        let a = attrs_of(&html, &format!("data-endpoint=\"{}\"", html_attr(&s.name)));
        let num = |k: &str| a[k].parse::<f64>().unwrap();
        assert_eq!(num("data-requests"), s.requests as f64, "{}", s.name);
        assert_eq!(num("data-ok"), s.ok as f64);
        assert_eq!(num("data-errors"), s.errors as f64);
        assert_eq!(num("data-count"), s.latency_ms.count as f64);
        assert_eq!(num("data-p50"), s.latency_ms.p50);
        assert_eq!(num("data-p90"), s.latency_ms.p90);
        assert_eq!(num("data-p95"), s.latency_ms.p95);
        assert_eq!(num("data-p99"), s.latency_ms.p99);
        assert_eq!(num("data-max"), s.latency_ms.max);
    }
    for t in &doc.thresholds {
        let a = attrs_of(&html, &format!("data-threshold=\"{}\"", html_attr(&t.name)));
        assert_eq!(a["data-passed"], t.passed.to_string());
    }
    for c in &doc.checks {
        let a = attrs_of(
            &html,
            &format!(
                "data-check=\"{}\" data-passes=\"{}\"",
                html_attr(&c.name),
                c.passes
            ),
        );
        assert_eq!(a["data-fails"], c.fails.to_string());
    }
    for section in [
        "Throughput",
        "Latency",
        "p95 by endpoint",
        "Endpoints",
        "Status codes and errors",
        "Events",
        "Thresholds",
        "Checks",
        "Grade",
        "Scenario",
    ] {
        assert!(
            html.contains(&format!("<h2>{section}")),
            "no {section} section"
        );
    }
    // Event markers are drawn on the charts: a numbered disc per event and chart.
    let marked = doc
        .events
        .iter()
        .filter(|e| e.kind != "start" && e.kind != "done")
        .count();
    assert!(marked >= 3);
    // Every time chart (throughput, latency, errors, and the generator's when it was
    // sampled) marks every event; the others mark none.
    let per_chart: Vec<usize> = html
        .split(r#"<div class="chart" id="#)
        .skip(1)
        .map(|chart| {
            chart
                .match_indices(r#"<g class="ev" "#)
                .map(|(i, _)| events_in(&attrs_of(&chart[i..], r#"class="ev""#)["data-n"]))
                .sum()
        })
        .collect();
    assert!(
        per_chart.iter().all(|&n| n == 0 || n == marked),
        "{per_chart:?}"
    );
    assert!(
        per_chart.iter().filter(|&&n| n == marked).count() >= 3,
        "markers on the three charts: {per_chart:?}"
    );
}

/// How many events a marker badge stands for: `4` is one, `4–9` six.
fn events_in(label: &str) -> usize {
    match label.split_once('–') {
        Some((a, b)) => b.parse::<usize>().unwrap() - a.parse::<usize>().unwrap() + 1,
        None => 1,
    }
}

#[test]
fn markdown_agrees_with_the_document() {
    let doc = run_doc();
    let md = out_of(doc, OutKind::Md);
    use volley::units::{count as fmt_count, ms as fmt_ms};
    assert!(
        md.starts_with("## ❌ volley · report test — 1 of 2 thresholds failed"),
        "{md}"
    );
    assert!(md.contains(&fmt_count(doc.totals.requests)));
    for e in &doc.endpoints {
        let name = e.name.replace('|', "\\|");
        let line = md
            .lines()
            .find(|l| l.starts_with(&format!("| {name} |")))
            .unwrap_or_else(|| panic!("no row for {name}"));
        let cells: Vec<&str> = line.split(" | ").collect();
        assert_eq!(cells[2], fmt_count(e.requests));
        assert_eq!(cells[5], fmt_ms(e.latency_ms.p50));
        assert_eq!(cells[7], fmt_ms(e.latency_ms.p95));
        assert_eq!(cells[8], fmt_ms(e.latency_ms.p99));
    }
    assert!(
        md.contains("| ❌ | `error_rate < 1%` | fail | 100.00% |"),
        "{md}"
    );
    assert!(md.contains("**Grade C** (72/100)") || md.contains("**Grade C** (71/100)"));
}

#[test]
fn junit_has_one_case_per_threshold_and_check() {
    let doc = run_doc();
    let xml = out_of(doc, OutKind::Junit);
    assert!(xml.starts_with("<?xml"));
    assert_eq!(xml.matches("<testcase ").count(), 4);
    assert_eq!(xml.matches("<failure ").count(), 2);
    assert!(xml.contains(r#"<testsuites name="volley: report test" tests="4" failures="2""#));
    assert!(xml.contains(r#"<testsuite name="thresholds" tests="2" failures="1""#));
    assert!(xml.contains(r#"<testsuite name="checks" tests="2" failures="1""#));
    assert_eq!(
        xml.matches("<testsuite ").count(),
        xml.matches("</testsuite>").count()
    );
    assert_eq!(
        xml.matches("<testcase ").count(),
        xml.matches("/>").count() + xml.matches("</testcase>").count()
    );
    // No thresholds and no checks: one passing case for the run.
    let mut bare = doc.clone();
    bare.thresholds.clear();
    bare.checks.clear();
    let xml = out_of(&bare, OutKind::Junit);
    assert_eq!(xml.matches("<testcase ").count(), 1);
    assert_eq!(xml.matches("<failure ").count(), 0);
}

// ---------------------------------------------------------------------------------------
// Timeline rows: histograms survive merging and downsampling.
// ---------------------------------------------------------------------------------------

fn hist_of(values: &[u64]) -> Histogram<u64> {
    let mut h = new_histogram();
    for v in values {
        h.record(*v).unwrap();
    }
    h
}

fn row_of(t: u64, values: &[u64]) -> TimelineRow {
    let mut r = TimelineRow::with_hist(t, &hist_of(values));
    r.requests = values.len() as u64;
    r.ok = r.requests;
    r
}

#[test]
fn merged_rows_have_the_percentiles_of_the_combined_interval() {
    let a_vals: Vec<u64> = (1..=90).map(|i| i * 100).collect();
    let b_vals: Vec<u64> = (1..=10).map(|i| 50_000 + i * 1000).collect();
    let mut a = row_of(0, &a_vals);
    let b = row_of(1, &b_vals);
    a.absorb(&b, false);
    let all = hist_of(&[a_vals.clone(), b_vals.clone()].concat());
    assert_eq!(a.dt, 2);
    assert_eq!(a.requests, 100);
    assert_eq!(a.p50_us, all.value_at_quantile(0.5));
    assert_eq!(a.p95_us, all.value_at_quantile(0.95));
    assert_eq!(a.max_us, all.max());
    assert_eq!(a.histogram().unwrap(), all);
    // A row with no latency (refused connections only) changes no percentile.
    let mut c = row_of(2, &[]);
    c.requests = 5;
    c.errors = 5;
    a.absorb(&c, false);
    assert_eq!(a.p50_us, all.value_at_quantile(0.5));
    assert_eq!(a.requests, 105);
    // Without histograms, the larger percentile is kept (an upper bound).
    let mut x = TimelineRow {
        p95_us: 10,
        max_us: 20,
        requests: 1,
        ..Default::default()
    };
    let y = TimelineRow {
        p95_us: 30,
        max_us: 40,
        requests: 1,
        ..Default::default()
    };
    x.absorb(&y, true);
    assert_eq!((x.p95_us, x.max_us, x.hdr), (30, 40, None));
}

#[test]
fn downsampling_keeps_counts_and_histograms() {
    let mut rows = Vec::new();
    let mut all = new_histogram();
    for t in 0..=MAX_TIMELINE_ROWS as u64 {
        let vals = [100 + t % 97, 2_000 + (t * 31) % 5_000];
        all.add(hist_of(&vals)).unwrap();
        push_row(&mut rows, row_of(t, &vals));
    }
    assert!(rows.len() <= MAX_TIMELINE_ROWS);
    assert!(rows
        .iter()
        .all(|r| r.dt == 2 || r.t == MAX_TIMELINE_ROWS as u64));
    let n: u64 = rows.iter().map(|r| r.requests).sum();
    assert_eq!(n, 2 * (MAX_TIMELINE_ROWS as u64 + 1));
    let mut merged = new_histogram();
    for r in &rows {
        merged.add(r.histogram().unwrap()).unwrap();
    }
    assert_eq!(merged, all);
}

// ---------------------------------------------------------------------------------------
// Saved documents: report, compare, old schemas.
// ---------------------------------------------------------------------------------------

#[test]
fn bad_or_old_documents_give_a_clear_message_and_exit_2() {
    let cases = [
        (
            "schema0.json",
            "result schema version 0, older than the version 1",
        ),
        (
            "future.json",
            "result schema version 7, newer than the version 1",
        ),
        ("not_results.json", "not a volley result document"),
        ("broken.json", "not a JSON file"),
        ("missing_totals.json", "missing field `totals`"),
        ("no_such_file.json", "cannot read it"),
    ];
    for (file, expected) in cases {
        let path = fixture(file);
        for args in [
            vec!["report".into(), path.display().to_string()],
            vec![
                "report".into(),
                path.display().to_string(),
                "--out".into(),
                format!("html={}", tmp("never.html").display()),
            ],
            vec![
                "compare".into(),
                fixture("baseline.json").display().to_string(),
                path.display().to_string(),
            ],
        ] {
            let out = volley().args(&args).output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
            assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
            assert!(stderr.contains(expected), "{args:?}: {stderr}");
            assert!(
                stderr.contains(file),
                "the message names the file: {stderr}"
            );
            assert!(!stderr.contains("panicked"), "{stderr}");
            assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        }
    }
    assert!(matches!(
        parse_doc(r#"{"schema_version": 0}"#),
        Err(LoadError::Version { found: 0, .. })
    ));
}

#[test]
fn report_rerenders_every_output_from_a_saved_document() {
    let saved = fixture("current.json");
    let doc = volley::report::load_doc(&saved).unwrap();
    let kinds = ["json", "csv", "html", "hdr", "junit", "md", "txt"];
    let mut args = vec!["report".to_string(), saved.display().to_string()];
    for k in kinds {
        args.push("--out".into());
        args.push(format!("{k}={}", tmp(&format!("re.{k}")).display()));
    }
    let out = volley().args(&args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for k in kinds {
        let written = std::fs::read_to_string(tmp(&format!("re.{k}"))).unwrap();
        let kind = volley::output::OutKind::parse(k).unwrap();
        assert_eq!(
            written,
            out_of(&doc, kind),
            "{k} differs from a direct render"
        );
    }
    // The JSON written back is the same document.
    let back = volley::report::load_doc(&tmp("re.json")).unwrap();
    assert_eq!(back, doc);
    // `-` is standard output; no --out prints the summary.
    let out = volley()
        .args(["report", &saved.display().to_string(), "--out", "md=-"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        out_of(&doc, OutKind::Md)
    );
    let out = volley()
        .args(["report", &saved.display().to_string()])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        out_of(&doc, OutKind::Txt)
    );
}

#[test]
fn report_with_a_baseline_embeds_the_comparison() {
    let out = volley()
        .args([
            "report",
            &fixture("current.json").display().to_string(),
            "--baseline",
            &fixture("baseline.json").display().to_string(),
            "--out",
            &format!("html={}", tmp("cmp.html").display()),
            "--out",
            "md=-",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.contains("### Compared with the baseline"), "{md}");
    let html = std::fs::read_to_string(tmp("cmp.html")).unwrap();
    assert!(html.contains(r#"id="comparison""#));
    assert!(html.contains("baseline.json"));
}

#[test]
fn compare_prints_the_table_and_gates_on_regressions() {
    let base = fixture("baseline.json");
    let cur = fixture("current.json");
    let b = volley::report::load_doc(&base).unwrap();
    let c = volley::report::load_doc(&cur).unwrap();
    let cmp = Comparison::new(&b, &c, 0.05);
    // The fixture's current run has a slower search: p95 got much worse there.
    let search_p95 = cmp
        .rows
        .iter()
        .find(|r| r.scope == "search" && r.metric.label() == "p95")
        .unwrap();
    assert_eq!(search_p95.verdict, volley::report::Verdict::Worse);
    assert_eq!(
        search_p95.baseline,
        b.endpoints
            .iter()
            .find(|e| e.name == "search")
            .unwrap()
            .latency_ms
            .p95
    );

    let out = volley()
        .args([
            "compare",
            &base.display().to_string(),
            &cur.display().to_string(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "baseline", "current", "change", "verdict", "total", "search", "WORSE", "p95",
    ] {
        assert!(text.contains(needle), "no {needle}:\n{text}");
    }
    let gated = volley()
        .args([
            "compare",
            &base.display().to_string(),
            &cur.display().to_string(),
            "--fail-on-regression",
            "10%",
        ])
        .output()
        .unwrap();
    assert_eq!(gated.status.code(), Some(volley::output::EXIT_REGRESSION));
    let stderr = String::from_utf8_lossy(&gated.stderr);
    assert!(stderr.contains("search p95"), "{stderr}");
    // The same run against itself: no regression.
    let same = volley()
        .args([
            "compare",
            &base.display().to_string(),
            &base.display().to_string(),
            "--fail-on-regression",
            "10%",
        ])
        .output()
        .unwrap();
    assert_eq!(same.status.code(), Some(0));
    let json = volley()
        .args([
            "compare",
            &base.display().to_string(),
            &cur.display().to_string(),
            "--format",
            "json",
            "--fail-on-regression",
            "10%",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(!v["regressions"].as_array().unwrap().is_empty());
    assert_eq!(v["rows"][0]["scope"], "total");
    let bad = volley()
        .args([
            "compare",
            &base.display().to_string(),
            &cur.display().to_string(),
            "--fail-on-regression",
            "lots",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    // The baseline's search has 161 requests: with at least 200 asked for, its changes
    // are noise, shown with the reason and never a regression.
    let compare = |extra: &[&str]| {
        let (b, c) = (base.display().to_string(), cur.display().to_string());
        volley()
            .args(["compare", &b, &c])
            .args(extra)
            .output()
            .unwrap()
    };
    let strict = compare(&["--fail-on-regression", "10%", "--min-requests", "200"]);
    let stdout = String::from_utf8_lossy(&strict.stdout);
    let stderr = String::from_utf8_lossy(&strict.stderr);
    assert!(
        stdout.contains("search p95 +119.1% (100.0ms -> 219.1ms): too few responses for p95: 161 in the baseline, 200 needed"),
        "{stdout}"
    );
    assert!(!stderr.contains("search p95"), "{stderr}");
    assert!(stderr.contains("ignored as noise"), "{stderr}");
    let bad_floor = compare(&["--latency-floor", "fast"]);
    assert_eq!(bad_floor.status.code(), Some(2));
}

#[test]
fn baseline_flag_rejects_a_bad_document_before_running() {
    let out = volley()
        .args([
            "http://127.0.0.1:9/",
            "-n",
            "1",
            "--headless",
            "--baseline",
            &fixture("schema0.json").display().to_string(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--baseline") && stderr.contains("schema version 0"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------
// Prometheus.
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text exposition format strictly enough to catch malformed output.
fn parse_prom(text: &str) -> (Vec<Sample>, BTreeMap<String, String>) {
    let mut samples = Vec::new();
    let mut types = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            assert!(
                types.insert(name.to_string(), kind.to_string()).is_none(),
                "TYPE twice: {line}"
            );
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(!line.starts_with('#'), "stray comment: {line}");
        let (head, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value: {line}")),
        };
        let (name, labels) = match head.split_once('{') {
            None => (head.to_string(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').unwrap_or_else(|| panic!("{line}"));
                let mut labels = BTreeMap::new();
                let mut chars = body.chars().peekable();
                loop {
                    let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
                    if key.is_empty() {
                        break;
                    }
                    assert_eq!(chars.next(), Some('"'), "{line}");
                    let mut v = String::new();
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => match chars.next() {
                                Some('n') => v.push('\n'),
                                Some(c) => v.push(c),
                                None => panic!("{line}"),
                            },
                            '"' => break,
                            c => v.push(c),
                        }
                    }
                    labels.insert(key, v);
                    if chars.peek() == Some(&',') {
                        chars.next();
                    }
                }
                (name.to_string(), labels)
            }
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            .unwrap_or(&name);
        assert!(types.contains_key(family), "no TYPE for {name}");
        samples.push(Sample {
            name,
            labels,
            value,
        });
    }
    (samples, types)
}

fn sum_of(samples: &[Sample], name: &str) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .map(|s| s.value)
        .sum()
}

/// Histogram buckets are cumulative, end with +Inf, and +Inf equals _count.
fn check_histograms(samples: &[Sample]) {
    let mut by_ep: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for s in samples
        .iter()
        .filter(|s| s.name == "volley_request_duration_seconds_bucket")
    {
        let le = match s.labels["le"].as_str() {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap(),
        };
        by_ep
            .entry(s.labels["endpoint"].clone())
            .or_default()
            .push((le, s.value));
    }
    assert!(!by_ep.is_empty());
    for (ep, buckets) in by_ep {
        assert!(
            buckets
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
            "{ep}: {buckets:?}"
        );
        assert_eq!(buckets.last().unwrap().0, f64::INFINITY);
        let count = samples
            .iter()
            .find(|s| {
                s.name == "volley_request_duration_seconds_count" && s.labels["endpoint"] == ep
            })
            .unwrap()
            .value;
        assert_eq!(buckets.last().unwrap().1, count, "{ep}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_serves_valid_metrics_during_a_run() {
    let _serial = SERIAL.lock().await;
    let server = TestServer::start(
        ServerConfig::new()
            .route("/ok", Route::ok().delay(Duration::from_millis(3)))
            .route("/bad", Route::status(500).delay(Duration::from_millis(3))),
    );
    let plan = volley::scenario::parse(
        Path::new("prom.toml"),
        &format!(
            r#"
name = "prom \"quoted\" test"
base_url = "{}"
thresholds = ["p95 < 10s", "error_rate < 1%"]
[load]
vus = 4
duration = "2s"
[[request]]
name = "ok"
path = "/ok"
weight = 3
[[request]]
name = "bad"
path = "/bad"
"#,
            server.url()
        ),
    )
    .unwrap();
    let exporter = volley::prometheus::Exporter::bind("127.0.0.1:0").unwrap();
    let url = exporter.url();
    assert!(url.starts_with("http://127.0.0.1:"));
    let h = engine::start(plan);
    exporter.spawn(h.snapshots.clone());
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut mid = None;
    while started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let resp = client.get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
        let (samples, types) = parse_prom(&resp.text().await.unwrap());
        assert_eq!(types["volley_requests_total"], "counter");
        assert_eq!(types["volley_request_duration_seconds"], "histogram");
        let running = samples.iter().any(|s| {
            s.name == "volley_run_state" && s.labels["state"] == "running" && s.value == 1.0
        });
        if running && sum_of(&samples, "volley_requests_total") > 0.0 {
            mid = Some(samples);
            break;
        }
    }
    let mid = mid.expect("a scrape while the run was going, with requests");
    check_histograms(&mid);
    assert!(sum_of(&mid, "volley_vus") >= 1.0);
    assert!(mid
        .iter()
        .any(|s| s.name == "volley_info" && s.labels["scenario"] == "prom \"quoted\" test"));
    let snap = tokio::time::timeout(RUN_LIMIT, h.wait()).await.unwrap();
    // After the end, the exporter still serves the final snapshot until the runtime goes.
    let text = client.get(&url).send().await.unwrap().text().await.unwrap();
    let (fin, _) = parse_prom(&text);
    check_histograms(&fin);
    assert_eq!(
        sum_of(&fin, "volley_requests_total"),
        snap.total.requests as f64
    );
    let errors_500: f64 = fin
        .iter()
        .filter(|s| s.name == "volley_responses_total" && s.labels["status"] == "500")
        .map(|s| s.value)
        .sum();
    assert_eq!(errors_500, *snap.total.status.get(&500).unwrap() as f64);
    let kinds: f64 = fin
        .iter()
        .filter(|s| s.name == "volley_errors_total" && s.labels["kind"] == "http_500")
        .map(|s| s.value)
        .sum();
    assert_eq!(kinds, errors_500);
    let ok = snap.endpoints.iter().find(|e| e.name == "ok").unwrap();
    let p95 = fin
        .iter()
        .find(|s| {
            s.name == "volley_request_duration_quantile_seconds"
                && s.labels["endpoint"] == "ok"
                && s.labels["quantile"] == "0.95"
        })
        .unwrap()
        .value;
    assert_eq!(p95, ok.quantile_us(0.95) as f64 / 1e6);
    assert!(fin
        .iter()
        .any(|s| s.name == "volley_run_state" && s.labels["state"] == "done" && s.value == 1.0));
    // Threshold status: p95 passes, the error rate (a quarter of requests fail) does not.
    let passed = |prefix: &str| {
        fin.iter()
            .find(|s| {
                s.name == "volley_threshold_passed" && s.labels["threshold"].starts_with(prefix)
            })
            .unwrap_or_else(|| panic!("no threshold {prefix}"))
            .value
    };
    assert_eq!(passed("p95"), 1.0);
    assert_eq!(passed("error_rate"), 0.0);
    assert_eq!(sum_of(&fin, "volley_thresholds_failed"), 1.0);
    assert_eq!(
        client
            .get(url.replace("/metrics", "/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[test]
fn prometheus_flag_serves_during_a_headless_run() {
    let _serial = SERIAL.blocking_lock();
    let server = TestServer::start(
        ServerConfig::new().route("/", Route::ok().delay(Duration::from_millis(5))),
    );
    let mut child = volley()
        .args([
            &format!("{}/", server.url()),
            "-c",
            "2",
            "-d",
            "3s",
            "--headless",
            "--prometheus",
            "127.0.0.1:0",
            "--prometheus-grace",
            "0",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let url = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("volley says where the metrics are");
        if let Some(u) = line.strip_prefix("volley: Prometheus metrics on ") {
            break u.to_string();
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let total = rt.block_on(async {
        let client = reqwest::Client::new();
        let end = Instant::now() + Duration::from_secs(8);
        while Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(400)).await;
            if let Ok(r) = client.get(&url).send().await {
                let (samples, _) = parse_prom(&r.text().await.unwrap());
                let n = sum_of(&samples, "volley_requests_total");
                if n > 0.0 {
                    return n;
                }
            }
        }
        0.0
    });
    assert!(total > 0.0, "no requests seen on {url}");
    let deadline = Instant::now() + RUN_LIMIT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("volley did not end");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    // The exporter is gone with the run.
    assert!(std::net::TcpStream::connect(
        url.trim_start_matches("http://")
            .trim_end_matches("/metrics")
    )
    .is_err());
}

#[test]
fn prometheus_address_forms() {
    use volley::prometheus::parse_addr;
    assert_eq!(parse_addr("9464").unwrap().to_string(), "127.0.0.1:9464");
    assert_eq!(parse_addr(":9464").unwrap().to_string(), "127.0.0.1:9464");
    assert_eq!(
        parse_addr("0.0.0.0:9464").unwrap().to_string(),
        "0.0.0.0:9464"
    );
    assert!(parse_addr("nonsense").is_err());
    let out = volley()
        .args([
            "http://127.0.0.1:9/",
            "-n",
            "1",
            "--headless",
            "--prometheus",
            "nonsense",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

// ---------------------------------------------------------------------------------------
// The HTML in a real browser.
// ---------------------------------------------------------------------------------------

const CHROMIUM: &str = "/usr/bin/chromium";

/// Renders the report in headless Chromium: no console errors or exceptions, the
/// script ran, and a screenshot is taken (kept in the temp dir for a look).
#[test]
fn html_renders_in_headless_chromium_without_console_errors() {
    if !Path::new(CHROMIUM).exists() {
        eprintln!("skipped: {CHROMIUM} is not installed (apt-get install chromium)");
        return;
    }
    // The shared run first: it takes SERIAL itself.
    let doc = run_doc();
    let _serial = SERIAL.blocking_lock();
    let base = volley::report::load_doc(&fixture("baseline.json")).unwrap();
    let baseline = Baseline {
        file: "baseline.json".into(),
        doc: base,
    };
    let html_path = tmp("chromium.html");
    // A probe that records console errors and exceptions in the DOM, so --dump-dom
    // shows them.
    let mut buf = Vec::new();
    render(doc, OutKind::Html, Some(&baseline), &mut buf).unwrap();
    let html = String::from_utf8(buf).unwrap();
    let probe = r#"<script>window.__errors=[];addEventListener('error',function(e){__errors.push(String(e.message))});var __ce=console.error;console.error=function(){__errors.push([].join.call(arguments,' '));__ce.apply(console,arguments)};</script>"#;
    // After load: hover the middle of the throughput chart (the read-out must show),
    // then report errors, the read-out and how many chart paths were drawn.
    let check = r#"<script>setTimeout(function(){var svg=document.querySelector('#throughput svg');var r=svg.getBoundingClientRect();svg.dispatchEvent(new MouseEvent('mousemove',{clientX:r.left+r.width/2,clientY:r.top+r.height/2,bubbles:true}));var tip=document.querySelector('#throughput .tip');var n=document.createElement('div');n.id='probe';n.textContent='ERRORS['+__errors.join('|')+'] TIP['+tip.style.display+':'+tip.textContent+'] CHARTS['+document.querySelectorAll('.chart svg path').length+']';document.body.appendChild(n)},0)</script>"#;
    let html = html
        .replacen("<head>", &format!("<head>{probe}"), 1)
        .replace("</body>", &format!("{check}</body>"));
    std::fs::write(&html_path, html).unwrap();
    let shot = tmp("chromium.png");
    let started = Instant::now();
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        "--virtual-time-budget=2000",
    ];
    let dom = Process::new(CHROMIUM)
        .args(common)
        .arg("--dump-dom")
        .arg(format!("file://{}", html_path.display()))
        .output()
        .unwrap();
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    let probe_line = dom_text
        .split("id=\"probe\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_else(|| {
            panic!(
                "no probe in the DOM: {}",
                String::from_utf8_lossy(&dom.stderr)
            )
        });
    assert!(
        probe_line.starts_with("ERRORS[]"),
        "console errors: {probe_line}"
    );
    assert!(
        probe_line.contains("TIP[block:") && probe_line.contains("requests"),
        "the chart read-out did not show: {probe_line}"
    );
    let charts: usize = probe_line
        .split("CHARTS[")
        .nth(1)
        .and_then(|s| s.trim_end_matches(']').parse().ok())
        .unwrap();
    assert!(charts >= 6, "chart paths: {charts}");
    let out = Process::new(CHROMIUM)
        .args(common)
        .arg("--window-size=1280,2400")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", html_path.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "screenshot {} bytes",
        png.len()
    );
    eprintln!(
        "chromium: rendered {} in {:.1}s, screenshot {}",
        html_path.display(),
        started.elapsed().as_secs_f64(),
        shot.display()
    );
}

#[test]
fn every_output_of_an_empty_run_renders() {
    // A run that recorded nothing (everything refused, or stopped at once).
    let snap = volley::metrics::Snapshot::empty("empty", &[("a".into(), "GET".into())]);
    let doc = ResultDoc::from_snapshot(&snap, &RunInfo::default());
    for kind in [
        OutKind::Json,
        OutKind::Csv,
        OutKind::Html,
        OutKind::Hdr,
        OutKind::Junit,
        OutKind::Md,
        OutKind::Txt,
    ] {
        let out = out_of(&doc, kind);
        assert!(!out.is_empty(), "{kind:?}");
        assert!(!out.contains("NaN"), "{kind:?}: {out}");
    }
    assert_eq!(parse_doc(&out_of(&doc, OutKind::Json)).unwrap(), doc);
    let _ = Arc::new(());
}

/// The console path: `--prometheus` serves while the console runs (in a pseudo-terminal).
#[test]
fn prometheus_flag_serves_during_a_console_run() {
    let _serial = SERIAL.blocking_lock();
    let server = TestServer::start(
        ServerConfig::new().route("/", Route::ok().delay(Duration::from_millis(5))),
    );
    let mut vt = support::PtyChild::spawn(
        &[
            &format!("{}/", server.url()),
            "-c",
            "2",
            // Long enough to be scraped while it runs on a loaded machine too.
            "-d",
            "6s",
            "--prometheus",
            "127.0.0.1:0",
        ],
        &[],
        100,
        30,
    );
    let started = Instant::now();
    let url = loop {
        let text = vt.text();
        if let Some(rest) = text.split("Prometheus metrics on ").nth(1) {
            if let Some(end) = rest.find("/metrics") {
                break format!("{}/metrics", &rest[..end]);
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no exporter line: {text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (requests, running) = rt.block_on(async {
        let client = reqwest::Client::new();
        let end = Instant::now() + Duration::from_secs(8);
        while Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if let Ok(r) = client.get(&url).send().await {
                let (samples, _) = parse_prom(&r.text().await.unwrap());
                let n = sum_of(&samples, "volley_requests_total");
                if n > 0.0 {
                    let running = samples.iter().any(|s| {
                        s.name == "volley_run_state"
                            && s.labels["state"] == "running"
                            && s.value == 1.0
                    });
                    return (n, running);
                }
            }
        }
        (0.0, false)
    });
    assert!(requests > 0.0, "no requests seen on {url}");
    assert!(running, "scraped while the console run was going");
    // The console waits on its DONE screen: quit it.
    assert!(
        vt.wait_screen("DONE", RUN_LIMIT),
        "the run did not end: {}",
        vt.screen()
    );
    let status = vt.quit(RUN_LIMIT).expect("volley did not end");
    assert_eq!(status.code(), Some(0));
}

/// End to end through the CLI: `--out hdr` makes the run keep per-second histograms, and
/// the log decodes to the JSON's counts and percentiles. Without `--out hdr` the document
/// has none, and the log says so instead of pretending.
#[test]
fn cli_hdr_output_matches_the_json_and_needs_to_be_asked_for() {
    let _serial = SERIAL.blocking_lock();
    let server = TestServer::start(
        ServerConfig::new().route("/", Route::ok().delay(Duration::from_millis(2))),
    );
    let (json, hlog) = (tmp("cli.json"), tmp("cli.hlog"));
    let out = volley()
        .args([
            &format!("{}/", server.url()),
            "-c",
            "3",
            "-n",
            "600",
            "--headless",
            "--out",
            &format!("json={}", json.display()),
            "--out",
            &format!("hdr={}", hlog.display()),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = volley::report::load_doc(&json).unwrap();
    assert_eq!(doc.totals.requests, 600);
    assert!(volley::report::has_interval_histograms(&doc));
    let log = std::fs::read(&hlog).unwrap();
    let mut total = new_histogram();
    for e in IntervalLogIterator::new(&log) {
        if let LogEntry::Interval(i) = e.unwrap() {
            if i.tag().is_none() {
                total.add(decode(i.encoded_histogram())).unwrap();
            }
        }
    }
    assert_eq!(total.len(), doc.totals.latency_ms.count);
    assert_eq!(ms(total.value_at_quantile(0.99)), doc.totals.latency_ms.p99);

    // The same run without --out hdr: no per-second histograms in the document.
    let out = volley()
        .args([
            &format!("{}/", server.url()),
            "-c",
            "2",
            "-n",
            "100",
            "--headless",
            "--out",
            &format!("json={}", json.display()),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc = volley::report::load_doc(&json).unwrap();
    assert!(!volley::report::has_interval_histograms(&doc));
    assert!(
        doc.totals.hdr.is_some(),
        "the whole run's histogram is always kept"
    );
    let out = volley()
        .args([
            "report",
            &json.display().to_string(),
            "--out",
            &format!("hdr={}", hlog.display()),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no per-second histograms"));
    let log = std::fs::read_to_string(&hlog).unwrap();
    assert!(log.contains("run with --out hdr=FILE"), "{log}");
    let with_latency = IntervalLogIterator::new(log.as_bytes())
        .filter_map(|e| match e.unwrap() {
            LogEntry::Interval(i) => Some(decode(i.encoded_histogram()).len()),
            _ => None,
        })
        .filter(|n| *n > 0)
        .count();
    assert_eq!(with_latency, 0, "no made-up intervals");
}

#[test]
fn numbers_read_the_same_in_every_report() {
    let mut doc = volley::report::load_doc(&fixture("current.json")).unwrap();
    doc.vus_max = 1;
    doc.totals.requests = 144_219;
    doc.totals.rps = 130_951.4;
    let text = out_of(&doc, OutKind::Txt);
    let md = out_of(&doc, OutKind::Md);
    let html = out_of(&doc, OutKind::Html);
    for (name, out) in [("text", &text), ("md", &md), ("html", &html)] {
        assert!(out.contains("144,219"), "{name}: requests grouped\n{out}");
        assert!(out.contains("130,951"), "{name}: rps grouped\n{out}");
        assert!(!out.contains("130951"), "{name}: rps ungrouped\n{out}");
        assert!(!out.contains("1 VUs"), "{name}: 1 VUs\n{out}");
    }
    assert!(text.contains("1 VU max"), "{text}");
    assert!(md.contains("1 VU max"), "{md}");
}

/// A document with `n` one-second rows at `rps` requests each, over `duration_s`.
fn flat_run(n: u64, rps: u64, duration_s: f64) -> ResultDoc {
    let mut doc = volley::report::load_doc(&fixture("current.json")).unwrap();
    let row = |t: u64, count: u64| volley::report::Row {
        t,
        dt: 1,
        requests: count,
        ok: count,
        errors: 0,
        rps: count as f64,
        bytes: 0,
        p50_ms: 1.0,
        p90_ms: 1.0,
        p95_ms: 1.0,
        p99_ms: 1.0,
        max_ms: 1.0,
        vus: 4,
        hdr: None,
    };
    doc.timeline = (0..n).map(|t| row(t, rps)).collect();
    doc.duration_s = duration_s;
    doc.run_time_s = duration_s;
    doc.events.clear();
    doc
}

/// The JSON read-out data of the chart with this id.
fn chart_data(html: &str, id: &str) -> serde_json::Value {
    let at = html
        .find(&format!(r#"<div class="chart" id="{id}">"#))
        .unwrap();
    let rest = &html[at..];
    let open = r#"<script type="application/json">"#;
    let start = rest.find(open).unwrap() + open.len();
    let end = start + rest[start..].find("</script>").unwrap();
    serde_json::from_str(&rest[start..end].replace("<\\/", "</")).unwrap()
}

#[test]
fn html_clusters_event_markers_so_they_never_overlap() {
    let mut doc = flat_run(60, 100, 60.0);
    for i in 0..40 {
        doc.events.push(volley::metrics::Event {
            t: 10.0 + i as f64 * 0.05,
            kind: "set_vus".into(),
            detail: format!("{i} -> {} VUs", i + 1),
        });
    }
    doc.events.push(volley::metrics::Event {
        t: 40.0,
        kind: "set_rate".into(),
        detail: "5.0/s -> 10/s".into(),
    });
    let html = out_of(&doc, OutKind::Html);
    let chart = &html[html.find(r#"id="throughput""#).unwrap()..];
    let chart = &chart[..chart.find("</svg>").unwrap()];
    let badges: Vec<(f64, f64, String)> = chart
        .match_indices(r#"<g class="ev" "#)
        .map(|(i, _)| {
            let a = attrs_of(&chart[i..], r#"class="ev""#);
            (
                a["data-x0"].parse().unwrap(),
                a["data-x1"].parse().unwrap(),
                a["data-n"].clone(),
            )
        })
        .collect();
    // 40 events within 2 s share a few badges; each event is in exactly one.
    assert!(badges.len() <= 4, "{badges:?}");
    assert_eq!(badges.iter().map(|b| events_in(&b.2)).sum::<usize>(), 41);
    for w in badges.windows(2) {
        assert!(w[0].1 <= w[1].0, "badges overlap: {w:?}");
    }
    // set_rate has the colour of set_vus (it had the fallback's).
    let rate_badge = chart.find(r#"data-n="41""#).unwrap();
    assert!(
        chart[rate_badge..].contains(r##"stroke="#2563eb""##),
        "{}",
        &chart[rate_badge..]
    );
    assert!(html.contains(r##"<span style="background:#2563eb">41</span>"##));
}

#[test]
fn html_clips_a_spike_and_labels_the_peak() {
    let mut doc = flat_run(60, 100, 60.0);
    doc.timeline[30].requests = 5000;
    doc.timeline[30].ok = 5000;
    let html = out_of(&doc, OutKind::Html);
    assert!(
        html.contains("peak 5,000/s at 30s–31s (axis clipped)"),
        "no peak label"
    );
    // The read-out keeps the true value.
    let data = chart_data(&html, "throughput");
    assert!(data["series"][0]["text"]
        .as_array()
        .unwrap()
        .contains(&"5,000/s".into()));
    // Without a spike, no clipping.
    let flat = out_of(&flat_run(60, 100, 60.0), OutKind::Html);
    assert!(!flat.contains("axis clipped"));
}

#[test]
fn html_leaves_out_the_last_partial_second() {
    // 10 rows, but the run ended 0.4 s into the last one: its 40 requests over a whole
    // second read as a drop to 40/s.
    let mut doc = flat_run(10, 100, 9.4);
    doc.timeline[9].requests = 40;
    doc.timeline[9].ok = 40;
    let html = out_of(&doc, OutKind::Html);
    let data = chart_data(&html, "throughput");
    let labels = data["label"].as_array().unwrap();
    assert_eq!(labels.len(), 9, "{labels:?}");
    assert!(!data["series"][0]["text"]
        .as_array()
        .unwrap()
        .contains(&"40.0/s".into()));
    assert!(
        html.contains("The last 0.4s of the run (a partial second) is not drawn"),
        "no note"
    );
    // A run that ends on a whole second keeps every row.
    let whole = out_of(&flat_run(10, 100, 10.0), OutKind::Html);
    let data = chart_data(&whole, "throughput");
    assert_eq!(data["label"].as_array().unwrap().len(), 10);
}

#[test]
fn overrides_are_recorded_and_shown() {
    let src =
        "name = \"o\"\nbase_url = \"http://127.0.0.1:9/\"\n[load]\nvus = 2\nduration = \"1m\"\n\
               [[request]]\npath = \"/\"\n";
    let mut plan = volley::scenario::parse(Path::new("o.toml"), src).unwrap();
    volley::scenario::Overrides {
        vus: Some(50),
        duration: Some(Duration::from_secs(10)),
        ..Default::default()
    }
    .apply(&mut plan);
    let info = RunInfo::of(&plan);
    assert_eq!(info.overrides, ["--vus 50", "--duration 10s"]);
    let mut doc = volley::report::load_doc(&fixture("current.json")).unwrap();
    doc.overrides = info.overrides.clone();
    let json: serde_json::Value = serde_json::from_str(&out_of(&doc, OutKind::Json)).unwrap();
    assert_eq!(
        json["overrides"],
        serde_json::json!(["--vus 50", "--duration 10s"])
    );
    let html = out_of(&doc, OutKind::Html);
    let scenario = &html[html
        .find(r#"<section class="card" id="scenario">"#)
        .unwrap()..];
    assert!(
        scenario.contains("<code>--vus 50</code> <code>--duration 10s</code>"),
        "{scenario}"
    );
    assert!(out_of(&doc, OutKind::Txt).contains("overrides: --vus 50 --duration 10s"));
    assert!(out_of(&doc, OutKind::Md).contains("`--vus 50` `--duration 10s`"));
}
