//! Status codes and error kinds of the selected endpoint, with its last error.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::panel;
use super::series::RunTime;
use crate::ui::app::App;
use crate::units;

/// The error pane.
pub struct Errors<'a> {
    /// The console state to show.
    pub app: &'a App,
}

impl Widget for Errors<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let t = &app.theme;
        let rt = RunTime::new(&app.snap);
        let Some(ep) = app.snap.endpoints.get(app.selected) else {
            Paragraph::new("no endpoints")
                .block(panel(app, " Errors "))
                .render(area, buf);
            return;
        };
        let mut status: Vec<Span> = vec![Span::styled("status ", t.muted())];
        for (code, n) in &ep.status {
            let style = if *code >= 500 {
                t.bad()
            } else if *code >= 400 {
                t.fg(t.warn)
            } else {
                t.fg(t.ok)
            };
            status.push(Span::styled(format!("{code}"), style));
            status.push(Span::styled(format!(":{}  ", units::count(*n)), t.text()));
        }
        if ep.status.is_empty() {
            status.push(Span::styled("none yet", t.muted()));
        }
        let mut kinds: Vec<Span> = vec![Span::styled("errors ", t.muted())];
        let non_http: Vec<_> = ep
            .errors_by_kind
            .iter()
            .filter(|(k, _)| !k.starts_with("http_"))
            .collect();
        if non_http.is_empty() {
            kinds.push(Span::styled("no transport errors", t.muted()));
        }
        for (k, n) in non_http {
            kinds.push(Span::styled(k.clone(), t.bad()));
            kinds.push(Span::styled(format!(":{}  ", units::count(*n)), t.text()));
        }
        let mut lines = vec![Line::from(status), Line::from(kinds)];
        for e in ep
            .recent_errors
            .iter()
            .rev()
            .take(area.height.saturating_sub(4) as usize)
        {
            lines.push(Line::from(vec![
                Span::styled(format!("{:>6.1}s ", rt.at(e.t)), t.muted()),
                Span::styled(format!("[{}] ", e.kind), t.fg(t.error)),
                Span::styled(e.message.clone(), t.text()),
            ]));
        }
        let title = format!(
            " Errors · {} · {} of {} ",
            ep.name,
            units::count(ep.errors),
            units::count(ep.requests)
        );
        Paragraph::new(lines)
            .block(panel(app, title))
            .wrap(Wrap { trim: true })
            .render(area, buf);
    }
}
