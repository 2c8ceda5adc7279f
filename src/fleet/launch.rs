//! Running a coordinator: `volley coordinator` (the workers come from elsewhere, e.g. a
//! Kubernetes Indexed Job) and `volley run FILE --workers N` (a local fleet: the workers
//! are processes of this same binary on loopback, with a per-run token).
//!
//! The coordinator serves the control API and the Fleet service on one TCP listener
//! behind one token, and the control API on the run directory's Unix socket too, so
//! `volley ctl` and `volley ls` see the fleet's merged run like any other.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::coordinator::{self, LossPolicy, Settings};
use super::protocol;
use crate::cli::{OnWorkerLoss, OverrideArgs, RunArgs};
use crate::control::{self, auth, proto, rundir};
use crate::error::{exit, Error};
use crate::report::{FleetSummary, ResultDoc, RunInfo};
use crate::scenario::{LoadModel, Plan};

/// Most workers one coordinator takes.
pub const MAX_WORKERS: u32 = 1024;

/// A coordinator to run.
pub struct Launch {
    pub plan: Plan,
    pub scenario_path: PathBuf,
    pub scenario_text: String,
    pub overrides: OverrideArgs,
    pub run: RunArgs,
    pub workers: u32,
    pub listen: SocketAddr,
    /// The token the workers and consoles must show; a new one without.
    pub token: Option<String>,
    pub on_loss: Option<OnWorkerLoss>,
    pub register_timeout: Duration,
    /// Start the workers here, as processes of this binary.
    pub local: bool,
}

/// The loss policy: the flag, else abort for a closed model (its load would silently
/// drop) and continue for an open one.
pub fn policy(flag: Option<OnWorkerLoss>, plan: &Plan) -> LossPolicy {
    match (flag, &plan.load.model) {
        (Some(OnWorkerLoss::Abort), _) => LossPolicy::Abort,
        (Some(OnWorkerLoss::Continue), _) => LossPolicy::Continue,
        (None, LoadModel::Closed) => LossPolicy::Abort,
        (None, LoadModel::Open { .. }) => LossPolicy::Continue,
    }
}

/// Runs the coordinator to the end of the run; the exit code.
pub fn launch(mut l: Launch) -> Result<i32, Error> {
    if l.workers == 0 || l.workers > MAX_WORKERS {
        return Err(Error::Usage(format!(
            "--workers: from 1 to {MAX_WORKERS}, not {}",
            l.workers
        )));
    }
    if l.run.monitor.is_some() || l.run.detach {
        return Err(Error::Usage(
            "--monitor and --detach are not available on a fleet run yet".into(),
        ));
    }
    let outs = crate::output::outs_for_run(&l.run)?;
    // The coordinator runs no VUs: one thread merges the workers' reports. Its stop
    // signals are listened for from here, before anything is started or printed: a
    // Ctrl-C while the exporter and the workers come up stops the fleet run.
    let (rt, signals) = crate::run_runtime()?;
    // The coordinator serves the merged view (every worker's figures added up).
    let (serving, prom) =
        crate::prometheus::for_run(l.run.prometheus.as_deref(), l.run.prometheus_grace)?.unzip();
    if let Some(g) = l.run.graceful_stop {
        l.plan.load.graceful_stop = g;
    }
    let on_loss = policy(l.on_loss, &l.plan);
    let token = l.token.clone().unwrap_or_else(auth::new_token);
    let token_shown = token.clone();
    let headless = l.run.headless || !std::io::stdout().is_terminal();
    let settings = Settings {
        workers: l.workers as usize,
        scenario_sha256: protocol::scenario_sha256(&l.scenario_text),
        overrides: protocol::overrides_message(&l.overrides, l.run.graceful_stop),
        run_id: String::new(),
        on_loss,
        register_timeout: l.register_timeout,
        scenario: l.plan.name.clone(),
        endpoints: l.plan.endpoint_names(),
        thresholds: l.plan.thresholds.clone(),
    };
    let guard = rt.enter();
    let (svc, workers, handle) = coordinator::start(settings);
    // The workers' snapshots come gzipped (JSON with base64 histograms shrinks a lot).
    let routes = tonic::service::Routes::new(tonic::service::interceptor::InterceptedService::new(
        proto::fleet_server::FleetServer::new(svc)
            .accept_compressed(tonic::codec::CompressionEncoding::Gzip),
        auth::TokenCheck::new(&token, Arc::new(AtomicU64::new(0))),
    ));
    let mut host = control::Host::prepare(
        &l.plan,
        &control::ControlOptions {
            spec: control::ControlSpec::Tcp(l.listen),
            cert: l.run.control_cert.clone(),
            key: l.run.control_key.clone(),
            self_signed: l.run.control_self_signed,
            mode: if headless { "headless" } else { "console" },
            token: Some(token),
            routes: Some(routes),
        },
    )
    .map_err(control::ControlError::into_error)?
    .ok_or_else(|| Error::Usage("the coordinator needs its control listener".into()))?;
    (host.starter())(&handle);
    crate::prometheus::serve_run(prom, &handle);
    let url = host.tcp_url().unwrap_or_default().to_string();
    if l.token.is_none() && !l.local {
        // Made here, once the listener is up: the workers need it (a local fleet's read
        // it from the run directory).
        say!(
            "volley: the run's token (shown once, also in {}; workers: --token-file or VOLLEY_TOKEN): {token_shown}",
            host.dir.file(rundir::TOKEN).display()
        );
    }
    say!(
        "volley: coordinator of {} workers on {url} (--on-worker-loss {})",
        l.workers,
        match on_loss {
            LossPolicy::Abort => "abort",
            LossPolicy::Continue => "continue",
        }
    );
    let mut children = Vec::new();
    let mut parts = Vec::new();
    if l.local {
        for i in 0..l.workers {
            let out = host.dir.file(&format!("worker-{i}.json"));
            parts.push(out.display().to_string());
            match spawn_worker(&l, &url, &host.dir, i, &out) {
                Ok(c) => children.push(c),
                Err(e) => {
                    let _ = handle.commands.send(crate::engine::Command::Stop);
                    say!("volley: cannot start worker {i}: {e}");
                    break;
                }
            }
        }
        say!(
            "volley: {} local workers; their own results and logs in {}",
            children.len(),
            host.dir.path.display()
        );
    }
    drop(guard);
    let started = Instant::now();
    let outcome = if headless {
        let every = l.run.progress.unwrap_or(Duration::from_secs(2));
        rt.block_on(crate::headless::watch(handle, signals, every))
    } else {
        let mut theme = match l.run.theme.as_deref() {
            Some(t) => crate::load_theme(t)?,
            None => crate::ui::Theme::default_theme(),
        };
        if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            theme = theme.monochrome();
        }
        let opts = crate::ui::ConsoleOptions {
            theme,
            fps: l.run.fps,
            insecure: l.plan.http.insecure,
            notice: None,
            engine: Default::default(),
            detach: None,
            on_hangup: crate::host::OnHangup::Stop,
            signals,
        };
        let plan = l.plan.clone();
        crate::ui::console::run_handle(plan, rt, opts, handle)
            .map_err(|e| Error::io("console", e))?
    };
    reap(&mut children);
    cost_line(&workers, l.workers, started.elapsed());
    let mut list = workers.list();
    list.sort_by_key(|w| w.index);
    if !l.local {
        parts = list.iter().filter_map(|w| w.result_path.clone()).collect();
    }
    let lost: Vec<u32> = workers.lost().iter().map(|&i| i as u32).collect();
    let mut doc = ResultDoc::from_snapshot(&outcome.snapshot, &RunInfo::of(&l.plan));
    doc.fleet = Some(FleetSummary {
        workers: l.workers,
        start_skew_ms: workers.start_skew().map(|d| d.as_secs_f64() * 1000.0),
        on_worker_loss: match on_loss {
            LossPolicy::Abort => "abort".into(),
            LossPolicy::Continue => "continue".into(),
        },
        lost: lost.clone(),
        parts,
    });
    let code = crate::finish_run(&doc, &outs, Some(&mut host));
    // Headless: a last scrape may still come (not after a forced stop, nor after the
    // console's `q`).
    match serving {
        Some(s) if headless && !outcome.forced && !outcome.signalled => s.linger(),
        Some(s) => s.stop(),
        None => {}
    }
    let code = code?;
    if !lost.is_empty() && on_loss == LossPolicy::Abort && code == exit::OK {
        say!("volley: the run was stopped: worker(s) {lost:?} lost (--on-worker-loss abort)");
        return Ok(exit::FAILURE);
    }
    Ok(code)
}

/// What the coordinator cost: its CPU time and the bytes the workers sent it, per
/// worker (bench/fleet.sh reads this line).
fn cost_line(workers: &coordinator::Workers, n: u32, wall: Duration) {
    let secs = wall.as_secs_f64().max(1e-3);
    let cpu = crate::metrics::procstat::process_ticks_rss(std::process::id())
        .map_or(0.0, |(t, _)| {
            t as f64 / crate::metrics::procstat::ticks_per_s()
        });
    let bytes = workers.received_bytes();
    say!(
        "volley: fleet cost: coordinator CPU {cpu:.2}s over {secs:.1}s ({:.1}% of a core); {bytes} snapshot bytes from {n} workers ({:.0} B/s per worker)",
        cpu / secs * 100.0,
        bytes as f64 / secs / n.max(1) as f64
    );
}

/// Starts local worker `i`: this binary, in its own process group (the terminal's
/// Ctrl-C goes to the coordinator, which stops the workers itself), its log in the run
/// directory.
fn spawn_worker(
    l: &Launch,
    url: &str,
    dir: &rundir::RunDir,
    i: u32,
    out: &std::path::Path,
) -> std::io::Result<Child> {
    use std::os::unix::process::CommandExt as _;
    let exe = std::env::current_exe()?;
    let log = std::fs::File::create(dir.file(&format!("worker-{i}.log")))?;
    std::process::Command::new(exe)
        .arg("worker")
        .arg(&l.scenario_path)
        .args(["--coordinator", url, "--index", &i.to_string()])
        .arg("--token-file")
        .arg(dir.file(rundir::TOKEN))
        .arg("--out")
        .arg(format!("json={}", out.display()))
        .arg("--threads")
        .arg(l.run.threads.unwrap_or(1).to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
}

/// Waits a moment for the local workers to exit (they do once the run is over), then
/// ends the ones still there.
fn reap(children: &mut [Child]) {
    let until = Instant::now() + Duration::from_secs(5);
    for c in children.iter_mut() {
        while Instant::now() < until {
            if let Ok(Some(_)) = c.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Ok(None) = c.try_wait() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `volley run FILE --workers N`: a local fleet.
pub fn local(
    file: &std::path::Path,
    overrides: &OverrideArgs,
    run: &RunArgs,
    fleet: &crate::cli::FleetArgs,
) -> Result<i32, Error> {
    let (plan, text) = load(file, overrides)?;
    launch(Launch {
        plan,
        scenario_path: file.to_path_buf(),
        scenario_text: text,
        overrides: overrides.clone(),
        run: run.clone(),
        workers: fleet.workers.unwrap_or(1),
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        token: None,
        on_loss: fleet.on_worker_loss,
        register_timeout: Duration::from_secs(60),
        local: true,
    })
}

/// `volley coordinator FILE --workers N --listen ADDR --token-file F`.
pub fn coordinator(args: &crate::cli::CoordinatorArgs) -> Result<i32, Error> {
    let (plan, text) = load(&args.file, &args.overrides)?;
    let listen = crate::prometheus::parse_addr(&args.listen)
        .map_err(|e| Error::Usage(format!("--listen: {}", e.replace("9464", "7600"))))?;
    let token = match &args.token_file {
        Some(f) => Some(super::worker::read_token(Some(f))?),
        None => None,
    };
    launch(Launch {
        plan,
        scenario_path: args.file.clone(),
        scenario_text: text,
        overrides: args.overrides.clone(),
        run: args.run.clone(),
        workers: args.workers,
        listen,
        token,
        on_loss: args.on_worker_loss,
        register_timeout: args.register_timeout,
        local: false,
    })
}

/// The scenario's plan with the overrides applied, and its text (whose hash the workers
/// must match).
fn load(file: &std::path::Path, overrides: &OverrideArgs) -> Result<(Plan, String), Error> {
    let mut plan = crate::scenario::load(file)?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::Usage(format!("cannot read '{}': {e}", file.display())))?;
    if let Some(note) = crate::overrides_of(overrides)?.apply(&mut plan) {
        say!("volley: {note}");
    }
    Ok((plan, text))
}
