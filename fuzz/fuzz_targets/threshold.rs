//! The threshold expression parser: any text gives a threshold or an error with a column
//! inside it; a threshold prints in a canonical form that parses back to the same
//! metric, operator, value and window; evaluating it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use volley::thresholds::{parse, Latency, Observed};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let t = match parse(text) {
        Ok(t) => t,
        Err(e) => {
            let chars = text.chars().count();
            assert!(
                e.column >= 1 && e.column <= chars + 1,
                "column {} outside {text:?} ({chars} chars): {}",
                e.column,
                e.message
            );
            return;
        }
    };
    let shown = t.to_string();
    let back = parse(&shown)
        .unwrap_or_else(|e| panic!("{text:?} prints as {shown:?}, which does not parse: {e}"));
    assert_eq!(
        (back.metric, back.op, back.value.to_bits(), back.window),
        (t.metric, t.op, t.value.to_bits(), t.window),
        "{text:?} -> {shown:?}"
    );
    let l = Latency {
        min: 0.1,
        mean: 3.0,
        p50: 2.0,
        p90: 5.0,
        p95: 7.5,
        p99: 20.0,
        p999: 80.0,
        max: 1e9,
        ..Latency::default()
    };
    for o in [
        Observed::default(),
        Observed {
            latency_ms: Some(l),
            requests: 1000,
            errors: 7,
            seconds: 0.001,
            checks_passed: 9,
            checks_failed: 1,
            dropped: u64::MAX,
            generator_cpu: Some(0.95),
        },
    ] {
        if let Some(v) = t.observe(&o) {
            let _ = t.format_value(v);
        }
        let _ = t.evaluate(&o);
    }
});
