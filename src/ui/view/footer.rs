//! The bottom line: the input line when open, else key hints or a flash message.

use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::metrics::RunState;
use crate::ui::app::{App, InputKind};

/// How long a flash message stays.
const FLASH: Duration = Duration::from_secs(3);

/// The footer line.
pub struct Footer<'a> {
    /// The console state to show.
    pub app: &'a App,
}

impl Widget for Footer<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let t = &app.theme;
        if let Some(input) = &app.input {
            let prompt = match input.kind {
                InputKind::Vus if app.open() => "rate/s> ",
                InputKind::Vus => "VUs> ",
                InputKind::Spike => "spike (5x 30s | +200 45s)> ",
            };
            // The prefilled value shows selected: typing replaces it.
            let value_style = if input.prefilled {
                t.selected()
            } else {
                t.text()
            };
            let mut spans = vec![
                Span::styled(prompt, t.fg(t.accent)),
                Span::styled(input.input.value().to_string(), value_style),
                Span::styled("█", t.fg(t.accent)),
            ];
            match (&input.error, &input.confirm) {
                (Some(e), _) => spans.push(Span::styled(format!("  {e}"), t.bad())),
                (None, Some(c)) => spans.push(Span::styled(
                    format!("  x{:.0} of now: Enter again to apply", c.ratio),
                    t.fg(t.warn),
                )),
                (None, None) if input.prefilled => spans.push(Span::styled(
                    "  type to replace · Enter apply · Esc cancel",
                    t.muted(),
                )),
                (None, None) => spans.push(Span::styled("  Enter apply · Esc cancel", t.muted())),
            }
            Paragraph::new(Line::from(spans)).render(area, buf);
            return;
        }
        if let Some((msg, at)) = &app.flash {
            if at.elapsed() < FLASH {
                Paragraph::new(Line::styled(msg.clone(), t.fg(t.warn))).render(area, buf);
                return;
            }
        }
        let hints: &[(&str, &str)] = if app.snap.state == RunState::Done {
            &[
                ("q", "quit"),
                ("↑↓", "select"),
                ("⏎", "detail"),
                ("o", "sort"),
                ("t", "theme"),
                ("?", "help"),
            ]
        } else {
            &[
                ("+/-", if app.open() { "rate" } else { "VUs" }),
                ("v", "set"),
                ("s", "spike"),
                ("S", "edit spike"),
                (
                    "p",
                    if app.snap.state == RunState::Paused {
                        "resume"
                    } else {
                        "pause"
                    },
                ),
                ("↑↓", "select"),
                ("⏎", "detail"),
                ("?", "help"),
                ("q", "quit"),
            ]
        };
        let mut spans = Vec::new();
        for (k, what) in hints {
            spans.push(Span::styled(format!(" {k} "), t.fg(t.accent)));
            spans.push(Span::styled(format!("{what} "), t.muted()));
        }
        Paragraph::new(Line::from(spans)).render(area, buf);
    }
}
