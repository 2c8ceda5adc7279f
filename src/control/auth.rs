//! Authentication of the TCP listener: a random 256-bit bearer token per run, compared in
//! constant time; failed attempts are counted and rate-limited. (The Unix socket relies on
//! the run directory's modes and the peer's uid instead: see `server`.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;
use tonic::{Request, Status};

/// Failed attempts allowed per [`FAIL_WINDOW`]; past that every attempt is refused
/// (without looking at its token) until the window ends.
pub const MAX_FAILS: u32 = 10;
pub const FAIL_WINDOW: Duration = Duration::from_secs(1);

/// A new token: 32 random bytes, hex (64 characters).
pub fn new_token() -> String {
    let mut b = [0u8; 32];
    super::rundir::random_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The token check of one run's TCP listener (a tonic interceptor).
#[derive(Clone)]
pub struct TokenCheck {
    token: Arc<str>,
    pub failures: Arc<AtomicU64>,
    window: Arc<Mutex<(Instant, u32)>>,
}

impl TokenCheck {
    pub fn new(token: &str, failures: Arc<AtomicU64>) -> TokenCheck {
        TokenCheck {
            token: token.into(),
            failures,
            window: Arc::new(Mutex::new((Instant::now(), 0))),
        }
    }

    /// Whether the window's failures are used up (then nothing is compared).
    fn locked(&self) -> bool {
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        if w.0.elapsed() >= FAIL_WINDOW {
            *w = (Instant::now(), 0);
        }
        w.1 >= MAX_FAILS
    }

    fn fail(&self) {
        let n = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        w.1 += 1;
        // One line per power of two: a flood of attempts cannot flood the log.
        if n.is_power_of_two() {
            say!("volley: control API: {n} failed authentication attempt(s) so far");
        }
    }

    /// Accepts `Bearer <token>` in constant time over the token's bytes.
    pub fn check(&self, header: Option<&[u8]>) -> Result<(), Status> {
        if self.locked() {
            return Err(Status::resource_exhausted(
                "too many failed authentication attempts: try again in a second",
            ));
        }
        let given = header.and_then(|h| h.strip_prefix(b"Bearer "));
        let ok = match given {
            Some(t) => t.len() == self.token.len() && bool::from(t.ct_eq(self.token.as_bytes())),
            None => false,
        };
        if ok {
            return Ok(());
        }
        self.fail();
        Err(match given {
            None => Status::unauthenticated(
                "this run's control API needs its token: set VOLLEY_TOKEN or use --token-file",
            ),
            Some(_) => Status::unauthenticated("invalid token"),
        })
    }
}

impl tonic::service::Interceptor for TokenCheck {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        self.check(req.metadata().get("authorization").map(|v| v.as_bytes()))?;
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_random_bits_in_hex() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn only_the_exact_bearer_token_passes_and_failures_are_counted_then_limited() {
        let failures = Arc::new(AtomicU64::new(0));
        let check = TokenCheck::new("abc123", failures.clone());
        assert!(check.check(Some(b"Bearer abc123")).is_ok());
        for bad in [
            None,
            Some(&b"Bearer abc12"[..]),
            Some(b"Bearer abc1234"),
            Some(b"abc123"),
            Some(b"Bearer ABC123"),
        ] {
            let e = check.check(bad).unwrap_err();
            assert_eq!(e.code(), tonic::Code::Unauthenticated, "{bad:?}");
            assert!(!e.message().contains("abc"), "{}", e.message());
        }
        assert_eq!(failures.load(Ordering::Relaxed), 5);
        for _ in 0..MAX_FAILS {
            let _ = check.check(Some(b"Bearer nope"));
        }
        // Locked: even the right token waits for the window to end.
        let e = check.check(Some(b"Bearer abc123")).unwrap_err();
        assert_eq!(e.code(), tonic::Code::ResourceExhausted);
    }
}
