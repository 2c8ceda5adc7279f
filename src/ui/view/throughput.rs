//! Requests per second over time, errors apart from successes.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line as TextLine, Span};
use ratatui::widgets::Widget;

use super::panel;
use super::series::{draw, points, window, Line, RunTime};
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
        let rt = RunTime::new(&app.snap);
        let win = window(rows, &rt, area.width);
        let ok = points(rows, &rt, win.0, |r| Some(r.ok as f64 / r.dt as f64));
        let err = points(rows, &rt, win.0, |r| Some(r.errors as f64 / r.dt as f64));
        let title = TextLine::from(vec![
            Span::raw(" Throughput "),
            Span::styled("ok", t.fg(t.throughput)),
            Span::raw(" / "),
            Span::styled("errors", t.fg(t.error)),
            Span::raw(" rps "),
        ]);
        draw(
            app,
            &rt,
            panel(app, title),
            &[
                Line {
                    color: t.throughput,
                    runs: ok,
                },
                Line {
                    color: t.error,
                    runs: err,
                },
            ],
            win,
            |y| units::count(y.round() as u64),
            area,
            buf,
        );
    }
}
