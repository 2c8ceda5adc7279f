//! Durations (every `timeout`, `duration`, `think_time`, stage and threshold window):
//! any text parses or gives an error, never a panic; a parsed duration prints in a form
//! that parses back to the same duration.
#![no_main]

use libfuzzer_sys::fuzz_target;
use volley::scenario::{format_duration, parse_duration};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(d) = parse_duration(text) else {
        return;
    };
    let shown = format_duration(d);
    let back = parse_duration(&shown)
        .unwrap_or_else(|e| panic!("{text:?} prints as {shown:?}, which does not parse: {e}"));
    assert_eq!(back, d, "{text:?} -> {shown:?}");
});
