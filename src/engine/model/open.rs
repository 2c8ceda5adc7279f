//! The open model: iterations start at a rate, on at most `max_vus` VUs, whatever the
//! server does. An iteration waits for a free VU at most `MAX_LAG`, then is dropped.
//! Latency is measured from when the iteration was due (coordinated-omission corrected).
//! How late each iteration starts (after it was due and a VU was free) goes to self-watch's
//! arrival lag: a late start with VUs free is the generator's doing, not the target's.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, Notify};
use tokio::task::{JoinHandle, JoinSet};

use super::{Leftover, Model};
use crate::engine::gate::Phase;
use crate::engine::sleep_opt;
use crate::engine::vu::{Active, RunCtx, StopOnPanic, VuState};
use crate::state::EventKind;
use crate::units;

/// Longest an iteration waits for a free VU before it is dropped.
pub const MAX_LAG: Duration = Duration::from_secs(1);

/// Arrivals at a rate: a level is iterations per second, run by a scheduler task on at
/// most `max_vus` VUs.
pub(super) struct Open {
    max_vus: u32,
    stop: Arc<Notify>,
    scheduler: Option<JoinHandle<JoinSet<()>>>,
}

impl Open {
    pub fn new(max_vus: u32) -> Open {
        Open {
            max_vus,
            stop: Arc::new(Notify::new()),
            scheduler: None,
        }
    }
}

impl Model for Open {
    fn is_open(&self) -> bool {
        true
    }

    fn start_detail(&self, initial: f64) -> String {
        format!(
            "{} on at most {}",
            units::per_s(initial),
            units::vus(self.max_vus.into())
        )
    }

    /// Start-up ends with the first VU.
    fn startup_goal(&self, _initial: f64) -> u64 {
        1
    }

    /// Nothing to wait for (VUs come as arrivals are due, on the run clock): the run
    /// clock starts now.
    fn begin(&mut self, ctx: &Arc<RunCtx>) {
        ctx.control.start_run(Instant::now());
    }

    fn spike_level(&self, level: f64) -> f64 {
        level
    }

    fn set_event(&self) -> EventKind {
        EventKind::SetRate
    }

    fn apply(&mut self, ctx: &Arc<RunCtx>, level: f64) {
        ctx.control.set_rate(level);
        ctx.gate.poke();
    }

    fn started(&mut self, ctx: &Arc<RunCtx>) {
        self.scheduler = Some(tokio::spawn(schedule(
            ctx.clone(),
            self.max_vus,
            self.stop.clone(),
        )));
    }

    fn stop(&mut self) -> Leftover {
        self.stop.notify_one();
        Leftover {
            vus: Vec::new(),
            scheduler: self.scheduler.take(),
        }
    }
}

/// Runs until `stop` is notified; returns the iterations still in flight.
async fn schedule(ctx: Arc<RunCtx>, max_vus: u32, stop: Arc<Notify>) -> JoinSet<()> {
    let (ret_tx, mut ret_rx) = mpsc::unbounded_channel::<VuState>();
    // Free VUs and since when they are free.
    let mut idle: Vec<(VuState, Instant)> = Vec::new();
    let mut created: u32 = 0;
    let mut backlog: VecDeque<Instant> = VecDeque::new();
    let mut running: JoinSet<()> = JoinSet::new();
    let never = Arc::new(AtomicBool::new(false));
    let mut next = tokio::time::Instant::now();
    let mut was_paused = false;
    // The run's number of the next arrival: a fleet worker starts only its own (the
    // arrivals are striped over the workers), on the whole run's schedule.
    let mut arrival: u64 = 0;
    let stopped = stop.notified();
    tokio::pin!(stopped);
    loop {
        let changed = ctx.gate.changed();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let rate = ctx.control.rate().unwrap_or(0.0);
        let phase = ctx.gate.phase();
        if phase == Phase::Stopping {
            break;
        }
        let paused = phase == Phase::Paused;
        if was_paused && !paused {
            // Resume from the same point: nothing is owed for the paused time.
            next = tokio::time::Instant::now();
        }
        was_paused = paused;
        let due = (rate > 0.0 && !paused).then_some(next);
        tokio::select! {
            _ = &mut stopped => break,
            _ = changed => {}
            _ = sleep_opt(due) => {
                let now = tokio::time::Instant::now();
                if ctx.segment.as_ref().is_none_or(|s| s.owns(arrival)) {
                    backlog.push_back(next.into_std());
                }
                arrival += 1;
                let step = Duration::from_secs_f64(1.0 / rate);
                next += step;
                // After a long stall or a rate change, don't owe a burst for the past.
                if next + MAX_LAG < now {
                    next = now;
                }
            }
            Some(vu) = ret_rx.recv() => idle.push((vu, Instant::now())),
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
        // Drop what waited too long, then hand the rest to free VUs (oldest first).
        let now = Instant::now();
        while backlog
            .front()
            .is_some_and(|t| now.duration_since(*t) > MAX_LAG)
        {
            backlog.pop_front();
            ctx.gauges.dropped.fetch_add(1, Ordering::Relaxed);
        }
        while let Some(&due_at) = backlog.front() {
            if ctx.gate.phase() != Phase::Running {
                break;
            }
            let (mut st, free_at) = match idle.pop() {
                Some(vu) => vu,
                None if created < max_vus => {
                    created += 1;
                    ctx.vu_started();
                    (VuState::new(&ctx, ctx.global(created as u64 - 1)), due_at)
                }
                None => break,
            };
            // Owed from when it was due, or from when a VU came free if none was.
            let owed_from = free_at.max(due_at);
            backlog.pop_front();
            if !ctx.take_iteration() {
                idle.push((st, free_at));
                backlog.clear();
                break;
            }
            let ctx = ctx.clone();
            let tx = ret_tx.clone();
            let never = never.clone();
            running.spawn(async move {
                ctx.gauges.arrival_lag.record(owed_from.elapsed());
                let _active = Active::new(&ctx.gauges);
                let _stop_on_panic = StopOnPanic(&ctx.control);
                let user = ctx.pick_user(&mut st.rng);
                if ctx.on_start(&mut st, user, &never).await {
                    ctx.iteration(&mut st, user, Some(due_at), &never).await;
                }
                let _ = tx.send(st);
            });
        }
        ctx.gauges.vus_target.store(created, Ordering::Relaxed);
    }
    running
}
