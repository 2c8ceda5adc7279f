//! `--out html`: one self-contained page (inline CSS and SVG, a few lines of inline
//! script for chart read-outs; nothing fetched from the network): the run's header,
//! grade, thresholds and checks, throughput and latency over time with the events
//! marked, the endpoint table, status codes and errors, the comparison with a baseline,
//! and the scenario that ran.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{self, Write};

use super::compare::{started_utc, Comparison, Metric, Verdict};
use super::doc::{ResultDoc, Row, Stats};
use super::markdown::outcome;
use super::text::fmt_metric_value;
use crate::metrics::{Event, EventKind};
use crate::units;

/// Escapes text for HTML (content and attribute values).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
:root{--bg:#f5f6f8;--card:#fff;--line:#e4e7ec;--line2:#eef0f3;--text:#1b2330;--muted:#677185;
--accent:#2563eb;--ok:#15803d;--okbg:#e8f6ed;--err:#dc2626;--errbg:#fdecec;--warn:#b45309;--warnbg:#fdf3e3;
--p50:#0891b2;--p90:#6366f1;--p95:#f59e0b;--p99:#db2777;--vus:#64748b;
--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--text);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","DejaVu Sans",sans-serif}
.wrap{max-width:1180px;margin:0 auto;padding:0 24px}
header.top{background:#111827;color:#e5e7eb;padding:22px 0 20px}
header.top .brand{font:600 12px/1 var(--mono);letter-spacing:.14em;text-transform:uppercase;color:#93c5fd}
header.top h1{margin:6px 0 6px;font-size:26px;font-weight:650;color:#fff;letter-spacing:-.01em}
header.top .meta{color:#aab2c0;font-size:13px;display:flex;flex-wrap:wrap;gap:4px 18px}
header.top .meta b{color:#e5e7eb;font-weight:500}
header.top .row{display:flex;justify-content:space-between;align-items:flex-end;gap:16px;flex-wrap:wrap}
.badges{display:flex;gap:8px;flex-wrap:wrap}
.badge{display:inline-block;padding:4px 10px;border-radius:999px;font-size:12px;font-weight:600;letter-spacing:.02em;white-space:nowrap}
.badge.ok{background:#14532d;color:#bbf7d0}.badge.fail{background:#7f1d1d;color:#fecaca}.badge.warn{background:#78350f;color:#fde68a}.badge.info{background:#1e3a8a;color:#bfdbfe}
main.wrap{padding-top:22px;padding-bottom:8px}
section.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:18px 20px;margin:0 0 18px}
section.card>h2{margin:0 0 12px;font-size:15px;font-weight:650;display:flex;align-items:baseline;gap:10px}
section.card>h2 small{font-weight:400;color:var(--muted);font-size:12.5px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(132px,1fr));gap:12px;margin:0 0 18px}
.kpi{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:12px 14px}
.kpi .l{color:var(--muted);font-size:11.5px;text-transform:uppercase;letter-spacing:.06em}
.kpi .v{font-size:22px;font-weight:650;margin-top:2px;font-variant-numeric:tabular-nums;white-space:nowrap}
.kpi .s{color:var(--muted);font-size:12px;font-variant-numeric:tabular-nums}
.kpi.bad .v{color:var(--err)}
.grid2{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,2fr);gap:18px}
.grid2>section.card{margin:0 0 18px}
@media (max-width:860px){.grid2{grid-template-columns:1fr}}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:6px 8px;text-align:right;white-space:nowrap;border-bottom:1px solid var(--line2)}
table.ep{font-size:13px}
table.ep td,table.ep th{padding:6px 7px}
table.auto{width:auto;min-width:50%}
table.auto td,table.auto th{padding-left:14px;padding-right:14px}
th{font-size:11.5px;font-weight:600;color:var(--muted);text-transform:uppercase;letter-spacing:.04em;border-bottom:1px solid var(--line)}
th.l,td.l{text-align:left}
td.name{font-weight:550}
tbody tr:hover td{background:#f8fafc}
tr.total td{font-weight:650;border-top:2px solid var(--line);border-bottom:0}
td.em{font-weight:650}
td.bad{color:var(--err);font-weight:600}
td.dim,span.dim{color:#a0a7b4}
.m{display:inline-block;min-width:40px;padding:0 5px;margin-right:7px;border-radius:5px;background:#eef2ff;color:#3730a3;font:600 10.5px/1.6 var(--mono);text-align:center;vertical-align:1px}
.scroll{overflow-x:auto}
.pill{display:inline-block;padding:1px 8px;border-radius:999px;font-size:11.5px;font-weight:650}
.pill.pass{background:var(--okbg);color:var(--ok)}.pill.fail{background:var(--errbg);color:var(--err)}.pill.same{background:#f1f5f9;color:#64748b}
code{font-family:var(--mono);font-size:12.5px;background:#f3f4f6;padding:1px 5px;border-radius:4px}
.chart{position:relative}
.chart svg{display:block;width:100%;height:auto;overflow:visible}
.chart .tip{position:absolute;pointer-events:none;background:rgba(17,24,39,.94);color:#f3f4f6;font-size:12px;padding:7px 9px;border-radius:7px;white-space:nowrap;display:none;z-index:2;font-variant-numeric:tabular-nums;box-shadow:0 4px 14px rgba(0,0,0,.18)}
.chart .tip b{font-weight:600}
.chart .tip i{display:inline-block;width:9px;height:9px;border-radius:2px;margin-right:6px}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12.5px;color:var(--muted);margin:2px 0 8px}
.legend span{display:inline-flex;align-items:center;gap:6px}
.legend i{display:inline-block;width:14px;height:3px;border-radius:2px}
.legend i.box{height:10px;width:10px;border-radius:2px}
.legend i.dash{background:repeating-linear-gradient(90deg,var(--vus) 0 4px,transparent 4px 7px)!important}
svg text{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,"DejaVu Sans",sans-serif}
.ax{font-size:11px;fill:#7b8496}
.grid line{stroke:#edf0f4}
.mk line{stroke-width:1.2;stroke-dasharray:4 3}
.mk text{font-size:10px;font-weight:700;fill:#fff}
.ev td.n span{display:inline-block;width:20px;height:20px;line-height:20px;border-radius:50%;color:#fff;font-size:11px;font-weight:700;text-align:center}
.grade{display:flex;gap:18px;align-items:center}
.grade .letter{width:76px;height:76px;border-radius:18px;display:flex;align-items:center;justify-content:center;font-size:40px;font-weight:750;color:#fff;flex:none}
.grade .score{font-size:13px;color:var(--muted)}
.grade .score b{font-size:22px;color:var(--text)}
.parts{margin-top:12px;display:grid;gap:7px}
.part{display:grid;grid-template-columns:140px 1fr 40px;gap:10px;align-items:center;font-size:12.5px}
.bar{height:7px;background:#eef0f3;border-radius:4px;overflow:hidden}.bar b{display:block;height:100%;border-radius:4px}
.part .d{grid-column:2/4;color:var(--muted);font-size:11.5px;margin-top:-5px}
pre.code{margin:0;max-height:640px;overflow:auto;padding:14px 16px;background:#0f172a;color:#e2e8f0;border-radius:9px;font:12.5px/1.55 var(--mono);overflow-x:auto;white-space:pre}
pre.code .c{color:#7c8aa5}pre.code .h{color:#93c5fd;font-weight:600}pre.code .k{color:#fcd34d}pre.code .s{color:#86efac}
ul.errs{list-style:none;margin:10px 0 0;padding:0;font-size:12.5px}
ul.errs li{padding:5px 0;border-bottom:1px solid var(--line2);display:grid;grid-template-columns:60px 150px 150px 1fr;gap:10px}
ul.errs li span{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
ul.errs .t{color:var(--muted);text-align:right;font-variant-numeric:tabular-nums}
h3{font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);margin:16px 0 6px;font-weight:600}
.note{color:var(--muted);font-size:12.5px;margin:8px 0 0}
table.cmp{font-size:13px}
table.cmp td{padding:6px 8px;vertical-align:top}
table.cmp td .v{font-weight:600}
table.cmp td .d{font-size:11.5px;font-weight:600}
table.cmp td .d span{display:block;font-weight:400;color:var(--muted)}
table.cmp td.worse{background:#fef0f0}table.cmp td.worse .d{color:var(--err)}
table.cmp td.better{background:#effaf3}table.cmp td.better .d{color:var(--ok)}
table.cmp td.same{background:#f7f8fa}table.cmp td.same .d{color:#7b8496}
table.cmp td.noise{background:#fff;color:var(--muted)}table.cmp td.noise .d{color:#a0a7b4;font-style:italic}
table.cmp td.name{vertical-align:middle}
table.cmp tbody tr td{border-bottom:2px solid #fff}
tr.worse td{background:#fff7f7}
footer{color:var(--muted);font-size:12px;padding:6px 0 28px;text-align:center}
@media print{body{background:#fff}section.card,.kpi{break-inside:avoid}.chart .tip{display:none!important}}
"#;

/// Chart read-outs: on hover, the values of the nearest interval.
const SCRIPT: &str = r#"
(function(){
  document.querySelectorAll('.chart').forEach(function(box){
    var src = box.querySelector('script[type="application/json"]');
    var svg = box.querySelector('svg');
    var tip = box.querySelector('.tip');
    if (!src || !svg || !tip) return;
    var d = JSON.parse(src.textContent);
    var cursor = svg.querySelector('.cursor');
    function hide(){ tip.style.display = 'none'; if (cursor) cursor.setAttribute('visibility', 'hidden'); }
    svg.addEventListener('mouseleave', hide);
    svg.addEventListener('mousemove', function(ev){
      var r = svg.getBoundingClientRect();
      var vx = (ev.clientX - r.left) * d.w / r.width;
      if (vx < d.x0 || vx > d.x1 || !d.t.length) { hide(); return; }
      var t = d.tmin + (vx - d.x0) / (d.x1 - d.x0) * (d.tmax - d.tmin);
      var lo = 0, hi = d.t.length - 1;
      while (lo < hi) { var mid = (lo + hi) >> 1; if (d.t[mid] < t) lo = mid + 1; else hi = mid; }
      if (lo > 0 && Math.abs(d.t[lo - 1] - t) < Math.abs(d.t[lo] - t)) lo--;
      var x = d.x0 + (d.t[lo] - d.tmin) / ((d.tmax - d.tmin) || 1) * (d.x1 - d.x0);
      if (cursor) { cursor.setAttribute('x1', x); cursor.setAttribute('x2', x); cursor.setAttribute('visibility', 'visible'); }
      var html = '<b>' + d.label[lo] + '</b>';
      d.series.forEach(function(s){
        html += '<br><i style="background:' + s.color + '"></i>' + s.name + ' ' + s.text[lo];
      });
      tip.innerHTML = html;
      tip.style.display = 'block';
      var px = x * r.width / d.w;
      var left = px + 14;
      if (left + tip.offsetWidth > r.width) left = px - tip.offsetWidth - 14;
      tip.style.left = left + 'px';
      tip.style.top = '8px';
    });
  });
})();
"#;

/// Colours of per-endpoint series.
const PALETTE: &[&str] = &[
    "#2563eb", "#f59e0b", "#10b981", "#db2777", "#8b5cf6", "#0891b2", "#ef4444", "#84cc16",
    "#64748b", "#d946ef",
];

/// Every kind is named, so a new kind cannot go uncoloured by accident (`set_rate` once
/// did, when kinds were strings).
fn event_color(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::Pause | EventKind::Resume => "#64748b",
        EventKind::Spike | EventKind::SpikeEnd => "#a21caf",
        EventKind::SetVus | EventKind::SetRate => "#2563eb",
        EventKind::Stop | EventKind::Abort => "#dc2626",
        EventKind::End => "#0f766e",
        EventKind::Start
        | EventKind::Stage
        | EventKind::Done
        | EventKind::Monitor
        | EventKind::Other(_) => "#b45309",
    }
}

/// Events drawn on the charts (the run's start and final "done" are implied).
fn marked_events(doc: &ResultDoc) -> Vec<&Event> {
    doc.events.iter().filter(|e| e.kind.is_marked()).collect()
}

/// A step of 1, 2 or 5 times a power of ten giving about `n` intervals over `span`.
fn nice_step(span: f64, n: f64) -> f64 {
    if span <= 0.0 || !span.is_finite() {
        return 1.0;
    }
    let raw = span / n;
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    let f = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    f * p
}

fn time_step(span: f64) -> f64 {
    const STEPS: &[f64] = &[
        1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
        10800.0, 21600.0, 43200.0, 86400.0,
    ];
    STEPS
        .iter()
        .copied()
        .find(|s| span / s <= 10.0)
        .unwrap_or(86400.0)
}

/// Seconds since the start as `45s`, `2:30` or `1:05:00`.
pub fn fmt_t(t: f64, span: f64) -> String {
    let s = t.round() as u64;
    if span <= 90.0 {
        format!("{s}s")
    } else if s < 3600 && span < 3600.0 {
        format!("{}:{:02}", s / 60, s % 60)
    } else {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    }
}

/// A point series of a chart.
struct Series {
    name: String,
    color: String,
    /// (t, value); `None` values break the line.
    points: Vec<(f64, Option<f64>)>,
    kind: SeriesKind,
    /// Text for the read-out at each point.
    text: Vec<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum SeriesKind {
    Line,
    /// Filled down to `base` (stacked areas pass the series below as base).
    Area,
    /// A dashed line on the right axis.
    Right,
}

struct Chart<'a> {
    id: String,
    w: f64,
    h: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    tmin: f64,
    tmax: f64,
    ymax: f64,
    y2max: f64,
    yfmt: fn(f64) -> String,
    series: Vec<Series>,
    /// Stacked areas: index of the series each area sits on.
    stack_on: Vec<Option<usize>>,
    events: Vec<(usize, &'a Event)>,
    bands: Vec<(f64, f64, &'static str, &'static str)>,
    labels: Vec<String>,
    /// A clipped axis: where the peak is and what it was.
    peak: Option<(f64, String)>,
    /// A line under the chart.
    note: Option<String>,
}

impl<'a> Chart<'a> {
    fn new(id: &str, tmin: f64, tmax: f64, yfmt: fn(f64) -> String) -> Self {
        Chart {
            id: id.into(),
            w: 1100.0,
            h: 250.0,
            left: 62.0,
            right: 44.0,
            top: 26.0,
            bottom: 30.0,
            tmin,
            tmax: if tmax > tmin { tmax } else { tmin + 1.0 },
            ymax: 1.0,
            y2max: 0.0,
            yfmt,
            series: Vec::new(),
            stack_on: Vec::new(),
            events: Vec::new(),
            bands: Vec::new(),
            labels: Vec::new(),
            peak: None,
            note: None,
        }
    }

    fn x(&self, t: f64) -> f64 {
        self.left + (t - self.tmin) / (self.tmax - self.tmin) * (self.w - self.left - self.right)
    }

    fn y(&self, v: f64) -> f64 {
        let h = self.h - self.top - self.bottom;
        self.top + h - (v / self.ymax).clamp(0.0, 1.02) * h
    }

    fn y2(&self, v: f64) -> f64 {
        let h = self.h - self.top - self.bottom;
        self.top + h - (v / self.y2max.max(1e-9)).clamp(0.0, 1.02) * h
    }

    fn push(&mut self, s: Series, stack_on: Option<usize>) {
        self.series.push(s);
        self.stack_on.push(stack_on);
    }

    /// The value of series `i` at point `j`, stacked on the series below it.
    fn stacked(&self, i: usize, j: usize) -> f64 {
        let own = self.series[i].points[j].1.unwrap_or(0.0);
        match self.stack_on[i] {
            Some(b) => own + self.stacked(b, j),
            None => own,
        }
    }

    fn render(&self, out: &mut String) {
        let (w, h) = (self.w, self.h);
        let x0 = self.left;
        let x1 = w - self.right;
        let ybot = h - self.bottom;
        let _ = write!(
            out,
            r#"<div class="chart" id="{id}"><svg viewBox="0 0 {w} {h}" role="img" aria-label="{id}" preserveAspectRatio="xMidYMid meet">"#,
            id = esc(&self.id)
        );
        // Bands (pauses, spikes) under everything.
        for &(a, b, color, label) in &self.bands {
            let (xa, xb) = (self.x(a).max(x0), self.x(b).min(x1));
            if xb > xa {
                let _ = write!(
                    out,
                    r#"<rect x="{xa:.1}" y="{top}" width="{:.1}" height="{:.1}" fill="{color}" opacity="0.08"><title>{label}</title></rect>"#,
                    xb - xa,
                    ybot - self.top,
                    top = self.top
                );
            }
        }
        // Grid and axes.
        out.push_str(r#"<g class="grid">"#);
        let ystep = nice_step(self.ymax, 4.0);
        let mut v = 0.0;
        let mut yticks = Vec::new();
        while v <= self.ymax * 1.0001 {
            let y = self.y(v);
            let _ = write!(
                out,
                r#"<line x1="{x0}" x2="{x1}" y1="{y:.1}" y2="{y:.1}"/>"#
            );
            yticks.push((y, (self.yfmt)(v)));
            v += ystep;
        }
        out.push_str("</g>");
        let _ = write!(
            out,
            r##"<line x1="{x0}" x2="{x1}" y1="{ybot}" y2="{ybot}" stroke="#c9ced6"/>"##
        );
        for (y, label) in yticks {
            let _ = write!(
                out,
                r#"<text class="ax" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                x0 - 8.0,
                y + 3.5,
                esc(&label)
            );
        }
        if self.y2max > 0.0 {
            let step = nice_step(self.y2max, 4.0);
            let mut v = 0.0;
            while v <= self.y2max * 1.0001 {
                let _ = write!(
                    out,
                    r#"<text class="ax" x="{:.1}" y="{:.1}" text-anchor="start">{}</text>"#,
                    x1 + 8.0,
                    self.y2(v) + 3.5,
                    units::compact(v)
                );
                v += step;
            }
        }
        let span = self.tmax - self.tmin;
        let tstep = time_step(span);
        let mut t = (self.tmin / tstep).ceil() * tstep;
        while t <= self.tmax + 1e-9 {
            let x = self.x(t);
            let _ = write!(
                out,
                r##"<line x1="{x:.1}" x2="{x:.1}" y1="{ybot}" y2="{:.1}" stroke="#c9ced6"/><text class="ax" x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                ybot + 4.0,
                ybot + 17.0,
                fmt_t(t, span)
            );
            t += tstep;
        }
        // Areas first (stacked from the bottom), then lines, then the right-axis lines.
        for kind in [SeriesKind::Area, SeriesKind::Line, SeriesKind::Right] {
            for (i, s) in self.series.iter().enumerate() {
                if s.kind != kind || s.points.is_empty() {
                    continue;
                }
                match kind {
                    SeriesKind::Area => {
                        let mut d = String::new();
                        for (j, (t, _)) in s.points.iter().enumerate() {
                            let _ = write!(
                                d,
                                "{}{:.1},{:.1}",
                                if j == 0 { "M" } else { "L" },
                                self.x(*t),
                                self.y(self.stacked(i, j))
                            );
                        }
                        let line = d.clone();
                        for (j, (t, _)) in s.points.iter().enumerate().rev() {
                            let base = match self.stack_on[i] {
                                Some(b) => self.stacked(b, j),
                                None => 0.0,
                            };
                            let _ = write!(d, "L{:.1},{:.1}", self.x(*t), self.y(base));
                        }
                        d.push('Z');
                        let _ = write!(
                            out,
                            r#"<path d="{d}" fill="{c}" fill-opacity="0.16" stroke="none"/><path d="{line}" fill="none" stroke="{c}" stroke-width="1.6" stroke-linejoin="round"/>"#,
                            c = s.color
                        );
                    }
                    SeriesKind::Line | SeriesKind::Right => {
                        let mut d = String::new();
                        let mut pen = false;
                        for (t, v) in &s.points {
                            match v {
                                Some(v) => {
                                    let y = if kind == SeriesKind::Right {
                                        self.y2(*v)
                                    } else {
                                        self.y(*v)
                                    };
                                    let _ = write!(
                                        d,
                                        "{}{:.1},{:.1}",
                                        if pen { "L" } else { "M" },
                                        self.x(*t),
                                        y
                                    );
                                    pen = true;
                                }
                                None => pen = false,
                            }
                        }
                        let dash = if kind == SeriesKind::Right {
                            r#" stroke-dasharray="5 4""#
                        } else {
                            ""
                        };
                        let _ = write!(
                            out,
                            r#"<path d="{d}" fill="none" stroke="{}" stroke-width="{}"{dash} stroke-linejoin="round" stroke-linecap="round"/>"#,
                            s.color,
                            if kind == SeriesKind::Right { 1.4 } else { 1.8 }
                        );
                    }
                }
            }
        }
        // Event markers: a line per event and a numbered badge above the plot. Events too
        // close to tell apart share one badge (`4–9`) whose tooltip lists them all;
        // badges never overlap.
        out.push_str(r#"<g class="mk">"#);
        let cy = self.top - 11.0;
        let mut free_x = f64::NEG_INFINITY;
        for cluster in marker_clusters(&self.events, |t| self.x(t.clamp(self.tmin, self.tmax))) {
            let (first, last) = (cluster[0], cluster[cluster.len() - 1]);
            let label = if cluster.len() == 1 {
                first.0.to_string()
            } else {
                format!("{}–{}", first.0, last.0)
            };
            let bw = (label.chars().count() as f64 * 6.5 + 9.0).max(16.0);
            let x = self.x(first.1.t.clamp(self.tmin, self.tmax));
            let cx = (x.max(free_x + bw / 2.0 + 2.0)).min(x1 + self.right - bw / 2.0);
            free_x = cx + bw / 2.0;
            let color = if cluster.len() == 1 {
                event_color(&first.1.kind)
            } else {
                "#475569"
            };
            let title: Vec<String> = cluster
                .iter()
                .map(|(n, e)| format!("{n}. {} {} {}", units::secs(e.t), e.kind, e.detail))
                .collect();
            let _ = write!(
                out,
                r#"<g class="ev" data-n="{label}" data-x0="{:.1}" data-x1="{:.1}"><title>{}</title>"#,
                cx - bw / 2.0,
                cx + bw / 2.0,
                esc(&title.join("\n"))
            );
            for (_, e) in &cluster {
                let x = self.x(e.t.clamp(self.tmin, self.tmax));
                let _ = write!(
                    out,
                    r#"<line x1="{x:.1}" x2="{x:.1}" y1="{:.1}" y2="{ybot}" stroke="{}"/>"#,
                    self.top - 3.0,
                    event_color(&e.kind)
                );
            }
            let _ = write!(
                out,
                r#"<rect x="{:.1}" y="{:.1}" width="{bw:.1}" height="16" rx="8" fill="{color}"/><text x="{cx:.1}" y="{:.1}" text-anchor="middle">{label}</text></g>"#,
                cx - bw / 2.0,
                cy - 8.0,
                cy + 3.5,
            );
        }
        out.push_str("</g>");
        let _ = write!(
            out,
            r##"<line class="cursor" x1="0" x2="0" y1="{}" y2="{ybot}" stroke="#94a3b8" stroke-width="1" visibility="hidden"/>"##,
            self.top
        );
        if let Some((t, text)) = &self.peak {
            let x = self.x(*t);
            let anchor = if x > (x0 + x1) / 2.0 { "end" } else { "start" };
            let dx = if anchor == "end" { -6.0 } else { 6.0 };
            let _ = write!(
                out,
                r##"<g class="peak"><path d="M{:.1},{:.1}l-4,6h8z" fill="#1e293b"/><text class="ax" x="{:.1}" y="{:.1}" text-anchor="{anchor}" fill="#1e293b">{}</text></g>"##,
                x,
                self.top - 1.0,
                x + dx,
                self.top + 12.0,
                esc(text)
            );
        }
        out.push_str("</svg><div class=\"tip\"></div>");
        // Read-out data for the script.
        let mut ts = Vec::new();
        if let Some(first) = self.series.first() {
            ts = first.points.iter().map(|p| p.0).collect();
        }
        let data = serde_json::json!({
            "w": self.w, "x0": x0, "x1": x1, "tmin": self.tmin, "tmax": self.tmax,
            "t": ts,
            "label": self.labels,
            "series": self.series.iter().map(|s| serde_json::json!({
                "name": s.name, "color": s.color, "text": s.text,
            })).collect::<Vec<_>>(),
        });
        // `</` cannot appear inside a script element.
        let json = data.to_string().replace("</", "<\\/");
        let _ = write!(
            out,
            r#"<script type="application/json">{json}</script></div>"#
        );
        if let Some(note) = &self.note {
            let _ = write!(out, r#"<p class="note partial">{}</p>"#, esc(note));
        }
    }
}

/// Closer than this (pixels) to the first event of a group, an event joins the group.
const MARKER_GAP: f64 = 20.0;

/// Groups events whose markers would overlap: each group starts at an event and takes
/// the following ones within [`MARKER_GAP`] pixels of it (`x` maps a time to pixels).
fn marker_clusters<'e, 'a>(
    events: &'e [(usize, &'a Event)],
    x: impl Fn(f64) -> f64,
) -> Vec<Vec<&'e (usize, &'a Event)>> {
    let mut out: Vec<Vec<&(usize, &Event)>> = Vec::new();
    let mut start = f64::NEG_INFINITY;
    for ev in events {
        let xe = x(ev.1.t);
        match out.last_mut() {
            Some(group) if xe - start < MARKER_GAP => group.push(ev),
            _ => {
                start = xe;
                out.push(vec![ev]);
            }
        }
    }
    out
}

/// `12s–13s`, or `2:05–2:06` on longer runs: the interval a chart point stands for.
fn interval_label(t: u64, secs: u64, span: f64) -> String {
    format!(
        "{}–{}",
        fmt_t(t as f64, span),
        fmt_t((t + secs.max(1)) as f64, span)
    )
}

/// At most this many points per chart series; longer timelines are bucketed.
const MAX_POINTS: usize = 1200;

/// Buckets of consecutive rows, each summarized by `f`.
fn buckets(rows: &[Row]) -> Vec<&[Row]> {
    let k = rows.len().div_ceil(MAX_POINTS).max(1);
    rows.chunks(k).collect()
}

/// Pause and spike intervals, from the events.
fn bands(doc: &ResultDoc, end: f64) -> Vec<(f64, f64, &'static str, &'static str)> {
    let mut out = Vec::new();
    let mut open: Option<(f64, &str)> = None;
    let mut spike: Option<f64> = None;
    for e in &doc.events {
        match e.kind {
            EventKind::Pause => open = Some((e.t, "paused")),
            EventKind::Resume => {
                if let Some((a, _)) = open.take() {
                    out.push((a, e.t, "#64748b", "paused"));
                }
            }
            EventKind::Spike => spike = Some(e.t),
            EventKind::SpikeEnd => {
                if let Some(a) = spike.take() {
                    out.push((a, e.t, "#a21caf", "spike"));
                }
            }
            _ => {}
        }
    }
    if let Some((a, _)) = open {
        out.push((a, end, "#64748b", "paused"));
    }
    if let Some(a) = spike {
        out.push((a, end, "#a21caf", "spike"));
    }
    out
}

fn span_of(doc: &ResultDoc) -> f64 {
    let last = doc
        .timeline
        .last()
        .map(|r| (r.t + r.dt.max(1)) as f64)
        .unwrap_or(0.0);
    last.max(doc.duration_s).max(1.0)
}

fn throughput_chart(doc: &ResultDoc, events: &[(usize, &Event)]) -> String {
    let span = span_of(doc);
    let mut c = Chart::new("throughput", 0.0, span, units::compact);
    c.events = events.to_vec();
    c.bands = bands(doc, span);
    let mut ok = Vec::new();
    let mut err = Vec::new();
    let mut vus = Vec::new();
    let (mut ok_t, mut err_t, mut vus_t) = (Vec::new(), Vec::new(), Vec::new());
    let mut ymax: f64 = 0.0;
    let mut vmax: f64 = 0.0;
    let (rows, partial) = whole_seconds(doc);
    for b in buckets(rows) {
        let secs: u64 = b.iter().map(|r| r.dt.max(1)).sum();
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
    let top = clip.unwrap_or(ymax).max(1.0) * 1.08;
    let step = nice_step(top, 4.0);
    c.ymax = (top / step).ceil() * step;
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
    c.push(
        Series {
            name: "requests".into(),
            color: "#2563eb".into(),
            points: ok,
            kind: SeriesKind::Area,
            text: ok_t,
        },
        None,
    );
    c.push(
        Series {
            name: "errors".into(),
            color: "#dc2626".into(),
            points: err,
            kind: SeriesKind::Area,
            text: err_t,
        },
        None,
    );
    if c.y2max > 0.0 {
        c.push(
            Series {
                name: "VUs".into(),
                color: "#64748b".into(),
                points: vus,
                kind: SeriesKind::Right,
                text: vus_t,
            },
            None,
        );
    }
    let mut out = String::new();
    c.render(&mut out);
    out
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

fn latency_chart(doc: &ResultDoc, events: &[(usize, &Event)]) -> String {
    let span = span_of(doc);
    let mut c = Chart::new("latency", 0.0, span, units::ms_compact);
    c.events = events.to_vec();
    c.bands = bands(doc, span);
    let names = ["p50", "p90", "p95", "p99"];
    let colors = ["#0891b2", "#6366f1", "#f59e0b", "#db2777"];
    let mut pts: Vec<Vec<(f64, Option<f64>)>> = vec![Vec::new(); 4];
    let mut texts: Vec<Vec<String>> = vec![Vec::new(); 4];
    let mut ymax: f64 = 0.0;
    for b in buckets(&doc.timeline) {
        let secs: u64 = b.iter().map(|r| r.dt.max(1)).sum();
        let t = b[0].t as f64 + secs as f64 / 2.0;
        let has = b.iter().any(|r| r.max_ms > 0.0);
        let vals = [
            b.iter().map(|r| r.p50_ms).fold(0.0, f64::max),
            b.iter().map(|r| r.p90_ms).fold(0.0, f64::max),
            b.iter().map(|r| r.p95_ms).fold(0.0, f64::max),
            b.iter().map(|r| r.p99_ms).fold(0.0, f64::max),
        ];
        for i in 0..4 {
            pts[i].push((t, has.then_some(vals[i])));
            texts[i].push(if has {
                units::ms(vals[i])
            } else {
                "–".into()
            });
        }
        ymax = ymax.max(vals[3]);
        c.labels.push(interval_label(b[0].t, secs, span));
    }
    let top = ymax.max(0.001) * 1.08;
    let step = nice_step(top, 4.0);
    c.ymax = (top / step).ceil() * step;
    for i in 0..4 {
        c.push(
            Series {
                name: names[i].into(),
                color: colors[i].into(),
                points: std::mem::take(&mut pts[i]),
                kind: SeriesKind::Line,
                text: std::mem::take(&mut texts[i]),
            },
            None,
        );
    }
    let mut out = String::new();
    c.render(&mut out);
    out
}

fn endpoint_p95_chart(doc: &ResultDoc, events: &[(usize, &Event)]) -> String {
    let span = span_of(doc);
    let mut c = Chart::new("p95-by-endpoint", 0.0, span, units::ms_compact);
    c.events = events.to_vec();
    c.bands = bands(doc, span);
    let grid: Vec<&[Row]> = buckets(&doc.timeline);
    let mut ymax: f64 = 0.0;
    for b in &grid {
        let secs: u64 = b.iter().map(|r| r.dt.max(1)).sum();
        c.labels.push(interval_label(b[0].t, secs, span));
    }
    for (i, ep) in doc.endpoints.iter().enumerate() {
        let mut points = Vec::new();
        let mut text = Vec::new();
        let mut cur = 0usize;
        for b in &grid {
            let from = b[0].t;
            let to = b.last().map(|r| r.t + r.dt.max(1)).unwrap_or(from + 1);
            let secs: u64 = b.iter().map(|r| r.dt.max(1)).sum();
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
        c.push(
            Series {
                name: ep.name.clone(),
                color: PALETTE[i % PALETTE.len()].into(),
                points,
                kind: SeriesKind::Line,
                text,
            },
            None,
        );
    }
    let top = ymax.max(0.001) * 1.08;
    let step = nice_step(top, 4.0);
    c.ymax = (top / step).ceil() * step;
    let mut out = String::new();
    c.render(&mut out);
    out
}

fn legend(items: &[(&str, &str, &str)]) -> String {
    let mut out = String::from(r#"<div class="legend">"#);
    for (name, color, style) in items {
        let _ = write!(
            out,
            r#"<span><i class="{style}" style="background:{color}"></i>{}</span>"#,
            esc(name)
        );
    }
    out.push_str("</div>");
    out
}

fn kpi(out: &mut String, label: &str, value: &str, sub: &str, bad: bool) {
    let _ = write!(
        out,
        r#"<div class="kpi{}"><div class="l">{}</div><div class="v">{}</div><div class="s">{}</div></div>"#,
        if bad { " bad" } else { "" },
        esc(label),
        esc(value),
        esc(sub)
    );
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
    if score >= 90.0 {
        "#15803d"
    } else if score >= 75.0 {
        "#65a30d"
    } else if score >= 60.0 {
        "#ca8a04"
    } else if score >= 40.0 {
        "#ea580c"
    } else {
        "#dc2626"
    }
}

fn endpoint_row(out: &mut String, s: &Stats, total: bool) {
    let l = &s.latency_ms;
    let ms =
        |v: f64, class: &str| format!(r#"<td class="{class}" data-v="{v}">{}</td>"#, l.shown(v));
    let _ = write!(
        out,
        r#"<tr class="{}" data-endpoint="{}" data-requests="{}" data-ok="{}" data-errors="{}" data-count="{}" data-p50="{}" data-p90="{}" data-p95="{}" data-p99="{}" data-max="{}">"#,
        if total { "total" } else { "" },
        esc(&s.name),
        s.requests,
        s.ok,
        s.errors,
        l.count,
        l.p50,
        l.p90,
        l.p95,
        l.p99,
        l.max
    );
    let _ = write!(
        out,
        r#"<td class="l name">{}{}</td><td>{}</td><td>{}</td><td class="{}">{}</td><td class="{}">{}</td>"#,
        if s.method.is_empty() {
            String::new()
        } else {
            format!(r#"<span class="m">{}</span>"#, esc(&s.method))
        },
        esc(&s.name),
        units::count(s.requests),
        units::rate(s.rps),
        if s.errors > 0 { "bad" } else { "dim" },
        units::count(s.errors),
        if s.errors > 0 { "bad" } else { "dim" },
        units::percent(s.error_rate)
    );
    out.push_str(&ms(l.min, ""));
    out.push_str(&ms(l.mean, ""));
    out.push_str(&ms(l.p50, ""));
    out.push_str(&ms(l.p90, ""));
    out.push_str(&ms(l.p95, "em"));
    out.push_str(&ms(l.p99, ""));
    out.push_str(&ms(l.p999, ""));
    out.push_str(&ms(l.max, ""));
    let _ = write!(
        out,
        "<td>{}</td></tr>",
        units::bytes(s.bytes_received as f64)
    );
}

/// A light TOML highlighter for the scenario text.
fn highlight_toml(src: &str) -> String {
    let mut out = String::new();
    for line in src.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('#') {
            let _ = write!(out, r#"<span class="c">{}</span>"#, esc(line));
        } else if trimmed.starts_with('[') {
            let (code, comment) = split_comment(line);
            let _ = write!(out, r#"<span class="h">{}</span>"#, esc(code));
            if !comment.is_empty() {
                let _ = write!(out, r#"<span class="c">{}</span>"#, esc(comment));
            }
        } else if let Some(eq) = line.find('=').filter(|_| !trimmed.is_empty()) {
            let (key, rest) = line.split_at(eq);
            let (value, comment) = split_comment(rest);
            let _ = write!(
                out,
                r#"<span class="k">{}</span>{}"#,
                esc(key),
                highlight_strings(value)
            );
            if !comment.is_empty() {
                let _ = write!(out, r#"<span class="c">{}</span>"#, esc(comment));
            }
        } else {
            out.push_str(&highlight_strings(line));
        }
        out.push('\n');
    }
    out
}

/// Splits a line at a `#` that is outside quotes.
fn split_comment(line: &str) -> (&str, &str) {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q && prev != '\\' => quote = None,
            (None, '#') => return line.split_at(i),
            _ => {}
        }
        prev = c;
    }
    (line, "")
}

fn highlight_strings(s: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let mut buf = String::new();
    let mut prev = ' ';
    for c in s.chars() {
        match quote {
            None if c == '"' || c == '\'' => {
                out.push_str(&esc(&buf));
                buf.clear();
                buf.push(c);
                quote = Some(c);
            }
            Some(q) if c == q && prev != '\\' => {
                buf.push(c);
                let _ = write!(out, r#"<span class="s">{}</span>"#, esc(&buf));
                buf.clear();
                quote = None;
            }
            _ => buf.push(c),
        }
        prev = c;
    }
    out.push_str(&esc(&buf));
    out
}

fn status_class(code: &str) -> &'static str {
    match code.chars().next() {
        Some('2') | Some('1') => "#15803d",
        Some('3') => "#2563eb",
        Some('4') => "#b45309",
        _ => "#dc2626",
    }
}

/// " N attempts were sent again (...)." when a server dropped requests on reused
/// connections.
fn retries_note(t: &super::doc::Stats) -> String {
    if t.retries.total == 0 {
        return String::new();
    }
    format!(
        " {} attempts dropped by the server before any response were sent again ({}): the server got {} attempts.",
        units::count(t.retries.total),
        super::text::map_line(&t.retries.by_reason),
        units::count(t.requests + t.retries.total)
    )
}

fn errors_section(doc: &ResultDoc, out: &mut String) {
    let codes: BTreeSet<&String> = doc.endpoints.iter().flat_map(|e| e.status.keys()).collect();
    // Error kinds that are not HTTP statuses (those are in the status columns).
    let kinds: BTreeSet<&String> = doc
        .endpoints
        .iter()
        .flat_map(|e| e.errors_by_kind.keys())
        .filter(|k| !k.starts_with("http_"))
        .collect();
    out.push_str(r#"<section class="card"><h2>Status codes and errors</h2>"#);
    if codes.is_empty() && kinds.is_empty() {
        out.push_str(r#"<p class="note">No responses were recorded.</p></section>"#);
        return;
    }
    out.push_str(
        r#"<div class="scroll"><table class="auto"><thead><tr><th class="l">endpoint</th>"#,
    );
    for c in &codes {
        let _ = write!(
            out,
            r#"<th><span style="color:{}">{}</span></th>"#,
            status_class(c),
            esc(c)
        );
    }
    for k in &kinds {
        let _ = write!(out, r#"<th style="color:var(--err)">{}</th>"#, esc(k));
    }
    out.push_str("</tr></thead><tbody>");
    let mut all: Vec<&Stats> = doc.endpoints.iter().collect();
    if doc.endpoints.len() > 1 {
        all.push(&doc.totals);
    }
    for (i, s) in all.iter().enumerate() {
        let total = doc.endpoints.len() > 1 && i + 1 == all.len();
        let _ = write!(
            out,
            r#"<tr{}><td class="l name">{}</td>"#,
            if total { r#" class="total""# } else { "" },
            esc(&s.name)
        );
        for c in &codes {
            match s.status.get(*c) {
                Some(n) => {
                    let _ = write!(out, "<td>{}</td>", units::count(*n));
                }
                None => out.push_str(r#"<td class="dim">–</td>"#),
            }
        }
        for k in &kinds {
            match s.errors_by_kind.get(*k) {
                Some(n) => {
                    let _ = write!(out, r#"<td class="bad">{}</td>"#, units::count(*n));
                }
                None => out.push_str(r#"<td class="dim">–</td>"#),
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    let mut recent: Vec<(&str, &crate::metrics::ErrorSample)> = doc
        .endpoints
        .iter()
        .flat_map(|e| e.recent_errors.iter().map(move |r| (e.name.as_str(), r)))
        .collect();
    recent.sort_by(|a, b| b.1.t.total_cmp(&a.1.t));
    if !recent.is_empty() {
        out.push_str(r#"<h3>Recent errors</h3><ul class="errs">"#);
        for (name, r) in recent.iter().take(12) {
            let _ = write!(
                out,
                r#"<li><span class="t">{}</span><span>{}</span><span><code>{}</code></span><span title="{}">{}</span></li>"#,
                units::secs(r.t),
                esc(name),
                esc(&r.kind),
                esc(&r.message),
                esc(&r.message)
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
}

fn comparison_section(c: &Comparison, out: &mut String) {
    let _ = write!(
        out,
        r#"<section class="card" id="comparison"><h2>Compared with the baseline <small>{}</small></h2>"#,
        esc(&c.summary())
    );
    let _ = write!(
        out,
        r#"<p class="note" style="margin:0 0 12px">baseline <b>{}</b> · started {} · {} · {} requests (this run: {}){}. Each cell shows this run's value, the change, and the baseline's value.</p>"#,
        esc(&c.baseline.scenario),
        esc(&started_utc(&c.baseline.started_at)),
        units::secs(c.baseline.duration_s),
        units::count(c.baseline.requests),
        units::count(c.current.requests),
        if c.baseline.file.is_empty() {
            String::new()
        } else {
            format!(" · <code>{}</code>", esc(&c.baseline.file))
        }
    );
    out.push_str(
        r#"<div class="scroll"><table class="cmp"><thead><tr><th class="l">endpoint</th>"#,
    );
    for m in Metric::ALL.into_iter().filter(|m| *m != Metric::Requests) {
        let _ = write!(out, "<th>{}</th>", m.label());
    }
    out.push_str("</tr></thead><tbody>");
    let mut i = 0;
    while i < c.rows.len() {
        let scope = &c.rows[i].scope;
        let _ = write!(
            out,
            r#"<tr{}><td class="l name">{}</td>"#,
            if i == 0 { r#" class="first""# } else { "" },
            esc(scope)
        );
        while i < c.rows.len() && &c.rows[i].scope == scope {
            let r = &c.rows[i];
            i += 1;
            if r.metric == Metric::Requests {
                continue;
            }
            let class = match r.verdict {
                Verdict::Better => "better",
                Verdict::Worse => "worse",
                Verdict::Same => "same",
                Verdict::Info => "info",
                Verdict::Noise => "noise",
            };
            let _ = write!(
                out,
                r#"<td class="{class}" data-scope="{}" data-metric="{}" data-verdict="{class}" title="baseline {} → {}{}"><div class="v">{}</div><div class="d">{} <span>was {}</span></div></td>"#,
                esc(&r.scope),
                r.metric.label(),
                esc(&r.metric.fmt(r.baseline)),
                esc(&r.metric.fmt(r.current)),
                r.ignored
                    .as_deref()
                    .map(|why| format!(" (noise: {})", esc(why)))
                    .unwrap_or_default(),
                esc(&r.metric.fmt(r.current)),
                esc(&r.change_text()),
                esc(&r.metric.fmt(r.baseline)),
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    out.push_str(r#"<div class="legend" style="margin-top:10px"><span><i class="box" style="background:#fbd5d5"></i>worse</span><span><i class="box" style="background:#cdeed9"></i>better</span><span><i class="box" style="background:#e9ecf0"></i>the same, within the tolerance</span><span><i class="box" style="background:#fff;border:1px solid #d5dae1"></i>noise: too small to judge</span></div>"#);
    let ignored = c.ignored_lines();
    if !ignored.is_empty() {
        out.push_str(r#"<p class="note" id="ignored">Ignored as noise (not judged, never a regression):</p><ul class="note">"#);
        for line in &ignored {
            let _ = write!(out, "<li>{}</li>", esc(line));
        }
        out.push_str("</ul>");
    }
    if !c.only_in_baseline.is_empty() {
        let _ = write!(
            out,
            r#"<p class="note">Only in the baseline: {}</p>"#,
            esc(&c.only_in_baseline.join(", "))
        );
    }
    if !c.only_in_current.is_empty() {
        let _ = write!(
            out,
            r#"<p class="note">Only in this run: {}</p>"#,
            esc(&c.only_in_current.join(", "))
        );
    }
    out.push_str("</section>");
}

/// Renders the whole page.
pub fn render_html(doc: &ResultDoc, baseline: Option<&Comparison>) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let (passed, outcome_text) = outcome(doc);
    let _ = write!(
        o,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="generator" content="volley {}"><title>volley · {} · {}</title><style>{CSS}</style></head><body>"#,
        esc(&doc.volley_version),
        esc(&doc.scenario),
        esc(&doc.started_at)
    );
    // Header.
    let state_badge = if doc.partial {
        r#"<span class="badge warn">STOPPED EARLY</span>"#
    } else {
        r#"<span class="badge ok">DONE</span>"#
    };
    let th_badge = if doc.thresholds.is_empty() {
        String::new()
    } else if passed {
        format!(r#"<span class="badge ok">✓ {}</span>"#, esc(&outcome_text))
    } else {
        format!(
            r#"<span class="badge fail">✗ {}</span>"#,
            esc(&outcome_text)
        )
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
    // Key figures.
    let t = &doc.totals;
    o.push_str(r#"<div class="kpis">"#);
    kpi(
        &mut o,
        "requests",
        &units::count(t.requests),
        &match t.aborted {
            0 => format!("{} ok", units::count(t.ok)),
            n => format!("{} ok · {} aborted", units::count(t.ok), units::count(n)),
        },
        false,
    );
    kpi(
        &mut o,
        "throughput",
        &units::per_s(t.rps),
        &format!("{} conns opened", units::count(doc.connections.opened)),
        false,
    );
    kpi(
        &mut o,
        "error rate",
        &units::percent(t.error_rate),
        &format!("{} errors", units::count(t.errors)),
        t.errors > 0,
    );
    kpi(
        &mut o,
        "p50",
        &t.latency_ms.shown(t.latency_ms.p50),
        &format!("mean {}", t.latency_ms.shown(t.latency_ms.mean)),
        false,
    );
    kpi(
        &mut o,
        "p95",
        &t.latency_ms.shown(t.latency_ms.p95),
        &format!("p90 {}", t.latency_ms.shown(t.latency_ms.p90)),
        false,
    );
    kpi(
        &mut o,
        "p99",
        &t.latency_ms.shown(t.latency_ms.p99),
        &format!("max {}", t.latency_ms.shown(t.latency_ms.max)),
        false,
    );
    kpi(
        &mut o,
        "received",
        &units::bytes(t.bytes_received as f64),
        &units::bytes_per_s(t.bytes_received as f64 / doc.duration_s.max(1e-9)),
        false,
    );
    if let Some(d) = doc.dropped_iterations {
        kpi(
            &mut o,
            "dropped",
            &units::count(d),
            "iterations (VUs busy)",
            d > 0,
        );
    }
    o.push_str("</div>");
    if let Some(note) = doc.aborted_note() {
        let _ = write!(o, r#"<p class="note" id="aborted">{}</p>"#, esc(&note));
    }
    // Grade, thresholds and checks.
    let mut verdicts = String::new();
    if let Some(g) = &doc.grade {
        let _ = write!(
            verdicts,
            r#"<section class="card"><h2>Grade</h2><div class="grade"><div class="letter" style="background:{}">{}</div><div class="score"><b>{:.0}</b> / 100</div></div>"#,
            grade_color(&g.letter),
            esc(&g.letter),
            g.score
        );
        if !g.parts.is_empty() {
            verdicts.push_str(r#"<div class="parts">"#);
            for p in &g.parts {
                let _ = write!(
                    verdicts,
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
            verdicts.push_str("</div>");
        }
        verdicts.push_str("</section>");
    }
    let mut right = String::new();
    if !doc.thresholds.is_empty() {
        let _ = write!(
            right,
            r#"<section class="card"><h2>Thresholds <small>{}</small></h2><div class="scroll"><table><thead><tr><th class="l"></th><th class="l">threshold</th><th class="l">on</th><th>value</th></tr></thead><tbody>"#,
            esc(&outcome_text)
        );
        for th in &doc.thresholds {
            let _ = write!(
                right,
                r#"<tr data-threshold="{}" data-passed="{}"><td class="l">{}</td><td class="l"><code>{}</code>{}</td><td class="l">{}</td><td class="{}">{}</td></tr>"#,
                esc(&th.name),
                th.passed,
                if th.passed {
                    r#"<span class="pill pass">pass</span>"#
                } else {
                    r#"<span class="pill fail">fail</span>"#
                },
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
        right.push_str("</tbody></table></div></section>");
    }
    if !doc.checks.is_empty() {
        right.push_str(r#"<section class="card"><h2>Checks</h2><div class="scroll"><table><thead><tr><th class="l"></th><th class="l">check</th><th class="l">endpoint</th><th>passed</th><th>failed</th><th>pass rate</th></tr></thead><tbody>"#);
        for c in &doc.checks {
            let total = c.passes + c.fails;
            let rate = units::fmt_opt(
                (total > 0).then(|| c.passes as f64 / total as f64),
                units::percent,
            );
            let _ = write!(
                right,
                r#"<tr data-check="{}" data-passes="{}" data-fails="{}"><td class="l">{}</td><td class="l">{}</td><td class="l">{}</td><td>{}</td><td class="{}">{}</td><td>{}</td></tr>"#,
                esc(&c.name),
                c.passes,
                c.fails,
                if c.fails == 0 {
                    r#"<span class="pill pass">pass</span>"#
                } else {
                    r#"<span class="pill fail">fail</span>"#
                },
                esc(&c.name),
                esc(&c.endpoint),
                units::count(c.passes),
                if c.fails > 0 { "bad" } else { "dim" },
                units::count(c.fails),
                rate
            );
        }
        right.push_str("</tbody></table></div></section>");
    }
    if !verdicts.is_empty() && !right.is_empty() {
        let _ = write!(
            o,
            r#"<div class="grid2"><div>{verdicts}</div><div>{right}</div></div>"#
        );
    } else {
        o.push_str(&verdicts);
        o.push_str(&right);
    }
    // Charts.
    let events: Vec<(usize, &Event)> = marked_events(doc)
        .into_iter()
        .enumerate()
        .map(|(i, e)| (i + 1, e))
        .collect();
    let ev_note = if events.is_empty() {
        String::new()
    } else {
        r#"<span><i style="background:#94a3b8;width:2px;height:12px"></i>numbered markers: events (below)</span>"#.to_string()
    };
    let _ = write!(
        o,
        r#"<section class="card"><h2>Throughput <small>requests and errors per second, VUs on the right axis</small></h2>{}{}</section>"#,
        legend(&[
            ("requests", "#2563eb", "box"),
            ("errors", "#dc2626", "box"),
            ("VUs", "#64748b", "dash"),
        ])
        .replace("</div>", &format!("{ev_note}</div>")),
        throughput_chart(doc, &events)
    );
    let _ = write!(
        o,
        r#"<section class="card"><h2>Latency <small>percentiles of each second, all endpoints</small></h2>{}{}</section>"#,
        legend(&[
            ("p50", "#0891b2", ""),
            ("p90", "#6366f1", ""),
            ("p95", "#f59e0b", ""),
            ("p99", "#db2777", ""),
        ]),
        latency_chart(doc, &events)
    );
    if doc.endpoints.len() > 1 {
        let items: Vec<(String, &str)> = doc
            .endpoints
            .iter()
            .enumerate()
            .map(|(i, e)| (e.name.clone(), PALETTE[i % PALETTE.len()]))
            .collect();
        let items: Vec<(&str, &str, &str)> =
            items.iter().map(|(n, c)| (n.as_str(), *c, "")).collect();
        let _ = write!(
            o,
            r#"<section class="card"><h2>p95 by endpoint <small>each second</small></h2>{}{}</section>"#,
            legend(&items),
            endpoint_p95_chart(doc, &events)
        );
    }
    // Endpoint table.
    o.push_str(r#"<section class="card"><h2>Endpoints</h2><div class="scroll"><table id="endpoints" class="ep"><thead><tr><th class="l">endpoint</th><th>requests</th><th>rps</th><th>errors</th><th>err %</th><th>min</th><th>mean</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>p99.9</th><th>max</th><th>received</th></tr></thead><tbody>"#);
    for s in &doc.endpoints {
        endpoint_row(&mut o, s, false);
    }
    if doc.endpoints.len() != 1 {
        endpoint_row(&mut o, &doc.totals, true);
    }
    let _ = write!(
        o,
        r#"</tbody></table></div><p class="note">Latency from the start of the request (connecting included, and a first attempt that was sent again) to the last body byte (HDR histograms, 3 significant digits). {} connections opened, {} open at the end.{}</p></section>"#,
        units::count(doc.connections.opened),
        doc.connections
            .open_at_end
            .map_or("unknown (reqwest)".to_string(), units::count),
        retries_note(&doc.totals)
    );
    errors_section(doc, &mut o);
    // Events.
    if !events.is_empty() {
        o.push_str(r#"<section class="card ev"><h2>Events</h2><div class="scroll"><table><thead><tr><th class="l">#</th><th>time</th><th class="l">event</th><th class="l">detail</th></tr></thead><tbody>"#);
        for (n, e) in &events {
            let _ = write!(
                o,
                r#"<tr><td class="l n"><span style="background:{}">{n}</span></td><td>{}</td><td class="l"><code>{}</code></td><td class="l" style="white-space:normal">{}</td></tr>"#,
                event_color(&e.kind),
                units::secs(e.t),
                esc(e.kind.as_str()),
                esc(&e.detail)
            );
        }
        o.push_str("</tbody></table></div></section>");
    }
    if let Some(c) = baseline {
        comparison_section(c, &mut o);
    }
    if doc.scenario_text.is_some() || !doc.overrides.is_empty() {
        let _ = write!(
            o,
            r#"<section class="card" id="scenario"><h2>Scenario <small>{}</small></h2>"#,
            esc(&doc.source)
        );
        if !doc.overrides.is_empty() {
            let list: Vec<String> = doc
                .overrides
                .iter()
                .map(|a| format!("<code>{}</code>", esc(a)))
                .collect();
            let _ = write!(
                o,
                r#"<p class="note" id="overrides" style="margin:0 0 10px">Run with command-line overrides, which replace the scenario's own values: {}</p>"#,
                list.join(" ")
            );
        }
        if let Some(text) = &doc.scenario_text {
            let _ = write!(
                o,
                r#"<pre class="code">{}</pre>"#,
                highlight_toml(text.trim_end())
            );
        }
        o.push_str("</section>");
    }
    let _ = write!(
        o,
        r#"</main><footer>volley {} · result schema {} · rendered from the result document</footer><script>{SCRIPT}</script></body></html>"#,
        esc(&doc.volley_version),
        doc.schema_version
    );
    o.push('\n');
    o
}

/// Writes the page.
pub fn write_html<W: Write>(
    doc: &ResultDoc,
    w: &mut W,
    baseline: Option<&Comparison>,
) -> io::Result<()> {
    w.write_all(render_html(doc, baseline).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps_and_times() {
        assert_eq!(nice_step(100.0, 4.0), 50.0);
        assert_eq!(nice_step(7.0, 4.0), 2.0);
        assert_eq!(time_step(60.0), 10.0);
        assert_eq!(time_step(300.0), 30.0);
        assert_eq!(fmt_t(75.0, 60.0), "75s");
        assert_eq!(fmt_t(75.0, 300.0), "1:15");
        assert_eq!(fmt_t(3725.0, 7200.0), "1:02:05");
    }

    #[test]
    fn toml_highlighting_escapes() {
        let h = highlight_toml("name = \"<b>\" # c\n[load]\n");
        assert!(h.contains("&lt;b&gt;"));
        assert!(!h.contains("<b>"));
        assert!(h.contains(r#"<span class="h">[load]</span>"#));
    }
}
