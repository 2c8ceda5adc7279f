//! Self-watch: how the load generator itself is doing, one sample a second, and whether
//! it (not the target) is likely the bottleneck.
//!
//! The verdict: volley is the bottleneck once, for [`STREAK`] seconds in a row, its CPU is
//! above [`CPU_LIMIT`] of what its engine threads can use, or a 10 ms timer fires more than
//! [`LAG_LIMIT_MS`] late at the p99 (the runtime is too busy to run tasks on time), or in the
//! open model iterations start more than [`LAG_LIMIT_MS`] behind schedule at the p99.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Share of the engine threads' capacity above which the CPU is a bottleneck.
pub const CPU_LIMIT: f64 = 0.90;
/// Event-loop lag (p99 over a second, ms) above which the runtime is a bottleneck.
pub const LAG_LIMIT_MS: f64 = 10.0;
/// Seconds in a row either must hold.
pub const STREAK: u32 = 3;

/// One second of the generator's own figures (also a row of the result document's
/// `generator.series`).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct GeneratorSample {
    /// Seconds since the start of the run.
    pub t: u64,
    /// CPU used by volley's threads (a built-in demo target's excluded), % of one core.
    pub cpu_pct: f64,
    /// `cpu_pct` over the engine threads' capacity, 0..1 (can pass 1 with other threads).
    pub cpu_share: f64,
    /// The busiest thread, % of one core.
    pub busiest_thread_pct: f64,
    pub threads: u32,
    /// Resident memory, bytes.
    pub rss_bytes: u64,
    /// Open file descriptors.
    pub fds: u64,
    /// Open connections to the target.
    pub connections: u64,
    /// How late a 10 ms timer fired, p99 over the second, ms.
    pub lag_p99_ms: f64,
    /// Open model: how far behind schedule iterations started, p99 over the second, ms
    /// (waiting for a free VU excluded: that is the target's doing); absent in the closed
    /// model and in seconds where no iteration started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_lag_ms: Option<f64>,
}

/// Why volley was judged the bottleneck.
#[derive(Debug, Clone, PartialEq)]
pub struct Bottleneck {
    /// The second the streak began.
    pub since: u64,
    pub reason: String,
}

/// The samples of a run and the verdict so far.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GeneratorSeries {
    /// Cores the engine can use: its worker threads, at most the CPUs available.
    pub capacity_cores: f64,
    pub samples: Vec<GeneratorSample>,
    /// Set once and kept: the first time the rule held.
    pub bottleneck: Option<Bottleneck>,
    /// Whether the rule holds now (the last [`STREAK`] seconds).
    pub bottleneck_now: bool,
    streak: u32,
}

impl GeneratorSample {
    /// Rounded for the result document: 0.1% CPU, 0.001 share, 1 µs lag.
    pub fn rounded(&self) -> GeneratorSample {
        let round = |x: f64, per: f64| (x * per).round() / per;
        GeneratorSample {
            cpu_pct: round(self.cpu_pct, 10.0),
            cpu_share: round(self.cpu_share, 1000.0),
            busiest_thread_pct: round(self.busiest_thread_pct, 10.0),
            lag_p99_ms: round(self.lag_p99_ms, 1000.0),
            arrival_lag_ms: self.arrival_lag_ms.map(|v| round(v, 1000.0)),
            ..*self
        }
    }
}

impl GeneratorSeries {
    pub fn new(capacity_cores: f64) -> GeneratorSeries {
        GeneratorSeries {
            capacity_cores,
            ..GeneratorSeries::default()
        }
    }

    /// What is wrong with one second, if anything.
    fn strain(&self, s: &GeneratorSample) -> Option<String> {
        if s.cpu_share > CPU_LIMIT {
            return Some(format!(
                "CPU {} of its {} for {STREAK} s",
                crate::units::percent_with(s.cpu_share, 0),
                cores(self.capacity_cores),
            ));
        }
        // Late at low CPU: something else on the machine has the cores.
        let starved = if s.cpu_share < 0.5 {
            format!(
                ", at only {} CPU: volley does not get the CPU it needs (other processes, or a CPU quota)",
                crate::units::percent_with(s.cpu_share, 0)
            )
        } else {
            String::new()
        };
        if let Some(lag) = s.arrival_lag_ms.filter(|l| *l > LAG_LIMIT_MS) {
            Some(format!(
                "arrivals start {} behind schedule (p99, over {}) for {STREAK} s{starved}",
                crate::units::ms(lag),
                crate::units::ms(LAG_LIMIT_MS)
            ))
        } else if s.lag_p99_ms > LAG_LIMIT_MS {
            Some(format!(
                "event-loop lag p99 {} (over {}) for {STREAK} s{starved}",
                crate::units::ms(s.lag_p99_ms),
                crate::units::ms(LAG_LIMIT_MS)
            ))
        } else {
            None
        }
    }

    /// Adds a second and updates the verdict. The first second (start-up: clients built,
    /// connections opened) does not count towards it.
    pub fn push(&mut self, s: GeneratorSample) {
        let strain = if s.t == 0 { None } else { self.strain(&s) };
        match strain {
            Some(reason) => {
                self.streak += 1;
                if self.streak >= STREAK {
                    self.bottleneck_now = true;
                    if self.bottleneck.is_none() {
                        self.bottleneck = Some(Bottleneck {
                            since: s.t.saturating_sub(u64::from(STREAK) - 1),
                            reason,
                        });
                    }
                }
            }
            None => {
                self.streak = 0;
                self.bottleneck_now = false;
            }
        }
        self.samples.push(s);
    }

    pub fn last(&self) -> Option<&GeneratorSample> {
        self.samples.last()
    }

    /// Mean CPU share over the last `seconds` samples (all of them with `None`); `None`
    /// before the first sample. What the `generator_cpu` threshold reads.
    pub fn mean_cpu_share(&self, seconds: Option<u64>) -> Option<f64> {
        let n = seconds.map_or(self.samples.len(), |s| {
            (s.max(1) as usize).min(self.samples.len())
        });
        if n == 0 {
            return None;
        }
        let tail = &self.samples[self.samples.len() - n..];
        Some(tail.iter().map(|s| s.cpu_share).sum::<f64>() / n as f64)
    }
}

/// Sub-buckets per power of two in [`ArrivalLag`]: a bucket is at most 25% wide.
const SUB: u32 = 4;
const BUCKETS: usize = 128;

/// Open model: how far behind schedule iterations start, counted per second without a lock
/// (two relaxed atomic operations an arrival) and read by self-watch each second.
///
/// Buckets are log-linear over microseconds (four per power of two), so the p99 read back
/// is the upper edge of its bucket, at most 25% above the true value and never above the
/// largest lag recorded.
#[derive(Debug)]
pub struct ArrivalLag {
    buckets: [AtomicU64; BUCKETS],
    max_us: AtomicU64,
}

impl Default for ArrivalLag {
    fn default() -> Self {
        ArrivalLag {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            max_us: AtomicU64::new(0),
        }
    }
}

/// The bucket of a lag in microseconds.
fn bucket(us: u64) -> usize {
    if us < u64::from(SUB) {
        return us as usize;
    }
    let exp = 63 - us.leading_zeros(); // >= 2
    let sub = (us >> (exp - 2)) & u64::from(SUB - 1);
    ((SUB * (exp - 1)) as usize + sub as usize).min(BUCKETS - 1)
}

/// The largest lag (µs) bucket `i` holds.
fn bucket_top(i: usize) -> u64 {
    let sub_count = SUB as usize;
    if i < sub_count {
        return i as u64;
    }
    let exp = (i / sub_count) as u32 + 1;
    let sub = (i % sub_count) as u64;
    let width = 1u64 << (exp - 2);
    ((u64::from(SUB) + sub) << (exp - 2)) + width - 1
}

impl ArrivalLag {
    /// One iteration started `lag` behind its schedule.
    pub fn record(&self, lag: Duration) {
        let us = u64::try_from(lag.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket(us)].fetch_add(1, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    /// The p99 (ms) of the lags recorded since the last call, which starts the next count;
    /// `None` when no iteration started.
    pub fn take_p99_ms(&self) -> Option<f64> {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.swap(0, Ordering::Relaxed))
            .collect();
        let max = self.max_us.swap(0, Ordering::Relaxed);
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = total.saturating_mul(99).div_ceil(100).max(1);
        let mut seen = 0;
        let i = counts
            .iter()
            .position(|c| {
                seen += c;
                seen >= rank
            })
            .unwrap_or(BUCKETS - 1);
        Some(bucket_top(i).min(max) as f64 / 1000.0)
    }
}

/// `1 engine thread`, `2 engine threads`, or a cgroup quota: `0.25-core quota`.
pub fn cores(capacity: f64) -> String {
    if capacity.fract() == 0.0 {
        crate::units::plural(capacity as u64, "engine thread", "engine threads")
    } else {
        format!("{}-core quota", crate::units::number(capacity, 2))
    }
}

/// A shared, cheaply cloned series (a snapshot holds one; the sampler replaces it).
pub type SharedSeries = Arc<GeneratorSeries>;

#[cfg(test)]
mod tests {
    use super::*;

    fn second(t: u64, cpu_share: f64, lag: f64) -> GeneratorSample {
        GeneratorSample {
            t,
            cpu_share,
            cpu_pct: cpu_share * 100.0,
            lag_p99_ms: lag,
            ..GeneratorSample::default()
        }
    }

    #[test]
    fn arrival_lag_buckets_and_p99() {
        for us in [0, 1, 3, 4, 5, 7, 8, 100, 1_000, 12_345, 999_999, 60_000_000] {
            let i = bucket(us);
            assert!(
                bucket_top(i) >= us,
                "{us} in bucket {i} topped at {}",
                bucket_top(i)
            );
            assert!(
                bucket_top(i) as f64 <= us as f64 * 1.25 + 1.0 || i == BUCKETS - 1,
                "{us}: top {}",
                bucket_top(i)
            );
            if i > 0 {
                assert!(bucket_top(i - 1) < us, "{us} belongs below bucket {i}");
            }
        }
        let lag = ArrivalLag::default();
        assert_eq!(lag.take_p99_ms(), None);
        for _ in 0..990 {
            lag.record(Duration::from_micros(200));
        }
        for _ in 0..10 {
            lag.record(Duration::from_millis(40));
        }
        let p99 = lag.take_p99_ms().expect("recorded");
        assert!((0.2..=0.25).contains(&p99), "{p99}");
        lag.record(Duration::from_millis(40));
        assert_eq!(lag.take_p99_ms(), Some(40.0), "capped at the max");
        assert_eq!(lag.take_p99_ms(), None, "each call starts a new count");
    }

    #[test]
    fn arrivals_behind_schedule_make_the_verdict() {
        let mut g = GeneratorSeries::new(2.0);
        for t in 0..4 {
            g.push(GeneratorSample {
                arrival_lag_ms: Some(if t == 0 { 0.1 } else { 80.0 }),
                ..second(t, 0.3, 0.5)
            });
        }
        let b = g.bottleneck.expect("arrival lag verdict");
        assert_eq!(b.since, 1);
        assert!(
            b.reason.contains("arrivals start 80.0ms behind schedule")
                && b.reason
                    .contains("at only 30% CPU: volley does not get the CPU"),
            "{}",
            b.reason
        );
    }

    #[test]
    fn three_strained_seconds_in_a_row_make_the_verdict() {
        let mut g = GeneratorSeries::new(1.0);
        for (t, cpu) in [(0, 0.99), (1, 0.95), (2, 0.5), (3, 0.92), (4, 0.99)] {
            g.push(second(t, cpu, 0.1));
        }
        assert_eq!(g.bottleneck, None, "never 3 in a row");
        g.push(second(5, 0.96, 0.1));
        let b = g.bottleneck.clone().expect("verdict");
        assert_eq!(b.since, 3);
        assert!(
            b.reason.contains("CPU 96% of its 1 engine thread"),
            "{}",
            b.reason
        );
        assert!(g.bottleneck_now);
        g.push(second(6, 0.2, 0.1));
        assert!(!g.bottleneck_now);
        assert_eq!(g.bottleneck.map(|b| b.since), Some(3), "the verdict stays");
    }

    #[test]
    fn lag_alone_makes_the_verdict_and_idle_never_does() {
        let mut g = GeneratorSeries::new(2.0);
        for t in 0..3 {
            g.push(second(t, 0.1, 25.0));
        }
        assert_eq!(g.bottleneck, None, "the first second is start-up");
        g.push(second(3, 0.1, 25.0));
        let reason = g.bottleneck.expect("lag verdict").reason;
        assert!(reason.contains("lag p99 25.0ms"), "{reason}");
        assert!(
            reason.contains("at only 10% CPU: volley does not get the CPU"),
            "{reason}"
        );

        let mut idle = GeneratorSeries::new(1.0);
        for t in 0..100 {
            idle.push(second(t, 0.9, 10.0)); // at the limits, not over them
        }
        assert_eq!(idle.bottleneck, None);
        let mean = idle.mean_cpu_share(Some(10)).expect("samples");
        assert!((mean - 0.9).abs() < 1e-9, "{mean}");
        assert_eq!(GeneratorSeries::new(1.0).mean_cpu_share(None), None);
        assert_eq!(cores(1.0), "1 engine thread");
        assert_eq!(cores(0.25), "0.25-core quota");
    }
}
