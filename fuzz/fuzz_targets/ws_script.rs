//! The WebSocket step script parser (`ws = """..."""`): any text parses or gives an
//! error on one of its lines, never a panic; a parsed script has steps on real lines,
//! and an `echo` step sends at least one message, at most 10000 a second, with a
//! `{{seq}}` to match its echoes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use volley::scenario::wsscript::{parse, RawStep, MAX_ECHO_RATE, MAX_STEPS};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = text.lines().count().max(1);
    match parse(text) {
        Ok(steps) => {
            assert!(!steps.is_empty() && steps.len() <= MAX_STEPS);
            for w in steps.windows(2) {
                assert!(w[0].line < w[1].line);
            }
            assert!(steps.iter().all(|s| s.line >= 1 && s.line <= lines));
            for s in &steps {
                if let RawStep::Echo {
                    parts,
                    rate,
                    duration,
                    ..
                } = &s.step
                {
                    assert!(parts.len() >= 2);
                    let n = rate.count(*duration);
                    assert!(n >= 1);
                    assert!(rate.offset(n - 1) < *duration);
                    assert!(rate.per_second() <= MAX_ECHO_RATE as f64 + 1e-9);
                }
            }
        }
        Err(e) => {
            assert!(e.line >= 1 && e.line <= lines, "line {} of {lines}", e.line);
            assert!(!e.message.is_empty());
        }
    }
});
