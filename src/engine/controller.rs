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
use super::vu::{run_closed_vu, stagger, user_pattern, RunCtx};
use crate::metrics::{AbortCause, Aggregator, Gauges, RunState, Snapshot, SpikeClock, SpikeGauge};
use crate::scenario::{LoadModel, Plan, Stage};
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

    fn gauges(&self) -> Arc<Gauges> {
        self.ctx.gauges.clone()
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
            self.ctx.gauges.set_rate(level);
            self.ctx.gate.poke();
        } else {
            self.set_vus(level.round().clamp(0.0, u32::MAX as f64) as u32);
        }
    }

    /// Publishes the running spike (its label, clock and the load it returns to).
    fn show_spike(&self) {
        let g = &self.ctx.gauges;
        g.set_spike(self.spike.as_ref().map(|s| SpikeGauge {
            label: s.spike.to_string(),
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
            self.ctx.gauges.with_clock(|c| c.start_run(Instant::now()));
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

    fn stage_label(&self, i: usize) -> String {
        let from = if i == 0 {
            self.initial
        } else {
            self.stages[i - 1].target
        };
        let s = self.stages[i];
        let what = if s.duration.is_zero() {
            format!("step to {}", self.level_text(s.target))
        } else if (s.target - from).abs() < 1e-9 {
            format!(
                "hold {} for {}",
                self.level_text(s.target),
                format_duration(s.duration)
            )
        } else {
            format!(
                "ramp {} -> {} over {}",
                self.level_bare(from),
                self.level_text(s.target),
                format_duration(s.duration)
            )
        };
        format!("stage {}/{}: {what}", i + 1, self.stages.len())
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
            let g = self.gauges();
            match idx {
                Some(i) => {
                    let now = self.stage_label(i);
                    let next = (i + 1 < self.stages.len()).then(|| self.stage_label(i + 1));
                    g.event("stage", now.clone());
                    g.set_stage(Some(now), next);
                }
                None => g.set_stage(Some("stages done".into()), None),
            }
        }
        self.planned = level;
        self.apply_level();
    }

    /// Applies a command; returns true when the run must end.
    fn apply(&mut self, cmd: Command) -> bool {
        let g = self.gauges();
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
                    g.event("pause", format!("paused{spike}"));
                }
            }
            Command::Resume => {
                if self.ctx.gate.phase() == Phase::Paused {
                    let now = Instant::now();
                    g.with_clock(|c| c.resume(now));
                    let spike = self.spike_clock(false, now);
                    self.ctx.gate.set(Phase::Running);
                    g.set_state(RunState::Running);
                    g.event("resume", format!("resumed{spike}"));
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
                    "spike",
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
                g.event("stop", by);
                g.partial.store(true, Ordering::Relaxed);
                return true;
            }
        }
        false
    }

    fn set_level(&mut self, n: f64) {
        let g = self.gauges();
        let from = self.base();
        self.manual = Some(n);
        if self.spike.is_some() {
            self.show_spike();
            g.event(
                if self.open { "set_rate" } else { "set_vus" },
                format!(
                    "{} -> {} (after the spike)",
                    self.level_bare(from),
                    self.level_text(n)
                ),
            );
        } else {
            g.event(
                if self.open { "set_rate" } else { "set_vus" },
                format!("{} -> {}", self.level_bare(from), self.level_text(n)),
            );
            self.apply_level();
        }
    }

    fn end_spike(&mut self, why: &str) {
        if let Some(s) = self.spike.take() {
            self.ctx.gauges.set_spike(None);
            self.ctx.gauges.event(
                "spike_end",
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
    *gauges
        .iteration_limit
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = plan.load.stop.iterations;
    *gauges.planned.lock().unwrap_or_else(|p| p.into_inner()) = plan.load.stop.duration;
    let endpoints: Vec<(String, String)> = plan
        .endpoints
        .iter()
        .map(|e| (e.name.clone(), e.method.to_string()))
        .collect();
    let shards = shards_for(tokio::runtime::Handle::current().metrics().num_workers());
    let (mut aggregator, recorder) =
        Aggregator::new(&plan.name, &endpoints, shards, gauges.clone());
    aggregator.set_thresholds(plan.thresholds.clone());
    aggregator.keep_interval_histograms(opts.interval_histograms);
    let (agg_done_tx, agg_done_rx) = oneshot::channel();
    let agg_task = tokio::spawn(aggregator.run(publish, agg_done_rx));
    let selfwatch = tokio::spawn(super::selfwatch::run(gauges.clone()));
    let monitor = plan.monitor.clone().map(|spec| {
        gauges.start_target(spec.source.to_string(), spec.names());
        let sink: Arc<dyn crate::monitor::Sink> = gauges.clone();
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
            gauges.set_rate(rate);
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
                events: e.needs_events(),
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
    gauges.event(
        "start",
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
        gauges.with_clock(|cl| cl.start_run(Instant::now()));
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
        let clock = gauges.clock();
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
                gauges.event("end", format!("planned duration {} reached", format_duration(planned.unwrap_or_default())));
                break;
            }
            _ = sleep_opt(spike_until) => c.end_spike("spike over"),
            // The run clock started: the deadline above can now be set.
            _ = gauges.run_started.notified(), if !clock.is_started() => {}
            _ = ctx.exhausted.notified() => {
                gauges.event("end", "iteration limit reached");
                break;
            }
            _ = gauges.abort_signal.notified() => {
                let why = gauges.abort_reason().unwrap_or_default();
                gauges.event("abort", format!("aborted: {why}"));
                gauges.partial.store(true, Ordering::Relaxed);
                break;
            }
            _ = stage_tick.tick(), if !c.stages.is_empty() => {
                let clock = gauges.clock();
                if !clock.is_paused() {
                    c.follow_stages(clock.run_time(Instant::now()));
                }
            }
        }
    }

    // Drain: no new request starts; in-flight ones get the graceful-stop period.
    gauges.with_clock(|cl| cl.resume(Instant::now()));
    ctx.gate.set(Phase::Stopping);
    gauges.set_state(RunState::Stopping);
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
        gauges.set_aborted_by(cause);
        let requests = units::plural(
            gauges.in_flight.load(Ordering::Relaxed),
            "request",
            "requests",
        );
        gauges.event(
            "abort",
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
    gauges.event("done", "run finished");
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
