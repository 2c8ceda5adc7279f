//! Requests per second over time, errors apart from successes.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line as TextLine, Span};
use ratatui::widgets::Widget;

use super::panel;
use super::series::{draw, visible, window, Line};
use crate::ui::app::App;
use crate::units;

/// Throughput chart: ok rps and error rps per second.
pub struct ThroughputChart<'a> {
    /// The console state to show.
    pub app: &'a App,
}

impl Widget for ThroughputChart<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let t = &app.theme;
        let rows = &app.snap.total.timeline;
        let win = window(rows, area.width);
        let ok: Vec<(f64, f64)> = visible(rows, win.0)
            .map(|r| (r.t as f64 + 0.5, r.ok as f64 / r.dt as f64))
            .collect();
        let err: Vec<(f64, f64)> = visible(rows, win.0)
            .map(|r| (r.t as f64 + 0.5, r.errors as f64 / r.dt as f64))
            .collect();
        let title = TextLine::from(vec![
            Span::raw(" Throughput "),
            Span::styled("ok", t.fg(t.throughput)),
            Span::raw(" / "),
            Span::styled("errors", t.fg(t.error)),
            Span::raw(" rps "),
        ]);
        draw(
            app,
            panel(app, title),
            &[
                Line {
                    color: t.throughput,
                    points: ok,
                },
                Line {
                    color: t.error,
                    points: err,
                },
            ],
            win,
            units::rate,
            area,
            buf,
        );
    }
}
