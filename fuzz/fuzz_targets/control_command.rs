//! The control API's command decoding: any bytes decode as a `CommandRequest` or give an
//! error, never a panic; a decoded command maps to engine commands or a refusal, never a
//! panic, and never to more than the maximum VUs or an invalid spike.
#![no_main]

use libfuzzer_sys::fuzz_target;
use volley::control::{convert, decode_command};
use volley::engine::{Command, SpikeChange};
use volley::metrics::Snapshot;

fuzz_target!(|data: &[u8]| {
    let Ok(req) = decode_command(data) else {
        return;
    };
    let Some(cmd) = req.command else {
        return;
    };
    let closed = Snapshot::empty("fuzz", &[]);
    let mut open = Snapshot::empty("fuzz", &[]);
    open.rate = Some(100.0);
    for snap in [&closed, &open] {
        let Ok((commands, applied)) = convert::command(&cmd, snap) else {
            continue;
        };
        assert!(!applied.is_empty());
        for c in commands {
            match c {
                Command::SetVus(n) => assert!(n as u64 <= volley::scenario::MAX_VUS),
                Command::SetRate(r) => assert!(r.is_finite() && (0.0..=1_000_000.0).contains(&r)),
                Command::Spike(s) => {
                    assert!(!s.duration.is_zero());
                    if let SpikeChange::Times(f) = s.change {
                        assert!(f > 0.0 && f <= 1000.0);
                    }
                }
                _ => {}
            }
        }
    }
});
