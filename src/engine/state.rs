//! The live control state of a run: its clock, where it is, the spike and stage in
//! progress, the open model's rate, the abort request and the events. The controller
//! changes it; VUs, the scheduler and the aggregator read it; snapshots carry it as a
//! [`ControlSnapshot`]. Measurements live in `metrics::Gauges`, not here.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::state::{
    AbortCause, Control, ControlSnapshot, Event, EventKind, RunState, Spike, SpikeView, StageStatus,
};

/// The run clock: wall time since the first VU started, minus paused time.
#[derive(Debug, Clone, Copy)]
pub struct RunClock {
    /// When the engine started: the origin of wall time (`elapsed`, events, timeline).
    pub started: Instant,
    /// When the first VU started: the run clock counts from here (zero until then).
    run_from: Option<Instant>,
    paused_total: Duration,
    paused_since: Option<Instant>,
}

impl RunClock {
    pub fn new(started: Instant) -> Self {
        RunClock {
            started,
            run_from: None,
            paused_total: Duration::ZERO,
            paused_since: None,
        }
    }

    /// Starts the run clock (the first VU started); a pause before it does not count.
    pub fn start_run(&mut self, now: Instant) {
        if self.run_from.is_none() {
            self.run_from = Some(now);
            self.paused_total = Duration::ZERO;
            self.paused_since = self.paused_since.map(|_| now);
        }
    }

    pub fn is_started(&self) -> bool {
        self.run_from.is_some()
    }

    pub fn pause(&mut self, now: Instant) {
        if self.paused_since.is_none() {
            self.paused_since = Some(now);
        }
    }

    pub fn resume(&mut self, now: Instant) {
        if let Some(since) = self.paused_since.take() {
            self.paused_total += now.saturating_duration_since(since);
        }
    }

    pub fn is_paused(&self) -> bool {
        self.paused_since.is_some()
    }

    /// Running time at `now`, pauses excluded; zero until the first VU started.
    pub fn run_time(&self, now: Instant) -> Duration {
        let Some(from) = self.run_from else {
            return Duration::ZERO;
        };
        let end = self.paused_since.unwrap_or(now);
        end.saturating_duration_since(from)
            .saturating_sub(self.paused_total)
    }
}

/// A spike's own clock: it runs with the run clock and stops while the run is paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpikeClock {
    /// Running: the spike ends at this instant.
    Running { until: Instant },
    /// Paused with this much of the spike left.
    Paused { left: Duration },
}

impl SpikeClock {
    /// Time left at `now`.
    pub fn remaining(self, now: Instant) -> Duration {
        match self {
            SpikeClock::Running { until } => until.saturating_duration_since(now),
            SpikeClock::Paused { left } => left,
        }
    }

    /// Stops the clock at `now`, keeping the time left.
    pub fn pause(self, now: Instant) -> SpikeClock {
        SpikeClock::Paused {
            left: self.remaining(now),
        }
    }

    /// Restarts the clock at `now` with the time it had left.
    pub fn resume(self, now: Instant) -> SpikeClock {
        SpikeClock::Running {
            until: now + self.remaining(now),
        }
    }

    /// When the spike ends, if its clock runs.
    pub fn until(self) -> Option<Instant> {
        match self {
            SpikeClock::Running { until } => Some(until),
            SpikeClock::Paused { .. } => None,
        }
    }
}

/// A spike in progress, as the controller set it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveSpike {
    pub spike: Spike,
    pub clock: SpikeClock,
    /// Load to return to.
    pub base: u32,
}

/// No rate: the closed model.
const NO_RATE: u64 = u64::MAX;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The live control state of one run (see the module docs).
#[derive(Debug)]
pub struct ControlState {
    started: Instant,
    clock: Mutex<RunClock>,
    state: AtomicU8,
    planned: Option<Duration>,
    iteration_limit: Option<u64>,
    spike: Mutex<Option<LiveSpike>>,
    stage: Mutex<Option<StageStatus>>,
    /// Open model: arrival rate (f64 bits); [`NO_RATE`] in the closed model. Read by the
    /// scheduler on every arrival, so an atomic rather than a lock.
    rate_bits: AtomicU64,
    partial: AtomicBool,
    /// Why the run must stop now (a threshold with abort_on_fail failed, a VU panicked).
    abort_reason: Mutex<Option<String>>,
    /// Wakes the controller when `abort_reason` is set.
    pub abort_signal: Notify,
    /// Why in-flight requests were cut off at the end, once they were.
    aborted_by: Mutex<Option<AbortCause>>,
    events: Mutex<Vec<Event>>,
    /// Wakes the controller when the run clock starts.
    pub run_started: Notify,
}

impl ControlState {
    pub fn new(started: Instant, planned: Option<Duration>, iteration_limit: Option<u64>) -> Self {
        ControlState {
            started,
            clock: Mutex::new(RunClock::new(started)),
            state: AtomicU8::new(0),
            planned,
            iteration_limit,
            spike: Mutex::new(None),
            stage: Mutex::new(None),
            rate_bits: AtomicU64::new(NO_RATE),
            partial: AtomicBool::new(false),
            abort_reason: Mutex::new(None),
            abort_signal: Notify::new(),
            aborted_by: Mutex::new(None),
            events: Mutex::new(Vec::new()),
            run_started: Notify::new(),
        }
    }

    pub fn state(&self) -> RunState {
        match self.state.load(Ordering::Acquire) {
            0 => RunState::Running,
            1 => RunState::Paused,
            2 => RunState::Stopping,
            _ => RunState::Done,
        }
    }

    pub fn set_state(&self, s: RunState) {
        let v = match s {
            RunState::Running => 0,
            RunState::Paused => 1,
            RunState::Stopping => 2,
            RunState::Done => 3,
        };
        self.state.store(v, Ordering::Release);
    }

    pub fn clock(&self) -> RunClock {
        *lock(&self.clock)
    }

    pub fn with_clock<R>(&self, f: impl FnOnce(&mut RunClock) -> R) -> R {
        f(&mut lock(&self.clock))
    }

    /// Starts the run clock (once) and wakes whoever waits for it.
    pub fn start_run(&self, now: Instant) {
        self.with_clock(|c| c.start_run(now));
        self.run_started.notify_one();
    }

    pub fn planned(&self) -> Option<Duration> {
        self.planned
    }

    /// Records a control action or stage change at the current wall time.
    pub fn event(&self, kind: EventKind, detail: impl Into<String>) {
        let t = self.started.elapsed().as_secs_f64();
        lock(&self.events).push(Event {
            t,
            kind,
            detail: detail.into(),
        });
    }

    /// How many events there are so far.
    pub fn event_count(&self) -> usize {
        lock(&self.events).len()
    }

    /// Appends `suffix` to the detail of every event after the first `from`.
    pub fn label_events_since(&self, from: usize, suffix: &str) {
        for e in lock(&self.events).iter_mut().skip(from) {
            e.detail.push_str(suffix);
        }
    }

    pub fn events(&self) -> Vec<Event> {
        lock(&self.events).clone()
    }

    /// Open model: the arrival rate now.
    pub fn rate(&self) -> Option<f64> {
        let b = self.rate_bits.load(Ordering::Relaxed);
        (b != NO_RATE).then(|| f64::from_bits(b))
    }

    pub fn set_rate(&self, r: f64) {
        self.rate_bits.store(r.to_bits(), Ordering::Relaxed);
    }

    pub fn set_stage(&self, s: Option<StageStatus>) {
        *lock(&self.stage) = s;
    }

    pub fn stage(&self) -> Option<StageStatus> {
        *lock(&self.stage)
    }

    pub fn set_spike(&self, s: Option<LiveSpike>) {
        *lock(&self.spike) = s;
    }

    pub fn spike(&self) -> Option<LiveSpike> {
        *lock(&self.spike)
    }

    /// The run was cut short: its results are partial.
    pub fn mark_partial(&self) {
        self.partial.store(true, Ordering::Relaxed);
    }

    pub fn is_partial(&self) -> bool {
        self.partial.load(Ordering::Relaxed)
    }

    /// Records why in-flight requests are being cut off (before they are).
    pub fn set_aborted_by(&self, cause: AbortCause) {
        *lock(&self.aborted_by) = Some(cause);
    }

    pub fn aborted_by(&self) -> Option<AbortCause> {
        *lock(&self.aborted_by)
    }

    pub fn abort_reason(&self) -> Option<String> {
        lock(&self.abort_reason).clone()
    }
}

impl Control for ControlState {
    fn snapshot(&self, now: Instant) -> ControlSnapshot {
        ControlSnapshot {
            state: self.state(),
            run_time: self.clock().run_time(now),
            planned: self.planned,
            iteration_limit: self.iteration_limit,
            spike: self.spike().map(|s| SpikeView {
                spike: s.spike,
                remaining: s.clock.remaining(now),
                base: s.base,
            }),
            stage: self.stage(),
            rate: self.rate(),
            partial: self.is_partial(),
            abort: self.abort_reason(),
            aborted_by: self.aborted_by(),
            events: self.events(),
        }
    }

    /// Asks the controller to end the run, with the reason.
    fn abort(&self, reason: String) {
        *lock(&self.abort_reason) = Some(reason);
        self.abort_signal.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_clock_starts_with_the_first_vu() {
        let t0 = Instant::now();
        let s = |n| Duration::from_secs(n);
        let mut c = RunClock::new(t0);
        assert_eq!(c.run_time(t0 + s(5)), Duration::ZERO, "no VU yet");
        // A pause before the start does not count against the run.
        c.pause(t0 + s(1));
        c.start_run(t0 + s(6));
        c.resume(t0 + s(8));
        assert_eq!(c.run_time(t0 + s(10)), s(2));
        c.start_run(t0 + s(11));
        assert_eq!(c.run_time(t0 + s(12)), s(4), "the clock starts once");
    }

    #[test]
    fn a_snapshot_carries_the_spike_typed_with_its_time_left() {
        let t0 = Instant::now();
        let c = ControlState::new(t0, Some(Duration::from_secs(60)), None);
        let spike = Spike {
            change: crate::state::SpikeChange::Plus(100),
            duration: Duration::from_secs(30),
        };
        c.set_spike(Some(LiveSpike {
            spike,
            clock: SpikeClock::Running {
                until: t0 + Duration::from_secs(30),
            },
            base: 20,
        }));
        c.set_rate(12.5);
        let snap = c.snapshot(t0 + Duration::from_secs(10));
        let view = snap.spike.clone().expect("a spike");
        assert_eq!(view.spike, spike);
        assert_eq!(view.remaining, Duration::from_secs(20));
        assert_eq!(view.base, 20);
        assert_eq!(snap.rate, Some(12.5));
        assert_eq!(snap.planned, Some(Duration::from_secs(60)));
        // It goes over the wire as JSON and comes back the same.
        let json = serde_json::to_string(&snap).unwrap();
        let back: ControlSnapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(back, snap);
    }
}
