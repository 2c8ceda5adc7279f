//! The result document's `generator` section: the load generator's own figures a second,
//! their min/avg/max, and whether volley itself was the bottleneck (see
//! [`crate::metrics::generator`] for the rule).

use serde::{Deserialize, Serialize};

use crate::metrics::generator::{GeneratorSample, GeneratorSeries};
use crate::units;

/// `generator` in the result document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generator {
    /// Cores the engine could use (its worker threads, at most the CPUs available).
    pub capacity_cores: f64,
    /// True when volley was likely the bottleneck: its results understate the target.
    pub generator_bottleneck: bool,
    /// Why, and from which second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub summary: Summary,
    /// One row per second.
    pub series: Vec<GeneratorSample>,
}

/// Min, average and max of one figure over the run.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct MinAvgMax {
    pub min: f64,
    pub avg: f64,
    pub max: f64,
}

impl MinAvgMax {
    pub fn of(values: impl Iterator<Item = f64>) -> MinAvgMax {
        let (mut min, mut max, mut sum, mut n) = (f64::INFINITY, f64::NEG_INFINITY, 0.0, 0usize);
        for v in values {
            min = min.min(v);
            max = max.max(v);
            sum += v;
            n += 1;
        }
        if n == 0 {
            return MinAvgMax::default();
        }
        MinAvgMax {
            min,
            avg: (sum / n as f64 * 1000.0).round() / 1000.0,
            max,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Summary {
    /// % of one core.
    pub cpu_pct: MinAvgMax,
    /// Share of `capacity_cores`, 0..1: what the `generator_cpu` threshold reads.
    pub cpu_share: MinAvgMax,
    pub rss_bytes: MinAvgMax,
    pub fds: MinAvgMax,
    pub connections: MinAvgMax,
    pub lag_p99_ms: MinAvgMax,
}

impl Generator {
    /// The section for a run's series; `None` when nothing was sampled (a run under a
    /// second).
    pub fn of(g: &GeneratorSeries) -> Option<Generator> {
        if g.samples.is_empty() {
            return None;
        }
        let series: Vec<GeneratorSample> = g.samples.iter().map(GeneratorSample::rounded).collect();
        let col = |f: fn(&GeneratorSample) -> f64| MinAvgMax::of(series.iter().map(f));
        Some(Generator {
            capacity_cores: g.capacity_cores,
            generator_bottleneck: g.bottleneck.is_some(),
            reason: g
                .bottleneck
                .as_ref()
                .map(|b| format!("{} from {}s", b.reason, b.since)),
            summary: Summary {
                cpu_pct: col(|s| s.cpu_pct),
                cpu_share: col(|s| s.cpu_share),
                rss_bytes: col(|s| s.rss_bytes as f64),
                fds: col(|s| s.fds as f64),
                connections: col(|s| s.connections as f64),
                lag_p99_ms: col(|s| s.lag_p99_ms),
            },
            series,
        })
    }

    /// The summary's resource line: `generator  CPU 34% avg, 71% max of 1 engine thread ·
    /// RSS 18.4 MB max · 60 fds max · lag p99 0.41ms max`.
    pub fn summary_line(&self) -> String {
        let s = &self.summary;
        format!(
            "CPU {} avg, {} max of {} · RSS {} max · {} fds max · lag p99 {} max",
            units::percent_with(s.cpu_share.avg, 0),
            units::percent_with(s.cpu_share.max, 0),
            crate::metrics::generator::cores(self.capacity_cores),
            units::bytes(s.rss_bytes.max),
            units::count(s.fds.max as u64),
            units::ms(s.lag_p99_ms.max),
        )
    }
}

/// The warning printed (and shown in the console) when the verdict holds.
pub const BOTTLENECK_BANNER: &str = "volley is the bottleneck: results understate the target";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_and_verdict_from_a_series() {
        let mut g = GeneratorSeries::new(1.0);
        for (t, share) in [(0, 0.2), (1, 0.95), (2, 0.96), (3, 0.97)] {
            g.push(GeneratorSample {
                t,
                cpu_pct: share * 100.0,
                cpu_share: share,
                rss_bytes: 10_000_000 + t * 1_000_000,
                fds: 20 + t,
                lag_p99_ms: 0.5,
                ..GeneratorSample::default()
            });
        }
        let doc = Generator::of(&g).expect("samples");
        assert!(doc.generator_bottleneck);
        let reason = doc.reason.clone().unwrap_or_default();
        assert!(
            reason.contains("CPU 97% of its 1 engine thread") && reason.ends_with("from 1s"),
            "{reason}"
        );
        assert_eq!(doc.summary.cpu_share.min, 0.2);
        assert_eq!(doc.summary.cpu_share.max, 0.97);
        assert_eq!(doc.summary.fds.max, 23.0);
        assert_eq!(doc.series.len(), 4);
        assert_eq!(
            doc.summary_line(),
            "CPU 77% avg, 97% max of 1 engine thread · RSS 13.0 MB max · 23 fds max · lag p99 500µs max"
        );
        assert_eq!(Generator::of(&GeneratorSeries::new(1.0)), None);
    }
}
