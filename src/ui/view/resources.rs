//! The resources panel (`r`): sparklines of the generator's own CPU and lag (self-watch),
//! and of the target's series when it is monitored, the last seconds up to now.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::panel;
use crate::metrics::generator::{GeneratorSample, LAG_LIMIT_MS};
use crate::report::target::Monitor;
use crate::ui::app::App;
use crate::units;

/// Eighths of a cell, lowest to highest.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
/// Width of a row's label and of its value (each followed or preceded by a space).
const LABEL: usize = 10;
const VALUE: usize = 10;

/// Generator and target sparklines.
pub struct Resources<'a> {
    /// The console state to show.
    pub app: &'a App,
}

/// How a row's values map to bar heights.
#[derive(Clone, Copy)]
enum Scale {
    /// From 0 to a fixed top (a share of a whole: CPU).
    Fixed(f64),
    /// From 0 to the largest value shown, at least the given floor.
    Zero(f64),
    /// Between the smallest and the largest value shown (memory, whose level is not news).
    Span,
}

/// One bar per value (a blank where there is none), scaled to the values shown.
fn spark(values: &[Option<f64>], scale: Scale) -> String {
    let shown = || values.iter().flatten().copied();
    let (lo, hi) = match scale {
        Scale::Fixed(top) => (0.0, top),
        Scale::Zero(floor) => (0.0, shown().fold(floor, f64::max)),
        Scale::Span => (
            shown().fold(f64::INFINITY, f64::min),
            shown().fold(f64::NEG_INFINITY, f64::max),
        ),
    };
    values
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(_) if hi <= lo => BARS[3],
            Some(v) => {
                let f = ((v - lo) / (hi - lo)).clamp(0.0, 1.0);
                BARS[(f * 7.0).round() as usize]
            }
        })
        .collect()
}

/// A short label for a target series: the node_exporter defaults and process series by
/// what they are, anything else by its name, cut to fit.
fn short(name: &str) -> String {
    let known = match name {
        "cpu_busy" | "cpu_pct" => Some("cpu"),
        "node_memory_MemAvailable_bytes" => Some("mem avail"),
        "node_network_receive_bytes_total" => Some("net rx"),
        "node_network_transmit_bytes_total" => Some("net tx"),
        "rss_bytes" => Some("rss"),
        _ => None,
    };
    match known {
        Some(k) => k.to_string(),
        None if name.chars().count() > LABEL => {
            let mut s: String = name.chars().take(LABEL - 1).collect();
            s.push('…');
            s
        }
        None => name.to_string(),
    }
}

/// A row: label, sparkline (padded to `width`, so values line up while it fills), last
/// value.
fn row<'a>(
    app: &App,
    label: String,
    spark_text: String,
    width: usize,
    color: Color,
    value: String,
) -> Line<'a> {
    let t = &app.theme;
    Line::from(vec![
        Span::styled(format!("{label:<LABEL$} "), t.muted()),
        Span::styled(format!("{spark_text:<width$}"), Style::default().fg(color)),
        Span::styled(format!(" {value:>VALUE$}"), t.text()),
    ])
}

impl Widget for Resources<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let t = &app.theme;
        let s = &app.snap;
        let block = panel(app, " Resources ");
        let inner = block.inner(area);
        block.render(area, buf);
        let width = (inner.width as usize)
            .saturating_sub(LABEL + 1 + 1 + VALUE)
            .max(1);
        let mut lines = Vec::new();
        let g = &s.generator;
        let tail = |n: usize| &g.samples[g.samples.len().saturating_sub(n)..];
        let gen: &[GeneratorSample] = tail(width);
        if gen.is_empty() {
            lines.push(Line::styled("volley: first sample after 1 s", t.muted()));
        } else {
            let last = gen[gen.len() - 1];
            let cpu_color = if g.bottleneck_now {
                t.error
            } else {
                t.throughput
            };
            lines.push(row(
                app,
                "volley CPU".into(),
                spark(
                    &gen.iter().map(|x| Some(x.cpu_share)).collect::<Vec<_>>(),
                    Scale::Fixed(1.0),
                ),
                width,
                cpu_color,
                units::percent_with(last.cpu_share, 0),
            ));
            lines.push(row(
                app,
                "volley lag".into(),
                spark(
                    &gen.iter().map(|x| Some(x.lag_p99_ms)).collect::<Vec<_>>(),
                    Scale::Zero(LAG_LIMIT_MS),
                ),
                width,
                t.p95,
                units::ms(last.lag_p99_ms),
            ));
            if app.open() {
                let lags: Vec<Option<f64>> = gen.iter().map(|x| x.arrival_lag_ms).collect();
                lines.push(row(
                    app,
                    "arrivals".into(),
                    spark(&lags, Scale::Zero(LAG_LIMIT_MS)),
                    width,
                    t.p99,
                    last.arrival_lag_ms.map_or(units::NONE.into(), units::ms),
                ));
            }
        }
        match &s.target {
            None => lines.push(Line::styled("target: not monitored (--monitor)", t.muted())),
            Some(target) => {
                let rows = &target.samples[target.samples.len().saturating_sub(width)..];
                for (i, name) in target.names.iter().enumerate() {
                    let vals: Vec<Option<f64>> = rows
                        .iter()
                        .map(|r| r.values.get(i).copied().flatten())
                        .collect();
                    let scale = if name == "cpu_busy" {
                        Scale::Fixed(1.0)
                    } else if name.ends_with("_pct") {
                        Scale::Zero(100.0)
                    } else if name.ends_with("_total") {
                        Scale::Zero(0.0)
                    } else {
                        Scale::Span
                    };
                    let last = vals
                        .last()
                        .copied()
                        .flatten()
                        .map_or(units::NONE.into(), |v| Monitor::format(name, v));
                    lines.push(row(
                        app,
                        short(name),
                        spark(&vals, scale),
                        width,
                        t.accent,
                        last,
                    ));
                }
                if target.failures > 0 {
                    lines.push(Line::styled(
                        format!("{} failed scrapes", units::count(target.failures)),
                        t.muted(),
                    ));
                }
            }
        }
        Paragraph::new(lines).render(inner, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_history_keeps_values_in_their_column() {
        use crate::metrics::generator::{GeneratorSample, GeneratorSeries};
        use crate::metrics::Snapshot;
        use ratatui::widgets::Widget;
        let mut s = Snapshot::empty("r", &[]);
        let mut g = GeneratorSeries::new(1.0);
        for t in 0..3 {
            g.push(GeneratorSample {
                t,
                cpu_share: 0.5,
                lag_p99_ms: 2.0,
                ..GeneratorSample::default()
            });
        }
        s.generator = std::sync::Arc::new(g);
        let app = App::new(
            std::sync::Arc::new(s),
            crate::ui::theme::Theme::default_theme(),
            1,
        );
        let area = Rect::new(0, 0, 40, 5);
        let mut buf = Buffer::empty(area);
        Resources { app: &app }.render(area, &mut buf);
        let rows: Vec<String> = (1..4)
            .map(|y| (0..40).map(|x| buf[(x, y)].symbol().to_string()).collect())
            .collect();
        assert_eq!(rows[0], "│volley CPU ▅▅▅                     50%│");
        assert_eq!(rows[1], "│volley lag ▂▂▂                  2.00ms│");
        assert_eq!(rows[2], "│target: not monitored (--monitor)     │");
    }

    #[test]
    fn sparklines_scale_and_leave_gaps() {
        let v = |xs: &[f64]| xs.iter().map(|x| Some(*x)).collect::<Vec<_>>();
        assert_eq!(spark(&v(&[0.0, 0.5, 1.0, 2.0]), Scale::Fixed(1.0)), "▁▅██");
        assert_eq!(spark(&v(&[1.0, 2.0]), Scale::Zero(10.0)), "▂▂");
        assert_eq!(spark(&v(&[0.0, 7.0, 14.0]), Scale::Zero(1.0)), "▁▅█");
        assert_eq!(spark(&[Some(5.0), None, Some(9.0)], Scale::Span), "▁ █");
        assert_eq!(spark(&v(&[3.0, 3.0]), Scale::Span), "▄▄");
        assert_eq!(short("node_memory_MemAvailable_bytes"), "mem avail");
        assert_eq!(short("app_queue_depth"), "app_queue…");
        assert_eq!(short("q"), "q");
    }
}
