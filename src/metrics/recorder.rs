//! Lock-striped recording: every VU records into one of a few shards; the aggregator
//! swaps each shard's contents out on its tick. No lock is shared by all workers.

use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;

use super::kind::{ErrorKind, Outcome, Retry, RetryReason};

/// Most error messages kept per endpoint per shard between two ticks.
const MESSAGES_PER_TICK: usize = 4;

/// One request's result.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub endpoint: usize,
    /// Microseconds from just before sending to the last body byte; `None` when the
    /// request has no meaningful latency (refused, aborted).
    pub latency_us: Option<u64>,
    pub outcome: Outcome,
    pub bytes: u64,
    /// Open model: latency from the actual send, when `latency_us` is measured from the
    /// moment the iteration was scheduled (coordinated-omission corrected).
    pub raw_latency_us: Option<u64>,
    /// The request was sent twice: the first attempt's failure (see [`Retry`]).
    pub retry: Option<Retry>,
    /// How long each phase of a complete response took, when the client measures them.
    pub phases: Option<Phases>,
}

/// How long the phases of one request took, microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Phases {
    /// Name resolution, when the request opened a connection to a host name (not an
    /// IP address).
    pub dns_us: Option<u64>,
    /// TCP connect, when the request opened a connection.
    pub connect_us: Option<u64>,
    /// TLS handshake, when the request opened an https connection.
    pub tls_us: Option<u64>,
    /// Writing the request, when the client sees the write end (HTTP/1.1); part of
    /// `ttfb_us`.
    pub send_us: Option<u64>,
    /// From starting to write the request to the first response byte (waiting).
    pub ttfb_us: u64,
    /// From the first response byte to the last.
    pub receive_us: u64,
}

/// HDR histograms (microseconds) of the phases of the requests that had them; `total`
/// is those requests' own latency (from the send, uncorrected, connect included).
#[derive(Debug, Clone)]
pub struct PhaseHists {
    pub dns: Histogram<u64>,
    pub connect: Histogram<u64>,
    pub tls: Histogram<u64>,
    pub send: Histogram<u64>,
    pub ttfb: Histogram<u64>,
    pub receive: Histogram<u64>,
    pub total: Histogram<u64>,
}

impl Default for PhaseHists {
    fn default() -> Self {
        PhaseHists {
            dns: new_phase_histogram(),
            connect: new_phase_histogram(),
            tls: new_phase_histogram(),
            send: new_phase_histogram(),
            ttfb: new_phase_histogram(),
            receive: new_phase_histogram(),
            total: new_phase_histogram(),
        }
    }
}

impl PhaseHists {
    fn all_mut(&mut self) -> [&mut Histogram<u64>; 7] {
        [
            &mut self.dns,
            &mut self.connect,
            &mut self.tls,
            &mut self.send,
            &mut self.ttfb,
            &mut self.receive,
            &mut self.total,
        ]
    }

    pub fn record(&mut self, p: &Phases, total_us: u64) {
        if let Some(us) = p.dns_us {
            record_into(&mut self.dns, us);
        }
        if let Some(us) = p.send_us {
            record_into(&mut self.send, us);
        }
        if let Some(us) = p.connect_us {
            record_into(&mut self.connect, us);
        }
        if let Some(us) = p.tls_us {
            record_into(&mut self.tls, us);
        }
        record_into(&mut self.ttfb, p.ttfb_us);
        record_into(&mut self.receive, p.receive_us);
        record_into(&mut self.total, total_us);
    }

    pub fn add(&mut self, o: &PhaseHists) {
        let theirs = [
            &o.dns, &o.connect, &o.tls, &o.send, &o.ttfb, &o.receive, &o.total,
        ];
        for (mine, theirs) in self.all_mut().into_iter().zip(theirs) {
            mine.add(theirs)
                .expect("auto-resizing histograms always add");
        }
    }

    pub fn is_empty(&self) -> bool {
        self.total.is_empty()
    }

    pub fn reset(&mut self) {
        for h in self.all_mut() {
            h.reset();
        }
    }
}

/// Significant digits of a phase histogram ([`PhaseHists`]).
pub const PHASE_SIGFIG: u8 = 2;

/// A new auto-resizing phase histogram: microseconds, [`PHASE_SIGFIG`] significant digits.
pub fn new_phase_histogram() -> Histogram<u64> {
    Histogram::new(PHASE_SIGFIG).expect("2 significant digits is valid")
}

/// A new auto-resizing histogram: microseconds, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new(3).expect("3 significant digits is valid")
}

/// Counts for one endpoint over some interval.
#[derive(Debug, Clone)]
pub struct Accum {
    pub hist: Histogram<u64>,
    pub requests: u64,
    pub ok: u64,
    pub errors: u64,
    /// Requests cut off at the end of the run: not in `requests` (nor `errors`).
    pub aborted: u64,
    pub bytes: u64,
    /// Status code -> count; a short list searched linearly (few distinct codes).
    pub status: Vec<(u16, u64)>,
    pub kinds: [u64; ErrorKind::COUNT],
    /// A few error messages (with their kind key) seen in this interval.
    pub messages: Vec<(String, String)>,
    /// Uncorrected latencies (open model only).
    pub hist_raw: Option<Histogram<u64>>,
    /// Steps not sent because a variable they need was not captured.
    pub skipped: u64,
    /// (check id, passes, fails).
    pub checks: Vec<(usize, u64, u64)>,
    /// Attempts sent again, by [`RetryReason`].
    pub retries: [u64; RetryReason::COUNT],
    /// Microseconds spent in attempts that were then sent again.
    pub retry_us: u64,
    /// Phase timings, once a request had them.
    pub phases: Option<Box<PhaseHists>>,
    /// Streamed responses, once there was one.
    pub stream: Option<Box<super::StreamHists>>,
    /// WebSocket sessions, once there was one.
    pub ws: Option<Box<super::WsStats>>,
}

impl Default for Accum {
    fn default() -> Self {
        Accum {
            hist: new_histogram(),
            requests: 0,
            ok: 0,
            errors: 0,
            aborted: 0,
            bytes: 0,
            status: Vec::new(),
            kinds: [0; ErrorKind::COUNT],
            messages: Vec::new(),
            hist_raw: None,
            skipped: 0,
            checks: Vec::new(),
            retries: [0; RetryReason::COUNT],
            retry_us: 0,
            phases: None,
            stream: None,
            ws: None,
        }
    }
}

pub(super) fn record_into(h: &mut Histogram<u64>, us: u64) {
    // record() grows the auto-resizing histogram; saturating_record() would clamp to its
    // current (initially tiny) range.
    if h.record(us).is_err() {
        h.saturating_record(us);
    }
}

/// Adds (id, passes, fails) into a short list.
pub fn add_check(list: &mut Vec<(usize, u64, u64)>, id: usize, pass: u64, fail: u64) {
    match list.iter_mut().find(|c| c.0 == id) {
        Some(c) => {
            c.1 += pass;
            c.2 += fail;
        }
        None => list.push((id, pass, fail)),
    }
}

/// Adds `n` responses with status `code` to a short list of (code, count).
#[inline]
fn add_status(list: &mut Vec<(u16, u64)>, code: u16, n: u64) {
    match list.iter_mut().find(|(c, _)| *c == code) {
        Some((_, m)) => *m += n,
        None => list.push((code, n)),
    }
}

impl Accum {
    pub fn record(&mut self, s: &Sample) {
        if let Outcome::Error(ErrorKind::Aborted) = s.outcome {
            // Cut off, not answered: neither a request that completed nor an error.
            self.aborted += 1;
            return;
        }
        self.requests += 1;
        self.bytes += s.bytes;
        if let Some(r) = s.retry {
            self.retries[r.reason.index()] += 1;
            self.retry_us += r.first_us;
        }
        if let Some(us) = s.latency_us {
            record_into(&mut self.hist, us);
        }
        if let Some(raw) = s.raw_latency_us {
            record_into(self.hist_raw.get_or_insert_with(new_histogram), raw);
        }
        if let (Some(p), Some(total)) = (&s.phases, s.raw_latency_us.or(s.latency_us)) {
            self.phases.get_or_insert_default().record(p, total);
        }
        match s.outcome {
            Outcome::Status(code) => {
                if code < 400 {
                    self.ok += 1;
                } else {
                    self.errors += 1;
                }
                add_status(&mut self.status, code, 1);
            }
            Outcome::Error(kind) => {
                self.errors += 1;
                self.kinds[kind.index()] += 1;
            }
            Outcome::Rejected(code, kind) => {
                self.errors += 1;
                self.kinds[kind.index()] += 1;
                add_status(&mut self.status, code, 1);
            }
        }
    }

    pub fn add(&mut self, other: &Accum) {
        self.skipped += other.skipped;
        for &(id, p, f) in &other.checks {
            add_check(&mut self.checks, id, p, f);
        }
        self.aborted += other.aborted;
        if let Some(st) = other.stream.as_deref().filter(|s| !s.is_empty()) {
            self.stream.get_or_insert_default().add(st);
        }
        if let Some(ws) = other.ws.as_deref().filter(|s| !s.is_empty()) {
            self.ws.get_or_insert_default().add(ws);
        }
        if other.requests == 0 && other.hist.is_empty() {
            return;
        }
        if let Some(raw) = &other.hist_raw {
            self.hist_raw
                .get_or_insert_with(new_histogram)
                .add(raw)
                .expect("auto-resizing histograms always add");
        }
        self.hist
            .add(&other.hist)
            .expect("auto-resizing histograms always add");
        if let Some(p) = other.phases.as_deref().filter(|p| !p.is_empty()) {
            self.phases.get_or_insert_default().add(p);
        }
        self.requests += other.requests;
        for (a, b) in self.retries.iter_mut().zip(other.retries.iter()) {
            *a += b;
        }
        self.retry_us += other.retry_us;
        self.ok += other.ok;
        self.errors += other.errors;
        self.bytes += other.bytes;
        for &(code, n) in &other.status {
            add_status(&mut self.status, code, n);
        }
        for (a, b) in self.kinds.iter_mut().zip(other.kinds.iter()) {
            *a += b;
        }
    }

    /// True when nothing was recorded since the last clear.
    pub fn is_empty(&self) -> bool {
        self.requests == 0
            && self.aborted == 0
            && self.hist.is_empty()
            && self.skipped == 0
            && self.checks.is_empty()
            && self.messages.is_empty()
            && self.stream.as_deref().is_none_or(|s| s.is_empty())
            && self.ws.as_deref().is_none_or(|s| s.is_empty())
    }

    pub fn clear(&mut self) {
        // Zeroing a grown histogram touches its whole counts array: skip clean ones.
        if self.is_empty() && self.hist_raw.as_ref().is_none_or(|h| h.is_empty()) {
            return;
        }
        self.hist.reset();
        self.requests = 0;
        self.ok = 0;
        self.errors = 0;
        self.aborted = 0;
        self.bytes = 0;
        self.status.clear();
        self.kinds = [0; ErrorKind::COUNT];
        self.messages.clear();
        if let Some(h) = &mut self.hist_raw {
            h.reset();
        }
        if let Some(p) = self.phases.as_deref_mut().filter(|p| !p.is_empty()) {
            p.reset();
        }
        if let Some(s) = self.stream.as_deref_mut().filter(|s| !s.is_empty()) {
            s.reset();
        }
        if let Some(s) = self.ws.as_deref_mut().filter(|s| !s.is_empty()) {
            s.reset();
        }
        self.skipped = 0;
        self.checks.clear();
        self.retries = [0; RetryReason::COUNT];
        self.retry_us = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_aborted_request_is_neither_a_request_nor_an_error() {
        let mut a = Accum::default();
        let sample = |outcome| Sample {
            endpoint: 0,
            latency_us: None,
            outcome,
            bytes: 0,
            raw_latency_us: None,
            retry: None,
            phases: None,
        };
        a.record(&sample(Outcome::Status(200)));
        a.record(&sample(Outcome::Error(ErrorKind::Aborted)));
        a.record(&sample(Outcome::Error(ErrorKind::Aborted)));
        assert_eq!((a.requests, a.ok, a.errors, a.aborted), (1, 1, 0, 2));
        assert_eq!(a.kinds[ErrorKind::Aborted.index()], 0);
        let mut b = Accum::default();
        b.add(&a);
        assert_eq!(b.aborted, 2);
        assert!(!a.is_empty());
        a.clear();
        assert_eq!(a.aborted, 0);
    }

    #[test]
    fn phases_are_recorded_added_and_cleared() {
        let timed = |connect: Option<u64>| Sample {
            endpoint: 0,
            latency_us: Some(1_000),
            outcome: Outcome::Status(200),
            bytes: 0,
            raw_latency_us: None,
            retry: None,
            phases: Some(Phases {
                dns_us: connect.map(|_| 30),
                connect_us: connect,
                tls_us: None,
                send_us: Some(20),
                ttfb_us: 700,
                receive_us: 200,
            }),
        };
        let mut a = Accum::default();
        a.record(&timed(Some(100)));
        a.record(&timed(None));
        // Not timed (another client): in the latency, not in the phases.
        a.record(&Sample {
            phases: None,
            ..timed(None)
        });
        let p = a.phases.as_deref().unwrap();
        assert_eq!((p.connect.len(), p.tls.len()), (1, 0));
        assert_eq!((p.dns.len(), p.dns.max(), p.send.len()), (1, 30, 2));
        assert_eq!((p.ttfb.len(), p.receive.len(), p.total.len()), (2, 2, 2));
        // Phases have 2 significant digits: 700 is in a bucket whose top is 703.
        assert_eq!(p.ttfb.max(), p.ttfb.highest_equivalent(700));
        assert_eq!(p.ttfb.max(), 703);
        let mut sum = Accum::default();
        sum.add(&a);
        sum.add(&a);
        assert_eq!(sum.phases.as_deref().unwrap().total.len(), 4);
        a.clear();
        assert!(a.phases.as_deref().unwrap().is_empty());
    }

    #[test]
    fn records_large_values_exactly() {
        let mut a = Accum::default();
        for us in [5u64, 1_000, 250_000, 3_000_000] {
            a.record(&Sample {
                endpoint: 0,
                latency_us: Some(us),
                outcome: Outcome::Status(200),
                bytes: 1,
                raw_latency_us: None,
                retry: None,
                phases: None,
            });
        }
        assert_eq!(a.hist.len(), 4);
        assert_eq!(a.hist.min(), 5);
        assert!(a.hist.equivalent(a.hist.max(), 3_000_000));
        assert!(a.hist.equivalent(a.hist.value_at_quantile(0.5), 1_000));
        assert_eq!(a.requests, 4);
        assert_eq!(a.ok, 4);
    }
}

/// What a shard holds between two aggregator ticks.
#[derive(Debug, Clone)]
pub struct ShardData {
    pub endpoints: Vec<Accum>,
}

impl ShardData {
    pub fn new(n_endpoints: usize) -> Self {
        ShardData {
            endpoints: (0..n_endpoints).map(|_| Accum::default()).collect(),
        }
    }
}

pub(crate) type Shards = Arc<[Mutex<ShardData>]>;

/// A handle a worker records through. Cheap to clone; each clone may pick its own shard.
#[derive(Clone)]
pub struct Recorder {
    shards: Shards,
    shard: usize,
}

impl Recorder {
    pub(crate) fn new(shards: Shards, shard: usize) -> Self {
        let shard = shard % shards.len();
        Recorder { shards, shard }
    }

    /// Records one finished request.
    pub fn record(&self, s: &Sample) {
        let mut data = self.shards[self.shard]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(acc) = data.endpoints.get_mut(s.endpoint) {
            acc.record(s);
        }
    }

    /// Records a failed request with its message (kept in a small bounded sample).
    pub fn record_error(&self, s: &Sample, message: impl FnOnce() -> String) {
        let mut data = self.shards[self.shard]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(acc) = data.endpoints.get_mut(s.endpoint) {
            acc.record(s);
            if acc.messages.len() < MESSAGES_PER_TICK {
                let key = super::kind::error_key(s.outcome).unwrap_or_default();
                acc.messages.push((key, message()));
            }
        }
    }

    /// Counts a step that was not sent because a variable it needs is missing.
    pub fn record_skipped(&self, endpoint: usize) {
        let mut data = self.shards[self.shard]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(acc) = data.endpoints.get_mut(endpoint) {
            acc.skipped += 1;
        }
    }

    /// Counts check results: (check id, passed).
    pub fn record_checks(&self, endpoint: usize, results: &[(usize, bool)]) {
        if results.is_empty() {
            return;
        }
        let mut data = self.shards[self.shard]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(acc) = data.endpoints.get_mut(endpoint) {
            for &(id, ok) in results {
                add_check(&mut acc.checks, id, ok as u64, !ok as u64);
            }
        }
    }

    /// Records what a streamed response did (whatever its outcome).
    pub fn record_stream(&self, endpoint: usize, s: &super::StreamSample) {
        self.with(endpoint, |acc| acc.stream.get_or_insert_default().record(s));
    }

    /// Records what a WebSocket session did (whatever its outcome).
    pub fn record_ws(&self, endpoint: usize, s: &super::WsSample) {
        self.with(endpoint, |acc| acc.ws.get_or_insert_default().record(s));
    }

    /// Runs `f` on this shard's counts of `endpoint`.
    fn with(&self, endpoint: usize, f: impl FnOnce(&mut Accum)) {
        let mut data = self.shards[self.shard]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(acc) = data.endpoints.get_mut(endpoint) {
            f(acc);
        }
    }

    /// Another handle on the same shards, spread to shard `n`.
    pub fn for_worker(&self, n: usize) -> Recorder {
        Recorder::new(self.shards.clone(), n)
    }
}
