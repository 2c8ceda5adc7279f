//! `volley import har FILE`: any bytes (read as a stream) give a scenario that validates,
//! or one error; never a panic, never a written scenario that `volley check` would refuse.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = volley::import::har::HarOptions::default();
    match volley::import::har::from_reader(Path::new("fuzz.har"), data, &opts) {
        Ok(draft) => {
            if let Err(e) = volley::import::finish(&draft) {
                let msg = e.to_string();
                assert!(msg.contains("no request left"), "an import that does not validate: {msg}");
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
