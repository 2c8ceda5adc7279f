//! Live engine state that the aggregator folds into each snapshot.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::snapshot::{Event, RunState};

/// The run clock: wall time minus paused time.
#[derive(Debug, Clone, Copy)]
pub struct RunClock {
    pub started: Instant,
    paused_total: Duration,
    paused_since: Option<Instant>,
}

impl RunClock {
    pub fn new(started: Instant) -> Self {
        RunClock {
            started,
            paused_total: Duration::ZERO,
            paused_since: None,
        }
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

    /// Running time at `now`, pauses excluded.
    pub fn run_time(&self, now: Instant) -> Duration {
        let end = self.paused_since.unwrap_or(now);
        end.saturating_duration_since(self.started)
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
    pub partial: AtomicBool,
    pub clock: Mutex<RunClock>,
    pub planned: Mutex<Option<Duration>>,
    /// The running spike, if any.
    pub spike: Mutex<Option<SpikeGauge>>,
    /// Open model: arrival rate (f64 bits); u64::MAX in the closed model.
    rate_bits: AtomicU64,
    /// Open model: iterations dropped because every VU was busy.
    pub dropped: AtomicU64,
    stage: Mutex<(Option<String>, Option<String>)>,
    /// Why the run must stop now (a threshold with abort_on_fail failed).
    abort_reason: Mutex<Option<String>>,
    /// Wakes the controller when `abort_reason` is set.
    pub abort_signal: tokio::sync::Notify,
    events: Mutex<Vec<Event>>,
    /// Self-watch: the generator's own figures, a sample a second.
    pub generator: Mutex<super::generator::SharedSeries>,
    /// Target monitor: what it read so far (absent without a monitor).
    pub target: Mutex<Option<std::sync::Arc<crate::monitor::TargetSeries>>>,
}

/// A spike in progress, as the engine set it.
#[derive(Debug, Clone)]
pub struct SpikeGauge {
    pub label: String,
    pub until: Instant,
    /// Load to return to.
    pub base: u32,
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
            partial: AtomicBool::new(false),
            clock: Mutex::new(RunClock::new(started)),
            planned: Mutex::new(None),
            spike: Mutex::new(None),
            rate_bits: AtomicU64::new(u64::MAX),
            dropped: AtomicU64::new(0),
            stage: Mutex::new((None, None)),
            abort_reason: Mutex::new(None),
            abort_signal: tokio::sync::Notify::new(),
            events: Mutex::new(Vec::new()),
            generator: Mutex::new(Default::default()),
            target: Mutex::new(None),
        }
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
            Some(std::sync::Arc::new(crate::monitor::TargetSeries {
                source,
                names,
                ..Default::default()
            }));
    }

    /// Adds a target monitor sample.
    pub fn push_target(&self, s: crate::monitor::TargetSample) {
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
    pub fn target(&self) -> Option<std::sync::Arc<crate::monitor::TargetSeries>> {
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
