//! The console loop: keys -> actions -> commands, snapshots -> frames, over a
//! [`RunLink`]. A run in this process ([`Local`]) has its engine on its own thread, so
//! drawing never takes time from it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event};
use tokio::sync::Notify;

use super::app::{App, Quit};
use super::link::{Leave, RunLink};
use super::term::TermGuard;
use super::theme::Theme;
use super::view;
use crate::engine::{self, Command, EngineHandle, OnSignal, RunOutcome, Signals, StopSignal};
use crate::host::{Detach, OnHangup};
use crate::metrics::Snapshot;
use crate::scenario::Plan;

/// How the console looks and behaves.
#[derive(Debug)]
pub struct ConsoleOptions {
    pub theme: Theme,
    /// Frames per second.
    pub fps: u32,
    pub insecure: bool,
    pub notice: Option<String>,
    pub engine: crate::engine::EngineOptions,
    /// How this run leaves its terminal (`d`, a hang-up), when it can: it runs in a run
    /// host ([`crate::host`]).
    pub detach: Option<Detach>,
    /// What a terminal hang-up does (detach needs `detach`; without it, the run stops).
    pub on_hangup: OnHangup,
    /// The stop signals, listened for since before anything of the run started
    /// ([`crate::engine::Signals::listen`] within the run's runtime).
    pub signals: Signals,
}

/// Runs `plan` on `rt` (on an engine thread) under the console; returns the final snapshot.
pub fn run(
    plan: Plan,
    rt: tokio::runtime::Runtime,
    opts: ConsoleOptions,
) -> std::io::Result<RunOutcome> {
    run_with(plan, rt, opts, |_| {})
}

/// The run in this process: the engine's channels, the engine thread, and what the
/// signals asked.
pub struct Local {
    commands: tokio::sync::mpsc::UnboundedSender<Command>,
    snapshots: tokio::sync::watch::Receiver<Arc<Snapshot>>,
    engine: std::thread::JoinHandle<RunOutcome>,
    /// Tells the supervisor to stop waiting for a graceful end (a forced quit).
    quit_now: Arc<Notify>,
    /// A signal stopped the run.
    stopped: Arc<AtomicBool>,
    /// SIGHUP came and the run is to go on without the terminal.
    hung_up: Arc<AtomicBool>,
}

impl RunLink for Local {
    fn snapshot(&mut self) -> Arc<Snapshot> {
        self.snapshots.borrow().clone()
    }

    fn send(&mut self, cmd: Command) {
        let _ = self.commands.send(cmd);
    }

    fn ended(&mut self) -> bool {
        self.engine.is_finished()
    }

    fn stopped_outside(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    fn hung_up(&self) -> bool {
        self.hung_up.load(Ordering::Relaxed)
    }
}

impl Local {
    /// Waits for the run's outcome (detached: its plan, a signal or a remote command ends
    /// it; hurried: the supervisor gives it [`engine::HURRY`]).
    fn join(self, quiet: bool) -> RunOutcome {
        match self.engine.join() {
            Ok(outcome) => outcome,
            Err(_) => {
                if !quiet {
                    say!("volley: the engine failed; writing the last results it published");
                }
                RunOutcome {
                    snapshot: engine::last_published(&self.snapshots),
                    forced: true,
                    signalled: false,
                }
            }
        }
    }
}

/// As [`run`]; `on_start` gets the engine's handle on the engine's runtime as soon as the
/// engine starts (`--prometheus` serves its snapshots from there).
pub fn run_with(
    plan: Plan,
    rt: tokio::runtime::Runtime,
    opts: ConsoleOptions,
    on_start: impl FnOnce(&EngineHandle) + Send + 'static,
) -> std::io::Result<RunOutcome> {
    let engine_opts = opts.engine.clone();
    let (initial_vus, target_url) = head_of(&plan);
    run_started(initial_vus, target_url, rt, opts, move || {
        let handle = engine::start_with(plan, engine_opts);
        on_start(&handle);
        handle
    })
}

/// As [`run`] for a run that has started elsewhere on `rt` (a fleet's coordinator, whose
/// handle drives the workers and shows their merged view).
pub fn run_handle(
    plan: Plan,
    rt: tokio::runtime::Runtime,
    opts: ConsoleOptions,
    handle: EngineHandle,
) -> std::io::Result<RunOutcome> {
    let (initial_vus, target_url) = head_of(&plan);
    run_started(initial_vus, target_url, rt, opts, move || handle)
}

/// The initial level and the target, for the console's header.
fn head_of(plan: &Plan) -> (u32, String) {
    let initial_vus = match plan.load.model {
        crate::scenario::LoadModel::Closed => plan.load.vus,
        crate::scenario::LoadModel::Open { rate, .. } => rate.round() as u32,
    };
    (initial_vus, plan.base_url.to_string())
}

fn run_started(
    initial_vus: u32,
    target_url: String,
    rt: tokio::runtime::Runtime,
    mut opts: ConsoleOptions,
    start: impl FnOnce() -> EngineHandle + Send + 'static,
) -> std::io::Result<RunOutcome> {
    let stopped = Arc::new(AtomicBool::new(false));
    let hung_up = Arc::new(AtomicBool::new(false));
    // A hang-up detaches only a run that can.
    let on_hangup = match opts.detach {
        Some(_) => opts.on_hangup,
        None => OnHangup::Stop,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let quit_now = Arc::new(Notify::new());
    let mut watcher = Watcher {
        stopped: stopped.clone(),
        hung_up: hung_up.clone(),
        on_hangup,
    };
    let hurry = quit_now.clone();
    let signals = opts.signals;
    let engine_thread = std::thread::Builder::new()
        .name("volley-engine".into())
        .spawn(move || {
            let snap = rt.block_on(async move {
                let handle = start();
                let _ = tx.send((handle.commands.clone(), handle.snapshots.clone()));
                engine::supervise(handle, signals, hurry, &mut watcher).await
            });
            rt.shutdown_timeout(Duration::from_millis(200));
            snap
        })?;
    let Ok((commands, snapshots)) = rx.recv() else {
        // The engine thread died before it started: nothing ran.
        return match engine_thread.join() {
            Ok(outcome) => Ok(outcome),
            Err(p) => std::panic::resume_unwind(p),
        };
    };
    let mut link = Local {
        commands,
        snapshots,
        engine: engine_thread,
        quit_now,
        stopped,
        hung_up,
    };

    let mut app = App::new(link.snapshot(), opts.theme, initial_vus);
    app.insecure = opts.insecure;
    app.notice = opts.notice;
    app.target_url = Some(target_url);
    app.detachable = opts.detach.is_some();
    let mut leave = drive(&mut app, &mut link, opts.fps)?;
    // A run that is over has nothing to go on with: it ends as a quit does.
    if leave == Leave::Lost && on_hangup == OnHangup::Detach && !link.ended() {
        leave = Leave::Detach;
    }
    if leave == Leave::Detach {
        if let Some(d) = opts.detach.take() {
            // The run goes on; its results are written when it ends, as they would be.
            d.go();
            return Ok(link.join(false));
        }
    }
    let lost = leave == Leave::Lost;
    let hurried = !lost && !link.engine.is_finished();
    if lost {
        // Nobody is watching: stop as SIGHUP does (graceful, within the scenario's
        // graceful-stop period, unless a signal already asked) and wait for the
        // engine's own final count.
        if !link.stopped.swap(true, Ordering::Relaxed) {
            link.send(Command::StopOnSignal(StopSignal::HangUp));
        }
    } else if hurried {
        // A second Stop makes the engine abort what is in flight (counted as aborted) at
        // once: the supervisor waits a moment for its final count rather than lose them.
        link.quit_now.notify_one();
    }
    Ok(link.join(lost || hurried))
}

/// The console on a run in another process (`volley attach`): the same loop, keys and
/// screens, fed by `link`. `d` leaves it (the run goes on), as does `q` on the DONE
/// screen; `q` on a running run stops it, as it does locally.
pub fn attach(
    link: &mut dyn RunLink,
    theme: Theme,
    fps: u32,
    target_url: Option<String>,
) -> std::io::Result<Leave> {
    let first = link.snapshot();
    let load = first.rate.map_or(first.vus_target, |r| r.round() as u32);
    let mut app = App::new(first, theme, load);
    app.target_url = target_url;
    app.detachable = true;
    drive(&mut app, link, fps)
}

/// The console loop: draws `app` from `link`'s snapshots and sends `link` the commands of
/// the keys, until the operator quits or detaches, or the terminal goes away. The
/// terminal is restored when it returns.
pub fn drive(app: &mut App, link: &mut dyn RunLink, fps: u32) -> std::io::Result<Leave> {
    let frame = Duration::from_secs_f64(1.0 / fps.clamp(1, 60) as f64);
    let mut guard = TermGuard::enter()?;
    let mut last_draw = Instant::now() - frame;
    let mut dirty = true;
    let mut stats = FrameStats::default();
    // When the last key not yet drawn was read.
    let mut key_at: Option<Instant> = None;
    let input = Input::start();
    let leave = loop {
        let wait = frame.saturating_sub(last_draw.elapsed());
        let ev = match input
            .events
            .recv_timeout(if dirty { Duration::ZERO } else { wait })
        {
            Ok(Ok(ev)) => Some(ev),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => None,
            // The terminal went away (the SSH connection dropped, the terminal window
            // closed): it hung up, or reading failed.
            Ok(Err(_)) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                break Leave::Lost;
            }
        };
        if crate::sys::terminal_hung_up() || link.hung_up() || link.lost().is_some() {
            break Leave::Lost;
        }
        if let Some(ev) = ev {
            match ev {
                Event::Key(k) => {
                    key_at.get_or_insert_with(Instant::now);
                    for cmd in app.on_key(&k) {
                        link.send(cmd);
                    }
                    dirty = true;
                }
                Event::Resize(_, _) => dirty = true,
                _ => {}
            }
        }
        if app.quit == Quit::Detach {
            break Leave::Detach;
        }
        let ended = link.ended();
        // After a panic (the terminal is already restored) leave as soon as the engine,
        // which a panicking VU stops, has finished.
        let panicked = engine::worker_panicked() || super::term::panicked_thread().is_some();
        if ended && (panicked || link.stopped_outside() || app.quit != Quit::No) {
            break Leave::Quit;
        }
        if app.quit == Quit::Now {
            break Leave::Quit;
        }
        if !panicked && (dirty || last_draw.elapsed() >= frame) {
            let started = Instant::now();
            app.set_snapshot(link.snapshot());
            if guard.terminal().draw(|f| view::draw(f, app)).is_err() {
                break Leave::Lost;
            }
            last_draw = Instant::now();
            stats.frame(last_draw - started, key_at.take().map(|k| last_draw - k));
            dirty = false;
        }
    };
    input.finish();
    drop(guard);
    if std::env::var_os("VOLLEY_FRAME_STATS").is_some() {
        say!("{}", stats.summary());
    }
    Ok(leave)
}

/// Terminal events, read on a thread of their own. crossterm's reader loops forever
/// (at full CPU) once the terminal has hung up, because it retries a read that returns
/// end-of-file; on its own thread that cannot stop the console from noticing the
/// hang-up, stopping the run and writing the results (the process then exits).
struct Input {
    events: std::sync::mpsc::Receiver<std::io::Result<Event>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Input {
    fn start() -> Input {
        let (tx, events) = std::sync::mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        // If the thread cannot start, its sender is dropped with it: the console sees the
        // input gone, as after a hang-up, and stops the run with its results written.
        let thread = std::thread::Builder::new()
            .name("volley-input".into())
            .spawn(move || {
                while !stopping.load(Ordering::Relaxed) {
                    let ev = match event::poll(Duration::from_millis(50)) {
                        Ok(false) => continue,
                        Ok(true) => event::read(),
                        Err(e) => Err(e),
                    };
                    let failed = ev.is_err();
                    if tx.send(ev).is_err() || failed {
                        break;
                    }
                }
            })
            .ok();
        Input {
            events,
            stop,
            thread,
        }
    }

    /// Stops reading (within one poll, 50 ms): the terminal can be given away.
    fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread {
            let end = Instant::now() + Duration::from_millis(500);
            while !t.is_finished() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// How long frames took to draw (snapshot to terminal written) and keys took to show,
/// printed on exit when `VOLLEY_FRAME_STATS` is set (a measuring aid for
/// docs/performance.md).
#[derive(Debug, Default)]
struct FrameStats {
    frames: Vec<u32>,
    keys: Vec<u32>,
}

impl FrameStats {
    /// Samples kept (the first ones; a frame per 125 ms is 40 minutes).
    const KEEP: usize = 20_000;

    fn frame(&mut self, draw: Duration, key: Option<Duration>) {
        if self.frames.len() < Self::KEEP {
            self.frames
                .push(draw.as_micros().min(u32::MAX as u128) as u32);
        }
        if let Some(k) = key.filter(|_| self.keys.len() < Self::KEEP) {
            self.keys.push(k.as_micros().min(u32::MAX as u128) as u32);
        }
    }

    fn summary(&mut self) -> String {
        fn line(name: &str, v: &mut [u32]) -> String {
            if v.is_empty() {
                return format!("{name}: none");
            }
            v.sort_unstable();
            let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0;
            format!(
                "{name}: {} p50 {:.2} ms p99 {:.2} ms max {:.2} ms",
                v.len(),
                q(0.5),
                q(0.99),
                q(1.0)
            )
        }
        format!(
            "volley: {}; {}",
            line("frames", &mut self.frames),
            line("key to frame", &mut self.keys)
        )
    }
}

/// The console's answer to stop signals: each asks for the graceful stop (a repeated
/// hang-up only once; under `--on-hangup detach` a hang-up detaches instead), and the
/// console leaves once the run has ended.
struct Watcher {
    /// A signal asked the run to stop: the console leaves when the engine is done.
    stopped: Arc<AtomicBool>,
    /// A hang-up asked the console to detach.
    hung_up: Arc<AtomicBool>,
    on_hangup: OnHangup,
}

impl engine::Watcher for Watcher {
    fn on_signal(&mut self, sig: StopSignal) -> OnSignal {
        match sig {
            StopSignal::HangUp if self.on_hangup == OnHangup::Detach => {
                self.hung_up.store(true, Ordering::Relaxed);
                OnSignal::Ignore
            }
            // A hang-up may come as more than one SIGHUP (from the shell and from the
            // terminal), and the console may notice the hang-up itself: only the first
            // asks for the graceful stop (a second Stop would abort what is in flight).
            StopSignal::HangUp if self.stopped.swap(true, Ordering::Relaxed) => OnSignal::Ignore,
            _ => {
                self.stopped.store(true, Ordering::Relaxed);
                OnSignal::Stop
            }
        }
    }
}
