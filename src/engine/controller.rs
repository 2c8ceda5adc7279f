//! The controller: decides the load level (the stages, commands, spikes), has the load
//! model run it, and says when the run must end (its plan, a stop, an abort). The run
//! around it (set-up, drain) is in `run.rs`; the models are in `model/`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::command::{Command, Spike};
use super::gate::Phase;
use super::model::Model;
use super::sleep_opt;
use super::state::{ControlState, LiveSpike, SpikeClock};
use super::vu::RunCtx;
use crate::scenario::Stage;
use crate::state::{EventKind, RunState, StageStatus, StageView};
use crate::units::{self, duration as format_duration};

struct ActiveSpike {
    level: f64,
    /// Stops while the run is paused.
    clock: SpikeClock,
    spike: Spike,
}

pub(super) struct Controller {
    ctx: Arc<RunCtx>,
    model: Box<dyn Model>,
    spike: Option<ActiveSpike>,
    /// Level set by hand; lasts until the next stage starts.
    manual: Option<f64>,
    /// Level the stages (or the plan) ask for now.
    planned: f64,
    initial: f64,
    stages: Vec<Stage>,
    stage_idx: Option<usize>,
}

impl Controller {
    /// A controller for `model`, which starts at `initial` and follows `stages`.
    pub fn new(ctx: Arc<RunCtx>, model: Box<dyn Model>, initial: f64, stages: Vec<Stage>) -> Self {
        Controller {
            ctx,
            model,
            spike: None,
            manual: None,
            planned: initial,
            initial,
            stages,
            stage_idx: None,
        }
    }

    /// Starts the load: the `start` event, the start-up goal, the first level.
    pub fn start(&mut self) {
        let initial = self.initial;
        self.ctx
            .control
            .event(EventKind::Start, self.model.start_detail(initial));
        // Start-up lasts until the initial load is up.
        self.ctx.gauges.startup_goal.store(
            self.model.startup_goal(self.level()),
            std::sync::atomic::Ordering::Relaxed,
        );
        self.model.begin(&self.ctx);
        self.follow_stages(Duration::ZERO);
        self.apply_level();
        self.model.started(&self.ctx);
    }

    /// The load model, to stop it.
    pub fn model(&mut self) -> &mut dyn Model {
        self.model.as_mut()
    }

    /// A load level with its unit: `16 VUs`, `5.8/s`.
    fn level_text(&self, x: f64) -> String {
        units::level(x, self.model.is_open())
    }

    /// A load level without its unit (the first of `from -> to`).
    fn level_bare(&self, x: f64) -> String {
        units::level_bare(x, self.model.is_open())
    }

    fn control(&self) -> Arc<ControlState> {
        self.ctx.control.clone()
    }

    fn base(&self) -> f64 {
        self.manual.unwrap_or(self.planned)
    }

    fn level(&self) -> f64 {
        self.spike.as_ref().map_or(self.base(), |s| s.level)
    }

    fn apply_level(&mut self) {
        let level = self.level();
        self.model.apply(&self.ctx, level);
    }

    /// Publishes the running spike (its label, clock and the load it returns to).
    fn show_spike(&self) {
        self.ctx
            .control
            .set_spike(self.spike.as_ref().map(|s| LiveSpike {
                spike: s.spike,
                clock: s.clock,
                base: self.base().round() as u32,
            }));
    }

    /// Stops or restarts the spike's clock with the run clock; says what became of it.
    fn spike_clock(&mut self, pause: bool, now: Instant) -> String {
        let Some(s) = self.spike.as_mut() else {
            return String::new();
        };
        s.clock = if pause {
            s.clock.pause(now)
        } else {
            s.clock.resume(now)
        };
        let left = format!("{:.1}s", s.clock.remaining(now).as_secs_f64());
        let what = if pause { "held" } else { "runs again" };
        let text = format!("; spike {} {what} with {left} left", s.spike);
        self.show_spike();
        text
    }

    /// The level the stages ask for after `t` of run time, and the stage index.
    fn staged(&self, t: Duration) -> (f64, Option<usize>) {
        let mut prev = self.initial;
        let mut left = t;
        for (i, s) in self.stages.iter().enumerate() {
            if left < s.duration {
                let f = left.as_secs_f64() / s.duration.as_secs_f64();
                return (prev + (s.target - prev) * f, Some(i));
            }
            left -= s.duration;
            prev = s.target;
        }
        (prev, None)
    }

    /// Stage `i` of the plan, typed.
    fn stage_view(&self, i: usize) -> StageView {
        let from = if i == 0 {
            self.initial
        } else {
            self.stages[i - 1].target
        };
        let s = self.stages[i];
        StageView {
            index: i,
            of: self.stages.len(),
            from,
            target: s.target,
            duration: s.duration,
            open: self.model.is_open(),
        }
    }

    /// Follows the stages at run time `t`.
    fn follow_stages(&mut self, t: Duration) {
        if self.stages.is_empty() {
            return;
        }
        let (level, idx) = self.staged(t);
        if idx != self.stage_idx {
            self.stage_idx = idx;
            self.manual = None;
            let g = self.control();
            match idx {
                Some(i) => {
                    let now = self.stage_view(i);
                    let next = (i + 1 < self.stages.len()).then(|| self.stage_view(i + 1));
                    g.event(EventKind::Stage, now.to_string());
                    g.set_stage(Some(StageStatus::In { now, next }));
                }
                None => g.set_stage(Some(StageStatus::Done)),
            }
        }
        self.planned = level;
        self.apply_level();
    }

    /// Applies a command; returns true when the run must end.
    fn apply(&mut self, cmd: Command) -> bool {
        let g = self.control();
        match cmd {
            Command::By { sender, command } => {
                let before = g.event_count();
                let end = self.apply(*command);
                self.control()
                    .label_events_since(before, &format!(" · by {sender}"));
                return end;
            }
            Command::SetVus(n) => self.set_level(n as f64),
            Command::SetRate(r) => self.set_level(r.max(0.0)),
            Command::Pause => {
                if self.ctx.gate.phase() == Phase::Running {
                    let now = Instant::now();
                    self.ctx.gate.set(Phase::Paused);
                    g.with_clock(|c| c.pause(now));
                    let spike = self.spike_clock(true, now);
                    g.set_state(RunState::Paused);
                    g.event(EventKind::Pause, format!("paused{spike}"));
                }
            }
            Command::Resume => {
                if self.ctx.gate.phase() == Phase::Paused {
                    let now = Instant::now();
                    g.with_clock(|c| c.resume(now));
                    let spike = self.spike_clock(false, now);
                    self.ctx.gate.set(Phase::Running);
                    g.set_state(RunState::Running);
                    g.event(EventKind::Resume, format!("resumed{spike}"));
                }
            }
            Command::Spike(spike) => {
                let base = self.base();
                let level = spike.change.apply_f64(base);
                let level = self.model.spike_level(level);
                // A spike started while paused waits for the resume to run down.
                let paused = self.ctx.gate.phase() == Phase::Paused;
                let clock = if paused {
                    SpikeClock::Paused {
                        left: spike.duration,
                    }
                } else {
                    SpikeClock::Running {
                        until: Instant::now() + spike.duration,
                    }
                };
                self.spike = Some(ActiveSpike {
                    level,
                    clock,
                    spike,
                });
                self.show_spike();
                g.event(
                    EventKind::Spike,
                    format!(
                        "{spike}: {} -> {}{}",
                        self.level_bare(base),
                        self.level_text(level),
                        if paused {
                            " (paused: its clock starts on resume)"
                        } else {
                            ""
                        }
                    ),
                );
                self.apply_level();
            }
            Command::EndSpike => self.end_spike("ended early"),
            Command::Stop | Command::StopOnSignal(_) => {
                let by = match cmd {
                    Command::StopOnSignal(sig) => format!("stopped by {}", sig.name()),
                    _ => "stopped by the user".into(),
                };
                g.event(EventKind::Stop, by);
                g.mark_partial();
                return true;
            }
        }
        false
    }

    fn set_level(&mut self, n: f64) {
        let g = self.control();
        let kind = self.model.set_event();
        let from = self.base();
        self.manual = Some(n);
        if self.spike.is_some() {
            self.show_spike();
            g.event(
                kind,
                format!(
                    "{} -> {} (after the spike)",
                    self.level_bare(from),
                    self.level_text(n)
                ),
            );
        } else {
            g.event(
                kind,
                format!("{} -> {}", self.level_bare(from), self.level_text(n)),
            );
            self.apply_level();
        }
    }

    fn end_spike(&mut self, why: &str) {
        if let Some(s) = self.spike.take() {
            self.ctx.control.set_spike(None);
            self.ctx.control.event(
                EventKind::SpikeEnd,
                format!(
                    "{why}: {} -> {} ({})",
                    self.level_bare(s.level),
                    self.level_text(self.base()),
                    s.spike
                ),
            );
            self.apply_level();
        }
    }

    /// Obeys commands and follows the plan until the run must end; returns whether the
    /// command channel is still open (a Stop during the drain cuts it short).
    pub async fn until_end(
        &mut self,
        commands: &mut mpsc::UnboundedReceiver<Command>,
        planned: Option<Duration>,
    ) -> bool {
        let control = self.control();
        let mut commands_open = true;
        let mut stage_tick = tokio::time::interval(Duration::from_millis(100));
        stage_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // Time left on the run clock; none while paused or before the first VU started.
            let clock = control.clock();
            let deadline = match planned {
                Some(p) if !clock.is_paused() && clock.is_started() => {
                    let left = p.saturating_sub(clock.run_time(Instant::now()));
                    Some(tokio::time::Instant::now() + left)
                }
                _ => None,
            };
            let spike_until = self
                .spike
                .as_ref()
                .and_then(|s| s.clock.until())
                .map(tokio::time::Instant::from_std);
            tokio::select! {
                cmd = commands.recv(), if commands_open => match cmd {
                    Some(cmd) => if self.apply(cmd) { break },
                    None => commands_open = false,
                },
                _ = sleep_opt(deadline) => {
                    control.event(EventKind::End, format!("planned duration {} reached", format_duration(planned.unwrap_or_default())));
                    break;
                }
                _ = sleep_opt(spike_until) => self.end_spike("spike over"),
                // The run clock started: the deadline above can now be set.
                _ = control.run_started.notified(), if !clock.is_started() => {}
                _ = self.ctx.exhausted.notified() => {
                    control.event(EventKind::End, "iteration limit reached");
                    break;
                }
                _ = control.abort_signal.notified() => {
                    let why = control.abort_reason().unwrap_or_default();
                    control.event(EventKind::Abort, format!("aborted: {why}"));
                    control.mark_partial();
                    break;
                }
                _ = stage_tick.tick(), if !self.stages.is_empty() => {
                    let clock = control.clock();
                    if !clock.is_paused() {
                        self.follow_stages(clock.run_time(Instant::now()));
                    }
                }
            }
        }
        commands_open
    }
}
