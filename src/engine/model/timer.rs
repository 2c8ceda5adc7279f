//! The open model scheduler's timer. tokio's timer has a resolution of one millisecond
//! (deadlines round up to the next tick, and the driver's `epoll_wait` timeout is in
//! milliseconds too), so arrivals handed out on it start 0.5-1.5 ms after they were due,
//! and that lateness is in every corrected latency: against a target answering in
//! 0.4 ms, the open model's p50 read 1.3 ms. On Linux this timer is a `timerfd` in the
//! lane's own reactor instead (no thread of its own, no cross-thread wake-up), which fires
//! within microseconds of its deadline; deadlines are kept at least [`GRAIN`] apart, so
//! that at a high rate one wake-up still hands out a batch (at 60,000/s, about 12) rather
//! than one arrival. Elsewhere, or if the `timerfd` cannot be made, it is tokio's.

use std::pin::Pin;
use std::time::{Duration, Instant};

use tokio::time::Sleep;

/// Shortest time between two wake-ups of the fine timer.
pub(super) const GRAIN: Duration = Duration::from_micros(200);
/// tokio's timer resolution.
const TOKIO_TICK: Duration = Duration::from_millis(1);

pub(super) struct Timer {
    inner: Inner,
    /// When the timer last fired (for [`GRAIN`]).
    fired: Option<Instant>,
    /// The deadline it is armed for and has not fired at yet: re-arming it for the same
    /// one is skipped (the scheduler re-arms on every wake-up, and a VU coming back while
    /// arrivals wait is one: at saturation that would be a system call per request).
    armed: Option<Instant>,
}

enum Inner {
    #[cfg(target_os = "linux")]
    Fd(fd::TimerFd),
    Tokio(Pin<Box<Sleep>>),
}

impl Timer {
    /// The fine timer where the platform has one, else tokio's. Must be called within a
    /// tokio runtime with I/O and time enabled.
    pub fn new() -> Timer {
        Timer::with_fine(true)
    }

    /// With `fine = false`, tokio's timer (what the tests compare against).
    pub fn with_fine(fine: bool) -> Timer {
        #[cfg(target_os = "linux")]
        if fine {
            if let Ok(t) = fd::TimerFd::new() {
                return Timer {
                    inner: Inner::Fd(t),
                    fired: None,
                    armed: None,
                };
            }
        }
        let _ = fine;
        Timer {
            inner: Inner::Tokio(Box::pin(tokio::time::sleep(Duration::ZERO))),
            fired: None,
            armed: None,
        }
    }

    /// How late a wake-up may be after the arrival it is for: the wake-ups' spacing
    /// ([`GRAIN`]) or tokio's tick.
    pub fn resolution(&self) -> Duration {
        match self.inner {
            #[cfg(target_os = "linux")]
            Inner::Fd(_) => GRAIN,
            Inner::Tokio(_) => TOKIO_TICK,
        }
    }

    /// Fires at `at`, or [`GRAIN`] after the last time it fired if that is later.
    pub fn reset(&mut self, at: Instant) {
        if self.armed == Some(at) {
            return;
        }
        self.armed = Some(at);
        match &mut self.inner {
            #[cfg(target_os = "linux")]
            Inner::Fd(t) => {
                let at = self.fired.map_or(at, |f| at.max(f + GRAIN));
                t.arm(at.saturating_duration_since(Instant::now()));
            }
            Inner::Tokio(s) => s.as_mut().reset(at.into()),
        }
    }

    /// Waits for the deadline set by [`Timer::reset`]. Cancel-safe: dropped before it
    /// returns, the expiry is still there for the next call.
    pub async fn wait(&mut self) {
        match &mut self.inner {
            #[cfg(target_os = "linux")]
            Inner::Fd(t) => t.expired().await,
            Inner::Tokio(s) => s.as_mut().await,
        }
        self.fired = Some(Instant::now());
        self.armed = None;
    }
}

#[cfg(target_os = "linux")]
mod fd {
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::time::Duration;

    use tokio::io::unix::AsyncFd;
    use tokio::io::Interest;

    pub struct TimerFd(AsyncFd<OwnedFd>);

    impl TimerFd {
        pub fn new() -> io::Result<TimerFd> {
            // SAFETY: timerfd_create takes no pointers; a non-negative result is a new
            // file descriptor that nothing else owns.
            let fd = unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: `fd` was just created and is owned here only.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            // SAFETY: an OwnedFd's descriptor stays open and the same until it is dropped,
            // which is when the AsyncFd is.
            let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }?;
            Ok(TimerFd(fd))
        }

        /// Fires once, `after` from now (at once for zero). A pending expiry not yet read
        /// is replaced.
        pub fn arm(&self, after: Duration) {
            // A zero it_value disarms the timer: the shortest real delay instead.
            let after = after.max(Duration::from_nanos(1));
            let spec = libc::itimerspec {
                it_interval: libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: libc::timespec {
                    tv_sec: after.as_secs().min(i64::MAX as u64) as libc::time_t,
                    tv_nsec: after.subsec_nanos() as libc::c_long,
                },
            };
            // SAFETY: a valid timerfd, a valid itimerspec, and no old value asked for.
            let rc = unsafe {
                libc::timerfd_settime(self.0.as_raw_fd(), 0, &spec, std::ptr::null_mut())
            };
            debug_assert_eq!(rc, 0, "timerfd_settime: {}", io::Error::last_os_error());
        }

        /// Waits until the timer has expired, and consumes the expiry.
        pub async fn expired(&self) {
            loop {
                let Ok(mut guard) = self.0.readable().await else {
                    // The reactor is gone (the runtime is shutting down): nothing fires.
                    return std::future::pending().await;
                };
                let mut n = [0u8; 8];
                let read = guard.try_io(|fd| {
                    // SAFETY: reads at most 8 bytes into an 8-byte buffer.
                    let r = unsafe { libc::read(fd.as_raw_fd(), n.as_mut_ptr().cast(), 8) };
                    if r < 0 {
                        Err(io::Error::last_os_error())
                    } else {
                        Ok(())
                    }
                });
                match read {
                    Ok(Ok(())) => return,
                    // Not expired after all (re-armed since it was readable): wait again.
                    Ok(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Ok(Err(_)) | Err(_) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    /// The fine timer fires at its deadline, never before (how soon after is for the
    /// benchmarks: bench/compare.sh MODE=open); re-arming replaces the deadline; a wait
    /// dropped before the deadline leaves the expiry for the next.
    #[cfg(target_os = "linux")]
    #[test]
    fn fires_at_the_deadline_not_before() {
        rt().block_on(async {
            let mut t = Timer::new();
            assert_eq!(t.resolution(), GRAIN);
            for i in 0..20u64 {
                let at = Instant::now() + Duration::from_micros(300 + 37 * i);
                t.reset(at);
                t.wait().await;
                let now = Instant::now();
                assert!(now >= at, "fired {:?} early", at - now);
            }
            // Armed twice for the same deadline: it fires once, at it.
            let at = Instant::now() + Duration::from_millis(1);
            t.reset(at);
            t.reset(at);
            t.wait().await;
            assert!(Instant::now() >= at);
            // Re-armed: the later deadline holds.
            let first = Instant::now() + Duration::from_millis(1);
            t.reset(first);
            let later = Instant::now() + Duration::from_millis(5);
            t.reset(later);
            t.wait().await;
            assert!(Instant::now() >= later);
            // A wait cancelled before its deadline: the expiry is there for the next one.
            // Polled once and dropped, rather than raced against another timer, so that a
            // busy machine cannot let the deadline pass first (the wait would then finish,
            // and the cancel would not be tested). The deadline is far enough for one poll.
            let at = Instant::now() + Duration::from_millis(200);
            t.reset(at);
            let pending = {
                let mut w = std::pin::pin!(t.wait());
                std::future::poll_fn(|cx| {
                    std::task::Poll::Ready(Future::poll(w.as_mut(), cx).is_pending())
                })
                .await
            };
            if pending {
                tokio::time::timeout(Duration::from_secs(5), t.wait())
                    .await
                    .expect("the expiry is kept");
            }
            assert!(Instant::now() >= at);
        });
    }

    /// Wake-ups are at least GRAIN apart, so a high rate is handed out in batches.
    #[cfg(target_os = "linux")]
    #[test]
    fn wake_ups_are_a_grain_apart() {
        rt().block_on(async {
            let mut t = Timer::new();
            t.reset(Instant::now());
            t.wait().await;
            // When the timer recorded its wake-up (what GRAIN is counted from), not when
            // this task got to look: a busy machine may run it a while later.
            let fired = t.fired.expect("it fired");
            t.reset(Instant::now());
            t.wait().await;
            assert!(Instant::now() >= fired + GRAIN);
        });
    }

    #[test]
    fn tokio_fallback_fires_too() {
        rt().block_on(async {
            let mut t = Timer::with_fine(false);
            assert_eq!(t.resolution(), TOKIO_TICK);
            let at = Instant::now() + Duration::from_millis(2);
            t.reset(at);
            t.wait().await;
            assert!(Instant::now() >= at);
        });
    }
}
