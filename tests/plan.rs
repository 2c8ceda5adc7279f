//! `volley plan`: a breakpoint run against the demo target with a known capacity, then the
//! plan made from its result document.

mod support;

use std::time::Duration;

use support::{read_doc, run, scratch};
use volley::demo::{DemoOptions, DemoServer};

#[test]
fn breakpoint_against_a_400_rps_demo_target_finds_the_knee_within_10_percent() {
    let server = DemoServer::spawn(DemoOptions {
        capacity: Some(400.0),
        ..DemoOptions::default()
    })
    .expect("demo target");
    let dir = scratch("plan-knee");
    let result = dir.join("bp.json");
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/breakpoint_short.toml"
    );
    // A 20-second ramp from 100/s to 700/s.
    let r = run(
        &[
            "run",
            scenario,
            "--target",
            &server.url(),
            "--headless",
            "--out",
            &format!("json={}", result.display()),
        ],
        Duration::from_secs(90),
    );
    // The error-rate threshold fails past the limit (exit 99); anything else is a problem.
    assert!(matches!(r.code(), Some(0) | Some(99)), "{r:?}");
    let doc = read_doc(&result);
    // The run must really have offered more than the limit, or there is no knee to find.
    let peak_sent = doc["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|row| row["requests"].as_u64().unwrap_or(0))
        .max()
        .unwrap_or(0);
    assert!(
        peak_sent > 480,
        "the run never went past the limit: peak {peak_sent}/s"
    );
    assert!(server.stats.status_count(503) > 0);

    let r = run(
        &["plan", &result.display().to_string(), "--out", "json=-"],
        Duration::from_secs(30),
    );
    assert_eq!(r.code(), Some(0), "{r:?}");
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).expect("plan JSON");
    let knee = plan["knee"]["rps"].as_f64().expect("knee rps");
    assert!((360.0..=440.0).contains(&knee), "knee {knee} rps: {plan:#}");
    assert_ne!(plan["knee"]["method"], "not_reached", "{plan:#}");

    let r = run(
        &[
            "plan",
            &result.display().to_string(),
            "--peak-users",
            "10000",
            "--requests-per-user-per-minute",
            "10",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(r.code(), Some(0), "{r:?}");
    let knee_line = r.stdout.lines().nth(1).unwrap_or_default();
    assert!(knee_line.starts_with("knee: "), "{}", r.stdout);
    assert!(r.stdout.contains("1,667 rps"), "{}", r.stdout);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plan_refuses_bad_input_with_exit_2() {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/results/current.json"
    );
    let cases: [(&[&str], &str); 6] = [
        (&["plan", "/nonexistent/r.json"], "/nonexistent/r.json"),
        (
            &["plan", fixture, "--peak-users", "100"],
            "--requests-per-user-per-minute",
        ),
        (
            &[
                "plan",
                fixture,
                "--peak-users",
                "100",
                "--requests-per-user-per-minute",
                "5",
                "--peak-rps",
                "9",
            ],
            "not both",
        ),
        (&["plan", fixture, "--instances", "0"], "--instances"),
        (&["plan", fixture, "--buffer", "lots"], "--buffer"),
        (&["plan", fixture, "--out", "html=-"], "unknown kind 'html'"),
    ];
    for (args, expected) in cases {
        let r = run(args, Duration::from_secs(30));
        assert_eq!(r.code(), Some(2), "{args:?}: {r:?}");
        assert!(r.stderr.contains(expected), "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{args:?}: {}", r.stderr);
    }
}
