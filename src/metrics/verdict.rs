//! Live threshold evaluation: whole-run figures or a rolling window of seconds.

use std::collections::VecDeque;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::recorder::{new_histogram, Accum};
use super::snapshot::EndpointStats;
use crate::latency::Latency;
use crate::thresholds::{Observed, ThresholdSpec, Timing};

/// A threshold's state at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdStatus {
    /// Canonical text, e.g. `p95 < 500ms over 30s`.
    pub text: String,
    /// The endpoint it applies to; None for all requests.
    pub endpoint: Option<String>,
    /// The observed value in the metric's unit; None while not computable.
    pub value: Option<f64>,
    /// The value formatted in the metric's unit.
    pub shown: String,
    /// None while pending (nothing to judge yet).
    pub passed: Option<bool>,
    pub abort_on_fail: bool,
}

impl ThresholdStatus {
    /// Why a run stops when this abort_on_fail threshold failed: `threshold 'p95 < 1ms'
    /// on search failed: 3.2ms`.
    pub fn abort_reason(&self) -> String {
        format!(
            "threshold '{}'{} failed: {}",
            self.text,
            self.endpoint
                .as_ref()
                .map_or(String::new(), |e| format!(" on {e}")),
            self.shown
        )
    }
}

/// One closed second of a series, kept for windowed thresholds.
#[derive(Debug, Clone)]
pub struct SecondData {
    pub hist: Histogram<u64>,
    pub requests: u64,
    pub errors: u64,
    pub checks_passed: u64,
    pub checks_failed: u64,
}

/// The last seconds of one series.
#[derive(Debug, Clone, Default)]
pub struct Window {
    pub cap: usize,
    pub seconds: VecDeque<SecondData>,
}

impl Window {
    pub fn push(&mut self, a: &Accum) {
        let (p, f) = a
            .checks
            .iter()
            .fold((0, 0), |acc, c| (acc.0 + c.1, acc.1 + c.2));
        self.seconds.push_back(SecondData {
            hist: a.hist.clone(),
            requests: a.requests,
            errors: a.errors,
            checks_passed: p,
            checks_failed: f,
        });
        while self.seconds.len() > self.cap {
            self.seconds.pop_front();
        }
    }

    fn observe(&self, w: Duration, dropped: u64) -> Observed {
        let n = (w.as_secs().max(1) as usize).min(self.seconds.len());
        let mut h = new_histogram();
        let mut o = Observed {
            latency_ms: None,
            requests: 0,
            errors: 0,
            seconds: n as f64,
            checks_passed: 0,
            checks_failed: 0,
            dropped,
            generator_cpu: None,
        };
        for s in self.seconds.iter().rev().take(n) {
            let _ = h.add(&s.hist);
            o.requests += s.requests;
            o.errors += s.errors;
            o.checks_passed += s.checks_passed;
            o.checks_failed += s.checks_failed;
        }
        o.latency_ms = Latency::of_nonempty(&h);
        o
    }
}

/// The histogram of a series' timing (`None`: its whole latency); `None` while the series
/// has not measured that timing at all.
pub fn timing_hist(e: &EndpointStats, timing: Option<Timing>) -> Option<&Histogram<u64>> {
    let Some(t) = timing else {
        return Some(&e.hist);
    };
    let (p, s, w) = (e.phases.as_deref(), e.stream.as_deref(), e.ws.as_deref());
    match t {
        Timing::Dns => p.map(|p| &p.dns),
        Timing::Connect => p.map(|p| &p.connect),
        Timing::Tls => p.map(|p| &p.tls),
        Timing::Send => p.map(|p| &p.send),
        Timing::Ttfb => p.map(|p| &p.ttfb),
        Timing::Receive => p.map(|p| &p.receive),
        Timing::Total => p.map(|p| &p.total),
        Timing::FirstEvent => s.map(|s| &s.first_event),
        Timing::Gap => s.map(|s| &s.gap),
        Timing::WsHandshake => w.map(|w| &w.handshake),
        Timing::WsExpect => w.map(|w| &w.expect),
        Timing::WsEcho => w.map(|w| &w.echo),
    }
}

/// Whole-run figures of a series; the latency is that of `timing` (`None`: the whole
/// requests').
pub fn observe_run(
    e: &EndpointStats,
    timing: Option<Timing>,
    seconds: f64,
    dropped: u64,
) -> Observed {
    let (p, f) = e
        .checks
        .values()
        .fold((0, 0), |acc, c| (acc.0 + c.0, acc.1 + c.1));
    Observed {
        latency_ms: timing_hist(e, timing).and_then(Latency::of_nonempty),
        requests: e.requests,
        errors: e.errors,
        seconds,
        checks_passed: p,
        checks_failed: f,
        dropped,
        generator_cpu: None,
    }
}

/// Evaluates one threshold on what was observed.
pub fn status(spec: &ThresholdSpec, endpoint: Option<&str>, o: &Observed) -> ThresholdStatus {
    let t = &spec.threshold;
    let value = t.observe(o);
    ThresholdStatus {
        text: t.to_string(),
        endpoint: endpoint.map(str::to_string),
        value,
        shown: value.map_or("-".into(), |v| t.format_value(v)),
        passed: value.map(|v| t.passes(v)),
        abort_on_fail: spec.abort_on_fail,
    }
}

/// Evaluates a whole-run or windowed threshold against a series.
pub fn evaluate(
    spec: &ThresholdSpec,
    series: &EndpointStats,
    window: Option<&Window>,
    seconds: f64,
    dropped: u64,
    generator: &super::generator::GeneratorSeries,
) -> ThresholdStatus {
    let endpoint = spec.endpoint.map(|_| series.name.as_str());
    let timing = spec.threshold.timing;
    let mut o = match (spec.threshold.window, window) {
        // `parse` keeps windows to whole-request thresholds; the seconds kept hold
        // nothing else.
        (Some(w), Some(win)) if timing.is_none() => win.observe(w, dropped),
        _ => observe_run(series, timing, seconds, dropped),
    };
    o.generator_cpu = generator.mean_cpu_share(spec.threshold.window.map(|w| w.as_secs()));
    status(spec, endpoint, &o)
}
