//! The fleet protocol's small parts: clocks, the scenario's hash, the overrides a
//! coordinator passes on, and engine commands as plan changes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::control::{convert, proto};
use crate::engine::Command;

/// The histograms' significant digits (`metrics::new_histogram`): coordinator and workers
/// must agree for the merge to be exact.
pub const HISTOGRAM_SIGFIG: u32 = 3;

/// How often each worker reports and the coordinator publishes the merged view, for a
/// fleet of `workers`: 4 times a second up to 8 workers, then slower, down to once a
/// second from 25 workers on. The coordinator's work is a decode per report and a merge
/// of every worker's histograms per publication, so this keeps it about flat per second
/// as the fleet grows (docs/fleet.md); the numbers stay exact, only fresher or not.
pub fn update_every(workers: usize) -> std::time::Duration {
    let steps = workers.max(1).div_ceil(8).min(4) as u32;
    std::time::Duration::from_millis(250) * steps
}

/// This machine's wall clock, microseconds since the Unix epoch.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// A wall-clock instant (microseconds since the Unix epoch) as a tokio instant on this
/// machine: now, when it is past.
pub fn instant_of(unix_us: i64) -> tokio::time::Instant {
    let ahead = unix_us.saturating_sub(now_us()).max(0) as u64;
    tokio::time::Instant::now() + Duration::from_micros(ahead)
}

/// SHA-256 of a scenario's text, in hex.
pub fn scenario_sha256(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The command-line overrides as the workers get them.
pub fn overrides_message(
    o: &crate::cli::OverrideArgs,
    graceful_stop: Option<Duration>,
) -> proto::Overrides {
    proto::Overrides {
        target: o.target.clone(),
        vus: o.vus,
        duration_ms: o.duration.map(|d| d.as_millis() as u64),
        iterations: o.iterations,
        insecure: o.insecure,
        cut: o.cut,
        no_retry: o.no_retry,
        graceful_stop_ms: graceful_stop.map(|d| d.as_millis() as u64),
    }
}

/// The overrides back as command-line arguments, and the graceful stop.
pub fn overrides_of(m: &proto::Overrides) -> (crate::cli::OverrideArgs, Option<Duration>) {
    (
        crate::cli::OverrideArgs {
            target: m.target.clone(),
            vus: m.vus,
            duration: m.duration_ms.map(Duration::from_millis),
            cut: m.cut,
            iterations: m.iterations,
            insecure: m.insecure,
            no_retry: m.no_retry,
        },
        m.graceful_stop_ms.map(Duration::from_millis),
    )
}

/// An engine command as the API's command message (what a plan change carries).
pub fn command_message(c: &Command) -> proto::command_request::Command {
    use proto::command_request::Command as C;
    match c {
        Command::SetVus(n) => C::SetVus(*n),
        Command::SetRate(r) => C::SetRate(*r),
        Command::Pause => C::Pause(proto::Empty {}),
        Command::Resume => C::Resume(proto::Empty {}),
        Command::Spike(s) => C::Spike(convert::spike_message(s)),
        Command::EndSpike => C::EndSpike(proto::Empty {}),
        Command::Stop | Command::StopOnSignal(_) => C::Stop(proto::Empty {}),
        Command::By { command, .. } => command_message(command),
    }
}

/// Who sent a command, when it says (a `volley ctl`, an attached console): the workers
/// name them in their events as one process does.
pub fn sender_of(c: &Command) -> Option<&str> {
    match c {
        Command::By { sender, .. } => Some(sender),
        _ => None,
    }
}

/// A plan change's command as the workers apply it: `By` its sender, when it has one.
pub fn engine_command_by(r: &proto::CommandRequest) -> Option<Command> {
    let c = engine_command(r.command.as_ref()?)?;
    Some(match r.sender.as_str() {
        "" | COORDINATOR => c,
        s => Command::By {
            sender: s.to_string(),
            command: Box::new(c),
        },
    })
}

/// The sender of the coordinator's own plan changes (a lost worker's stop, a threshold's
/// abort).
pub const COORDINATOR: &str = "coordinator";

/// A plan change's command as the engine's: exactly one command (a stop is one stop,
/// whichever way it was asked; the coordinator sends a second one to cut the graceful
/// stop short).
pub fn engine_command(c: &proto::command_request::Command) -> Option<Command> {
    use proto::command_request::Command as C;
    Some(match c {
        C::SetVus(n) => Command::SetVus(*n),
        C::SetRate(r) => Command::SetRate(*r),
        C::Pause(_) => Command::Pause,
        C::Resume(_) => Command::Resume,
        C::Spike(s) => Command::Spike(convert::spike(s).ok()?),
        C::EndSpike(_) => Command::EndSpike,
        C::Stop(_) | C::Abort(_) => Command::Stop,
        C::Step(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn updates_slow_down_as_the_fleet_grows() {
        use std::time::Duration;
        assert_eq!(super::update_every(1), Duration::from_millis(250));
        assert_eq!(super::update_every(8), Duration::from_millis(250));
        assert_eq!(super::update_every(9), Duration::from_millis(500));
        assert_eq!(super::update_every(25), Duration::from_secs(1));
        assert_eq!(super::update_every(1000), Duration::from_secs(1));
    }

    use super::*;
    use crate::engine::{Spike, SpikeChange};

    #[test]
    fn commands_travel_as_plan_changes_and_back() {
        let spike = Spike {
            change: SpikeChange::Times(3.0),
            duration: Duration::from_secs(5),
        };
        for c in [
            Command::SetVus(7),
            Command::SetRate(12.5),
            Command::Pause,
            Command::Resume,
            Command::Spike(spike),
            Command::EndSpike,
            Command::Stop,
        ] {
            assert_eq!(engine_command(&command_message(&c)), Some(c.clone()));
        }
        let sig = Command::StopOnSignal(crate::engine::StopSignal::Interrupt);
        assert_eq!(engine_command(&command_message(&sig)), Some(Command::Stop));
        // A sender travels beside the command and comes back as `By`.
        let by = Command::By {
            sender: "ctl (local)".into(),
            command: Box::new(Command::SetVus(9)),
        };
        let req = proto::CommandRequest {
            version: 1,
            sender: sender_of(&by).unwrap().into(),
            command: Some(command_message(&by)),
        };
        assert_eq!(engine_command_by(&req), Some(by));
    }

    #[test]
    fn the_scenario_hash_is_sha256_hex() {
        assert_eq!(
            scenario_sha256("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn overrides_round_trip() {
        let o = crate::cli::OverrideArgs {
            target: Some("http://127.0.0.1:1/".into()),
            vus: Some(3),
            duration: Some(Duration::from_secs(4)),
            cut: true,
            iterations: Some(9),
            insecure: true,
            no_retry: true,
        };
        let (back, g) = overrides_of(&overrides_message(&o, Some(Duration::from_secs(1))));
        assert_eq!(format!("{back:?}"), format!("{o:?}"));
        assert_eq!(g, Some(Duration::from_secs(1)));
    }
}
