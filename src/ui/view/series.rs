//! Shared time-chart drawing on the run clock: the last seconds of the timeline, pauses
//! drawn as gaps, with event markers.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Widget};

use crate::metrics::{Snapshot, TimelineRow};
use crate::state::EventKind;
use crate::ui::app::App;

/// Maps wall seconds since the start (timeline rows, events and errors are stamped with
/// them) to run seconds, the clock the header and charts count on: pauses taken out.
pub struct RunTime {
    /// Pauses as [from, to) in wall seconds.
    pauses: Vec<(f64, f64)>,
}

impl RunTime {
    pub fn new(s: &Snapshot) -> RunTime {
        let mut pauses = Vec::new();
        let mut since: Option<f64> = None;
        for e in s.events.iter() {
            match e.kind {
                EventKind::Pause => {
                    since.get_or_insert(e.t);
                }
                // Stopping while paused restarts the run clock for the drain.
                EventKind::Resume | EventKind::Stop | EventKind::Abort | EventKind::End => {
                    if let Some(from) = since.take() {
                        pauses.push((from, e.t));
                    }
                }
                _ => {}
            }
        }
        if let Some(from) = since {
            pauses.push((from, s.elapsed.as_secs_f64().max(from)));
        }
        RunTime { pauses }
    }

    /// Run seconds at `wall` seconds.
    pub fn at(&self, wall: f64) -> f64 {
        let paused: f64 = self
            .pauses
            .iter()
            .map(|&(a, b)| (wall.min(b) - a).max(0.0))
            .sum();
        wall - paused
    }

    /// True if `wall` falls in a pause.
    pub fn paused(&self, wall: f64) -> bool {
        self.pauses.iter().any(|&(a, b)| wall >= a && wall < b)
    }

    /// True if a pause starts in [a, b).
    fn pause_between(&self, a: f64, b: f64) -> bool {
        self.pauses.iter().any(|&(p, _)| p >= a && p < b)
    }
}

/// One line of a chart: runs of points, broken where the run was paused.
pub struct Line {
    pub color: Color,
    pub runs: Vec<Vec<(f64, f64)>>,
}

/// The window of run seconds a chart `width` cells wide shows: [start, end].
pub fn window(rows: &[TimelineRow], rt: &RunTime, width: u16) -> (f64, f64) {
    let end = rt.at(rows.last().map_or(0, |r| r.t + r.dt) as f64);
    let span = (width.saturating_sub(8) as f64).max(20.0);
    ((end - span).max(0.0), end.max(span))
}

/// The points `f` gives for the rows in the window, on the run clock: a row (mostly)
/// inside a pause is left out and the line breaks there.
pub fn points(
    rows: &[TimelineRow],
    rt: &RunTime,
    start: f64,
    f: impl Fn(&TimelineRow) -> Option<f64>,
) -> Vec<Vec<(f64, f64)>> {
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut last_wall: Option<f64> = None;
    for r in rows {
        let mid = r.t as f64 + r.dt as f64 / 2.0;
        let x = rt.at(mid);
        if x < start || rt.paused(mid) {
            continue;
        }
        let Some(y) = f(r) else { continue };
        let broken = last_wall.is_none_or(|w| rt.pause_between(w, mid));
        if broken || runs.is_empty() {
            runs.push(Vec::new());
        }
        runs.last_mut().expect("pushed above").push((x, y));
        last_wall = Some(mid);
    }
    runs
}

/// Draws `lines` in `block` over [start, end] run seconds, with a vertical marker at each
/// event.
#[allow(clippy::too_many_arguments)]
pub fn draw(
    app: &App,
    rt: &RunTime,
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
        .flat_map(|l| l.runs.iter().flatten().map(|p| p.1))
        .fold(0.0f64, f64::max)
        .max(1e-9)
        * 1.1;
    let markers: Vec<Vec<(f64, f64)>> = app
        .snap
        .events
        .iter()
        .filter(|e| e.kind.is_marked())
        .map(|e| rt.at(e.t))
        .filter(|&x| x >= start && x <= end)
        .map(|x| vec![(x, 0.0), (x, ymax)])
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
        for run in &l.runs {
            datasets.push(
                Dataset::default()
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Line)
                    .style(t.fg(l.color))
                    .data(run),
            );
        }
    }
    let label = |s: String| Span::styled(s, t.muted());
    let chart = Chart::new(datasets)
        .block(block)
        .x_axis(
            Axis::default()
                .bounds([start, end])
                .style(t.border())
                .labels([
                    label(format!("{start:.0}s")),
                    label(format!("run {end:.0}s")),
                ]),
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
