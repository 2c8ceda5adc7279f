//! What the console is connected to: one UI code path, two transports. The console loop
//! ([`super::console::drive`]) reads snapshots from a [`RunLink`] and sends it the
//! commands of the keys; it does not know whether the run is in this process (the
//! engine's channels, [`super::console::Local`]) or in another one (the control API,
//! `volley attach`).

use std::sync::Arc;

use crate::engine::Command;
use crate::metrics::Snapshot;

/// A run the console watches and steers.
pub trait RunLink {
    /// The newest snapshot (events included).
    fn snapshot(&mut self) -> Arc<Snapshot>;
    /// Asks the run for a change. A run that no longer listens drops it.
    fn send(&mut self, cmd: Command);
    /// The run has ended: its final snapshot is in, nothing more will change.
    fn ended(&mut self) -> bool;
    /// The run was stopped from outside this console (a signal, another console): the
    /// console leaves as soon as it has ended instead of waiting on the DONE screen.
    fn stopped_outside(&self) -> bool {
        false
    }
    /// The terminal hung up (SIGHUP) and the run is to go on without this console.
    fn hung_up(&self) -> bool {
        false
    }
    /// The link to the run is gone (a remote run host went away): why, for the operator.
    fn lost(&self) -> Option<String> {
        None
    }
}

/// How the console loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leave {
    /// Quit: the run has ended, or the operator insisted (a second Ctrl-C).
    Quit,
    /// `d`: the run goes on without this console.
    Detach,
    /// The terminal went away (it hung up, or reading or drawing failed), or the link to
    /// the run did.
    Lost,
}

/// A run in another process, as the console sees it: the snapshots and the end its
/// transport (the control API's stream) delivers into a [`Feed`], and the commands the
/// keys send out of it.
pub struct Remote {
    snapshots: tokio::sync::watch::Receiver<Arc<Snapshot>>,
    commands: tokio::sync::mpsc::UnboundedSender<Command>,
    status: Arc<std::sync::Mutex<Status>>,
}

/// The transport's side of a [`Remote`].
pub struct Feed {
    snapshots: tokio::sync::watch::Sender<Arc<Snapshot>>,
    /// The commands the console sent, in order.
    pub commands: tokio::sync::mpsc::UnboundedReceiver<Command>,
    status: Arc<std::sync::Mutex<Status>>,
}

#[derive(Debug, Default)]
struct Status {
    ended: bool,
    stopped_outside: bool,
    lost: Option<String>,
}

/// A [`Remote`] link and the [`Feed`] that fills it, starting from `first`.
pub fn remote(first: Arc<Snapshot>) -> (Remote, Feed) {
    let (snap_tx, snap_rx) = tokio::sync::watch::channel(first);
    let (cmd_tx, cmd_rx) = tokio::sync::mpsc::unbounded_channel();
    let status = Arc::new(std::sync::Mutex::new(Status::default()));
    (
        Remote {
            snapshots: snap_rx,
            commands: cmd_tx,
            status: status.clone(),
        },
        Feed {
            snapshots: snap_tx,
            commands: cmd_rx,
            status,
        },
    )
}

impl Feed {
    /// A new snapshot of the run.
    pub fn publish(&self, snap: Arc<Snapshot>) {
        self.snapshots.send_replace(snap);
    }

    /// The run has ended: the last snapshot published is its final one. `stopped_outside`:
    /// it was stopped by someone else than this console (its console then leaves at once
    /// rather than wait on the DONE screen).
    pub fn end(&self, stopped_outside: bool) {
        let mut s = self.status.lock().unwrap_or_else(|p| p.into_inner());
        s.ended = true;
        s.stopped_outside = stopped_outside;
    }

    /// The connection to the run is gone, and why.
    pub fn lose(&self, why: String) {
        let mut s = self.status.lock().unwrap_or_else(|p| p.into_inner());
        s.lost.get_or_insert(why);
    }
}

impl Remote {
    fn status<T>(&self, f: impl FnOnce(&Status) -> T) -> T {
        f(&self.status.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl RunLink for Remote {
    fn snapshot(&mut self) -> Arc<Snapshot> {
        self.snapshots.borrow().clone()
    }

    fn send(&mut self, cmd: Command) {
        let _ = self.commands.send(cmd);
    }

    fn ended(&mut self) -> bool {
        self.status(|s| s.ended)
    }

    fn stopped_outside(&self) -> bool {
        self.status(|s| s.stopped_outside)
    }

    fn lost(&self) -> Option<String> {
        self.status(|s| s.lost.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remote_link_carries_snapshots_commands_and_the_end() {
        let (mut link, mut feed) = remote(Arc::new(Snapshot::empty("t", &[])));
        let mut s = Snapshot::empty("t", &[]);
        s.vus_target = 7;
        feed.publish(Arc::new(s));
        assert_eq!(link.snapshot().vus_target, 7);
        link.send(Command::SetVus(3));
        assert_eq!(feed.commands.try_recv().ok(), Some(Command::SetVus(3)));
        assert!(!link.ended() && link.lost().is_none());
        feed.end(true);
        assert!(link.ended() && link.stopped_outside());
        feed.lose("the run host went away".into());
        assert_eq!(link.lost().as_deref(), Some("the run host went away"));
    }
}
