//! The bottom line: the input line when open, else key hints or a flash message.

use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::{fit, Seg};
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
        // (key, what, how much it matters, a shorter form)
        let hints: &[(&str, &str, u8, Option<&str>)] = if app.snap.state == RunState::Done {
            &[
                ("q", "quit", 10, None),
                ("↑↓", "select", 5, None),
                ("⏎", "detail", 6, None),
                ("o", "sort", 4, None),
                ("t", "theme", 3, None),
                ("r", "resources", 1, None),
                ("?", "help", 9, None),
            ]
        } else {
            &[
                ("+/-", if app.open() { "rate" } else { "VUs" }, 7, None),
                ("v", "set", 7, None),
                ("s", "spike", 7, None),
                ("S", "edit spike", 4, Some("edit")),
                (
                    "p",
                    if app.snap.state == RunState::Paused {
                        "resume"
                    } else {
                        "pause"
                    },
                    8,
                    None,
                ),
                ("↑↓", "select", 5, Some("sel")),
                ("⏎", "detail", 4, None),
                ("r", "resources", 1, None),
                ("?", "help", 9, None),
                ("q", "quit", 10, None),
            ]
        };
        let segs = hints
            .iter()
            .map(|&(k, what, keep, short)| {
                let hint = |what: &'static str| {
                    vec![
                        Span::styled(k, t.fg(t.accent)),
                        Span::styled(format!(" {what}"), t.muted()),
                    ]
                };
                let seg = Seg::new(keep, hint(what));
                match short {
                    Some(s) => seg.or(hint(s)),
                    None => seg,
                }
            })
            .collect();
        let area = Rect {
            x: area.x + 1,
            width: area.width.saturating_sub(1),
            ..area
        };
        Paragraph::new(fit(segs, area.width as usize, "  ")).render(area, buf);
    }
}
