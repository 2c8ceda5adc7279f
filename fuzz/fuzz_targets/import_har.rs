//! `volley import har FILE`: any bytes (read as a stream) give a scenario that validates,
//! or one error; never a panic. As for curl, only `{{` in the input may make the
//! written scenario fail validation.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = volley::import::har::HarOptions::default();
    match volley::import::har::from_reader(Path::new("fuzz.har"), data, &opts) {
        Ok(draft) => {
            if let Err(e) = volley::import::finish(&draft) {
                let text = String::from_utf8_lossy(data);
                assert!(text.contains("{{"), "an import that does not validate: {e}");
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
