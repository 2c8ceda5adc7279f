//! The result document: the single source every report is rendered from, and the
//! `--out json` format. Its keys are stable and documented in `docs/results.md`.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

pub use crate::latency::Latency;
use crate::metrics::{AbortCause, EndpointStats, ErrorSample, Event, Snapshot, TimelineRow};
use crate::scenario::Plan;
use crate::units;

/// Bumped when a key changes meaning or disappears (adding keys does not bump it).
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultDoc {
    pub schema_version: u32,
    pub volley_version: String,
    pub scenario: String,
    /// Scenario file, or "command line".
    pub source: String,
    pub target: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// Wall time from start to end, seconds.
    pub duration_s: f64,
    /// Time spent running (pauses excluded), seconds: the run clock starts when the first
    /// VU starts.
    pub run_time_s: f64,
    /// Start-up: milliseconds from the engine's start until every VU of the initial load
    /// had started (absent when it never was, or in documents from older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_ms: Option<f64>,
    /// True when the run was stopped or interrupted before its plan ended.
    pub partial: bool,
    /// Why requests in flight at the end were cut off (`second_stop` or
    /// `graceful_stop_timeout`); absent when none were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted_by: Option<AbortCause>,
    pub vus_max: u32,
    pub connections: Connections,
    pub totals: Stats,
    pub endpoints: Vec<Stats>,
    /// One row per second over all endpoints.
    pub timeline: Vec<Row>,
    pub events: Vec<Event>,
    /// The scenario that ran: its TOML source with secret values redacted, or for quick
    /// mode the equivalent command line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario_text: Option<String>,
    /// Command-line options that replaced the scenario's values: `--vus 50`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    /// Open model: iterations that were due but never started (no VU was free within 1 s,
    /// or by the end of the run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dropped_iterations: Option<u64>,
    /// Threshold results, in scenario order (absent when the scenario has none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<ThresholdResult>,
    /// Check results (absent when the scenario has none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckResult>,
    /// The run's grade, when one was computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grade: Option<Grade>,
    /// Self-watch: the load generator's own figures and whether it was the bottleneck.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<super::generator::Generator>,
    /// Target monitor: the target's resources a second (with `[monitor]` or `--monitor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor: Option<super::target::Monitor>,
    /// A fleet run (`--workers N`, `volley coordinator`): its workers, their start skew,
    /// the loss policy and the workers lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<FleetSummary>,
}

/// How a fleet ran: written by the coordinator into the merged document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetSummary {
    pub workers: u32,
    /// The spread of the workers' engine start times (all told to start at one `t0`),
    /// milliseconds; absent when not every worker started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_skew_ms: Option<f64>,
    /// `continue` or `abort`.
    pub on_worker_loss: String,
    /// The workers lost during the run, by index.
    #[serde(default)]
    pub lost: Vec<u32>,
    /// Each worker's own result document, by index (`volley merge` over them gives
    /// these totals), where a worker said.
    #[serde(default)]
    pub parts: Vec<String>,
}

/// One threshold and how the run fared against it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// A label for the threshold, e.g. `p95 < 500ms` or a name the scenario gave it.
    pub name: String,
    /// The metric it is on: `p95`, `error_rate`, `rps`, ...
    pub metric: String,
    /// The endpoint it applies to; `None` for all requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The condition as written, e.g. `p95 < 500ms`.
    pub expression: String,
    /// The metric's value at the end of the run (milliseconds for latencies, 0..1 for
    /// rates, per second for throughput); `null` (NaN) when there was nothing to measure.
    #[serde(deserialize_with = "nan_if_null")]
    pub value: f64,
    pub passed: bool,
}

/// One check (an assertion on responses) and how many responses passed or failed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    /// The endpoint whose responses it checks.
    #[serde(default)]
    pub endpoint: String,
    pub passes: u64,
    pub fails: u64,
}

/// A score for the whole run, with the parts it was computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grade {
    /// 0..100.
    pub score: f64,
    /// `A`, `B`, ... `F`.
    pub letter: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<GradePart>,
}

/// One component of a [`Grade`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradePart {
    pub name: String,
    /// 0..100.
    pub score: f64,
    /// Share of the total score (0..1), when the parts are weighted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// What the score is based on, e.g. `p95 212ms against a 500ms target`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connections {
    /// Connections still open when the run ended; `null` when unknown (the reqwest
    /// client's pool closes connections out of sight).
    pub open_at_end: Option<u64>,
    /// Connections opened over the run (reconnects included): TCP connections (with their
    /// TLS handshake, for https) that were established, on every client.
    pub opened: u64,
}

/// Attempts sent a second time (see `docs/results.md`): the first attempt went out on a
/// reused keep-alive connection that ended before any response. The server may have
/// read it: `requests + retries.total` attempts were put on the wire.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Retries {
    pub total: u64,
    /// `closed_before_response`, `reset_before_response`.
    #[serde(default)]
    pub by_reason: BTreeMap<String, u64>,
    /// Time spent in those first attempts, milliseconds (the requests' latency includes it).
    #[serde(default)]
    pub time_ms: f64,
}

/// Per-phase latency, milliseconds, each with the usual percentile keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhasesMs {
    /// Name resolution, over the requests that opened a connection to a host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<Latency>,
    /// TCP connect, over the requests that opened a connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<Latency>,
    /// TLS handshake, over the requests that opened an https connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Latency>,
    /// Writing the request, over the requests whose client sees the write end
    /// (HTTP/1.1); part of `ttfb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<Latency>,
    /// From starting to write the request to the first response byte (waiting).
    pub ttfb: Latency,
    /// From the first response byte to the last.
    pub receive: Latency,
    /// The same requests' whole latency (connect included, uncorrected).
    pub total: Latency,
    /// Each phase's histogram, encoded as `Stats.hdr` (absent for an empty phase), so
    /// that documents of several workers merge exactly.
    #[serde(default, skip_serializing_if = "PhaseHdr::is_empty")]
    pub hdr: PhaseHdr,
}

/// The encoded histograms behind [`PhasesMs`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PhaseHdr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttfb: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receive: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<String>,
}

impl PhaseHdr {
    fn is_empty(&self) -> bool {
        *self == PhaseHdr::default()
    }

    fn of(p: &crate::metrics::PhaseHists) -> PhaseHdr {
        let enc = |h: &Histogram<u64>| TimelineRow::encode_hist(h).map(|s| s.to_string());
        PhaseHdr {
            dns: enc(&p.dns),
            connect: enc(&p.connect),
            tls: enc(&p.tls),
            send: enc(&p.send),
            ttfb: enc(&p.ttfb),
            receive: enc(&p.receive),
            total: enc(&p.total),
        }
    }
}

impl PhasesMs {
    /// The phases' latency objects by name, in the order a request goes through them;
    /// the phases nothing measured are left out.
    pub fn named(&self) -> Vec<(&'static str, &Latency)> {
        [
            ("dns", self.dns.as_ref()),
            ("connect", self.connect.as_ref()),
            ("tls", self.tls.as_ref()),
            ("send", self.send.as_ref()),
            ("ttfb", Some(&self.ttfb)),
            ("receive", Some(&self.receive)),
            ("total", Some(&self.total)),
        ]
        .into_iter()
        .filter_map(|(n, l)| l.filter(|l| l.count > 0).map(|l| (n, l)))
        .collect()
    }

    /// Where an average request's time went, milliseconds per phase (`dns`, `connect`,
    /// `tls`, `ttfb`, `receive`): each phase's mean spread over all the timed requests
    /// (a connect that one request in ten made counts a tenth), so the parts add up to
    /// about the mean total. `send` is inside `ttfb` and not a part of its own.
    pub fn breakdown(&self) -> [(&'static str, f64); 5] {
        let n = self.total.count.max(1) as f64;
        let part = |l: Option<&Latency>| l.map_or(0.0, |l| l.mean * l.count as f64 / n);
        [
            ("dns", part(self.dns.as_ref())),
            ("connect", part(self.connect.as_ref())),
            ("tls", part(self.tls.as_ref())),
            ("ttfb", part(Some(&self.ttfb))),
            ("receive", part(Some(&self.receive))),
        ]
    }

    fn of(p: &crate::metrics::PhaseHists) -> Option<PhasesMs> {
        (!p.is_empty()).then(|| PhasesMs {
            dns: Latency::of_nonempty(&p.dns),
            connect: Latency::of_nonempty(&p.connect),
            tls: Latency::of_nonempty(&p.tls),
            send: Latency::of_nonempty(&p.send),
            ttfb: Latency::of(&p.ttfb),
            receive: Latency::of(&p.receive),
            total: Latency::of(&p.total),
            hdr: PhaseHdr::of(p),
        })
    }
}

/// Streamed responses (server-sent events, `stream = true`): counts, and times in
/// milliseconds with the usual percentile keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamDoc {
    /// Streamed responses, complete or not (a stalled stream counts what arrived).
    pub responses: u64,
    /// Events (or chunks) over all of them.
    pub events: u64,
    /// From starting to write the request to the first response byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttfb_ms: Option<Latency>,
    /// From starting to write the request to the first complete event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_event_ms: Option<Latency>,
    /// Between each event and the one before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap_ms: Option<Latency>,
    /// Events per response (counts, not milliseconds).
    pub events_per_response: Latency,
    /// From starting to write the request to the end of the stream.
    pub duration_ms: Latency,
}

impl StreamDoc {
    fn of(s: &crate::metrics::StreamHists) -> Option<StreamDoc> {
        let some = |h: &hdrhistogram::Histogram<u64>| (!h.is_empty()).then(|| latency_of(h));
        let per = &s.per_response;
        (!s.is_empty()).then(|| StreamDoc {
            responses: s.responses,
            events: s.events,
            ttfb_ms: some(&s.ttfb),
            first_event_ms: some(&s.first_event),
            gap_ms: some(&s.gap),
            events_per_response: Latency {
                min: per.min() as f64,
                mean: round3(per.mean()),
                p50: per.value_at_quantile(0.50) as f64,
                p90: per.value_at_quantile(0.90) as f64,
                p95: per.value_at_quantile(0.95) as f64,
                p99: per.value_at_quantile(0.99) as f64,
                p999: per.value_at_quantile(0.999) as f64,
                p9999: per.value_at_quantile(0.9999) as f64,
                max: per.max() as f64,
                stdev: round3(per.stdev()),
                count: per.len(),
            },
            duration_ms: latency_of(&s.duration),
        })
    }
}

/// WebSocket sessions of an endpoint (a request with a `ws` script; each session is
/// one of its `requests`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WsDoc {
    pub sessions: u64,
    pub connections_opened: u64,
    /// Sessions whose closing handshake completed (either side started it).
    pub connections_closed: u64,
    pub messages_sent: u64,
    pub messages_received: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// The close codes the server sent: code -> sessions.
    pub close_codes: BTreeMap<String, u64>,
    /// From starting to connect to the 101 answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handshake_ms: Option<Latency>,
    /// Each matched `expect` step: from the last send before it to the match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_ms: Option<Latency>,
    /// `echo` steps: each message sent is echoed, timed out or lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo: Option<EchoDoc>,
    /// Each echo matched in time: from when its message was due to the echo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo_ms: Option<Latency>,
}

/// The messages of a WebSocket endpoint's `echo` steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EchoDoc {
    pub sent: u64,
    /// Echoes back within the step's `within`.
    pub echoed: u64,
    /// Messages whose echo did not come within `within` of when they were due.
    pub timeouts: u64,
    /// Messages still waiting for their echo when the session stopped waiting (the run
    /// stopped, the socket closed or failed).
    pub lost: u64,
}

impl WsDoc {
    fn of(w: &crate::metrics::WsStats) -> Option<WsDoc> {
        let some = |h: &hdrhistogram::Histogram<u64>| (!h.is_empty()).then(|| latency_of(h));
        (!w.is_empty()).then(|| WsDoc {
            sessions: w.sessions,
            connections_opened: w.opened,
            connections_closed: w.closed,
            messages_sent: w.sent,
            messages_received: w.received,
            bytes_sent: w.bytes_sent,
            bytes_received: w.bytes_received,
            close_codes: w
                .close_codes
                .iter()
                .map(|(c, n)| (c.to_string(), *n))
                .collect(),
            handshake_ms: some(&w.handshake),
            expect_ms: some(&w.expect),
            echo: (w.echo_counts.sent > 0).then_some(EchoDoc {
                sent: w.echo_counts.sent,
                echoed: w.echo_counts.echoed,
                timeouts: w.echo_counts.timeouts,
                lost: w.echo_counts.lost,
            }),
            echo_ms: some(&w.echo),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub method: String,
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    /// errors / requests, 0..1.
    pub error_rate: f64,
    /// requests / duration_s.
    pub rps: f64,
    pub bytes_received: u64,
    pub latency_ms: Latency,
    /// Open model: latency from the actual send, without the wait for a free VU
    /// (`latency_ms` is corrected for coordinated omission).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms_uncorrected: Option<Latency>,
    /// Phase timings of the requests whose client measures them (h1); absent when none
    /// did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phases_ms: Option<PhasesMs>,
    /// Streamed responses; absent when there were none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamDoc>,
    /// WebSocket sessions; absent when there were none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ws: Option<WsDoc>,
    /// Steps not sent because a variable they need was not captured.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skipped: u64,
    /// Requests sent but cut off at the end of the run (see `ResultDoc::aborted_by`):
    /// not in `requests`, `errors` or `error_rate`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub aborted: u64,
    pub status: BTreeMap<String, u64>,
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Attempts sent again (absent in documents from before it existed: read as none).
    #[serde(default)]
    pub retries: Retries,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent_errors: Vec<ErrorSample>,
    /// Per-second rows of this endpoint (absent on the totals: see `timeline`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<Row>,
    /// The whole run's latency histogram (microseconds): base64 of its V2-deflate
    /// serialization, as in HdrHistogram logs. Absent when nothing was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hdr: Option<String>,
    /// Open model: the histogram of `latency_ms_uncorrected`, encoded as `hdr` (so that
    /// documents of several workers merge exactly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hdr_uncorrected: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Seconds since the start of the run.
    pub t: u64,
    /// Width of the row in seconds (1 unless a very long run was downsampled).
    #[serde(default = "one")]
    pub dt: u64,
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    pub rps: f64,
    pub bytes: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub vus: u32,
    /// The interval's latency histogram (microseconds), encoded as `Stats.hdr`; absent
    /// when the interval recorded no latency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hdr: Option<String>,
}

fn one() -> u64 {
    1
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl From<&TimelineRow> for Row {
    fn from(r: &TimelineRow) -> Row {
        Row {
            t: r.t,
            dt: r.dt,
            requests: r.requests,
            ok: r.ok,
            errors: r.errors,
            rps: r.rps(),
            bytes: r.bytes,
            p50_ms: ms(r.p50_us),
            p90_ms: ms(r.p90_us),
            p95_ms: ms(r.p95_us),
            p99_ms: ms(r.p99_us),
            max_ms: ms(r.max_us),
            vus: r.vus,
            hdr: r.hdr.as_deref().map(str::to_string),
        }
    }
}

/// JSON has no NaN: serde_json writes it as `null`; read `null` back as NaN.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

pub fn latency(ep: &EndpointStats) -> Latency {
    Latency::of(&ep.hist)
}

/// The summary of a histogram: [`Latency::of`].
pub fn latency_of(h: &Histogram<u64>) -> Latency {
    Latency::of(h)
}

fn stats(ep: &EndpointStats, secs: f64, with_timeline: bool) -> Stats {
    Stats {
        name: ep.name.clone(),
        method: ep.method.clone(),
        requests: ep.requests,
        ok: ep.ok,
        errors: ep.errors,
        error_rate: ep.error_rate(),
        rps: if secs > 0.0 {
            ep.requests as f64 / secs
        } else {
            0.0
        },
        bytes_received: ep.bytes,
        latency_ms: latency(ep),
        latency_ms_uncorrected: ep.hist_raw.as_deref().map(Latency::of),
        phases_ms: ep.phases.as_deref().and_then(PhasesMs::of),
        stream: ep.stream.as_deref().and_then(StreamDoc::of),
        ws: ep.ws.as_deref().and_then(WsDoc::of),
        skipped: ep.skipped,
        aborted: ep.aborted,
        status: ep.status.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        errors_by_kind: ep.errors_by_kind.clone(),
        retries: Retries {
            total: ep.retries_total(),
            by_reason: ep.retries.clone(),
            time_ms: round3(ms(ep.retry_us)),
        },
        recent_errors: ep.recent_errors.iter().cloned().collect(),
        timeline: if with_timeline {
            ep.timeline.iter().map(Row::from).collect()
        } else {
            Vec::new()
        },
        hdr: TimelineRow::encode_hist(&ep.hist).map(|s| s.to_string()),
        hdr_uncorrected: ep
            .hist_raw
            .as_deref()
            .and_then(TimelineRow::encode_hist)
            .map(|s| s.to_string()),
    }
}

impl Stats {
    /// Share of attempts a server dropped unanswered on a reused connection:
    /// retries / (requests + retries), 0..1.
    pub fn dropped_share(&self) -> f64 {
        let attempts = self.requests + self.retries.total;
        if attempts == 0 {
            0.0
        } else {
            self.retries.total as f64 / attempts as f64
        }
    }

    /// The whole run's latency histogram, decoded (`None` without one).
    pub fn histogram(&self) -> Option<Histogram<u64>> {
        self.hdr.as_deref().and_then(TimelineRow::decode_hist)
    }
}

impl Row {
    /// The interval's latency histogram, decoded (`None` without one).
    pub fn histogram(&self) -> Option<Histogram<u64>> {
        self.hdr.as_deref().and_then(TimelineRow::decode_hist)
    }
}

/// What the document needs beyond the snapshot.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    pub source: String,
    pub target: String,
    /// The scenario's text (already redacted: see [`RunInfo::of`]).
    pub scenario_text: Option<String>,
    /// Check names by id: (endpoint name, check name).
    pub checks: Vec<(String, String)>,
    /// What the grade is measured against (from whole-run thresholds, or defaults).
    pub grade_targets: crate::grade::Targets,
    /// Command-line options that replaced the scenario's values.
    pub overrides: Vec<String>,
}

impl RunInfo {
    /// Source, target and the scenario's text (secret values redacted; for quick mode,
    /// the equivalent command line) of a plan.
    pub fn of(plan: &Plan) -> RunInfo {
        RunInfo {
            source: plan.source.clone(),
            target: plan.base_url.to_string(),
            scenario_text: super::scenario_text::of_plan(plan),
            overrides: plan.overrides.clone(),
            checks: plan
                .checks
                .iter()
                .map(|(ep, name)| (plan.endpoints[*ep].name.clone(), name.clone()))
                .collect(),
            grade_targets: crate::grade::targets_from(
                &plan
                    .thresholds
                    .iter()
                    .filter(|t| t.endpoint.is_none() && t.threshold.window.is_none())
                    .map(|t| t.threshold.clone())
                    .collect::<Vec<_>>(),
            ),
        }
    }
}

impl ResultDoc {
    pub fn from_snapshot(s: &Snapshot, info: &RunInfo) -> ResultDoc {
        let secs = s.elapsed.as_secs_f64();
        let started: chrono_free::Rfc3339 = s.started_at.into();
        ResultDoc {
            schema_version: SCHEMA_VERSION,
            volley_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario: s.scenario.clone(),
            source: info.source.clone(),
            target: info.target.clone(),
            started_at: started.0,
            duration_s: round3(secs),
            run_time_s: round3(s.run_time.as_secs_f64()),
            startup_ms: s.startup.map(|d| round3(d.as_secs_f64() * 1000.0)),
            partial: s.partial,
            aborted_by: s.aborted_by.filter(|_| s.total.aborted > 0),
            vus_max: s
                .total
                .timeline
                .iter()
                .map(|r| r.vus)
                .max()
                .unwrap_or(0)
                .max(s.vus_target),
            connections: Connections {
                open_at_end: s.connections_open_known.then_some(s.connections_open),
                opened: s.connections_opened,
            },
            totals: stats(&s.total, secs, false),
            endpoints: s.endpoints.iter().map(|e| stats(e, secs, true)).collect(),
            timeline: s.total.timeline.iter().map(Row::from).collect(),
            events: s.events.iter().cloned().collect(),
            scenario_text: info.scenario_text.clone(),
            overrides: info.overrides.clone(),
            dropped_iterations: s.rate.is_some().then_some(s.dropped),
            thresholds: s
                .thresholds
                .iter()
                .map(|t| ThresholdResult {
                    name: match &t.endpoint {
                        Some(e) => format!("{} ({e})", t.text),
                        None => t.text.clone(),
                    },
                    metric: crate::thresholds::parse(&t.text).map_or_else(
                        |_| t.text.split_whitespace().next().unwrap_or("").to_string(),
                        |th| th.label(),
                    ),
                    endpoint: t.endpoint.clone(),
                    expression: t.text.clone(),
                    value: t.value.unwrap_or(f64::NAN),
                    // Nothing to judge (no requests) is not a failure.
                    passed: t.passed.unwrap_or(true),
                })
                .collect(),
            checks: info
                .checks
                .iter()
                .enumerate()
                .map(|(id, (endpoint, name))| {
                    let (passes, fails) = s
                        .endpoints
                        .iter()
                        .find(|e| &e.name == endpoint)
                        .and_then(|e| e.checks.get(&id).copied())
                        .unwrap_or((0, 0));
                    CheckResult {
                        name: name.clone(),
                        endpoint: endpoint.clone(),
                        passes,
                        fails,
                    }
                })
                .collect(),
            grade: (s.total.requests > 0).then(|| grade_of(s, secs, &info.grade_targets)),
            generator: super::generator::Generator::of(&s.generator),
            monitor: s.target.as_deref().map(super::target::Monitor::of),
            fleet: None,
        }
    }

    /// `4 requests cut off when the run was stopped a second time (not counted as
    /// errors)`, when requests were cut off at the end.
    pub fn aborted_note(&self) -> Option<String> {
        (self.totals.aborted > 0).then(|| {
            format!(
                "{} {} (not counted as errors)",
                units::plural(self.totals.aborted, "request", "requests"),
                self.aborted_by
                    .map_or("cut off at the end of the run", |c| c.describe())
            )
        })
    }

    /// True when any threshold failed.
    pub fn thresholds_failed(&self) -> bool {
        self.thresholds.iter().any(|t| !t.passed)
    }

    /// True when requests were sent and not one got a response (every one refused,
    /// reset or timed out; an HTTP error status is a response).
    pub fn no_response(&self) -> bool {
        self.totals.requests > 0 && self.totals.status.values().sum::<u64>() == 0
    }
}

fn grade_of(s: &Snapshot, secs: f64, targets: &crate::grade::Targets) -> Grade {
    let l = latency(&s.total);
    // Throughput counts successful requests only: a fast stream of failures is no
    // throughput. With no response at all there is no latency to score either.
    let rps = if secs > 0.0 {
        s.total.ok as f64 / secs
    } else {
        0.0
    };
    // Attempts a server dropped unanswered (retries) count against it as errors do: a
    // server that drops requests must not grade as healthy because they were sent again.
    let retries = s.total.retries_total();
    let attempts = s.total.requests + retries;
    let failed_share = if attempts == 0 {
        0.0
    } else {
        (s.total.errors + retries) as f64 / attempts as f64
    };
    let g = crate::grade::grade_run(s.total.ok, l.p95, l.p99, failed_share, rps, targets);
    let part = |name: &str, points: f64, max: f64, detail: String| GradePart {
        name: name.to_string(),
        score: (points / max * 1000.0).round() / 10.0,
        weight: Some(max / 100.0),
        detail,
    };
    let mut graded = Grade {
        score: g.score,
        letter: g.letter.clone(),
        parts: vec![
            part(
                "latency",
                g.latency,
                crate::grade::LATENCY_POINTS,
                format!(
                    "p95 {} against a {} target",
                    units::ms(l.p95),
                    // A target is what the user wrote: `500ms`, not `500.0ms`.
                    units::ms_setting(targets.p95_ms)
                ),
            ),
            part(
                "errors",
                g.errors,
                crate::grade::ERROR_POINTS,
                if retries == 0 {
                    format!(
                        "error rate {} against a {} target",
                        units::percent(s.total.error_rate()),
                        units::percent_short(targets.error_rate)
                    )
                } else {
                    format!(
                        "errors and dropped attempts {} against a {} target",
                        units::percent(failed_share),
                        units::percent_short(targets.error_rate)
                    )
                },
            ),
            part(
                "throughput",
                g.throughput,
                crate::grade::THROUGHPUT_POINTS,
                match targets.rps {
                    Some(t) => format!(
                        "{} successful rps against a {} rps target",
                        units::rate(rps),
                        units::number(t, 0)
                    ),
                    None => format!(
                        "{} successful rps (no target: full points)",
                        units::rate(rps)
                    ),
                },
            ),
            part(
                "consistency",
                g.consistency,
                crate::grade::CONSISTENCY_POINTS,
                format!(
                    "p99/p95 = {:.2} (full points below 2)",
                    if l.p95 > 0.0 { l.p99 / l.p95 } else { 0.0 }
                ),
            ),
        ],
    };
    if s.total.ok == 0 {
        // Nothing answered: the parts scored 0 have no value to show either.
        for p in graded.parts.iter_mut().filter(|p| p.name != "errors") {
            p.detail = "no successful response: no points".into();
        }
    }
    graded
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// RFC 3339 formatting without a date crate.
mod chrono_free {
    pub struct Rfc3339(pub String);

    impl From<std::time::SystemTime> for Rfc3339 {
        fn from(t: std::time::SystemTime) -> Self {
            Rfc3339(humantime::format_rfc3339_millis(t).to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::new_histogram;

    #[test]
    fn a_mean_threshold_judges_the_mean_the_report_shows() {
        // Latencies of 1000us and 1001us: the mean is 1000.5us, which the report shows
        // rounded to whole microseconds (1.001ms). The threshold must judge that same
        // number: unrounded (1.0005ms) `mean < 1.001ms` passed while the report showed
        // a mean of 1.001ms.
        let mut s = Snapshot::empty("t", &[]);
        let mut h = new_histogram();
        h.record(1000).unwrap();
        h.record(1001).unwrap();
        s.total.hist = std::sync::Arc::new(h);
        s.total.requests = 2;
        s.total.ok = 2;
        let spec = crate::thresholds::ThresholdSpec {
            threshold: crate::thresholds::parse("mean < 1.001ms").unwrap(),
            endpoint: None,
            abort_on_fail: false,
            abort_grace: std::time::Duration::ZERO,
        };
        let status =
            crate::metrics::verdict::evaluate(&spec, &s.total, None, 1.0, 0, &Default::default());
        s.thresholds = vec![status];
        let doc = ResultDoc::from_snapshot(&s, &RunInfo::default());
        assert_eq!(doc.totals.latency_ms.mean, 1.001);
        assert_eq!(doc.thresholds[0].value, doc.totals.latency_ms.mean);
        assert!(!doc.thresholds[0].passed, "1.001ms is not < 1.001ms");
    }

    #[test]
    fn grade_details_read_like_the_tables() {
        let mut s = Snapshot::empty("t", &[]);
        let mut h = new_histogram();
        h.record(7_151_600).unwrap();
        s.total.hist = std::sync::Arc::new(h);
        s.total.requests = 130_951;
        s.total.ok = 130_951;
        let g = grade_of(&s, 1.0, &crate::grade::Targets::default());
        let detail = |name: &str| {
            let p = g.parts.iter().find(|p| p.name == name).unwrap();
            p.detail.clone()
        };
        // It said `p95 7151.6ms against a 500ms target` where the table said 7.15s.
        let p95 = crate::units::ms(latency(&s.total).p95);
        assert_eq!(p95, "7.15s");
        assert_eq!(
            detail("latency"),
            format!("p95 {p95} against a 500ms target")
        );
        assert_eq!(
            detail("throughput"),
            "130,951 successful rps (no target: full points)"
        );
        assert_eq!(detail("errors"), "error rate 0.00% against a 1% target");
    }
}
