//! The header: name, state, time, VUs, rps, errors, p95; volley's own CPU and lag, and a
//! warning when volley is the bottleneck.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::clock;
use crate::metrics::RunState;
use crate::ui::app::App;
use crate::units;

/// Two lines at the top of the screen.
pub struct Header<'a> {
    /// The console state to show.
    pub app: &'a App,
}

impl Widget for Header<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let s = &app.snap;
        let t = &app.theme;
        let badge = |text: String, color| {
            Span::styled(
                format!(" {text} "),
                if t.monochrome {
                    Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
                } else {
                    Style::default()
                        .bg(color)
                        .fg(ratatui::style::Color::Black)
                        .add_modifier(Modifier::BOLD)
                },
            )
        };
        let state = match (&s.spike, s.state) {
            (Some(sp), RunState::Running | RunState::Paused) => badge(
                format!(
                    "SPIKE {} {}s",
                    sp.label.split(" for ").next().unwrap_or(""),
                    sp.remaining.as_secs() + 1
                ),
                t.spike,
            ),
            (_, RunState::Running) => badge("RUNNING".into(), t.ok),
            (_, RunState::Paused) => badge("PAUSED".into(), t.paused),
            (_, RunState::Stopping) => badge("STOPPING".into(), t.warn),
            (_, RunState::Done) => badge(
                if s.partial {
                    "DONE (stopped)".into()
                } else {
                    "DONE".into()
                },
                t.accent,
            ),
        };
        let time = match s.planned {
            Some(p) => format!("{} / {}", clock(s.run_time), clock(p)),
            None => clock(s.run_time),
        };
        let err_rate = s.total.error_rate() * 100.0;
        let err_style = if err_rate >= 5.0 {
            t.bad()
        } else if err_rate > 0.0 {
            t.fg(t.warn)
        } else {
            t.fg(t.ok)
        };
        let target = app.target();
        let (load_label, vus) = match s.rate {
            Some(r) if target != r.round() as u32 && app.running() => (
                "  rate ",
                format!("{} → {}", units::per_s(r), units::per_s(target.into())),
            ),
            Some(r) => ("  rate ", units::per_s(r)),
            // "a → b" only while the load can still get there (not once it is stopping
            // or done, when every VU ends).
            None if target != s.vus_active && app.running() => (
                "  VUs ",
                format!(
                    "{} → {}",
                    units::count(s.vus_active.into()),
                    units::count(target.into())
                ),
            ),
            None => ("  VUs ", units::count(s.vus_active.into())),
        };
        let label = |x: &str| Span::styled(x.to_string(), t.muted());
        let mut line1 = vec![
            Span::styled(format!("volley · {} ", s.scenario), t.title()),
            state,
            Span::raw("  "),
            Span::styled(time, t.text()),
            label(load_label),
            Span::styled(vus, t.fg(t.accent).add_modifier(Modifier::BOLD)),
            label("  rps "),
            Span::styled(
                units::rate(s.total.rps_now),
                t.fg(t.throughput).add_modifier(Modifier::BOLD),
            ),
            label("  err "),
            Span::styled(units::percent(s.total.error_rate()), err_style),
            label("  p95 "),
            Span::styled(units::us(s.total.quantile_us(0.95)), t.fg(t.p95)),
        ];
        // Narrow screens: the numbers matter more than the name.
        let width: usize = line1.iter().map(|s| s.width()).sum();
        if width > area.width as usize {
            let excess = width - area.width as usize;
            let name_room = s
                .scenario
                .chars()
                .count()
                .saturating_sub(excess.saturating_sub(9))
                .max(8);
            let name: String = s.scenario.chars().take(name_room).collect();
            line1[0] = Span::styled(format!("{name} "), t.title());
        }
        let line1 = Line::from(line1);
        let mut spans = Vec::new();
        // Self-watch: once volley has been the bottleneck, its numbers understate the
        // target; that comes first.
        if s.generator.bottleneck.is_some() {
            spans.push(Span::styled(
                format!("⚠ {}  ", crate::report::generator::BOTTLENECK_BANNER),
                t.bad(),
            ));
        }
        spans.extend([
            label("reqs "),
            Span::styled(units::count(s.total.requests), t.text()),
            label("  in flight "),
            Span::styled(s.in_flight.to_string(), t.text()),
            label("  conns "),
            Span::styled(s.connections_open.to_string(), t.text()),
        ]);
        if let Some(g) = s.generator.last() {
            let strained = s.generator.bottleneck_now;
            spans.push(label("  volley CPU "));
            spans.push(Span::styled(
                units::percent_with(g.cpu_share, 0),
                if strained { t.bad() } else { t.text() },
            ));
            spans.push(label(" lag "));
            spans.push(Span::styled(
                units::ms(g.lag_p99_ms),
                if strained { t.bad() } else { t.text() },
            ));
        }
        spans.extend([
            label("  elapsed "),
            Span::styled(clock(s.elapsed), t.text()),
        ]);
        if let Some(p) = s.planned {
            spans.push(label("  left "));
            spans.push(Span::styled(clock(p.saturating_sub(s.run_time)), t.text()));
        }
        if !s.thresholds.is_empty() {
            let failing = s
                .thresholds
                .iter()
                .filter(|t| t.passed == Some(false))
                .count();
            let n = s.thresholds.len();
            if failing > 0 {
                spans.push(Span::styled(
                    format!("  ✗ {failing}/{n} thresholds failing"),
                    t.bad(),
                ));
            } else {
                spans.push(Span::styled(format!("  ✓ thresholds {n}/{n}"), t.fg(t.ok)));
            }
        }
        if s.rate.is_some() {
            spans.push(label("  busy VUs "));
            spans.push(Span::styled(
                format!(
                    "{}/{}",
                    units::count(s.vus_active.into()),
                    units::count(s.vus_target.into())
                ),
                t.text(),
            ));
            spans.push(label("  dropped "));
            spans.push(Span::styled(
                units::count(s.dropped),
                if s.dropped > 0 { t.bad() } else { t.text() },
            ));
        }
        if let Some(sp) = &s.spike {
            spans.push(label("  returns to "));
            spans.push(Span::styled(
                units::level(sp.base.into(), s.rate.is_some()),
                t.fg(t.spike),
            ));
        }
        if let Some(stage) = &s.stage {
            spans.push(label("  "));
            spans.push(Span::styled(stage.clone(), t.fg(t.accent)));
            if let Some(next) = &s.next_stage {
                spans.push(label(
                    format!(" · next {}", next.split(": ").nth(1).unwrap_or(next)).as_str(),
                ));
            }
        }
        if app.insecure {
            spans.push(Span::styled("  TLS NOT VERIFIED (--insecure)", t.bad()));
        }
        if let Some(n) = &app.notice {
            spans.push(Span::styled(format!("  {n}"), t.fg(t.warn)));
        }
        Paragraph::new(vec![line1, Line::from(spans)]).render(area, buf);
    }
}
