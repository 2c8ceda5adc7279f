//! What the engine can be told to do while it runs, from any source.

pub use crate::state::{Spike, SpikeChange};

/// A control command. Keys, the control API and stages all speak this.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Run exactly this many VUs from now on (open model: this many iterations/s).
    SetVus(u32),
    /// Open model: start this many iterations per second from now on.
    SetRate(f64),
    /// No new request starts; in-flight ones finish; the run clock stops.
    Pause,
    /// Continue from where the run was paused.
    Resume,
    /// Multiply (or add to) the current VUs for a while, then return by itself.
    Spike(Spike),
    /// End a spike early.
    EndSpike,
    /// End the run: no new request starts, in-flight ones get the graceful-stop period.
    /// (The console's `q`; a second one cuts the graceful stop short.)
    Stop,
    /// [`Command::Stop`] because the process got a signal, which the events name.
    StopOnSignal(StopSignal),
    /// A command sent by someone the events should name (a `volley ctl`, an attached
    /// console): its events end in " · by SENDER".
    By {
        sender: String,
        command: Box<Command>,
    },
}

impl Command {
    /// Either kind of stop.
    pub fn is_stop(&self) -> bool {
        match self {
            Command::Stop | Command::StopOnSignal(_) => true,
            Command::By { command, .. } => command.is_stop(),
            _ => false,
        }
    }
}

/// The signals that stop a run gracefully.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// Ctrl-C.
    Interrupt,
    /// `kill`, a service manager, a CI runner's cancel.
    Terminate,
    /// The terminal went away.
    HangUp,
}

impl StopSignal {
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
            StopSignal::HangUp => "SIGHUP",
        }
    }
}
