//! The help overlay: every key, from the keymap itself.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget};

use super::panel;
use crate::ui::app::App;

/// Centered list of key bindings.
pub struct Help<'a> {
    /// The console state to show.
    pub app: &'a App,
}

impl Widget for Help<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let t = &app.theme;
        let bindings = app.keymap.bindings();
        let mut lines: Vec<Line> = bindings
            .iter()
            .map(|(action, keys)| {
                Line::from(vec![
                    Span::styled(format!("{:<22}", keys.join(" ")), t.fg(t.accent)),
                    Span::styled(action.describe(), t.text()),
                ])
            })
            .collect();
        lines.push(Line::from(""));
        lines.push(Line::styled(
            format!(
                "step {}, big step {} · spike default {}",
                crate::units::vus(app.step.into()),
                app.big_step,
                crate::ui::app::spike_spec(&app.spike)
            ),
            t.muted(),
        ));
        lines.push(Line::styled("Esc or ? closes this help", t.muted()));
        let h = (lines.len() as u16 + 2).min(area.height);
        let w = 70.min(area.width);
        let r = Rect::new(
            area.x + (area.width - w) / 2,
            area.y + (area.height - h) / 2,
            w,
            h,
        );
        Clear.render(r, buf);
        Paragraph::new(lines)
            .block(panel(app, " Keys "))
            .render(r, buf);
    }
}
