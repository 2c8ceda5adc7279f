//! WebSocket sessions: what one did, and counts and HDR histograms per endpoint.

use hdrhistogram::Histogram;

use super::recorder::{new_histogram, record_into};

/// One WebSocket session (a request with a `ws` script), as far as it got.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WsSample {
    /// From starting to connect to the end of the handshake (101), when it got there.
    pub handshake_us: Option<u64>,
    /// A connection was opened for it.
    pub opened: bool,
    /// The WebSocket closing handshake completed (either side started it).
    pub closed: bool,
    /// The close code the server sent, if it sent one.
    pub close_code: Option<u16>,
    pub sent: u64,
    pub received: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Each matched `expect`: from the last send before it to the match.
    pub expect_us: Vec<u64>,
    /// What the session's `echo` steps did.
    pub echo: EchoCounts,
    /// Each echo matched in time: from when its message was due to the echo (microseconds).
    pub echo_hist: Option<Box<Histogram<u64>>>,
}

impl WsSample {
    /// An echo matched in time, `us` after its message was due.
    pub fn record_echo(&mut self, us: u64) {
        self.echo.echoed += 1;
        record_into(
            self.echo_hist
                .get_or_insert_with(|| Box::new(new_histogram())),
            us,
        );
    }
}

/// The messages of `echo` steps: each sent one is echoed, timed out or lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EchoCounts {
    pub sent: u64,
    /// Echoes matched within the step's `within`.
    pub echoed: u64,
    /// Messages whose echo did not come within `within` of when they were due.
    pub timeouts: u64,
    /// Messages still waiting for their echo when the session stopped waiting (the run
    /// stopped, the socket closed or failed).
    pub lost: u64,
}

impl EchoCounts {
    fn add(&mut self, o: &EchoCounts) {
        self.sent += o.sent;
        self.echoed += o.echoed;
        self.timeouts += o.timeouts;
        self.lost += o.lost;
    }
}

/// The WebSocket sessions of one endpoint.
#[derive(Debug, Clone)]
pub struct WsStats {
    pub sessions: u64,
    pub opened: u64,
    pub closed: u64,
    pub sent: u64,
    pub received: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Close code -> sessions the server closed with it (a short list).
    pub close_codes: Vec<(u16, u64)>,
    pub handshake: Histogram<u64>,
    pub expect: Histogram<u64>,
    pub echo_counts: EchoCounts,
    /// `echo` steps: from when a message was due to its echo.
    pub echo: Histogram<u64>,
}

impl Default for WsStats {
    fn default() -> Self {
        WsStats {
            sessions: 0,
            opened: 0,
            closed: 0,
            sent: 0,
            received: 0,
            bytes_sent: 0,
            bytes_received: 0,
            close_codes: Vec::new(),
            handshake: new_histogram(),
            expect: new_histogram(),
            echo_counts: EchoCounts::default(),
            echo: new_histogram(),
        }
    }
}

fn add_code(list: &mut Vec<(u16, u64)>, code: u16, n: u64) {
    match list.iter_mut().find(|(c, _)| *c == code) {
        Some((_, m)) => *m += n,
        None => list.push((code, n)),
    }
}

impl WsStats {
    pub fn record(&mut self, s: &WsSample) {
        self.sessions += 1;
        self.opened += s.opened as u64;
        self.closed += s.closed as u64;
        self.sent += s.sent;
        self.received += s.received;
        self.bytes_sent += s.bytes_sent;
        self.bytes_received += s.bytes_received;
        if let Some(c) = s.close_code {
            add_code(&mut self.close_codes, c, 1);
        }
        if let Some(us) = s.handshake_us {
            record_into(&mut self.handshake, us);
        }
        for &us in &s.expect_us {
            record_into(&mut self.expect, us);
        }
        self.echo_counts.add(&s.echo);
        if let Some(h) = &s.echo_hist {
            self.echo
                .add(h.as_ref())
                .expect("auto-resizing histograms always add");
        }
    }

    pub fn add(&mut self, o: &WsStats) {
        self.sessions += o.sessions;
        self.opened += o.opened;
        self.closed += o.closed;
        self.sent += o.sent;
        self.received += o.received;
        self.bytes_sent += o.bytes_sent;
        self.bytes_received += o.bytes_received;
        for &(c, n) in &o.close_codes {
            add_code(&mut self.close_codes, c, n);
        }
        self.echo_counts.add(&o.echo_counts);
        for (mine, theirs) in [
            (&mut self.handshake, &o.handshake),
            (&mut self.expect, &o.expect),
            (&mut self.echo, &o.echo),
        ] {
            mine.add(theirs)
                .expect("auto-resizing histograms always add");
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sessions == 0
    }

    pub fn reset(&mut self) {
        *self = WsStats {
            handshake: std::mem::replace(&mut self.handshake, new_histogram()),
            expect: std::mem::replace(&mut self.expect, new_histogram()),
            echo: std::mem::replace(&mut self.echo, new_histogram()),
            ..WsStats::default()
        };
        self.handshake.reset();
        self.expect.reset();
        self.echo.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_add_up() {
        let mut a = WsStats::default();
        a.record(&WsSample {
            handshake_us: Some(500),
            opened: true,
            closed: true,
            close_code: Some(1000),
            sent: 2,
            received: 3,
            bytes_sent: 10,
            bytes_received: 30,
            expect_us: vec![100, 200],
            echo: EchoCounts {
                sent: 5,
                echoed: 3,
                timeouts: 1,
                lost: 1,
            },
            echo_hist: Some(Box::new({
                let mut h = new_histogram();
                h.record_n(900, 3).unwrap();
                h
            })),
        });
        a.record(&WsSample {
            opened: true,
            close_code: Some(1011),
            ..WsSample::default()
        });
        let mut b = WsStats::default();
        b.add(&a);
        b.add(&a);
        assert_eq!((b.sessions, b.opened, b.closed), (4, 4, 2));
        assert_eq!((b.sent, b.received, b.bytes_received), (4, 6, 60));
        assert_eq!(b.close_codes, vec![(1000, 2), (1011, 2)]);
        assert_eq!((b.handshake.len(), b.expect.len()), (2, 4));
        assert_eq!(b.echo.len(), 6);
        let e = b.echo_counts;
        assert_eq!((e.sent, e.echoed, e.timeouts, e.lost), (10, 6, 2, 2));
        b.reset();
        assert!(b.is_empty() && b.expect.is_empty() && b.close_codes.is_empty());
        assert!(b.echo.is_empty() && b.echo_counts == EchoCounts::default());
    }
}
