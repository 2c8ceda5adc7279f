//! The header: name, state, run clock, load, rps, errors, p95; then counts, volley's own
//! CPU and lag (a warning first when volley is the bottleneck), the wall clock, the target
//! and whatever the run is doing (spike, stage, thresholds).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::{Paragraph, Widget};

use super::{clock, fit, Seg};
use crate::state::{RunState, StageStatus};
use crate::ui::app::{App, Reach};
use crate::units;

/// Two lines at the top of the screen. Pieces that do not fit are shortened, then left
/// out, least important first: the state, the run clock and the load always show.
pub struct Header<'a> {
    /// The console state to show.
    pub app: &'a App,
}

impl Widget for Header<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let s = &app.snap;
        let t = &app.theme;
        let badge = |text: String, color: Color| {
            Span::styled(
                format!(" {text} "),
                if t.monochrome {
                    Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
                } else {
                    Style::default()
                        .bg(color)
                        .fg(Color::Black)
                        .add_modifier(Modifier::BOLD)
                },
            )
        };
        let label = |x: &'static str| Span::styled(x, t.muted());
        let width = area.width as usize;

        let mut line1 = vec![Seg::new(
            1,
            vec![Span::styled(format!("volley · {}", s.scenario), t.title())],
        )
        .or(vec![Span::styled(
            s.scenario.chars().take(16).collect::<String>(),
            t.title(),
        )])];
        let spike = s.spike.as_ref().filter(|_| app.running()).map(|sp| {
            let left = sp.remaining.as_secs() + 1;
            badge(format!("SPIKE {} {left}s", sp.spike.change), t.spike)
        });
        // PAUSED always shows; a running spike takes the place of RUNNING.
        let state = match (s.state, &spike) {
            (RunState::Running, Some(sp)) => sp.clone(),
            (RunState::Running, None) => badge("RUNNING".into(), t.ok),
            (RunState::Paused, _) => badge("PAUSED".into(), t.paused),
            (RunState::Stopping, _) => badge("STOPPING".into(), t.warn),
            (RunState::Done, _) => badge(
                if s.partial {
                    "DONE (stopped)".into()
                } else {
                    "DONE".into()
                },
                t.accent,
            ),
        };
        line1.push(Seg::new(10, vec![state]));
        if let (RunState::Paused, Some(sp)) = (s.state, spike) {
            line1.push(Seg::new(7, vec![sp]));
        }
        let verdict = match app.reach {
            Reach::Answering => None,
            Reach::Unreachable => Some(("TARGET UNREACHABLE", "UNREACHABLE")),
            Reach::NotAnswering => Some(("TARGET NOT ANSWERING", "NO ANSWER")),
        };
        if let Some((long, short)) = verdict {
            line1.push(
                Seg::new(9, vec![Span::styled(long, t.bad())])
                    .or(vec![Span::styled(short, t.bad())]),
            );
        }
        let run = match s.planned {
            Some(p) => format!("{} / {}", clock(s.run_time), clock(p)),
            None => clock(s.run_time),
        };
        line1.push(Seg::new(
            9,
            vec![label("run "), Span::styled(run, t.text())],
        ));
        let target = app.target();
        let (load_label, load) = match s.rate {
            Some(r) if target != r.round() as u32 && app.running() => {
                ("rate ", format!("{r:.0}/s → {target}/s"))
            }
            Some(r) => ("rate ", format!("{r:.0}/s")),
            // "a → b" only while the load can still get there (not once it is stopping
            // or done, when every VU ends).
            None if target != s.vus_active && app.running() => {
                ("VUs ", format!("{} → {}", s.vus_active, target))
            }
            None => ("VUs ", format!("{}", s.vus_active)),
        };
        line1.push(Seg::new(
            8,
            vec![
                label(load_label),
                Span::styled(load, t.fg(t.accent).add_modifier(Modifier::BOLD)),
            ],
        ));
        // Once the run is over, its overall rate; until then the last second's.
        let (rps_label, rps) = if s.state == RunState::Done {
            ("avg rps ", s.rps_overall())
        } else {
            ("rps ", s.total.rps_now)
        };
        line1.push(Seg::new(
            6,
            vec![
                label(rps_label),
                Span::styled(
                    units::count(rps.round() as u64),
                    t.fg(t.throughput).add_modifier(Modifier::BOLD),
                ),
            ],
        ));
        let err_rate = s.total.error_rate() * 100.0;
        let err_style = if err_rate >= 5.0 {
            t.bad()
        } else if err_rate > 0.0 {
            t.fg(t.warn)
        } else {
            t.fg(t.ok)
        };
        line1.push(Seg::new(
            6,
            vec![
                label("err "),
                Span::styled(units::percent(s.total.error_rate()), err_style),
            ],
        ));
        line1.push(Seg::new(
            5,
            vec![
                label("p95 "),
                Span::styled(
                    units::ms(s.total.quantile_us(0.95) as f64 / 1000.0),
                    t.fg(t.p95),
                ),
            ],
        ));

        let mut line2 = vec![
            Seg::new(
                6,
                vec![
                    label("reqs "),
                    Span::styled(units::count(s.total.requests), t.text()),
                ],
            ),
            Seg::new(
                3,
                vec![
                    label("in flight "),
                    Span::styled(s.in_flight.to_string(), t.text()),
                ],
            ),
            Seg::new(
                2,
                vec![
                    label("conns "),
                    Span::styled(
                        if s.connections_open_known {
                            s.connections_open.to_string()
                        } else {
                            "?".to_string()
                        },
                        t.text(),
                    ),
                ],
            ),
            Seg::new(
                4,
                vec![label("wall "), Span::styled(clock(s.elapsed), t.text())],
            ),
        ];
        // Self-watch: volley's own CPU and event-loop lag, after the connections.
        if let Some(g) = s.generator.last() {
            let strained = s.generator.bottleneck_now;
            let st = if strained { t.bad() } else { t.text() };
            let cpu = units::percent_with(g.cpu_share, 0);
            line2.insert(
                3,
                Seg::new(
                    if strained { 8 } else { 2 },
                    vec![
                        label("volley CPU "),
                        Span::styled(cpu.clone(), st),
                        label(" lag "),
                        Span::styled(units::ms(g.lag_p99_ms), st),
                    ],
                )
                .or(vec![label("cpu "), Span::styled(cpu, st)]),
            );
        }
        // Once volley has been the bottleneck its numbers understate the target: first.
        if s.generator.bottleneck.is_some() {
            line2.insert(
                0,
                Seg::new(
                    9,
                    vec![Span::styled(
                        format!("⚠ {}", crate::report::generator::BOTTLENECK_BANNER),
                        t.bad(),
                    )],
                )
                .or(vec![Span::styled("⚠ volley is the bottleneck", t.bad())]),
            );
        }
        if let Some(p) = s.planned {
            line2.push(Seg::new(
                7,
                vec![
                    label("left "),
                    Span::styled(clock(p.saturating_sub(s.run_time)), t.text()),
                ],
            ));
        }
        if let Some(d) = s.startup {
            line2.push(Seg::new(
                1,
                vec![
                    label("start-up "),
                    Span::styled(units::ms(d.as_secs_f64() * 1000.0), t.text()),
                ],
            ));
        }
        if let Some(url) = &app.target_url {
            let host = url.split_once("://").map_or(url.as_str(), |(_, h)| h);
            line2.push(
                Seg::new(5, vec![Span::styled(url.clone(), t.fg(t.accent))]).or(vec![
                    Span::styled(host.trim_end_matches('/').to_string(), t.fg(t.accent)),
                ]),
            );
        }
        if !s.thresholds.is_empty() {
            let failing = s
                .thresholds
                .iter()
                .filter(|t| t.passed == Some(false))
                .count();
            let n = s.thresholds.len();
            line2.push(if failing > 0 {
                Seg::new(
                    8,
                    vec![Span::styled(
                        format!("✗ {failing}/{n} thresholds failing"),
                        t.bad(),
                    )],
                )
                .or(vec![Span::styled(format!("✗ {failing}/{n} thr"), t.bad())])
            } else {
                Seg::new(
                    5,
                    vec![Span::styled(format!("✓ thresholds {n}/{n}"), t.fg(t.ok))],
                )
                .or(vec![Span::styled(format!("✓ {n}/{n} thr"), t.fg(t.ok))])
            });
        }
        if s.rate.is_some() {
            line2.push(
                Seg::new(
                    5,
                    vec![
                        label("busy VUs "),
                        Span::styled(format!("{}/{}", s.vus_active, s.vus_target), t.text()),
                    ],
                )
                .or(vec![
                    label("busy "),
                    Span::styled(format!("{}/{}", s.vus_active, s.vus_target), t.text()),
                ]),
            );
            line2.push(
                Seg::new(
                    if s.dropped > 0 { 7 } else { 3 },
                    vec![
                        label("dropped "),
                        Span::styled(
                            units::count(s.dropped),
                            if s.dropped > 0 { t.bad() } else { t.text() },
                        ),
                    ],
                )
                .or(vec![
                    label("drop "),
                    Span::styled(
                        units::count(s.dropped),
                        if s.dropped > 0 { t.bad() } else { t.text() },
                    ),
                ]),
            );
        }
        if let Some(sp) = s.spike.as_ref().filter(|_| app.running()) {
            let unit = if s.rate.is_some() { "/s" } else { " VUs" };
            let back = Span::styled(format!("{}{unit}", sp.base), t.fg(t.spike));
            line2.push(
                Seg::new(8, vec![label("spike returns to "), back.clone()])
                    .or(vec![label("then "), back]),
            );
        }
        if let Some(stage) = &s.stage {
            // "stage 2/3: hold 200/s for 1m", or "2/3 hold 200/s for 1m" when short of room.
            let short = match stage {
                StageStatus::In { now, .. } => format!("{} {}", now.place(), now.what()),
                StageStatus::Done => stage.to_string(),
            };
            let mut full = vec![Span::styled(stage.to_string(), t.fg(t.accent))];
            if let StageStatus::In {
                next: Some(next), ..
            } = stage
            {
                full.push(Span::styled(format!(" · next {}", next.what()), t.muted()));
            }
            line2.push(Seg::new(7, full).or(vec![Span::styled(short, t.fg(t.accent))]));
        }
        if app.insecure {
            line2.push(
                Seg::new(
                    9,
                    vec![Span::styled("TLS NOT VERIFIED (--insecure)", t.bad())],
                )
                .or(vec![Span::styled("TLS NOT VERIFIED", t.bad())]),
            );
        }
        if let Some(n) = &app.notice {
            line2.push(Seg::new(3, vec![Span::styled(n.clone(), t.fg(t.warn))]));
        }
        Paragraph::new(vec![fit(line1, width, "  "), fit(line2, width, "  ")]).render(area, buf);
    }
}
