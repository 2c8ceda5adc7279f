//! `volley worker FILE --coordinator ADDR --token-file F`: one part of a fleet's run. It
//! dials the coordinator (workers never listen), registers (its scenario's hash, its
//! volley version, its histograms), takes its segment, gets its engine ready, starts at
//! the coordinator's `t0`, applies plan changes at their `apply_at`, streams its
//! snapshots, and at the end writes its own result document and sends its last snapshot.
//! If the coordinator goes away the worker stops its part and still writes its document
//! (`volley merge` then gives the totals).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::protocol::{self, HISTOGRAM_SIGFIG};
use super::segment::{Split, WorkerPart};
use crate::cli::WorkerArgs;
use crate::control::client::{self, Target};
use crate::control::proto::{
    self, coordinator_message, fleet_client::FleetClient, worker_message, WorkerMessage,
};
use crate::control::{wire, PROTOCOL_VERSION};
use crate::engine::{self, Command, Signals};
use crate::error::{exit, Error};
use crate::metrics::procstat::CpuMeter;
use crate::report::{ResultDoc, RunInfo};
use crate::scenario::{self, LoadModel, Plan};

/// How often a worker sends a heartbeat.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// How long a worker spends opening its initial VUs' connections before it says it is
/// ready; those not open by then are made by the VUs' first requests.
pub const PRECONNECT_LIMIT: Duration = Duration::from_secs(5);

/// The token: the file's first line, else `VOLLEY_TOKEN`.
pub fn read_token(file: Option<&PathBuf>) -> Result<String, Error> {
    let t = match file {
        Some(f) => std::fs::read_to_string(f)
            .map_err(|e| Error::Usage(format!("--token-file '{}': {e}", f.display())))?,
        None => std::env::var("VOLLEY_TOKEN").map_err(|_| {
            Error::Usage("no token: give --token-file FILE or set VOLLEY_TOKEN".into())
        })?,
    };
    let t = t.lines().next().unwrap_or("").trim().to_string();
    if t.is_empty() {
        return Err(Error::Usage("the token is empty".into()));
    }
    Ok(t)
}

/// `HOST:PORT` or a URL, as the control client's URL.
fn coordinator_url(s: &str) -> String {
    if s.starts_with("http://") || s.starts_with("https://") {
        s.to_string()
    } else {
        format!("http://{s}")
    }
}

/// Runs the worker; its exit code (0 once its part ran and its results are written: the
/// thresholds are judged on the merged data, by the coordinator).
pub fn command(args: &WorkerArgs) -> Result<i32, Error> {
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| Error::Usage(format!("cannot read '{}': {e}", args.file.display())))?;
    let plan = scenario::parse(&args.file, &text)?;
    let outs = crate::output::parse_outs(&args.out)?;
    let token = read_token(args.token_file.as_ref())?;
    let index = match args.index {
        Some(i) => Some(i),
        None => match std::env::var("JOB_COMPLETION_INDEX") {
            Ok(v) => Some(v.trim().parse().map_err(|_| {
                Error::Usage(format!("JOB_COMPLETION_INDEX '{v}' is not a number"))
            })?),
            Err(_) => None,
        },
    };
    let register = proto::Register {
        version: PROTOCOL_VERSION,
        volley_version: env!("CARGO_PKG_VERSION").into(),
        scenario_sha256: protocol::scenario_sha256(&text),
        histogram_sigfig: HISTOGRAM_SIGFIG,
        phase_histogram_sigfig: u32::from(crate::metrics::PHASE_SIGFIG),
        index,
        host: hostname(),
        pid: std::process::id(),
        clock_unix_us: protocol::now_us(),
    };
    let target = Target::Tcp {
        url: coordinator_url(&args.coordinator),
        token,
        fingerprint: args.fingerprint.clone(),
    };
    let rt = crate::runtime()?;
    // More than one engine thread: thread-per-core lanes, as for a run on one machine.
    let lanes = match args.threads.unwrap_or(1) {
        0 | 1 => None,
        n => {
            Some(Arc::new(engine::Lanes::start(n).map_err(|e| {
                Error::io("cannot start the engine threads", e)
            })?))
        }
    };
    let res = rt.block_on(work(plan, register, target, outs, lanes));
    rt.shutdown_timeout(Duration::from_millis(200));
    res
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "worker".into())
}

fn send(tx: &mpsc::Sender<WorkerMessage>, msg: worker_message::Msg) -> bool {
    tx.try_send(WorkerMessage { msg: Some(msg) }).is_ok()
}

async fn work(
    mut plan: Plan,
    register: proto::Register,
    target: Target,
    outs: Vec<crate::output::OutSpec>,
    lanes: Option<Arc<engine::Lanes>>,
) -> Result<i32, Error> {
    let (channel, bearer) = client::channel(&target).await.map_err(Error::Usage)?;
    let mut fleet = FleetClient::with_interceptor(channel, bearer)
        .send_compressed(tonic::codec::CompressionEncoding::Gzip);
    let (tx, rx) = mpsc::channel::<WorkerMessage>(256);
    send(&tx, worker_message::Msg::Register(register));
    let mut orders = fleet
        .join(ReceiverStream::new(rx))
        .await
        .map_err(|s| Error::Usage(format!("the coordinator: {}", client::describe(&s))))?
        .into_inner();
    let accepted = match orders.message().await {
        Ok(Some(proto::CoordinatorMessage {
            msg: Some(coordinator_message::Msg::Accepted(a)),
        })) => a,
        Ok(_) => {
            return Err(Error::Usage(
                "the coordinator did not accept this worker".into(),
            ))
        }
        Err(s) => {
            return Err(Error::Usage(format!(
                "the coordinator: {}",
                client::describe(&s)
            )))
        }
    };
    let index = accepted.index as usize;
    let split = Split::weighted(&accepted.weights).map_err(|e| Error::Usage(e.to_string()))?;
    let part: Arc<dyn engine::Segment> = Arc::new(
        WorkerPart::new(split.clone(), index)
            .ok_or_else(|| Error::Usage(format!("worker index {index} is not in the split")))?,
    );
    let (over, graceful) =
        protocol::overrides_of(accepted.overrides.as_ref().unwrap_or(&Default::default()));
    crate::overrides_of(&over)?.apply(&mut plan);
    if let Some(g) = graceful {
        plan.load.graceful_stop = g;
    }
    // Thresholds are judged on the merged data only: the coordinator aborts the whole
    // fleet when an abort_on_fail threshold fails there; no worker aborts its part.
    for t in &mut plan.thresholds {
        t.abort_on_fail = false;
    }
    // Counts the plan gives the whole run become this worker's part of them.
    if let Some(n) = plan.load.stop.iterations {
        plan.load.stop.iterations = Some(split.share(index, n));
    }
    if let LoadModel::Open { max_vus, .. } = &mut plan.load.model {
        *max_vus = (split.share(index, *max_vus as u64) as u32).max(1);
    }
    let workers = accepted.weights.len();
    say!("volley worker {index} of {workers}");
    let info = RunInfo::of(&plan);
    // The initial VUs' connections, open before the start (closed model).
    let warm = Arc::new(
        engine::preconnect(&plan, Some(part.clone()), lanes.as_ref(), PRECONNECT_LIMIT).await,
    );
    if warm.wanted() > 0 {
        say!(
            "volley worker {index}: {} of {} connections open for its {} VUs",
            warm.opened(),
            warm.wanted(),
            warm.vus()
        );
    }
    send(
        &tx,
        worker_message::Msg::Ready(proto::Ready {
            clock_unix_us: protocol::now_us(),
            preconnected: warm.opened() as u32,
            preconnect_wanted: warm.wanted() as u32,
            preconnect_vus: warm.vus() as u32,
        }),
    );
    // The start order (or the end of the run before it started).
    let t0 = loop {
        match orders.message().await {
            Ok(Some(m)) => match m.msg {
                Some(coordinator_message::Msg::Start(s)) => break s.t0_unix_us,
                Some(coordinator_message::Msg::Change(c)) if is_stop(&c) => {
                    say!("volley worker {index}: the run was stopped before it started");
                    return Ok(exit::FAILURE);
                }
                _ => {}
            },
            Ok(None) | Err(_) => {
                say!("volley worker {index}: the coordinator went away before the start");
                return Ok(exit::FAILURE);
            }
        }
    };
    tokio::time::sleep_until(protocol::instant_of(t0)).await;
    let handle = engine::start_with(
        plan,
        engine::EngineOptions {
            interval_histograms: true,
            no_self_watch: false,
            segment: Some(part),
            lanes,
            warm: Some(warm),
        },
    );
    let commands = handle.commands.clone();
    let mut snapshots = handle.snapshots.clone();
    let mut done = handle.done;
    // Plan changes, each at its instant, in order.
    let (due_tx, mut due_rx) = mpsc::unbounded_channel::<(i64, Command)>();
    let apply = {
        let commands = commands.clone();
        tokio::spawn(async move {
            while let Some((at, c)) = due_rx.recv().await {
                tokio::time::sleep_until(protocol::instant_of(at)).await;
                let _ = commands.send(c);
            }
        })
    };
    let mut encoder = wire::Encoder::default();
    let mut seq = 0u64;
    let mut cpu = CpuMeter::new();
    let mut cpu_now = 0.0;
    let mut heartbeat = tokio::time::interval(HEARTBEAT_EVERY);
    // At most this often (slower in a large fleet: protocol::update_every).
    let report_every = protocol::update_every(workers);
    let mut last_report = tokio::time::Instant::now() - report_every;
    let mut orders_open = true;
    let mut signals = Signals::listen();
    let result = loop {
        tokio::select! {
            r = &mut done => break r,
            m = orders.message(), if orders_open => match m {
                Ok(Some(proto::CoordinatorMessage { msg: Some(coordinator_message::Msg::Change(c)) })) => {
                    if let Some(cmd) = c.command.as_ref().and_then(protocol::engine_command_by) {
                        let _ = due_tx.send((c.apply_at_unix_us, cmd));
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    orders_open = false;
                    say!("volley worker {index}: the coordinator went away: stopping this part (its results are written)");
                    let _ = commands.send(Command::Stop);
                }
            },
            sig = signals.recv() => {
                let _ = commands.send(Command::StopOnSignal(sig));
            }
            _ = snapshots.changed() => {
                // The encoder sends timeline deltas: a report is made only when it can be
                // sent, else the coordinator would miss rows (the next one carries them).
                if last_report.elapsed() >= report_every && tx.capacity() > 0 {
                    last_report = tokio::time::Instant::now();
                    seq += 1;
                    let snap = snapshots.borrow_and_update().clone();
                    send(&tx, worker_message::Msg::Report(proto::Report {
                        seq,
                        snapshot_json: encoder.encode(&snap),
                        clock_unix_us: protocol::now_us(),
                        cpu_percent: cpu_now,
                    }));
                }
            }
            _ = heartbeat.tick() => {
                cpu_now = cpu.read().cpu_pct;
                send(&tx, worker_message::Msg::Heartbeat(proto::Heartbeat {
                    clock_unix_us: protocol::now_us(),
                    cpu_percent: cpu_now,
                }));
            }
        }
    };
    apply.abort();
    let last = match result {
        Ok(s) => s,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => engine::last_published(&snapshots),
    };
    let doc = ResultDoc::from_snapshot(&last, &info);
    let written = crate::output::write_all(&doc, &outs);
    let result_path = outs
        .iter()
        .find(|o| o.kind == crate::output::OutKind::Json)
        .map(|o| o.path.display().to_string())
        .unwrap_or_default();
    // The last snapshot goes whole: the coordinator's merge has every row.
    let _ = tx
        .send(WorkerMessage {
            msg: Some(worker_message::Msg::Finished(proto::Finished {
                snapshot_json: encoder.encode(&last),
                result_path,
                clock_unix_us: protocol::now_us(),
            })),
        })
        .await;
    drop(tx);
    // The coordinator ends the call once it has the last snapshot.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Ok(Some(_)) = orders.message().await {}
    })
    .await;
    written?;
    Ok(exit::OK)
}

fn is_stop(c: &proto::PlanChange) -> bool {
    matches!(
        c.command.as_ref().and_then(|r| r.command.as_ref()),
        Some(proto::command_request::Command::Stop(_) | proto::command_request::Command::Abort(_))
    )
}
