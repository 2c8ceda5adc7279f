//! p50, p95 and p99 per second.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line as TextLine, Span};
use ratatui::widgets::Widget;

use super::panel;
use super::series::{draw, points, window, Line, RunTime};
use crate::ui::app::App;
use crate::units;

/// Latency percentiles over time, in milliseconds.
pub struct LatencyChart<'a> {
    /// The console state to show.
    pub app: &'a App,
}

impl Widget for LatencyChart<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let t = &app.theme;
        let rows = &app.snap.total.timeline;
        let rt = RunTime::new(&app.snap);
        let win = window(rows, &rt, area.width);
        let series = |f: fn(&crate::metrics::TimelineRow) -> u64| {
            points(rows, &rt, win.0, |r| {
                (r.requests > 0).then(|| f(r) as f64 / 1000.0)
            })
        };
        let title = TextLine::from(vec![
            Span::raw(" Latency "),
            Span::styled("p50", t.fg(t.p50)),
            Span::raw(" "),
            Span::styled("p95", t.fg(t.p95)),
            Span::raw(" "),
            Span::styled("p99", t.fg(t.p99)),
            Span::raw(" "),
        ]);
        draw(
            app,
            &rt,
            panel(app, title),
            &[
                Line {
                    color: t.p99,
                    runs: series(|r| r.p99_us),
                },
                Line {
                    color: t.p95,
                    runs: series(|r| r.p95_us),
                },
                Line {
                    color: t.p50,
                    runs: series(|r| r.p50_us),
                },
            ],
            win,
            units::ms,
            area,
            buf,
        );
    }
}
