//! Seeing a run to its end, whoever watches it (headless mode, the console, a control
//! server): stop signals become [`Command`]s, an operator may cut the wait short, and the
//! outcome is the engine's final snapshot, or the last one it published, marked partial.
//! Nothing here needs a terminal.

use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::{watch, Notify};
use tokio::task::{JoinError, JoinHandle};

use super::command::{Command, StopSignal};
use super::EngineHandle;
use crate::metrics::Snapshot;

/// How a run ended for whoever watched it: its final snapshot, and whether the operator
/// cut it short.
#[derive(Debug)]
pub struct RunOutcome {
    pub snapshot: Snapshot,
    /// The operator insisted (a second Ctrl-C, a forced quit): the results are what the
    /// engine counted within [`HURRY`], or else what it published last.
    pub forced: bool,
    /// A stop signal arrived while the run was watched: whoever sent it wants volley gone
    /// (no grace period for a last scrape).
    pub signalled: bool,
}

/// How long a hurried run is given to count what it cut off.
pub const HURRY: Duration = Duration::from_secs(2);

/// The process's stop signals (SIGINT, SIGTERM, SIGHUP). One that cannot be listened
/// for never arrives. Signals sent after [`Signals::listen`] and before the first
/// [`Signals::recv`] are kept for it (and do not kill the process).
#[derive(Debug)]
pub struct Signals {
    int: Option<Signal>,
    term: Option<Signal>,
    hup: Option<Signal>,
}

impl Signals {
    /// Starts listening from now, for `rt` (which need not be running yet): what a run
    /// does before it prints or starts anything, so that a signal while it comes up is
    /// not lost and does not kill the process.
    pub fn listen_on(rt: &tokio::runtime::Runtime) -> Signals {
        let _in = rt.enter();
        Signals::listen()
    }

    /// Starts listening (on the current tokio runtime).
    pub fn listen() -> Signals {
        Signals {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
            hup: signal(SignalKind::hangup()).ok(),
        }
    }

    /// Listens to nothing: a run that only commands stop (a test, or a server that
    /// handles the process's signals itself).
    pub fn none() -> Signals {
        Signals {
            int: None,
            term: None,
            hup: None,
        }
    }

    /// The next stop signal.
    pub async fn recv(&mut self) -> StopSignal {
        tokio::select! {
            _ = recv(&mut self.int) => StopSignal::Interrupt,
            _ = recv(&mut self.term) => StopSignal::Terminate,
            _ = recv(&mut self.hup) => StopSignal::HangUp,
        }
    }
}

/// The next delivery of a signal; never, when it could not be listened for.
async fn recv(sig: &mut Option<Signal>) {
    match sig {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// What to do with a stop signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnSignal {
    /// Ask the engine for its graceful stop (`Command::StopOnSignal`).
    Stop,
    /// Ask again (the engine cuts off what is in flight) and stop waiting: see
    /// [`RunOutcome::forced`].
    Hurry,
    /// Nothing (a hang-up already asked for the stop).
    Ignore,
}

/// Whoever watches a supervised run: how it answers signals, and its progress report.
pub trait Watcher {
    /// Decides what a stop signal does.
    fn on_signal(&mut self, sig: StopSignal) -> OnSignal;

    /// How often [`Watcher::progress`] is called; never by default.
    fn every(&self) -> Option<Duration> {
        None
    }

    /// Called every [`Watcher::every`] with the latest snapshot.
    fn progress(&mut self, _snapshot: &Snapshot) {}
}

/// Watches the run of `handle` until it ends. Stop signals go to `watcher`; a
/// notification of `quit_now` (an operator who will not wait for the graceful stop)
/// sends a second [`Command::Stop`] and waits at most [`HURRY`]. A panic of the engine
/// resumes here.
pub async fn supervise(
    handle: EngineHandle,
    mut signals: Signals,
    quit_now: Arc<Notify>,
    watcher: &mut dyn Watcher,
) -> RunOutcome {
    let EngineHandle {
        commands,
        snapshots,
        mut done,
    } = handle;
    let mut progress = watcher.every().map(tokio::time::interval);
    if let Some(p) = progress.as_mut() {
        p.tick().await;
    }
    let mut signalled = false;
    loop {
        tokio::select! {
            res = &mut done => {
                return RunOutcome {
                    snapshot: final_snapshot(res, &snapshots),
                    forced: false,
                    signalled,
                };
            }
            _ = tick(&mut progress) => watcher.progress(&snapshots.borrow()),
            sig = signals.recv() => {
                signalled = true;
                match watcher.on_signal(sig) {
                    OnSignal::Stop => {
                        let _ = commands.send(Command::StopOnSignal(sig));
                    }
                    OnSignal::Hurry => {
                        let _ = commands.send(Command::StopOnSignal(sig));
                        return hurried(done, snapshots, true).await;
                    }
                    OnSignal::Ignore => {}
                }
            }
            _ = quit_now.notified() => {
                let _ = commands.send(Command::Stop);
                return hurried(done, snapshots, signalled).await;
            }
        }
    }
}

/// After a second stop the engine cuts off what is in flight and counts it within
/// moments: wait [`HURRY`] for that count, else take what it published last.
async fn hurried(
    mut done: JoinHandle<Snapshot>,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    signalled: bool,
) -> RunOutcome {
    let snapshot = match tokio::time::timeout(HURRY, &mut done).await {
        Ok(res) => final_snapshot(res, &snapshots),
        Err(_) => {
            done.abort();
            last_published(&snapshots)
        }
    };
    RunOutcome {
        snapshot,
        forced: true,
        signalled,
    }
}

async fn tick(progress: &mut Option<tokio::time::Interval>) {
    match progress {
        Some(p) => {
            p.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// The engine task's result: its final snapshot; its panic, resumed; else (it was
/// cancelled) the last snapshot it published, marked partial.
pub(crate) fn final_snapshot(
    res: Result<Snapshot, JoinError>,
    snapshots: &watch::Receiver<Arc<Snapshot>>,
) -> Snapshot {
    match res {
        Ok(s) => s,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => last_published(snapshots),
    }
}

/// The last snapshot published, marked partial: what is known of a run that did not
/// deliver its final count.
pub fn last_published(snapshots: &watch::Receiver<Arc<Snapshot>>) -> Snapshot {
    let mut s = (**snapshots.borrow()).clone();
    s.partial = true;
    s
}
