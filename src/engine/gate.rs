//! The gate every VU passes before starting a request: running, paused or stopping.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Running = 0,
    Paused = 1,
    Stopping = 2,
}

/// Clones share the gate (the VUs' and the WebSocket `echo` steps' of one run).
#[derive(Debug, Clone, Default)]
pub struct Gate {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    phase: AtomicU8,
    changed: Notify,
}

impl Default for Inner {
    fn default() -> Self {
        Inner {
            phase: AtomicU8::new(Phase::Running as u8),
            changed: Notify::new(),
        }
    }
}

impl Gate {
    pub fn phase(&self) -> Phase {
        match self.inner.phase.load(Ordering::Acquire) {
            0 => Phase::Running,
            1 => Phase::Paused,
            _ => Phase::Stopping,
        }
    }

    pub fn set(&self, p: Phase) {
        self.inner.phase.store(p as u8, Ordering::Release);
        self.inner.changed.notify_waiters();
    }

    /// A future that completes on the next phase change or poke (enable it before
    /// reading the phase).
    pub fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.inner.changed.notified()
    }

    /// Wakes every waiting VU so it re-reads its own retire flag.
    pub fn poke(&self) {
        self.inner.changed.notify_waiters();
    }

    /// Waits while paused; true when the VU may start a request, false when it must exit.
    pub async fn admit(&self, retire: &AtomicBool) -> bool {
        loop {
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if retire.load(Ordering::Acquire) {
                return false;
            }
            match self.phase() {
                Phase::Running => return true,
                Phase::Stopping => return false,
                Phase::Paused => notified.await,
            }
        }
    }

    /// Sleeps for `d` (think time); false when the VU must exit instead.
    pub async fn sleep(&self, d: Duration, retire: &AtomicBool) -> bool {
        let deadline = Instant::now() + d;
        loop {
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if retire.load(Ordering::Acquire) || self.phase() == Phase::Stopping {
                return false;
            }
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return true,
                _ = notified => {}
            }
        }
    }
}
