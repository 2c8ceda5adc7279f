//! `volley import curl -f FILE`: any text gives a scenario that validates, or one error;
//! never a panic, never a written scenario that `volley check` would refuse.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match volley::import::curl::from_lines(Path::new("fuzz.txt"), text) {
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
