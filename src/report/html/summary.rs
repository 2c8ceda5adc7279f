//! The top of the page: the header with its badges, the key figures, and the verdicts
//! (grade, thresholds, checks).

use std::fmt::Write as _;

use super::{esc, table_end, table_start, LEFT};
use crate::report::compare::started_utc;
use crate::report::doc::ResultDoc;
use crate::report::text::fmt_metric_value;
use crate::units;

/// The dark header: scenario, target, times, and the grade, threshold and state badges.
/// `outcome` is the thresholds' verdict (passed, and how to say it).
pub(super) fn header(doc: &ResultDoc, (passed, outcome): (bool, &str), o: &mut String) {
    let state_badge = if doc.partial {
        r#"<span class="badge warn">STOPPED EARLY</span>"#
    } else {
        r#"<span class="badge ok">DONE</span>"#
    };
    let th_badge = if doc.thresholds.is_empty() {
        String::new()
    } else if passed {
        format!(r#"<span class="badge ok">✓ {}</span>"#, esc(outcome))
    } else {
        format!(r#"<span class="badge fail">✗ {}</span>"#, esc(outcome))
    };
    let grade_badge = doc
        .grade
        .as_ref()
        .map(|g| {
            format!(
                r#"<span class="badge info">grade {} · {:.0}</span>"#,
                esc(&g.letter),
                g.score
            )
        })
        .unwrap_or_default();
    let running = if (doc.duration_s - doc.run_time_s).abs() > 0.05 {
        format!(" ({} running)", units::secs(doc.run_time_s))
    } else {
        String::new()
    };
    let _ = write!(
        o,
        r#"<header class="top"><div class="wrap"><div class="brand">volley load report</div><div class="row"><div><h1>{}</h1><div class="meta"><span>target <b>{}</b></span><span>started <b>{}</b></span><span>duration <b>{}</b>{}</span><span>VUs max <b>{}</b></span><span>source <b>{}</b></span></div></div><div class="badges">{grade_badge}{th_badge}{state_badge}</div></div></div></header><main class="wrap">"#,
        esc(&doc.scenario),
        esc(&doc.target),
        esc(&started_utc(&doc.started_at)),
        units::secs(doc.duration_s),
        esc(&running),
        units::count(doc.vus_max.into()),
        esc(&doc.source)
    );
}

/// A key figure: label, value, the line under it, and whether it is bad news.
struct Kpi {
    label: &'static str,
    value: String,
    sub: String,
    bad: bool,
}

/// The key figures, in the order shown.
fn kpis(doc: &ResultDoc) -> Vec<Kpi> {
    let t = &doc.totals;
    let l = &t.latency_ms;
    let kpi = |label, value, sub, bad| Kpi {
        label,
        value,
        sub,
        bad,
    };
    let mut out = vec![
        kpi(
            "requests",
            units::count(t.requests),
            match t.aborted {
                0 => format!("{} ok", units::count(t.ok)),
                n => format!("{} ok · {} aborted", units::count(t.ok), units::count(n)),
            },
            false,
        ),
        kpi(
            "throughput",
            units::per_s(t.rps),
            format!("{} conns opened", units::count(doc.connections.opened)),
            false,
        ),
        kpi(
            "error rate",
            units::percent(t.error_rate),
            format!("{} errors", units::count(t.errors)),
            t.errors > 0,
        ),
        kpi(
            "p50",
            l.shown(l.p50),
            format!("mean {}", l.shown(l.mean)),
            false,
        ),
        kpi(
            "p95",
            l.shown(l.p95),
            format!("p90 {}", l.shown(l.p90)),
            false,
        ),
        kpi(
            "p99",
            l.shown(l.p99),
            format!("max {}", l.shown(l.max)),
            false,
        ),
        kpi(
            "received",
            units::bytes(t.bytes_received as f64),
            units::bytes_per_s(t.bytes_received as f64 / doc.duration_s.max(1e-9)),
            false,
        ),
    ];
    if let Some(d) = doc.dropped_iterations {
        out.push(kpi(
            "dropped",
            units::count(d),
            "iterations (VUs busy)".into(),
            d > 0,
        ));
    }
    out
}

/// The key figures' row, and the note on requests cut off at the end.
pub(super) fn key_figures(doc: &ResultDoc, o: &mut String) {
    o.push_str(r#"<div class="kpis">"#);
    for k in kpis(doc) {
        let _ = write!(
            o,
            r#"<div class="kpi{}"><div class="l">{}</div><div class="v">{}</div><div class="s">{}</div></div>"#,
            if k.bad { " bad" } else { "" },
            esc(k.label),
            esc(&k.value),
            esc(&k.sub)
        );
    }
    o.push_str("</div>");
    if let Some(note) = doc.aborted_note() {
        let _ = write!(o, r#"<p class="note" id="aborted">{}</p>"#, esc(&note));
    }
}

/// The grade card beside the thresholds and checks (side by side when both are there).
pub(super) fn verdicts(doc: &ResultDoc, outcome: &str, o: &mut String) {
    let mut left = String::new();
    grade(doc, &mut left);
    let mut right = String::new();
    thresholds(doc, outcome, &mut right);
    checks(doc, &mut right);
    if !left.is_empty() && !right.is_empty() {
        let _ = write!(
            o,
            r#"<div class="grid2"><div>{left}</div><div>{right}</div></div>"#
        );
    } else {
        o.push_str(&left);
        o.push_str(&right);
    }
}

fn grade_color(letter: &str) -> &'static str {
    match letter.chars().next().map(|c| c.to_ascii_uppercase()) {
        Some('A') => "#15803d",
        Some('B') => "#65a30d",
        Some('C') => "#ca8a04",
        Some('D') => "#ea580c",
        _ => "#dc2626",
    }
}

fn score_color(score: f64) -> &'static str {
    const SCALE: [(f64, &str); 4] = [
        (90.0, "#15803d"),
        (75.0, "#65a30d"),
        (60.0, "#ca8a04"),
        (40.0, "#ea580c"),
    ];
    SCALE
        .iter()
        .find(|(min, _)| score >= *min)
        .map_or("#dc2626", |(_, color)| color)
}

fn grade(doc: &ResultDoc, o: &mut String) {
    let Some(g) = &doc.grade else {
        return;
    };
    let _ = write!(
        o,
        r#"<section class="card"><h2>Grade</h2><div class="grade"><div class="letter" style="background:{}">{}</div><div class="score"><b>{:.0}</b> / 100</div></div>"#,
        grade_color(&g.letter),
        esc(&g.letter),
        g.score
    );
    if !g.parts.is_empty() {
        o.push_str(r#"<div class="parts">"#);
        for p in &g.parts {
            let _ = write!(
                o,
                r#"<div class="part"><span>{}{}</span><div class="bar"><b style="width:{:.0}%;background:{}"></b></div><span style="text-align:right">{:.0}</span>{}</div>"#,
                esc(&p.name),
                p.weight
                    .map(|w| format!(r#" <span class="dim">×{w:.2}</span>"#))
                    .unwrap_or_default(),
                p.score.clamp(0.0, 100.0),
                score_color(p.score),
                p.score,
                if p.detail.is_empty() {
                    String::new()
                } else {
                    format!(r#"<span class="d">{}</span>"#, esc(&p.detail))
                }
            );
        }
        o.push_str("</div>");
    }
    o.push_str("</section>");
}

/// A pass or fail pill.
fn pill(passed: bool) -> &'static str {
    if passed {
        r#"<span class="pill pass">pass</span>"#
    } else {
        r#"<span class="pill fail">fail</span>"#
    }
}

const THRESHOLD_COLUMNS: [(&str, bool); 4] = [
    ("", LEFT),
    ("threshold", LEFT),
    ("on", LEFT),
    ("value", !LEFT),
];

fn thresholds(doc: &ResultDoc, outcome: &str, o: &mut String) {
    if doc.thresholds.is_empty() {
        return;
    }
    let _ = write!(
        o,
        r#"<section class="card"><h2>Thresholds <small>{}</small></h2>"#,
        esc(outcome)
    );
    table_start(o, "", &THRESHOLD_COLUMNS);
    for th in &doc.thresholds {
        let _ = write!(
            o,
            r#"<tr data-threshold="{}" data-passed="{}"><td class="l">{}</td><td class="l"><code>{}</code>{}</td><td class="l">{}</td><td class="{}">{}</td></tr>"#,
            esc(&th.name),
            th.passed,
            pill(th.passed),
            esc(&th.expression),
            if th.name != th.expression {
                format!(r#" <span class="dim">{}</span>"#, esc(&th.name))
            } else {
                String::new()
            },
            esc(th.endpoint.as_deref().unwrap_or("all requests")),
            if th.passed { "" } else { "bad" },
            esc(&fmt_metric_value(&th.metric, th.value))
        );
    }
    table_end(o);
    o.push_str("</section>");
}

const CHECK_COLUMNS: [(&str, bool); 6] = [
    ("", LEFT),
    ("check", LEFT),
    ("endpoint", LEFT),
    ("passed", !LEFT),
    ("failed", !LEFT),
    ("pass rate", !LEFT),
];

fn checks(doc: &ResultDoc, o: &mut String) {
    if doc.checks.is_empty() {
        return;
    }
    o.push_str(r#"<section class="card"><h2>Checks</h2>"#);
    table_start(o, "", &CHECK_COLUMNS);
    for c in &doc.checks {
        let total = c.passes + c.fails;
        let rate = units::fmt_opt(
            (total > 0).then(|| c.passes as f64 / total as f64),
            units::percent,
        );
        let _ = write!(
            o,
            r#"<tr data-check="{}" data-passes="{}" data-fails="{}"><td class="l">{}</td><td class="l">{}</td><td class="l">{}</td><td>{}</td><td class="{}">{}</td><td>{}</td></tr>"#,
            esc(&c.name),
            c.passes,
            c.fails,
            pill(c.fails == 0),
            esc(&c.name),
            esc(&c.endpoint),
            units::count(c.passes),
            if c.fails > 0 { "bad" } else { "dim" },
            units::count(c.fails),
            rate
        );
    }
    table_end(o);
    o.push_str("</section>");
}
