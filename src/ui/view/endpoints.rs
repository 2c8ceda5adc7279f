//! The per-endpoint table: requests, rps now (the run's average once done), error %, p50,
//! p95, p99, max.

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
        let pinned = usize::from(s.endpoints.len() > 1);
        let room = (area.height as usize).saturating_sub(3 + pinned).max(1);
        let pos = order.iter().position(|&i| i == app.selected).unwrap_or(0);
        let offset = (pos + 1).saturating_sub(room);
        let shown = &order[offset.min(order.len())..(offset + room).min(order.len())];
        let mut rows: Vec<Row> = shown.iter().map(|&i| row(&s.endpoints[i], false)).collect();
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
        let mut state = TableState::default().with_selected(Some(pos - offset));
        StatefulWidget::render(table, area, buf, &mut state);
    }
}
