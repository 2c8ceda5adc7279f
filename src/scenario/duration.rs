//! Human durations ("500ms", "2m", "1m30s") and think time ("1s", "1s..3s").

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

pub use crate::units::{duration as format_duration, parse_duration};

/// A duration written in human form in a scenario file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration like \"500ms\" or \"2m\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HumanDuration, E> {
                parse_duration(v).map(HumanDuration).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<HumanDuration, E> {
                Err(E::custom(format!(
                    "durations need a unit: write \"{v}s\" or \"{v}ms\", not {v}"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// Time a virtual user waits between iterations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThinkTime {
    #[default]
    None,
    Fixed(Duration),
    /// Uniformly random between the two bounds (inclusive).
    Uniform(Duration, Duration),
}

impl ThinkTime {
    pub fn parse(text: &str) -> Result<ThinkTime, String> {
        if let Some((a, b)) = text.split_once("..") {
            let lo = parse_duration(a)?;
            let hi = parse_duration(b)?;
            if lo > hi {
                return Err(format!(
                    "think time range '{text}' has its lower bound above its upper bound"
                ));
            }
            return Ok(if lo == hi {
                ThinkTime::Fixed(lo)
            } else {
                ThinkTime::Uniform(lo, hi)
            });
        }
        let d = parse_duration(text)?;
        Ok(if d.is_zero() {
            ThinkTime::None
        } else {
            ThinkTime::Fixed(d)
        })
    }

    /// Draws one think time.
    pub fn sample(&self, rng: &mut fastrand::Rng) -> Duration {
        match *self {
            ThinkTime::None => Duration::ZERO,
            ThinkTime::Fixed(d) => d,
            ThinkTime::Uniform(lo, hi) => {
                let span = (hi - lo).as_micros() as u64;
                lo + Duration::from_micros(rng.u64(0..=span))
            }
        }
    }
}

impl fmt::Display for ThinkTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ThinkTime::None => f.write_str("none"),
            ThinkTime::Fixed(d) => f.write_str(&format_duration(*d)),
            ThinkTime::Uniform(a, b) => {
                write!(f, "{}..{}", format_duration(*a), format_duration(*b))
            }
        }
    }
}

impl<'de> Deserialize<'de> for ThinkTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ThinkTime;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a think time like \"1s\" or \"1s..3s\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ThinkTime, E> {
                ThinkTime::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// One duration as `parse_duration` reads it: numbers with units, or 0.
const DURATION: &str = "(0|([0-9.]+(us|µs|ms|s|sec|m|min|h|d)\\s*)+)";

impl schemars::JsonSchema for HumanDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A duration with a unit: 250us, 500ms, 30s, 2m, 1h, 1d, 1m30s.",
            "type": "string",
            "pattern": format!("^\\s*{DURATION}$"),
        })
    }
}

impl schemars::JsonSchema for ThinkTime {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ThinkTime".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A pause: fixed (\"1s\") or uniformly random between two bounds (\"1s..3s\").",
            "type": "string",
            "pattern": format!("^\\s*{DURATION}(\\.\\.\\s*{DURATION})?$"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn think_time_forms() {
        assert_eq!(ThinkTime::parse("0s").unwrap(), ThinkTime::None);
        assert_eq!(
            ThinkTime::parse("1s..3s").unwrap(),
            ThinkTime::Uniform(Duration::from_secs(1), Duration::from_secs(3))
        );
        assert!(ThinkTime::parse("3s..1s").is_err());
        let t = ThinkTime::parse("10ms..20ms").unwrap();
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..1000 {
            let d = t.sample(&mut rng);
            assert!(d >= Duration::from_millis(10) && d <= Duration::from_millis(20));
        }
    }
}
