//! Self-watch: a task beside the run that samples the generator's own process every second
//! (CPU per thread, memory, file descriptors, connections) and measures event-loop lag:
//! how late a 10 ms timer fires on the engine's runtime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::metrics::generator::GeneratorSample;
use crate::metrics::procstat::CpuMeter;
use crate::metrics::Gauges;

/// The timer whose lateness is the lag.
const PROBE: Duration = Duration::from_millis(10);
const SECOND: Duration = Duration::from_secs(1);

/// Cores the engine can use: its engine threads (`workers`), at most the CPUs available
/// and the cgroup's CPU quota (a container, or `bench/compare.sh`'s `CPU_LIMIT`).
pub(crate) fn capacity_cores(workers: usize) -> f64 {
    let workers = workers.max(1);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cores = workers.min(cpus) as f64;
    crate::metrics::procstat::cgroup_cpu_quota().map_or(cores, |q| cores.min(q))
}

/// p99 of `lags` (sorted in place), 0 when empty.
fn p99(lags: &mut [f64]) -> f64 {
    if lags.is_empty() {
        return 0.0;
    }
    lags.sort_by(f64::total_cmp);
    let i = ((lags.len() as f64 * 0.99).ceil() as usize).clamp(1, lags.len()) - 1;
    lags[i]
}

/// Samples until the task is aborted (the controller does at the end of the run).
pub(crate) async fn run(gauges: Arc<Gauges>, workers: usize) {
    let cores = capacity_cores(workers);
    let started = gauges.started;
    let mut meter = CpuMeter::new();
    let mut lags: Vec<f64> = Vec::with_capacity(128);
    let mut next = Instant::now() + SECOND;
    loop {
        let before = Instant::now();
        tokio::time::sleep(PROBE).await;
        let late = before.elapsed().saturating_sub(PROBE);
        lags.push(late.as_secs_f64() * 1000.0);
        let now = Instant::now();
        if now < next {
            continue;
        }
        next += SECOND;
        if next < now {
            next = now + SECOND;
        }
        let r = meter.read();
        gauges.push_generator(
            cores,
            GeneratorSample {
                t: now.duration_since(started).as_secs().saturating_sub(1),
                cpu_pct: r.cpu_pct,
                cpu_share: r.cpu_pct / 100.0 / cores,
                busiest_thread_pct: r.busiest_thread_pct,
                threads: r.threads,
                rss_bytes: r.rss_bytes,
                fds: r.fds,
                connections: gauges
                    .connections_open
                    .load(std::sync::atomic::Ordering::Relaxed),
                lag_p99_ms: p99(&mut lags),
                arrival_lag_ms: gauges.arrival_lag.take_p99_ms(),
            },
        );
        lags.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p99_of_a_second_of_lags() {
        let mut lags: Vec<f64> = (1..=100).map(f64::from).collect();
        lags.reverse();
        assert_eq!(p99(&mut lags), 99.0);
        assert_eq!(p99(&mut [3.0]), 3.0);
        assert_eq!(p99(&mut []), 0.0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn samples_arrive_every_second_and_a_blocked_loop_shows_lag() {
        let gauges = Arc::new(Gauges::new(Instant::now()));
        let task = tokio::spawn(run(gauges.clone(), 1));
        // Block the only runtime thread for 300 ms at a time: timers fire late.
        let deadline = Instant::now() + Duration::from_secs(10);
        while gauges.generator().samples.len() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(300));
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        task.abort();
        let g = gauges.generator();
        assert!(g.samples.len() >= 2, "{g:?}");
        let quota = crate::metrics::procstat::cgroup_cpu_quota().unwrap_or(1.0);
        assert_eq!(g.capacity_cores, quota.min(1.0));
        let worst = g.samples.iter().map(|s| s.lag_p99_ms).fold(0.0, f64::max);
        assert!(
            worst >= 100.0,
            "lag {worst} ms with a loop blocked 300 ms at a time"
        );
        assert!(g
            .samples
            .iter()
            .all(|s| s.rss_bytes > 0 || !cfg!(target_os = "linux")));
    }
}
