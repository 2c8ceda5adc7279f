//! Pure rendering from `&App`: one file per panel, laid out here.

mod detail;
mod endpoints;
mod errors;
mod events;
mod footer;
mod header;
mod help;
mod latency;
mod series;
mod thresholds;
mod throughput;

use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

pub use detail::Detail;
pub use endpoints::Endpoints;
pub use errors::Errors;
pub use events::Events;
pub use footer::Footer;
pub use header::Header;
pub use help::Help;
pub use latency::LatencyChart;
pub use thresholds::Thresholds;
pub use throughput::ThroughputChart;

use super::app::{App, View};

/// Smallest usable screen.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "terminal too small: {}x{}\nvolley needs at least {MIN_WIDTH}x{MIN_HEIGHT}\n(q quits)",
            area.width, area.height
        );
        let y = area.height.saturating_sub(3) / 2;
        let r = Rect::new(area.x, area.y + y, area.width, 3.min(area.height));
        frame.render_widget(
            Paragraph::new(msg)
                .alignment(Alignment::Center)
                .style(app.theme.bad())
                .wrap(Wrap { trim: true }),
            r,
        );
        return;
    }
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(10),
        Constraint::Length(1),
    ])
    .areas(area);
    frame.render_widget(Header { app }, header);
    frame.render_widget(Footer { app }, footer);

    // The table takes what its rows need (within bounds); charts get the rest.
    let extra = (app.snap.thresholds.len() as u16).min(6);
    let bottom_h = (body.height / 4 + extra).clamp(6, 16);
    let rows = app.snap.endpoints.len() as u16 + u16::from(app.snap.endpoints.len() > 1);
    let table_h = (rows + 3).clamp(5, (body.height.saturating_sub(bottom_h + 7)).max(5));
    let [charts, table, bottom] = Layout::vertical([
        Constraint::Min(7),
        Constraint::Length(table_h),
        Constraint::Length(bottom_h),
    ])
    .areas(body);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(charts);
    frame.render_widget(ThroughputChart { app }, left);
    frame.render_widget(LatencyChart { app }, right);

    match app.view {
        View::Main => {
            frame.render_widget(Endpoints { app }, table);
            let [errs, evs] =
                Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                    .areas(bottom);
            frame.render_widget(Errors { app }, errs);
            let n = app.snap.thresholds.len() as u16;
            if n > 0 {
                let th_h = (n + 2).min(evs.height.saturating_sub(3).max(evs.height / 2));
                let [th, ev] =
                    Layout::vertical([Constraint::Length(th_h), Constraint::Min(0)]).areas(evs);
                frame.render_widget(Thresholds { app }, th);
                if ev.height >= 3 {
                    frame.render_widget(Events { app }, ev);
                }
            } else {
                frame.render_widget(Events { app }, evs);
            }
        }
        View::Detail => {
            let detail = Rect::new(table.x, table.y, table.width, table.height + bottom.height);
            frame.render_widget(Detail { app }, detail);
        }
    }
    if app.help {
        frame.render_widget(Help { app }, area);
    }
}

/// A bordered block with a title in the theme's colours.
pub fn panel<'a>(app: &App, title: impl Into<ratatui::text::Line<'a>>) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(app.theme.border())
        .title(title.into().style(app.theme.title()))
}

pub use crate::units::clock;
