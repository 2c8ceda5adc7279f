//! The exposition text: every metric family of [`FAMILIES`] (name, type, help, and
//! where its samples come from), written from one snapshot.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use super::{BUCKETS, QUANTILES};
use crate::metrics::verdict::ThresholdStatus;
use crate::metrics::{EndpointStats, RunState, Snapshot};

/// Escapes a label value.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A float as Prometheus writes it.
fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

/// A metric family's type.
#[derive(Clone, Copy)]
enum Type {
    Counter,
    Gauge,
    Histogram,
}

impl Type {
    fn as_str(self) -> &'static str {
        match self {
            Type::Counter => "counter",
            Type::Gauge => "gauge",
            Type::Histogram => "histogram",
        }
    }
}

/// Where a family's samples come from.
enum Source {
    /// One unlabelled sample of the run; `None` leaves the family out.
    Run(fn(&Snapshot) -> Option<f64>),
    /// One sample per endpoint.
    Endpoint(fn(&EndpointStats) -> f64),
    /// One sample per endpoint and key of a map of counts, the key under this label.
    EndpointBy(&'static str, fn(&EndpointStats) -> Vec<(String, u64)>),
    /// One sample per threshold that has a value (labels `threshold`, `endpoint`); the
    /// family is left out when the run has no thresholds.
    Threshold(fn(&ThresholdStatus) -> Option<f64>),
    /// Samples of another shape, written by the function under the family's name.
    Samples(fn(&Snapshot, &str, &mut Out)),
    /// [`Source::Samples`], the family left out unless the first function holds (the
    /// run has what the family is about: phases, streams, WebSocket sessions).
    SamplesIf(fn(&Snapshot) -> bool, fn(&Snapshot, &str, &mut Out)),
}

/// One metric family of the exposition: name, type, help text and value source.
struct Family {
    name: &'static str,
    kind: Type,
    help: &'static str,
    source: Source,
}

const fn family(name: &'static str, kind: Type, help: &'static str, source: Source) -> Family {
    Family {
        name,
        kind,
        help,
        source,
    }
}

/// Every family, in the order written (see the table in the module's documentation).
const FAMILIES: &[Family] = &[
    family(
        "volley_info",
        Type::Gauge,
        "The run: scenario and volley version.",
        Source::Samples(|snap, name, o| {
            let labels = [
                ("scenario", snap.scenario.as_str()),
                ("version", env!("CARGO_PKG_VERSION")),
            ];
            o.sample(name, &labels, 1.0);
        }),
    ),
    family(
        "volley_run_state",
        Type::Gauge,
        "1 for the run's current state.",
        Source::Samples(|snap, name, o| {
            for st in [
                RunState::Running,
                RunState::Paused,
                RunState::Stopping,
                RunState::Done,
            ] {
                let state = st.label().to_ascii_lowercase();
                o.sample(
                    name,
                    &[("state", state.as_str())],
                    (snap.state == st) as u8 as f64,
                );
            }
        }),
    ),
    family(
        "volley_elapsed_seconds",
        Type::Gauge,
        "Wall time since the run started.",
        Source::Run(|s| Some(s.elapsed.as_secs_f64())),
    ),
    family(
        "volley_vus",
        Type::Gauge,
        "Active virtual users.",
        Source::Run(|s| Some(s.vus_active as f64)),
    ),
    family(
        "volley_vus_target",
        Type::Gauge,
        "Virtual users asked for.",
        Source::Run(|s| Some(s.vus_target as f64)),
    ),
    family(
        "volley_in_flight",
        Type::Gauge,
        "Requests in flight.",
        Source::Run(|s| Some(s.in_flight as f64)),
    ),
    // Unknown when the reqwest client ran (its pool closes connections out of sight).
    family(
        "volley_connections_open",
        Type::Gauge,
        "Connections open now.",
        Source::Run(|s| {
            s.connections_open_known
                .then_some(s.connections_open as f64)
        }),
    ),
    family(
        "volley_connections_opened_total",
        Type::Counter,
        "Connections opened (reconnects included).",
        Source::Run(|s| Some(s.connections_opened as f64)),
    ),
    family(
        "volley_arrival_rate",
        Type::Gauge,
        "Open model: iterations started per second (target).",
        Source::Run(|s| s.rate),
    ),
    family(
        "volley_dropped_iterations_total",
        Type::Counter,
        "Open model: iterations due and never started (no VU was free in time).",
        Source::Run(|s| Some(s.dropped as f64)),
    ),
    family(
        "volley_requests_per_second",
        Type::Gauge,
        "Requests finished per second, over the last second.",
        Source::Endpoint(|e| e.rps_now),
    ),
    family(
        "volley_requests_total",
        Type::Counter,
        "Requests finished (ok and errors).",
        Source::Endpoint(|e| e.requests as f64),
    ),
    family(
        "volley_responses_total",
        Type::Counter,
        "Responses by HTTP status code.",
        Source::EndpointBy("status", |e| {
            e.status.iter().map(|(c, n)| (c.to_string(), *n)).collect()
        }),
    ),
    family(
        "volley_errors_total",
        Type::Counter,
        "Errors by kind (timeout, connect_refused, http_503, ...).",
        Source::EndpointBy("kind", |e| counts(&e.errors_by_kind)),
    ),
    family(
        "volley_retries_total",
        Type::Counter,
        "Attempts a reused connection dropped before any response, sent again, by reason.",
        Source::EndpointBy("reason", |e| counts(&e.retries)),
    ),
    family(
        "volley_bytes_received_total",
        Type::Counter,
        "Response body bytes received.",
        Source::Endpoint(|e| e.bytes as f64),
    ),
    family(
        "volley_request_duration_seconds",
        Type::Histogram,
        "Request latency (send to last body byte); _sum is from the HDR mean.",
        Source::Samples(duration_histograms),
    ),
    family(
        "volley_request_duration_quantile_seconds",
        Type::Gauge,
        "Latency percentiles over the run so far, from HDR histograms (3 significant digits).",
        Source::Samples(duration_quantiles),
    ),
    family(
        "volley_phase_duration_seconds",
        Type::Histogram,
        "Request phases (dns, connect, tls, send, ttfb, receive, total), label phase; _sum is from the HDR mean.",
        Source::SamplesIf(has_phases, |snap, name, o| {
            each_phase(snap, |labels, h| histogram(o, name, labels, h))
        }),
    ),
    family(
        "volley_phase_duration_quantile_seconds",
        Type::Gauge,
        "Request phase percentiles over the run so far, label phase, from HDR histograms.",
        Source::SamplesIf(has_phases, |snap, name, o| {
            each_phase(snap, |labels, h| quantiles(o, name, labels, h))
        }),
    ),
    family(
        "volley_stream_responses_total",
        Type::Counter,
        "Streamed responses (server-sent events, stream = true), a stalled one included.",
        Source::SamplesIf(has_streams, |snap, name, o| {
            stream_count(snap, name, o, |s| s.responses)
        }),
    ),
    family(
        "volley_stream_events_total",
        Type::Counter,
        "Events (or chunks) of streamed responses.",
        Source::SamplesIf(has_streams, |snap, name, o| {
            stream_count(snap, name, o, |s| s.events)
        }),
    ),
    family(
        "volley_ws_sessions_total",
        Type::Counter,
        "WebSocket sessions run.",
        Source::SamplesIf(has_ws, |snap, name, o| ws_count(snap, name, o, |w| w.sessions)),
    ),
    family(
        "volley_ws_connections_opened_total",
        Type::Counter,
        "WebSocket connections opened (handshake answered 101).",
        Source::SamplesIf(has_ws, |snap, name, o| ws_count(snap, name, o, |w| w.opened)),
    ),
    family(
        "volley_ws_connections_closed_total",
        Type::Counter,
        "WebSocket closing handshakes completed.",
        Source::SamplesIf(has_ws, |snap, name, o| ws_count(snap, name, o, |w| w.closed)),
    ),
    family(
        "volley_ws_messages_sent_total",
        Type::Counter,
        "WebSocket messages sent.",
        Source::SamplesIf(has_ws, |snap, name, o| ws_count(snap, name, o, |w| w.sent)),
    ),
    family(
        "volley_ws_messages_received_total",
        Type::Counter,
        "WebSocket messages received.",
        Source::SamplesIf(has_ws, |snap, name, o| ws_count(snap, name, o, |w| w.received)),
    ),
    family(
        "volley_ws_bytes_sent_total",
        Type::Counter,
        "WebSocket message bytes sent.",
        Source::SamplesIf(has_ws, |snap, name, o| ws_count(snap, name, o, |w| w.bytes_sent)),
    ),
    family(
        "volley_ws_bytes_received_total",
        Type::Counter,
        "WebSocket message bytes received.",
        Source::SamplesIf(has_ws, |snap, name, o| {
            ws_count(snap, name, o, |w| w.bytes_received)
        }),
    ),
    family(
        "volley_ws_close_codes_total",
        Type::Counter,
        "WebSocket sessions the server closed, by close code.",
        Source::SamplesIf(has_ws, |snap, name, o| {
            for e in &snap.endpoints {
                let Some(w) = e.ws.as_deref() else { continue };
                let [a, b] = ep_labels(e);
                for (code, n) in &w.close_codes {
                    o.sample(name, &[a, b, ("code", code.to_string().as_str())], *n as f64);
                }
            }
        }),
    ),
    family(
        "volley_ws_echo_messages_total",
        Type::Counter,
        "WebSocket echo-step messages by result: echoed (within the step's 'within'), timeout, lost.",
        Source::SamplesIf(has_echo, |snap, name, o| {
            for e in &snap.endpoints {
                let Some(w) = e.ws.as_deref().filter(|w| w.echo_counts.sent > 0) else {
                    continue;
                };
                let [a, b] = ep_labels(e);
                let c = w.echo_counts;
                for (result, n) in [
                    ("echoed", c.echoed),
                    ("timeout", c.timeouts),
                    ("lost", c.lost),
                ] {
                    o.sample(name, &[a, b, ("result", result)], n as f64);
                }
            }
        }),
    ),
    family(
        "volley_stream_duration_quantile_seconds",
        Type::Gauge,
        "Streamed-response and WebSocket timings (ttfb, first_event, gap, duration, ws_handshake, ws_expect, ws_echo), label timing; percentiles from HDR histograms.",
        Source::SamplesIf(
            |s| has_streams(s) || has_ws(s),
            |snap, name, o| each_stream_timing(snap, |labels, h| quantiles(o, name, labels, h)),
        ),
    ),
    family(
        "volley_thresholds_failed",
        Type::Gauge,
        "Thresholds failing now.",
        Source::Run(|s| {
            Some(
                s.thresholds
                    .iter()
                    .filter(|t| t.passed == Some(false))
                    .count() as f64,
            )
        }),
    ),
    family(
        "volley_threshold_passed",
        Type::Gauge,
        "1 when the threshold passes, 0 when it fails (absent while pending).",
        Source::Threshold(|t| t.passed.map(|p| p as u8 as f64)),
    ),
    family(
        "volley_threshold_value",
        Type::Gauge,
        "The thresholded metric's value now, in the threshold's unit.",
        Source::Threshold(|t| t.value.filter(|v| v.is_finite())),
    ),
];

fn counts(map: &std::collections::BTreeMap<String, u64>) -> Vec<(String, u64)> {
    map.iter().map(|(k, n)| (k.clone(), *n)).collect()
}

/// `labels` and one more.
fn with<'a>(labels: &[(&'a str, &'a str)], more: (&'a str, &'a str)) -> Vec<(&'a str, &'a str)> {
    let mut all = labels.to_vec();
    all.push(more);
    all
}

/// One histogram (microseconds) as cumulative buckets, sum and count (seconds), with
/// `labels`.
fn histogram(o: &mut Out, name: &str, labels: &[(&str, &str)], h: &Histogram<u64>) {
    let (bucket, sum, count) = (
        format!("{name}_bucket"),
        format!("{name}_sum"),
        format!("{name}_count"),
    );
    for &le in BUCKETS {
        let n = if h.is_empty() {
            0
        } else {
            h.count_between(0, (le * 1e6).round() as u64)
        };
        o.sample(&bucket, &with(labels, ("le", &num(le))), n as f64);
    }
    o.sample(&bucket, &with(labels, ("le", "+Inf")), h.len() as f64);
    let total = if h.is_empty() {
        0.0
    } else {
        h.mean() * h.len() as f64 / 1e6
    };
    o.sample(&sum, labels, total);
    o.sample(&count, labels, h.len() as f64);
}

/// The [`QUANTILES`] of a histogram (microseconds) in seconds, with `labels`; nothing
/// when it is empty.
fn quantiles(o: &mut Out, name: &str, labels: &[(&str, &str)], h: &Histogram<u64>) {
    if h.is_empty() {
        return;
    }
    for &q in QUANTILES {
        let v = h.value_at_quantile(q) as f64 / 1e6;
        o.sample(name, &with(labels, ("quantile", &num(q))), v);
    }
}

/// The latency histogram of each endpoint: cumulative buckets, sum and count.
fn duration_histograms(snap: &Snapshot, name: &str, o: &mut Out) {
    for e in &snap.endpoints {
        histogram(o, name, &ep_labels(e), &e.hist);
    }
}

/// The [`QUANTILES`] of each endpoint that recorded a latency.
fn duration_quantiles(snap: &Snapshot, name: &str, o: &mut Out) {
    for e in &snap.endpoints {
        quantiles(o, name, &ep_labels(e), &e.hist);
    }
}

/// Each endpoint's phase histograms that have something, under the label `phase`.
fn each_phase(snap: &Snapshot, mut f: impl FnMut(&[(&str, &str)], &Histogram<u64>)) {
    for e in &snap.endpoints {
        let Some(p) = e.phases.as_deref() else {
            continue;
        };
        let [a, b] = ep_labels(e);
        for (phase, h) in [
            ("dns", &p.dns),
            ("connect", &p.connect),
            ("tls", &p.tls),
            ("send", &p.send),
            ("ttfb", &p.ttfb),
            ("receive", &p.receive),
            ("total", &p.total),
        ] {
            if !h.is_empty() {
                f(&[a, b, ("phase", phase)], h);
            }
        }
    }
}

/// Each endpoint's streamed-response and WebSocket timings that have something, under
/// the label `timing`.
fn each_stream_timing(snap: &Snapshot, mut f: impl FnMut(&[(&str, &str)], &Histogram<u64>)) {
    for e in &snap.endpoints {
        let [a, b] = ep_labels(e);
        let mut timings: Vec<(&str, &Histogram<u64>)> = Vec::new();
        if let Some(s) = e.stream.as_deref() {
            timings.extend([
                ("ttfb", &s.ttfb),
                ("first_event", &s.first_event),
                ("gap", &s.gap),
                ("duration", &s.duration),
            ]);
        }
        if let Some(w) = e.ws.as_deref() {
            timings.extend([
                ("ws_handshake", &w.handshake),
                ("ws_expect", &w.expect),
                ("ws_echo", &w.echo),
            ]);
        }
        for (timing, h) in timings {
            if !h.is_empty() {
                f(&[a, b, ("timing", timing)], h);
            }
        }
    }
}

fn has_phases(s: &Snapshot) -> bool {
    s.endpoints.iter().any(|e| e.phases.is_some())
}

fn has_streams(s: &Snapshot) -> bool {
    s.endpoints.iter().any(|e| e.stream.is_some())
}

fn has_ws(s: &Snapshot) -> bool {
    s.endpoints.iter().any(|e| e.ws.is_some())
}

fn has_echo(s: &Snapshot) -> bool {
    s.endpoints
        .iter()
        .any(|e| e.ws.as_deref().is_some_and(|w| w.echo_counts.sent > 0))
}

/// A per-endpoint count of the streamed responses or WebSocket sessions, for the
/// endpoints that have them.
fn stream_count(
    snap: &Snapshot,
    name: &str,
    o: &mut Out,
    v: fn(&crate::metrics::StreamHists) -> u64,
) {
    for e in &snap.endpoints {
        if let Some(s) = e.stream.as_deref() {
            o.sample(name, &ep_labels(e), v(s) as f64);
        }
    }
}

/// See [`stream_count`].
fn ws_count(snap: &Snapshot, name: &str, o: &mut Out, v: fn(&crate::metrics::WsStats) -> u64) {
    for e in &snap.endpoints {
        if let Some(w) = e.ws.as_deref() {
            o.sample(name, &ep_labels(e), v(w) as f64);
        }
    }
}

impl Family {
    fn write(&self, snap: &Snapshot, o: &mut Out) {
        let name = self.name;
        match &self.source {
            Source::Run(value) => {
                if let Some(v) = value(snap) {
                    o.header(self);
                    o.sample(name, &[], v);
                }
            }
            Source::Endpoint(value) => {
                o.header(self);
                for e in &snap.endpoints {
                    o.sample(name, &ep_labels(e), value(e));
                }
            }
            Source::EndpointBy(key, counts) => {
                o.header(self);
                for e in &snap.endpoints {
                    let [a, b] = ep_labels(e);
                    for (k, n) in counts(e) {
                        o.sample(name, &[a, b, (*key, k.as_str())], n as f64);
                    }
                }
            }
            Source::Threshold(value) => {
                if snap.thresholds.is_empty() {
                    return;
                }
                o.header(self);
                for t in &snap.thresholds {
                    if let Some(v) = value(t) {
                        let labels = [
                            ("threshold", t.text.as_str()),
                            ("endpoint", t.endpoint.as_deref().unwrap_or("")),
                        ];
                        o.sample(name, &labels, v);
                    }
                }
            }
            Source::Samples(write) => {
                o.header(self);
                write(snap, name, o);
            }
            Source::SamplesIf(has, write) => {
                if has(snap) {
                    o.header(self);
                    write(snap, name, o);
                }
            }
        }
    }
}

/// The exposition text being written.
struct Out {
    s: String,
}

impl Out {
    fn header(&mut self, f: &Family) {
        let _ = writeln!(self.s, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(self.s, "# TYPE {} {}", f.name, f.kind.as_str());
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], v: f64) {
        self.s.push_str(name);
        if !labels.is_empty() {
            self.s.push('{');
            for (i, (k, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.s.push(',');
                }
                let _ = write!(self.s, "{k}=\"{}\"", label(val));
            }
            self.s.push('}');
        }
        let _ = writeln!(self.s, " {}", num(v));
    }
}

fn ep_labels(e: &EndpointStats) -> [(&'static str, &str); 2] {
    [("endpoint", e.name.as_str()), ("method", e.method.as_str())]
}

/// Renders the exposition text for a snapshot: every family of [`FAMILIES`] that has
/// samples.
pub fn render(snap: &Snapshot) -> String {
    let mut o = Out {
        s: String::with_capacity(8 * 1024),
    };
    for f in FAMILIES {
        f.write(snap, &mut o);
    }
    o.s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    /// A snapshot that sets every family's source: two endpoints (one with a quote and a
    /// newline in its name, for label escaping), statuses, errors, retries, latencies,
    /// the open model's rate, a pending, a passing and a failing threshold.
    fn full_snapshot() -> Snapshot {
        let mut snap = Snapshot::empty(
            "shop \"x\"",
            &[
                ("login".into(), "POST".into()),
                ("se\"arch\n".into(), "GET".into()),
            ],
        );
        snap.state = RunState::Paused;
        snap.elapsed = Duration::from_millis(12_345);
        snap.vus_active = 7;
        snap.vus_target = 9;
        snap.in_flight = 3;
        snap.connections_open = 4;
        snap.connections_opened = 11;
        snap.rate = Some(12.5);
        snap.dropped = 2;
        for (i, e) in snap.endpoints.iter_mut().enumerate() {
            let k = i as u64 + 1;
            e.requests = 100 * k;
            e.rps_now = 10.25 * k as f64;
            e.bytes = 4096 * k;
            e.status.insert(200, 90 * k);
            e.status.insert(503, 10 * k);
            e.errors_by_kind.insert("http_503".into(), 10 * k);
            e.errors_by_kind.insert("timeout".into(), k);
            e.retries.insert("closed_before_response".into(), k);
            let mut h = (*e.hist).clone();
            for v in [900, 4_000, 12_000, 48_000, 260_000, 1_700_000] {
                h.record_n(v * k, 3 * k).unwrap();
            }
            e.hist = Arc::new(h);
        }
        let th = |text: &str, endpoint: Option<&str>, value: Option<f64>, passed| {
            crate::metrics::verdict::ThresholdStatus {
                text: text.into(),
                endpoint: endpoint.map(Into::into),
                value,
                shown: String::new(),
                passed,
                abort_on_fail: false,
            }
        };
        snap.thresholds = vec![
            th("p95 < 500ms", None, Some(48.1), Some(true)),
            th("error_rate < 1%", Some("login"), Some(0.1), Some(false)),
            th("rps > 10 over 30s", None, None, None),
        ];
        snap
    }

    /// The whole exposition text of a fixed snapshot, byte for byte.
    #[test]
    fn exposition_of_a_fixed_snapshot() {
        let mut snap = full_snapshot();
        insta::assert_snapshot!("exposition", render(&snap));
        // The families that come and go: no open count, no rate, no thresholds, and an
        // endpoint without a single latency (no quantiles, zero buckets).
        snap.connections_open_known = false;
        snap.rate = None;
        snap.thresholds.clear();
        snap.endpoints[1].hist = Arc::new(crate::metrics::new_histogram());
        insta::assert_snapshot!("exposition_sparse", render(&snap));
    }

    fn hist(values: &[u64]) -> hdrhistogram::Histogram<u64> {
        let mut h = crate::metrics::new_histogram();
        for v in values {
            h.record(*v).unwrap();
        }
        h
    }

    /// Phases, streamed responses and WebSocket sessions: their families appear for the
    /// endpoints that have them, and only then.
    #[test]
    fn exposition_of_phases_streams_and_websocket() {
        let mut snap = Snapshot::empty(
            "t",
            &[
                ("api".into(), "GET".into()),
                ("tokens".into(), "POST".into()),
                ("chat".into(), "GET".into()),
            ],
        );
        let plain = render(&snap);
        for family in ["volley_phase_", "volley_stream_", "volley_ws_"] {
            assert!(!plain.contains(family), "{family} without data:\n{plain}");
        }
        snap.endpoints[0].phases = Some(Arc::new(crate::metrics::PhaseHists {
            connect: hist(&[300]),
            send: hist(&[20, 30]),
            ttfb: hist(&[40_000, 52_000]),
            receive: hist(&[1_000, 3_000]),
            total: hist(&[41_300, 55_000]),
            ..Default::default()
        }));
        snap.endpoints[1].stream = Some(Arc::new(crate::metrics::StreamHists {
            responses: 2,
            events: 9,
            ttfb: hist(&[80_000, 120_000]),
            first_event: hist(&[81_000, 121_000]),
            gap: hist(&[10_000, 15_000, 20_000]),
            per_response: hist(&[4, 5]),
            duration: hist(&[300_000, 410_000]),
        }));
        let mut ws = crate::metrics::WsStats {
            sessions: 3,
            opened: 3,
            closed: 2,
            sent: 12,
            received: 11,
            bytes_sent: 480,
            bytes_received: 440,
            close_codes: vec![(1000, 2), (1011, 1)],
            ..Default::default()
        };
        ws.handshake = hist(&[900, 1_100, 1_300]);
        ws.expect = hist(&[2_000; 11]);
        ws.echo = hist(&[700, 800, 5_000]);
        ws.echo_counts = crate::metrics::EchoCounts {
            sent: 5,
            echoed: 3,
            timeouts: 1,
            lost: 1,
        };
        snap.endpoints[2].ws = Some(Arc::new(ws));
        let text = render(&snap);
        let ours: String = text
            .lines()
            .filter(|l| {
                ["volley_phase_", "volley_stream_", "volley_ws_"]
                    .iter()
                    .any(|f| l.contains(f))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        insta::assert_snapshot!("exposition_timings", ours);
    }

    #[test]
    fn retries_are_exported_and_an_unknown_open_count_is_not() {
        let mut snap = Snapshot::empty("t", &[("a".into(), "GET".into())]);
        snap.endpoints[0]
            .retries
            .insert("reset_before_response".into(), 7);
        snap.connections_open = 0;
        let text = render(&snap);
        assert!(
            text.contains(r#"volley_retries_total{endpoint="a",method="GET",reason="reset_before_response"} 7"#),
            "{text}"
        );
        assert!(text.contains("volley_connections_open "), "{text}");
        snap.connections_open_known = false;
        let text = render(&snap);
        assert!(!text.contains("volley_connections_open "), "{text}");
        assert!(text.contains("volley_connections_opened_total "), "{text}");
    }

    /// docs/reports.md documents every family with its type, and no other.
    #[test]
    fn every_family_is_documented_with_its_type() {
        let doc = include_str!("../../docs/reports.md");
        let mut documented = std::collections::BTreeMap::new();
        for row in doc.lines().filter(|l| l.starts_with("| `volley_")) {
            let cells: Vec<&str> = row.trim_start_matches("| ").split(" | ").collect();
            let types: Vec<&str> = cells[1].split(", ").collect();
            for (i, name) in cells[0].split(", ").enumerate() {
                let name = name.trim_matches('`').split('{').next().unwrap_or("");
                let kind = types.get(i).or(types.last()).copied().unwrap_or("");
                documented.insert(name.to_string(), kind.to_string());
            }
        }
        for f in FAMILIES {
            assert_eq!(
                documented.remove(f.name).as_deref(),
                Some(f.kind.as_str()),
                "{} in docs/reports.md",
                f.name
            );
        }
        assert!(documented.is_empty(), "not exported: {documented:?}");
    }
}
