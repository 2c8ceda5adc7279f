//! Pure rendering from `&App`: one file per panel, laid out here.

mod detail;
mod endpoints;
mod errors;
mod events;
mod footer;
mod header;
mod help;
mod latency;
mod phases;
mod resources;
mod series;
mod streams;
mod thresholds;
mod throughput;
mod workers;

use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
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
pub use phases::PhaseBreakdown;
pub use resources::Resources;
pub use series::{points as run_points, RunTime};
pub use thresholds::Thresholds;
pub use throughput::ThroughputChart;
pub use workers::Workers;

use super::app::{App, View};

/// Smallest usable screen.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;
/// From this width the resources panel leaves the latency chart on screen.
const WIDE: u16 = 150;

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
    let extra = (app.snap.thresholds.len() as u16).min(6)
        + app
            .snap
            .workers
            .as_ref()
            .map_or(0, |w| (w.len() as u16 + 3).min(10));
    let bottom_h = (body.height / 4 + extra).clamp(6, 20);
    let rows = app.snap.endpoints.len() as u16
        + u16::from(app.snap.endpoints.len() > 1)
        + app
            .snap
            .endpoints
            .iter()
            .map(endpoints::timing_rows)
            .sum::<u16>();
    let table_h = (rows + 3).clamp(5, (body.height.saturating_sub(bottom_h + 7)).max(5));
    let [charts, table, bottom] = Layout::vertical([
        Constraint::Min(7),
        Constraint::Length(table_h),
        Constraint::Length(bottom_h),
    ])
    .areas(body);
    // The resources panel (`r`) sits beside throughput: between it and latency on a wide
    // screen, in latency's place on a narrower one.
    let split = match (app.resources, charts.width >= WIDE) {
        (true, true) => vec![38, 27, 35],
        _ => vec![50, 50],
    };
    let cols = Layout::horizontal(split.into_iter().map(Constraint::Percentage)).split(charts);
    frame.render_widget(ThroughputChart { app }, cols[0]);
    if app.resources {
        frame.render_widget(Resources { app }, cols[1]);
    }
    if let Some(&latency) = cols.get(if app.resources { 2 } else { 1 }) {
        frame.render_widget(LatencyChart { app }, latency);
    }

    match app.view {
        View::Main => {
            frame.render_widget(Endpoints { app }, table);
            let [errs, evs] =
                Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                    .areas(bottom);
            // On a fleet's coordinator the workers take the top of the errors' place.
            let errs = match app.snap.workers.as_deref() {
                Some(rows) => {
                    let h = (rows.len() as u16 + 3).min(errs.height.saturating_sub(3).max(3));
                    let [w, e] =
                        Layout::vertical([Constraint::Length(h), Constraint::Min(0)]).areas(errs);
                    frame.render_widget(Workers { app, rows }, w);
                    e
                }
                None => errs,
            };
            if errs.height >= 3 {
                frame.render_widget(Errors { app }, errs);
            }
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
pub fn panel<'a>(app: &App, title: impl Into<Line<'a>>) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(app.theme.border())
        .title(title.into().style(app.theme.title()))
}

/// A piece of a one-line strip (header, footer): shortened, then dropped, when the line
/// is too narrow, lowest `keep` first.
pub struct Seg<'a> {
    /// Higher is kept longer.
    pub keep: u8,
    pub full: Vec<Span<'a>>,
    /// A shorter form tried before the piece is dropped.
    pub short: Option<Vec<Span<'a>>>,
}

impl<'a> Seg<'a> {
    pub fn new(keep: u8, full: Vec<Span<'a>>) -> Seg<'a> {
        Seg {
            keep,
            full,
            short: None,
        }
    }

    pub fn or(mut self, short: Vec<Span<'a>>) -> Seg<'a> {
        self.short = Some(short);
        self
    }
}

/// See [`fit`].
const SHORT_COST: i16 = 3;

/// The pieces that fit in `width` cells, in their order, `gap` apart.
pub fn fit<'a>(segs: Vec<Seg<'a>>, width: usize, gap: &'a str) -> Line<'a> {
    let mut shown: Vec<Option<Vec<Span<'a>>>> = segs.iter().map(|s| Some(s.full.clone())).collect();
    let total = |shown: &[Option<Vec<Span>>]| -> usize {
        let parts: Vec<usize> = shown
            .iter()
            .flatten()
            .map(|spans| spans.iter().map(Span::width).sum())
            .collect();
        parts.iter().sum::<usize>() + gap.chars().count() * parts.len().saturating_sub(1)
    };
    // Shortening a piece costs as much as leaving out one [`SHORT_COST`] levels less
    // important; at equal cost, shortening comes first.
    let mut steps: Vec<(i16, bool, usize)> = Vec::new();
    for (i, seg) in segs.iter().enumerate() {
        if seg.short.is_some() {
            steps.push((i16::from(seg.keep) - SHORT_COST, false, i));
        }
        steps.push((i16::from(seg.keep), true, i));
    }
    steps.sort_by_key(|&(cost, drop, _)| (cost, drop));
    for (_, drop, i) in steps {
        if total(&shown) <= width {
            break;
        }
        if drop {
            shown[i] = None;
        } else if shown[i].is_some() {
            shown[i] = segs[i].short.clone();
        }
    }
    let mut spans = Vec::new();
    for part in shown.into_iter().flatten() {
        if !spans.is_empty() {
            spans.push(Span::raw(gap));
        }
        spans.extend(part);
    }
    Line::from(spans)
}

/// `mm:ss` or `h:mm:ss`.
pub fn clock(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}
