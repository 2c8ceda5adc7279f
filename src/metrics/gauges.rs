//! Live engine state that the aggregator folds into each snapshot.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::snapshot::{Event, RunState};

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

/// Counters and state the engine updates as it runs.
#[derive(Debug)]
pub struct Gauges {
    state: AtomicU8,
    pub vus_active: AtomicU32,
    pub vus_target: AtomicU32,
    pub in_flight: AtomicU64,
    pub connections_open: AtomicU64,
    pub connections_opened: AtomicU64,
    /// Some connections are not in `connections_open` (reqwest's pool closes them out of
    /// sight), so the open count is unknown.
    pub connections_open_unknown: AtomicBool,
    pub partial: AtomicBool,
    pub clock: Mutex<RunClock>,
    pub planned: Mutex<Option<Duration>>,
    /// The running spike, if any.
    pub spike: Mutex<Option<SpikeGauge>>,
    /// Open model: arrival rate (f64 bits); u64::MAX in the closed model.
    rate_bits: AtomicU64,
    /// Open model: iterations dropped because every VU was busy.
    pub dropped: AtomicU64,
    /// Iterations completed (every step of the flow sent).
    pub iterations_done: AtomicU64,
    /// The run's iteration limit (`-n`), when it has one.
    pub iteration_limit: Mutex<Option<u64>>,
    stage: Mutex<(Option<String>, Option<String>)>,
    /// Why the run must stop now (a threshold with abort_on_fail failed).
    abort_reason: Mutex<Option<String>>,
    /// Wakes the controller when `abort_reason` is set.
    pub abort_signal: tokio::sync::Notify,
    /// Why in-flight requests were cut off at the end, once they were.
    aborted_by: Mutex<Option<super::AbortCause>>,
    events: Mutex<Vec<Event>>,
    /// VUs that have started (closed model) or been created (open model).
    vus_started: AtomicU64,
    /// How many VUs the initial load has: start-up ends when that many have started.
    pub startup_goal: AtomicU64,
    /// Time from the engine's start until the initial load was up.
    startup: Mutex<Option<Duration>>,
    /// Wakes the controller when the run clock starts.
    pub run_started: tokio::sync::Notify,
    /// Self-watch: the generator's own figures, a sample a second.
    pub generator: Mutex<super::generator::SharedSeries>,
    /// Open model: how far behind schedule iterations start (self-watch reads it).
    pub arrival_lag: super::generator::ArrivalLag,
    /// Target monitor: what it read so far (absent without a monitor).
    pub target: Mutex<Option<std::sync::Arc<super::TargetSeries>>>,
}

/// A spike in progress, as the engine set it.
#[derive(Debug, Clone)]
pub struct SpikeGauge {
    pub label: String,
    pub clock: SpikeClock,
    /// Load to return to.
    pub base: u32,
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

impl Gauges {
    pub fn new(started: Instant) -> Self {
        Gauges {
            state: AtomicU8::new(0),
            vus_active: AtomicU32::new(0),
            vus_target: AtomicU32::new(0),
            in_flight: AtomicU64::new(0),
            connections_open: AtomicU64::new(0),
            connections_opened: AtomicU64::new(0),
            connections_open_unknown: AtomicBool::new(false),
            partial: AtomicBool::new(false),
            clock: Mutex::new(RunClock::new(started)),
            planned: Mutex::new(None),
            spike: Mutex::new(None),
            rate_bits: AtomicU64::new(u64::MAX),
            dropped: AtomicU64::new(0),
            iterations_done: AtomicU64::new(0),
            iteration_limit: Mutex::new(None),
            stage: Mutex::new((None, None)),
            abort_reason: Mutex::new(None),
            abort_signal: tokio::sync::Notify::new(),
            aborted_by: Mutex::new(None),
            events: Mutex::new(Vec::new()),
            vus_started: AtomicU64::new(0),
            startup_goal: AtomicU64::new(1),
            startup: Mutex::new(None),
            run_started: tokio::sync::Notify::new(),
            generator: Mutex::new(Default::default()),
            arrival_lag: Default::default(),
            target: Mutex::new(None),
        }
    }

    /// A VU started: the first one starts the run clock, the one that completes the
    /// initial load ends the start-up.
    pub fn vu_started(&self) {
        let n = self.vus_started.fetch_add(1, Ordering::Relaxed) + 1;
        let now = Instant::now();
        if n == 1 {
            self.with_clock(|c| c.start_run(now));
            self.run_started.notify_one();
        }
        if n == self.startup_goal.load(Ordering::Relaxed).max(1) {
            let took = now.saturating_duration_since(self.clock().started);
            *self.startup.lock().unwrap_or_else(|p| p.into_inner()) = Some(took);
        }
    }

    /// How long the initial load took to come up, once it has.
    pub fn startup(&self) -> Option<Duration> {
        *self.startup.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The generator series now (cheap: shared).
    pub fn generator(&self) -> super::generator::SharedSeries {
        self.generator
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Adds a self-watch sample.
    pub fn push_generator(&self, capacity_cores: f64, s: super::generator::GeneratorSample) {
        let mut g = self.generator.lock().unwrap_or_else(|p| p.into_inner());
        let series = std::sync::Arc::make_mut(&mut g);
        series.capacity_cores = capacity_cores;
        series.push(s);
    }

    /// Starts the target series (its source and series names).
    pub fn start_target(&self, source: String, names: Vec<String>) {
        *self.target.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(std::sync::Arc::new(super::TargetSeries {
                source,
                names,
                ..Default::default()
            }));
    }

    /// Adds a target monitor sample.
    pub fn push_target(&self, s: super::TargetSample) {
        let mut g = self.target.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(series) = g.as_mut() {
            let series = std::sync::Arc::make_mut(series);
            if s.values.iter().all(Option::is_none) {
                series.failures += 1;
            }
            series.samples.push(s);
        }
    }

    /// The target series now (cheap: shared).
    pub fn target(&self) -> Option<std::sync::Arc<super::TargetSeries>> {
        self.target
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
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
        *self.clock.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn with_clock<R>(&self, f: impl FnOnce(&mut RunClock) -> R) -> R {
        f(&mut self.clock.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Records a control action or stage change at the current wall time.
    pub fn event(&self, kind: &str, detail: impl Into<String>) {
        let t = self.clock().started.elapsed().as_secs_f64();
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Event {
                t,
                kind: kind.to_string(),
                detail: detail.into(),
            });
    }

    /// Open model: the arrival rate now.
    pub fn rate(&self) -> Option<f64> {
        let b = self.rate_bits.load(Ordering::Relaxed);
        (b != u64::MAX).then(|| f64::from_bits(b))
    }

    pub fn set_rate(&self, r: f64) {
        self.rate_bits.store(r.to_bits(), Ordering::Relaxed);
    }

    /// The stage in progress and the next one, as labels.
    pub fn stage(&self) -> (Option<String>, Option<String>) {
        self.stage.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_stage(&self, now: Option<String>, next: Option<String>) {
        *self.stage.lock().unwrap_or_else(|p| p.into_inner()) = (now, next);
    }

    /// Asks the controller to end the run, with the reason.
    /// Records why in-flight requests are being cut off (before they are).
    pub fn set_aborted_by(&self, cause: super::AbortCause) {
        *self.aborted_by.lock().unwrap_or_else(|p| p.into_inner()) = Some(cause);
    }

    pub fn aborted_by(&self) -> Option<super::AbortCause> {
        *self.aborted_by.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn abort(&self, reason: String) {
        *self.abort_reason.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason);
        self.abort_signal.notify_one();
    }

    pub fn abort_reason(&self) -> Option<String> {
        self.abort_reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set_spike(&self, s: Option<SpikeGauge>) {
        *self.spike.lock().unwrap_or_else(|p| p.into_inner()) = s;
    }

    pub fn spike(&self) -> Option<SpikeGauge> {
        self.spike.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn events(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
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
    fn start_up_ends_when_the_initial_load_is_up() {
        let g = Gauges::new(Instant::now());
        g.startup_goal.store(3, Ordering::Relaxed);
        g.vu_started();
        assert!(g.clock().is_started());
        g.vu_started();
        assert_eq!(g.startup(), None);
        g.vu_started();
        let took = g.startup().expect("3 of 3 started");
        g.vu_started();
        assert_eq!(g.startup(), Some(took), "later VUs are not start-up");
    }
}
