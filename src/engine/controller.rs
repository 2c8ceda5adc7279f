//! The controller task: spawns and retires VUs, pauses, spikes and ends the run.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::task::JoinHandle;

use super::command::{Command, Spike};
use super::executor::Requests;
use super::gate::{Gate, Phase};
use super::vu::{run_vu, RunCtx};
use crate::metrics::{Aggregator, Gauges, RunState, Snapshot, SpikeGauge};
use crate::scenario::{format_duration, Plan};

/// Recording shards: enough that two worker threads rarely meet on one lock.
pub const DEFAULT_SHARDS: usize = 8;

struct Vu {
    retire: Arc<AtomicBool>,
    handle: JoinHandle<()>,
}

struct ActiveSpike {
    base: u32,
    until: tokio::time::Instant,
    spike: Spike,
}

struct Controller {
    ctx: Arc<RunCtx>,
    vus: Vec<Vu>,
    retiring: Vec<JoinHandle<()>>,
    next_id: u64,
    spike: Option<ActiveSpike>,
}

impl Controller {
    fn target(&self) -> u32 {
        self.vus.len() as u32
    }

    fn set_vus(&mut self, n: u32) {
        let cur = self.vus.len() as u32;
        if n > cur {
            for _ in cur..n {
                let retire = Arc::new(AtomicBool::new(false));
                let handle = tokio::spawn(run_vu(self.ctx.clone(), self.next_id, retire.clone()));
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
    }

    /// Applies a command; returns true when the run must end.
    fn apply(&mut self, cmd: Command) -> bool {
        let g = &self.ctx.gauges.clone();
        match cmd {
            Command::SetVus(n) => {
                let from = self.target();
                if let Some(s) = &mut self.spike {
                    // A manual change during a spike becomes the level to return to.
                    s.base = n;
                    g.set_spike(Some(SpikeGauge {
                        label: s.spike.to_string(),
                        until: s.until.into_std(),
                        base: n,
                    }));
                    g.event("set_vus", format!("{from} -> {n} (after the spike)"));
                } else {
                    self.set_vus(n);
                    g.event("set_vus", format!("{from} -> {n}"));
                }
            }
            Command::Pause => {
                if self.ctx.gate.phase() == Phase::Running {
                    self.ctx.gate.set(Phase::Paused);
                    g.with_clock(|c| c.pause(Instant::now()));
                    g.set_state(RunState::Paused);
                    g.event("pause", "paused");
                }
            }
            Command::Resume => {
                if self.ctx.gate.phase() == Phase::Paused {
                    g.with_clock(|c| c.resume(Instant::now()));
                    self.ctx.gate.set(Phase::Running);
                    g.set_state(RunState::Running);
                    g.event("resume", "resumed");
                }
            }
            Command::Spike(spike) => {
                let base = self.spike.as_ref().map_or(self.target(), |s| s.base);
                let to = spike.change.apply(base);
                self.set_vus(to);
                let until = tokio::time::Instant::now() + spike.duration;
                self.spike = Some(ActiveSpike { base, until, spike });
                g.set_spike(Some(SpikeGauge {
                    label: spike.to_string(),
                    until: until.into_std(),
                    base,
                }));
                g.event("spike", format!("{spike}: {base} -> {to} VUs"));
            }
            Command::EndSpike => self.end_spike("ended early"),
            Command::Stop => {
                g.event("stop", "stopped by command");
                g.partial.store(true, Ordering::Relaxed);
                return true;
            }
        }
        false
    }

    fn end_spike(&mut self, why: &str) {
        if let Some(s) = self.spike.take() {
            self.ctx.gauges.set_spike(None);
            let from = self.target();
            self.set_vus(s.base);
            self.ctx.gauges.event(
                "spike_end",
                format!("{why}: {from} -> {} VUs ({})", s.base, s.spike),
            );
        }
    }
}

pub async fn run(
    plan: Plan,
    mut commands: mpsc::UnboundedReceiver<Command>,
    publish: watch::Sender<Arc<Snapshot>>,
) -> Snapshot {
    let started = Instant::now();
    let gauges = Arc::new(Gauges::new(started));
    *gauges.planned.lock().unwrap_or_else(|p| p.into_inner()) = plan.load.stop.duration;
    let endpoints: Vec<(String, String)> = plan
        .endpoints
        .iter()
        .map(|e| (e.name.clone(), e.method.to_string()))
        .collect();
    let (aggregator, recorder) =
        Aggregator::new(&plan.name, &endpoints, DEFAULT_SHARDS, gauges.clone());
    let (agg_done_tx, agg_done_rx) = oneshot::channel();
    let agg_task = tokio::spawn(aggregator.run(publish, agg_done_rx));

    let mut acc = 0u64;
    let cumulative_weights = plan
        .endpoints
        .iter()
        .map(|e| {
            acc += e.weight as u64;
            acc
        })
        .collect();
    let ctx = Arc::new(RunCtx {
        requests: Arc::new(Requests::new(&plan)),
        gauges: gauges.clone(),
        gate: Gate::default(),
        recorder,
        cumulative_weights,
        think: plan.load.think_time,
        iteration_limit: plan.load.stop.iterations,
        iterations_started: AtomicU64::new(0),
        exhausted: Notify::new(),
    });
    let mut c = Controller {
        ctx: ctx.clone(),
        vus: Vec::new(),
        retiring: Vec::new(),
        next_id: 0,
        spike: None,
    };
    gauges.event("start", format!("{} VUs", plan.load.vus));
    c.set_vus(plan.load.vus);

    let planned = plan.load.stop.duration;
    let mut commands_open = true;
    loop {
        // Time left on the run clock; none while paused.
        let deadline = match planned {
            Some(p) if !gauges.clock().is_paused() => {
                let left = p.saturating_sub(gauges.clock().run_time(Instant::now()));
                Some(tokio::time::Instant::now() + left)
            }
            _ => None,
        };
        let spike_until = c.spike.as_ref().map(|s| s.until);
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
            _ = ctx.exhausted.notified() => {
                gauges.event("end", "iteration limit reached");
                break;
            }
        }
    }

    // Drain: no new request starts; in-flight ones get the graceful-stop period.
    gauges.with_clock(|cl| cl.resume(Instant::now()));
    ctx.gate.set(Phase::Stopping);
    gauges.set_state(RunState::Stopping);
    let mut handles: Vec<JoinHandle<()>> = c.vus.drain(..).map(|v| v.handle).collect();
    handles.append(&mut c.retiring);
    let grace = plan.load.graceful_stop;
    let drained = tokio::time::timeout(grace, async {
        for h in handles.iter_mut() {
            let _ = h.await;
        }
    })
    .await;
    if drained.is_err() {
        let still = handles.iter().filter(|h| !h.is_finished()).count();
        gauges.event(
            "abort",
            format!(
                "{still} VUs still busy after the {} graceful stop",
                format_duration(grace)
            ),
        );
        for h in &handles {
            h.abort();
        }
        for h in handles {
            let _ = h.await;
        }
    }
    gauges.event("done", "run finished");
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
