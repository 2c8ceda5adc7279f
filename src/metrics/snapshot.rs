//! The immutable picture of a run that the aggregator publishes a few times a second.
//! Snapshots merge (histograms add, counts add) so several engines can feed one console.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::recorder::new_histogram;
use crate::state::{AbortCause, ControlSnapshot, Event, RunState, SpikeView, StageStatus};

/// An error message seen at a moment of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorSample {
    /// Seconds since the start.
    pub t: f64,
    /// `timeout`, `http_503`, ...
    pub kind: String,
    pub message: String,
}

/// Most recent error messages kept per endpoint.
pub const RECENT_ERRORS: usize = 20;

/// One second (or, after downsampling, `dt` seconds) of one endpoint or the total.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TimelineRow {
    /// Start of the interval, seconds since the run started (wall clock, pauses included).
    pub t: u64,
    /// Width in seconds: 1 unless the run was long enough to be downsampled.
    pub dt: u64,
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    pub bytes: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p95_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// Active VUs at the end of the interval.
    pub vus: u32,
    /// The interval's latency histogram: base64 of its V2-deflate serialization (the
    /// encoding of HdrHistogram interval logs). `None` when nothing was recorded, or when
    /// the row came from a source without one (then the percentiles are upper bounds).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "arc_str")]
    pub hdr: Option<Arc<str>>,
}

impl TimelineRow {
    pub fn from_hist(t: u64, h: &Histogram<u64>) -> Self {
        let q = |x: f64| {
            if h.is_empty() {
                0
            } else {
                h.value_at_quantile(x)
            }
        };
        TimelineRow {
            t,
            dt: 1,
            p50_us: q(0.50),
            p90_us: q(0.90),
            p95_us: q(0.95),
            p99_us: q(0.99),
            max_us: if h.is_empty() { 0 } else { h.max() },
            ..Default::default()
        }
    }

    /// A row with its percentiles and encoded histogram taken from `h`.
    pub fn with_hist(t: u64, h: &Histogram<u64>) -> Self {
        TimelineRow {
            hdr: Self::encode_hist(h),
            ..Self::from_hist(t, h)
        }
    }

    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.dt.max(1) as f64
    }

    /// Base64 of the V2-deflate serialization of `h`; `None` for an empty histogram.
    pub fn encode_hist(h: &Histogram<u64>) -> Option<Arc<str>> {
        use base64::Engine as _;
        use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};
        if h.is_empty() {
            return None;
        }
        let mut buf = Vec::new();
        V2DeflateSerializer::new().serialize(h, &mut buf).ok()?;
        Some(base64::engine::general_purpose::STANDARD.encode(buf).into())
    }

    /// Decodes what [`TimelineRow::encode_hist`] made (or an HdrHistogram log's
    /// histogram field); `None` if it is not a valid encoded histogram.
    pub fn decode_hist(s: &str) -> Option<Histogram<u64>> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s.trim())
            .ok()?;
        let mut h: Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
            .deserialize(&mut &bytes[..])
            .ok()?;
        h.auto(true);
        Some(h)
    }

    /// The interval's histogram: `Some(empty)` when the row recorded no latency, `None`
    /// when it has latencies but no (valid) encoded histogram.
    pub fn histogram(&self) -> Option<Histogram<u64>> {
        match &self.hdr {
            Some(s) => Self::decode_hist(s),
            None if self.max_us == 0 => Some(new_histogram()),
            None => None,
        }
    }

    /// Folds `other` (a later or parallel interval) in. Counts add; when both rows carry
    /// their histograms, the histograms add and the percentiles are those of the combined
    /// interval; otherwise the larger value of each is kept (an upper bound: it never
    /// hides a slow interval).
    pub fn absorb(&mut self, other: &TimelineRow, same_interval: bool) {
        if !same_interval {
            self.dt = (other.t + other.dt).saturating_sub(self.t);
            self.vus = other.vus;
        } else {
            self.vus += other.vus;
        }
        self.requests += other.requests;
        self.ok += other.ok;
        self.errors += other.errors;
        self.bytes += other.bytes;
        let no_latency = |r: &TimelineRow| r.hdr.is_none() && r.max_us == 0;
        if no_latency(other) {
            return;
        }
        if no_latency(self) {
            self.hdr = other.hdr.clone();
            self.set_percentiles(other);
            return;
        }
        let combined = match (self.histogram(), other.histogram()) {
            (Some(mut a), Some(b)) => a.add(&b).ok().map(|_| a),
            _ => None,
        };
        match combined {
            Some(h) => {
                self.set_percentiles(&Self::from_hist(self.t, &h));
                self.hdr = Self::encode_hist(&h);
            }
            None => {
                self.hdr = None;
                self.p50_us = self.p50_us.max(other.p50_us);
                self.p90_us = self.p90_us.max(other.p90_us);
                self.p95_us = self.p95_us.max(other.p95_us);
                self.p99_us = self.p99_us.max(other.p99_us);
                self.max_us = self.max_us.max(other.max_us);
            }
        }
    }

    fn set_percentiles(&mut self, from: &TimelineRow) {
        self.p50_us = from.p50_us;
        self.p90_us = from.p90_us;
        self.p95_us = from.p95_us;
        self.p99_us = from.p99_us;
        self.max_us = from.max_us;
    }
}

/// Serde for `Option<Arc<str>>` without serde's `rc` feature.
mod arc_str {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Arc<str>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(x) => s.serialize_some(&**x),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Arc<str>>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.map(Arc::from))
    }
}

/// Most rows a timeline keeps; past that, neighbours are merged (resolution halves).
pub const MAX_TIMELINE_ROWS: usize = 4 * 3600;

/// Appends a row, halving the resolution of the whole series when it grows too long.
pub fn push_row(rows: &mut Vec<TimelineRow>, row: TimelineRow) {
    rows.push(row);
    if rows.len() > MAX_TIMELINE_ROWS {
        let merged: Vec<TimelineRow> = rows
            .chunks(2)
            .map(|pair| {
                let mut r = pair[0].clone();
                if let Some(b) = pair.get(1) {
                    r.absorb(b, false);
                }
                r
            })
            .collect();
        *rows = merged;
    }
}

/// Cumulative figures for one endpoint (or the total).
#[derive(Debug, Clone)]
pub struct EndpointStats {
    pub name: String,
    pub method: String,
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    /// Requests cut off at the end of the run (not in `requests`, not errors).
    pub aborted: u64,
    pub bytes: u64,
    pub status: BTreeMap<u16, u64>,
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Attempts sent again after a reused connection ended before any response, by
    /// reason (`closed_before_response`, ...): `requests + retries` attempts went out.
    pub retries: BTreeMap<String, u64>,
    /// Microseconds spent in those first attempts (their requests' latency includes it).
    pub retry_us: u64,
    /// Latency of every request that got a response (or timed out), microseconds; in the
    /// open model measured from when the iteration was scheduled (corrected).
    pub hist: Arc<Histogram<u64>>,
    /// Open model: latency measured from the actual send (uncorrected).
    pub hist_raw: Option<Arc<Histogram<u64>>>,
    /// Phase timings (connect, TLS, time to first byte, receiving, total) of the
    /// requests whose client measures them.
    pub phases: Option<Arc<super::PhaseHists>>,
    /// Streamed responses (server-sent events, chunked streams).
    pub stream: Option<Arc<super::StreamHists>>,
    /// WebSocket sessions.
    pub ws: Option<Arc<super::WsStats>>,
    /// Steps not sent because a variable they need was not captured.
    pub skipped: u64,
    /// Check id -> (passes, fails).
    pub checks: BTreeMap<usize, (u64, u64)>,
    /// Requests per second over the last second.
    pub rps_now: f64,
    /// Errors per second over the last second.
    pub errors_now: f64,
    pub recent_errors: Arc<VecDeque<ErrorSample>>,
    /// Completed seconds of this endpoint: all of them in a run's final snapshot; in live
    /// snapshots the total's last [`LIVE_ROWS`](super::aggregator::LIVE_ROWS) seconds and
    /// nothing for endpoints.
    pub timeline: Arc<Vec<TimelineRow>>,
}

impl EndpointStats {
    pub fn new(name: impl Into<String>, method: impl Into<String>) -> Self {
        EndpointStats {
            name: name.into(),
            method: method.into(),
            requests: 0,
            ok: 0,
            errors: 0,
            aborted: 0,
            bytes: 0,
            status: BTreeMap::new(),
            errors_by_kind: BTreeMap::new(),
            retries: BTreeMap::new(),
            retry_us: 0,
            hist: Arc::new(new_histogram()),
            hist_raw: None,
            phases: None,
            stream: None,
            ws: None,
            skipped: 0,
            checks: BTreeMap::new(),
            rps_now: 0.0,
            errors_now: 0.0,
            recent_errors: Arc::new(VecDeque::new()),
            timeline: Arc::new(Vec::new()),
        }
    }

    /// Attempts sent a second time, all reasons together.
    pub fn retries_total(&self) -> u64 {
        self.retries.values().sum()
    }

    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }

    /// Latency at quantile `q` in microseconds; `None` when nothing was recorded.
    pub fn quantile_opt_us(&self, q: f64) -> Option<u64> {
        (!self.hist.is_empty()).then(|| self.hist.value_at_quantile(q))
    }

    /// Latency at quantile `q` in microseconds (0 when nothing was recorded).
    pub fn quantile_us(&self, q: f64) -> u64 {
        if self.hist.is_empty() {
            0
        } else {
            self.hist.value_at_quantile(q)
        }
    }

    pub fn merge(&mut self, o: &EndpointStats) {
        self.requests += o.requests;
        self.ok += o.ok;
        self.errors += o.errors;
        self.aborted += o.aborted;
        self.bytes += o.bytes;
        for (k, v) in &o.status {
            *self.status.entry(*k).or_default() += v;
        }
        for (k, v) in &o.errors_by_kind {
            *self.errors_by_kind.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.retries {
            *self.retries.entry(k.clone()).or_default() += v;
        }
        self.retry_us += o.retry_us;
        Arc::make_mut(&mut self.hist)
            .add(&*o.hist)
            .expect("auto-resizing histograms always add");
        if let Some(raw) = &o.hist_raw {
            let mine = self
                .hist_raw
                .get_or_insert_with(|| Arc::new(new_histogram()));
            Arc::make_mut(mine)
                .add(&**raw)
                .expect("auto-resizing histograms always add");
        }
        if let Some(p) = &o.phases {
            Arc::make_mut(self.phases.get_or_insert_with(Default::default)).add(p);
        }
        if let Some(s) = &o.stream {
            Arc::make_mut(self.stream.get_or_insert_with(Default::default)).add(s);
        }
        if let Some(s) = &o.ws {
            Arc::make_mut(self.ws.get_or_insert_with(Default::default)).add(s);
        }
        self.skipped += o.skipped;
        for (id, (p, f)) in &o.checks {
            let e = self.checks.entry(*id).or_default();
            e.0 += p;
            e.1 += f;
        }
        self.rps_now += o.rps_now;
        self.errors_now += o.errors_now;
        let recent = Arc::make_mut(&mut self.recent_errors);
        recent.extend(o.recent_errors.iter().cloned());
        recent.make_contiguous().sort_by(|a, b| a.t.total_cmp(&b.t));
        while recent.len() > RECENT_ERRORS {
            recent.pop_front();
        }
        self.timeline = Arc::new(merge_timelines(&self.timeline, &o.timeline));
    }
}

/// Adds two timelines row by row on their start times.
pub fn merge_timelines(a: &[TimelineRow], b: &[TimelineRow]) -> Vec<TimelineRow> {
    let mut out: BTreeMap<u64, TimelineRow> = a.iter().map(|r| (r.t, r.clone())).collect();
    for r in b {
        out.entry(r.t)
            .and_modify(|x| x.absorb(r, true))
            .or_insert_with(|| r.clone());
    }
    out.into_values().collect()
}

/// Everything the console and reports need about a run at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub scenario: String,
    pub started_at: SystemTime,
    /// Wall time since the start.
    pub elapsed: Duration,
    /// Time spent running (pauses excluded): the clock the planned duration counts on.
    pub run_time: Duration,
    /// The planned run time, when the run has one.
    pub planned: Option<Duration>,
    /// Wall time from the engine's start until the initial load was up (every VU of it
    /// started); the run clock starts with the first VU.
    pub startup: Option<Duration>,
    pub state: RunState,
    pub vus_active: u32,
    pub vus_target: u32,
    pub in_flight: u64,
    pub connections_open: u64,
    /// False when `connections_open` misses some (the reqwest client's): unknown.
    pub connections_open_known: bool,
    pub connections_opened: u64,
    pub endpoints: Vec<EndpointStats>,
    pub total: EndpointStats,
    pub events: Arc<Vec<Event>>,
    /// The spike in progress, if any.
    pub spike: Option<SpikeView>,
    /// Open model: the arrival rate now (iterations/s); None in the closed model.
    pub rate: Option<f64>,
    /// Open model: iterations due and never started (no VU was free within 1 s, or by the
    /// end of the run).
    pub dropped: u64,
    /// Iterations completed so far.
    pub iterations_done: u64,
    /// The run's iteration limit (`-n`), when it has one.
    pub iteration_limit: Option<u64>,
    /// Staged runs: the stage in progress and the next one.
    pub stage: Option<StageStatus>,
    /// Every threshold's state now.
    pub thresholds: Vec<super::verdict::ThresholdStatus>,
    /// True when the run was cut short (stopped or interrupted before its plan ended).
    pub partial: bool,
    /// Why the run was aborted, when it was (a threshold, a panicking VU).
    pub abort: Option<String>,
    /// Why requests in flight at the end were cut off, when some were.
    pub aborted_by: Option<AbortCause>,
    /// Self-watch: the generator's own figures and verdict.
    pub generator: super::generator::SharedSeries,
    /// Target monitor: the target's resources (absent without a monitor).
    pub target: Option<std::sync::Arc<super::TargetSeries>>,
    /// A fleet's coordinator: its workers now (absent in a single process).
    pub workers: Option<Arc<Vec<WorkerRow>>>,
}

/// A fleet worker's state, as its coordinator sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerState {
    /// Admitted; its engine is being set up.
    Registered,
    /// Set up, waiting for the start.
    Ready,
    Running,
    /// Its part of the run is over and its results are in.
    Finished,
    /// Its connection failed or it stopped sending heartbeats.
    Lost,
}

/// One worker of a fleet, for the console's workers panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerRow {
    pub index: u32,
    pub state: WorkerState,
    pub host: String,
    pub vus: u32,
    /// Requests per second over its last second.
    pub rps: f64,
    /// Errors over requests, its whole run.
    pub error_rate: f64,
    /// Its process's CPU, % of one core.
    pub cpu_percent: f64,
    /// Seconds since the coordinator last heard from it.
    pub heartbeat_age_s: f64,
    /// Its wall clock minus the coordinator's (one-way delay included), milliseconds.
    pub clock_offset_ms: f64,
}

impl Snapshot {
    pub fn empty(scenario: &str, endpoints: &[(String, String)]) -> Self {
        Snapshot {
            scenario: scenario.to_string(),
            started_at: SystemTime::now(),
            elapsed: Duration::ZERO,
            run_time: Duration::ZERO,
            planned: None,
            startup: None,
            state: RunState::Running,
            vus_active: 0,
            vus_target: 0,
            in_flight: 0,
            connections_open: 0,
            connections_open_known: true,
            connections_opened: 0,
            endpoints: endpoints
                .iter()
                .map(|(n, m)| EndpointStats::new(n.clone(), m.clone()))
                .collect(),
            total: EndpointStats::new("total", ""),
            events: Arc::new(Vec::new()),
            spike: None,
            rate: None,
            dropped: 0,
            stage: None,
            thresholds: Vec::new(),
            partial: false,
            abort: None,
            aborted_by: None,
            iterations_done: 0,
            iteration_limit: None,
            generator: Default::default(),
            target: None,
            workers: None,
        }
    }

    /// The control state it carries, as the control API sends it.
    pub fn control(&self) -> ControlSnapshot {
        ControlSnapshot {
            state: self.state,
            run_time: self.run_time,
            planned: self.planned,
            iteration_limit: self.iteration_limit,
            spike: self.spike.clone(),
            stage: self.stage,
            rate: self.rate,
            partial: self.partial,
            abort: self.abort.clone(),
            aborted_by: self.aborted_by,
            events: self.events.to_vec(),
        }
    }

    /// Wall-clock throughput over the whole run.
    pub fn rps_overall(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s <= 0.0 {
            0.0
        } else {
            self.total.requests as f64 / s
        }
    }

    /// Folds another engine's snapshot into this one: endpoints matched by name.
    pub fn merge(&mut self, o: &Snapshot) {
        for ep in &o.endpoints {
            match self.endpoints.iter_mut().find(|e| e.name == ep.name) {
                Some(mine) => mine.merge(ep),
                None => self.endpoints.push(ep.clone()),
            }
        }
        self.total.merge(&o.total);
        self.elapsed = self.elapsed.max(o.elapsed);
        self.run_time = self.run_time.max(o.run_time);
        self.startup = self.startup.max(o.startup);
        self.started_at = self.started_at.min(o.started_at);
        self.vus_active += o.vus_active;
        self.vus_target += o.vus_target;
        self.in_flight += o.in_flight;
        self.connections_open += o.connections_open;
        self.connections_open_known &= o.connections_open_known;
        self.connections_opened += o.connections_opened;
        self.dropped += o.dropped;
        self.iterations_done += o.iterations_done;
        if let Some(n) = o.iteration_limit {
            self.iteration_limit = Some(self.iteration_limit.unwrap_or(0) + n);
        }
        if let Some(r) = o.rate {
            self.rate = Some(self.rate.unwrap_or(0.0) + r);
        }
        let mut events: Vec<Event> = self.events.iter().chain(o.events.iter()).cloned().collect();
        events.sort_by(|a, b| a.t.total_cmp(&b.t));
        self.events = Arc::new(events);
        self.partial |= o.partial;
        self.aborted_by = self.aborted_by.or(o.aborted_by);
    }
}
