//! Merges the shards on a tick and publishes snapshots.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::gauges::Gauges;
use super::kind::{ErrorKind, RetryReason};
use super::recorder::{Accum, Recorder, ShardData, Shards};
use super::snapshot::{push_row, EndpointStats, ErrorSample, Snapshot, TimelineRow, RECENT_ERRORS};
use crate::state::{Control, RunState};

/// How often shards are merged and a snapshot published.
pub const TICK: Duration = Duration::from_millis(100);
/// Timeline rows of the total carried by live snapshots (the console shows at most this
/// many seconds). Live per-endpoint timelines are empty: nothing live draws them, and
/// copying 20 endpoints' windows every second cost megabytes of heap on long runs. The
/// final snapshot carries every series' full timeline.
pub const LIVE_ROWS: usize = 600;
/// Ticks over which "now" rates are measured (one second).
const RATE_TICKS: usize = 10;

struct Series {
    /// Everything so far.
    cumulative: EndpointStats,
    /// The current, not yet complete, second.
    second: Accum,
    /// (requests, errors) of the last ticks, newest last.
    recent: VecDeque<(u64, u64, Duration)>,
    /// The last seconds, kept only when a windowed threshold needs them.
    window: Option<super::verdict::Window>,
    /// Keep each second's histogram (encoded) for HDR interval logs.
    keep_hdr: bool,
    /// Every closed second.
    full: Vec<TimelineRow>,
    /// Rows of `full` that live snapshots carry (see [`LIVE_ROWS`]).
    live_rows: usize,
}

impl Series {
    fn new(name: &str, method: &str) -> Self {
        Series {
            cumulative: EndpointStats::new(name, method),
            second: Accum::default(),
            recent: VecDeque::with_capacity(RATE_TICKS + 1),
            window: None,
            keep_hdr: false,
            full: Vec::new(),
            live_rows: 0,
        }
    }

    fn absorb_tick(&mut self, tick: &Accum, tick_len: Duration, t: f64) {
        let c = &mut self.cumulative;
        c.skipped += tick.skipped;
        c.aborted += tick.aborted;
        if let Some(st) = tick.stream.as_deref().filter(|s| !s.is_empty()) {
            Arc::make_mut(c.stream.get_or_insert_with(Default::default)).add(st);
        }
        if let Some(ws) = tick.ws.as_deref().filter(|s| !s.is_empty()) {
            Arc::make_mut(c.ws.get_or_insert_with(Default::default)).add(ws);
        }
        for &(id, p, f) in &tick.checks {
            let e = c.checks.entry(id).or_default();
            e.0 += p;
            e.1 += f;
        }
        if tick.requests > 0 || !tick.hist.is_empty() {
            c.requests += tick.requests;
            c.ok += tick.ok;
            c.errors += tick.errors;
            c.bytes += tick.bytes;
            for &(code, n) in &tick.status {
                *c.status.entry(code).or_default() += n;
                if code >= 400 {
                    *c.errors_by_kind.entry(format!("http_{code}")).or_default() += n;
                }
            }
            for reason in RetryReason::ALL {
                let n = tick.retries[reason.index()];
                if n > 0 {
                    *c.retries.entry(reason.as_str().to_string()).or_default() += n;
                }
            }
            c.retry_us += tick.retry_us;
            for kind in ErrorKind::ALL {
                let n = tick.kinds[kind.index()];
                if n > 0 {
                    *c.errors_by_kind
                        .entry(kind.as_str().to_string())
                        .or_default() += n;
                }
            }
            if !tick.hist.is_empty() {
                Arc::make_mut(&mut c.hist)
                    .add(&tick.hist)
                    .expect("auto-resizing histograms always add");
            }
            if let Some(raw) = tick.hist_raw.as_ref().filter(|h| !h.is_empty()) {
                let mine = c
                    .hist_raw
                    .get_or_insert_with(|| Arc::new(super::recorder::new_histogram()));
                Arc::make_mut(mine)
                    .add(raw)
                    .expect("auto-resizing histograms always add");
            }
            if let Some(p) = tick.phases.as_deref().filter(|p| !p.is_empty()) {
                Arc::make_mut(c.phases.get_or_insert_with(Default::default)).add(p);
            }
            if !tick.messages.is_empty() {
                let recent = Arc::make_mut(&mut c.recent_errors);
                for (kind, message) in &tick.messages {
                    recent.push_back(ErrorSample {
                        t,
                        kind: kind.clone(),
                        message: message.clone(),
                    });
                    if recent.len() > RECENT_ERRORS {
                        recent.pop_front();
                    }
                }
            }
            self.second.add(tick);
        }
        self.recent
            .push_back((tick.requests, tick.errors, tick_len));
        while self.recent.len() > RATE_TICKS {
            self.recent.pop_front();
        }
        let span: Duration = self.recent.iter().map(|r| r.2).sum();
        let secs = span.as_secs_f64().max(1e-3);
        c.rps_now = self.recent.iter().map(|r| r.0).sum::<u64>() as f64 / secs;
        c.errors_now = self.recent.iter().map(|r| r.1).sum::<u64>() as f64 / secs;
    }

    fn close_second(&mut self, t: u64, vus: u32) {
        let s = &self.second;
        // Per-second HDR encodings cost a few KB each: keep them only when an HDR
        // interval log was asked for, so memory stays flat on long runs.
        let mut row = if self.keep_hdr {
            TimelineRow::with_hist(t, &s.hist)
        } else {
            TimelineRow::from_hist(t, &s.hist)
        };
        row.requests = s.requests;
        row.ok = s.ok;
        row.errors = s.errors;
        row.bytes = s.bytes;
        row.vus = vus;
        // The full timeline stays private (amortised pushes, no copy per snapshot);
        // live snapshots carry only its recent rows, the final one carries it all.
        push_row(&mut self.full, row);
        if self.live_rows > 0 {
            let from = self.full.len().saturating_sub(self.live_rows);
            self.cumulative.timeline = Arc::new(self.full[from..].to_vec());
        }
        if let Some(w) = &mut self.window {
            w.push(&self.second);
        }
        self.second.clear();
    }
}

/// Owns the merged state of one run.
pub struct Aggregator {
    scenario: String,
    shards: Shards,
    spare: ShardData,
    gauges: Arc<Gauges>,
    control: Arc<dyn Control>,
    started_at: SystemTime,
    endpoints: Vec<Series>,
    total: Series,
    thresholds: Vec<crate::thresholds::ThresholdSpec>,
    abort_sent: bool,
    /// Reused between ticks so its histograms are not allocated every 100 ms.
    tick_buf: ShardData,
    /// The next whole second (since start) to close.
    next_second: u64,
    last_tick: Instant,
}

impl Aggregator {
    /// A new aggregator for these endpoints (name, method) with `n_shards` shards; its
    /// snapshots carry what `gauges` measure and what `control` says of the run.
    pub fn new(
        scenario: &str,
        endpoints: &[(String, String)],
        n_shards: usize,
        gauges: Arc<Gauges>,
        control: Arc<dyn Control>,
    ) -> (Aggregator, Recorder) {
        let n = endpoints.len();
        let shards: Shards = (0..n_shards.max(1))
            .map(|_| Mutex::new(ShardData::new(n)))
            .collect::<Vec<_>>()
            .into();
        let recorder = Recorder::new(shards.clone(), 0);
        let started = gauges.started;
        let agg = Aggregator {
            scenario: scenario.to_string(),
            shards,
            spare: ShardData::new(n),
            gauges,
            control,
            started_at: SystemTime::now(),
            endpoints: endpoints.iter().map(|(n, m)| Series::new(n, m)).collect(),
            total: Series {
                live_rows: LIVE_ROWS,
                ..Series::new("total", "")
            },
            next_second: 1,
            last_tick: started,
            thresholds: Vec::new(),
            abort_sent: false,
            tick_buf: ShardData::new(n),
        };
        (agg, recorder)
    }

    /// Keep every second's histogram (for `--out hdr`); off by default to keep memory flat.
    pub fn keep_interval_histograms(&mut self, keep: bool) {
        for s in &mut self.endpoints {
            s.keep_hdr = keep;
        }
        self.total.keep_hdr = keep;
    }

    /// Thresholds to evaluate on every snapshot; keeps the seconds windows need.
    pub fn set_thresholds(&mut self, specs: Vec<crate::thresholds::ThresholdSpec>) {
        for spec in &specs {
            if let Some(w) = spec.threshold.window {
                let series = match spec.endpoint {
                    Some(i) => &mut self.endpoints[i],
                    None => &mut self.total,
                };
                let win = series.window.get_or_insert_with(Default::default);
                win.cap = win.cap.max(w.as_secs().max(1) as usize);
            }
        }
        self.thresholds = specs;
    }

    fn verdicts(&self, elapsed: f64) -> Vec<super::verdict::ThresholdStatus> {
        let dropped = self.gauges.dropped.load(Ordering::Relaxed);
        let generator = self.gauges.generator();
        self.thresholds
            .iter()
            .map(|spec| {
                let series = match spec.endpoint {
                    Some(i) => &self.endpoints[i],
                    None => &self.total,
                };
                super::verdict::evaluate(
                    spec,
                    &series.cumulative,
                    series.window.as_ref(),
                    elapsed,
                    dropped,
                    &generator,
                )
            })
            .collect()
    }

    /// Stops the run when an abort_on_fail threshold fails after its grace.
    fn check_abort(&mut self, snap: &Snapshot) {
        if self.abort_sent {
            return;
        }
        for (spec, st) in self.thresholds.iter().zip(&snap.thresholds) {
            if spec.abort_on_fail && st.passed == Some(false) && snap.run_time >= spec.abort_grace {
                self.abort_sent = true;
                self.control.abort(st.abort_reason());
                return;
            }
        }
    }

    /// Drains every shard, closes finished seconds, and returns a fresh snapshot.
    pub fn tick(&mut self, now: Instant) -> Snapshot {
        let started = self.gauges.started;
        let elapsed = now.saturating_duration_since(started);
        let tick_len = now.saturating_duration_since(self.last_tick);
        self.last_tick = now;
        let t = elapsed.as_secs_f64();

        let mut tick_total = Accum::default();
        let mut tick = std::mem::replace(&mut self.tick_buf, ShardData::new(0));
        for acc in &mut tick.endpoints {
            acc.clear();
        }
        for shard in self.shards.iter() {
            {
                let mut guard = shard.lock().unwrap_or_else(|p| p.into_inner());
                std::mem::swap(&mut *guard, &mut self.spare);
            }
            for (acc, taken) in tick.endpoints.iter_mut().zip(self.spare.endpoints.iter()) {
                // add() carries skipped and checks even when no request finished
                acc.add(taken);
                acc.messages.extend(taken.messages.iter().cloned());
            }
            for acc in &mut self.spare.endpoints {
                acc.clear();
            }
        }
        for (series, acc) in self.endpoints.iter_mut().zip(tick.endpoints.iter()) {
            series.absorb_tick(acc, tick_len, t);
            tick_total.add(acc);
            tick_total.messages.extend(acc.messages.iter().cloned());
        }
        self.total.absorb_tick(&tick_total, tick_len, t);
        self.tick_buf = tick;

        let vus = self.gauges.vus_active.load(Ordering::Relaxed);
        while elapsed.as_secs() >= self.next_second {
            self.close_second(vus);
        }
        let snap = self.snapshot(now);
        self.check_abort(&snap);
        snap
    }

    fn close_second(&mut self, vus: u32) {
        let t = self.next_second - 1;
        for s in &mut self.endpoints {
            s.close_second(t, vus);
        }
        self.total.close_second(t, vus);
        self.next_second += 1;
    }

    /// The last tick of a run: drains what is left, closes the partial last second.
    pub fn finish(&mut self, now: Instant) -> Snapshot {
        self.tick(now);
        if self.total.second.requests > 0 {
            let vus = self.gauges.vus_active.load(Ordering::Relaxed);
            self.close_second(vus);
        }
        let mut snap = self.snapshot(now);
        for (e, s) in snap.endpoints.iter_mut().zip(&self.endpoints) {
            e.timeline = Arc::new(s.full.clone());
        }
        snap.total.timeline = Arc::new(self.total.full.clone());
        snap
    }

    fn snapshot(&self, now: Instant) -> Snapshot {
        let g = &self.gauges;
        let c = self.control.snapshot(now);
        let elapsed = now.saturating_duration_since(g.started);
        Snapshot {
            scenario: self.scenario.clone(),
            started_at: self.started_at,
            elapsed,
            run_time: c.run_time,
            planned: c.planned,
            startup: g.startup(),
            state: c.state,
            vus_active: g.vus_active.load(Ordering::Relaxed),
            vus_target: g.vus_target.load(Ordering::Relaxed),
            in_flight: g.in_flight.load(Ordering::Relaxed),
            connections_open: g.connections_open.load(Ordering::Relaxed),
            connections_open_known: !g.connections_open_unknown.load(Ordering::Relaxed),
            connections_opened: g.connections_opened.load(Ordering::Relaxed),
            endpoints: self
                .endpoints
                .iter()
                .map(|s| s.cumulative.clone())
                .collect(),
            total: self.total.cumulative.clone(),
            events: Arc::new(c.events),
            spike: c.spike,
            partial: c.partial,
            abort: c.abort,
            aborted_by: c.aborted_by,
            rate: c.rate,
            dropped: g.dropped.load(Ordering::Relaxed),
            iterations_done: g.iterations_done.load(Ordering::Relaxed),
            iteration_limit: c.iteration_limit,
            stage: c.stage,
            thresholds: self.verdicts(elapsed.as_secs_f64()),
            generator: g.generator(),
            target: g.target(),
            workers: None,
        }
    }

    /// Ticks until `done` resolves, publishing every snapshot; returns the final one.
    pub async fn run(
        mut self,
        publish: tokio::sync::watch::Sender<Arc<Snapshot>>,
        done: tokio::sync::oneshot::Receiver<()>,
    ) -> Snapshot {
        let mut interval = tokio::time::interval(TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(done);
        loop {
            tokio::select! {
                _ = interval.tick() => {
                    let snap = self.tick(Instant::now());
                    publish.send_replace(Arc::new(snap));
                }
                _ = &mut done => break,
            }
        }
        let mut last = self.finish(Instant::now());
        last.state = RunState::Done;
        publish.send_replace(Arc::new(last.clone()));
        last
    }
}
