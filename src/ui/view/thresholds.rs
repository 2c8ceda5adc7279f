//! Live threshold verdicts.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::panel;
use crate::ui::app::App;

/// One line per threshold: PASS / FAIL / wait, the expression, the observed value.
pub struct Thresholds<'a> {
    /// The console state to show.
    pub app: &'a App,
}

impl Widget for Thresholds<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let t = &app.theme;
        let lines: Vec<Line> = app
            .snap
            .thresholds
            .iter()
            .map(|th| {
                let (mark, style) = match th.passed {
                    Some(true) => ("PASS", t.fg(t.ok)),
                    Some(false) => ("FAIL", t.bad()),
                    None => ("wait", t.muted()),
                };
                let scope = th
                    .endpoint
                    .as_ref()
                    .map_or(String::new(), |e| format!(" [{e}]"));
                Line::from(vec![
                    Span::styled(format!("{mark} "), style),
                    Span::styled(format!("{}{scope}", th.text), t.text()),
                    Span::styled(format!("  {}", th.shown), t.muted()),
                    Span::styled(if th.abort_on_fail { "  aborts" } else { "" }, t.fg(t.warn)),
                ])
            })
            .collect();
        Paragraph::new(lines)
            .block(panel(app, " Thresholds "))
            .render(area, buf);
    }
}
