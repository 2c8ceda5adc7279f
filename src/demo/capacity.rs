//! A capacity limit for the demo target (`--capacity RPS`): one virtual worker that takes
//! `1/RPS` seconds per request, with a bounded queue in front of it.
//!
//! Below the limit a request starts at once (or after a short wait when arrivals bunch
//! up); as the offered load nears the limit the queue, and with it the latency, climbs;
//! past it the queue is full, throughput stays at `RPS`, and the excess is refused with
//! 503 right away. This is how a saturated service behaves, so a breakpoint run against
//! the demo target finds a real knee at a known rate.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The default longest wait in the queue before a request is refused.
pub(crate) const DEFAULT_QUEUE: Duration = Duration::from_millis(250);

/// What the limiter decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Serve it after waiting this long (zero when the worker is free).
    After(Duration),
    /// The queue is full: answer 503.
    Refused,
}

/// A single-server queue: requests are admitted at most `rps` per second on average.
#[derive(Debug)]
pub(crate) struct Capacity {
    /// Service time of one request: `1 / rps`.
    per_request: Duration,
    /// The longest wait a request is admitted with.
    max_queue: Duration,
    /// When the virtual worker is next free.
    next_free: Mutex<Option<Instant>>,
}

impl Capacity {
    /// A limit of `rps` requests per second (finite and above zero) with at most
    /// `max_queue` of waiting.
    pub(crate) fn new(rps: f64, max_queue: Duration) -> Result<Capacity, String> {
        let rps = check_capacity(rps)?;
        Ok(Capacity {
            per_request: Duration::from_secs_f64(1.0 / rps),
            max_queue,
            next_free: Mutex::new(None),
        })
    }

    /// Admits (or refuses) a request arriving at `now`.
    pub(crate) fn admit(&self, now: Instant) -> Admission {
        let mut next_free = match self.next_free.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let start = next_free.map_or(now, |free| free.max(now));
        let wait = start - now;
        if wait > self.max_queue {
            return Admission::Refused;
        }
        *next_free = Some(start + self.per_request);
        Admission::After(wait)
    }
}

/// A capacity must be a finite number of requests per second above zero.
pub(crate) fn check_capacity(rps: f64) -> Result<f64, String> {
    if rps.is_finite() && rps > 0.0 && rps <= 10_000_000.0 {
        Ok(rps)
    } else {
        Err(format!(
            "capacity {rps} is out of range: expected requests per second above 0 (like 400)"
        ))
    }
}

/// Parses `--capacity`: requests per second, like `400` or `400/s`.
pub(crate) fn parse_capacity(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let number = t.strip_suffix("/s").unwrap_or(t).trim();
    let rps: f64 = number.parse().map_err(|_| {
        format!("invalid capacity '{text}': expected requests per second, like 400")
    })?;
    check_capacity(rps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_at_the_rate_then_queues_then_refuses() {
        let cap = Capacity::new(100.0, Duration::from_millis(50)).expect("capacity");
        let t0 = Instant::now();
        // Spaced at the service time: never a wait.
        for i in 0..10 {
            let at = t0 + Duration::from_millis(10 * i);
            assert_eq!(cap.admit(at), Admission::After(Duration::ZERO), "{i}");
        }
        // A burst of 8 at one instant: waits of 0, 10, ... 50 ms, then refusals.
        let burst = t0 + Duration::from_secs(1);
        let decisions: Vec<Admission> = (0..8).map(|_| cap.admit(burst)).collect();
        let waits: Vec<u64> = decisions
            .iter()
            .filter_map(|d| match d {
                Admission::After(w) => Some(w.as_millis() as u64),
                Admission::Refused => None,
            })
            .collect();
        assert_eq!(waits, vec![0, 10, 20, 30, 40, 50]);
        assert_eq!(decisions[6..], [Admission::Refused, Admission::Refused]);
    }

    #[test]
    fn over_a_second_of_overload_admits_the_capacity() {
        let cap = Capacity::new(400.0, DEFAULT_QUEUE).expect("capacity");
        let t0 = Instant::now();
        // 1,000 arrivals evenly over one second: 2.5 times the capacity.
        let admitted = (0..1000)
            .filter(|i| cap.admit(t0 + Duration::from_millis(*i)) != Admission::Refused)
            .count();
        // 400 in the second plus what the 250 ms queue holds at its end (100).
        assert!((495..=505).contains(&admitted), "admitted {admitted}");
    }

    #[test]
    fn capacity_values_are_checked() {
        assert_eq!(parse_capacity("400"), Ok(400.0));
        assert_eq!(parse_capacity(" 12.5/s "), Ok(12.5));
        for bad in ["0", "-3", "NaN", "inf", "lots", ""] {
            let e = parse_capacity(bad).unwrap_err();
            assert!(e.contains("capacity"), "{bad}: {e}");
        }
    }
}
