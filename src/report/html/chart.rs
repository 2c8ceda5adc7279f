//! One SVG chart over the run's time axis: stacked areas, lines and a dashed right-axis
//! line, pause and spike bands, numbered event markers, a clipped peak, and the data the
//! page's script reads out on hover. The charts of the report fill a [`Chart`] with data
//! (see `charts.rs`); this file only draws.

use std::fmt::Write as _;

use super::esc;
use super::events::event_color;
use crate::metrics::Event;
use crate::units;

/// A step of 1, 2 or 5 times a power of ten giving about `n` intervals over `span`.
pub(super) fn nice_step(span: f64, n: f64) -> f64 {
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

pub(super) fn time_step(span: f64) -> f64 {
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
pub(super) struct Series {
    pub name: String,
    pub color: String,
    /// (t, value); `None` values break the line.
    pub points: Vec<(f64, Option<f64>)>,
    pub kind: SeriesKind,
    /// Text for the read-out at each point.
    pub text: Vec<String>,
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum SeriesKind {
    Line,
    /// Filled down to the axis.
    Area,
    /// A dashed line on the right axis.
    Right,
}

/// A shaded interval of the run (a pause, a spike): from, to, colour, label.
pub(super) type Band = (f64, f64, &'static str, &'static str);

pub(super) struct Chart<'a> {
    id: String,
    w: f64,
    pub h: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    tmin: f64,
    tmax: f64,
    pub ymax: f64,
    pub y2max: f64,
    yfmt: fn(f64) -> String,
    series: Vec<Series>,
    pub events: Vec<(usize, &'a Event)>,
    pub bands: Vec<Band>,
    /// The read-out's heading at each point (the interval it stands for).
    pub labels: Vec<String>,
    /// A clipped axis: where the peak is and what it was.
    pub peak: Option<(f64, String)>,
    /// A line under the chart.
    pub note: Option<String>,
}

impl<'a> Chart<'a> {
    pub fn new(id: &str, tmin: f64, tmax: f64, yfmt: fn(f64) -> String) -> Self {
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

    /// Left and right ends of the plot, and its bottom.
    fn plot(&self) -> (f64, f64, f64) {
        (self.left, self.w - self.right, self.h - self.bottom)
    }

    pub fn push(&mut self, s: Series) {
        self.series.push(s);
    }

    /// The chart as HTML: the SVG, the read-out box and its data, and the note.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            r#"<div class="chart" id="{id}"><svg viewBox="0 0 {w} {h}" role="img" aria-label="{id}" preserveAspectRatio="xMidYMid meet">"#,
            id = esc(&self.id),
            w = self.w,
            h = self.h
        );
        // Bands (pauses, spikes) under everything.
        self.draw_bands(&mut out);
        self.draw_axes(&mut out);
        // Areas first, then lines, then the right-axis lines.
        for kind in [SeriesKind::Area, SeriesKind::Line, SeriesKind::Right] {
            for s in self.series.iter().filter(|s| s.kind == kind) {
                if !s.points.is_empty() {
                    self.draw_series(s, &mut out);
                }
            }
        }
        self.draw_markers(&mut out);
        let (_, _, ybot) = self.plot();
        let _ = write!(
            out,
            r##"<line class="cursor" x1="0" x2="0" y1="{}" y2="{ybot}" stroke="#94a3b8" stroke-width="1" visibility="hidden"/>"##,
            self.top
        );
        self.draw_peak(&mut out);
        out.push_str("</svg><div class=\"tip\"></div>");
        self.write_readout(&mut out);
        if let Some(note) = &self.note {
            let _ = write!(out, r#"<p class="note partial">{}</p>"#, esc(note));
        }
        out
    }

    fn draw_bands(&self, out: &mut String) {
        let (x0, x1, ybot) = self.plot();
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
    }

    /// Grid lines, the value axis (and the right one), the time axis.
    fn draw_axes(&self, out: &mut String) {
        let (x0, x1, ybot) = self.plot();
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
    }

    fn draw_series(&self, s: &Series, out: &mut String) {
        if s.kind == SeriesKind::Area {
            let mut d = String::new();
            for (j, (t, v)) in s.points.iter().enumerate() {
                let _ = write!(
                    d,
                    "{}{:.1},{:.1}",
                    if j == 0 { "M" } else { "L" },
                    self.x(*t),
                    self.y(v.unwrap_or(0.0))
                );
            }
            let line = d.clone();
            for (t, _) in s.points.iter().rev() {
                let _ = write!(d, "L{:.1},{:.1}", self.x(*t), self.y(0.0));
            }
            d.push('Z');
            let _ = write!(
                out,
                r#"<path d="{d}" fill="{c}" fill-opacity="0.16" stroke="none"/><path d="{line}" fill="none" stroke="{c}" stroke-width="1.6" stroke-linejoin="round"/>"#,
                c = s.color
            );
            return;
        }
        let right = s.kind == SeriesKind::Right;
        let mut d = String::new();
        let mut pen = false;
        for (t, v) in &s.points {
            match v {
                Some(v) => {
                    let y = if right { self.y2(*v) } else { self.y(*v) };
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
        let dash = if right {
            r#" stroke-dasharray="5 4""#
        } else {
            ""
        };
        let _ = write!(
            out,
            r#"<path d="{d}" fill="none" stroke="{}" stroke-width="{}"{dash} stroke-linejoin="round" stroke-linecap="round"/>"#,
            s.color,
            if right { 1.4 } else { 1.8 }
        );
    }

    /// Event markers: a line per event and a numbered badge above the plot. Events too
    /// close to tell apart share one badge (`4–9`) whose tooltip lists them all; badges
    /// never overlap.
    fn draw_markers(&self, out: &mut String) {
        let (_, x1, ybot) = self.plot();
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
    }

    fn draw_peak(&self, out: &mut String) {
        let Some((t, text)) = &self.peak else {
            return;
        };
        let (x0, x1, _) = self.plot();
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

    /// The read-out's data for the page's script, in a JSON script element.
    fn write_readout(&self, out: &mut String) {
        let (x0, x1, _) = self.plot();
        let ts: Vec<f64> = self
            .series
            .first()
            .map(|first| first.points.iter().map(|p| p.0).collect())
            .unwrap_or_default();
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
}
