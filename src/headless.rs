//! Headless mode: a compact progress line on stderr; signals stop the run cleanly.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};

use crate::engine::{Command, EngineHandle, StopSignal, Watched};
use crate::metrics::Snapshot;
use crate::units;

/// One progress line, e.g. `[  12s] RUNNING vus 50/50 reqs 120,345 rps 10,234 err 0.10% p95 4.21ms`.
pub fn progress_line(s: &Snapshot) -> String {
    let remaining = match (s.iteration_limit, s.planned) {
        // `-n`: how far through the iterations, e.g. ` done 500/1,000 (50.0%)`.
        (Some(n), _) => format!(
            " done {}/{} ({})",
            units::count(s.iterations_done.min(n)),
            units::count(n),
            units::percent_with(s.iterations_done.min(n) as f64 / n.max(1) as f64, 1)
        ),
        (None, Some(p)) => format!(" left {:>4.0}s", p.saturating_sub(s.run_time).as_secs_f64()),
        (None, None) => String::new(),
    };
    format!(
        "[{:>5.0}s] {:<8} vus {}/{} reqs {} rps {} err {} p95 {}{} conns {}",
        s.elapsed.as_secs_f64(),
        s.state.label(),
        s.vus_active,
        s.vus_target,
        units::count(s.total.requests),
        units::rate(s.total.rps_now),
        units::percent(s.total.error_rate()),
        units::fmt_opt(s.total.quantile_opt_us(0.95), units::us),
        remaining,
        units::count(s.connections_open),
    )
}

/// Watches a run until it ends: progress every `every`, Ctrl-C/SIGTERM/SIGHUP stop it
/// gracefully, a second Ctrl-C returns at once with the last published snapshot.
pub async fn watch(handle: EngineHandle, every: Duration) -> Watched {
    let EngineHandle {
        commands,
        snapshots,
        mut done,
    } = handle;
    let mut progress = tokio::time::interval(every);
    progress.tick().await;
    let mut sigint = signal(SignalKind::interrupt()).ok();
    let mut sigterm = signal(SignalKind::terminate()).ok();
    let mut sighup = signal(SignalKind::hangup()).ok();
    let mut interrupts = 0;
    let stderr = std::io::stderr();
    loop {
        tokio::select! {
            res = &mut done => {
                let snapshot = match res {
                    Ok(s) => s,
                    Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    Err(_) => last(&snapshots),
                };
                return Watched { snapshot, forced: false };
            }
            _ = progress.tick() => {
                let line = progress_line(&snapshots.borrow());
                let _ = writeln!(stderr.lock(), "{line}");
            }
            _ = recv(&mut sigint) => {
                interrupts += 1;
                if interrupts == 1 {
                    let _ = writeln!(stderr.lock(), "volley: stopping, waiting for in-flight requests (Ctrl-C again to quit at once)");
                    let _ = commands.send(Command::StopOnSignal(StopSignal::Interrupt));
                } else {
                    // A second Stop makes the engine abort what is in flight (counted as
                    // aborted) at once; its final count follows within moments.
                    let _ = commands.send(Command::StopOnSignal(StopSignal::Interrupt));
                    return match tokio::time::timeout(Duration::from_secs(2), &mut done).await {
                        Ok(Ok(snapshot)) => Watched { snapshot, forced: true },
                        _ => {
                            done.abort();
                            Watched { snapshot: last(&snapshots), forced: true }
                        }
                    };
                }
            }
            _ = recv(&mut sigterm) => {
                let _ = writeln!(stderr.lock(), "volley: SIGTERM, stopping");
                let _ = commands.send(Command::StopOnSignal(StopSignal::Terminate));
            }
            _ = recv(&mut sighup) => {
                let _ = writeln!(stderr.lock(), "volley: SIGHUP, stopping");
                let _ = commands.send(Command::StopOnSignal(StopSignal::HangUp));
            }
        }
    }
}

fn last(snapshots: &tokio::sync::watch::Receiver<Arc<Snapshot>>) -> Snapshot {
    let mut s = (**snapshots.borrow()).clone();
    s.partial = true;
    s
}

/// The next delivery of a signal; never, when it could not be listened for.
pub(crate) async fn recv(sig: &mut Option<tokio::signal::unix::Signal>) {
    match sig {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_line_groups_numbers_like_the_summary() {
        let mut s = Snapshot::empty("t", &[]);
        s.total.requests = 144_219;
        s.total.rps_now = 130_951.4;
        s.vus_active = 1;
        s.vus_target = 1;
        let line = progress_line(&s);
        assert!(
            line.contains("reqs 144,219 rps 130,951 err 0.00%"),
            "{line}"
        );
    }

    #[test]
    fn progress_line_shows_iterations_against_the_limit() {
        let mut s = Snapshot::empty("t", &[]);
        s.iteration_limit = Some(2000);
        s.iterations_done = 500;
        s.planned = Some(Duration::from_secs(60));
        let line = progress_line(&s);
        assert!(line.contains(" done 500/2,000 (25.0%) "), "{line}");
        assert!(!line.contains("left"), "{line}");
        // Nothing answered yet: no p95 to show, not a 0.
        assert!(line.contains(" p95 – "), "{line}");
    }
}
