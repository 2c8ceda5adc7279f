//! The event strip: every control action and stage change, newest first.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::panel;
use super::series::RunTime;
use crate::state::EventKind;
use crate::ui::app::App;

/// Recent events with their time.
pub struct Events<'a> {
    /// The console state to show.
    pub app: &'a App,
}

impl Widget for Events<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let t = &app.theme;
        let rows = area.height.saturating_sub(2) as usize;
        let rt = RunTime::new(&app.snap);
        let lines: Vec<Line> = app
            .snap
            .events
            .iter()
            .rev()
            .take(rows)
            .map(|e| {
                let color = match e.kind {
                    EventKind::Pause | EventKind::Resume => t.paused,
                    EventKind::Spike | EventKind::SpikeEnd => t.spike,
                    EventKind::Stop | EventKind::Abort | EventKind::End => t.warn,
                    EventKind::Start
                    | EventKind::Stage
                    | EventKind::SetVus
                    | EventKind::SetRate
                    | EventKind::Done
                    | EventKind::Monitor
                    | EventKind::Other(_) => t.accent,
                };
                Line::from(vec![
                    Span::styled(format!("{:>6.1}s ", rt.at(e.t)), t.muted()),
                    Span::styled(format!("{:<9} ", e.kind), t.fg(color)),
                    Span::styled(e.detail.clone(), t.text()),
                ])
            })
            .collect();
        // Long details wrap (narrow screens): the newest events stay in view.
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(panel(app, " Events · run time "))
            .render(area, buf);
    }
}
