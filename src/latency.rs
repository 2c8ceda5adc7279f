//! The latency summary of a histogram: one type, computed one way, for the thresholds
//! that judge a run and the reports that show it (a `mean` threshold and the report's
//! mean are the same number). A leaf: it depends on [`crate::units`] alone.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::units;

/// Latency percentiles in milliseconds, from an HDR histogram with microsecond
/// resolution and 3 significant digits.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Latency {
    pub min: f64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub p999: f64,
    /// The 99.99th percentile.
    #[serde(default)]
    pub p9999: f64,
    pub max: f64,
    /// Standard deviation.
    #[serde(default)]
    pub stdev: f64,
    /// Number of latencies recorded (responses and timeouts).
    pub count: u64,
}

impl Latency {
    /// The summary of `h` (microseconds); all zero when it is empty. The mean and the
    /// standard deviation are rounded to whole microseconds, the histogram's unit.
    pub fn of(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            min: ms(h.min()),
            mean: h.mean().round() / 1000.0,
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            p9999: ms(h.value_at_quantile(0.9999)),
            max: ms(h.max()),
            stdev: h.stdev().round() / 1000.0,
            count: h.len(),
        }
    }

    /// The summary of `h`, or `None` while it is empty (nothing to judge yet).
    pub fn of_nonempty(h: &Histogram<u64>) -> Option<Latency> {
        (!h.is_empty()).then(|| Latency::of(h))
    }

    /// One of this latency's values for people: [`units::ms`], or `–` when nothing was
    /// measured (no response: a `0` would read as instant).
    pub fn shown(&self, v: f64) -> String {
        units::fmt_opt((self.count > 0).then_some(v), units::ms)
    }
}
