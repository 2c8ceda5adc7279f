//! The binary's user-facing contract: bad input gives one located message and exit 2.

use std::path::{Path, PathBuf};
use std::process::Command;

fn volley() -> Command {
    Command::new(env!("CARGO_BIN_EXE_volley"))
}

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// Every file in tests/fixtures/invalid starts with `# expect: <text>`; `volley check`
/// must exit 2 with that text in its single error line, and never panic.
#[test]
fn every_invalid_scenario_gives_its_message_and_exit_2() {
    let files = fixtures("tests/fixtures/invalid");
    assert!(files.len() >= 20, "only {} fixtures", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let src = std::fs::read_to_string(f).unwrap();
        let expected = src
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} has no '# expect:' first line", f.display()));
        let out = volley().arg("check").arg(f).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let ok = out.status.code() == Some(2)
            && stderr.contains(expected)
            && stderr.starts_with("error: ")
            && stderr.trim_end().lines().count() == 1
            && !stderr.contains("panicked")
            && out.stdout.is_empty();
        if !ok {
            failures.push(format!(
                "{}: exit {:?}\n  expected: {expected}\n  got: {stderr}",
                f.display(),
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn missing_file_is_exit_2_with_the_path() {
    let out = volley()
        .args(["run", "no/such/scenario.toml", "--headless"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no/such/scenario.toml: cannot read scenario file"),
        "{stderr}"
    );
}

#[test]
fn bad_command_line_values_are_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["http://127.0.0.1:1/", "-c", "0"],
            "-c: must be at least 1",
        ),
        (
            &["http://127.0.0.1:1/", "-d", "soon"],
            "invalid duration 'soon'",
        ),
        (
            &["http://127.0.0.1:1/", "-m", "FETCH"],
            "unknown HTTP method 'FETCH'",
        ),
        (
            &["http://127.0.0.1:1/", "-H", "NoColon"],
            "expected \"Name: value\"",
        ),
        (&["not a url"], "invalid URL 'not a url'"),
        (
            &["http://127.0.0.1:1/", "--out", "pdf=x.pdf"],
            "unknown kind 'pdf'",
        ),
        (
            &["http://127.0.0.1:1/", "--body", "@/no/such/body"],
            "cannot read '/no/such/body'",
        ),
    ];
    for (args, expected) in cases {
        let out = volley().args(*args).arg("--headless").output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{args:?}: expected {expected:?} in {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// Every shipped scenario validates (and `volley check` prints its plan).
#[test]
fn every_shipped_scenario_checks() {
    let files = fixtures("scenarios");
    for name in [
        "peak-hours.toml",
        "gradual-rampup.toml",
        "chaos.toml",
        "load.toml",
    ] {
        assert!(
            files
                .iter()
                .any(|f| f.file_name().is_some_and(|n| n == name)),
            "scenarios/{name} is missing"
        );
    }
    for f in files {
        let out = volley().arg("check").arg(&f).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("requests"), "{stdout}");
    }
}

/// The embedded demo scenario is the shipped file.
#[test]
fn demo_scenario_is_embedded() {
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/demo.toml"))
            .unwrap();
    assert_eq!(shipped, volley::DEMO_SCENARIO);
    volley::scenario::parse(Path::new("scenarios/demo.toml"), volley::DEMO_SCENARIO).unwrap();
}

/// A header named in `[http] secret_headers` is never printed: not by `volley check`, not
/// in the summary or the result files.
#[test]
fn custom_secret_headers_are_redacted() {
    let dir = std::env::temp_dir().join(format!("volley-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("s.toml");
    std::fs::write(
        &f,
        "name = \"s\"\nbase_url = \"http://127.0.0.1:1\"\n[headers]\nX-Team-Token = \"PLANTED-SECRET-123\"\n[http]\nsecret_headers = [\"X-Team-Token\"]\n[load]\niterations = 2\n[[request]]\npath = \"/\"\n",
    )
    .unwrap();
    let out = volley().arg("check").arg(&f).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("x-team-token: [redacted]"), "{stdout}");
    assert!(!stdout.contains("PLANTED"), "{stdout}");
    let json = dir.join("r.json");
    let html = dir.join("r.html");
    let out = volley()
        .arg("run")
        .arg(&f)
        .args(["--headless", "--out"])
        .arg(format!("json={}", json.display()))
        .arg("--out")
        .arg(format!("html={}", html.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    for text in [
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        std::fs::read_to_string(&json).unwrap(),
        std::fs::read_to_string(&html).unwrap(),
    ] {
        assert!(!text.contains("PLANTED"), "secret leaked");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
