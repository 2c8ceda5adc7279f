//! Live measurements the engine updates and the aggregator folds into each snapshot.
//! (The run's control state, its clock, spike, stage and events, is the engine's
//! `ControlState`.)

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counters the engine updates as it runs.
#[derive(Debug)]
pub struct Gauges {
    /// When the engine started (start-up is measured from here).
    pub started: Instant,
    pub vus_active: AtomicU32,
    pub vus_target: AtomicU32,
    pub in_flight: AtomicU64,
    pub connections_open: AtomicU64,
    pub connections_opened: AtomicU64,
    /// Some connections are not in `connections_open` (reqwest's pool closes them out of
    /// sight), so the open count is unknown.
    pub connections_open_unknown: AtomicBool,
    /// Open model: iterations due and never started (no VU was free in time).
    pub dropped: AtomicU64,
    /// Iterations completed (every step of the flow sent).
    pub iterations_done: AtomicU64,
    /// VUs that have started (closed model) or been created (open model).
    vus_started: AtomicU64,
    /// How many VUs the initial load has: start-up ends when that many have started.
    pub startup_goal: AtomicU64,
    /// Time from the engine's start until the initial load was up.
    startup: Mutex<Option<Duration>>,
    /// Self-watch: the generator's own figures, a sample a second.
    pub generator: Mutex<super::generator::SharedSeries>,
    /// Open model: how far behind schedule iterations start (self-watch reads it).
    pub arrival_lag: super::generator::ArrivalLag,
    /// Target monitor: what it read so far (absent without a monitor).
    pub target: Mutex<Option<std::sync::Arc<super::TargetSeries>>>,
}

impl Gauges {
    pub fn new(started: Instant) -> Self {
        Gauges {
            started,
            vus_active: AtomicU32::new(0),
            vus_target: AtomicU32::new(0),
            in_flight: AtomicU64::new(0),
            connections_open: AtomicU64::new(0),
            connections_opened: AtomicU64::new(0),
            connections_open_unknown: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            iterations_done: AtomicU64::new(0),
            vus_started: AtomicU64::new(0),
            startup_goal: AtomicU64::new(1),
            startup: Mutex::new(None),
            generator: Mutex::new(Default::default()),
            arrival_lag: Default::default(),
            target: Mutex::new(None),
        }
    }

    /// A VU started: the one that completes the initial load ends the start-up. True
    /// for the first one, which starts the run clock.
    pub fn vu_started(&self) -> bool {
        let n = self.vus_started.fetch_add(1, Ordering::Relaxed) + 1;
        if n == self.startup_goal.load(Ordering::Relaxed).max(1) {
            let took = Instant::now().saturating_duration_since(self.started);
            *self.startup.lock().unwrap_or_else(|p| p.into_inner()) = Some(took);
        }
        n == 1
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_up_ends_when_the_initial_load_is_up() {
        let g = Gauges::new(Instant::now());
        g.startup_goal.store(3, Ordering::Relaxed);
        assert!(g.vu_started(), "the first starts the run clock");
        assert!(!g.vu_started());
        assert_eq!(g.startup(), None);
        g.vu_started();
        let took = g.startup().expect("3 of 3 started");
        g.vu_started();
        assert_eq!(g.startup(), Some(took), "later VUs are not start-up");
    }
}
