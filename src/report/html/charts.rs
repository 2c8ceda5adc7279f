//! The report's charts over time: throughput (requests, errors, VUs), latency
//! percentiles, and p95 by endpoint. Each turns the document's timeline into the series
//! of a [`Chart`]; the series' names and colours are tables shared with the legends.

use std::fmt::Write as _;

use super::chart::{nice_step, Chart, Series, SeriesKind};
use super::esc;
use super::events::bands;
use super::fmt_t;
use crate::metrics::Event;
use crate::report::doc::{ResultDoc, Row};
use crate::units;

/// Colours of per-endpoint series.
pub(super) const PALETTE: &[&str] = &[
    "#2563eb", "#f59e0b", "#10b981", "#db2777", "#8b5cf6", "#0891b2", "#ef4444", "#84cc16",
    "#64748b", "#d946ef",
];

/// The colour of the `i`th endpoint's series.
fn endpoint_color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

/// A legend entry: name, colour and the swatch's class (`box`, `dash` or a line).
type Key<'a> = (&'a str, &'a str, &'a str);

/// The throughput chart's series, in legend order.
const THROUGHPUT_KEYS: [Key; 3] = [
    ("requests", "#2563eb", "box"),
    ("errors", "#dc2626", "box"),
    ("VUs", "#64748b", "dash"),
];

/// A line of the latency chart: its name, colour, and value in a timeline row.
struct Line {
    name: &'static str,
    color: &'static str,
    value: fn(&Row) -> f64,
}

/// The latency chart's lines, lowest first.
const LATENCY_LINES: [Line; 4] = [
    Line {
        name: "p50",
        color: "#0891b2",
        value: |r| r.p50_ms,
    },
    Line {
        name: "p90",
        color: "#6366f1",
        value: |r| r.p90_ms,
    },
    Line {
        name: "p95",
        color: "#f59e0b",
        value: |r| r.p95_ms,
    },
    Line {
        name: "p99",
        color: "#db2777",
        value: |r| r.p99_ms,
    },
];

/// The chart cards: throughput, latency, and p95 by endpoint when there are several.
/// `events` are the numbered events the charts mark.
pub(super) fn sections(doc: &ResultDoc, events: &[(usize, &Event)], out: &mut String) {
    let ev_note = if events.is_empty() {
        ""
    } else {
        r#"<span><i style="background:#94a3b8;width:2px;height:12px"></i>numbered markers: events (below)</span>"#
    };
    let latency_keys: Vec<Key> = LATENCY_LINES
        .iter()
        .map(|l| (l.name, l.color, ""))
        .collect();
    let _ = write!(
        out,
        r#"<section class="card"><h2>Throughput <small>requests and errors per second, VUs on the right axis</small></h2>{}{}</section>"#,
        legend(&THROUGHPUT_KEYS, ev_note),
        throughput_chart(doc, events).render()
    );
    let _ = write!(
        out,
        r#"<section class="card"><h2>Latency <small>percentiles of each second, all endpoints</small></h2>{}{}</section>"#,
        legend(&latency_keys, ""),
        latency_chart(doc, events).render()
    );
    if doc.endpoints.len() > 1 {
        let keys: Vec<Key> = doc
            .endpoints
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name.as_str(), endpoint_color(i), ""))
            .collect();
        let _ = write!(
            out,
            r#"<section class="card"><h2>p95 by endpoint <small>each second</small></h2>{}{}</section>"#,
            legend(&keys, ""),
            endpoint_p95_chart(doc, events).render()
        );
    }
}

/// A chart's legend; `extra` is appended inside it.
pub(super) fn legend(items: &[Key], extra: &str) -> String {
    let mut out = String::from(r#"<div class="legend">"#);
    for (name, color, style) in items {
        let _ = write!(
            out,
            r#"<span><i class="{style}" style="background:{color}"></i>{}</span>"#,
            esc(name)
        );
    }
    out.push_str(extra);
    out.push_str("</div>");
    out
}

/// `12s–13s`, or `2:05–2:06` on longer runs: the interval a chart point stands for.
pub(super) fn interval_label(t: u64, secs: u64, span: f64) -> String {
    format!(
        "{}–{}",
        fmt_t(t as f64, span),
        fmt_t((t + secs.max(1)) as f64, span)
    )
}

/// At most this many points per chart series; longer timelines are bucketed.
pub(super) const MAX_POINTS: usize = 1200;

/// Buckets of consecutive rows, one chart point each.
fn buckets(rows: &[Row]) -> Vec<&[Row]> {
    let k = rows.len().div_ceil(MAX_POINTS).max(1);
    rows.chunks(k).collect()
}

/// Seconds a bucket covers.
fn bucket_secs(b: &[Row]) -> u64 {
    b.iter().map(|r| r.dt.max(1)).sum()
}

pub(super) fn span_of(doc: &ResultDoc) -> f64 {
    let last = doc
        .timeline
        .last()
        .map(|r| (r.t + r.dt.max(1)) as f64)
        .unwrap_or(0.0);
    last.max(doc.duration_s).max(1.0)
}

/// A chart over the whole run with its events and bands.
fn run_chart<'a>(
    id: &str,
    doc: &ResultDoc,
    events: &[(usize, &'a Event)],
    yfmt: fn(f64) -> String,
) -> (Chart<'a>, f64) {
    let span = span_of(doc);
    let mut c = Chart::new(id, 0.0, span, yfmt);
    c.events = events.to_vec();
    c.bands = bands(doc, span);
    (c, span)
}

/// A value axis from 0 to a round number above `max`.
fn axis_top(max: f64) -> f64 {
    let top = max * 1.08;
    let step = nice_step(top, 4.0);
    (top / step).ceil() * step
}

fn throughput_chart<'a>(doc: &ResultDoc, events: &[(usize, &'a Event)]) -> Chart<'a> {
    let (mut c, span) = run_chart("throughput", doc, events, units::compact);
    let mut ok = Vec::new();
    let mut err = Vec::new();
    let mut vus = Vec::new();
    let (mut ok_t, mut err_t, mut vus_t) = (Vec::new(), Vec::new(), Vec::new());
    let mut ymax: f64 = 0.0;
    let mut vmax: f64 = 0.0;
    let (rows, partial) = whole_seconds(doc);
    for b in buckets(rows) {
        let secs = bucket_secs(b);
        let okn: u64 = b.iter().map(|r| r.ok).sum();
        let errn: u64 = b.iter().map(|r| r.errors).sum();
        let t = b[0].t as f64 + secs as f64 / 2.0;
        let (o, e) = ((okn + errn) as f64 / secs as f64, errn as f64 / secs as f64);
        let v = b.last().map(|r| r.vus).unwrap_or(0) as f64;
        ymax = ymax.max(o);
        vmax = vmax.max(v);
        ok.push((t, Some(o)));
        err.push((t, Some(e)));
        vus.push((t, Some(v)));
        ok_t.push(units::per_s(o));
        err_t.push(units::per_s(e));
        vus_t.push(units::count(v as u64));
        c.labels.push(interval_label(b[0].t, secs, span));
    }
    // One spike would flatten the rest: clip the axis above the usual values and label
    // the peak, which draws past the top.
    let clip = clip_at(&ok.iter().filter_map(|p| p.1).collect::<Vec<_>>());
    c.ymax = axis_top(clip.unwrap_or(ymax).max(1.0));
    c.y2max = if vmax > 0.0 { vmax * 1.15 } else { 0.0 };
    if clip.is_some() {
        let peak = ok
            .iter()
            .enumerate()
            .filter_map(|(i, &(t, v))| v.map(|v| (i, t, v)))
            .max_by(|a, b| a.2.total_cmp(&b.2));
        if let Some((i, t, v)) = peak {
            let text = format!("peak {} at {} (axis clipped)", units::per_s(v), c.labels[i]);
            c.peak = Some((t, text));
        }
    }
    c.note = partial.map(|s| {
        format!(
            "The last {} of the run (a partial second) is not drawn: its rate over a whole second would read as a drop.",
            units::secs(s)
        )
    });
    let [(ok_name, ok_color, _), (err_name, err_color, _), (vus_name, vus_color, _)] =
        THROUGHPUT_KEYS;
    let mut series = vec![
        (ok_name, ok_color, ok, SeriesKind::Area, ok_t),
        (err_name, err_color, err, SeriesKind::Area, err_t),
    ];
    if c.y2max > 0.0 {
        series.push((vus_name, vus_color, vus, SeriesKind::Right, vus_t));
    }
    for (name, color, points, kind, text) in series {
        c.push(Series {
            name: name.into(),
            color: color.into(),
            points,
            kind,
            text,
        });
    }
    c
}

/// The timeline without its last row when that row covers only part of a second (the
/// run ended within it), and how long that part was.
fn whole_seconds(doc: &ResultDoc) -> (&[Row], Option<f64>) {
    match doc.timeline.split_last() {
        Some((last, rest)) if !rest.is_empty() => {
            let covered = doc.duration_s - last.t as f64;
            if covered < last.dt.max(1) as f64 - 0.01 {
                (rest, Some(covered.max(0.0)))
            } else {
                (&doc.timeline, None)
            }
        }
        _ => (&doc.timeline, None),
    }
}

/// Where to clip a chart's axis: above the 95th percentile of `values` (times 1.5) when
/// the largest is more than 3 times that and there are enough points to tell.
fn clip_at(values: &[f64]) -> Option<f64> {
    if values.len() < 10 {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let p95 = sorted[(sorted.len() * 95 / 100).min(sorted.len() - 1)];
    let max = sorted[sorted.len() - 1];
    (p95 > 0.0 && max > 3.0 * p95).then_some(p95 * 1.5)
}

fn latency_chart<'a>(doc: &ResultDoc, events: &[(usize, &'a Event)]) -> Chart<'a> {
    let (mut c, span) = run_chart("latency", doc, events, units::ms_compact);
    let mut series: Vec<Series> = LATENCY_LINES
        .iter()
        .map(|l| Series {
            name: l.name.into(),
            color: l.color.into(),
            points: Vec::new(),
            kind: SeriesKind::Line,
            text: Vec::new(),
        })
        .collect();
    let mut ymax: f64 = 0.0;
    for b in buckets(&doc.timeline) {
        let secs = bucket_secs(b);
        let t = b[0].t as f64 + secs as f64 / 2.0;
        let has = b.iter().any(|r| r.max_ms > 0.0);
        let mut v = 0.0;
        for (s, line) in series.iter_mut().zip(&LATENCY_LINES) {
            v = b.iter().map(line.value).fold(0.0, f64::max);
            s.points.push((t, has.then_some(v)));
            s.text.push(if has { units::ms(v) } else { "–".into() });
        }
        // The axis fits the last, highest line (p99).
        ymax = ymax.max(v);
        c.labels.push(interval_label(b[0].t, secs, span));
    }
    c.ymax = axis_top(ymax.max(0.001));
    for s in series {
        c.push(s);
    }
    c
}

fn endpoint_p95_chart<'a>(doc: &ResultDoc, events: &[(usize, &'a Event)]) -> Chart<'a> {
    let (mut c, span) = run_chart("p95-by-endpoint", doc, events, units::ms_compact);
    let grid: Vec<&[Row]> = buckets(&doc.timeline);
    let mut ymax: f64 = 0.0;
    for b in &grid {
        c.labels.push(interval_label(b[0].t, bucket_secs(b), span));
    }
    for (i, ep) in doc.endpoints.iter().enumerate() {
        let mut points = Vec::new();
        let mut text = Vec::new();
        let mut cur = 0usize;
        for b in &grid {
            let from = b[0].t;
            let to = b.last().map(|r| r.t + r.dt.max(1)).unwrap_or(from + 1);
            let secs = bucket_secs(b);
            let mut v: Option<f64> = None;
            while cur < ep.timeline.len() && ep.timeline[cur].t < to {
                let r = &ep.timeline[cur];
                if r.t >= from && r.max_ms > 0.0 {
                    v = Some(v.unwrap_or(0.0).max(r.p95_ms));
                }
                cur += 1;
            }
            if let Some(x) = v {
                ymax = ymax.max(x);
            }
            points.push((from as f64 + secs as f64 / 2.0, v));
            text.push(v.map(units::ms).unwrap_or_else(|| "–".into()));
        }
        c.push(Series {
            name: ep.name.clone(),
            color: endpoint_color(i).into(),
            points,
            kind: SeriesKind::Line,
            text,
        });
    }
    c.ymax = axis_top(ymax.max(0.001));
    c
}
