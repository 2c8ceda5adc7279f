//! The whole [`Snapshot`] as JSON, for `WatchUpdate.snapshot_json`: everything the console
//! renders, HDR histograms included (V2-deflate, base64: the encoding of HdrHistogram
//! interval logs and of the result document's timelines). `from_snapshot` then
//! `to_snapshot` gives back a snapshot the console renders exactly as the original.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::metrics::generator::{Bottleneck, GeneratorSample, GeneratorSeries};
use crate::metrics::verdict::ThresholdStatus;
use crate::metrics::{
    new_histogram, new_phase_histogram, AbortCause, EndpointStats, ErrorSample, Event, PhaseHists,
    RunState, Snapshot, SpikeView, StageStatus, TargetSample, TargetSeries, TimelineRow,
};
use crate::metrics::{EchoCounts, StreamHists, WsStats};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireSnapshot {
    pub scenario: String,
    pub started_unix_us: u64,
    pub elapsed_us: u64,
    pub run_time_us: u64,
    pub planned_us: Option<u64>,
    pub startup_us: Option<u64>,
    pub state: RunState,
    pub vus_active: u32,
    pub vus_target: u32,
    pub in_flight: u64,
    pub connections_open: u64,
    pub connections_open_known: bool,
    pub connections_opened: u64,
    pub endpoints: Vec<WireEndpoint>,
    pub total: WireEndpoint,
    pub events: Vec<Event>,
    pub spike: Option<SpikeView>,
    pub rate: Option<f64>,
    pub dropped: u64,
    pub iterations_done: u64,
    pub iteration_limit: Option<u64>,
    pub stage: Option<StageStatus>,
    pub thresholds: Vec<WireThreshold>,
    pub partial: bool,
    pub abort: Option<String>,
    pub aborted_by: Option<AbortCause>,
    pub generator: WireGenerator,
    pub target: Option<WireTarget>,
    /// A fleet coordinator's workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<Vec<crate::metrics::WorkerRow>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireEndpoint {
    pub name: String,
    pub method: String,
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    pub aborted: u64,
    pub bytes: u64,
    pub status: BTreeMap<u16, u64>,
    pub errors_by_kind: BTreeMap<String, u64>,
    pub retries: BTreeMap<String, u64>,
    pub retry_us: u64,
    pub hist: Option<String>,
    /// Open model: whether there is an uncorrected histogram, and its encoding.
    pub has_hist_raw: bool,
    pub hist_raw: Option<String>,
    /// connect, tls, ttfb, receive, total.
    pub phases: Option<[Option<String>; 5]>,
    /// dns, send (with `phases`; absent from older peers).
    #[serde(default)]
    pub phases_more: Option<[Option<String>; 2]>,
    pub skipped: u64,
    pub checks: Vec<(usize, u64, u64)>,
    pub rps_now: f64,
    pub errors_now: f64,
    pub recent_errors: Vec<ErrorSample>,
    pub timeline: Vec<TimelineRow>,
    /// Deltas ([`Encoder`]): `timeline` holds only the rows after those already sent;
    /// the receiver appends them and keeps the last `timeline_len`.
    #[serde(default)]
    pub timeline_append: bool,
    #[serde(default)]
    pub timeline_len: usize,
    /// Streamed responses' timings (SSE and chunked), histograms encoded.
    #[serde(default)]
    pub stream: Option<WireStream>,
    /// WebSocket sessions' counts and timings, histograms encoded.
    #[serde(default)]
    pub ws: Option<WireWs>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireStream {
    pub responses: u64,
    pub events: u64,
    /// ttfb, first_event, gap, per_response, duration.
    pub hists: [Option<String>; 5],
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireWs {
    /// sessions, opened, closed, sent, received, bytes_sent, bytes_received.
    pub counts: [u64; 7],
    pub close_codes: Vec<(u16, u64)>,
    pub handshake: Option<String>,
    pub expect: Option<String>,
    /// `echo` steps: sent, echoed, timeouts, lost (absent from older peers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo_counts: Option<[u64; 4]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireThreshold {
    pub text: String,
    pub endpoint: Option<String>,
    pub value: Option<f64>,
    pub shown: String,
    pub passed: Option<bool>,
    pub abort_on_fail: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireGenerator {
    pub capacity_cores: f64,
    pub samples: Vec<GeneratorSample>,
    pub bottleneck: Option<(u64, String)>,
    pub bottleneck_now: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WireTarget {
    pub source: String,
    pub names: Vec<String>,
    pub samples: Vec<(u64, Vec<Option<f64>>)>,
    pub failures: u64,
}

/// A snapshot the wire could not carry back: the JSON or a histogram in it is invalid.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("snapshot: {0}")]
    Json(#[from] serde_json::Error),
    #[error("snapshot: endpoint '{0}': an invalid encoded histogram")]
    Histogram(String),
}

fn us(d: Duration) -> u64 {
    d.as_micros().min(u64::MAX as u128) as u64
}

fn enc(h: &Histogram<u64>) -> Option<String> {
    TimelineRow::encode_hist(h).map(|s| s.to_string())
}

fn dec(s: &Option<String>, name: &str, slot: Slot) -> Result<Histogram<u64>, WireError> {
    match s {
        None => Ok(slot.empty()),
        Some(s) => TimelineRow::decode_hist(s).ok_or_else(|| WireError::Histogram(name.into())),
    }
}

/// Where a histogram sits in an endpoint: the key of a stream's histogram deltas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Hist,
    Raw,
    /// connect, tls, ttfb, receive, total, dns, send (room for more phases).
    Phase(usize),
    /// ttfb, first_event, gap, per_response, duration.
    Stream(usize),
    WsHandshake,
    WsExpect,
    WsEcho,
}

/// Slots per endpoint.
const SLOTS: usize = 19;

impl Slot {
    /// An empty histogram of the slot's kind: a phase's has fewer significant digits
    /// (`metrics::PHASE_SIGFIG`), and a sum must be of one kind to stay exact.
    fn empty(self) -> Histogram<u64> {
        match self {
            Slot::Phase(_) => new_phase_histogram(),
            _ => new_histogram(),
        }
    }

    fn index(self) -> usize {
        match self {
            Slot::Hist => 0,
            Slot::Raw => 1,
            Slot::Phase(i) => 2 + i.min(8),
            Slot::Stream(i) => 11 + i.min(4),
            Slot::WsHandshake => 16,
            Slot::WsExpect => 17,
            Slot::WsEcho => 18,
        }
    }
}

/// Encodes one histogram of an endpoint.
type EncHist<'a> = dyn FnMut(Slot, &Histogram<u64>) -> Option<String> + 'a;
/// Decodes one histogram of an endpoint.
type DecHist<'a> = dyn FnMut(Slot, &Option<String>) -> Result<Histogram<u64>, WireError> + 'a;
/// Encodes one histogram of a snapshot: (endpoint index, the total last; slot; histogram).
type EncSnapHist<'a> = dyn FnMut(usize, Slot, &Histogram<u64>) -> Option<String> + 'a;
/// Decodes one histogram of a snapshot: (endpoint index; its name; slot; text).
type DecSnapHist<'a> =
    dyn FnMut(usize, &str, Slot, &Option<String>) -> Result<Histogram<u64>, WireError> + 'a;

impl WireEndpoint {
    fn of_with(e: &EndpointStats, enc: &mut EncHist) -> WireEndpoint {
        WireEndpoint {
            name: e.name.clone(),
            method: e.method.clone(),
            requests: e.requests,
            ok: e.ok,
            errors: e.errors,
            aborted: e.aborted,
            bytes: e.bytes,
            status: e.status.clone(),
            errors_by_kind: e.errors_by_kind.clone(),
            retries: e.retries.clone(),
            retry_us: e.retry_us,
            hist: enc(Slot::Hist, &e.hist),
            has_hist_raw: e.hist_raw.is_some(),
            hist_raw: e.hist_raw.as_ref().and_then(|h| enc(Slot::Raw, h)),
            phases: e.phases.as_ref().map(|p| {
                [
                    enc(Slot::Phase(0), &p.connect),
                    enc(Slot::Phase(1), &p.tls),
                    enc(Slot::Phase(2), &p.ttfb),
                    enc(Slot::Phase(3), &p.receive),
                    enc(Slot::Phase(4), &p.total),
                ]
            }),
            phases_more: e
                .phases
                .as_ref()
                .map(|p| [enc(Slot::Phase(5), &p.dns), enc(Slot::Phase(6), &p.send)]),
            skipped: e.skipped,
            checks: e.checks.iter().map(|(id, (p, f))| (*id, *p, *f)).collect(),
            rps_now: e.rps_now,
            errors_now: e.errors_now,
            recent_errors: e.recent_errors.iter().cloned().collect(),
            timeline: e.timeline.to_vec(),
            timeline_append: false,
            timeline_len: e.timeline.len(),
            stream: e.stream.as_ref().map(|s| WireStream {
                responses: s.responses,
                events: s.events,
                hists: [
                    enc(Slot::Stream(0), &s.ttfb),
                    enc(Slot::Stream(1), &s.first_event),
                    enc(Slot::Stream(2), &s.gap),
                    enc(Slot::Stream(3), &s.per_response),
                    enc(Slot::Stream(4), &s.duration),
                ],
            }),
            ws: e.ws.as_ref().map(|w| WireWs {
                counts: [
                    w.sessions,
                    w.opened,
                    w.closed,
                    w.sent,
                    w.received,
                    w.bytes_sent,
                    w.bytes_received,
                ],
                close_codes: w.close_codes.clone(),
                handshake: enc(Slot::WsHandshake, &w.handshake),
                expect: enc(Slot::WsExpect, &w.expect),
                echo_counts: (w.echo_counts != EchoCounts::default()).then_some([
                    w.echo_counts.sent,
                    w.echo_counts.echoed,
                    w.echo_counts.timeouts,
                    w.echo_counts.lost,
                ]),
                echo: enc(Slot::WsEcho, &w.echo),
            }),
        }
    }

    fn to_stats_with(&self, dec: &mut DecHist) -> Result<EndpointStats, WireError> {
        let phases = match &self.phases {
            Some([c, t, f, r, total]) => {
                let none = None;
                let (dns, send) = match &self.phases_more {
                    Some([d, s]) => (d, s),
                    None => (&none, &none),
                };
                Some(Arc::new(PhaseHists {
                    dns: dec(Slot::Phase(5), dns)?,
                    send: dec(Slot::Phase(6), send)?,
                    connect: dec(Slot::Phase(0), c)?,
                    tls: dec(Slot::Phase(1), t)?,
                    ttfb: dec(Slot::Phase(2), f)?,
                    receive: dec(Slot::Phase(3), r)?,
                    total: dec(Slot::Phase(4), total)?,
                }))
            }
            None => None,
        };
        Ok(EndpointStats {
            name: self.name.clone(),
            method: self.method.clone(),
            requests: self.requests,
            ok: self.ok,
            errors: self.errors,
            aborted: self.aborted,
            bytes: self.bytes,
            status: self.status.clone(),
            errors_by_kind: self.errors_by_kind.clone(),
            retries: self.retries.clone(),
            retry_us: self.retry_us,
            hist: Arc::new(dec(Slot::Hist, &self.hist)?),
            hist_raw: match self.has_hist_raw {
                true => Some(Arc::new(dec(Slot::Raw, &self.hist_raw)?)),
                false => None,
            },
            phases,
            skipped: self.skipped,
            checks: self
                .checks
                .iter()
                .map(|(id, p, f)| (*id, (*p, *f)))
                .collect(),
            rps_now: self.rps_now,
            errors_now: self.errors_now,
            recent_errors: Arc::new(self.recent_errors.iter().cloned().collect::<VecDeque<_>>()),
            timeline: Arc::new(self.timeline.clone()),
            stream: match &self.stream {
                Some(s) => {
                    let [ttfb, first, gap, per, dur] = &s.hists;
                    Some(Arc::new(StreamHists {
                        responses: s.responses,
                        events: s.events,
                        ttfb: dec(Slot::Stream(0), ttfb)?,
                        first_event: dec(Slot::Stream(1), first)?,
                        gap: dec(Slot::Stream(2), gap)?,
                        per_response: dec(Slot::Stream(3), per)?,
                        duration: dec(Slot::Stream(4), dur)?,
                    }))
                }
                None => None,
            },
            ws: match &self.ws {
                Some(w) => {
                    let [sessions, opened, closed, sent, received, bytes_sent, bytes_received] =
                        w.counts;
                    Some(Arc::new(WsStats {
                        sessions,
                        opened,
                        closed,
                        sent,
                        received,
                        bytes_sent,
                        bytes_received,
                        close_codes: w.close_codes.clone(),
                        handshake: dec(Slot::WsHandshake, &w.handshake)?,
                        expect: dec(Slot::WsExpect, &w.expect)?,
                        echo_counts: match w.echo_counts {
                            Some([sent, echoed, timeouts, lost]) => EchoCounts {
                                sent,
                                echoed,
                                timeouts,
                                lost,
                            },
                            None => EchoCounts::default(),
                        },
                        echo: dec(Slot::WsEcho, &w.echo)?,
                    }))
                }
                None => None,
            },
        })
    }
}

impl WireSnapshot {
    pub fn of(s: &Snapshot) -> WireSnapshot {
        WireSnapshot::of_with(s, &mut |_, _, h| enc(h))
    }

    /// [`WireSnapshot::of`] with each histogram encoded by `enc(endpoint, slot, h)`
    /// (endpoint: its index, the total after the last).
    fn of_with(s: &Snapshot, enc: &mut EncSnapHist) -> WireSnapshot {
        let g = &s.generator;
        let n = s.endpoints.len();
        WireSnapshot {
            scenario: s.scenario.clone(),
            started_unix_us: s.started_at.duration_since(UNIX_EPOCH).map(us).unwrap_or(0),
            elapsed_us: us(s.elapsed),
            run_time_us: us(s.run_time),
            planned_us: s.planned.map(us),
            startup_us: s.startup.map(us),
            state: s.state,
            vus_active: s.vus_active,
            vus_target: s.vus_target,
            in_flight: s.in_flight,
            connections_open: s.connections_open,
            connections_open_known: s.connections_open_known,
            connections_opened: s.connections_opened,
            endpoints: s
                .endpoints
                .iter()
                .enumerate()
                .map(|(i, e)| WireEndpoint::of_with(e, &mut |slot, h| enc(i, slot, h)))
                .collect(),
            total: WireEndpoint::of_with(&s.total, &mut |slot, h| enc(n, slot, h)),
            events: s.events.to_vec(),
            spike: s.spike.clone(),
            rate: s.rate,
            dropped: s.dropped,
            iterations_done: s.iterations_done,
            iteration_limit: s.iteration_limit,
            stage: s.stage,
            thresholds: s
                .thresholds
                .iter()
                .map(|t| WireThreshold {
                    text: t.text.clone(),
                    endpoint: t.endpoint.clone(),
                    value: t.value,
                    shown: t.shown.clone(),
                    passed: t.passed,
                    abort_on_fail: t.abort_on_fail,
                })
                .collect(),
            partial: s.partial,
            abort: s.abort.clone(),
            aborted_by: s.aborted_by,
            generator: WireGenerator {
                capacity_cores: g.capacity_cores,
                samples: g.samples.clone(),
                bottleneck: g.bottleneck.as_ref().map(|b| (b.since, b.reason.clone())),
                bottleneck_now: g.bottleneck_now,
            },
            workers: s.workers.as_ref().map(|w| w.to_vec()),
            target: s.target.as_ref().map(|t| WireTarget {
                source: t.source.clone(),
                names: t.names.clone(),
                samples: t.samples.iter().map(|x| (x.t, x.values.clone())).collect(),
                failures: t.failures,
            }),
        }
    }

    pub fn to_snapshot(&self) -> Result<Snapshot, WireError> {
        self.to_snapshot_with(&mut |_, name, slot, s| dec(s, name, slot))
    }

    /// [`WireSnapshot::to_snapshot`] with each histogram decoded by
    /// `dec(endpoint, name, slot, text)`.
    fn to_snapshot_with(&self, dec: &mut DecSnapHist) -> Result<Snapshot, WireError> {
        let d = Duration::from_micros;
        let n = self.endpoints.len();
        let mut generator = GeneratorSeries::new(self.generator.capacity_cores);
        generator.samples = self.generator.samples.clone();
        generator.bottleneck =
            self.generator
                .bottleneck
                .as_ref()
                .map(|(since, reason)| Bottleneck {
                    since: *since,
                    reason: reason.clone(),
                });
        generator.bottleneck_now = self.generator.bottleneck_now;
        let mut s = Snapshot::empty(&self.scenario, &[]);
        s.started_at = SystemTime::UNIX_EPOCH + d(self.started_unix_us);
        s.elapsed = d(self.elapsed_us);
        s.run_time = d(self.run_time_us);
        s.planned = self.planned_us.map(d);
        s.startup = self.startup_us.map(d);
        s.state = self.state;
        s.vus_active = self.vus_active;
        s.vus_target = self.vus_target;
        s.in_flight = self.in_flight;
        s.connections_open = self.connections_open;
        s.connections_open_known = self.connections_open_known;
        s.connections_opened = self.connections_opened;
        s.endpoints = self
            .endpoints
            .iter()
            .enumerate()
            .map(|(i, e)| e.to_stats_with(&mut |slot, text| dec(i, &e.name, slot, text)))
            .collect::<Result<_, _>>()?;
        s.total = self
            .total
            .to_stats_with(&mut |slot, text| dec(n, &self.total.name, slot, text))?;
        s.events = Arc::new(self.events.clone());
        s.spike = self.spike.clone();
        s.rate = self.rate;
        s.dropped = self.dropped;
        s.iterations_done = self.iterations_done;
        s.iteration_limit = self.iteration_limit;
        s.stage = self.stage;
        s.thresholds = self
            .thresholds
            .iter()
            .map(|t| ThresholdStatus {
                text: t.text.clone(),
                endpoint: t.endpoint.clone(),
                value: t.value,
                shown: t.shown.clone(),
                passed: t.passed,
                abort_on_fail: t.abort_on_fail,
            })
            .collect();
        s.partial = self.partial;
        s.abort = self.abort.clone();
        s.aborted_by = self.aborted_by;
        s.generator = Arc::new(generator);
        s.workers = self.workers.clone().map(Arc::new);
        s.target = self.target.as_ref().map(|t| {
            Arc::new(TargetSeries {
                source: t.source.clone(),
                names: t.names.clone(),
                samples: t
                    .samples
                    .iter()
                    .map(|(t, values)| TargetSample {
                        t: *t,
                        values: values.clone(),
                    })
                    .collect(),
                failures: t.failures,
            })
        });
        Ok(s)
    }
}

/// Encodes the snapshots of one stream as deltas:
/// - each endpoint's timeline carries only the rows after the last one sent (a timeline
///   that no longer holds the last row sent, downsampled, is sent whole);
/// - each histogram is sent whole the first time, then as `=` when it has not changed, or
///   as `d:` and the encoding of what was recorded since (the receiver adds it: HDR
///   addition is exact, so the receiver's histograms equal the run's).
#[derive(Debug, Default)]
pub struct Encoder {
    /// Per endpoint (the total last): the last row sent, (t, dt).
    last: Vec<Option<(u64, u64)>>,
    /// Per endpoint and slot: the histogram the receiver holds.
    sent: Vec<Vec<Option<Histogram<u64>>>>,
}

/// A histogram unchanged since the last update of the stream.
const SAME: &str = "=";
/// The prefix of a histogram sent as what was recorded since the last update.
const DELTA: &str = "d:";

impl Encoder {
    pub fn encode(&mut self, s: &Snapshot) -> Vec<u8> {
        let sent = &mut self.sent;
        sent.resize_with(s.endpoints.len() + 1, Vec::new);
        let mut w = WireSnapshot::of_with(s, &mut |ep, slot, h| {
            let held = &mut sent[ep];
            held.resize_with(SLOTS, || None);
            delta(&mut held[slot.index()], h)
        });
        self.last.resize(w.endpoints.len() + 1, None);
        for (i, e) in w
            .endpoints
            .iter_mut()
            .chain(std::iter::once(&mut w.total))
            .enumerate()
        {
            let sent = self.last[i];
            self.last[i] = e.timeline.last().map(|r| (r.t, r.dt));
            let Some((t, dt)) = sent else {
                continue;
            };
            if let Some(at) = e.timeline.iter().position(|r| r.t == t && r.dt == dt) {
                e.timeline.drain(..=at);
                e.timeline_append = true;
            }
        }
        serde_json::to_vec(&w).expect("a snapshot always serializes")
    }
}

/// `h` as the receiver that holds `held` needs it: whole, `=`, or `d:` and the delta;
/// `held` becomes `h`.
fn delta(held: &mut Option<Histogram<u64>>, h: &Histogram<u64>) -> Option<String> {
    if h.is_empty() {
        *held = None;
        return None;
    }
    if let Some(prev) = held.as_mut() {
        if prev.len() == h.len() && prev.max() == h.max() && prev.min() == h.min() {
            return Some(SAME.into());
        }
        let mut d = Histogram::new_from(h);
        let mut grew = 0u64;
        let mut shrank = false;
        for v in h.iter_recorded() {
            let value = v.value_iterated_to();
            let (now, before) = (v.count_at_value(), prev.count_at(value));
            if now < before {
                shrank = true;
                break;
            }
            if now > before && d.record_n(value, now - before).is_err() {
                shrank = true;
                break;
            }
            grew += now - before;
        }
        // Whole-run histograms only grow; anything else (or a value the delta cannot
        // hold) goes whole.
        if !shrank && prev.len() + grew == h.len() && prev.add(&d).is_ok() {
            return enc(&d).map(|e| format!("{DELTA}{e}"));
        }
    }
    *held = Some(h.clone());
    enc(h)
}

/// What one update did to one of a stream's histograms (a [`Decoder::lean`] one's).
#[derive(Debug)]
pub enum HistChange {
    /// These values were recorded since the last update: add them.
    Added(Histogram<u64>),
    /// The histogram is now this one (the first update, or one that is not a sum).
    Replaced(Histogram<u64>),
    /// The histogram is now empty.
    Cleared,
}

/// A change to the histogram at `slot` of endpoint `endpoint` (the total after the
/// endpoints); [`slot_hist_mut`] finds that histogram in an endpoint's figures.
#[derive(Debug)]
pub struct Changed {
    pub endpoint: usize,
    pub slot: usize,
    pub change: HistChange,
}

/// The histogram at slot index `slot` of `e` (as [`Changed::slot`] numbers them), its
/// holder (phases, streams, WebSocket figures) made when absent.
pub fn slot_hist_mut(e: &mut EndpointStats, slot: usize) -> Option<&mut Histogram<u64>> {
    fn phase(p: &mut PhaseHists, i: usize) -> Option<&mut Histogram<u64>> {
        Some(match i {
            0 => &mut p.connect,
            1 => &mut p.tls,
            2 => &mut p.ttfb,
            3 => &mut p.receive,
            4 => &mut p.total,
            5 => &mut p.dns,
            6 => &mut p.send,
            _ => return None,
        })
    }
    fn stream(s: &mut StreamHists, i: usize) -> Option<&mut Histogram<u64>> {
        Some(match i {
            0 => &mut s.ttfb,
            1 => &mut s.first_event,
            2 => &mut s.gap,
            3 => &mut s.per_response,
            4 => &mut s.duration,
            _ => return None,
        })
    }
    match slot {
        0 => Some(Arc::make_mut(&mut e.hist)),
        1 => Some(Arc::make_mut(
            e.hist_raw.get_or_insert_with(|| Arc::new(new_histogram())),
        )),
        2..=10 => phase(
            Arc::make_mut(e.phases.get_or_insert_with(Default::default)),
            slot - 2,
        ),
        11..=15 => stream(
            Arc::make_mut(e.stream.get_or_insert_with(Default::default)),
            slot - 11,
        ),
        16 => Some(&mut Arc::make_mut(e.ws.get_or_insert_with(Default::default)).handshake),
        17 => Some(&mut Arc::make_mut(e.ws.get_or_insert_with(Default::default)).expect),
        _ => None,
    }
}

/// Decodes what an [`Encoder`] made, one stream's updates in order.
#[derive(Debug, Default)]
pub struct Decoder {
    timelines: Vec<Arc<Vec<TimelineRow>>>,
    /// Per endpoint and slot: the histogram as of the last update.
    held: Vec<Vec<Option<Histogram<u64>>>>,
    /// Lean: the snapshots' whole-run histograms are left empty and what changed in them
    /// is listed in `changes` instead (`held` then only says which ones are non-empty).
    lean: bool,
    changes: Vec<Changed>,
}

impl Decoder {
    /// A decoder that keeps no histograms: each update's snapshot has empty whole-run
    /// histograms (its timeline rows keep theirs) and [`Decoder::take_changes`] says
    /// what changed in them, for a receiver that adds them up itself (a fleet's
    /// coordinator) without copying each sender's histograms at every update.
    pub fn lean() -> Decoder {
        Decoder {
            lean: true,
            ..Decoder::default()
        }
    }

    /// The histogram changes of the updates decoded since the last call (lean only).
    pub fn take_changes(&mut self) -> Vec<Changed> {
        std::mem::take(&mut self.changes)
    }

    pub fn decode(&mut self, bytes: &[u8]) -> Result<Snapshot, WireError> {
        if self.lean {
            return self.decode_lean(bytes);
        }
        let w = self.parse(bytes)?;
        let held = &mut self.held;
        held.resize_with(w.endpoints.len() + 1, Vec::new);
        let s = w.to_snapshot_with(&mut |ep, name, slot, text| {
            let slots = &mut held[ep];
            slots.resize_with(SLOTS, || None);
            let h = &mut slots[slot.index()];
            let bad = || WireError::Histogram(name.into());
            match text.as_deref() {
                None => {
                    *h = None;
                    Ok(slot.empty())
                }
                Some(SAME) => h.clone().ok_or_else(bad),
                Some(t) if t.starts_with(DELTA) => {
                    let d = TimelineRow::decode_hist(&t[DELTA.len()..]).ok_or_else(bad)?;
                    let held = h.as_mut().ok_or_else(bad)?;
                    held.add(&d).map_err(|_| bad())?;
                    Ok(held.clone())
                }
                Some(t) => {
                    let whole = TimelineRow::decode_hist(t).ok_or_else(bad)?;
                    *h = Some(whole.clone());
                    Ok(whole)
                }
            }
        })?;
        self.keep_timelines(&s);
        Ok(s)
    }

    fn keep_timelines(&mut self, s: &Snapshot) {
        self.timelines = s
            .endpoints
            .iter()
            .chain(std::iter::once(&s.total))
            .map(|e| e.timeline.clone())
            .collect();
    }

    /// Appends the update's timeline rows to those held; the update, whole.
    fn parse(&mut self, bytes: &[u8]) -> Result<WireSnapshot, WireError> {
        let mut w: WireSnapshot = serde_json::from_slice(bytes)?;
        self.timelines
            .resize(w.endpoints.len() + 1, Arc::new(Vec::new()));
        for (i, e) in w
            .endpoints
            .iter_mut()
            .chain(std::iter::once(&mut w.total))
            .enumerate()
        {
            if e.timeline_append {
                let mut rows = self.timelines[i].to_vec();
                rows.append(&mut e.timeline);
                let extra = rows.len().saturating_sub(e.timeline_len);
                rows.drain(..extra);
                e.timeline = rows;
                e.timeline_append = false;
            }
        }
        Ok(w)
    }

    fn decode_lean(&mut self, bytes: &[u8]) -> Result<Snapshot, WireError> {
        let w = self.parse(bytes)?;
        let held = &mut self.held;
        held.resize_with(w.endpoints.len() + 1, Vec::new);
        let mut changes = Vec::new();
        let s = w.to_snapshot_with(&mut |ep, name, slot, text| {
            let slots = &mut held[ep];
            slots.resize_with(SLOTS, || None);
            let present = &mut slots[slot.index()];
            let bad = || WireError::Histogram(name.into());
            let change = match text.as_deref() {
                None if present.take().is_some() => Some(HistChange::Cleared),
                None => None,
                Some(SAME) => {
                    present.as_ref().ok_or_else(bad)?;
                    None
                }
                Some(t) if t.starts_with(DELTA) => {
                    present.as_ref().ok_or_else(bad)?;
                    let d = TimelineRow::decode_hist(&t[DELTA.len()..]).ok_or_else(bad)?;
                    Some(HistChange::Added(d))
                }
                Some(t) => {
                    let whole = TimelineRow::decode_hist(t).ok_or_else(bad)?;
                    // Only whether one is held matters here: an empty stand-in.
                    *present = Some(Histogram::new(1).map_err(|_| bad())?);
                    Some(HistChange::Replaced(whole))
                }
            };
            if let Some(change) = change {
                changes.push(Changed {
                    endpoint: ep,
                    slot: slot.index(),
                    change,
                });
            }
            Ok(slot.empty())
        })?;
        self.changes.append(&mut changes);
        self.keep_timelines(&s);
        Ok(s)
    }
}

/// The snapshot as `WatchUpdate.snapshot_json` carries it (whole).
pub fn encode(s: &Snapshot) -> Vec<u8> {
    serde_json::to_vec(&WireSnapshot::of(s)).expect("a snapshot always serializes")
}

/// The snapshot back from `WatchUpdate.snapshot_json`.
pub fn decode(bytes: &[u8]) -> Result<Snapshot, WireError> {
    serde_json::from_slice::<WireSnapshot>(bytes)?.to_snapshot()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    fn hist(base: u64, n: u64) -> Histogram<u64> {
        let mut h = new_histogram();
        for i in 0..n {
            h.record(base + (i % 100) * base / 30 + if i % 89 == 0 { base * 40 } else { 0 })
                .unwrap();
        }
        h
    }

    fn endpoint(name: &str, base: u64, n: u64) -> EndpointStats {
        let mut e = EndpointStats::new(name, "GET");
        e.hist = Arc::new(hist(base, n));
        e.hist_raw = Some(Arc::new(hist(base / 2, n)));
        e.phases = Some(Arc::new(PhaseHists {
            dns: hist(30, 5),
            connect: hist(100, 20),
            send: hist(10, n),
            ttfb: hist(base, n),
            ..Default::default()
        }));
        e.requests = n;
        e.ok = n - 3;
        e.errors = 3;
        e.status = BTreeMap::from([(200, n - 3), (503, 3)]);
        e.errors_by_kind = BTreeMap::from([("http_503".to_string(), 3)]);
        e.retries = BTreeMap::from([("closed_before_response".to_string(), 1)]);
        e.checks = BTreeMap::from([(0, (n - 3, 3))]);
        e.rps_now = 123.5;
        e.recent_errors = Arc::new(VecDeque::from([ErrorSample {
            t: 4.5,
            kind: "http_503".into(),
            message: "HTTP 503".into(),
        }]));
        e.timeline = Arc::new(
            (0..30)
                .map(|t| TimelineRow {
                    requests: 100 + t,
                    vus: 5,
                    ..TimelineRow::with_hist(t, &hist(1000 + t * 10, 50))
                })
                .collect(),
        );
        e
    }

    fn fixture() -> Snapshot {
        let mut s = Snapshot::empty("shop", &[]);
        s.started_at = UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        s.elapsed = Duration::from_millis(31_250);
        s.run_time = Duration::from_secs(30);
        s.planned = Some(Duration::from_secs(120));
        s.vus_active = 5;
        s.vus_target = 8;
        s.in_flight = 4;
        s.connections_open = 5;
        s.connections_opened = 9;
        s.endpoints = vec![endpoint("home", 2_000, 900), endpoint("search", 9_000, 300)];
        let mut total = EndpointStats::new("total", "");
        for e in &s.endpoints {
            total.merge(e);
        }
        s.total = total;
        s.events = Arc::new(vec![Event {
            t: 12.0,
            kind: "spike".into(),
            detail: "x2 for 10s".into(),
        }]);
        s.spike = Some(SpikeView {
            spike: crate::state::Spike {
                change: crate::state::SpikeChange::Times(2.0),
                duration: Duration::from_secs(10),
            },
            remaining: Duration::from_secs(3),
            base: 4,
        });
        s.iterations_done = 1200;
        s.stage = Some(StageStatus::In {
            now: crate::state::StageView {
                index: 1,
                of: 3,
                from: 8.0,
                target: 8.0,
                duration: Duration::from_secs(60),
                open: false,
            },
            next: None,
        });
        s.abort = Some("threshold".into());
        s.thresholds = vec![ThresholdStatus {
            text: "p95 < 500ms".into(),
            endpoint: None,
            value: Some(21.5),
            shown: "21.5ms".into(),
            passed: Some(true),
            abort_on_fail: false,
        }];
        let mut g = GeneratorSeries::new(1.0);
        g.samples = vec![GeneratorSample {
            t: 1,
            cpu_pct: 40.0,
            ..Default::default()
        }];
        s.generator = Arc::new(g);
        s.target = Some(Arc::new(TargetSeries {
            source: "node".into(),
            names: vec!["cpu".into()],
            samples: vec![TargetSample {
                t: 1,
                values: vec![Some(0.5)],
            }],
            failures: 1,
        }));
        s
    }

    fn screen(s: &Snapshot, detail: bool) -> String {
        let mut app =
            crate::ui::App::new(Arc::new(s.clone()), crate::ui::Theme::default_theme(), 8);
        if detail {
            app.update(crate::ui::action::Action::Enter);
        }
        let mut term = Terminal::new(TestBackend::new(140, 48)).unwrap();
        term.draw(|f| crate::ui::view::draw(f, &app)).unwrap();
        format!("{:?}", term.backend().buffer())
    }

    #[test]
    fn a_snapshot_survives_the_wire_and_renders_the_same() {
        let s = fixture();
        let back = decode(&encode(&s)).unwrap();
        for (a, b) in s
            .endpoints
            .iter()
            .zip(&back.endpoints)
            .chain([(&s.total, &back.total)])
        {
            assert_eq!(*a.hist, *b.hist, "{}", a.name);
            assert_eq!(a.hist_raw, b.hist_raw, "{}", a.name);
            let (pa, pb) = (a.phases.as_ref().unwrap(), b.phases.as_ref().unwrap());
            assert_eq!(pa.ttfb, pb.ttfb);
            assert_eq!(pa.connect, pb.connect);
            assert_eq!((&pa.dns, &pa.send), (&pb.dns, &pb.send));
            assert_eq!(a.timeline, b.timeline);
            assert_eq!(a.checks, b.checks);
            assert_eq!(a.retries, b.retries);
        }
        assert_eq!(s.started_at, back.started_at);
        assert_eq!(s.generator, back.generator);
        assert_eq!(s.target, back.target);
        assert_eq!(s.thresholds, back.thresholds);
        assert_eq!(screen(&s, false), screen(&back, false));
        assert_eq!(screen(&s, true), screen(&back, true));
    }

    #[test]
    fn stream_and_websocket_figures_survive_the_wire() {
        let mut s = fixture();
        let mut st = StreamHists {
            responses: 3,
            events: 42,
            ..Default::default()
        };
        st.gap.record(1500).unwrap();
        st.ttfb.record(40_000).unwrap();
        let mut ws = WsStats {
            sessions: 5,
            sent: 9,
            received: 8,
            close_codes: vec![(1000, 4), (1011, 1)],
            ..Default::default()
        };
        ws.expect.record(2_000).unwrap();
        ws.echo.record(700).unwrap();
        ws.echo_counts = EchoCounts {
            sent: 4,
            echoed: 1,
            timeouts: 2,
            lost: 1,
        };
        s.endpoints[0].stream = Some(Arc::new(st));
        s.endpoints[0].ws = Some(Arc::new(ws));
        let back = decode(&encode(&s)).unwrap();
        let (a, b) = (&s.endpoints[0], &back.endpoints[0]);
        let (sa, sb) = (a.stream.as_deref().unwrap(), b.stream.as_deref().unwrap());
        assert_eq!((sa.responses, sa.events), (sb.responses, sb.events));
        assert_eq!(sa.gap, sb.gap);
        assert_eq!(sa.ttfb, sb.ttfb);
        let (wa, wb) = (a.ws.as_deref().unwrap(), b.ws.as_deref().unwrap());
        assert_eq!(
            (wa.sessions, wa.sent, wa.received),
            (wb.sessions, wb.sent, wb.received)
        );
        assert_eq!(wa.close_codes, wb.close_codes);
        assert_eq!(wa.expect, wb.expect);
        assert_eq!(wa.echo, wb.echo);
        assert_eq!(wa.echo_counts, wb.echo_counts);
        assert!(back.endpoints[1].stream.is_none() && back.endpoints[1].ws.is_none());
        assert_eq!(screen(&s, true), screen(&back, true));
    }

    #[test]
    fn deltas_carry_only_new_timeline_rows_and_decode_to_the_whole_snapshot() {
        let mut s = fixture();
        let (mut enc, mut dec) = (Encoder::default(), Decoder::default());
        let first = enc.encode(&s);
        assert_eq!(dec.decode(&first).unwrap().total.timeline, s.total.timeline);
        let whole = encode(&s).len();
        // Two more seconds; the window of 30 rows slides by two.
        for e in s.endpoints.iter_mut().chain(std::iter::once(&mut s.total)) {
            let mut rows = e.timeline.to_vec();
            for t in 30..32 {
                rows.push(TimelineRow {
                    requests: t,
                    ..TimelineRow::with_hist(t, &hist(2000, 10))
                });
            }
            rows.drain(..2);
            e.timeline = Arc::new(rows);
        }
        let delta = enc.encode(&s);
        assert!(delta.len() * 2 < whole, "{} vs {whole}", delta.len());
        let back = dec.decode(&delta).unwrap();
        for (a, b) in s
            .endpoints
            .iter()
            .zip(&back.endpoints)
            .chain([(&s.total, &back.total)])
        {
            assert_eq!(a.timeline, b.timeline, "{}", a.name);
        }
        assert_eq!(screen(&s, false), screen(&back, false));
        // Downsampled (the last row sent is gone): sent whole again.
        for e in s.endpoints.iter_mut().chain(std::iter::once(&mut s.total)) {
            let mut rows = e.timeline.to_vec();
            rows.last_mut().unwrap().dt = 2;
            e.timeline = Arc::new(rows);
        }
        let back = dec.decode(&enc.encode(&s)).unwrap();
        assert_eq!(back.total.timeline, s.total.timeline);
    }

    /// Every histogram of an endpoint, in a fixed order, for comparisons.
    fn all_hists(e: &EndpointStats) -> Vec<Histogram<u64>> {
        let mut out = vec![(*e.hist).clone()];
        out.extend(e.hist_raw.as_deref().cloned());
        if let Some(p) = &e.phases {
            out.extend(
                [
                    &p.dns, &p.connect, &p.tls, &p.send, &p.ttfb, &p.receive, &p.total,
                ]
                .map(|h| h.clone()),
            );
        }
        out
    }

    #[test]
    fn histograms_go_as_deltas_and_add_up_to_the_runs_exactly() {
        let mut s = fixture();
        let (mut enc, mut dec) = (Encoder::default(), Decoder::default());
        dec.decode(&enc.encode(&s)).unwrap();
        for round in 1..6u64 {
            // New recordings on every endpoint but the first (unchanged: sent as "=").
            for e in s
                .endpoints
                .iter_mut()
                .skip(1)
                .chain(std::iter::once(&mut s.total))
            {
                let mut h = (*e.hist).clone();
                h.add(hist(700 * round, 40)).unwrap();
                e.hist = Arc::new(h);
                let mut p = (**e.phases.as_ref().unwrap()).clone();
                p.ttfb.add(hist(300 * round, 25)).unwrap();
                p.receive.record(round * 11).unwrap();
                p.send.record(round * 3).unwrap();
                e.phases = Some(Arc::new(p));
            }
            let bytes = enc.encode(&s);
            let w: WireSnapshot = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(w.endpoints[0].hist.as_deref(), Some(SAME));
            assert!(w.endpoints[1].hist.as_deref().unwrap().starts_with(DELTA));
            assert!(bytes.len() * 2 < encode(&s).len(), "round {round}");
            let back = dec.decode(&bytes).unwrap();
            for (a, b) in s
                .endpoints
                .iter()
                .zip(&back.endpoints)
                .chain([(&s.total, &back.total)])
            {
                assert_eq!(all_hists(a), all_hists(b), "{} round {round}", a.name);
            }
            assert_eq!(screen(&s, true), screen(&back, true));
        }
        // A histogram that shrank (not a whole-run one) goes whole, and still decodes.
        s.endpoints[1].hist = Arc::new(hist(50, 3));
        let back = dec.decode(&enc.encode(&s)).unwrap();
        assert_eq!(*back.endpoints[1].hist, *s.endpoints[1].hist);
        // A receiver that missed the start cannot take a delta: an error, not a wrong number.
        s.endpoints[1].hist = Arc::new(hist(50, 9));
        let late = enc.encode(&s);
        assert!(Decoder::default().decode(&late).is_err());
    }

    #[test]
    fn a_corrupt_histogram_is_an_error_naming_the_endpoint() {
        let mut w = WireSnapshot::of(&fixture());
        w.endpoints[1].hist = Some("bm90IGEgaGlzdG9ncmFt".into());
        let e = w.to_snapshot().unwrap_err().to_string();
        assert!(e.contains("'search'"), "{e}");
        assert!(decode(b"{").is_err());
    }
}

#[cfg(test)]
mod fleet_tests {
    use super::*;
    use crate::metrics::{WorkerRow, WorkerState};

    #[test]
    fn a_coordinators_workers_cross_the_wire() {
        let mut s = Snapshot::empty("s", &[]);
        assert!(decode(&encode(&s)).unwrap().workers.is_none());
        let rows = vec![WorkerRow {
            index: 1,
            state: WorkerState::Lost,
            host: "node-1".into(),
            vus: 3,
            rps: 12.5,
            error_rate: 0.5,
            cpu_percent: 40.0,
            heartbeat_age_s: 6.0,
            clock_offset_ms: -0.3,
        }];
        s.workers = Some(Arc::new(rows.clone()));
        let back = decode(&encode(&s)).unwrap();
        assert_eq!(back.workers.as_deref(), Some(&rows));
    }
}
