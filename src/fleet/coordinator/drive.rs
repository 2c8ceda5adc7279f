//! The coordinator's run, from the workers' registration to the last merged snapshot.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use super::{Inner, LossPolicy, WorkerState, Workers, HEARTBEAT_TIMEOUT, START_LEAD};
use crate::control::proto::{self, coordinator_message};
use crate::engine::Command;
use crate::fleet::protocol;
use crate::metrics::Snapshot;
use crate::state::{EventKind, RunState};
use crate::thresholds::ThresholdSpec;

/// The coordinator's run: waits for every worker to be ready, orders the start, passes
/// commands on, publishes the merged view, applies the loss policy; the final merged
/// snapshot.
pub(super) async fn drive(
    inner: Arc<Inner>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    publish: watch::Sender<Arc<Snapshot>>,
) -> Snapshot {
    let n = inner.settings.workers;
    let deadline = tokio::time::Instant::now() + inner.settings.register_timeout;
    // 1. Every worker registers and gets ready.
    loop {
        let (ready, lost) = {
            let b = inner.board.lock().expect("fleet board");
            let ready = b
                .slots
                .iter()
                .flatten()
                .filter(|s| s.view.state == WorkerState::Ready)
                .count();
            let lost = b
                .slots
                .iter()
                .flatten()
                .find(|s| s.view.state == WorkerState::Lost)
                .map(|s| (s.view.index, s.view.lost.clone().unwrap_or_default()));
            (ready, lost)
        };
        if let Some((i, why)) = lost {
            return give_up(
                &inner,
                &publish,
                format!("worker {i} was lost before the start: {why}"),
            );
        }
        if ready == n {
            break;
        }
        publish.send_replace(Arc::new(inner.merged()));
        tokio::select! {
            _ = inner.changed.notified() => {}
            _ = tokio::time::sleep(crate::fleet::protocol::update_every(n)) => {}
            _ = tokio::time::sleep_until(deadline) => {
                return give_up(&inner, &publish, format!(
                    "only {ready} of {n} workers were ready after {}s",
                    inner.settings.register_timeout.as_secs()
                ));
            }
            c = commands.recv() => if c.as_ref().is_none_or(Command::is_stop) {
                return give_up(&inner, &publish, "stopped before the workers were ready".into());
            }
        }
    }
    // 2. The start, at one instant for all.
    let t0 = protocol::now_us() + START_LEAD.as_micros() as i64;
    {
        let mut b = inner.board.lock().expect("fleet board");
        b.t0_us = Some(t0);
        let detail = format!("{n} workers ready: start at t0 for all");
        inner.event(&mut b, EventKind::Other("fleet".into()), detail);
    }
    inner.broadcast(coordinator_message::Msg::Start(proto::Start {
        t0_unix_us: t0,
    }));
    // 3. Until every worker has finished or is lost.
    let mut commands_open = true;
    let mut handled_losses = 0usize;
    let mut stopping = false;
    let mut tick = tokio::time::interval(crate::fleet::protocol::update_every(n));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            c = commands.recv(), if commands_open => match c {
                Some(c) => {
                    stopping |= c.is_stop();
                    inner.change(&c);
                }
                None => commands_open = false,
            },
            _ = inner.changed.notified() => {}
            _ = tick.tick() => {}
        }
        // Heartbeats: a worker silent too long is lost.
        let silent: Vec<usize> = {
            let b = inner.board.lock().expect("fleet board");
            b.slots
                .iter()
                .flatten()
                .filter(|s| {
                    matches!(s.view.state, WorkerState::Ready | WorkerState::Running)
                        && s.view.last_seen.elapsed() > HEARTBEAT_TIMEOUT
                })
                .map(|s| s.view.index)
                .collect()
        };
        for i in silent {
            inner.lose(
                i,
                &format!("no heartbeat for {}s", HEARTBEAT_TIMEOUT.as_secs()),
            );
        }
        let (lost, over): (Vec<(usize, String)>, usize) = {
            let b = inner.board.lock().expect("fleet board");
            let lost = b
                .slots
                .iter()
                .flatten()
                .filter(|s| s.view.state == WorkerState::Lost)
                .map(|s| (s.view.index, s.view.lost.clone().unwrap_or_default()))
                .collect();
            let over = b
                .slots
                .iter()
                .flatten()
                .filter(|s| matches!(s.view.state, WorkerState::Finished | WorkerState::Lost))
                .count();
            (lost, over)
        };
        for (i, why) in lost.iter().skip(handled_losses) {
            let policy = inner.settings.on_loss;
            let what = match policy {
                LossPolicy::Abort => "stopping the run (--on-worker-loss abort)",
                LossPolicy::Continue => "the others go on (--on-worker-loss continue)",
            };
            let mut b = inner.board.lock().expect("fleet board");
            inner.event(
                &mut b,
                EventKind::Other("fleet".into()),
                format!("worker {i} lost: {why}; {what}"),
            );
            drop(b);
            if policy == LossPolicy::Abort && !stopping {
                stopping = true;
                inner.change(&Command::Stop);
            }
        }
        handled_losses = lost.len();
        let merged = inner.merged();
        if !stopping {
            if let Some(why) = threshold_abort(&inner.settings.thresholds, &merged) {
                stopping = true;
                let mut b = inner.board.lock().expect("fleet board");
                inner.event(&mut b, EventKind::Abort, format!("aborted: {why}"));
                b.abort = Some(why);
                drop(b);
                inner.change(&Command::Stop);
            }
        }
        publish.send_replace(Arc::new(merged));
        if over == n {
            break;
        }
    }
    let mut last = inner.merged();
    last.state = RunState::Done;
    if let Some(skew) = Workers(inner.clone()).start_skew() {
        let mut b = inner.board.lock().expect("fleet board");
        inner.event(
            &mut b,
            EventKind::Other("fleet".into()),
            format!(
                "start skew {:.3} ms over {n} workers",
                skew.as_secs_f64() * 1000.0
            ),
        );
        drop(b);
        last = inner.merged();
        last.state = RunState::Done;
    }
    publish.send_replace(Arc::new(last.clone()));
    last
}

/// Why the run must stop, when an abort_on_fail threshold fails on the merged data
/// after its grace (as one process's aggregator decides on its own).
fn threshold_abort(specs: &[ThresholdSpec], s: &Snapshot) -> Option<String> {
    specs.iter().zip(&s.thresholds).find_map(|(spec, st)| {
        (spec.abort_on_fail && st.passed == Some(false) && s.run_time >= spec.abort_grace)
            .then(|| st.abort_reason())
    })
}

/// The run cannot start: the workers that came are told to stop; a partial, empty view.
fn give_up(inner: &Inner, publish: &watch::Sender<Arc<Snapshot>>, why: String) -> Snapshot {
    say!("volley: fleet: {why}");
    inner.change(&Command::Stop);
    let mut b = inner.board.lock().expect("fleet board");
    inner.event(&mut b, EventKind::Abort, format!("aborted: {why}"));
    drop(b);
    let mut s = inner.merged();
    s.state = RunState::Done;
    s.partial = true;
    s.abort = Some(why);
    publish.send_replace(Arc::new(s.clone()));
    s
}
