//! One virtual user: a task with its own connection, looping pick -> send -> record -> think.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

use super::executor::{Requests, VuClient};
use super::gate::Gate;
use crate::metrics::{ErrorKind, Gauges, Outcome, Recorder, Sample};
use crate::scenario::ThinkTime;

/// What every VU of a run shares.
pub struct RunCtx {
    pub requests: Arc<Requests>,
    pub gauges: Arc<Gauges>,
    pub gate: Gate,
    pub recorder: Recorder,
    /// Cumulative weights, one per endpoint.
    pub cumulative_weights: Vec<u64>,
    pub think: ThinkTime,
    pub iteration_limit: Option<u64>,
    pub iterations_started: AtomicU64,
    /// Signalled when the iteration limit is reached.
    pub exhausted: Notify,
}

impl RunCtx {
    fn pick(&self, rng: &mut fastrand::Rng) -> usize {
        let total = *self.cumulative_weights.last().unwrap_or(&0);
        if total == 0 || self.cumulative_weights.len() == 1 {
            return 0;
        }
        let x = rng.u64(0..total);
        self.cumulative_weights.partition_point(|&c| c <= x)
    }
}

/// Counts a VU as active while it lives.
struct Active(Arc<Gauges>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.vus_active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A request in flight. If dropped before `finish` (the task was aborted at the end of
/// the graceful-stop period), the request is recorded as `aborted`.
struct InFlight<'a> {
    ctx: &'a RunCtx,
    recorder: &'a Recorder,
    endpoint: usize,
    done: bool,
}

impl InFlight<'_> {
    fn finish(mut self) {
        self.done = true;
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.ctx.gauges.in_flight.fetch_sub(1, Ordering::Relaxed);
        if !self.done {
            let s = Sample {
                endpoint: self.endpoint,
                latency_us: None,
                outcome: Outcome::Error(ErrorKind::Aborted),
                bytes: 0,
            };
            self.recorder.record_error(&s, || {
                "still in flight when the graceful-stop period ended".to_string()
            });
        }
    }
}

pub async fn run_vu(ctx: Arc<RunCtx>, id: u64, retire: Arc<AtomicBool>) {
    ctx.gauges.vus_active.fetch_add(1, Ordering::Relaxed);
    let _active = Active(ctx.gauges.clone());
    let recorder = ctx.recorder.for_worker(id as usize);
    let mut client = VuClient::new(ctx.requests.clone(), ctx.gauges.clone());
    let mut rng = fastrand::Rng::new();
    loop {
        if !ctx.gate.admit(&retire).await {
            break;
        }
        if let Some(limit) = ctx.iteration_limit {
            if ctx.iterations_started.fetch_add(1, Ordering::AcqRel) >= limit {
                ctx.exhausted.notify_one();
                break;
            }
        }
        let endpoint = ctx.pick(&mut rng);
        ctx.gauges.in_flight.fetch_add(1, Ordering::Relaxed);
        let flight = InFlight {
            ctx: &ctx,
            recorder: &recorder,
            endpoint,
            done: false,
        };
        let attempt = client.send(endpoint).await;
        flight.finish();
        let sample = Sample {
            endpoint,
            latency_us: attempt.latency_us,
            outcome: attempt.outcome,
            bytes: attempt.bytes,
        };
        match attempt.message {
            Some(m) if !attempt.outcome.is_ok() => recorder.record_error(&sample, || m),
            _ => recorder.record(&sample),
        }
        let think = ctx.think.sample(&mut rng);
        if !think.is_zero() && !ctx.gate.sleep(think, &retire).await {
            break;
        }
    }
}
