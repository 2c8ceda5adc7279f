//! Merging result documents: the workers' documents of one fleet run become the document
//! the coordinator would have written (`volley merge a.json b.json ...`).
//!
//! Each document is read back into a [`Snapshot`] (every histogram is in the document,
//! encoded), the snapshots are added with [`Snapshot::merge`] (the one merge the live
//! fleet uses too), thresholds are judged again on the merged data, and the document is
//! written from the merged snapshot by [`ResultDoc::from_snapshot`]. Counts add; every
//! percentile comes from the added histograms, never from averaging percentiles.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;

use crate::metrics::verdict::{self, SecondData, Window};
use crate::metrics::{
    new_histogram, new_phase_histogram, EndpointStats, PhaseHists, Snapshot, TimelineRow,
};
use crate::report::{ResultDoc, Row, RunInfo, Stats};
use crate::thresholds::{self, ThresholdSpec};

/// Why documents cannot be merged.
#[derive(Debug, Clone, PartialEq)]
pub enum MergeError {
    /// Fewer than one document.
    Nothing,
    /// A document is of another run: a different scenario or endpoints.
    NotSameRun { part: String, why: String },
    /// A document lacks what an exact merge needs (a histogram), or has a malformed value.
    Incomplete { part: String, why: String },
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergeError::Nothing => write!(f, "nothing to merge"),
            MergeError::NotSameRun { part, why } => {
                write!(f, "{part} is not a part of the same run: {why}")
            }
            MergeError::Incomplete { part, why } => {
                write!(f, "{part} cannot be merged exactly: {why}")
            }
        }
    }
}

impl std::error::Error for MergeError {}

/// Merges the documents (named for messages, e.g. by their file paths) into one.
pub fn merge_docs(parts: &[(String, ResultDoc)]) -> Result<ResultDoc, MergeError> {
    let ((first_name, first), rest) = parts.split_first().ok_or(MergeError::Nothing)?;
    for (name, doc) in rest {
        same_run(first, doc).map_err(|why| MergeError::NotSameRun {
            part: name.clone(),
            why,
        })?;
    }
    let start = parts
        .iter()
        .map(|(n, d)| started_at(n, d))
        .collect::<Result<Vec<_>, _>>()?;
    let t0 = *start.iter().min().expect("at least one part");
    let mut merged = snapshot_of(first_name, first, offset(t0, start[0]))?;
    for ((name, doc), at) in rest.iter().zip(&start[1..]) {
        merged.merge(&snapshot_of(name, doc, offset(t0, *at))?);
    }
    merged.started_at = t0;
    let specs = threshold_specs(first_name, first)?;
    merged.thresholds = judge(&merged, &specs);
    // A windowed threshold needs the histograms of its last seconds: documents keep
    // them per row only when written with an HDR log. Without them the merged verdict is
    // the parts' (passed only if it passed in every part), with no value.
    for (i, t) in merged.thresholds.iter_mut().enumerate() {
        if t.value.is_none() && specs[i].threshold.window.is_some() {
            t.passed = Some(parts.iter().all(|(_, d)| d.thresholds[i].passed));
        }
    }
    let info = RunInfo {
        source: first.source.clone(),
        target: first.target.clone(),
        scenario_text: first.scenario_text.clone(),
        checks: first
            .checks
            .iter()
            .map(|c| (c.endpoint.clone(), c.name.clone()))
            .collect(),
        grade_targets: crate::grade::targets_from(
            &specs
                .iter()
                .filter(|t| t.endpoint.is_none() && t.threshold.window.is_none())
                .map(|t| t.threshold.clone())
                .collect::<Vec<_>>(),
        ),
        overrides: first.overrides.clone(),
    };
    let mut doc = ResultDoc::from_snapshot(&merged, &info);
    doc.grade = doc.grade.filter(|_| first.grade.is_some());
    Ok(doc)
}

/// Why `b` is not a part of the same run as `a`, if it is not.
fn same_run(a: &ResultDoc, b: &ResultDoc) -> Result<(), String> {
    if a.scenario != b.scenario {
        return Err(format!(
            "its scenario is '{}', not '{}'",
            b.scenario, a.scenario
        ));
    }
    let eps = |d: &ResultDoc| {
        d.endpoints
            .iter()
            .map(|e| format!("{} {}", e.method, e.name).trim().to_string())
            .collect::<Vec<_>>()
    };
    if eps(a) != eps(b) {
        return Err(format!(
            "its endpoints are [{}], not [{}]",
            eps(b).join(", "),
            eps(a).join(", ")
        ));
    }
    let th = |d: &ResultDoc| {
        d.thresholds
            .iter()
            .map(|t| t.name.clone())
            .collect::<Vec<_>>()
    };
    if th(a) != th(b) {
        return Err("its thresholds differ".into());
    }
    Ok(())
}

fn started_at(name: &str, d: &ResultDoc) -> Result<SystemTime, MergeError> {
    humantime::parse_rfc3339(&d.started_at).map_err(|e| MergeError::Incomplete {
        part: name.to_string(),
        why: format!("'started_at' is '{}' ({e})", d.started_at),
    })
}

/// Whole seconds from the earliest start to this part's: its rows move by that much.
fn offset(t0: SystemTime, at: SystemTime) -> u64 {
    at.duration_since(t0)
        .map(|d| d.as_secs_f64().round() as u64)
        .unwrap_or(0)
}

/// The thresholds of a document, parsed back from their expressions.
fn threshold_specs(name: &str, d: &ResultDoc) -> Result<Vec<ThresholdSpec>, MergeError> {
    d.thresholds
        .iter()
        .map(|t| {
            let threshold =
                thresholds::parse(&t.expression).map_err(|e| MergeError::Incomplete {
                    part: name.to_string(),
                    why: format!("threshold '{}': {e}", t.expression),
                })?;
            let endpoint = match &t.endpoint {
                None => None,
                Some(ep) => Some(d.endpoints.iter().position(|e| &e.name == ep).ok_or_else(
                    || MergeError::Incomplete {
                        part: name.to_string(),
                        why: format!("threshold '{}' names no endpoint of the run", t.name),
                    },
                )?),
            };
            Ok(ThresholdSpec {
                threshold,
                endpoint,
                abort_on_fail: false,
                abort_grace: Duration::ZERO,
            })
        })
        .collect()
}

/// Every threshold judged on the merged data: whole-run ones on the whole run, windowed
/// ones on the last seconds of the merged timeline.
pub fn judge(s: &Snapshot, specs: &[ThresholdSpec]) -> Vec<verdict::ThresholdStatus> {
    let secs = s.elapsed.as_secs_f64();
    specs
        .iter()
        .map(|spec| {
            let series = spec.endpoint.map_or(&s.total, |i| &s.endpoints[i]);
            let Some(w) = spec.threshold.window else {
                return verdict::evaluate(spec, series, None, secs, s.dropped, &s.generator);
            };
            let cap = w.as_secs().max(1) as usize;
            let last = &series.timeline[series.timeline.len().saturating_sub(cap)..];
            let seconds = last
                .iter()
                .map(|r| {
                    Some(SecondData {
                        hist: r.histogram()?,
                        requests: r.requests,
                        errors: r.errors,
                        checks_passed: 0,
                        checks_failed: 0,
                    })
                })
                .collect::<Option<VecDeque<_>>>();
            match seconds {
                Some(seconds) => {
                    let window = Window { cap, seconds };
                    verdict::evaluate(spec, series, Some(&window), secs, s.dropped, &s.generator)
                }
                None => verdict::ThresholdStatus {
                    text: spec.threshold.to_string(),
                    endpoint: spec.endpoint.map(|_| series.name.clone()),
                    value: None,
                    shown: "-".into(),
                    passed: None,
                    abort_on_fail: false,
                },
            }
        })
        .collect()
}

/// A document read back into the snapshot it was written from, its rows and events moved
/// `shift` seconds later.
pub fn snapshot_of(name: &str, d: &ResultDoc, shift: u64) -> Result<Snapshot, MergeError> {
    let bad = |why: String| MergeError::Incomplete {
        part: name.to_string(),
        why,
    };
    let endpoints: Vec<(String, String)> = d
        .endpoints
        .iter()
        .map(|e| (e.name.clone(), e.method.clone()))
        .collect();
    let mut s = Snapshot::empty(&d.scenario, &endpoints);
    s.started_at = started_at(name, d)?;
    s.elapsed = Duration::from_secs_f64(d.duration_s.max(0.0));
    s.run_time = Duration::from_secs_f64(d.run_time_s.max(0.0));
    s.startup = d
        .startup_ms
        .map(|ms| Duration::from_secs_f64(ms.max(0.0) / 1000.0));
    s.state = crate::metrics::RunState::Done;
    s.partial = d.partial;
    s.aborted_by = d.aborted_by;
    s.connections_open = d.connections.open_at_end.unwrap_or(0);
    s.connections_open_known = d.connections.open_at_end.is_some();
    s.connections_opened = d.connections.opened;
    if let Some(n) = d.dropped_iterations {
        s.rate = Some(0.0);
        s.dropped = n;
    }
    let mut events = d.events.clone();
    for e in &mut events {
        e.t += shift as f64;
    }
    s.events = Arc::new(events);
    for (ep, stats) in s.endpoints.iter_mut().zip(&d.endpoints) {
        *ep = endpoint_of(stats, &stats.timeline, shift)
            .map_err(|w| bad(format!("'{}': {w}", stats.name)))?;
    }
    s.total =
        endpoint_of(&d.totals, &d.timeline, shift).map_err(|w| bad(format!("totals: {w}")))?;
    for (id, c) in d.checks.iter().enumerate() {
        if let Some(ep) = s.endpoints.iter_mut().find(|e| e.name == c.endpoint) {
            ep.checks.insert(id, (c.passes, c.fails));
        }
        let t = s.total.checks.entry(id).or_default();
        t.0 += c.passes;
        t.1 += c.fails;
    }
    Ok(s)
}

fn hist(enc: Option<&str>, count: u64, what: &str) -> Result<Histogram<u64>, String> {
    hist_or(enc, count, what, new_histogram)
}

/// [`hist`], with `empty` for an endpoint that has none (a phase's has fewer significant
/// digits).
fn hist_or(
    enc: Option<&str>,
    count: u64,
    what: &str,
    empty: fn() -> Histogram<u64>,
) -> Result<Histogram<u64>, String> {
    match enc {
        Some(e) => TimelineRow::decode_hist(e)
            .ok_or_else(|| format!("its {what} histogram is not a valid encoded histogram")),
        None if count == 0 => Ok(empty()),
        None => Err(format!(
            "it has {count} {what} latencies but no histogram (written by a volley without one?)"
        )),
    }
}

fn endpoint_of(st: &Stats, rows: &[Row], shift: u64) -> Result<EndpointStats, String> {
    let mut e = EndpointStats::new(st.name.clone(), st.method.clone());
    e.requests = st.requests;
    e.ok = st.ok;
    e.errors = st.errors;
    e.aborted = st.aborted;
    e.bytes = st.bytes_received;
    e.skipped = st.skipped;
    e.status = st
        .status
        .iter()
        .map(|(k, v)| {
            k.parse::<u16>()
                .map(|k| (k, *v))
                .map_err(|_| format!("status '{k}' is not a status code"))
        })
        .collect::<Result<BTreeMap<_, _>, _>>()?;
    e.errors_by_kind = st.errors_by_kind.clone();
    e.retries = st.retries.by_reason.clone();
    e.retry_us = (st.retries.time_ms * 1000.0).round() as u64;
    e.hist = Arc::new(hist(st.hdr.as_deref(), st.latency_ms.count, "latency")?);
    if let Some(l) = &st.latency_ms_uncorrected {
        e.hist_raw = Some(Arc::new(hist(
            st.hdr_uncorrected.as_deref(),
            l.count,
            "uncorrected",
        )?));
    }
    if let Some(p) = &st.phases_ms {
        let h = |enc: &Option<String>, count: u64, what: &str| {
            hist_or(enc.as_deref(), count, what, new_phase_histogram)
        };
        e.phases = Some(Arc::new(PhaseHists {
            dns: h(&p.hdr.dns, p.dns.map_or(0, |l| l.count), "dns")?,
            connect: h(&p.hdr.connect, p.connect.map_or(0, |l| l.count), "connect")?,
            tls: h(&p.hdr.tls, p.tls.map_or(0, |l| l.count), "tls")?,
            send: h(&p.hdr.send, p.send.map_or(0, |l| l.count), "send")?,
            ttfb: h(&p.hdr.ttfb, p.ttfb.count, "ttfb")?,
            receive: h(&p.hdr.receive, p.receive.count, "receive")?,
            total: h(&p.hdr.total, p.total.count, "phase total")?,
        }));
    }
    let mut recent = st.recent_errors.clone();
    for r in &mut recent {
        r.t += shift as f64;
    }
    e.recent_errors = Arc::new(recent.into());
    e.timeline = Arc::new(
        rows.iter()
            .map(|r| row_of(r, shift))
            .collect::<Result<Vec<_>, _>>()?,
    );
    Ok(e)
}

fn row_of(r: &Row, shift: u64) -> Result<TimelineRow, String> {
    let us = |ms: f64| (ms * 1000.0).round() as u64;
    let h = r
        .hdr
        .as_deref()
        .map(|enc| {
            TimelineRow::decode_hist(enc)
                .ok_or_else(|| format!("the row at {}s has an invalid histogram", r.t))
        })
        .transpose()?;
    let mut row = match &h {
        Some(h) => TimelineRow::with_hist(r.t + shift, h),
        None => TimelineRow {
            t: r.t + shift,
            p50_us: us(r.p50_ms),
            p90_us: us(r.p90_ms),
            p95_us: us(r.p95_ms),
            p99_us: us(r.p99_ms),
            max_us: us(r.max_ms),
            ..Default::default()
        },
    };
    row.dt = r.dt;
    row.requests = r.requests;
    row.ok = r.ok;
    row.errors = r.errors;
    row.bytes = r.bytes;
    row.vus = r.vus;
    Ok(row)
}
