//! The scenario parser and validator: any text gives a plan or one located error line,
//! never a panic; a plan can be printed (`volley check`), summarised for the results and
//! prepared for the engine.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `[[data]]` files are read from disk: a fuzzed path could name a device or a huge
    // file, which is the user's choice, not a bug. Leave those out.
    if text.contains("data") {
        return;
    }
    match volley::scenario::parse(Path::new("fuzz.toml"), text) {
        Ok(plan) => {
            let _ = plan.to_string();
            let _ = volley::report::RunInfo::of(&plan);
            let _ = volley::engine::executor::Requests::new(&plan);
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("fuzz.toml:"), "not located: {msg:?}");
            assert!(!msg.contains('\n'), "more than one line: {msg:?}");
        }
    }
});
