//! The one place where engine and metrics types meet the protocol's: snapshots to
//! `RunStatus`, API commands to the engine's [`Command`]s, a plan to its redacted summary.

use std::time::Duration;

use tonic::Status;

use super::proto;
use crate::engine::{Command, Spike, SpikeChange};
use crate::metrics::{RunState, Snapshot};
use crate::scenario::{Plan, MAX_VUS};

pub fn state(s: RunState) -> proto::State {
    match s {
        RunState::Running => proto::State::Running,
        RunState::Paused => proto::State::Paused,
        RunState::Stopping => proto::State::Stopping,
        RunState::Done => proto::State::Done,
    }
}

/// The status fields of a snapshot (the caller adds run id, outcome and auth failures).
pub fn status(s: &Snapshot) -> proto::RunStatus {
    proto::RunStatus {
        run_id: String::new(),
        scenario: s.scenario.clone(),
        state: state(s.state) as i32,
        elapsed_s: s.elapsed.as_secs_f64(),
        run_time_s: s.run_time.as_secs_f64(),
        planned_s: s.planned.map(|d| d.as_secs_f64()),
        vus_active: s.vus_active,
        vus_target: s.vus_target,
        rate: s.rate,
        requests: s.total.requests,
        errors: s.total.errors,
        // A finished run's throughput is its average, as its results give it.
        rps: match s.state {
            RunState::Done => s.rps_overall(),
            _ => s.total.rps_now,
        },
        error_rate: s.total.error_rate(),
        p95_us: s.total.quantile_opt_us(0.95),
        in_flight: s.in_flight,
        iterations_done: s.iterations_done,
        stage: s.stage.as_ref().map(|st| st.to_string()),
        spike: s.spike.as_ref().map(|sp| sp.spike.to_string()),
        outcome: None,
        auth_failures: 0,
    }
}

/// The engine commands for an API command, given the run now, and what the events say
/// was applied. Refuses what the run cannot take, with the reason.
pub fn command(
    cmd: &proto::command_request::Command,
    s: &Snapshot,
) -> Result<(Vec<Command>, String), Status> {
    use proto::command_request::Command as C;
    let open = s.rate.is_some();
    let load = |n: f64| -> (Vec<Command>, String) {
        if open {
            let r = n.clamp(0.0, 1_000_000.0);
            (vec![Command::SetRate(r)], format!("set rate {r}/s"))
        } else {
            let v = n.clamp(0.0, MAX_VUS as f64) as u32;
            (vec![Command::SetVus(v)], format!("set VUs {v}"))
        }
    };
    let current = s.rate.unwrap_or(s.vus_target as f64);
    Ok(match cmd {
        C::SetVus(n) => {
            if *n as u64 > MAX_VUS {
                return Err(Status::invalid_argument(format!("at most {MAX_VUS} VUs")));
            }
            load(*n as f64)
        }
        C::SetRate(r) => {
            if !open {
                return Err(Status::failed_precondition(
                    "this run is closed-model (VUs, no arrival rate): set VUs instead",
                ));
            }
            if !(r.is_finite() && *r > 0.0 && *r <= 1_000_000.0) {
                return Err(Status::invalid_argument(
                    "the rate must be above 0 and at most 1000000/s",
                ));
            }
            load(*r)
        }
        C::Step(d) => load(current + *d as f64),
        C::Spike(sp) => {
            let spike = spike(sp)?;
            (vec![Command::Spike(spike)], format!("spike {spike}"))
        }
        C::EndSpike(_) => (vec![Command::EndSpike], "end spike".into()),
        C::Pause(_) => (vec![Command::Pause], "pause".into()),
        C::Resume(_) => (vec![Command::Resume], "resume".into()),
        C::Stop(_) => (vec![Command::Stop], "stop".into()),
        // A second stop cuts the graceful stop short (the console's second Ctrl-C).
        C::Abort(_) => (vec![Command::Stop, Command::Stop], "abort".into()),
    })
}

pub fn spike(sp: &proto::Spike) -> Result<Spike, Status> {
    use proto::spike::Change;
    let change = match sp.change {
        Some(Change::Times(f)) if f > 0.0 && f <= 1000.0 => SpikeChange::Times(f),
        Some(Change::Times(_)) => {
            return Err(Status::invalid_argument(
                "the spike factor must be above 0 and at most 1000",
            ))
        }
        Some(Change::Plus(n)) => SpikeChange::Plus(n.min(MAX_VUS as u32)),
        None => {
            return Err(Status::invalid_argument(
                "a spike needs a factor or an addition",
            ))
        }
    };
    if sp.duration_ms == 0 {
        return Err(Status::invalid_argument(
            "the spike needs a duration above zero",
        ));
    }
    Ok(Spike {
        change,
        duration: Duration::from_millis(sp.duration_ms),
    })
}

/// The protocol's form of an engine spike.
pub fn spike_message(s: &Spike) -> proto::Spike {
    use proto::spike::Change;
    proto::Spike {
        change: Some(match s.change {
            SpikeChange::Times(f) => Change::Times(f),
            SpikeChange::Plus(n) => Change::Plus(n),
        }),
        duration_ms: s.duration.as_millis().min(u64::MAX as u128) as u64,
    }
}

/// The base URL without credentials, query or fragment.
pub fn target(plan: &Plan) -> String {
    let mut u = plan.base_url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

/// The plan as `volley check` prints it, only the lines that carry no URL or value of
/// the scenario's (load, stages, pacing, grace, users, data sets' names), then the
/// requests by method and name.
pub fn plan_summary(plan: &Plan) -> String {
    const KEEP: [&str; 9] = [
        "scenario ",
        "load ",
        "  stage ",
        "pacing ",
        "think time ",
        "grace ",
        "http ",
        "retry ",
        "users ",
    ];
    let text = plan.to_string();
    let mut out: Vec<String> = text
        .lines()
        .filter(|l| KEEP.iter().any(|k| l.starts_with(k)))
        .map(str::to_string)
        .collect();
    out.push(format!("requests   {}", plan.endpoints.len()));
    for e in &plan.endpoints {
        out.push(format!("  {:<7} {}", e.method, e.name));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_run_reports_its_average_rps_as_its_results_do() {
        let mut s = Snapshot::empty("t", &[]);
        s.elapsed = Duration::from_secs(40);
        s.total.requests = 13_520;
        s.total.rps_now = 258.0;
        assert_eq!(status(&s).rps, 258.0, "a live run: the rps now");
        s.state = RunState::Done;
        assert_eq!(status(&s).rps, 338.0, "a finished run: requests / elapsed");
    }
}
