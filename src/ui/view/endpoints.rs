//! The per-endpoint table: requests, rps now (the run's average once done), error %, p50,
//! p95, p99, max; under a streaming endpoint its time to first byte and gaps between
//! events, under a WebSocket one its `expect` latency.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, StatefulWidget, Table, TableState, Widget};

use super::panel;
use crate::ui::app::{App, SortKey};
use crate::units;

/// Endpoint table with the selected row highlighted.
pub struct Endpoints<'a> {
    /// The console state to show.
    pub app: &'a App,
}

fn ms(us: u64) -> String {
    units::us(us)
}

/// How many rows [`sub_rows`] gives an endpoint.
pub fn timing_rows(e: &crate::metrics::EndpointStats) -> u16 {
    2 * u16::from(e.stream.as_deref().is_some_and(|s| !s.is_empty()))
        + e.ws.as_deref().map_or(0, |w| ws_timings(w).len() as u16)
}

/// A WebSocket endpoint's timing rows: `expect` (unless it only echoes) and `echo`
/// (when it has `echo` steps).
fn ws_timings(w: &crate::metrics::WsStats) -> Vec<(&'static str, &hdrhistogram::Histogram<u64>)> {
    let mut out = Vec::new();
    if w.is_empty() {
        return out;
    }
    let echoes = w.echo_counts.sent > 0;
    if !echoes || !w.expect.is_empty() {
        out.push(("  ↳ expect", &w.expect));
    }
    if echoes {
        out.push(("  ↳ echo", &w.echo));
    }
    out
}

/// The rows under a streaming endpoint (time to first byte, gaps between events) or a
/// WebSocket one (`expect` and `echo` latency): p50, p95, p99 and max in their columns.
fn sub_rows<'a>(t: &crate::ui::theme::Theme, e: &crate::metrics::EndpointStats) -> Vec<Row<'a>> {
    let mut timings: Vec<(&'static str, &hdrhistogram::Histogram<u64>)> = Vec::new();
    if let Some(st) = e.stream.as_deref().filter(|st| !st.is_empty()) {
        timings.push(("  ↳ ttfb", &st.ttfb));
        timings.push(("  ↳ gap", &st.gap));
    }
    if let Some(w) = e.ws.as_deref() {
        timings.extend(ws_timings(w));
    }
    timings
        .into_iter()
        .map(|(label, h)| {
            let q = |x: f64| {
                if h.is_empty() {
                    "-".to_string()
                } else {
                    ms(h.value_at_quantile(x))
                }
            };
            let max = if h.is_empty() {
                "-".to_string()
            } else {
                ms(h.max())
            };
            Row::new(vec![
                Cell::from(Span::styled(label, t.muted())),
                Cell::from(""),
                Cell::from(""),
                Cell::from(""),
                Cell::from(Line::styled(q(0.5), t.fg(t.p50)).right_aligned()),
                Cell::from(Line::styled(q(0.95), t.fg(t.p95)).right_aligned()),
                Cell::from(Line::styled(q(0.99), t.fg(t.p99)).right_aligned()),
                Cell::from(Line::styled(max, t.muted()).right_aligned()),
            ])
        })
        .collect()
}

impl Widget for Endpoints<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let t = &app.theme;
        let s = &app.snap;
        let head = |name: &'static str, key: Option<SortKey>| -> Cell {
            let mut style = t.muted().add_modifier(Modifier::BOLD);
            if key == Some(app.sort) {
                style = t
                    .fg(t.accent)
                    .add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
            }
            let line = Line::from(Span::styled(name, style));
            Cell::from(if name == "endpoint" {
                line
            } else {
                line.right_aligned()
            })
        };
        let header = Row::new(vec![
            head("endpoint", Some(SortKey::Plan)),
            head("reqs", Some(SortKey::Requests)),
            head("rps", None),
            head("err%", Some(SortKey::Errors)),
            head("p50", None),
            head("p95", Some(SortKey::P95)),
            head("p99", Some(SortKey::P99)),
            head("max", None),
        ]);
        let order = app.order();
        // Once the run is over, each endpoint's rate over the whole run (as the header's
        // avg rps and the summary); until then the last second's.
        let secs = s.elapsed.as_secs_f64();
        let done = s.state == crate::metrics::RunState::Done && secs > 0.0;
        let rps = |e: &crate::metrics::EndpointStats| {
            if done {
                e.requests as f64 / secs
            } else {
                e.rps_now
            }
        };
        let row = |e: &crate::metrics::EndpointStats, bold: bool| {
            let err = e.error_rate() * 100.0;
            let err_style = if err >= 5.0 {
                t.bad()
            } else if err > 0.0 {
                t.fg(t.warn)
            } else {
                t.muted()
            };
            let base = if bold {
                t.text().add_modifier(Modifier::BOLD)
            } else {
                t.text()
            };
            Row::new(vec![
                Cell::from(Span::styled(e.name.clone(), base)),
                Cell::from(Line::from(units::count(e.requests)).right_aligned()),
                Cell::from(Line::from(units::rate(rps(e))).right_aligned()),
                Cell::from(Line::styled(units::number(err, 2), err_style).right_aligned()),
                Cell::from(Line::styled(ms(e.quantile_us(0.50)), t.fg(t.p50)).right_aligned()),
                Cell::from(Line::styled(ms(e.quantile_us(0.95)), t.fg(t.p95)).right_aligned()),
                Cell::from(Line::styled(ms(e.quantile_us(0.99)), t.fg(t.p99)).right_aligned()),
                Cell::from(
                    Line::from(ms(if e.hist.is_empty() { 0 } else { e.hist.max() }))
                        .right_aligned(),
                ),
            ])
            .style(base)
        };
        // The total stays in view below the rows; the rows scroll to keep the selection.
        // A streaming or WebSocket endpoint has its timings on rows of their own below it.
        let pinned = usize::from(s.endpoints.len() > 1);
        let room = (area.height as usize).saturating_sub(3 + pinned).max(1);
        let pos = order.iter().position(|&i| i == app.selected).unwrap_or(0);
        let subs: Vec<Vec<Row>> = order
            .iter()
            .map(|&i| sub_rows(t, &s.endpoints[i]))
            .collect();
        let height = |k: usize| 1 + subs[k].len();
        // Which endpoints are shown, and which with their timing rows: the selection's
        // first, then the ones before it, then after it, each whole while it fits and
        // else as one row.
        let mut full = vec![false; order.len()];
        full[pos] = height(pos) <= room;
        let mut used = if full[pos] { height(pos) } else { 1 };
        let mut offset = pos;
        while offset > 0 && used < room {
            offset -= 1;
            full[offset] = used + height(offset) <= room;
            used += if full[offset] { height(offset) } else { 1 };
        }
        let mut end = pos + 1;
        while end < order.len() && used < room {
            full[end] = used + height(end) <= room;
            used += if full[end] { height(end) } else { 1 };
            end += 1;
        }
        let shown = &order[offset..end];
        let mut rows: Vec<Row> = Vec::new();
        let mut selected_row = 0;
        for (k, &i) in shown.iter().enumerate() {
            if offset + k == pos {
                selected_row = rows.len();
            }
            rows.push(row(&s.endpoints[i], false));
            if full[offset + k] {
                rows.extend(subs[offset + k].iter().cloned());
            }
        }
        if pinned == 1 {
            rows.push(row(&s.total, true).style(t.muted()));
        }
        let widths = [
            Constraint::Min(14),
            Constraint::Length(10),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(8),
            Constraint::Length(8),
        ];
        let title = format!(
            " Endpoints ({} · sort: {}) ",
            s.endpoints.len(),
            app.sort.label()
        );
        let mut block = panel(app, title);
        if shown.len() < order.len() {
            let up = if offset > 0 { "↑" } else { " " };
            let down = if offset + shown.len() < order.len() {
                "↓"
            } else {
                " "
            };
            block = block.title_bottom(
                Line::styled(
                    format!(
                        " {up}{down} rows {}-{} of {} ",
                        offset + 1,
                        offset + shown.len(),
                        order.len()
                    ),
                    t.fg(t.accent),
                )
                .right_aligned(),
            );
        }
        let table = Table::new(rows, widths)
            .header(header)
            .block(block)
            .row_highlight_style(t.selected())
            .column_spacing(1);
        let mut state = TableState::default().with_selected(Some(selected_row));
        StatefulWidget::render(table, area, buf, &mut state);
    }
}
