//! The open model: iterations start at a rate, on a pool of at most `max_vus` VUs grown on
//! demand, whatever the server does. An iteration waits for a free VU at most `MAX_LAG`,
//! then is dropped. Latency is measured from when the iteration was due
//! (coordinated-omission corrected). How late each iteration starts (after it was due and
//! a VU was free) goes to self-watch's arrival lag: a late start with VUs free is the
//! generator's doing, not the target's.
//!
//! How the work is laid out (docs/performance.md, "The open model"): one scheduler task
//! wakes when the next arrival is due, but at most once per [`super::timer::GRAIN`] (a
//! `timerfd` on Linux; tokio's 1 ms tick elsewhere), not once per arrival, and hands every
//! arrival due by then to an idle VU with its exact scheduled time. VUs are long-lived
//! tasks (no task spawned per iteration); an idle VU waits on its own slot, and the
//! scheduler takes the most recently idle one first, so the fewest VUs (and connections)
//! carry the load and they stay warm.
//! A new VU is created only when an arrival is due, no VU is idle and the pool is below what
//! Little's law says the load needs (rate x latency, with headroom: see `Sizer`), so the
//! pool grows to the concurrency the target needs, not to `max_vus`, and a stall of the
//! target or of this thread does not open a connection per arrival it held up.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::task::{JoinHandle, JoinSet};

use super::timer::Timer;
use super::{Leftover, Model};
use crate::engine::gate::Phase;
use crate::engine::vu::{Active, RunCtx, StopOnPanic, VuState};
use crate::state::EventKind;
use crate::units;

/// Longest an iteration waits for a free VU before it is dropped.
pub const MAX_LAG: Duration = Duration::from_secs(1);

/// Arrivals at a rate: a level is iterations per second, run by a scheduler task on at
/// most `max_vus` VUs.
pub(super) struct Open {
    max_vus: u32,
    stop: Arc<Notify>,
    schedulers: Vec<JoinHandle<JoinSet<()>>>,
}

impl Open {
    pub fn new(max_vus: u32) -> Open {
        Open {
            max_vus,
            stop: Arc::new(Notify::new()),
            schedulers: Vec::new(),
        }
    }
}

impl Model for Open {
    fn is_open(&self) -> bool {
        true
    }

    fn start_detail(&self, initial: f64) -> String {
        format!(
            "{} on at most {}",
            units::per_s(initial),
            units::vus(self.max_vus.into())
        )
    }

    /// Start-up ends with the first VU.
    fn startup_goal(&self, _initial: f64) -> u64 {
        1
    }

    /// Nothing to wait for (VUs come as arrivals are due, on the run clock): the run
    /// clock starts now.
    fn begin(&mut self, ctx: &Arc<RunCtx>) {
        ctx.control.start_run(Instant::now());
    }

    fn spike_level(&self, level: f64) -> f64 {
        level
    }

    fn set_event(&self) -> EventKind {
        EventKind::SetRate
    }

    fn apply(&mut self, ctx: &Arc<RunCtx>, level: f64) {
        ctx.control.set_rate(level);
        ctx.gate.poke();
    }

    /// One scheduler, or with thread-per-core one per lane: lane `i` of `n` takes arrivals
    /// `i, i + n, i + 2n, ...` of the one schedule and its share of `max_vus`.
    fn started(&mut self, ctx: &Arc<RunCtx>) {
        match &ctx.lanes {
            None => self.schedulers.push(tokio::spawn(schedule(
                ctx.clone(),
                Lane::ONLY,
                self.max_vus,
                self.stop.clone(),
            ))),
            Some(lanes) => {
                let n = lanes.len();
                for i in 0..n {
                    let lane = Lane {
                        index: i as u64,
                        of: n as u64,
                    };
                    let max_vus = crate::engine::lanes::share(self.max_vus, i, n);
                    self.schedulers.push(
                        lanes.spawn(i, schedule(ctx.clone(), lane, max_vus, self.stop.clone())),
                    );
                }
            }
        }
    }

    fn stop(&mut self) -> Leftover {
        self.stop.notify_waiters();
        Leftover {
            vus: Vec::new(),
            schedulers: std::mem::take(&mut self.schedulers),
        }
    }
}

/// Which arrivals a scheduler takes: `index, index + of, index + 2 of, ...`.
#[derive(Debug, Clone, Copy)]
struct Lane {
    index: u64,
    of: u64,
}

impl Lane {
    /// Every arrival.
    const ONLY: Lane = Lane { index: 0, of: 1 };

    /// The first arrival at or after `k` that is this lane's.
    fn at_or_after(&self, k: u64) -> u64 {
        k + (self.index + self.of - k % self.of) % self.of
    }
}

/// The arrival schedule: arrival `k` is due at `at + (k - first) / rate`, computed from
/// the index (no step added up, so no drift). A rate change starts a new epoch.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    at: Instant,
    first: u64,
    rate: f64,
}

impl Schedule {
    fn due(&self, k: u64) -> Instant {
        self.at + Duration::from_secs_f64((k - self.first) as f64 / self.rate)
    }
}

/// The arrivals of a schedule that are due: what the scheduler owes and when each was due.
#[derive(Debug)]
struct Arrivals {
    lane: Lane,
    /// A fleet worker's part: it starts only the arrivals it owns (arrival `k` of the run's
    /// one schedule goes to one worker), on the whole run's schedule.
    part: Option<Arc<dyn crate::engine::Segment>>,
    /// `None` while the rate is 0 or the run is paused.
    epoch: Option<Schedule>,
    /// Index of the next arrival of this lane not yet due.
    next: u64,
}

impl Arrivals {
    #[cfg(test)]
    fn new(lane: Lane) -> Arrivals {
        Arrivals::of_part(lane, None)
    }

    fn of_part(lane: Lane, part: Option<Arc<dyn crate::engine::Segment>>) -> Arrivals {
        Arrivals {
            lane,
            part,
            epoch: None,
            next: lane.index,
        }
    }

    /// When the next arrival is due, if one ever is.
    fn next_due(&self) -> Option<Instant> {
        self.epoch.map(|e| e.due(self.next))
    }

    /// Runs at `rate` from `now` on (0, or paused: nothing is due). The next arrival keeps
    /// its time when the rate is unchanged; on a change the schedule restarts at the
    /// earlier of the next arrival's old time and one new interval from now. An epoch
    /// starts at a multiple of the lane count, so that each lane keeps its place in the
    /// one schedule (lane `i`'s arrival `i / rate` after the epoch's start).
    fn set_rate(&mut self, rate: f64, now: Instant) {
        if !(rate > 0.0 && rate.is_finite()) {
            self.epoch = None;
            return;
        }
        let first = self.next - self.lane.index;
        let offset = Duration::from_secs_f64(self.lane.index as f64 / rate);
        let at = match self.epoch {
            Some(e) if e.rate == rate => return,
            Some(e) => {
                let old = e.due(self.next);
                old.checked_sub(offset)
                    .unwrap_or(old)
                    .min(now + Duration::from_secs_f64(1.0 / rate))
            }
            None => now,
        };
        self.epoch = Some(Schedule { at, first, rate });
    }

    /// Every arrival due by `now`, oldest first, into `out`; arrivals already more than
    /// `MAX_LAG` late are skipped and their count returned (they are dropped: a stalled
    /// scheduler owes no burst for the past, and the count stays exact).
    fn take_due(&mut self, now: Instant, out: &mut VecDeque<Instant>) -> u64 {
        let Some(e) = self.epoch else { return 0 };
        let mut skipped = 0;
        if let Some(oldest) = now.checked_sub(MAX_LAG) {
            if e.due(self.next) < oldest {
                // The first index due at or after `oldest`.
                let k = e.first + ((oldest - e.at).as_secs_f64() * e.rate).ceil() as u64;
                let k = self.lane.at_or_after(k.max(self.next));
                skipped = match &self.part {
                    None => (k - self.next) / self.lane.of,
                    Some(part) => (self.next..k)
                        .step_by(self.lane.of as usize)
                        .filter(|&i| part.owns(i))
                        .count() as u64,
                };
                self.next = k;
            }
        }
        loop {
            let due = e.due(self.next);
            if due > now {
                break;
            }
            if self.part.as_ref().is_none_or(|p| p.owns(self.next)) {
                out.push_back(due);
            }
            self.next += self.lane.of;
        }
        skipped
    }
}

/// What an idle VU is told.
enum Job {
    /// Nothing yet.
    None,
    /// Run one iteration, due at this instant; the VU was free since the second one.
    Run(Instant, Instant),
    /// The run is over: leave.
    Exit,
}

/// One VU's mailbox: the scheduler puts a job in and wakes the VU.
struct Slot {
    job: Mutex<Job>,
    wake: Notify,
}

impl Slot {
    fn give(&self, job: Job) {
        *lock(&self.job) = job;
        self.wake.notify_one();
    }

    async fn take(&self) -> Job {
        loop {
            let job = std::mem::replace(&mut *lock(&self.job), Job::None);
            match job {
                Job::None => self.wake.notified().await,
                job => return job,
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The VUs that are free, most recently freed last.
#[derive(Default)]
struct Idle {
    vus: Vec<(Arc<Slot>, Instant)>,
    /// Set when the run stops: a VU that comes back then leaves instead.
    closed: bool,
    /// How long the lane's latest iterations took (the pool's size follows them).
    recent: Recent,
}

/// Service times of the latest `RECENT` iterations (from a VU taking the job to its coming
/// back, so a wait for a free VU is not in it), and how many iterations finished.
struct Recent {
    us: Vec<u32>,
    next: usize,
    done: u64,
}

/// Iterations whose service time sizes the pool.
const RECENT: usize = 256;

impl Default for Recent {
    fn default() -> Recent {
        Recent {
            us: Vec::with_capacity(RECENT),
            next: 0,
            done: 0,
        }
    }
}

impl Recent {
    fn add(&mut self, took: Duration) {
        let us = took.as_micros().min(u32::MAX as u128) as u32;
        if self.us.len() < RECENT {
            self.us.push(us);
        } else {
            self.us[self.next] = us;
        }
        self.next = (self.next + 1) % RECENT;
        self.done += 1;
    }

    /// The median service time, if any iteration finished; `scratch` is reused.
    fn median(&self, scratch: &mut Vec<u32>) -> Option<Duration> {
        if self.us.is_empty() {
            return None;
        }
        scratch.clear();
        scratch.extend_from_slice(&self.us);
        let mid = scratch.len() / 2;
        let (_, m, _) = scratch.select_nth_unstable(mid);
        Some(Duration::from_micros(u64::from(*m)))
    }
}

/// What the scheduler and its VUs share.
struct Pool {
    idle: Mutex<Idle>,
    /// A VU came back (the scheduler waits on it only while arrivals wait for a VU).
    returned: Notify,
}

impl Pool {
    /// A VU is free again after an iteration that took `took` (`None`: it ran none); false
    /// when the run has stopped and it must leave.
    fn put_back(&self, slot: Arc<Slot>, took: Option<Duration>) -> bool {
        let mut idle = lock(&self.idle);
        if let Some(took) = took {
            idle.recent.add(took);
        }
        if idle.closed {
            return false;
        }
        idle.vus.push((slot, Instant::now()));
        drop(idle);
        self.returned.notify_one();
        true
    }

    /// The most recently freed VU.
    fn take(&self) -> Option<(Arc<Slot>, Instant)> {
        lock(&self.idle).vus.pop()
    }

    /// The run stops: every idle VU leaves, and those still busy leave when they are done.
    fn close(&self) {
        let mut idle = lock(&self.idle);
        idle.closed = true;
        for (slot, _) in idle.vus.drain(..) {
            slot.give(Job::Exit);
        }
    }
}

/// The scheduler timer's resolution unless it says otherwise (tokio's): arrivals are
/// handed out in batches about a tick apart, so a batch needs a tick's arrivals' worth of
/// VUs on top of those still busy.
const TICK: Duration = Duration::from_millis(1);
/// Headroom over Little's law (rate x latency).
const HEADROOM: f64 = 1.5;
/// VUs allowed on top of it.
const SPARE: u32 = 4;
/// The latency assumed until an iteration of the lane finishes (or the age of the oldest
/// one in flight, when longer).
const FIRST_GUESS: Duration = Duration::from_millis(1);
/// An arrival that waited this long for a VU gets a new one whatever the estimate says (up
/// to `max_vus`): the estimate alone never makes the pool drop an arrival.
const LAST_RESORT: Duration = Duration::from_millis(500);
/// Shortest window over which a starved pool's throughput is judged.
const WINDOW: Duration = Duration::from_millis(10);
/// The baseline latency follows the target only after this long with no arrival waiting
/// for the pool (`Sizer::latency`).
const FOLLOW_AFTER: Duration = Duration::from_secs(1);

/// How many VUs the pool may have (BBR's bandwidth x delay with k6's on-demand VUs): what
/// Little's law says the load needs, the rate x (the lane's median service time + a
/// tick) x `HEADROOM` + `SPARE`, or more once starved windows showed the pool is what held
/// arrivals back. A stall (of the target or of this thread) makes every VU busy and
/// arrivals wait, but adds only as many slow samples as there are VUs, so the median
/// hardly moves and the pool does not grow one VU per arrival the stall held up: the
/// arrivals wait for the VUs there are (their latency, measured from when they were due,
/// says so) instead of opening a connection each.
#[derive(Default)]
struct Sizer {
    /// The scheduler timer's resolution ([`TICK`] when not set).
    tick: Option<Duration>,
    /// Granted by starved windows: the pool may have at least this many VUs.
    floor: u32,
    /// Since when arrivals wait with the pool at its allowance: (start, iterations
    /// finished, arrivals due by then).
    window: Option<(Instant, u64, u64)>,
    /// The window before this one was slow.
    slow_before: bool,
    /// The lowest median service time seen lately, and when it was last updated: the
    /// target's latency when it does not queue.
    base: Option<(Duration, Instant)>,
}

impl Sizer {
    /// The pool's allowance for `rate` arrivals a second that take `latency` each.
    fn allowed(&self, rate: f64, latency: Duration) -> u32 {
        let tick = self.tick.unwrap_or(TICK);
        let need = (rate * (latency + tick).as_secs_f64() * HEADROOM).ceil();
        let need = if need.is_finite() && need > 0.0 {
            need.min(f64::from(u32::MAX)) as u32
        } else {
            0
        };
        need.saturating_add(SPARE).max(self.floor)
    }

    /// The latency the pool is sized for, from the median service time now: at most
    /// twice the baseline (the lowest median seen). Past twice the baseline the requests
    /// queue at the target (it is saturated, or stalled): more connections would only
    /// queue there too, and open a connection storm on top. With `follow`, the baseline
    /// drifts up by about a quarter a second, so that a target that really got slower is
    /// followed; the scheduler follows only when no arrival has waited for the pool
    /// lately (`FOLLOW_AFTER`). A saturated target keeps arrivals waiting: if its
    /// baseline followed its queue, the allowance would grow with the queue, and each
    /// connection added makes the queue longer (at 30,000/s against the bench nginx: 207
    /// to 278 connections and p99 119-317 ms, against 50 and 47-87 ms when held).
    fn latency(&mut self, median: Duration, now: Instant, follow: bool) -> Duration {
        let base = match self.base {
            None => median,
            Some((b, at)) if follow => {
                let drift = 1.0 + now.saturating_duration_since(at).as_secs_f64() / 4.0;
                b.mul_f64(drift).min(median)
            }
            Some((b, _)) => b.min(median),
        };
        self.base = Some((base, now));
        median.min(base * 2)
    }

    /// Whether the target queues: the median is more than twice the baseline.
    fn queueing(&self, median: Duration) -> bool {
        self.base.is_some_and(|(b, _)| median > b * 2)
    }

    /// Arrivals wait and the pool is at its allowance (`pool` VUs); `done` iterations have
    /// finished and `due` arrivals were due, ever. Over each window of `len`: when some
    /// iterations finished but fewer than nine tenths of the arrivals due, the pool kept
    /// working and was too small; two such windows in a row grow it by an eighth. A window
    /// in which nothing finished is a stall (more VUs would wait as well), one in which
    /// as many finished as were due is catching up, and one in which the target queues
    /// (`queueing`: saturated) would only queue more: none of them grows the pool.
    fn starved(
        &mut self,
        now: Instant,
        (done, due): (u64, u64),
        len: Duration,
        pool: u32,
        queueing: bool,
    ) {
        let Some((since, done0, due0)) = self.window else {
            self.window = Some((now, done, due));
            return;
        };
        if now.saturating_duration_since(since) < len {
            return;
        }
        let finished = done - done0;
        let owed = due - due0;
        let slow = finished > 0 && finished * 10 < owed * 9 && !queueing;
        if slow && self.slow_before {
            self.floor = self.floor.max(pool.saturating_add((pool / 8).max(1)));
            self.slow_before = false;
        } else {
            self.slow_before = slow;
        }
        self.window = Some((now, done, due));
    }

    /// No arrival waits for a VU.
    fn fed(&mut self) {
        self.window = None;
        self.slow_before = false;
    }
}

/// A wake-up of the scheduler this late is a stall of its thread.
const STALL: Duration = Duration::from_millis(5);

/// How long the first job has been out, less the time the scheduler was late for its own
/// wake-ups since (past [`STALL`]): until an iteration has finished, the pool is sized
/// from this age, since the target may be slow to answer; until 256 have, it is at most
/// this age. A stall of this
/// thread (start-up, page faults, a burst of connects) delays the answers too but says
/// nothing of the target: counted as the target's latency it sized the pool for
/// rate x stall (at 60,000/s after a 100 ms stall, 2,000 connections in the first second).
#[derive(Default)]
struct FirstWait {
    /// When the first job was handed out.
    since: Option<Instant>,
    /// The scheduler's lateness since.
    stalled: Duration,
}

impl FirstWait {
    /// A job was handed out at `now`.
    fn handed_out(&mut self, now: Instant) {
        self.since.get_or_insert(now);
    }

    /// The scheduler woke at `now` from a sleep it began at `slept.0`, armed to end at
    /// `slept.1` (`None`: not armed). Late past the deadline by up to [`STALL`] is a busy
    /// thread (or the timer's resolution); past that, a stall, of which the part past
    /// `STALL` counts. Measured from the later of the deadline and the start of the sleep,
    /// so that a deadline already past (arrivals that waited for a VU) is not counted
    /// again on every wake-up.
    fn woke(&mut self, slept: Option<(Instant, Instant)>, now: Instant) {
        if let (Some(since), Some((from, at))) = (self.since, slept) {
            // Lateness before the first job is not the first job's.
            let late = now.saturating_duration_since(at.max(from).max(since));
            self.stalled += late.saturating_sub(STALL);
        }
    }

    /// The first job's age at `now`, less the scheduler's lateness.
    fn age(&self, now: Instant) -> Duration {
        self.since.map_or(Duration::ZERO, |t| {
            now.saturating_duration_since(t)
                .saturating_sub(self.stalled)
        })
    }
}

/// A VU of the open model: waits for a job, runs it, goes back to the pool.
async fn run_vu(ctx: Arc<RunCtx>, pool: Arc<Pool>, slot: Arc<Slot>, id: u64) {
    let _stop_on_panic = StopOnPanic(&ctx.control);
    let never = AtomicBool::new(false);
    let mut st = VuState::new(&ctx, id);
    loop {
        let (due_at, free_at) = match slot.take().await {
            Job::Run(due_at, free_at) => (due_at, free_at),
            Job::Exit | Job::None => return,
        };
        // Owed from when it was due, or from when the VU came free if none was.
        let began = Instant::now();
        ctx.gauges
            .arrival_lag
            .record(began.saturating_duration_since(free_at.max(due_at)));
        {
            let _active = Active::new(&ctx.gauges);
            let user = ctx.pick_user(&mut st.rng);
            if ctx.on_start(&mut st, user, &never).await {
                ctx.iteration(&mut st, user, Some(due_at), &never).await;
            }
        }
        if !pool.put_back(slot.clone(), Some(began.elapsed())) {
            return;
        }
    }
}

/// Runs until `stop` is notified; returns the VU tasks, which finish what they run. VU ids
/// are `lane.index + lane.of * n` for the lane's `n`th VU: unique over lanes, and on the
/// lane's own recording shards.
async fn schedule(ctx: Arc<RunCtx>, lane: Lane, max_vus: u32, stop: Arc<Notify>) -> JoinSet<()> {
    let pool = Arc::new(Pool {
        idle: Mutex::new(Idle::default()),
        returned: Notify::new(),
    });
    let mut vus: JoinSet<()> = JoinSet::new();
    let mut created: u32 = 0;
    let mut arrivals = Arrivals::of_part(lane, ctx.segment.clone());
    // This lane's share of the run's arrivals (lanes, and a fleet worker's part).
    let share = ctx.segment.as_ref().map_or(1.0, |part| {
        const Q: u64 = 1 << 20;
        part.share(Q) as f64 / Q as f64
    }) / lane.of as f64;
    let mut backlog: VecDeque<Instant> = VecDeque::new();
    // Arrivals due so far, the first job handed out, and since when arrivals wait because
    // the pool is at its allowance.
    let mut due_total: u64 = 0;
    let mut first_job = FirstWait::default();
    // When the scheduler last went to sleep and the deadline it slept for (its lateness
    // is `first_job`'s stall).
    let mut slept_for: Option<(Instant, Instant)> = None;
    let mut refused_at: Option<Instant> = None;
    // When arrivals last waited for the pool at its allowance.
    let mut last_refused: Option<Instant> = None;
    let mut sizer = Sizer::default();
    let mut scratch: Vec<u32> = Vec::with_capacity(RECENT);
    let mut timer = Timer::new();
    sizer.tick = Some(timer.resolution());
    let stopped = stop.notified();
    tokio::pin!(stopped);
    // Whether this wake-up already let the busy VUs run before creating new ones.
    let mut yielded = false;
    loop {
        let changed = ctx.gate.changed();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let phase = ctx.gate.phase();
        if phase == Phase::Stopping {
            break;
        }
        let now = Instant::now();
        first_job.woke(slept_for.take(), now);
        // Paused: nothing is due, and nothing is owed for the paused time after.
        let rate = match phase {
            Phase::Running => ctx.control.rate().unwrap_or(0.0),
            _ => 0.0,
        };
        arrivals.set_rate(rate, now);
        // Arrivals due after the planned end are not owed: the controller ends the run a
        // tick after it (its own timer), and that tick's arrivals would be load past the
        // plan. Past the end nothing more is due.
        let past_end = ctx.control.planned().and_then(|planned| {
            let ran = ctx.control.clock().run_time(now);
            ran.checked_sub(planned)
        });
        let until = past_end.map_or(now, |over| now.checked_sub(over).unwrap_or(now));
        let queued = backlog.len();
        let skipped = arrivals.take_due(until, &mut backlog);
        due_total += (backlog.len() - queued) as u64 + skipped;
        if past_end.is_some() {
            arrivals.set_rate(0.0, now);
        }
        // Drop what waited too long, then hand the rest to free VUs (oldest first).
        let expired = backlog
            .iter()
            .take_while(|t| now.saturating_duration_since(**t) > MAX_LAG)
            .count();
        backlog.drain(..expired);
        let dropped = skipped + expired as u64;
        if dropped > 0 {
            ctx.gauges.dropped.fetch_add(dropped, Ordering::Relaxed);
        }
        let mut grow = false;
        // The pool's allowance, its latency estimate, the iterations finished and
        // whether the target queues, worked out once per wake-up and only when no VU is
        // free.
        let mut sized: Option<(u32, Duration, u64, bool)> = None;
        let mut refused = false;
        while let Some(&due_at) = backlog.front() {
            if phase != Phase::Running {
                break;
            }
            let (slot, free_at) = match pool.take() {
                Some(vu) => vu,
                None if created < max_vus => {
                    let (allowed, _, _, _) = *sized.get_or_insert_with(|| {
                        let idle = lock(&pool.idle);
                        let done = idle.recent.done;
                        let median = idle.recent.median(&mut scratch);
                        drop(idle);
                        // No iteration took longer than this.
                        let age = FIRST_GUESS.max(first_job.age(now));
                        let (latency, queueing) = match median {
                            Some(m) => {
                                let follow = last_refused.is_none_or(|t| {
                                    now.saturating_duration_since(t) >= FOLLOW_AFTER
                                });
                                let mut l = sizer.latency(m, now, follow);
                                // Until the median is of a window's worth of
                                // iterations, a stall's slow samples may be most of it.
                                if done < RECENT as u64 {
                                    l = l.min(age);
                                }
                                (l, sizer.queueing(m))
                            }
                            None => (age, false),
                        };
                        (
                            sizer.allowed(rate * share, latency),
                            latency,
                            done,
                            queueing,
                        )
                    });
                    let waited = now.saturating_duration_since(due_at);
                    if created >= allowed && waited < LAST_RESORT {
                        // The VUs there are take it as they come back.
                        refused = true;
                        break;
                    }
                    // Before a new VU (and connection) for an arrival, the busy VUs whose
                    // answers are in (after a stall of this thread, most of them) get to
                    // run and come back: new VUs are for concurrency the target needs.
                    if created > 0 && !yielded {
                        grow = true;
                        break;
                    }
                    let slot = Arc::new(Slot {
                        job: Mutex::new(Job::None),
                        wake: Notify::new(),
                    });
                    ctx.vu_started();
                    vus.spawn(run_vu(
                        ctx.clone(),
                        pool.clone(),
                        slot.clone(),
                        ctx.global(lane.index + lane.of * u64::from(created)),
                    ));
                    created += 1;
                    // Free from now: the wait for the pool to grow is not arrival lag
                    // (self-watch's), as a wait for a busy VU is not.
                    let free_at = match refused_at {
                        Some(at) if due_at <= at => now,
                        _ => due_at,
                    };
                    (slot, free_at)
                }
                None => break,
            };
            if !ctx.take_iteration() {
                let _ = pool.put_back(slot, None);
                backlog.clear();
                break;
            }
            backlog.pop_front();
            first_job.handed_out(now);
            slot.give(Job::Run(due_at, free_at));
        }
        if refused {
            let (_, latency, done, queueing) = sized.expect("sized when refused");
            let len = WINDOW.max(latency * 2);
            sizer.starved(now, (done, due_total), len, created, queueing);
            refused_at.get_or_insert(now);
            last_refused = Some(now);
        } else if backlog.is_empty() {
            sizer.fed();
            refused_at = None;
        }
        ctx.gauges.vus_target.store(created, Ordering::Relaxed);
        if grow {
            yielded = true;
            // Back at once, after the VUs that are ready: later is a stall.
            slept_for = Some((now, now));
            tokio::task::yield_now().await;
            continue;
        }
        yielded = false;
        // Sleep until the next arrival is due (every arrival due by then is handed out in
        // one wake-up), the oldest waiting one gets a VU of its own (below `max_vus`) or
        // expires, a VU comes back while arrivals wait for one, the gate changes or the
        // run stops.
        // (Paused, no VU is made for them: they wait for the resume, or expire.)
        let wait_limit = if created < max_vus && phase == Phase::Running {
            LAST_RESORT
        } else {
            MAX_LAG
        };
        let wake_at = match (arrivals.next_due(), backlog.front()) {
            (Some(a), Some(b)) => Some(a.min(*b + wait_limit)),
            (a, b) => a.or(b.map(|b| *b + wait_limit)),
        };
        if let Some(at) = wake_at {
            timer.reset(at);
        }
        slept_for = wake_at.map(|at| (now, at));
        let waiting = !backlog.is_empty();
        tokio::select! {
            biased;
            _ = &mut stopped => break,
            _ = changed => {}
            _ = pool.returned.notified(), if waiting => {}
            _ = timer.wait(), if wake_at.is_some() => {}
        }
    }
    let unstarted = unstarted(&ctx, &backlog);
    if unstarted > 0 {
        ctx.gauges.dropped.fetch_add(unstarted, Ordering::Relaxed);
    }
    pool.close();
    vus
}

/// Arrivals that were due before the run ended and never started: those the scheduler
/// found due and no VU took, still waiting in `backlog` when the run stopped. They are
/// dropped iterations like those that waited past `MAX_LAG`, so that an arrival that
/// waited for a VU is either an iteration or a drop (near saturation about 1% of a 5 s
/// run were neither). The arrivals due since the scheduler's last wake-up (less than a
/// tick) are not counted: the next wake-up would have handed them out, and at a high rate
/// they would read as a few drops at the end of every run. None when the iteration limit
/// ended the run: the arrivals after it were not owed.
fn unstarted(ctx: &RunCtx, backlog: &VecDeque<Instant>) -> u64 {
    if ctx.limit_reached.load(Ordering::Acquire) {
        return 0;
    }
    backlog.len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due_offsets(a: &mut Arrivals, t0: Instant, now: Duration) -> (Vec<Duration>, u64) {
        let mut out = VecDeque::new();
        let skipped = a.take_due(t0 + now, &mut out);
        (out.into_iter().map(|t| t - t0).collect(), skipped)
    }

    #[test]
    fn arrivals_come_at_exact_times_in_batches() {
        let t0 = Instant::now();
        let mut a = Arrivals::new(Lane::ONLY);
        a.set_rate(1000.0, t0);
        // One wake-up 2.5 ms in: the arrivals due at 0, 1 and 2 ms, at their own times.
        let (got, skipped) = due_offsets(&mut a, t0, Duration::from_micros(2500));
        assert_eq!(
            got,
            vec![
                Duration::ZERO,
                Duration::from_millis(1),
                Duration::from_millis(2)
            ]
        );
        assert_eq!(skipped, 0);
        assert_eq!(a.next_due(), Some(t0 + Duration::from_millis(3)));
        // 10,000 arrivals later (woken every 500 ms) the time is still exact: computed
        // from the index, not added up.
        let mut got = Vec::new();
        for ms in (502..=10_002).step_by(500) {
            let (batch, skipped) = due_offsets(&mut a, t0, Duration::from_millis(ms));
            assert_eq!(skipped, 0);
            got.extend(batch);
        }
        assert_eq!(got.len(), 10_000);
        assert_eq!(*got.last().unwrap(), Duration::from_millis(10_002));
    }

    #[test]
    fn a_rate_change_starts_a_new_epoch_without_a_burst() {
        let t0 = Instant::now();
        let mut a = Arrivals::new(Lane::ONLY);
        a.set_rate(1.0, t0);
        let (got, _) = due_offsets(&mut a, t0, Duration::from_millis(100));
        assert_eq!(got, vec![Duration::ZERO]);
        // Next would be at 1 s; at 100/s from 100 ms on it comes 10 ms later instead.
        a.set_rate(100.0, t0 + Duration::from_millis(100));
        assert_eq!(a.next_due(), Some(t0 + Duration::from_millis(110)));
        let (got, _) = due_offsets(&mut a, t0, Duration::from_millis(140));
        assert_eq!(got.len(), 4, "{got:?}");
        // Rate 0 (or paused): nothing is due, and resuming owes nothing for the pause.
        a.set_rate(0.0, t0 + Duration::from_millis(140));
        assert_eq!(a.next_due(), None);
        let (got, _) = due_offsets(&mut a, t0, Duration::from_secs(5));
        assert!(got.is_empty());
        a.set_rate(100.0, t0 + Duration::from_secs(5));
        let (got, skipped) = due_offsets(&mut a, t0, Duration::from_millis(5_015));
        assert_eq!(
            got,
            vec![Duration::from_secs(5), Duration::from_millis(5_010)]
        );
        assert_eq!(skipped, 0);
    }

    #[test]
    fn a_stalled_scheduler_counts_what_it_skips() {
        let t0 = Instant::now();
        let mut a = Arrivals::new(Lane::ONLY);
        a.set_rate(100.0, t0);
        // Woken 3 s late: the arrivals more than MAX_LAG late are skipped and counted,
        // the last second's are still owed, each at its own time.
        let (got, skipped) = due_offsets(&mut a, t0, Duration::from_secs(3));
        assert_eq!(skipped, 200);
        assert_eq!(got.len(), 101);
        assert_eq!(got[0], Duration::from_secs(2));
        assert_eq!(
            skipped + got.len() as u64,
            301,
            "every arrival counted once"
        );
    }

    #[test]
    fn lanes_share_one_schedule_exactly() {
        let t0 = Instant::now();
        let mut all: Vec<Duration> = Vec::new();
        let mut skipped = 0;
        for index in 0..3 {
            let mut a = Arrivals::new(Lane { index, of: 3 });
            a.set_rate(100.0, t0);
            // Each lane woken 1.5 s late: 50 skipped arrivals of 151 due, a third each.
            let (got, s) = due_offsets(&mut a, t0, Duration::from_millis(1_500));
            skipped += s;
            all.extend(got);
        }
        all.sort();
        assert_eq!(skipped, 50);
        let expect: Vec<Duration> = (50..=150).map(|k| Duration::from_millis(k * 10)).collect();
        assert_eq!(all, expect);
    }

    /// A fleet worker's part in a test: arrival `k` is part `k % of`'s.
    #[derive(Debug)]
    struct Every {
        part: u64,
        of: u64,
    }

    impl crate::engine::Segment for Every {
        fn share(&self, q: u64) -> u64 {
            q / self.of + u64::from(q % self.of > self.part)
        }
        fn owns(&self, k: u64) -> bool {
            k % self.of == self.part
        }
        fn nth(&self, j: u64) -> u64 {
            j * self.of + self.part
        }
    }

    #[test]
    fn fleet_parts_stripe_one_schedule_exactly() {
        let t0 = Instant::now();
        let mut all: Vec<Duration> = Vec::new();
        let mut skipped = 0;
        // Two workers, the second with two engine threads.
        for (part, lanes) in [(0, 1), (1, 2)] {
            for index in 0..lanes {
                let mut a = Arrivals::of_part(
                    Lane { index, of: lanes },
                    Some(Arc::new(Every { part, of: 2 })),
                );
                a.set_rate(100.0, t0);
                let (got, s) = due_offsets(&mut a, t0, Duration::from_millis(1_500));
                skipped += s;
                all.extend(got);
            }
        }
        all.sort();
        // As one process: 50 skipped, arrivals 50..=150 each once, at their own time.
        assert_eq!(skipped, 50);
        let expect: Vec<Duration> = (50..=150).map(|k| Duration::from_millis(k * 10)).collect();
        assert_eq!(all, expect);
    }

    /// Until an iteration finishes, the pool is sized from the first job's age, which a
    /// stall of the scheduler's own thread does not add to.
    #[test]
    fn the_first_jobs_age_leaves_out_the_schedulers_stalls() {
        let t0 = Instant::now();
        let us = |n: u64| t0 + Duration::from_micros(n);
        let mut w = FirstWait::default();
        assert_eq!(w.age(us(5_000)), Duration::ZERO);
        // Late before the first job: not the first job's.
        w.woke(Some((us(0), us(0))), us(50_000));
        w.handed_out(us(50_000));
        w.handed_out(us(60_000));
        assert_eq!(w.age(us(51_000)), Duration::from_millis(1));
        // On time, or late by a busy thread's few ms: the target is slow, the age grows.
        w.woke(Some((us(50_500), us(51_000))), us(51_150));
        w.woke(Some((us(51_500), us(52_000))), us(55_000));
        assert_eq!(w.age(us(70_000)), Duration::from_millis(20));
        // A 100 ms stall of this thread: it does not count, but for the first 5 ms.
        w.woke(Some((us(69_900), us(70_000))), us(170_000));
        assert_eq!(w.age(us(170_000)), Duration::from_millis(25));
        // Not armed (woken by a VU or a command): nothing to be late for.
        w.woke(None, us(171_000));
        assert_eq!(w.age(us(171_000)), Duration::from_millis(26));
        // A deadline long past (arrivals waiting for a VU) counts from the sleep's start,
        // once: two wake-ups 1 ms apart add nothing.
        w.woke(Some((us(171_000), us(100_000))), us(172_000));
        w.woke(Some((us(172_000), us(100_000))), us(173_000));
        assert_eq!(w.age(us(173_000)), Duration::from_millis(28));
    }

    #[test]
    fn the_median_service_time_is_of_the_latest_iterations() {
        let mut r = Recent::default();
        let mut scratch = Vec::new();
        assert_eq!(r.median(&mut scratch), None);
        for _ in 0..RECENT {
            r.add(Duration::from_millis(100));
        }
        // A stall's few slow samples do not move it; a window's worth replaces the old.
        for _ in 0..RECENT / 4 {
            r.add(Duration::from_millis(1));
        }
        assert_eq!(r.median(&mut scratch), Some(Duration::from_millis(100)));
        for _ in 0..RECENT / 2 {
            r.add(Duration::from_millis(1));
        }
        assert_eq!(r.median(&mut scratch), Some(Duration::from_millis(1)));
        assert_eq!(r.done, RECENT as u64 * 7 / 4);
    }

    #[test]
    fn the_pool_is_sized_by_littles_law_not_by_waiting_arrivals() {
        let mut s = Sizer::default();
        // 20,000/s at 0.5 ms: (0.5 + a 1 ms tick) x 20 a ms x 1.5, plus 4.
        assert_eq!(s.allowed(20_000.0, Duration::from_micros(500)), 49);
        assert_eq!(s.allowed(0.0, Duration::from_secs(1)), SPARE);
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let len = Duration::from_millis(10);
        // A stall: nothing finishes for 100 ms while 2,000 arrivals are due. No growth.
        for i in 0..=10 {
            s.starved(ms(i * 10), (1_000, 1_000 + i * 200), len, 49, false);
        }
        assert_eq!(s.allowed(20_000.0, Duration::from_micros(500)), 49);
        // Catching up after it: as many finish as are due. No growth.
        for i in 11..=20 {
            s.starved(
                ms(i * 10),
                (1_000 + (i - 10) * 400, 1_000 + i * 200),
                len,
                49,
                false,
            );
        }
        s.fed();
        assert_eq!(s.allowed(20_000.0, Duration::from_micros(500)), 49);
        // The pool works but too slowly (half the due finish) two windows running: it
        // grows by an eighth of itself, once per two windows.
        for i in 0..=4 {
            let pool = s.allowed(20_000.0, Duration::from_micros(500));
            s.starved(
                ms(300 + i * 10),
                (5_000 + i * 100, 9_000 + i * 200),
                len,
                pool,
                false,
            );
        }
        assert_eq!(s.floor, 49 + 6 + 6);
        assert_eq!(s.allowed(20_000.0, Duration::from_micros(500)), 61);
        // The same windows while the target queues (saturated): no growth.
        let mut q = Sizer::default();
        for i in 0..=4 {
            q.starved(
                ms(300 + i * 10),
                (5_000 + i * 100, 9_000 + i * 200),
                len,
                49,
                true,
            );
        }
        assert_eq!(q.floor, 0);
    }

    #[test]
    fn a_queueing_target_does_not_grow_the_pool() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut s = Sizer::default();
        // Baseline 1 ms; the median climbs to 20 ms as the target saturates: the pool is
        // sized for twice the baseline, and the target is queueing.
        assert_eq!(
            s.latency(Duration::from_millis(1), ms(0), true),
            Duration::from_millis(1)
        );
        assert!(!s.queueing(Duration::from_millis(1)));
        let l = s.latency(Duration::from_millis(20), ms(10), true);
        assert!(l < Duration::from_micros(2_010), "{l:?}");
        assert!(s.queueing(Duration::from_millis(20)));
        assert!(!s.queueing(Duration::from_micros(1_500)));
        // While arrivals wait for the pool, the baseline does not follow the queue: 20 s
        // of it later the pool is still sized for twice the baseline.
        for k in 1..=200 {
            s.latency(Duration::from_millis(20), ms(10 + k * 100), false);
        }
        let l = s.latency(Duration::from_millis(20), ms(20_010), false);
        assert!(l < Duration::from_micros(2_010), "{l:?}");
        assert!(s.queueing(Duration::from_millis(20)));
        // A target that really got slower (and keeps up, so nothing waits for the pool)
        // is followed, a quarter or so a second: after 20 s at 20 ms the baseline has
        // caught up.
        for k in 1..=200 {
            s.latency(Duration::from_millis(20), ms(20_010 + k * 100), true);
        }
        assert_eq!(
            s.latency(Duration::from_millis(20), ms(40_100), true),
            Duration::from_millis(20)
        );
        assert!(!s.queueing(Duration::from_millis(20)));
    }
}
