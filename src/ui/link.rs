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
