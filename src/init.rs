//! `volley init --url URL --type load`: a starter scenario from the library's templates.
//!
//! The template's load shape, thresholds and comments are kept (edited with `toml_edit`,
//! which keeps comments); its demo requests are replaced by one request to the URL given.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use toml_edit::{DocumentMut, Item, Value};

use crate::scenario;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TestType {
    Smoke,
    Load,
    Stress,
    Spike,
    Soak,
    Breakpoint,
}

impl TestType {
    fn name(self) -> &'static str {
        match self {
            TestType::Smoke => "smoke",
            TestType::Load => "load",
            TestType::Stress => "stress",
            TestType::Spike => "spike",
            TestType::Soak => "soak",
            TestType::Breakpoint => "breakpoint",
        }
    }

    /// What the test is for, as the file's first comment.
    fn about(self) -> &'static str {
        match self {
            TestType::Smoke => "Smoke: a few VUs for a short time; does every endpoint answer correctly?",
            TestType::Load => "Load: ramp up to the expected plateau, hold it, ramp down.",
            TestType::Stress => "Stress: step the load up past the expected peak and watch where it bends.",
            TestType::Spike => "Spike: from 1 VU to 200 in ten seconds, hold briefly, and back to 1. Does it recover?",
            TestType::Soak => "Soak: a long plateau; watch server memory and latency drift over time.",
            TestType::Breakpoint => "Breakpoint: the arrival rate ramps up until the thresholds fail, then the run aborts.",
        }
    }

    /// The library file this type starts from.
    fn template(self) -> &'static str {
        match self {
            TestType::Smoke => include_str!("../scenarios/smoke.toml"),
            TestType::Load => include_str!("../scenarios/load.toml"),
            TestType::Stress => include_str!("../scenarios/stress.toml"),
            TestType::Spike => include_str!("../scenarios/spike.toml"),
            TestType::Soak => include_str!("../scenarios/soak.toml"),
            TestType::Breakpoint => include_str!("../scenarios/breakpoint.toml"),
        }
    }
}

/// `volley init`
#[derive(Debug, Args, Clone)]
pub struct InitArgs {
    /// The URL to test (its path becomes the first request). Asked for when missing and
    /// stdin is a terminal.
    #[arg(long = "url")]
    pub url: Option<String>,
    /// The kind of test: its load shape and thresholds come from scenarios/TYPE.toml.
    #[arg(long = "type", value_enum)]
    pub kind: Option<TestType>,
    /// Write the scenario to this file instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// The scenario text for a URL and a test type, validated.
pub fn scenario_for(url: &str, kind: TestType) -> Result<String, String> {
    let parsed = scenario::parse_base_url(url).map_err(|m| format!("--url: {m}"))?;
    let base = parsed.origin().ascii_serialization();
    let mut path = parsed.path().to_string();
    if let Some(q) = parsed.query() {
        path = format!("{path}?{q}");
    }
    let mut doc: DocumentMut = kind
        .template()
        .parse()
        .map_err(|e| format!("template {}: {e}", kind.name()))?;
    let host = parsed.host_str().unwrap_or("the target");
    let name = format!("{} test of {host}", kind.name());
    let request = "the url";
    set_value(&mut doc, "name", Value::from(name.as_str()));
    set_value(&mut doc, "base_url", Value::from(base.as_str()));
    for k in ["request", "user", "data"] {
        doc.remove(k);
    }
    // Whole-run thresholds stay; those tied to a demo request now watch the URL's request.
    if let Some(tables) = doc
        .get_mut("threshold")
        .and_then(Item::as_array_of_tables_mut)
    {
        for t in tables.iter_mut() {
            if t.contains_key("endpoint") {
                t["endpoint"] = toml_edit::value(request);
            }
        }
    }
    // The template's own opening comment describes its demo requests: say what the test is.
    if let Some(mut k) = doc.key_mut("name") {
        k.leaf_decor_mut().set_prefix(format!(
            "# {}\n# Written by `volley init --type {}` from the library's scenarios/{}.toml.\n\
             # Run it: volley run FILE (or --headless in CI); validate it: volley check FILE.\n",
            kind.about(),
            kind.name(),
            kind.name()
        ));
    }
    let mut text = doc.to_string();
    let mut req = toml_edit::Table::new();
    req.insert("name", toml_edit::value(request));
    req.insert("path", toml_edit::value(path.as_str()));
    text.push_str(&format!(
        "\n# The URL you gave. Add your other requests as [[request]] tables with weights,\n\
         # captures and checks (docs/scenario.md); [[user]] tables for user types.\n\
         [[request]]\n{req}check = [{{ status = 200 }}]\n"
    ));
    scenario::validate_generated(std::path::Path::new("<volley init>"), &text)
        .map_err(|e| e.to_string())?;
    Ok(text)
}

fn set_value(doc: &mut DocumentMut, key: &str, v: Value) {
    // Keep the comments in front of the key.
    match doc.get_mut(key).and_then(Item::as_value_mut) {
        Some(old) => {
            let decor = old.decor().clone();
            *old = v;
            *old.decor_mut() = decor;
        }
        None => {
            doc.insert(key, Item::Value(v));
        }
    }
}

/// Asks on the terminal; `None` when stdin is not one.
fn ask(prompt: &str) -> Option<String> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok()?;
    Some(line.trim().to_string())
}

/// Fills in what the flags left out (asking when stdin is a terminal) and writes the file.
pub fn run(args: &InitArgs) -> Result<(String, Option<PathBuf>), String> {
    let url = match &args.url {
        Some(u) => u.clone(),
        None => ask("URL to test (e.g. https://api.example.com/health): ")
            .filter(|u| !u.is_empty())
            .ok_or("give --url URL (and --type smoke|load|stress|spike|soak|breakpoint)")?,
    };
    let kind = match args.kind {
        Some(k) => k,
        None => match ask("Type of test [smoke, load, stress, spike, soak, breakpoint] (load): ") {
            None => TestType::Load,
            Some(t) if t.is_empty() => TestType::Load,
            Some(t) => TestType::from_str(&t, true).map_err(|_| {
                format!("unknown test type '{t}' (smoke, load, stress, spike, soak, breakpoint)")
            })?,
        },
    };
    Ok((scenario_for(&url, kind)?, args.output.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_gives_a_valid_scenario_for_the_url() {
        for kind in TestType::value_variants() {
            let t = scenario_for("https://api.example.com/v1/health?deep=1", *kind).unwrap();
            assert!(t.contains("base_url = \"https://api.example.com\""), "{t}");
            assert!(t.contains("path = \"/v1/health?deep=1\""), "{t}");
            assert!(!t.contains("/api/items"), "{t}");
            assert!(t.contains(&format!(
                "name = \"{} test of api.example.com\"",
                kind.name()
            )));
        }
        let b = scenario_for("http://127.0.0.1:9/", TestType::Breakpoint).unwrap();
        assert!(b.contains("abort_on_fail = true"), "{b}");
    }

    #[test]
    fn a_bad_url_is_refused() {
        let e = scenario_for("ftp://x/", TestType::Smoke).unwrap_err();
        assert!(e.contains("--url") && e.contains("scheme 'ftp'"), "{e}");
    }
}
