//! Detail of one endpoint: latency distribution, phases, percentiles, status codes,
//! recent errors.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::panel;
use super::series::RunTime;
use crate::ui::app::App;
use crate::units;

/// The detail view of the selected endpoint.
pub struct Detail<'a> {
    /// The console state to show.
    pub app: &'a App,
}

impl Widget for Detail<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let t = &app.theme;
        let rt = RunTime::new(&app.snap);
        let Some(ep) = app.snap.endpoints.get(app.selected) else {
            return;
        };
        let [left, side] =
            Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)])
                .areas(area);
        // Below the distribution, the phases when the client timed them: the bar, its
        // legend, a heading and a row per phase measured, as room allows (the
        // distribution keeps at least 5 rows).
        let phases = ep.phases.as_deref().filter(|p| !p.is_empty());
        let want = phases.map_or(0, |p| {
            let measured = [
                &p.dns, &p.connect, &p.tls, &p.send, &p.ttfb, &p.receive, &p.total,
            ]
            .iter()
            .filter(|h| !h.is_empty())
            .count() as u16;
            5 + measured
        });
        let phase_h = want.min(left.height.saturating_sub(5));
        let [hist_area, phase_area] =
            Layout::vertical([Constraint::Min(0), Constraint::Length(phase_h)]).areas(left);
        if let Some(p) = phases.filter(|_| phase_area.height >= 4) {
            let block = panel(app, " Phases: mean split, p50 p95 p99 ");
            let inner = block.inner(phase_area);
            block.render(phase_area, buf);
            super::PhaseBreakdown {
                phases: p,
                theme: t,
            }
            .render(inner, buf);
        }

        // Latency histogram: doubling buckets from the HDR histogram.
        let h = &ep.hist;
        let mut buckets: Vec<(u64, u64)> = Vec::new();
        if !h.is_empty() {
            let mut lo = 0u64;
            let mut hi = 100u64; // 0.1 ms
            while lo <= h.max() {
                let n = h.count_between(lo, hi.saturating_sub(1));
                buckets.push((hi, n));
                lo = hi;
                hi = hi.saturating_mul(2);
            }
        }
        let total = h.len().max(1);
        let peak = buckets.iter().map(|b| b.1).max().unwrap_or(1).max(1);
        let bar_w = hist_area.width.saturating_sub(26) as u64;
        let rows = hist_area.height.saturating_sub(2) as usize;
        let skip = buckets.len().saturating_sub(rows);
        let lines: Vec<Line> = buckets
            .iter()
            .skip(skip)
            .map(|(hi, n)| {
                let len = (n * bar_w).div_ceil(peak) as usize;
                Line::from(vec![
                    Span::styled(
                        format!("< {:>8} ", units::ms(*hi as f64 / 1000.0)),
                        t.muted(),
                    ),
                    Span::styled("█".repeat(len), t.fg(t.throughput)),
                    Span::styled(
                        format!(" {:>5.1}%", *n as f64 * 100.0 / total as f64),
                        t.text(),
                    ),
                ])
            })
            .collect();
        Paragraph::new(lines)
            .block(panel(
                app,
                format!(
                    " {} {} · latency distribution (Esc back) ",
                    ep.method, ep.name
                ),
            ))
            .render(hist_area, buf);

        let q = |x: f64| units::ms(ep.quantile_us(x) as f64 / 1000.0);
        let max = units::ms(if h.is_empty() {
            0.0
        } else {
            h.max() as f64 / 1000.0
        });
        // Short lines: the side panel is about 30 cells wide at 80 columns.
        let pair = |a: &'static str, av: String, sa, b: &'static str, bv: String, sb| {
            Line::from(vec![
                Span::styled(a, t.muted()),
                Span::styled(av, sa),
                Span::styled(b, t.muted()),
                Span::styled(bv, sb),
            ])
        };
        let mut lines = vec![
            pair(
                "requests ",
                units::count(ep.requests),
                t.text(),
                "  errors ",
                units::count(ep.errors),
                t.bad(),
            ),
            pair("p50 ", q(0.5), t.fg(t.p50), "  p90 ", q(0.9), t.text()),
            pair("p95 ", q(0.95), t.fg(t.p95), "  p99 ", q(0.99), t.fg(t.p99)),
            pair("p99.9 ", q(0.999), t.text(), "  max ", max, t.text()),
        ];
        lines.extend(super::streams::lines(t, ep));
        lines.push(Line::from(""));
        for (code, n) in &ep.status {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("HTTP {code} "),
                    if *code >= 400 { t.bad() } else { t.fg(t.ok) },
                ),
                Span::styled(units::count(*n), t.text()),
            ]));
        }
        for (k, n) in ep
            .errors_by_kind
            .iter()
            .filter(|(k, _)| !k.starts_with("http_"))
        {
            lines.push(Line::from(vec![
                Span::styled(format!("{k} "), t.bad()),
                Span::styled(units::count(*n), t.text()),
            ]));
        }
        for (reason, n) in &ep.retries {
            lines.push(Line::from(vec![
                Span::styled(format!("retried {reason} "), t.muted()),
                Span::styled(units::count(*n), t.text()),
            ]));
        }
        lines.push(Line::from(""));
        for e in ep.recent_errors.iter().rev() {
            lines.push(Line::from(vec![
                Span::styled(format!("{:>6.1}s ", rt.at(e.t)), t.muted()),
                Span::styled(e.message.clone(), t.text()),
            ]));
        }
        Paragraph::new(lines)
            .block(panel(app, " Status and recent errors "))
            .wrap(Wrap { trim: true })
            .render(side, buf);
    }
}
