//! Capacity arithmetic: from the rps one instance sustains to the instances a peak needs.
//!
//! - required rps = peak users x requests per user per minute / 60 (or the peak rps given);
//! - instances = required rps / rps per instance, rounded up;
//! - with a buffer: instances x (1 + buffer), rounded up (10,000 users x 10 req/min is
//!   1,667 rps; at 200 rps per instance that is 9 instances, 11 with 20%);
//! - growth: the required rps grows by `growth` a month, compounded;
//! - cost: instances (with the buffer) x cost per instance.

use serde::Serialize;

/// The peak load the plan is for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Peak {
    Users {
        users: f64,
        requests_per_minute: f64,
    },
    Rps(f64),
}

impl Peak {
    /// Requests per second at the peak.
    pub fn rps(self) -> f64 {
        match self {
            Peak::Users {
                users,
                requests_per_minute,
            } => users * requests_per_minute / 60.0,
            Peak::Rps(rps) => rps,
        }
    }
}

/// What the plan is asked.
#[derive(Debug, Clone, PartialEq)]
pub struct Inputs {
    /// Instances that served the test.
    pub instances: u32,
    pub peak: Option<Peak>,
    /// Headroom on top of the instances needed, as a fraction (0.2 for 20%).
    pub buffer: f64,
    /// Monthly growth of the peak, as a fraction.
    pub growth: f64,
    pub months: u32,
    /// Cost of one instance (per month, in whatever currency).
    pub cost_per_instance: Option<f64>,
}

impl Default for Inputs {
    fn default() -> Self {
        Inputs {
            instances: 1,
            peak: None,
            buffer: 0.2,
            growth: 0.0,
            months: 0,
            cost_per_instance: None,
        }
    }
}

/// The instances one required rps needs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Need {
    pub required_rps: f64,
    /// Without the buffer.
    pub instances: u64,
    /// With the buffer.
    pub instances_with_buffer: u64,
    /// `instances_with_buffer x cost_per_instance`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
}

/// One month of growth.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Month {
    /// 1 is a month from now.
    pub month: u32,
    #[serde(flatten)]
    pub need: Need,
}

/// The capacity table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    /// The knee's rps over the instances that served the test.
    pub max_rps_per_instance: f64,
    /// 70% of it: a safe operating point.
    pub safe_rps_70: f64,
    /// 80% of it.
    pub safe_rps_80: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak: Option<Peak>,
    pub buffer: f64,
    /// The peak's needs (absent without a peak).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub now: Option<Need>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub growth: Vec<Month>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_growth: Option<f64>,
}

/// `x` rounded up, but a float a hair above a whole number (1666.67 x 1.2 / 200 written
/// as 10.000000000000002) stays that number.
fn ceil(x: f64) -> u64 {
    if !x.is_finite() || x <= 0.0 {
        return 0;
    }
    let r = x.round();
    if (x - r).abs() < 1e-9 {
        r as u64
    } else {
        x.ceil() as u64
    }
}

/// Two decimals: JSON readers see 268.1, not 268.09999999999997.
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The instances `required_rps` needs at `per_instance` rps each.
pub fn need(required_rps: f64, per_instance: f64, inputs: &Inputs) -> Need {
    let instances = if per_instance > 0.0 {
        ceil(required_rps / per_instance)
    } else {
        0
    };
    let instances_with_buffer = ceil(instances as f64 * (1.0 + inputs.buffer));
    Need {
        required_rps,
        instances,
        instances_with_buffer,
        cost: inputs
            .cost_per_instance
            .map(|c| c * instances_with_buffer as f64),
    }
}

/// The table for a knee of `knee_rps` served by `inputs.instances` instances.
pub fn table(knee_rps: f64, inputs: &Inputs) -> Table {
    let per_instance = knee_rps / f64::from(inputs.instances.max(1));
    let now = inputs.peak.map(|p| need(p.rps(), per_instance, inputs));
    let growth = match now {
        Some(n) if inputs.months > 0 => (1..=inputs.months)
            .map(|m| Month {
                month: m,
                need: need(
                    n.required_rps * (1.0 + inputs.growth).powi(m as i32),
                    per_instance,
                    inputs,
                ),
            })
            .collect(),
        _ => Vec::new(),
    };
    Table {
        max_rps_per_instance: per_instance,
        safe_rps_70: round2(per_instance * 0.7),
        safe_rps_80: round2(per_instance * 0.8),
        peak: inputs.peak,
        buffer: inputs.buffer,
        now,
        monthly_growth: (!growth.is_empty()).then_some(inputs.growth),
        growth,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worked_example() {
        // 10,000 users x 10 req/min -> 1,667 rps; at 200 rps per instance 9 instances,
        // 11 with 20%.
        let peak = Peak::Users {
            users: 10_000.0,
            requests_per_minute: 10.0,
        };
        assert_eq!(crate::units::rate(peak.rps()), "1,667");
        let inputs = Inputs {
            peak: Some(peak),
            ..Inputs::default()
        };
        let t = table(200.0, &inputs);
        let now = t.now.expect("a peak was given");
        assert_eq!(now.instances, 9);
        assert_eq!(now.instances_with_buffer, 11);
        assert_eq!(t.safe_rps_70, 140.0);
        assert_eq!(t.safe_rps_80, 160.0);
        assert_eq!(now.cost, None);
    }

    #[test]
    fn instances_that_served_the_test_divide_the_knee() {
        let inputs = Inputs {
            instances: 4,
            peak: Some(Peak::Rps(1000.0)),
            buffer: 0.0,
            cost_per_instance: Some(50.0),
            ..Inputs::default()
        };
        let t = table(800.0, &inputs);
        assert_eq!(t.max_rps_per_instance, 200.0);
        let now = t.now.expect("peak");
        assert_eq!((now.instances, now.instances_with_buffer), (5, 5));
        assert_eq!(now.cost, Some(250.0));
    }

    #[test]
    fn growth_compounds_monthly() {
        let inputs = Inputs {
            peak: Some(Peak::Rps(1000.0)),
            growth: 0.15,
            months: 6,
            cost_per_instance: Some(50.0),
            ..Inputs::default()
        };
        let t = table(200.0, &inputs);
        let rps: Vec<u64> = t
            .growth
            .iter()
            .map(|m| m.need.required_rps.round() as u64)
            .collect();
        // 1000 x 1.15^m
        assert_eq!(rps, vec![1150, 1322, 1521, 1749, 2011, 2313]);
        let last = t.growth[5].need;
        // 2313 / 200 = 11.6 -> 12; x 1.2 = 14.4 -> 15; x 50 = 750.
        assert_eq!((last.instances, last.instances_with_buffer), (12, 15));
        assert_eq!(last.cost, Some(750.0));
        assert_eq!(t.monthly_growth, Some(0.15));
    }

    #[test]
    fn exact_multiples_are_not_rounded_up_and_nothing_needs_nothing() {
        assert_eq!(ceil(10.000000000000002), 10);
        assert_eq!(ceil(10.01), 11);
        assert_eq!(ceil(0.0), 0);
        assert_eq!(ceil(f64::NAN), 0);
        let t = table(
            0.0,
            &Inputs {
                peak: Some(Peak::Rps(10.0)),
                ..Inputs::default()
            },
        );
        assert_eq!(t.now.map(|n| n.instances), Some(0));
    }
}
