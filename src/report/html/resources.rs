//! The HTML report's resource sections: the generator's own figures (self-watch), the
//! target's series (`[monitor]`), drawn on the same time axis as the throughput and latency
//! charts (same width, margins and span, same event markers), and for a staged run the knee
//! on a throughput-vs-latency chart (found by [`crate::report::knee`], as `volley plan`
//! finds it). Each function returns its section, or nothing when the run has no such data.

use std::fmt::Write as _;

use super::chart::{nice_step, Chart, Series, SeriesKind};
use super::charts::{interval_label, legend, span_of, MAX_POINTS, PALETTE};
use super::esc;
use super::events::bands;
use crate::metrics::generator::{GeneratorSample, CPU_LIMIT, LAG_LIMIT_MS};
use crate::metrics::{Event, EventKind};
use crate::report::doc::ResultDoc;
use crate::report::generator::BOTTLENECK_BANNER;
use crate::report::knee::{self, Knee};
use crate::report::target::Monitor;
use crate::units;

/// Height of a resource chart (the throughput and latency charts are 250).
const STRIP_H: f64 = 150.0;

/// One line of a resource chart: a value (or none) per second `t`.
struct Line<'a> {
    name: &'a str,
    color: &'a str,
    kind: SeriesKind,
    values: Vec<Option<f64>>,
}

/// A time chart of per-second `lines` (sampled at seconds `ts`), aligned with the
/// throughput chart; long runs are bucketed as it is (the highest value of a bucket).
fn strip(
    doc: &ResultDoc,
    events: &[(usize, &Event)],
    id: &str,
    yfmt: fn(f64) -> String,
    ts: &[u64],
    lines: Vec<Line>,
) -> String {
    let span = span_of(doc);
    let mut c = Chart::new(id, 0.0, span, yfmt);
    c.h = STRIP_H;
    c.events = events.to_vec();
    c.bands = bands(doc, span);
    let k = ts.len().div_ceil(MAX_POINTS).max(1);
    let chunks: Vec<(usize, usize)> = (0..ts.len())
        .step_by(k)
        .map(|a| (a, (a + k).min(ts.len())))
        .collect();
    for &(a, b) in &chunks {
        let secs = (b - a) as u64;
        c.labels.push(interval_label(ts[a], secs, span));
    }
    let (mut ymax, mut y2max): (f64, f64) = (0.0, 0.0);
    for line in lines {
        let mut points = Vec::with_capacity(chunks.len());
        let mut text = Vec::with_capacity(chunks.len());
        for &(a, b) in &chunks {
            let v = line.values[a..b].iter().flatten().copied().reduce(f64::max);
            match (v, line.kind) {
                (Some(v), SeriesKind::Right) => y2max = y2max.max(v),
                (Some(v), _) => ymax = ymax.max(v),
                (None, _) => {}
            }
            points.push((ts[a] as f64 + (b - a) as f64 / 2.0, v));
            text.push(v.map_or_else(|| units::NONE.to_string(), yfmt));
        }
        c.push(Series {
            name: line.name.to_string(),
            color: line.color.to_string(),
            points,
            kind: line.kind,
            text,
        });
    }
    let top = ymax.max(1e-9) * 1.08;
    let step = nice_step(top, 3.0);
    c.ymax = (top / step).ceil() * step;
    c.y2max = if y2max > 0.0 { y2max * 1.15 } else { 0.0 };
    c.render()
}

fn pct(v: f64) -> String {
    format!("{}%", units::number(v, 0))
}

fn bytes(v: f64) -> String {
    units::bytes(v)
}

/// A chart's card: title, note, legend and chart.
fn card(
    out: &mut String,
    id: &str,
    title: &str,
    note: &str,
    keys: &[(&str, &str, &str)],
    chart: &str,
) {
    let _ = write!(
        out,
        r#"<section class="card" id="{}"><h2>{} <small>{}</small></h2>{}{chart}</section>"#,
        esc(id),
        esc(title),
        esc(note),
        legend(keys, "")
    );
}

/// Self-watch: the generator's CPU, event-loop (and arrival) lag, memory and connections
/// a second, with the verdict when volley was the bottleneck.
pub(super) fn generator_section(doc: &ResultDoc, events: &[(usize, &Event)]) -> String {
    let Some(g) = &doc.generator else {
        return String::new();
    };
    if g.series.is_empty() {
        return String::new();
    }
    let ts: Vec<u64> = g.series.iter().map(|s| s.t).collect();
    let col = |f: fn(&GeneratorSample) -> Option<f64>| g.series.iter().map(f).collect::<Vec<_>>();
    let limit = |v: f64| vec![Some(v); ts.len()];
    let mut out = String::new();
    if let Some(reason) = &g.reason {
        let _ = write!(
            out,
            r#"<p class="note partial" id="generator-bottleneck"><b>{}</b> ({})</p>"#,
            esc(BOTTLENECK_BANNER),
            esc(reason)
        );
    }
    let cores = crate::metrics::generator::cores(g.capacity_cores);
    let cpu_limit = format!("limit {}", units::percent_short(CPU_LIMIT));
    let chart = strip(
        doc,
        events,
        "generator-cpu",
        pct,
        &ts,
        vec![
            Line {
                name: "CPU",
                color: "#2563eb",
                kind: SeriesKind::Line,
                values: col(|s| Some(s.cpu_share * 100.0)),
            },
            Line {
                name: &cpu_limit,
                color: "#fca5a5",
                kind: SeriesKind::Line,
                values: limit(CPU_LIMIT * 100.0),
            },
        ],
    );
    card(
        &mut out,
        "generator",
        "Generator (volley itself)",
        &format!(
            "CPU a second, % of its {cores}: above {} for 3 s, volley is the bottleneck",
            units::percent_short(CPU_LIMIT)
        ),
        &[("CPU", "#2563eb", ""), (&cpu_limit, "#fca5a5", "")],
        &chart,
    );
    let arrivals = g.series.iter().any(|s| s.arrival_lag_ms.is_some());
    let mut lines = vec![Line {
        name: "event-loop lag p99",
        color: "#7c3aed",
        kind: SeriesKind::Line,
        values: col(|s| Some(s.lag_p99_ms)),
    }];
    let mut keys = vec![("event-loop lag p99", "#7c3aed", "")];
    if arrivals {
        lines.push(Line {
            name: "arrival lag p99",
            color: "#f59e0b",
            kind: SeriesKind::Line,
            values: col(|s| s.arrival_lag_ms),
        });
        keys.push(("arrival lag p99", "#f59e0b", ""));
    }
    let lag_note = format!(
        "how late a 10 ms timer fires{}, p99 of each second; above {} for 3 s, volley is the bottleneck",
        if arrivals {
            " and how far behind schedule arrivals start"
        } else {
            ""
        },
        units::ms(LAG_LIMIT_MS)
    );
    card(
        &mut out,
        "generator-lag",
        "Generator lag",
        &lag_note,
        &keys,
        &strip(
            doc,
            events,
            "generator-lag-chart",
            units::ms_compact,
            &ts,
            lines,
        ),
    );
    card(
        &mut out,
        "generator-memory",
        "Generator memory and connections",
        "resident memory; open connections and file descriptors on the right axis",
        &[
            ("RSS", "#0891b2", ""),
            ("connections", "#64748b", "dash"),
            ("fds", "#a21caf", "dash"),
        ],
        &strip(
            doc,
            events,
            "generator-memory-chart",
            bytes,
            &ts,
            vec![
                Line {
                    name: "RSS",
                    color: "#0891b2",
                    kind: SeriesKind::Line,
                    values: col(|s| Some(s.rss_bytes as f64)),
                },
                Line {
                    name: "connections",
                    color: "#64748b",
                    kind: SeriesKind::Right,
                    values: col(|s| Some(s.connections as f64)),
                },
                Line {
                    name: "fds",
                    color: "#a21caf",
                    kind: SeriesKind::Right,
                    values: col(|s| Some(s.fds as f64)),
                },
            ],
        ),
    );
    out
}

/// The axis format of a target series, by its name (as [`Monitor::format`] formats values).
fn target_fmt(name: &str) -> fn(f64) -> String {
    if name == "cpu_busy" {
        |v| units::percent_short(v)
    } else if name.ends_with("_pct") {
        pct
    } else if name.contains("bytes") && name.ends_with("_total") {
        units::bytes_per_s
    } else if name.contains("bytes") {
        bytes
    } else {
        units::compact
    }
}

/// Target monitor: a chart per series, with its min/avg/max.
pub(super) fn monitor_section(doc: &ResultDoc, events: &[(usize, &Event)]) -> String {
    let Some(m) = &doc.monitor else {
        return String::new();
    };
    if m.rows.is_empty() {
        return String::new();
    }
    let ts: Vec<u64> = m.rows.iter().map(|r| r.t).collect();
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<section class="card" id="target"><h2>Target resources <small>{} · a sample a second{}</small></h2>"#,
        esc(&m.source),
        match m.failures {
            0 => String::new(),
            n => format!(" · {} failed scrapes (gaps)", units::count(n)),
        }
    );
    for (i, name) in m.series.iter().enumerate() {
        let summary = match m.summary.get(i).copied().flatten() {
            Some(s) => format!(
                "min {} · avg {} · max {}",
                Monitor::format(name, s.min),
                Monitor::format(name, s.avg),
                Monitor::format(name, s.max)
            ),
            None => "never read".into(),
        };
        let _ = write!(
            out,
            r#"<h3><code>{}</code> <span class="dim">{}</span></h3>"#,
            esc(name),
            esc(&summary)
        );
        let values = m
            .rows
            .iter()
            .map(|r| r.values.get(i).copied().flatten())
            .collect();
        out.push_str(&strip(
            doc,
            events,
            &format!("target-{i}"),
            target_fmt(name),
            &ts,
            vec![Line {
                name,
                color: PALETTE[i % PALETTE.len()],
                kind: SeriesKind::Line,
                values,
            }],
        ));
    }
    out.push_str("</section>");
    out
}

/// Whether the run followed stages (the controller records an event as each begins).
fn staged(doc: &ResultDoc) -> bool {
    doc.events.iter().any(|e| e.kind == EventKind::Stage)
}

/// A staged run: p95 against throughput a second, in time order, the knee marked.
pub(super) fn knee_section(doc: &ResultDoc) -> String {
    if !staged(doc) {
        return String::new();
    }
    let Some(k) = knee::find(doc) else {
        return String::new();
    };
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<section class="card" id="knee"><h2>Throughput vs latency <small>each second of the run, in time order; the knee as <code>volley plan</code> finds it</small></h2><p class="note" style="margin:0 0 8px"><b>{}</b> · {}</p>"#,
        esc(&k.line()),
        esc(&k.where_line())
    );
    knee_chart(doc, &k, &mut out);
    out.push_str("</section>");
    out
}

fn knee_chart(doc: &ResultDoc, k: &Knee, out: &mut String) {
    let (w, h, left, right, top, bottom) = (1100.0, 300.0, 62.0, 44.0, 20.0, 34.0);
    let pts: Vec<(u64, f64, f64, u32)> = doc
        .timeline
        .iter()
        .filter(|r| r.requests > 0 && r.max_ms > 0.0)
        .map(|r| (r.t, r.ok as f64 / r.dt.max(1) as f64, r.p95_ms, r.vus))
        .collect();
    let xmax = pts.iter().map(|p| p.1).fold(k.rps, f64::max).max(1.0) * 1.08;
    let ymax = pts.iter().map(|p| p.2).fold(0.0, f64::max).max(0.001) * 1.08;
    let (xs, ys) = (nice_step(xmax, 8.0), nice_step(ymax, 4.0));
    let (xmax, ymax) = ((xmax / xs).ceil() * xs, (ymax / ys).ceil() * ys);
    let x = |v: f64| left + v / xmax * (w - left - right);
    let y = |v: f64| h - bottom - v / ymax * (h - top - bottom);
    let _ = write!(
        out,
        r#"<div class="chart" id="knee-chart"><svg viewBox="0 0 {w} {h}" role="img" aria-label="throughput vs latency" preserveAspectRatio="xMidYMid meet"><g class="grid">"#
    );
    let mut v = 0.0;
    while v <= ymax * 1.0001 {
        let _ = write!(
            out,
            r#"<line x1="{left}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/>"#,
            w - right,
            y = y(v)
        );
        v += ys;
    }
    out.push_str("</g>");
    let mut v = 0.0;
    while v <= ymax * 1.0001 {
        let _ = write!(
            out,
            r#"<text class="ax" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            left - 8.0,
            y(v) + 3.5,
            esc(&units::ms_compact(v))
        );
        v += ys;
    }
    let mut v = 0.0;
    while v <= xmax * 1.0001 {
        let _ = write!(
            out,
            r#"<text class="ax" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x(v),
            h - bottom + 16.0,
            esc(&units::compact(v))
        );
        v += xs;
    }
    let _ = write!(
        out,
        r##"<text class="ax" x="{:.1}" y="{:.1}" text-anchor="end">successful responses per second →</text><text class="ax" x="{left}" y="{:.1}">p95</text>"##,
        w - right,
        h - 2.0,
        top - 6.0
    );
    // The path in time order, then the seconds as dots (later ones darker).
    let mut d = String::new();
    for (i, p) in pts.iter().enumerate() {
        let _ = write!(
            d,
            "{}{:.1},{:.1}",
            if i == 0 { "M" } else { "L" },
            x(p.1),
            y(p.2)
        );
    }
    let _ = write!(
        out,
        r##"<path d="{d}" fill="none" stroke="#94a3b8" stroke-width="1" stroke-linejoin="round"/>"##
    );
    let n = pts.len().max(1) as f64;
    for (i, p) in pts.iter().enumerate() {
        let past = p.0 > k.t;
        let _ = write!(
            out,
            r#"<circle cx="{:.1}" cy="{:.1}" r="3.2" fill="{}" fill-opacity="{:.2}"><title>{}s: {} rps, p95 {}, {}</title></circle>"#,
            x(p.1),
            y(p.2),
            if past { "#dc2626" } else { "#2563eb" },
            0.35 + 0.6 * i as f64 / n,
            p.0,
            units::rate(p.1),
            units::ms(p.2),
            units::vus(u64::from(p.3))
        );
    }
    // The knee: a dashed line at its throughput and a ring on its second.
    let kx = x(k.rps);
    let _ = write!(
        out,
        r##"<line x1="{kx:.1}" x2="{kx:.1}" y1="{top}" y2="{:.1}" stroke="#0f766e" stroke-width="1.4" stroke-dasharray="5 4"/>"##,
        h - bottom
    );
    if let Some(p) = pts.iter().find(|p| p.0 == k.t) {
        let _ = write!(
            out,
            r##"<circle cx="{:.1}" cy="{:.1}" r="7" fill="none" stroke="#0f766e" stroke-width="2"/>"##,
            x(p.1),
            y(p.2)
        );
    }
    let anchor = if kx > (left + w - right) / 2.0 {
        "end"
    } else {
        "start"
    };
    let dx = if anchor == "end" { -6.0 } else { 6.0 };
    let _ = write!(
        out,
        r##"<text class="ax" x="{:.1}" y="{:.1}" text-anchor="{anchor}" fill="#0f766e" font-weight="600">{}</text></svg></div>"##,
        kx + dx,
        top + 12.0,
        esc(&k.line())
    );
    out.push_str(&legend(
        &[
            ("up to the knee", "#2563eb", "box"),
            ("past the knee", "#dc2626", "box"),
            ("knee", "#0f766e", "dash"),
        ],
        "",
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::generator::GeneratorSeries;
    use crate::monitor::{TargetSample, TargetSeries};
    use crate::report::generator::Generator;
    use crate::report::{parse_doc, render_html};

    fn fixture() -> ResultDoc {
        parse_doc(include_str!("../../../tests/fixtures/results/current.json")).expect("parses")
    }

    /// The read-out data of chart `id`: its x range and time span, which must be the
    /// throughput chart's for the charts to line up.
    fn axis(html: &str, id: &str) -> String {
        let at = html
            .find(&format!(r#"<div class="chart" id="{id}">"#))
            .unwrap_or_else(|| panic!("no chart {id}"));
        let json = &html[at..];
        let tag = r#"<script type="application/json">"#;
        let from = json.find(tag).expect("chart data") + tag.len();
        let data: serde_json::Value =
            serde_json::from_str(&json[from..from + json[from..].find("</script>").expect("end")])
                .expect("chart data is JSON");
        format!(
            "{} {} {} {} {}",
            data["w"], data["x0"], data["x1"], data["tmin"], data["tmax"]
        )
    }

    #[test]
    fn generator_and_target_charts_share_the_throughput_time_axis() {
        let mut doc = fixture();
        let mut g = GeneratorSeries::new(1.0);
        for t in 0..20u64 {
            g.push(GeneratorSample {
                t,
                cpu_pct: 10.0 + t as f64,
                cpu_share: (10.0 + t as f64) / 100.0,
                rss_bytes: 20_000_000 + t * 1000,
                fds: 30,
                connections: 20,
                lag_p99_ms: 0.4,
                arrival_lag_ms: Some(1.5),
                ..GeneratorSample::default()
            });
        }
        doc.generator = Generator::of(&g);
        let target = TargetSeries {
            source: "http://127.0.0.1:9100/metrics".into(),
            names: vec!["cpu_busy".into(), "node_memory_MemAvailable_bytes".into()],
            samples: (0..20u64)
                .map(|t| TargetSample {
                    t,
                    values: vec![(t != 7).then_some(0.25), Some(4e9)],
                })
                .collect(),
            failures: 1,
        };
        doc.monitor = Some(Monitor::of(&target));
        let html = render_html(&doc, None);
        let throughput = axis(&html, "throughput");
        for id in [
            "generator-cpu",
            "generator-lag-chart",
            "generator-memory-chart",
            "target-0",
            "target-1",
        ] {
            assert_eq!(axis(&html, id), throughput, "{id}");
        }
        assert!(html.contains("arrival lag p99"), "open-model lag is drawn");
        assert!(html.contains("1 failed scrapes (gaps)"));
        assert!(html.contains("min 25.0% · avg 25.0% · max 25.0%"));
        assert!(html.contains("<code>node_memory_MemAvailable_bytes</code>"));
        assert!(
            !html.contains("generator-bottleneck"),
            "no verdict, no banner"
        );
        assert!(!html.contains(r#"id="knee""#), "not a staged run");
        // The read-out of the CPU chart at 5s–6s.
        assert!(
            html.contains(r#""text":["10%","11%","12%","13%","14%","15%"#),
            "{}",
            &html[html.find("generator-cpu").unwrap_or(0)..][..400]
        );
    }

    #[test]
    fn the_bottleneck_verdict_is_shown() {
        let mut doc = fixture();
        let mut g = GeneratorSeries::new(1.0);
        for t in 0..6 {
            g.push(GeneratorSample {
                t,
                cpu_share: 0.97,
                cpu_pct: 97.0,
                ..GeneratorSample::default()
            });
        }
        doc.generator = Generator::of(&g);
        let html = render_html(&doc, None);
        assert!(html.contains(
            r#"<p class="note partial" id="generator-bottleneck"><b>volley is the bottleneck"#
        ));
        assert!(html.contains("CPU 97% of its 1 engine thread"));
        assert!(
            !html.contains("arrival lag"),
            "closed model: no arrival lag"
        );
    }

    #[test]
    fn a_staged_run_shows_its_knee_where_volley_plan_finds_it() {
        let mut doc = fixture();
        // Ramp 1..=30 VUs; throughput 10 rps a VU up to 20 VUs, then flat (p95 climbs).
        let template = doc.timeline[0].clone();
        doc.timeline = (1..=30u32)
            .map(|vus| {
                let ok = u64::from(10 * vus.min(20));
                crate::report::Row {
                    t: u64::from(vus - 1),
                    dt: 1,
                    requests: ok,
                    ok,
                    errors: 0,
                    p95_ms: 5.0 * f64::from(vus) / f64::from(vus.min(20)),
                    max_ms: 50.0,
                    vus,
                    hdr: None,
                    ..template.clone()
                }
            })
            .collect();
        doc.thresholds.clear();
        let knee = knee::find(&doc).expect("a knee");
        assert_eq!(knee_section(&doc), "", "no stage events: not a staged run");
        doc.events.push(Event {
            t: 0.0,
            kind: "stage".into(),
            detail: "stage 1/1: ramp to 30 VUs over 30s".into(),
        });
        let html = render_html(&doc, None);
        let at = html
            .find(r#"<section class="card" id="knee">"#)
            .expect("knee section");
        let section = &html[at..at + html[at..].find("</section>").expect("end")];
        assert!(section.contains(&esc(&knee.line())), "{section}");
        assert_eq!(knee.line(), "knee: 200 rps at 20 VUs (throughput plateau)");
        // Every second is a dot; those after the knee are red.
        assert_eq!(
            section.matches("<circle").count(),
            30 + 1,
            "dots and the knee's ring"
        );
        assert_eq!(section.matches(r##"fill="#dc2626""##).count(), 30 - 20);
    }
}
