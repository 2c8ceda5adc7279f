//! `volley ctl [RUN] COMMAND` and `volley ls`: the control API from the command line.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::client::{self, Client, Target};
use super::rundir::{self, Liveness};
use super::{proto, PROTOCOL_VERSION};
use crate::error::exit;
use crate::units;

/// `volley ctl`
#[derive(Debug, Args, Clone)]
pub struct CtlArgs {
    /// [RUN] COMMAND [ARGS]: RUN is an id, a unique prefix of one, or left out when
    /// exactly one run is live. COMMAND: vus N, rate N/s, step +N|-N, spike 5x 30s,
    /// end-spike, pause, resume, stop, abort, status, wait.
    #[arg(required = true, num_args = 1.., value_name = "ARGS", allow_negative_numbers = true)]
    pub words: Vec<String>,
    /// A run's TCP control address (http://127.0.0.1:7600, https://HOST:PORT) instead of
    /// a run in the run directory; the token comes from VOLLEY_TOKEN or --token-file.
    #[arg(long = "connect", value_name = "URL")]
    pub connect: Option<String>,
    /// A file holding the run's token (for --connect).
    #[arg(long = "token-file", value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// With https: the SHA-256 fingerprint of the run's certificate (printed at its start).
    #[arg(long = "fingerprint", value_name = "SHA256")]
    pub fingerprint: Option<String>,
    /// Apply a change of more than 10x the current load.
    #[arg(long = "yes")]
    pub yes: bool,
    /// status: the whole status as JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// `volley ls`
#[derive(Debug, Args, Clone)]
pub struct LsArgs {
    /// One JSON object per run, in an array.
    #[arg(long = "json")]
    pub json: bool,
    /// Remove the finished runs (and their result documents) first.
    #[arg(long = "prune")]
    pub prune: bool,
}

/// What `ctl` was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Verb {
    Send(proto::command_request::Command),
    Status,
    Wait,
}

const VERBS: [&str; 12] = [
    "vus",
    "rate",
    "step",
    "spike",
    "end-spike",
    "pause",
    "resume",
    "stop",
    "abort",
    "status",
    "wait",
    "help",
];

/// Splits `[RUN] COMMAND ARGS` and parses the command with the console's parsers.
pub fn parse_words(words: &[String]) -> Result<(Option<String>, Verb), String> {
    use proto::command_request::Command as C;
    let (run, rest) = match words.first() {
        Some(w) if !VERBS.contains(&w.as_str()) => (Some(w.clone()), &words[1..]),
        _ => (None, words),
    };
    let Some(verb) = rest.first() else {
        return Err(format!("no command: one of {}", VERBS[..11].join(", ")));
    };
    let args = &rest[1..];
    let one = |what: &str| -> Result<&str, String> {
        match args {
            [a] => Ok(a.as_str()),
            _ => Err(format!("'{verb}' takes one argument: {what}")),
        }
    };
    let none = || -> Result<(), String> {
        match args {
            [] => Ok(()),
            [extra, ..] => Err(format!("'{verb}' takes no argument (got '{extra}')")),
        }
    };
    let verb = match verb.as_str() {
        "vus" => Verb::Send(C::SetVus(crate::ui::app::parse_vus(one("a VU count")?)?)),
        "rate" => Verb::Send(C::SetRate(units::parse_rate(one("a rate like 300/s")?)?)),
        "step" => {
            let a = one("+N or -N")?;
            let n: i64 = a
                .parse()
                .map_err(|_| format!("'{a}': expected +N or -N, a whole number"))?;
            Verb::Send(C::Step(n))
        }
        "spike" => {
            let text = args.join(" ");
            let spike = crate::ui::app::parse_spike(&text, Duration::from_secs(30))?;
            Verb::Send(C::Spike(super::convert::spike_message(&spike)))
        }
        "end-spike" => none().map(|_| Verb::Send(C::EndSpike(proto::Empty {})))?,
        "pause" => none().map(|_| Verb::Send(C::Pause(proto::Empty {})))?,
        "resume" => none().map(|_| Verb::Send(C::Resume(proto::Empty {})))?,
        "stop" => none().map(|_| Verb::Send(C::Stop(proto::Empty {})))?,
        "abort" => none().map(|_| Verb::Send(C::Abort(proto::Empty {})))?,
        "status" => none().map(|_| Verb::Status)?,
        "wait" => none().map(|_| Verb::Wait)?,
        other => {
            return Err(format!(
                "unknown command '{other}': one of {}",
                VERBS[..11].join(", ")
            ))
        }
    };
    Ok((run, verb))
}

/// The load a command would set, given the run's target now (for the 10x check).
fn new_load(cmd: &proto::command_request::Command, current: f64) -> Option<f64> {
    use proto::command_request::Command as C;
    match cmd {
        C::SetVus(n) => Some(*n as f64),
        C::SetRate(r) => Some(*r),
        C::Step(d) => Some(current + *d as f64),
        C::Spike(sp) => super::convert::spike(sp)
            .ok()
            .map(|s| s.change.apply_f64(current)),
        _ => None,
    }
}

fn who() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| format!("uid {}", rundir::euid()));
    format!("ctl {user}")
}

fn runtime() -> Result<tokio::runtime::Runtime, crate::Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| crate::Error::io("cannot start the async runtime", e))
}

fn token(args: &CtlArgs) -> Result<String, String> {
    if let Some(f) = &args.token_file {
        return std::fs::read_to_string(f)
            .map(|t| t.trim().to_string())
            .map_err(|e| format!("--token-file '{}': {e}", f.display()));
    }
    match std::env::var("VOLLEY_TOKEN") {
        Ok(t) if !t.trim().is_empty() => Ok(t.trim().to_string()),
        _ => Ok(String::new()),
    }
}

/// Runs `volley ctl`; the exit code is the run's for `wait`.
pub fn ctl_command(args: &CtlArgs) -> Result<i32, crate::Error> {
    let (run, verb) = parse_words(&args.words).map_err(crate::Error::Usage)?;
    let target = match &args.connect {
        Some(url) => {
            if run.is_some() {
                return Err(crate::Error::Usage(
                    "give a RUN or --connect URL, not both".into(),
                ));
            }
            Target::Tcp {
                url: url.clone(),
                token: token(args).map_err(crate::Error::Usage)?,
                fingerprint: args.fingerprint.clone(),
            }
        }
        None => {
            let found = rundir::find(run.as_deref()).map_err(crate::Error::Usage)?;
            if found.liveness != Liveness::Live {
                return finished(&found, &verb, args.json);
            }
            client::local(&found).map_err(|e| {
                say!("volley ctl: {e}");
                crate::Error::Usage(e)
            })?
        }
    };
    let rt = runtime()?;
    let res = rt.block_on(async {
        let mut c = client::connect(&target).await?;
        match verb {
            Verb::Send(cmd) => send(&mut c, cmd, args.yes).await,
            Verb::Status => status(&mut c, args.json).await,
            Verb::Wait => wait(&mut c).await,
        }
    });
    match res {
        Ok(code) => Ok(code),
        Err(e) => {
            say!("volley ctl: {e}");
            Ok(exit::FAILURE)
        }
    }
}

async fn send(
    c: &mut Client,
    cmd: proto::command_request::Command,
    yes: bool,
) -> Result<i32, String> {
    let st = client::status(c).await?;
    let current = st.rate.unwrap_or(st.vus_target as f64);
    if let Some(new) = new_load(&cmd, current) {
        let ratio = new / current.max(1.0);
        if ratio > crate::ui::app::CONFIRM_RATIO && !yes {
            return Err(format!(
                "that is {ratio:.0}x the load now ({} -> {}): add --yes to apply it",
                units::number(current, 0),
                units::number(new, 0)
            ));
        }
    }
    let reply = c
        .command(proto::CommandRequest {
            version: PROTOCOL_VERSION,
            sender: who(),
            command: Some(cmd),
        })
        .await
        .map_err(|s| client::describe(&s))?
        .into_inner();
    println!("{}: {}", st.run_id, reply.applied);
    Ok(exit::OK)
}

fn state_label(s: i32) -> &'static str {
    match proto::State::try_from(s).unwrap_or(proto::State::Unspecified) {
        proto::State::Running => "RUNNING",
        proto::State::Paused => "PAUSED",
        proto::State::Stopping => "STOPPING",
        proto::State::Done => "DONE",
        proto::State::Unspecified => "?",
    }
}

/// One status line, like the headless progress line.
pub fn status_line(s: &proto::RunStatus) -> String {
    let load = match s.rate {
        Some(r) => format!("rate {}", units::rate(r)),
        None => format!("vus {}/{}", s.vus_active, s.vus_target),
    };
    let mut line = format!(
        "{} {:<8} {:>5.0}s {load} reqs {} {} {} err {} p95 {}",
        s.run_id,
        state_label(s.state),
        s.run_time_s,
        units::count(s.requests),
        match s.outcome {
            Some(_) => "avg rps",
            None => "rps",
        },
        units::rate(s.rps),
        units::percent(s.error_rate),
        units::fmt_opt(s.p95_us, units::us),
    );
    if let Some(sp) = &s.spike {
        line.push_str(&format!(" spike {sp}"));
    }
    if let Some(o) = &s.outcome {
        line.push_str(&format!(" exit {} ({})", o.exit_code, o.reason));
    }
    line
}

pub fn status_json(s: &proto::RunStatus) -> serde_json::Value {
    serde_json::json!({
        "run_id": s.run_id,
        "scenario": s.scenario,
        "state": state_label(s.state).to_ascii_lowercase(),
        "elapsed_s": s.elapsed_s,
        "run_time_s": s.run_time_s,
        "planned_s": s.planned_s,
        "vus_active": s.vus_active,
        "vus_target": s.vus_target,
        "rate": s.rate,
        "requests": s.requests,
        "errors": s.errors,
        "rps": s.rps,
        "error_rate": s.error_rate,
        "p95_us": s.p95_us,
        "in_flight": s.in_flight,
        "iterations_done": s.iterations_done,
        "stage": s.stage,
        "spike": s.spike,
        "outcome": s.outcome.as_ref().map(|o| serde_json::json!({
            "exit_code": o.exit_code,
            "reason": o.reason,
            "partial": o.partial,
        })),
        "auth_failures": s.auth_failures,
    })
}

async fn status(c: &mut Client, json: bool) -> Result<i32, String> {
    let st = client::status(c).await?;
    if json {
        println!("{}", status_json(&st));
    } else {
        println!("{}", status_line(&st));
    }
    Ok(exit::OK)
}

async fn wait(c: &mut Client) -> Result<i32, String> {
    let reply = c
        .wait(proto::WaitRequest {
            version: PROTOCOL_VERSION,
        })
        .await
        .map_err(|s| client::describe(&s))?
        .into_inner();
    let o = reply.outcome.unwrap_or_default();
    if let Some(st) = &reply.status {
        println!("{}", status_line(st));
    }
    Ok(o.exit_code)
}

/// `ctl` on a run that has ended: status and wait answer from its metadata.
fn finished(run: &rundir::Listed, verb: &Verb, json: bool) -> Result<i32, crate::Error> {
    let m = &run.meta;
    let Some(o) = &m.outcome else {
        return Err(crate::Error::Usage(format!(
            "run {} is gone (its process {} ended without writing an outcome)",
            m.id, m.pid
        )));
    };
    let st = proto::RunStatus {
        run_id: m.id.clone(),
        scenario: m.scenario.clone(),
        state: proto::State::Done as i32,
        run_time_s: o.run_time_s,
        elapsed_s: o.run_time_s,
        vus_target: o.vus,
        requests: o.requests,
        rps: o.rps,
        error_rate: o.error_rate,
        outcome: Some(proto::Outcome {
            exit_code: o.exit_code,
            reason: o.reason.clone(),
            partial: false,
        }),
        ..Default::default()
    };
    match verb {
        Verb::Status if json => println!("{}", status_json(&st)),
        Verb::Status => println!("{}", status_line(&st)),
        Verb::Wait => {
            println!("{}", status_line(&st));
            return Ok(o.exit_code);
        }
        Verb::Send(_) => {
            return Err(crate::Error::Usage(format!(
                "run {} has ended (exit {}): nothing to control",
                m.id, o.exit_code
            )))
        }
    }
    Ok(exit::OK)
}

/// A row of `volley ls`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LsRow {
    pub id: String,
    pub scenario: String,
    pub target: String,
    pub state: String,
    pub mode: String,
    pub pid: u32,
    pub started_unix_ms: i64,
    pub run_time_s: f64,
    pub vus: u32,
    pub rps: f64,
    pub error_rate: f64,
    pub requests: u64,
    pub exit_code: Option<i32>,
    pub result: Option<String>,
}

/// Runs `volley ls`.
pub fn ls_command(args: &LsArgs) -> Result<i32, crate::Error> {
    let usage = |e: rundir::RunDirError| crate::Error::Usage(e.to_string());
    let removed = rundir::prune(args.prune).map_err(usage)?;
    if args.prune && !args.json {
        say!("volley ls: removed {} finished run(s)", removed.len());
    }
    let runs = rundir::list().map_err(usage)?;
    let rt = runtime()?;
    let rows: Vec<LsRow> = rt.block_on(async {
        let mut rows = Vec::new();
        for r in &runs {
            rows.push(row(r).await);
        }
        rows
    });
    let mut out = std::io::stdout().lock();
    let shown = if args.json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&rows).expect("rows serialize")
        )
    } else {
        write_table(&mut out, &rows)
    };
    match shown {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(crate::Error::io("stdout", e)),
        _ => Ok(exit::OK),
    }
}

async fn row(r: &rundir::Listed) -> LsRow {
    let m = &r.meta;
    let mut row = LsRow {
        id: m.id.clone(),
        scenario: m.scenario.clone(),
        target: m.target.clone(),
        state: match r.liveness {
            Liveness::Live => "?".into(),
            Liveness::Finished => "done".into(),
            Liveness::Lost => "lost".into(),
        },
        mode: m.mode.clone(),
        pid: m.pid,
        started_unix_ms: m.started_unix_ms,
        run_time_s: 0.0,
        vus: 0,
        rps: 0.0,
        error_rate: 0.0,
        requests: 0,
        exit_code: None,
        result: r
            .dir
            .file(rundir::RESULT)
            .exists()
            .then(|| r.dir.file(rundir::RESULT).display().to_string()),
    };
    if let Some(o) = &m.outcome {
        row.run_time_s = o.run_time_s;
        row.vus = o.vus;
        row.rps = o.rps;
        row.error_rate = o.error_rate;
        row.requests = o.requests;
        row.exit_code = Some(o.exit_code);
        return row;
    }
    if r.liveness != Liveness::Live {
        return row;
    }
    let live = async {
        let target = client::local(r)?;
        let mut c = client::connect(&target).await?;
        client::status(&mut c).await
    };
    if let Ok(Ok(st)) = tokio::time::timeout(Duration::from_secs(2), live).await {
        row.state = state_label(st.state).to_ascii_lowercase();
        row.run_time_s = st.run_time_s;
        row.vus = st.vus_active;
        row.rps = st.rps;
        row.error_rate = st.error_rate;
        row.requests = st.requests;
    }
    row
}

/// The target as the table shows it: without the scheme of plain HTTP and the last slash
/// (the port is what tells two local runs apart).
fn short_target(t: &str) -> &str {
    let t = t.strip_prefix("http://").unwrap_or(t);
    t.strip_suffix('/').unwrap_or(t)
}

fn write_table(out: &mut impl Write, rows: &[LsRow]) -> std::io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "no runs in {}", rundir::base_dir().display());
    }
    writeln!(
        out,
        "{:<6} {:<13} {:<18} {:<9} {:>8} {:>5} {:>7} {:>6}",
        "ID", "SCENARIO", "TARGET", "STATE", "RUN TIME", "VUS", "RPS", "ERR%"
    )?;
    for r in rows {
        let cut = |s: &str, n: usize| -> String {
            if s.chars().count() <= n {
                s.to_string()
            } else {
                let mut t: String = s.chars().take(n - 1).collect();
                t.push('…');
                t
            }
        };
        let state = match r.exit_code {
            Some(c) => format!("{} ({c})", r.state),
            None => r.state.clone(),
        };
        writeln!(
            out,
            "{:<6} {:<13} {:<18} {:<9} {:>8} {:>5} {:>7} {:>6}",
            r.id,
            cut(&r.scenario, 13),
            cut(short_target(&r.target), 18),
            state,
            units::clock(Duration::from_secs_f64(r.run_time_s.max(0.0))),
            r.vus,
            units::rate(r.rps),
            units::percent(r.error_rate),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_ls_table_fits_80_columns() {
        let row = super::LsRow {
            id: "jc3s5v".into(),
            scenario: "a scenario with a long name".into(),
            target: "http://127.0.0.1:36471/".into(),
            state: "done".into(),
            mode: "console".into(),
            pid: 1,
            started_unix_ms: 0,
            run_time_s: 3600.0 * 99.0,
            vus: 10_000,
            rps: 123_456.0,
            error_rate: 0.1234,
            requests: 1,
            exit_code: Some(99),
            result: None,
        };
        let mut out = Vec::new();
        super::write_table(&mut out, &[row]).unwrap();
        let text = String::from_utf8(out).unwrap();
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "{line:?}");
        }
        assert!(text.contains("127.0.0.1:36471 "), "{text}");
    }

    use super::*;
    use proto::command_request::Command as C;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn commands_parse_with_the_consoles_parsers_and_the_run_is_optional() {
        assert_eq!(
            parse_words(&words("vus 50")).unwrap(),
            (None, Verb::Send(C::SetVus(50)))
        );
        assert_eq!(
            parse_words(&words("ab3 rate 300/s")).unwrap(),
            (Some("ab3".into()), Verb::Send(C::SetRate(300.0)))
        );
        assert_eq!(
            parse_words(&words("step -5")).unwrap(),
            (None, Verb::Send(C::Step(-5)))
        );
        let (_, Verb::Send(C::Spike(sp))) = parse_words(&words("spike 5x 30s")).unwrap() else {
            panic!()
        };
        assert_eq!(sp.duration_ms, 30_000);
        assert_eq!(sp.change, Some(proto::spike::Change::Times(5.0)));
        assert_eq!(parse_words(&words("wait")).unwrap(), (None, Verb::Wait));
        for (bad, says) in [
            ("vus lots", "not a whole number"),
            ("rate 5/y", "unit 'y'"),
            ("spike 5 30s", "expected a factor"),
            ("pause now", "takes no argument"),
            ("abc", "no command"),
            ("abc launch", "unknown command 'launch'"),
        ] {
            let e = parse_words(&words(bad)).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn more_than_ten_times_the_load_is_measured_against_the_target_now() {
        assert_eq!(new_load(&C::SetVus(50), 2.0), Some(50.0));
        assert_eq!(new_load(&C::Step(-3), 2.0), Some(-1.0));
        let sp = super::super::convert::spike_message(
            &crate::ui::app::parse_spike("+200 5s", Duration::from_secs(1)).unwrap(),
        );
        assert_eq!(new_load(&C::Spike(sp), 10.0), Some(210.0));
        assert_eq!(new_load(&C::Pause(proto::Empty {}), 10.0), None);
    }
}
