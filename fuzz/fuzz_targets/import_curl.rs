//! `volley import curl -f FILE`: any text gives a scenario that validates, or one error;
//! never a panic. The only input whose scenario may fail validation is one that carries
//! `{{`, which the scenario reads as a template.
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
                assert!(text.contains("{{"), "an import that does not validate: {e}");
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
