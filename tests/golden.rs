//! Golden files: `volley report` of a saved result document, rendered to every output kind,
//! must stay byte-for-byte what is checked in under `tests/golden/`. Structural changes
//! (moved modules, shared helpers) must not change a single byte of any report.
//!
//! The saved document is fixed, so every output is deterministic (no clock, no host).
//! After a change that is meant to alter a report, regenerate and review the diff:
//! `UPDATE_GOLDEN=1 cargo test --test golden`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture's path relative to the repository root, where `volley report` runs: reports
/// quote the baseline's path, so an absolute one would tie the golden files to a checkout.
fn fixture(name: &str) -> String {
    format!("tests/fixtures/results/{name}")
}

/// Runs `volley report ARGS` and returns its standard output (exit code 0 required).
fn report(args: &[String]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_volley"))
        .current_dir(root())
        .arg("report")
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "volley report {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Compares `got` with `tests/golden/NAME`, or writes it there under `UPDATE_GOLDEN=1`.
/// Returns a description of the mismatch, if any, so every file is checked in one run.
fn check(name: &str, got: &[u8]) -> Option<String> {
    let path: PathBuf = root().join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, got).unwrap();
        return None;
    }
    let want = match std::fs::read(&path) {
        Ok(want) => want,
        Err(e) => {
            return Some(format!(
                "{}: {e} (UPDATE_GOLDEN=1 writes it)",
                path.display()
            ))
        }
    };
    if want == got {
        return None;
    }
    let line = want
        .split(|&b| b == b'\n')
        .zip(got.split(|&b| b == b'\n'))
        .position(|(a, b)| a != b)
        .map_or_else(|| "the end".to_string(), |i| format!("line {}", i + 1));
    Some(format!(
        "{name}: differs from {} at {line} ({} bytes checked in, {} rendered)",
        path.display(),
        want.len(),
        got.len()
    ))
}

const KINDS: [&str; 7] = ["json", "csv", "html", "hdr", "junit", "md", "txt"];
/// The kinds that embed a `--baseline` comparison.
const WITH_COMPARISON: [&str; 2] = ["html", "md"];

#[test]
fn every_report_of_a_saved_document_matches_its_golden_file() {
    let current = fixture("current.json");
    let baseline = fixture("baseline.json");
    let mut failures = Vec::new();
    // No --out: the text summary on standard output, the same bytes as `--out txt=-`.
    failures.extend(check(
        "current.txt",
        &report(std::slice::from_ref(&current)),
    ));
    for kind in KINDS {
        let out = format!("{kind}=-");
        let plain = report(&[current.clone(), "--out".into(), out.clone()]);
        failures.extend(check(&format!("current.{kind}"), &plain));
        // With a baseline, the comparison is embedded in the kinds that have one (the
        // others were checked to render the same bytes with and without it).
        if !WITH_COMPARISON.contains(&kind) {
            continue;
        }
        let compared = report(&[
            current.clone(),
            "--baseline".into(),
            baseline.clone(),
            "--out".into(),
            out,
        ]);
        failures.extend(check(&format!("current-vs-baseline.{kind}"), &compared));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The HTML report's variants that the demo run above does not reach: a run stopped early
/// with requests cut off, retries, dropped iterations, an unknown open count, overrides,
/// a grade with its parts, passing and failing thresholds and checks, a clipped
/// throughput peak, every event kind (and an unknown one), open pause and spike bands,
/// text that needs escaping, endpoints only on one side of a comparison; and a document
/// with one endpoint, no timeline, no responses, no events and no scenario text.
#[test]
fn html_variants_match_their_golden_files() {
    let variants = fixture("variants.json");
    let cases = [
        ("variants.html", vec![variants.clone()]),
        (
            "variants-vs-baseline.html",
            vec![variants, "--baseline".into(), fixture("baseline.json")],
        ),
        ("single.html", vec![fixture("single.json")]),
    ];
    let mut failures = Vec::new();
    for (name, mut args) in cases {
        args.extend(["--out".into(), "html=-".into()]);
        failures.extend(check(name, &report(&args)));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
