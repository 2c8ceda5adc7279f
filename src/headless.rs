//! Headless mode: a compact progress line on stderr; signals stop the run cleanly.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::engine::{self, EngineHandle, OnSignal, RunOutcome, Signals, StopSignal, Watcher};
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

/// Watches a run until it ends: progress every `every`, Ctrl-C/SIGTERM/SIGHUP (from
/// `signals`) stop it gracefully, a second Ctrl-C returns at once with the last published
/// snapshot.
pub async fn watch(handle: EngineHandle, signals: Signals, every: Duration) -> RunOutcome {
    let mut watcher = Progress {
        every,
        interrupts: 0,
    };
    engine::supervise(handle, signals, Arc::new(Notify::new()), &mut watcher).await
}

/// Headless mode's watcher: progress lines and notes on stderr.
struct Progress {
    every: Duration,
    interrupts: u32,
}

impl Watcher for Progress {
    fn on_signal(&mut self, sig: StopSignal) -> OnSignal {
        let note = match sig {
            StopSignal::Interrupt => {
                self.interrupts += 1;
                if self.interrupts > 1 {
                    // A second Stop makes the engine abort what is in flight (counted as
                    // aborted) at once; its final count follows within moments.
                    return OnSignal::Hurry;
                }
                "stopping, waiting for in-flight requests (Ctrl-C again to quit at once)"
            }
            StopSignal::Terminate => "SIGTERM, stopping",
            StopSignal::HangUp => "SIGHUP, stopping",
        };
        let _ = writeln!(std::io::stderr().lock(), "volley: {note}");
        OnSignal::Stop
    }

    fn every(&self) -> Option<Duration> {
        Some(self.every)
    }

    fn progress(&mut self, s: &Snapshot) {
        let _ = writeln!(std::io::stderr().lock(), "{}", progress_line(s));
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
