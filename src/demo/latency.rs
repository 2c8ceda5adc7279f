//! Simulated service time: log-normal delays around a median, capped at a multiple of it.

use std::time::Duration;

/// A log-normal latency distribution described by its median.
///
/// A sample is `median * exp(sigma * z)` with `z` standard normal, so half of the samples
/// fall below the median and the tail grows with `sigma` (with `sigma = 0.8` the p99 is
/// about 6.4 times the median). Samples never exceed `median * cap`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Latency {
    median: Duration,
    sigma: f64,
    cap: f64,
}

impl Latency {
    /// A distribution with the given median, spread (`sigma` of the underlying normal) and
    /// cap (as a multiple of the median).
    pub(crate) fn new(median: Duration, sigma: f64, cap: f64) -> Latency {
        Latency {
            median,
            sigma: if sigma.is_finite() {
                sigma.max(0.0)
            } else {
                0.0
            },
            cap: if cap.is_finite() { cap.max(1.0) } else { 1.0 },
        }
    }

    /// The median of the distribution.
    #[cfg(test)]
    pub(crate) fn median(&self) -> Duration {
        self.median
    }

    /// Draws one delay using the thread-local generator.
    pub(crate) fn sample(&self) -> Duration {
        self.sample_from(fastrand::f64)
    }

    /// Draws one delay using `rng` (seeded generators make tests reproducible).
    #[cfg(test)]
    pub(crate) fn sample_with(&self, rng: &mut fastrand::Rng) -> Duration {
        self.sample_from(|| rng.f64())
    }

    /// Draws one delay from a source of uniform numbers in [0, 1).
    fn sample_from(&self, uniform: impl FnMut() -> f64) -> Duration {
        if self.median.is_zero() {
            return Duration::ZERO;
        }
        if self.sigma == 0.0 {
            return self.median;
        }
        let factor = (self.sigma * standard_normal(uniform)).exp().min(self.cap);
        self.median.mul_f64(factor)
    }
}

/// One standard normal sample (Box-Muller) from a source of uniform numbers in [0, 1).
fn standard_normal(mut uniform: impl FnMut() -> f64) -> f64 {
    // `1 - u` is in (0, 1], so the logarithm is finite.
    let u1 = 1.0 - uniform();
    let u2 = uniform();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn percentile(sorted: &[Duration], p: f64) -> Duration {
        let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[idx]
    }

    #[test]
    fn log_normal_has_the_median_and_a_long_tail() {
        let median = Duration::from_millis(25);
        let lat = Latency::new(median, 0.8, 10.0);
        let mut rng = fastrand::Rng::with_seed(7);
        let mut samples: Vec<Duration> = (0..20_000).map(|_| lat.sample_with(&mut rng)).collect();
        samples.sort();
        let p50 = percentile(&samples, 0.50).as_secs_f64() / median.as_secs_f64();
        let p99 = percentile(&samples, 0.99).as_secs_f64() / median.as_secs_f64();
        let max = samples[samples.len() - 1];
        assert!((0.9..1.1).contains(&p50), "p50 ratio {p50}");
        // Theory: exp(0.8 * 2.326) = 6.4.
        assert!((5.0..8.0).contains(&p99), "p99 ratio {p99}");
        assert!(max <= median * 10, "max {max:?} exceeds the cap");
        assert_eq!(lat.median(), median);
    }

    #[test]
    fn zero_median_and_zero_sigma_are_exact() {
        let mut rng = fastrand::Rng::with_seed(1);
        assert_eq!(
            Latency::new(Duration::ZERO, 0.8, 10.0).sample_with(&mut rng),
            Duration::ZERO
        );
        let fixed = Latency::new(Duration::from_millis(3), 0.0, 10.0);
        assert_eq!(fixed.sample_with(&mut rng), Duration::from_millis(3));
        let odd = Latency::new(Duration::from_millis(3), f64::NAN, f64::NAN);
        assert_eq!(odd.sample_with(&mut rng), Duration::from_millis(3));
    }
}
