//! One run from start to end: set-up (the shared state, the aggregator, self-watch and the
//! target monitor), the controller until the run must end, then a bounded drain.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::task::JoinHandle;

use super::command::Command;
use super::controller::Controller;
use super::executor::{Requests, Want};
use super::gate::{Gate, Phase};
use super::model::{self, Leftover};
use super::state::ControlState;
use super::vu::{user_pattern, RunCtx};
use crate::metrics::{Aggregator, Gauges, Snapshot};
use crate::scenario::Plan;
use crate::state::{AbortCause, EventKind, RunState};
use crate::units::{self, duration as format_duration};

/// Recording shards up to which each engine thread gets two.
pub const DEFAULT_SHARDS: usize = 8;

/// Shards for `workers` engine threads: two per thread (the aggregator takes one shard at
/// a time) up to [`DEFAULT_SHARDS`], one per thread beyond, and always a multiple of the
/// thread count, so that with thread-per-core lanes (VU `k` on lane `k mod n`, recording
/// to shard `k mod shards`) no two lanes share a shard. Each shard holds an HDR histogram
/// per endpoint, which widens to the slowest latency seen, so unneeded shards cost
/// memory: with one engine thread, 2 shards instead of 8 keep a quarter of those.
pub fn shards_for(workers: usize) -> usize {
    let workers = workers.max(1);
    workers * (DEFAULT_SHARDS / workers).clamp(1, 2)
}

/// Runs `plan` to its end; returns the final snapshot.
pub async fn run(
    plan: Plan,
    opts: super::EngineOptions,
    mut commands: mpsc::UnboundedReceiver<Command>,
    publish: watch::Sender<Arc<Snapshot>>,
) -> Snapshot {
    let (run, mut controller) = Run::start(&plan, opts, publish);
    controller.start();
    let commands_open = controller
        .until_end(&mut commands, plan.load.stop.duration)
        .await;
    let leftover = run.stop(controller.model());
    run.drain(leftover, commands, commands_open, plan.load.graceful_stop)
        .await;
    run.finish().await
}

/// What runs beside the VUs, and what they share.
struct Run {
    ctx: Arc<RunCtx>,
    aggregator: JoinHandle<Snapshot>,
    aggregator_done: oneshot::Sender<()>,
    /// Self-watch, unless the run was started without it (`--no-self-watch`).
    selfwatch: Option<JoinHandle<()>>,
    monitor: Option<JoinHandle<()>>,
}

impl Run {
    /// Sets the run up and starts the aggregator, self-watch and the target monitor; the
    /// controller it returns has not started the load yet.
    fn start(
        plan: &Plan,
        opts: super::EngineOptions,
        publish: watch::Sender<Arc<Snapshot>>,
    ) -> (Run, Controller) {
        let started = Instant::now();
        let gauges = Arc::new(Gauges::new(started));
        let control = Arc::new(ControlState::new(
            started,
            plan.load.stop.duration,
            plan.load.stop.iterations,
        ));
        let endpoints = plan.endpoint_names();
        let threads = opts.engine_threads();
        let shards = shards_for(threads);
        let (mut aggregator, recorder) = Aggregator::new(
            &plan.name,
            &endpoints,
            shards,
            gauges.clone(),
            control.clone(),
        );
        aggregator.set_thresholds(plan.thresholds.clone());
        aggregator.keep_interval_histograms(opts.interval_histograms);
        let (aggregator_done, agg_done_rx) = oneshot::channel();
        let aggregator = tokio::spawn(aggregator.run(publish, agg_done_rx));
        let selfwatch = (!opts.no_self_watch)
            .then(|| tokio::spawn(super::selfwatch::run(gauges.clone(), threads)));
        let monitor = plan.monitor.clone().map(|spec| {
            gauges.start_target(spec.source.to_string(), spec.names());
            let sink: Arc<dyn crate::monitor::Sink> = Arc::new(MonitorSink {
                gauges: gauges.clone(),
                control: control.clone(),
            });
            tokio::spawn(crate::monitor::run(spec, sink))
        });

        let (model, initial) = model::of(plan, &control, opts.segment.clone());
        let mut acc = 0u64;
        let user_cumulative = plan
            .users
            .iter()
            .map(|u| {
                acc += u.weight as u64;
                acc
            })
            .collect();
        let ctx = Arc::new(RunCtx {
            requests: Arc::new(Requests::new(plan)),
            streams: plan.http.streams(),
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
            segment: opts.segment.clone(),
            endpoints: plan.endpoints.clone(),
            users: plan.users.clone(),
            data: plan.data.clone(),
            gauges,
            control,
            gate: Gate::default(),
            lanes: opts.lanes.clone(),
            recorder,
            iteration_limit: plan.load.stop.iterations,
            iterations_started: AtomicU64::new(0),
            exhausted: Notify::new(),
            limit_reached: AtomicBool::new(false),
            #[cfg(debug_assertions)]
            panic_after: std::env::var("VOLLEY_TEST_PANIC_AFTER")
                .ok()
                .and_then(|v| v.parse().ok()),
            #[cfg(debug_assertions)]
            finished: AtomicU64::new(0),
        });
        let controller = Controller::new(ctx.clone(), model, initial, plan.load.stages.clone());
        let run = Run {
            ctx,
            aggregator,
            aggregator_done,
            selfwatch,
            monitor,
        };
        (run, controller)
    }

    /// No new request starts: the run clock runs again for the drain, the gate closes,
    /// the model stops; returns what is still running.
    fn stop(&self, model: &mut dyn model::Model) -> Leftover {
        let control = &self.ctx.control;
        control.with_clock(|cl| cl.resume(Instant::now()));
        self.ctx.gate.set(Phase::Stopping);
        control.set_state(RunState::Stopping);
        model.stop()
    }

    /// Gives what is in flight the graceful-stop period (`grace`), or less when a second
    /// Stop comes; what is left then is cut off and counted as aborted.
    async fn drain(
        &self,
        leftover: Leftover,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut commands_open: bool,
        grace: std::time::Duration,
    ) {
        let control = &self.ctx.control;
        let (mut handles, mut pools) = leftover.collect().await;
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
                for pool in &mut pools {
                    while pool.join_next().await.is_some() {}
                }
            }) => r.map_err(|_| AbortCause::GracefulStopTimeout),
            _ = hurry => Err(AbortCause::SecondStop),
        };
        if let Err(cause) = drained {
            control.set_aborted_by(cause);
            let requests = units::plural(
                self.ctx.gauges.in_flight.load(Ordering::Relaxed),
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
            for pool in &mut pools {
                pool.abort_all();
                while pool.join_next().await.is_some() {}
            }
        }
    }

    /// The run is over: stops what ran beside it; returns the aggregator's final snapshot.
    async fn finish(self) -> Snapshot {
        self.ctx.control.event(EventKind::Done, "run finished");
        if let Some(s) = &self.selfwatch {
            s.abort();
        }
        if let Some(m) = &self.monitor {
            m.abort();
        }
        let _ = self.aggregator_done.send(());
        match self.aggregator.await {
            Ok(s) => s,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_a_multiple_of_the_engine_threads() {
        assert_eq!(shards_for(0), 2);
        assert_eq!(shards_for(1), 2);
        assert_eq!(shards_for(2), 4);
        assert_eq!(shards_for(3), 6);
        assert_eq!(shards_for(4), DEFAULT_SHARDS);
        // Past 4 threads, one shard each: never two lanes on one shard.
        assert_eq!(shards_for(5), 5);
        assert_eq!(shards_for(64), 64);
        for n in 1..70 {
            assert_eq!(shards_for(n) % n, 0, "{n} threads");
        }
    }
}
