//! The WebSocket step script parser (`ws = """..."""`): any text parses or gives an
//! error on one of its lines, never a panic; a parsed script has steps on real lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use volley::scenario::wsscript::{parse, MAX_STEPS};

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
        }
        Err(e) => {
            assert!(e.line >= 1 && e.line <= lines, "line {} of {lines}", e.line);
            assert!(!e.message.is_empty());
        }
    }
});
