//! A fleet's workers (the console on a coordinator): one line each.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::panel;
use crate::metrics::{WorkerRow, WorkerState};
use crate::ui::app::App;
use crate::units;

/// Per worker: index, state, VUs, rps, error rate, CPU, last heartbeat, clock offset.
pub struct Workers<'a> {
    /// The console state to show.
    pub app: &'a App,
    /// The workers, from the coordinator's snapshot.
    pub rows: &'a [WorkerRow],
}

fn state_text(s: WorkerState) -> &'static str {
    match s {
        WorkerState::Registered => "joined",
        WorkerState::Ready => "ready",
        WorkerState::Running => "running",
        WorkerState::Finished => "done",
        WorkerState::Lost => "LOST",
    }
}

impl Widget for Workers<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let t = &app.theme;
        let mut lines = vec![Line::from(Span::styled(
            format!(
                "{:<3} {:<7} {:>5} {:>7} {:>6} {:>5} {:>6} {:>7}",
                "#", "state", "VUs", "rps", "err%", "CPU%", "heard", "offset"
            ),
            t.muted(),
        ))];
        for w in self.rows {
            let style = match w.state {
                WorkerState::Lost => t.bad(),
                WorkerState::Running | WorkerState::Finished => t.text(),
                _ => t.muted(),
            };
            lines.push(Line::from(Span::styled(
                format!(
                    "{:<3} {:<7} {:>5} {:>7} {:>6} {:>5.0} {:>5.1}s {:>5.1}ms",
                    w.index,
                    state_text(w.state),
                    w.vus,
                    units::count(w.rps.round() as u64),
                    units::percent(w.error_rate),
                    w.cpu_percent,
                    w.heartbeat_age_s,
                    w.clock_offset_ms
                ),
                style,
            )));
        }
        let lost = self
            .rows
            .iter()
            .filter(|w| w.state == WorkerState::Lost)
            .count();
        let title = match lost {
            0 => format!(" Workers ({}) ", self.rows.len()),
            n => format!(" Workers ({}, {n} lost) ", self.rows.len()),
        };
        Paragraph::new(lines)
            .block(panel(app, title))
            .render(area, buf);
    }
}
