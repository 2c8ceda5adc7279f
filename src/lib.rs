//! volley: a terminal load console.
//!
//! `main.rs` only parses the command line and calls [`run`]; tests drive everything
//! headless through the same function.

/// `eprintln!` that never panics. When the terminal has gone away (an SSH connection
/// dropped under the console) stderr may be gone too, and a panicking `eprintln!` would
/// stop volley before the rest of its results are written.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod attach;
pub mod capacity;
pub mod cli;
pub mod control;
pub mod demo;
pub mod engine;
pub mod error;
pub mod fleet;
pub mod grade;
pub mod headless;
pub mod host;
pub mod import;
pub mod init;
pub mod latency;
pub mod metrics;
pub mod monitor;
pub mod output;
pub mod prometheus;
pub mod quick;
pub mod report;
pub mod scenario;
pub mod schema;
pub mod shell;
pub mod state;
pub mod sys;
pub mod thresholds;
pub mod ui;
pub mod units;

use std::io::{IsTerminal, Write};
use std::time::Duration;

pub use cli::Cli;
pub use error::{exit, Error};

use cli::{Command, OverrideArgs, RunArgs};
use report::{ResultDoc, RunInfo};
use scenario::{Overrides, Plan};

/// The scenario `volley demo` runs, built in so the binary works from any directory.
pub const DEMO_SCENARIO: &str = include_str!("../scenarios/demo.toml");
/// `volley demo --scenario streaming`: a WebSocket chat and a token stream.
pub const DEMO_STREAMING_SCENARIO: &str = include_str!("../scenarios/streaming.toml");

/// Runs the command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32, Error> {
    run_hosted(cli, None)
}

/// As [`run`], in the run host `host` made for it ([`host::split_for`]): its run can
/// detach from the terminal.
pub fn run_hosted(cli: Cli, host: Option<host::Host>) -> Result<i32, Error> {
    match cli.command {
        Some(Command::Report(args)) => output::report_command(&args),
        Some(Command::Import(args)) => import_command(&args),
        Some(Command::Schema { kind }) => {
            write_or_print(None, &schema::text(kind))?;
            Ok(exit::OK)
        }
        Some(Command::Completions { shell }) => {
            let mut out = Vec::new();
            shell::completions(shell, <Cli as clap::CommandFactory>::command(), &mut out);
            write_or_print(None, &String::from_utf8_lossy(&out))?;
            Ok(exit::OK)
        }
        Some(Command::Man) => {
            let mut out = Vec::new();
            shell::man(<Cli as clap::CommandFactory>::command(), &mut out)
                .map_err(|e| Error::io("man page", e))?;
            write_or_print(None, &String::from_utf8_lossy(&out))?;
            Ok(exit::OK)
        }
        Some(Command::Init(args)) => {
            let (text, out) = init::run(&args).map_err(Error::Usage)?;
            write_or_print(out.as_deref(), &text)?;
            Ok(exit::OK)
        }
        Some(Command::Compare(args)) => output::compare_command(&args),
        Some(Command::Merge(args)) => fleet::merge_command(&args),
        Some(Command::Ls(args)) => control::ctl::ls_command(&args),
        Some(Command::Attach(args)) => attach::command(&args),
        Some(Command::Ctl(args)) => control::ctl::ctl_command(&args),
        Some(Command::Coordinator(args)) => fleet::launch::coordinator(&args),
        Some(Command::Worker(args)) => fleet::worker::command(&args),
        Some(Command::K8s(args)) => fleet::k8s::command(&args),
        Some(Command::Plan(args)) => capacity::command(&args),
        Some(Command::Check { file, overrides }) => {
            let mut plan = scenario::load(&file)?;
            let note = overrides_of(&overrides)?.apply(&mut plan);
            let mut out = std::io::stdout().lock();
            let shown = write!(out, "{plan}")
                .and_then(|_| match &note {
                    Some(n) => writeln!(out, "note       {n}"),
                    None => Ok(()),
                })
                .and_then(|_| writeln!(out, "ok: {} is valid", file.display()))
                .and_then(|_| out.flush());
            match shown {
                // A reader that stopped reading (`| head`) is not an error.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(Error::io("cannot print the plan", e))
                }
                _ => Ok(exit::OK),
            }
        }
        Some(Command::Run {
            file,
            overrides,
            run,
            fleet: fleet_args,
        }) => {
            if fleet_args.workers.is_some() {
                return fleet::launch::local(&file, &overrides, &run, &fleet_args);
            }
            let mut plan = scenario::load(&file)?;
            if let Some(note) = overrides_of(&overrides)?.apply(&mut plan) {
                say!("volley: {note}");
            }
            execute_hosted(plan, &run, host, run_runtime()?)
        }
        Some(Command::Demo {
            serve_only,
            scenario: which,
            target,
            overrides,
            run,
        }) => {
            if serve_only {
                let rt = runtime()?;
                rt.block_on(demo::serve_until_ctrl_c(target))
                    .map_err(|e| Error::io("demo target", e))?;
                return Ok(exit::OK);
            }
            // Before the demo target says where it is.
            let rt = run_runtime()?;
            let server = demo::DemoServer::spawn(target)
                .map_err(|e| Error::io("cannot start the demo target", e))?;
            let (file, text) = match which {
                cli::DemoScenario::Shop => ("scenarios/demo.toml", DEMO_SCENARIO),
                cli::DemoScenario::Streaming => {
                    ("scenarios/streaming.toml", DEMO_STREAMING_SCENARIO)
                }
            };
            let mut plan = scenario::parse(std::path::Path::new(file), text)?;
            let o = overrides_of(&overrides)?;
            if o.target.is_none() {
                // The demo target is volley's own choice, not an override.
                plan.retarget(&scenario::parse_base_url(&server.url()).map_err(Error::Usage)?);
            }
            if let Some(note) = o.apply(&mut plan) {
                say!("volley: {note}");
            }
            eprintln!("volley: demo target on {}", server.url());
            execute_hosted(plan, &run, host, rt)
        }
        None => {
            let Some(url) = cli.url else {
                return Err(Error::Usage(
                    "nothing to do: give a URL (volley http://127.0.0.1:8080/ -c 50 -d 10s), \
                     or a command: run FILE, demo, check FILE (see --help)"
                        .into(),
                ));
            };
            let plan = quick::plan(&url, &cli.quick)?;
            execute_hosted(plan, &cli.run, host, run_runtime()?)
        }
    }
}

/// `volley import SOURCE`: the scenario to stdout or -o FILE, notes on stderr.
fn import_command(args: &import::ImportArgs) -> Result<i32, Error> {
    let imported = import::import(&args.source).map_err(|e| Error::Usage(e.to_string()))?;
    write_or_print(args.source.output(), &imported.toml)?;
    for n in &imported.notes {
        say!("volley import: {n}");
    }
    Ok(exit::OK)
}

/// Text that volley generates (a scenario, a schema, a script) to a file or stdout.
fn write_or_print(path: Option<&std::path::Path>, text: &str) -> Result<(), Error> {
    match path {
        Some(path) => std::fs::write(path, text)
            .map_err(|e| Error::io(format!("cannot write '{}'", path.display()), e)),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .map_err(|e| Error::io("stdout", e))
        }
    }
}

pub(crate) fn overrides_of(o: &OverrideArgs) -> Result<Overrides, Error> {
    let target = match &o.target {
        Some(t) => Some(quick::user_url(t).map_err(|m| Error::Usage(format!("--target: {m}")))?),
        None => None,
    };
    if o.vus == Some(0) {
        return Err(Error::Usage("--vus: must be at least 1".into()));
    }
    if o.vus.is_some_and(|v| v as u64 > scenario::MAX_VUS) {
        return Err(Error::Usage(format!(
            "--vus: more than the maximum of {}",
            scenario::MAX_VUS
        )));
    }
    if o.iterations == Some(0) {
        return Err(Error::Usage("--iterations: must be at least 1".into()));
    }
    if o.duration.is_some_and(|d| d.is_zero()) {
        return Err(Error::Usage("--duration: must be above zero".into()));
    }
    Ok(Overrides {
        target,
        vus: o.vus,
        duration: o.duration,
        iterations: o.iterations,
        insecure: o.insecure,
        cut: o.cut,
        no_retry: o.no_retry,
    })
}

/// `--bind ADDR[,ADDR...]`: the source addresses, in order.
fn parse_bind(list: &str) -> Result<Vec<std::net::IpAddr>, String> {
    let addrs = list
        .split(',')
        .map(|a| {
            let a = a.trim();
            a.trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .map_err(|_| format!("'{a}' is not an IP address (give source addresses like 127.0.0.2,127.0.0.3)"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(addrs)
}

/// The runtime a run is driven from: the controller, the aggregator, self-watch, and the
/// VUs too with one engine thread (more run on [`engine::Lanes`]).
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("cannot start the async runtime", e))
}

/// VUs one engine thread is given at least before another thread pays for itself: a
/// thread with fewer has too little to do between wake-ups to be worth its scheduling.
pub const VUS_PER_THREAD: u64 = 8;

/// Engine threads unless `--threads` says otherwise (see docs/performance.md): one per
/// core the process may use (`cores`: `available_parallelism`, which honours CPU affinity
/// and a cgroup's quota), less one for the console on a machine with more than two cores,
/// and no more than the VUs can use (one per [`VUS_PER_THREAD`] of the most VUs the run
/// will have: `peak_vus`).
pub fn default_threads(cores: usize, peak_vus: u64, console: bool) -> usize {
    let room = if console && cores > 2 {
        cores - 1
    } else {
        cores
    };
    let usable = usize::try_from(peak_vus / VUS_PER_THREAD).unwrap_or(usize::MAX);
    room.min(usable).max(1)
}

/// Runs a plan to the end and writes its results.
pub fn execute(plan: Plan, args: &RunArgs) -> Result<i32, Error> {
    execute_hosted(plan, args, None, run_runtime()?)
}

/// A run's runtime, and its stop signals listened for from now on: a Ctrl-C or SIGTERM
/// while the run comes up (the demo target, the exporter, the control API, the engine
/// threads) stops it as soon as it has started, with its results written, instead of
/// killing the process before it could write them.
pub(crate) fn run_runtime() -> Result<(tokio::runtime::Runtime, engine::Signals), Error> {
    let rt = runtime()?;
    let signals = engine::Signals::listen_on(&rt);
    Ok((rt, signals))
}

/// How a run in `run_host` leaves its terminal: its log and notice name the run's
/// folder in the run directory (without a control API, a log in the temp folder).
fn detacher(run_host: host::Host, control: Option<&control::Host>) -> host::Detach {
    let pid = std::process::id();
    let (log, notice) = match control {
        Some(c) => {
            let id = &c.dir.id;
            let log = c.dir.file(control::rundir::LOG);
            let notice = format!(
                "volley: run {id} goes on in the background (pid {pid})\n  attach:  volley attach {id}\n  stop:    volley ctl {id} stop\n  log:     {}",
                log.display()
            );
            (log, notice)
        }
        None => {
            let log = std::env::temp_dir().join(format!("volley-{pid}.log"));
            let notice = format!(
                "volley: the run goes on in the background (pid {pid}; no control API)\n  log:     {}",
                log.display()
            );
            (log, notice)
        }
    };
    host::Detach {
        host: run_host,
        notice,
        log,
    }
}

/// [`execute`] in a run host: the run can detach (`d`, `--detach`, a hang-up).
fn execute_hosted(
    mut plan: Plan,
    args: &RunArgs,
    run_host: Option<host::Host>,
    (rt, signals): (tokio::runtime::Runtime, engine::Signals),
) -> Result<i32, Error> {
    if args.detach && run_host.is_none() {
        return Err(Error::Usage(
            "--detach: this run cannot start in the background (the run host needs Linux)".into(),
        ));
    }
    let outs = output::outs_for_run(args)?;
    let (serving, prom) =
        prometheus::for_run(args.prometheus.as_deref(), args.prometheus_grace)?.unzip();
    if let Some(list) = &args.bind {
        let addrs = parse_bind(list).map_err(|m| Error::Usage(format!("--bind: {m}")))?;
        plan.overrides.push(format!("--bind {list}"));
        plan.http.local_addresses = addrs;
    }
    if let Some((_, why)) = plan.local_addresses_conflict(&plan.http.local_addresses) {
        let from = if args.bind.is_some() {
            "--bind"
        } else {
            "[http] local_addresses"
        };
        return Err(Error::Usage(format!("{from}: {why}")));
    }
    if let Some(g) = args.graceful_stop {
        plan.load.graceful_stop = g;
        plan.overrides
            .push(format!("--graceful-stop {}", scenario::format_duration(g)));
    }
    if let Some(source) = &args.monitor {
        // The flag replaces the scenario's source; its series stay for a Prometheus URL.
        let series = match (&plan.monitor, source) {
            (Some(m), monitor::Source::Prometheus(_)) => m.series.clone(),
            _ => Vec::new(),
        };
        plan.monitor = Some(monitor::MonitorSpec {
            source: source.clone(),
            series,
        });
    }
    let info = RunInfo::of(&plan);
    let peak_vus = match plan.load.model {
        scenario::LoadModel::Closed => plan
            .load
            .stages
            .iter()
            .map(|s| s.target as u64)
            .fold(plan.load.vus as u64, u64::max),
        scenario::LoadModel::Open { max_vus, .. } => max_vus as u64,
    };
    let origins = plan
        .endpoints
        .iter()
        .map(|e| e.url.origin().ascii_serialization())
        .collect::<std::collections::HashSet<_>>()
        .len() as u64;
    let notice = sys::ensure_fd_limit(peak_vus * origins.max(1));
    if let Some(n) = &notice {
        say!("volley: {n}");
    }
    let headless = args.headless || args.detach || !std::io::stdout().is_terminal();
    // A bad --theme is bad input (exit 2) even when no console will show it.
    let theme = args.theme.as_deref().map(load_theme).transpose()?;
    let threads = args.threads.unwrap_or_else(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        default_threads(cores, peak_vus, !headless)
    });
    // More than one engine thread: thread-per-core lanes for the VUs, the controller and
    // the aggregator on a runtime of their own (see docs/performance.md).
    let lanes = if threads > 1 {
        let lanes = engine::Lanes::start(threads)
            .map_err(|e| Error::io("cannot start the engine threads", e))?;
        Some(std::sync::Arc::new(lanes))
    } else {
        None
    };
    let engine_opts = engine::EngineOptions {
        interval_histograms: outs.iter().any(|o| o.kind == output::OutKind::Hdr),
        no_self_watch: args.no_self_watch,
        lanes,
        ..Default::default()
    };
    let mut host = control::Host::prepare(
        &plan,
        &control::ControlOptions {
            spec: args.control.clone(),
            cert: args.control_cert.clone(),
            key: args.control_key.clone(),
            self_signed: args.control_self_signed,
            mode: match (args.detach, headless) {
                (true, _) => "detached",
                (false, true) => "headless",
                (false, false) => "console",
            },
            token: None,
            routes: None,
        },
    )
    .map_err(control::ControlError::into_error)?;
    let mut detach = run_host.map(|r| detacher(r, host.as_ref()));
    let start_control = host.as_mut().map(|h| h.starter());
    // TEST-ONLY: `VOLLEY_TEST_START_DELAY_MS=N` holds the run N ms between saying where
    // its demo target and exporter are and starting the engine (debug builds only), so a
    // test can send a signal in that window (tests/interrupt.rs).
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var("VOLLEY_TEST_START_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        std::thread::sleep(Duration::from_millis(ms));
    }
    let watched = if headless {
        let every = args.progress.unwrap_or(Duration::from_secs(2));
        let watched = rt.block_on(async move {
            let handle = engine::start_with(plan, engine_opts);
            prometheus::serve_run(prom, &handle);
            if let Some(start) = start_control {
                start(&handle);
            }
            // The run and its control API are up: the notice can name the run.
            if let Some(d) = detach.take() {
                d.go();
            }
            headless::watch(handle, signals, every).await
        });
        rt.shutdown_timeout(Duration::from_millis(200));
        watched
    } else {
        let mut theme = theme.unwrap_or_else(ui::Theme::default_theme);
        if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            theme = theme.monochrome();
        }
        let opts = ui::ConsoleOptions {
            theme,
            fps: args.fps,
            insecure: plan.http.insecure,
            notice,
            engine: engine_opts,
            detach,
            on_hangup: args.on_hangup,
            signals,
        };
        let watched = ui::console::run_with(plan, rt, opts, move |h| {
            prometheus::serve_run(prom, h);
            if let Some(start) = start_control {
                start(h);
            }
        })
        .map_err(|e| Error::io("console", e));
        // The console has been quit (q): the exporter goes with it.
        if let Some(s) = serving {
            s.stop();
        }
        let doc = ResultDoc::from_snapshot(&watched?.snapshot, &info);
        return finish_run(&doc, &outs, host.as_mut());
    };
    let doc = ResultDoc::from_snapshot(&watched.snapshot, &info);
    let code = finish_run(&doc, &outs, host.as_mut());
    // Headless: a last scrape may still come (not after a stop signal: whoever sent it
    // wants volley gone, and a second Ctrl-C means at once).
    match serving {
        Some(s) if !watched.forced && !watched.signalled => s.linger(),
        Some(s) => s.stop(),
        None => {}
    }
    code
}

pub(crate) fn load_theme(spec: &str) -> Result<ui::Theme, Error> {
    ui::Theme::load(spec).map_err(|e| match e {
        scenario::ScenarioError::Read { path, source, .. } => Error::Usage(format!(
            "--theme: '{}' is not a built-in theme (dark, light, high-contrast) and cannot be read: {source}",
            path.display()
        )),
        e => e.into(),
    })
}

/// [`finish`], then the run's outcome to its control host (its result document kept in
/// the run directory, `volley ctl wait` answered).
pub(crate) fn finish_run(
    doc: &ResultDoc,
    outs: &[output::OutSpec],
    host: Option<&mut control::Host>,
) -> Result<i32, Error> {
    let done = finish(doc, outs);
    if let Some(h) = host {
        match &done {
            Ok((code, reason)) => h.finish(*code, reason, doc),
            Err(e) => h.finish(exit::FAILURE, &e.to_string(), doc),
        }
    }
    done.map(|(code, _)| code)
}

/// Prints the summary, writes the outputs; the exit code and why.
fn finish(doc: &ResultDoc, outs: &[output::OutSpec]) -> Result<(i32, String), Error> {
    let mut stdout = std::io::stdout().lock();
    // Endpoint names are cut only where a terminal is too narrow for them.
    let cols = match stdout.is_terminal() {
        true => ratatui::crossterm::terminal::size().map_or(80, |(c, _)| c as usize),
        false => usize::MAX,
    };
    let _ = report::write_summary_fit(doc, &mut stdout, cols);
    let _ = stdout.flush();
    drop(stdout);
    output::write_run_outputs(doc, outs)?;
    if engine::worker_panicked() {
        let why = "a VU panicked (a bug in volley): the run was cut short, its results are partial";
        say!("volley: {why}");
        return Ok((exit::FAILURE, why.into()));
    }
    if let Some(thread) = ui::term::panicked_thread() {
        let why = format!("thread '{thread}' panicked (a bug in volley): the run was cut short, its results are partial");
        say!("volley: {why}");
        return Ok((exit::FAILURE, why));
    }
    if doc.no_response() {
        let mut kinds: Vec<(&String, &u64)> = doc.totals.errors_by_kind.iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(a.1));
        let why: Vec<String> = kinds
            .iter()
            .take(3)
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let why = format!(
            "no request got a response: is the target up? ({} sent: {})",
            doc.totals.requests,
            why.join(", ")
        );
        say!("volley: {why}");
        return Ok((exit::NO_RESPONSE, why));
    }
    if doc.thresholds_failed() {
        let failed: Vec<&str> = doc
            .thresholds
            .iter()
            .filter(|t| !t.passed)
            .map(|t| t.name.as_str())
            .collect();
        let why = format!("thresholds failed: {}", failed.join(", "));
        say!("volley: {why}");
        return Ok((exit::THRESHOLDS_FAILED, why));
    }
    Ok((exit::OK, "passed".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_threads_fit_the_machine_and_the_vus() {
        // A 16-core box, headless, 50 VUs: 6 threads (8 VUs each at least), not 1.
        assert_eq!(default_threads(16, 50, false), 6);
        // Enough VUs: every core; with the console open, one core is left to it.
        assert_eq!(default_threads(16, 2000, false), 16);
        assert_eq!(default_threads(16, 2000, true), 15);
        // Two cores: both, console or not (one core left over would leave one thread).
        assert_eq!(default_threads(2, 50, true), 2);
        assert_eq!(default_threads(2, 50, false), 2);
        // Few VUs, or one core: one thread.
        assert_eq!(default_threads(16, 1, false), 1);
        assert_eq!(default_threads(16, 15, false), 1);
        assert_eq!(default_threads(1, 10_000, true), 1);
        assert_eq!(default_threads(0, 0, false), 1);
    }
}
