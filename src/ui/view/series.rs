//! Shared time-chart drawing: the last seconds of the timeline, with event markers.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Widget};

use crate::metrics::TimelineRow;
use crate::ui::app::App;

/// One line of a chart.
pub struct Line {
    pub color: Color,
    pub points: Vec<(f64, f64)>,
}

/// The window of seconds a chart `width` cells wide shows: [start, end].
pub fn window(rows: &[TimelineRow], width: u16) -> (f64, f64) {
    let end = rows.last().map_or(0, |r| r.t + r.dt) as f64;
    let span = (width.saturating_sub(8) as f64).max(20.0);
    ((end - span).max(0.0), end.max(span))
}

pub fn visible(rows: &[TimelineRow], start: f64) -> impl Iterator<Item = &TimelineRow> {
    rows.iter().filter(move |r| r.t as f64 >= start)
}

/// Draws `lines` in `block` over [start, end], with a vertical marker at each event.
pub fn draw(
    app: &App,
    block: Block<'_>,
    lines: &[Line],
    (start, end): (f64, f64),
    y_label: impl Fn(f64) -> String,
    area: Rect,
    buf: &mut Buffer,
) {
    let t = &app.theme;
    let ymax = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::max)
        .max(1e-9)
        * 1.1;
    let markers: Vec<Vec<(f64, f64)>> = app
        .snap
        .events
        .iter()
        .filter(|e| e.kind != "start" && e.kind != "done" && e.t >= start && e.t <= end)
        .map(|e| vec![(e.t, 0.0), (e.t, ymax)])
        .collect();
    let mut datasets: Vec<Dataset> = markers
        .iter()
        .map(|m| {
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(t.fg(t.marker))
                .data(m)
        })
        .collect();
    for l in lines {
        datasets.push(
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(t.fg(l.color))
                .data(&l.points),
        );
    }
    let label = |s: String| Span::styled(s, t.muted());
    let chart = Chart::new(datasets)
        .block(block)
        .x_axis(
            Axis::default()
                .bounds([start, end])
                .style(t.border())
                .labels([label(format!("{start:.0}s")), label(format!("{end:.0}s"))]),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, ymax])
                .style(t.border())
                .labels([label("0".into()), label(y_label(ymax))]),
        )
        .style(Style::default());
    chart.render(area, buf);
}
