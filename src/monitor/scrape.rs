//! Reading the Prometheus text exposition format (with the `prometheus-parse` crate) into
//! one value per selector; counters become rates per second.

use std::collections::HashMap;
use std::time::Instant;

use super::selector::Selector;

/// One sample of the exposition: name, labels, value, and whether it is a counter.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: HashMap<String, String>,
    pub value: f64,
    pub counter: bool,
}

/// Parses an exposition. Histograms and summaries are skipped (select their `_sum` or
/// `_count` instead). Text with no sample at all is an error: not an exposition.
pub fn parse_exposition(text: &str) -> Result<Vec<Sample>, String> {
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string())))
        .map_err(|e| format!("not the Prometheus text format: {e}"))?;
    let samples: Vec<Sample> = scrape
        .samples
        .into_iter()
        .filter_map(|s| {
            let (value, counter) = match s.value {
                prometheus_parse::Value::Counter(v) => (v, true),
                prometheus_parse::Value::Gauge(v) => (v, false),
                prometheus_parse::Value::Untyped(v) => (v, s.metric.ends_with("_total")),
                _ => return None,
            };
            Some(Sample {
                labels: (*s.labels).clone(),
                name: s.metric,
                value,
                counter,
            })
        })
        .collect();
    if samples.is_empty() {
        return Err("not the Prometheus text format: no samples".into());
    }
    Ok(samples)
}

/// Counter readings of the last scrape, for rates.
#[derive(Debug, Default)]
pub struct Counters {
    last: HashMap<String, (f64, Instant)>,
}

impl Counters {
    fn rate(&mut self, key: &str, value: f64, now: Instant) -> Option<f64> {
        let prev = self.last.insert(key.to_string(), (value, now));
        let (before, at) = prev?;
        let secs = now.duration_since(at).as_secs_f64();
        // A counter that went down was reset: no rate for this second.
        (secs > 0.0 && value >= before).then(|| (value - before) / secs)
    }

    /// One value per selector: the sum of the matching samples (a rate per second for
    /// counters, `None` on the first scrape), or `None` when nothing matched. `cpu_busy`
    /// is node_exporter's CPU use, 0..1, from `node_cpu_seconds_total`.
    pub fn values(
        &mut self,
        selectors: &[Selector],
        samples: &[Sample],
        now: Instant,
    ) -> Vec<Option<f64>> {
        selectors
            .iter()
            .map(|sel| {
                if sel.name == "cpu_busy" && sel.labels.is_empty() {
                    return self.cpu_busy(samples, now);
                }
                let matching: Vec<&Sample> = samples
                    .iter()
                    .filter(|s| sel.matches(&s.name, &s.labels))
                    .collect();
                if matching.is_empty() {
                    return None;
                }
                let sum: f64 = matching.iter().map(|s| s.value).sum();
                if matching.iter().any(|s| s.counter) {
                    self.rate(&sel.to_string(), sum, now)
                } else {
                    Some(sum)
                }
            })
            .collect()
    }

    fn cpu_busy(&mut self, samples: &[Sample], now: Instant) -> Option<f64> {
        let cpu = samples
            .iter()
            .filter(|s| s.name == "node_cpu_seconds_total");
        let (mut idle, mut total, mut any) = (0.0, 0.0, false);
        for s in cpu {
            any = true;
            total += s.value;
            if s.labels
                .get("mode")
                .is_some_and(|m| m == "idle" || m == "iowait")
            {
                idle += s.value;
            }
        }
        if !any {
            return None;
        }
        let idle_rate = self.rate("cpu_busy/idle", idle, now);
        let total_rate = self.rate("cpu_busy/total", total, now);
        match (idle_rate, total_rate) {
            (Some(i), Some(t)) if t > 0.0 => Some((1.0 - i / t).clamp(0.0, 1.0)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const TEXT: &str =
        "# HELP node_load1 1m load average.\n# TYPE node_load1 gauge\nnode_load1 0.75\n\
        # TYPE node_cpu_seconds_total counter\n\
        node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 100\n\
        node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 50\n\
        # TYPE http_requests_total counter\n\
        http_requests_total{code=\"200\"} 1000\nhttp_requests_total{code=\"500\"} 10\n";

    fn sel(s: &str) -> Selector {
        Selector::parse(s).expect("selector")
    }

    #[test]
    fn gauges_counters_and_cpu_busy() {
        let sels = [
            sel("node_load1"),
            sel(r#"http_requests_total{code="500"}"#),
            sel("http_requests_total"),
            sel("cpu_busy"),
            sel("missing"),
        ];
        let mut c = Counters::default();
        let t0 = Instant::now();
        let first = c.values(&sels, &parse_exposition(TEXT).expect("parses"), t0);
        assert_eq!(first, vec![Some(0.75), None, None, None, None]);
        let later = TEXT
            .replace("} 1000", "} 1400")
            .replace("} 100\n", "} 101.5\n")
            .replace("} 50\n", "} 50.5\n")
            .replace("} 10\n", "} 12\n");
        let second = c.values(
            &sels,
            &parse_exposition(&later).expect("parses"),
            t0 + Duration::from_secs(2),
        );
        assert_eq!(second[0], Some(0.75));
        assert_eq!(second[1], Some(1.0)); // (12 - 10) / 2 s
        assert_eq!(second[2], Some(201.0)); // (1412 - 1010) / 2 s
        assert_eq!(second[3], Some(0.25)); // idle 1.5 of 2.0 CPU seconds
        assert_eq!(second[4], None);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse_exposition("<html>nope</html>").is_err());
        assert!(parse_exposition("").is_err());
    }
}
