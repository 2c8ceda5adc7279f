//! One virtual user: its own connection and variables, running its user type's flow.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::Notify;

use super::executor::{Attempt, Rendered, Requests, VuClient, Want};
use super::gate::Gate;
use super::inspect::{eval_capture, eval_check, Response};
use super::state::ControlState;
use crate::metrics::{ErrorKind, Gauges, Outcome, Recorder, Sample};
use crate::scenario::template::Values;
use crate::scenario::{DataMode, DataSet, Endpoint, Flow, Step, UserType};

/// What every VU of a run shares.
pub struct RunCtx {
    pub requests: Arc<Requests>,
    /// Requests a VU may have in flight at once in a batch step (`[http]
    /// streams_per_connection`; 1: one at a time).
    pub streams: usize,
    pub endpoints: Vec<Endpoint>,
    pub wants: Vec<Want>,
    pub users: Vec<UserType>,
    /// Closed model: user type of VU n is `user_pattern[n % len]` (smooth weighted).
    pub user_pattern: Vec<usize>,
    /// Open model: cumulative user weights for a pick per iteration.
    pub user_cumulative: Vec<u64>,
    pub data: Vec<DataSet>,
    pub data_seq: Vec<AtomicU64>,
    pub n_vars: usize,
    /// A fleet worker's part of the run: its VU ids and sequential rows are the run's
    /// numbers of its own units, so the fleet uses the rows one process would.
    pub segment: Option<Arc<dyn super::Segment>>,
    pub gauges: Arc<Gauges>,
    pub control: Arc<ControlState>,
    pub gate: Gate,
    /// Thread-per-core engine threads, when the run has them.
    pub lanes: Option<Arc<super::Lanes>>,
    /// Clients whose connections were opened before the run (a fleet worker's).
    pub warm: Option<Arc<super::Warm>>,
    pub recorder: Recorder,
    pub iteration_limit: Option<u64>,
    pub iterations_started: AtomicU64,
    /// Set when a VU found the iteration limit reached: the run ends, and the iterations
    /// already started run to their end (the limit counts whole iterations).
    pub limit_reached: AtomicBool,
    /// Signalled when the iteration limit is reached.
    pub exhausted: Notify,
    /// TEST-ONLY fault injection: `VOLLEY_TEST_PANIC_AFTER=N` (read once when the run
    /// starts) makes the VU that finishes the run's Nth request panic, so tests can check
    /// that a panicking worker still ends the run cleanly (tests/interrupt.rs). Debug
    /// builds only (the binary `cargo test` runs): a release build neither reads the
    /// variable nor checks it per request.
    #[cfg(debug_assertions)]
    pub panic_after: Option<u64>,
    /// Requests finished, counted only when `panic_after` is set.
    #[cfg(debug_assertions)]
    pub finished: AtomicU64,
}

/// Ends the run when the VU task it lives in panics (a bug): tokio would catch the panic
/// and the run would go on one VU short and exit 0. The run stops as an abort instead:
/// what was recorded is kept, the results are partial, the process exits 1.
pub struct StopOnPanic<'a>(pub &'a ControlState);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            super::note_panic();
            self.0.mark_partial();
            crate::state::Control::abort(self.0, "a VU panicked".into());
        }
    }
}

/// First and longest wait after a failed connect (DNS, TCP or TLS handshake).
const BACKOFF_FIRST: std::time::Duration = std::time::Duration::from_millis(10);
const BACKOFF_MAX: std::time::Duration = std::time::Duration::from_secs(1);

/// The next wait after a failed connect: `step` doubles from [`BACKOFF_FIRST`] up to
/// [`BACKOFF_MAX`] (a success resets it to zero); the wait is a random point in its upper
/// half, so VUs that failed together do not come back together.
fn backoff(step: &mut std::time::Duration, rng: &mut fastrand::Rng) -> std::time::Duration {
    *step = (*step * 2).clamp(BACKOFF_FIRST, BACKOFF_MAX);
    let half = *step / 2;
    half + half.mul_f64(rng.f64())
}

/// Smooth weighted round robin: a repeating order of user types that keeps any prefix
/// close to the weights.
pub fn user_pattern(users: &[UserType]) -> Vec<usize> {
    let weights: Vec<i64> = users.iter().map(|u| u.weight as i64).collect();
    let total: i64 = weights.iter().sum();
    let len = total.clamp(1, 1000);
    let mut current = vec![0i64; weights.len()];
    let mut out = Vec::with_capacity(len as usize);
    for _ in 0..len {
        for (c, w) in current.iter_mut().zip(&weights) {
            *c += w;
        }
        let (best, _) = current
            .iter()
            .enumerate()
            .max_by_key(|(i, c)| (**c, std::cmp::Reverse(*i)))
            .expect("at least one user type");
        current[best] -= total;
        out.push(best);
    }
    out
}

fn pick_weighted(cumulative: &[u64], rng: &mut fastrand::Rng) -> usize {
    let total = *cumulative.last().unwrap_or(&0);
    if total == 0 || cumulative.len() == 1 {
        return 0;
    }
    let x = rng.u64(0..total);
    cumulative.partition_point(|&c| c <= x)
}

/// Per-VU state: connections, variables, the data rows of this iteration.
pub struct VuState {
    pub id: u64,
    pub client: VuClient,
    /// More clients on the same connections (HTTP/2: streams of the VU's one
    /// connection), for a batch step's requests in flight with `client`'s; made on the
    /// first batch.
    pub batch_clients: Vec<VuClient>,
    pub rng: fastrand::Rng,
    pub vars: Vec<Option<String>>,
    pub iteration: u64,
    /// Row of each data set for the current iteration.
    pub rows: Vec<usize>,
    /// Open model: user types whose on_start this VU has run.
    pub started: Vec<bool>,
    /// Wait before the next request after failing to connect (doubles, capped).
    pub backoff: std::time::Duration,
    pub recorder: Recorder,
}

impl VuState {
    pub fn new(ctx: &RunCtx, id: u64) -> VuState {
        VuState {
            id,
            client: ctx
                .warm
                .as_ref()
                .and_then(|w| w.take(id, &ctx.gauges))
                .unwrap_or_else(|| VuClient::new(ctx.requests.clone(), ctx.gauges.clone(), id)),
            batch_clients: Vec::new(),
            rng: fastrand::Rng::new(),
            vars: vec![None; ctx.n_vars],
            iteration: 0,
            rows: vec![0; ctx.data.len()],
            started: vec![false; ctx.users.len()],
            backoff: std::time::Duration::ZERO,
            recorder: ctx.recorder.for_worker(id as usize),
        }
    }
}

struct Render<'a> {
    st: &'a mut VuState,
    data: &'a [DataSet],
}

impl Values for Render<'_> {
    fn var(&self, idx: usize) -> Option<&str> {
        self.st.vars.get(idx)?.as_deref()
    }
    fn data(&self, dataset: usize, column: usize) -> Option<&str> {
        let ds = self.data.get(dataset)?;
        ds.rows
            .get(self.st.rows[dataset])?
            .get(column)
            .map(String::as_str)
    }
    fn vu(&self) -> u64 {
        self.st.id
    }
    fn iteration(&self) -> u64 {
        self.st.iteration
    }
    fn rng(&mut self) -> &mut fastrand::Rng {
        &mut self.st.rng
    }
}

/// Counts a VU as active while it lives.
pub struct Active(Arc<Gauges>);

impl Active {
    pub fn new(g: &Arc<Gauges>) -> Active {
        g.vus_active.fetch_add(1, Ordering::Relaxed);
        Active(g.clone())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.vus_active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A request in flight. If dropped before `finish` (the task was cut off at the end of
/// the run), the request is recorded as `aborted`: apart from requests and errors.
struct InFlight<'a> {
    gauges: &'a Gauges,
    recorder: &'a Recorder,
    endpoint: usize,
    done: bool,
}

impl InFlight<'_> {
    fn finish(mut self) {
        self.done = true;
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.gauges.in_flight.fetch_sub(1, Ordering::Relaxed);
        if !self.done {
            let s = Sample {
                endpoint: self.endpoint,
                latency_us: None,
                outcome: Outcome::Error(ErrorKind::Aborted),
                bytes: 0,
                raw_latency_us: None,
                retry: None,
                phases: None,
            };
            // The cause is the run's (`Gauges::aborted_by`), not this request's.
            self.recorder.record(&s);
        }
    }
}

/// What became of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepResult {
    Sent,
    /// Not sent: a variable it needs was not captured.
    Skipped,
}

impl RunCtx {
    /// Spawns a VU's task: on its lane (`id mod lanes`) with thread-per-core, else on the
    /// current runtime.
    pub fn spawn_vu<F>(&self, id: u64, fut: F) -> tokio::task::JoinHandle<()>
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        match &self.lanes {
            Some(l) => l.spawn(l.lane_of(id), fut),
            None => tokio::spawn(fut),
        }
    }

    /// A VU started: the first one starts the run clock.
    pub fn vu_started(&self) {
        if self.gauges.vu_started() {
            self.control.start_run(Instant::now());
        }
    }

    /// Sends one request of the flow; `scheduled` is when the iteration was due (open
    /// model), for coordinated-omission-corrected latency.
    pub async fn request(
        &self,
        st: &mut VuState,
        idx: usize,
        scheduled: Option<Instant>,
    ) -> StepResult {
        let Some(rendered) = self.render(st, idx) else {
            return StepResult::Skipped;
        };
        let recorder = st.recorder.clone();
        let (attempt, queued) = self
            .send(&mut st.client, &recorder, idx, rendered.as_ref(), scheduled)
            .await;
        let connect_failed = attempt.connect_failed;
        self.conclude(st, idx, attempt, queued);
        self.after_connect(st, connect_failed).await;
        StepResult::Sent
    }

    /// Sends a batch step's requests together: up to `streams` in flight at once, each
    /// on a client of its own over the VU's connection (HTTP/2: a stream each). Checks,
    /// captures and recording run in the batch's order once all have ended.
    async fn batch(
        &self,
        st: &mut VuState,
        eps: &[usize],
        scheduled: Option<Instant>,
        retire: &AtomicBool,
    ) -> bool {
        use futures_util::stream::{FuturesUnordered, StreamExt};
        let streams = self.streams.min(eps.len());
        if streams <= 1 {
            for (i, &ep) in eps.iter().enumerate() {
                if i > 0 && !self.next_step(retire).await {
                    return false;
                }
                self.request(st, ep, scheduled).await;
            }
            return true;
        }
        // Rendered first, in order (templates read the VU's variables and rows).
        let rendered: Vec<Option<Option<Rendered>>> =
            eps.iter().map(|&ep| self.render(st, ep)).collect();
        while st.batch_clients.len() + 1 < streams {
            let more = VuClient::new(self.requests.clone(), self.gauges.clone(), st.id);
            st.batch_clients.push(more);
        }
        let recorder = st.recorder.clone();
        let mut idle: Vec<&mut VuClient> = std::iter::once(&mut st.client)
            .chain(st.batch_clients.iter_mut())
            .take(streams)
            .collect();
        let mut done: Vec<Option<(Attempt, Option<std::time::Duration>)>> =
            (0..eps.len()).map(|_| None).collect();
        let mut running = FuturesUnordered::new();
        let mut next = 0;
        loop {
            while next < eps.len() && !idle.is_empty() {
                let k = next;
                next += 1;
                let Some(r) = &rendered[k] else { continue };
                let client = idle.pop().expect("an idle client");
                let recorder = &recorder;
                running.push(async move {
                    let (attempt, queued) = self
                        .send(client, recorder, eps[k], r.as_ref(), scheduled)
                        .await;
                    (k, client, attempt, queued)
                });
            }
            let Some((k, client, attempt, queued)) = running.next().await else {
                break;
            };
            idle.push(client);
            done[k] = Some((attempt, queued));
        }
        drop(running);
        drop(idle);
        let mut connect_failed = false;
        for (k, d) in done.into_iter().enumerate() {
            if let Some((attempt, queued)) = d {
                connect_failed |= attempt.connect_failed;
                self.conclude(st, eps[k], attempt, queued);
            }
        }
        self.after_connect(st, connect_failed).await;
        true
    }

    /// Sends endpoint `idx` on `client`, counted in flight meanwhile (and recorded as
    /// aborted if cut off); the attempt, and how long it waited past `scheduled` (open
    /// model) before it was sent.
    async fn send(
        &self,
        client: &mut VuClient,
        recorder: &Recorder,
        idx: usize,
        rendered: Option<&Rendered>,
        scheduled: Option<Instant>,
    ) -> (Attempt, Option<std::time::Duration>) {
        self.gauges.in_flight.fetch_add(1, Ordering::Relaxed);
        let flight = InFlight {
            gauges: &self.gauges,
            recorder,
            endpoint: idx,
            done: false,
        };
        // How long the request waited past its due time (open model only: the closed
        // model reads no clock here).
        let queued = scheduled.map(|s| Instant::now().saturating_duration_since(s));
        let attempt = client.send(idx, rendered, self.wants[idx]).await;
        flight.finish();
        (attempt, queued)
    }

    /// Records a finished attempt (checks, captures, the sample).
    fn conclude(
        &self,
        st: &mut VuState,
        idx: usize,
        attempt: Attempt,
        queued: Option<std::time::Duration>,
    ) {
        self.settle(st, idx, attempt, queued);
        #[cfg(debug_assertions)]
        if let Some(n) = self.panic_after {
            if self.finished.fetch_add(1, Ordering::Relaxed) + 1 == n {
                panic!("VOLLEY_TEST_PANIC_AFTER: injected panic after request {n}");
            }
        }
    }

    /// A server that refuses connections or fails the TLS handshake is not hammered in
    /// a tight loop: each VU backs off until a connection works again.
    async fn after_connect(&self, st: &mut VuState, connect_failed: bool) {
        if connect_failed {
            let wait = backoff(&mut st.backoff, &mut st.rng);
            let never = AtomicBool::new(false);
            self.gate.sleep(wait, &never).await;
        } else {
            st.backoff = std::time::Duration::ZERO;
        }
    }

    /// Renders endpoint `idx`'s templated parts: `None` when a variable it needs was not
    /// captured (recorded as skipped), else what to send (`Some(None)`: nothing templated).
    fn render(&self, st: &mut VuState, idx: usize) -> Option<Option<Rendered>> {
        let ep = &self.endpoints[idx];
        let rendered = match &ep.template {
            None if ep.ws.is_some() => Some(Rendered::default()),
            None => None,
            Some(t) => {
                let mut render = Render {
                    st: &mut *st,
                    data: &self.data,
                };
                let mut r = Rendered::default();
                let mut buf = String::new();
                let mut missing = false;
                if let Some(p) = &t.path {
                    missing |= p.render(&mut render, &mut buf).is_err();
                    r.path = Some(std::mem::take(&mut buf));
                }
                for (name, tpl) in &t.headers {
                    missing |= tpl.render(&mut render, &mut buf).is_err();
                    if let Ok(v) = http::HeaderValue::from_str(&buf) {
                        r.headers.push((name.clone(), v));
                    }
                    buf.clear();
                }
                if let Some(b) = &t.body {
                    missing |= b.render(&mut render, &mut buf).is_err();
                    r.body = Some(Bytes::from(std::mem::take(&mut buf)));
                }
                if missing {
                    st.recorder.record_skipped(idx);
                    return None;
                }
                Some(r)
            }
        };
        let rendered = match (rendered, &ep.ws) {
            (Some(mut r), Some(plan)) => {
                let mut render = Render {
                    st: &mut *st,
                    data: &self.data,
                };
                for t in plan.steps.iter().flat_map(|s| s.templates()) {
                    let mut text = String::new();
                    if t.render(&mut render, &mut text).is_err() {
                        st.recorder.record_skipped(idx);
                        return None;
                    }
                    r.ws_sends.push(text);
                }
                Some(r)
            }
            (r, _) => r,
        };
        Some(rendered)
    }

    /// Runs checks and captures on a finished attempt and records it.
    fn settle(
        &self,
        st: &mut VuState,
        idx: usize,
        a: Attempt,
        queued: Option<std::time::Duration>,
    ) {
        let ep = &self.endpoints[idx];
        let mut outcome = a.outcome;
        let mut message = a.message.clone();
        if !ep.checks.is_empty() || !ep.captures.is_empty() {
            let resp = Response::new(&a);
            let mut results = Vec::with_capacity(ep.checks.len());
            for c in &ep.checks {
                let ok = match c.event {
                    None => resp.as_ref().is_some_and(|r| eval_check(&c.kind, r)),
                    Some(pick) => resp
                        .as_ref()
                        .and_then(|r| r.event(pick))
                        .is_some_and(|r| eval_check(&c.kind, &r)),
                };
                results.push((c.id, ok));
                if !ok {
                    if let Outcome::Status(code) = outcome {
                        outcome = Outcome::Rejected(code, ErrorKind::CheckFailed);
                        message = Some(format!("check '{}' failed", c.name));
                    }
                }
            }
            st.recorder.record_checks(idx, &results);
            for cap in &ep.captures {
                let value = match cap.event {
                    None => resp.as_ref().and_then(|r| eval_capture(&cap.from, r)),
                    Some(pick) => resp
                        .as_ref()
                        .and_then(|r| r.event(pick))
                        .and_then(|r| eval_capture(&cap.from, &r)),
                };
                if value.is_none() {
                    if let Outcome::Status(code) = outcome {
                        outcome = Outcome::Rejected(code, ErrorKind::CaptureFailed);
                        message = Some(format!("capture '{}' found nothing", cap.name));
                    }
                }
                st.vars[cap.var] = value;
            }
        }
        let (latency_us, raw_latency_us) = match (queued, a.latency_us) {
            (Some(q), Some(l)) => (Some(l + q.as_micros() as u64), Some(l)),
            (_, l) => (l, None),
        };
        if let Some(s) = &a.stream {
            st.recorder.record_stream(idx, &s.sample);
        }
        if let Some(w) = &a.ws {
            st.recorder.record_ws(idx, w);
        }
        let sample = Sample {
            endpoint: idx,
            latency_us,
            outcome,
            bytes: a.bytes,
            raw_latency_us,
            retry: a.retry,
            phases: a.phases,
        };
        match message {
            Some(m) if !outcome.is_ok() => st.recorder.record_error(&sample, || m),
            _ => st.recorder.record(&sample),
        }
    }

    /// The run's number of this process's `j`-th unit (itself without a segment).
    pub fn global(&self, j: u64) -> u64 {
        self.segment.as_ref().map_or(j, |s| s.nth(j))
    }

    /// Picks this iteration's data rows.
    fn choose_rows(&self, st: &mut VuState) {
        for (d, ds) in self.data.iter().enumerate() {
            let n = ds.rows.len();
            st.rows[d] = match ds.mode {
                DataMode::Sequential => {
                    (self.global(self.data_seq[d].fetch_add(1, Ordering::Relaxed)) % n as u64)
                        as usize
                }
                DataMode::Random => st.rng.usize(0..n),
                DataMode::PerVu => (st.id % n as u64) as usize,
            };
        }
    }

    /// Runs a user type's on_start requests once for this VU.
    pub async fn on_start(&self, st: &mut VuState, user: usize, retire: &AtomicBool) -> bool {
        if st.started[user] {
            return true;
        }
        st.started[user] = true;
        self.choose_rows(st);
        for &ep in &self.users[user].on_start {
            if !self.gate.admit(retire).await {
                return false;
            }
            self.request(st, ep, None).await;
        }
        true
    }

    /// One iteration of `user`'s flow. False when the VU must stop mid-way.
    pub async fn iteration(
        &self,
        st: &mut VuState,
        user: usize,
        scheduled: Option<Instant>,
        retire: &AtomicBool,
    ) -> bool {
        st.iteration += 1;
        self.choose_rows(st);
        match &self.users[user].flow {
            Flow::Tasks(tasks) => {
                let idx = if tasks.len() == 1 {
                    tasks[0].0
                } else {
                    let total: u64 = tasks.iter().map(|t| t.1 as u64).sum();
                    let mut x = st.rng.u64(0..total.max(1));
                    let mut pick = tasks[0].0;
                    for &(ep, w) in tasks {
                        if x < w as u64 {
                            pick = ep;
                            break;
                        }
                        x -= w as u64;
                    }
                    pick
                };
                self.request(st, idx, scheduled).await;
            }
            Flow::Steps(steps) => {
                for (i, step) in steps.iter().enumerate() {
                    if i > 0 && !self.next_step(retire).await {
                        return false;
                    }
                    let scheduled = if i == 0 { scheduled } else { None };
                    match step {
                        Step::One(ep) => {
                            self.request(st, *ep, scheduled).await;
                        }
                        Step::Batch(eps) => {
                            if !self.batch(st, eps, scheduled, retire).await {
                                return false;
                            }
                        }
                    }
                }
            }
        }
        self.gauges.iterations_done.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Whether an iteration's next step may start: not once the run stops or the VU is
    /// retired, except when the run ends because the iteration limit was reached: the
    /// iterations already started then finish (within the graceful stop), so `iterations
    /// = N` is N whole iterations.
    async fn next_step(&self, retire: &AtomicBool) -> bool {
        if self.gate.admit(retire).await {
            return true;
        }
        self.limit_reached.load(Ordering::Acquire) && !retire.load(Ordering::Acquire)
    }

    /// Takes one iteration from the limit; false when the limit is reached.
    pub fn take_iteration(&self) -> bool {
        let Some(limit) = self.iteration_limit else {
            return true;
        };
        if self.iterations_started.fetch_add(1, Ordering::AcqRel) >= limit {
            self.limit_reached.store(true, Ordering::Release);
            self.exhausted.notify_one();
            return false;
        }
        true
    }

    pub fn pick_user(&self, rng: &mut fastrand::Rng) -> usize {
        pick_weighted(&self.user_cumulative, rng)
    }
}

/// A closed-model VU: its user type's on_start, then iterations with think time or pacing.
/// It starts after `start_after` (see [`stagger`]).
pub async fn run_closed_vu(
    ctx: Arc<RunCtx>,
    id: u64,
    retire: Arc<AtomicBool>,
    start_after: std::time::Duration,
) {
    let _active = Active::new(&ctx.gauges);
    let _stop_on_panic = StopOnPanic(&ctx.control);
    if !start_after.is_zero() && !ctx.gate.sleep(start_after, &retire).await {
        return;
    }
    let mut st = VuState::new(&ctx, id);
    let user = ctx.user_pattern[id as usize % ctx.user_pattern.len()];
    if !ctx.gate.admit(&retire).await {
        return;
    }
    ctx.vu_started();
    if !ctx.on_start(&mut st, user, &retire).await {
        return;
    }
    let ut = &ctx.users[user];
    loop {
        if !ctx.gate.admit(&retire).await || !ctx.take_iteration() {
            break;
        }
        let started = Instant::now();
        if !ctx.iteration(&mut st, user, None, &retire).await {
            break;
        }
        let wait = match ut.pacing {
            Some(p) => (started + p).saturating_duration_since(Instant::now()),
            None => ut.think_time.sample(&mut st.rng),
        };
        if !wait.is_zero() && !ctx.gate.sleep(wait, &retire).await {
            break;
        }
    }
}

/// VUs started at once beyond this many are spread out in time (see [`stagger`]).
const STAGGER_FREE: u32 = 256;
/// New VUs per millisecond past the first [`STAGGER_FREE`].
const STAGGER_PER_MS: u32 = 256;

/// When the `k`th of a batch of new VUs starts, relative to the command. Thousands of
/// VUs started in the same instant would each open a connection before any of them (or
/// any running VU, which waits behind them in the scheduler's queue) sends a request: the
/// target would see nothing for a while, then everything at once. Spreading them over a
/// few milliseconds lets the first ones' requests go out (and running VUs carry on)
/// while the later ones connect: 8,000 new VUs are spread over 31 ms.
pub fn stagger(k: u32) -> std::time::Duration {
    let past = k.saturating_sub(STAGGER_FREE);
    std::time::Duration::from_micros(past as u64 * 1000 / STAGGER_PER_MS as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn backoff_doubles_with_jitter_up_to_a_second() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut step = Duration::ZERO;
        let mut waits = Vec::new();
        for _ in 0..12 {
            waits.push(backoff(&mut step, &mut rng));
        }
        assert_eq!(step, BACKOFF_MAX);
        let mut expect = BACKOFF_FIRST;
        for w in waits {
            assert!(
                w >= expect / 2 && w <= expect,
                "{w:?} for a step of {expect:?}"
            );
            expect = (expect * 2).min(BACKOFF_MAX);
        }
    }
}
