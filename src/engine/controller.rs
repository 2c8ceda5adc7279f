//! The controller task: follows stages, obeys commands (VUs or rate, pause, spike, stop),
//! and ends the run with a bounded drain.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::task::{JoinHandle, JoinSet};

use super::command::{Command, Spike};
use super::executor::{Requests, Want};
use super::gate::{Gate, Phase};
use super::state::{ControlState, LiveSpike, SpikeClock};
use super::vu::{run_closed_vu, stagger, user_pattern, RunCtx};
use crate::metrics::{Aggregator, Gauges, Snapshot};
use crate::scenario::{LoadModel, Plan, Stage};
use crate::state::{AbortCause, EventKind, RunState, StageStatus, StageView};
use crate::units::{self, duration as format_duration};

/// Most recording shards: enough that worker threads rarely meet on one lock.
pub const DEFAULT_SHARDS: usize = 8;

/// Shards for a runtime with `workers` threads: two per worker (the aggregator takes one
/// shard at a time), at most [`DEFAULT_SHARDS`]. Each shard holds an HDR histogram per
/// endpoint, which widens to the slowest latency seen, so unneeded shards cost memory:
/// with one engine thread, 2 shards instead of 8 keep a quarter of those histograms.
pub fn shards_for(workers: usize) -> usize {
    (workers * 2).clamp(2, DEFAULT_SHARDS)
}

struct Vu {
    retire: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

struct ActiveSpike {
    level: f64,
    /// Stops while the run is paused.
    clock: SpikeClock,
    spike: Spike,
}

struct Controller {
    ctx: Arc<RunCtx>,
    open: bool,
    vus: Vec<Vu>,
    retiring: Vec<JoinHandle<()>>,
    next_id: u64,
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
    /// A load level with its unit: `16 VUs`, `5.8/s`.
    fn level_text(&self, x: f64) -> String {
        units::level(x, self.open)
    }

    /// A load level without its unit (the first of `from -> to`).
    fn level_bare(&self, x: f64) -> String {
        units::level_bare(x, self.open)
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
        if self.open {
            self.ctx.control.set_rate(level);
            self.ctx.gate.poke();
        } else {
            self.set_vus(level.round().clamp(0.0, u32::MAX as f64) as u32);
        }
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

    fn set_vus(&mut self, n: u32) {
        let cur = self.vus.len() as u32;
        if n > cur {
            for k in 0..n - cur {
                let retire = Arc::new(AtomicBool::new(false));
                let handle = tokio::spawn(run_closed_vu(
                    self.ctx.clone(),
                    self.next_id,
                    retire.clone(),
                    stagger(k),
                ));
                self.next_id += 1;
                self.vus.push(Vu { retire, handle });
            }
        } else if n < cur {
            for vu in self.vus.drain(n as usize..) {
                vu.retire.store(true, Ordering::Release);
                self.retiring.push(vu.handle);
            }
            self.ctx.gate.poke();
            self.retiring.retain(|h| !h.is_finished());
        }
        self.ctx.gauges.vus_target.store(n, Ordering::Relaxed);
        if n == 0 {
            // No VU to wait for: the run clock runs (a load set to 0 during start-up).
            self.ctx.control.start_run(Instant::now());
        }
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
            open: self.open,
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
                let level = if self.open { level } else { level.round() };
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
        let kind = if self.open {
            EventKind::SetRate
        } else {
            EventKind::SetVus
        };
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
}

pub async fn run(
    plan: Plan,
    opts: super::EngineOptions,
    mut commands: mpsc::UnboundedReceiver<Command>,
    publish: watch::Sender<Arc<Snapshot>>,
) -> Snapshot {
    let started = Instant::now();
    let gauges = Arc::new(Gauges::new(started));
    let control = Arc::new(ControlState::new(
        started,
        plan.load.stop.duration,
        plan.load.stop.iterations,
    ));
    let endpoints: Vec<(String, String)> = plan
        .endpoints
        .iter()
        .map(|e| (e.name.clone(), e.method.to_string()))
        .collect();
    let shards = shards_for(tokio::runtime::Handle::current().metrics().num_workers());
    let (mut aggregator, recorder) = Aggregator::new(
        &plan.name,
        &endpoints,
        shards,
        gauges.clone(),
        control.clone(),
    );
    aggregator.set_thresholds(plan.thresholds.clone());
    aggregator.keep_interval_histograms(opts.interval_histograms);
    let (agg_done_tx, agg_done_rx) = oneshot::channel();
    let agg_task = tokio::spawn(aggregator.run(publish, agg_done_rx));
    let selfwatch = tokio::spawn(super::selfwatch::run(gauges.clone()));
    let monitor = plan.monitor.clone().map(|spec| {
        gauges.start_target(spec.source.to_string(), spec.names());
        let sink: Arc<dyn crate::monitor::Sink> = Arc::new(MonitorSink {
            gauges: gauges.clone(),
            control: control.clone(),
        });
        tokio::spawn(crate::monitor::run(spec, sink))
    });

    let mut acc = 0u64;
    let user_cumulative = plan
        .users
        .iter()
        .map(|u| {
            acc += u.weight as u64;
            acc
        })
        .collect();
    let (open, max_vus, initial) = match plan.load.model {
        LoadModel::Closed => (false, 0, plan.load.vus as f64),
        LoadModel::Open { rate, max_vus } => {
            control.set_rate(rate);
            (true, max_vus, rate)
        }
    };
    let ctx = Arc::new(RunCtx {
        requests: Arc::new(Requests::new(&plan)),
        wants: plan
            .endpoints
            .iter()
            .map(|e| Want {
                body: e.needs_body(),
                headers: e.needs_headers(),
            })
            .collect(),
        user_pattern: user_pattern(&plan.users),
        user_cumulative,
        data_seq: plan.data.iter().map(|_| AtomicU64::new(0)).collect(),
        n_vars: plan.vars.len(),
        endpoints: plan.endpoints.clone(),
        users: plan.users.clone(),
        data: plan.data.clone(),
        gauges: gauges.clone(),
        control: control.clone(),
        gate: Gate::default(),
        recorder,
        iteration_limit: plan.load.stop.iterations,
        iterations_started: AtomicU64::new(0),
        exhausted: Notify::new(),
        #[cfg(debug_assertions)]
        panic_after: std::env::var("VOLLEY_TEST_PANIC_AFTER")
            .ok()
            .and_then(|v| v.parse().ok()),
        #[cfg(debug_assertions)]
        finished: AtomicU64::new(0),
    });
    let mut c = Controller {
        ctx: ctx.clone(),
        open,
        vus: Vec::new(),
        retiring: Vec::new(),
        next_id: 0,
        spike: None,
        manual: None,
        planned: initial,
        initial,
        stages: plan.load.stages.clone(),
        stage_idx: None,
    };
    control.event(
        EventKind::Start,
        if open {
            format!(
                "{} on at most {}",
                units::per_s(initial),
                units::vus(max_vus.into())
            )
        } else {
            units::vus(plan.load.vus.into())
        },
    );
    // Start-up lasts until the initial load is up (the open model: its first VU).
    let goal = if open {
        1.0
    } else {
        c.level().round().max(1.0)
    };
    gauges.startup_goal.store(goal as u64, Ordering::Relaxed);
    // The open model has nothing to wait for (VUs come as arrivals are due, on the run
    // clock): the run clock starts now. A closed load of 0 starts it in set_vus.
    if open {
        control.start_run(Instant::now());
    }
    c.follow_stages(Duration::ZERO);
    c.apply_level();
    let stop_scheduler = Arc::new(Notify::new());
    let scheduler = open.then(|| {
        tokio::spawn(super::open::schedule(
            ctx.clone(),
            max_vus,
            stop_scheduler.clone(),
        ))
    });

    let planned = plan.load.stop.duration;
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
        let spike_until = c
            .spike
            .as_ref()
            .and_then(|s| s.clock.until())
            .map(tokio::time::Instant::from_std);
        tokio::select! {
            cmd = commands.recv(), if commands_open => match cmd {
                Some(cmd) => if c.apply(cmd) { break },
                None => commands_open = false,
            },
            _ = sleep_opt(deadline) => {
                control.event(EventKind::End, format!("planned duration {} reached", format_duration(planned.unwrap_or_default())));
                break;
            }
            _ = sleep_opt(spike_until) => c.end_spike("spike over"),
            // The run clock started: the deadline above can now be set.
            _ = control.run_started.notified(), if !clock.is_started() => {}
            _ = ctx.exhausted.notified() => {
                control.event(EventKind::End, "iteration limit reached");
                break;
            }
            _ = control.abort_signal.notified() => {
                let why = control.abort_reason().unwrap_or_default();
                control.event(EventKind::Abort, format!("aborted: {why}"));
                control.mark_partial();
                break;
            }
            _ = stage_tick.tick(), if !c.stages.is_empty() => {
                let clock = control.clock();
                if !clock.is_paused() {
                    c.follow_stages(clock.run_time(Instant::now()));
                }
            }
        }
    }

    // Drain: no new request starts; in-flight ones get the graceful-stop period.
    control.with_clock(|cl| cl.resume(Instant::now()));
    ctx.gate.set(Phase::Stopping);
    control.set_state(RunState::Stopping);
    stop_scheduler.notify_one();
    let mut handles: Vec<JoinHandle<()>> = c.vus.drain(..).map(|v| v.handle).collect();
    handles.append(&mut c.retiring);
    let mut in_flight: JoinSet<()> = match scheduler {
        Some(s) => s.await.unwrap_or_default(),
        None => JoinSet::new(),
    };
    let grace = plan.load.graceful_stop;
    // A Stop during the drain (a second Ctrl-C) cuts the graceful stop short.
    let hurry = async {
        while commands_open {
            match commands.recv().await {
                Some(c) if c.is_stop() => return,
                Some(_) => {}
                None => commands_open = false,
            }
        }
        std::future::pending::<()>().await
    };
    let drained = tokio::select! {
        r = tokio::time::timeout(grace, async {
            // Pop each handle once it completed: a JoinHandle must not be awaited again.
            while let Some(h) = handles.last_mut() {
                let _ = h.await;
                handles.pop();
            }
            while in_flight.join_next().await.is_some() {}
        }) => r.map_err(|_| AbortCause::GracefulStopTimeout),
        _ = hurry => Err(AbortCause::SecondStop),
    };
    if let Err(cause) = drained {
        control.set_aborted_by(cause);
        let requests = units::plural(
            gauges.in_flight.load(Ordering::Relaxed),
            "request",
            "requests",
        );
        control.event(
            EventKind::Abort,
            match cause {
                AbortCause::SecondStop => format!(
                    "stopped again: {requests} in flight cut off (counted as aborted, not as errors)"
                ),
                AbortCause::GracefulStopTimeout => format!(
                    "{requests} still in flight after the {} graceful stop, cut off (counted as aborted, not as errors)",
                    format_duration(grace)
                ),
            },
        );
        for h in &handles {
            h.abort();
        }
        for h in handles {
            let _ = h.await;
        }
        in_flight.abort_all();
        while in_flight.join_next().await.is_some() {}
    }
    control.event(EventKind::Done, "run finished");
    selfwatch.abort();
    if let Some(m) = &monitor {
        m.abort();
    }
    let _ = agg_done_tx.send(());
    match agg_task.await {
        Ok(s) => s,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Where the target monitor puts its samples (the gauges) and failures (the events).
struct MonitorSink {
    gauges: Arc<Gauges>,
    control: Arc<ControlState>,
}

impl crate::monitor::Sink for MonitorSink {
    fn push(&self, sample: crate::metrics::TargetSample) {
        self.gauges.push_target(sample);
    }
    fn event(&self, detail: String) {
        self.control.event(EventKind::Monitor, detail);
    }
    fn started(&self) -> Instant {
        self.gauges.started
    }
}

async fn sleep_opt(until: Option<tokio::time::Instant>) {
    match until {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_shards_per_worker_thread_up_to_the_most() {
        assert_eq!(shards_for(0), 2);
        assert_eq!(shards_for(1), 2);
        assert_eq!(shards_for(2), 4);
        assert_eq!(shards_for(4), DEFAULT_SHARDS);
        assert_eq!(shards_for(64), DEFAULT_SHARDS);
    }
}
