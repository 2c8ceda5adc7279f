//! The template engine: compiling any text gives a template or an error at an offset
//! inside the text; rendering never panics; a static template renders to its static text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use volley::scenario::template::{Names, Template, Values};

/// Names known while compiling: two captured variables, one data set, two env values.
struct Known;

impl Names for Known {
    fn var(&self, name: &str) -> Option<usize> {
        ["token", "id"].iter().position(|v| *v == name)
    }
    fn data(&self, dataset: &str, column: &str) -> Option<Result<(usize, usize), String>> {
        (dataset == "users").then(|| {
            ["name", "pw"]
                .iter()
                .position(|c| *c == column)
                .map(|c| (0, c))
                .ok_or_else(|| format!("no column '{column}'"))
        })
    }
    fn env(&self, name: &str) -> Option<String> {
        match name {
            "HOME_T" => Some("/home/t".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }
}

struct Vu {
    rng: fastrand::Rng,
    vars: [Option<String>; 2],
}

impl Values for Vu {
    fn var(&self, idx: usize) -> Option<&str> {
        self.vars.get(idx)?.as_deref()
    }
    fn data(&self, _dataset: usize, column: usize) -> Option<&str> {
        ["ann", "pw1"].get(column).copied()
    }
    fn vu(&self) -> u64 {
        u64::MAX
    }
    fn iteration(&self) -> u64 {
        0
    }
    fn rng(&mut self) -> &mut fastrand::Rng {
        &mut self.rng
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let t = match Template::compile(text, &Known) {
        Ok(t) => t,
        Err((at, msg)) => {
            assert!(
                at <= text.len(),
                "offset {at} past the end of {text:?}: {msg}"
            );
            return;
        }
    };
    let mut vu = Vu {
        rng: fastrand::Rng::with_seed(7),
        vars: [Some("tok".into()), Some("42".into())],
    };
    let mut out = String::new();
    t.render(&mut vu, &mut out)
        .expect("every variable is set: rendering succeeds");
    if t.is_static() {
        assert_eq!(out, t.static_text(), "{text:?}");
    }
    // With the variables unset, rendering fails exactly when the template uses one.
    vu.vars = [None, None];
    let mut out = String::new();
    assert_eq!(
        t.render(&mut vu, &mut out).is_err(),
        t.vars().next().is_some(),
        "{text:?}"
    );
});
