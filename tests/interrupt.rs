//! Interruptions: `q`, Ctrl-C, a second Ctrl-C, SIGTERM, SIGHUP and a panic in a worker,
//! headless and under the console (in a pseudo-terminal). In every case the terminal is
//! restored, the `--out` files are written (marked partial when cut short), and their
//! counts equal what the server saw.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::{eventually, read_doc, scratch, total, PtyChild, Reply, Spawned, TestServer};

/// A server that answers after `delay`; requests numbered `hang_from` and later hang for
/// a minute instead (until the client gives up or the server is dropped).
fn server(delay: Duration, hang_from: u64) -> TestServer {
    TestServer::answering(move |n, _| {
        if n >= hang_from {
            Reply::ok().delay(Duration::from_secs(60))
        } else {
            Reply::ok().delay(delay)
        }
    })
}

struct Outs {
    json: PathBuf,
    txt: PathBuf,
}

impl Outs {
    fn new(dir: &Path) -> Outs {
        Outs {
            json: dir.join("out.json"),
            txt: dir.join("out.txt"),
        }
    }

    fn args(&self) -> Vec<String> {
        vec![
            "--out".into(),
            format!("json={}", self.json.display()),
            "--out".into(),
            format!("txt={}", self.txt.display()),
        ]
    }

    /// Both outputs exist, are marked as cut short, and count what `server` saw; returns
    /// the document.
    fn check(&self, server: &TestServer) -> serde_json::Value {
        let doc = read_doc(&self.json);
        assert_eq!(doc["partial"], true, "not marked partial");
        // Requests cut off at the end are counted apart from `requests`, as `aborted`.
        let reported = total(&doc, "requests") + total(&doc, "aborted");
        assert!(reported > 0, "no requests");
        // A request volley counts reached the server (it may take the server a moment
        // to read the last ones).
        eventually(Duration::from_secs(10), || server.requests() == reported);
        assert_eq!(
            reported,
            server.requests(),
            "volley reported {reported}, the server saw {}: {}",
            server.requests(),
            doc["totals"]
        );
        let txt = std::fs::read_to_string(&self.txt).expect("txt written");
        assert!(txt.contains("STOPPED EARLY"), "{txt}");
        doc
    }
}

fn event_kinds(doc: &serde_json::Value) -> Vec<String> {
    doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

fn headless(url: &str, outs: &Outs, extra: &[&str], envs: &[(&str, &str)]) -> Spawned {
    let mut args: Vec<String> = vec![url.into(), "-c".into(), "4".into(), "--headless".into()];
    args.extend(outs.args());
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Spawned::start(&args, envs)
}

/// One signal, headless: in-flight requests finish, the results are written, exit 0.
fn graceful_signal(sig: i32, name: &str) {
    let server = server(Duration::from_millis(20), u64::MAX);
    let dir = scratch(&format!("headless-{name}"));
    let outs = Outs::new(&dir);
    let p = headless(&server.url(), &outs, &["-d", "60s"], &[]);
    assert!(
        eventually(Duration::from_secs(10), || server.requests() >= 40),
        "no load"
    );
    let sent = Instant::now();
    p.signal(sig);
    let r = p.finish(Duration::from_secs(15));
    assert_eq!(r.code(), Some(0), "{r:?}");
    assert!(
        sent.elapsed() < Duration::from_secs(8),
        "{:?}",
        sent.elapsed()
    );
    let doc = outs.check(&server);
    // Drained: nothing was cut off.
    assert_eq!(total(&doc, "errors"), 0, "{}", doc["totals"]);
    assert!(event_kinds(&doc).contains(&"stop".to_string()));
    assert!(r.stdout.contains("STOPPED EARLY"), "{}", r.stdout);
}

#[test]
fn sigint_headless_drains_and_writes_partial_results() {
    graceful_signal(libc::SIGINT, "sigint");
}

#[test]
fn sigterm_headless_drains_and_writes_partial_results() {
    graceful_signal(libc::SIGTERM, "sigterm");
}

#[test]
fn sighup_headless_drains_and_writes_partial_results() {
    graceful_signal(libc::SIGHUP, "sighup");
}

#[test]
fn a_second_sigint_headless_quits_at_once_and_counts_what_it_cut_off() {
    // 8 quick answers, then every request hangs: the graceful stop (30 s) would wait.
    let server = server(Duration::from_millis(20), 8);
    let dir = scratch("headless-sigint-twice");
    let outs = Outs::new(&dir);
    let mut p = headless(
        &server.url(),
        &outs,
        &["-d", "60s", "--graceful-stop", "30s"],
        &[],
    );
    assert!(
        eventually(Duration::from_secs(10), || server.requests() >= 12),
        "no load"
    );
    p.signal(libc::SIGINT);
    assert!(p.wait_stderr("stopping", Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    p.signal(libc::SIGINT);
    let r = p.finish(Duration::from_secs(15));
    assert!(
        sent.elapsed() < Duration::from_secs(8),
        "a second Ctrl-C took {:?}",
        sent.elapsed()
    );
    assert_eq!(r.code(), Some(0), "{r:?}");
    let doc = outs.check(&server);
    cut_off_by_the_second_stop(&doc, &outs);
}

/// The 4 hanging requests are counted as aborted by the second stop: not as errors, not
/// in the error rate or the grade, and the summary says why.
fn cut_off_by_the_second_stop(doc: &serde_json::Value, outs: &Outs) {
    let t = &doc["totals"];
    assert_eq!(total(doc, "ok"), 8, "{t}");
    assert_eq!(total(doc, "aborted"), 4, "{t}");
    assert_eq!(total(doc, "errors"), 0, "{t}");
    assert_eq!(t["error_rate"], 0.0, "{t}");
    assert!(t["errors_by_kind"].get("aborted").is_none(), "{t}");
    assert_eq!(doc["aborted_by"], "second_stop");
    assert_eq!(doc["grade"]["letter"], "A", "{}", doc["grade"]);
    let txt = std::fs::read_to_string(&outs.txt).unwrap();
    assert!(
        txt.contains("aborted    4 requests cut off when the run was stopped a second time (not counted as errors)"),
        "{txt}"
    );
    assert!(txt.contains("0 failed (0.00%)"), "{txt}");
    assert!(!txt.contains("graceful stop"), "{txt}");
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "VOLLEY_TEST_PANIC_AFTER is read by debug builds only"
)]
fn a_panicking_worker_headless_ends_the_run_with_partial_results_and_exit_1() {
    let server = server(Duration::from_millis(2), u64::MAX);
    let dir = scratch("headless-panic");
    let outs = Outs::new(&dir);
    let p = headless(
        &server.url(),
        &outs,
        &["-d", "60s"],
        &[("VOLLEY_TEST_PANIC_AFTER", "50")],
    );
    let r = p.finish(Duration::from_secs(20));
    assert_eq!(r.code(), Some(1), "{r:?}");
    assert!(r.stderr.contains("injected panic"), "{}", r.stderr);
    assert!(r.stderr.contains("a VU panicked"), "{}", r.stderr);
    let doc = outs.check(&server);
    assert_eq!(total(&doc, "errors"), 0, "{}", doc["totals"]);
    assert!(event_kinds(&doc).contains(&"abort".to_string()));
    assert!(r.wall < Duration::from_secs(10), "took {:?}", r.wall);
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "VOLLEY_TEST_PANIC_AFTER is read by debug builds only"
)]
fn a_panicking_worker_in_the_open_model_ends_the_run_the_same_way() {
    let server = server(Duration::from_millis(2), u64::MAX);
    let dir = scratch("headless-panic-open");
    let outs = Outs::new(&dir);
    let file = dir.join("open.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"open\"\nbase_url = \"{}\"\n[load]\nrate = \"200/s\"\nduration = \"60s\"\n\
             [[request]]\npath = \"/\"\n",
            server.url()
        ),
    )
    .unwrap();
    let mut args = vec!["run".to_string(), file.display().to_string()];
    args.push("--headless".into());
    args.extend(outs.args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r =
        Spawned::start(&args, &[("VOLLEY_TEST_PANIC_AFTER", "50")]).finish(Duration::from_secs(20));
    assert_eq!(r.code(), Some(1), "{r:?}");
    assert!(r.stderr.contains("injected panic"), "{}", r.stderr);
    let doc = outs.check(&server);
    assert_eq!(total(&doc, "errors"), 0, "{}", doc["totals"]);
    assert!(r.wall < Duration::from_secs(10), "took {:?}", r.wall);
}

// ---------------------------------------------------------------------------------------
// Under the console, in a pseudo-terminal.

const LEAVE_ALT_SCREEN: &str = "\x1b[?1049l";

fn console(url: &str, outs: &Outs, extra: &[&str], envs: &[(&str, &str)]) -> PtyChild {
    let mut args: Vec<String> = vec![url.into(), "-c".into(), "4".into(), "--fps".into()];
    args.push("20".into());
    args.extend(outs.args());
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let vt = PtyChild::spawn(&args, envs, 100, 30);
    assert!(
        vt.wait_for("RUNNING", Duration::from_secs(10)),
        "{}",
        vt.text()
    );
    vt
}

/// The console left the alternate screen and printed the summary after it.
fn restored(vt: &PtyChild) {
    let text = vt.text();
    let left = text
        .rfind(LEAVE_ALT_SCREEN)
        .expect("alternate screen not left");
    assert!(
        text[left..].contains("STOPPED EARLY"),
        "no summary after the console: {:?}",
        &text[left..]
    );
}

#[test]
fn ctrl_c_in_the_console_drains_restores_and_writes() {
    let server = server(Duration::from_millis(20), u64::MAX);
    let dir = scratch("console-ctrl-c");
    let outs = Outs::new(&dir);
    let mut vt = console(&server.url(), &outs, &["-d", "60s"], &[]);
    assert!(eventually(Duration::from_secs(10), || server.requests() >= 40));
    vt.keys("\x03");
    let status = vt
        .wait_exit(Duration::from_secs(10))
        .expect("volley did not exit");
    assert!(status.success(), "{status:?}");
    restored(&vt);
    let doc = outs.check(&server);
    assert_eq!(total(&doc, "errors"), 0, "{}", doc["totals"]);
}

#[test]
fn ctrl_c_twice_in_the_console_quits_at_once_and_counts_what_it_cut_off() {
    let server = server(Duration::from_millis(20), 8);
    let dir = scratch("console-ctrl-c-twice");
    let outs = Outs::new(&dir);
    let mut vt = console(
        &server.url(),
        &outs,
        &["-d", "60s", "--graceful-stop", "30s"],
        &[],
    );
    assert!(eventually(Duration::from_secs(10), || server.requests() >= 12));
    vt.keys("\x03");
    assert!(
        vt.wait_for("STOPPING", Duration::from_secs(5)),
        "{}",
        vt.text()
    );
    let sent = Instant::now();
    vt.keys("\x03");
    let status = vt
        .wait_exit(Duration::from_secs(10))
        .expect("volley did not exit");
    assert!(
        sent.elapsed() < Duration::from_secs(8),
        "a second Ctrl-C took {:?}",
        sent.elapsed()
    );
    assert!(status.success(), "{status:?}");
    restored(&vt);
    let doc = outs.check(&server);
    cut_off_by_the_second_stop(&doc, &outs);
}

fn console_signal(sig: i32, name: &str, extra: &[&str]) {
    let server = server(Duration::from_millis(20), u64::MAX);
    let dir = scratch(&format!("console-{name}"));
    let outs = Outs::new(&dir);
    let mut args = vec!["-d", "60s"];
    args.extend_from_slice(extra);
    let mut vt = console(&server.url(), &outs, &args, &[]);
    assert!(eventually(Duration::from_secs(10), || server.requests() >= 40));
    vt.signal(sig);
    let status = vt
        .wait_exit(Duration::from_secs(10))
        .expect("volley did not exit");
    assert!(status.success(), "{status:?}");
    restored(&vt);
    let doc = outs.check(&server);
    assert_eq!(total(&doc, "errors"), 0, "{}", doc["totals"]);
}

#[test]
fn sigterm_under_the_console_restores_and_writes() {
    console_signal(libc::SIGTERM, "sigterm", &[]);
}

#[test]
fn sighup_under_the_console_with_on_hangup_stop_restores_and_writes() {
    // (By default a hang-up detaches: tests/detach.rs.)
    console_signal(libc::SIGHUP, "sighup", &["--on-hangup", "stop"]);
}

/// The terminal hangs up mid-run (an SSH connection drops, a terminal window closes)
/// under `--on-hangup stop`: the run stops, volley exits, and the results are written
/// with the server's count. (By default a hang-up detaches: tests/detach.rs.)
#[test]
fn a_terminal_that_hangs_up_mid_run_stops_the_run_and_writes() {
    let server = server(Duration::from_millis(20), u64::MAX);
    let dir = scratch("console-hangup-running");
    let outs = Outs::new(&dir);
    let mut vt = console(
        &server.url(),
        &outs,
        &["-d", "60s", "--on-hangup", "stop"],
        &[],
    );
    assert!(eventually(Duration::from_secs(10), || server.requests() >= 40));
    vt.hang_up();
    let status = vt
        .wait_exit(Duration::from_secs(15))
        .expect("volley did not exit after its terminal hung up");
    assert!(status.success(), "{status:?}");
    let doc = outs.check(&server);
    assert_eq!(total(&doc, "errors"), 0, "{}", doc["totals"]);
}

/// The same on the DONE screen, where the console waits for q: it must not wait (or
/// spin) forever for a key from a terminal that is gone. (A run that is over does not
/// detach: it writes its results and exits, whatever `--on-hangup` says.)
#[test]
fn a_terminal_that_hangs_up_on_the_done_screen_gets_its_results() {
    let server = server(Duration::from_millis(5), u64::MAX);
    let dir = scratch("console-hangup-done");
    let outs = Outs::new(&dir);
    let mut vt = console(&server.url(), &outs, &["-d", "1s"], &[]);
    assert!(
        vt.wait_screen("DONE", Duration::from_secs(20)),
        "{}",
        vt.screen()
    );
    vt.hang_up();
    let status = vt
        .wait_exit(Duration::from_secs(15))
        .expect("volley did not exit after its terminal hung up");
    assert!(status.success(), "{status:?}");
    let doc = read_doc(&outs.json);
    assert_eq!(doc["partial"], false, "the run had finished");
    let reported = total(&doc, "requests");
    assert!(reported > 0);
    assert_eq!(reported, server.requests(), "{}", doc["totals"]);
    assert!(outs.txt.exists(), "txt not written");
}

#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "VOLLEY_TEST_PANIC_AFTER is read by debug builds only"
)]
fn a_panicking_worker_under_the_console_restores_the_terminal_and_writes() {
    let server = server(Duration::from_millis(5), u64::MAX);
    let dir = scratch("console-panic");
    let outs = Outs::new(&dir);
    let mut vt = console(
        &server.url(),
        &outs,
        &["-d", "60s"],
        &[("VOLLEY_TEST_PANIC_AFTER", "200")],
    );
    let status = vt
        .wait_exit(Duration::from_secs(15))
        .expect("volley did not exit after the panic");
    assert_eq!(status.code(), Some(1), "{}", vt.text());
    restored(&vt);
    let text = vt.text();
    assert!(text.contains("injected panic"), "{text}");
    let doc = outs.check(&server);
    assert_eq!(total(&doc, "errors"), 0, "{}", doc["totals"]);
}

/// A Ctrl-C as soon as the run says where its demo target and exporter are (before its
/// engine has started: held there for 300 ms) stops the run gracefully, with its
/// results: the signals are listened for from before anything was printed, so it
/// neither kills the process nor is lost.
#[test]
#[cfg_attr(
    not(debug_assertions),
    ignore = "VOLLEY_TEST_START_DELAY_MS is read by debug builds only"
)]
fn sigint_while_the_run_comes_up_stops_it_with_results() {
    let dir = scratch("headless-sigint-early");
    let json = dir.join("out.json");
    let out = format!("json={}", json.display());
    let mut p = Spawned::start(
        &[
            "demo",
            "--headless",
            "--duration",
            "60s",
            "--prometheus",
            "0",
            "--out",
            &out,
        ],
        &[("VOLLEY_TEST_START_DELAY_MS", "300")],
    );
    assert!(
        p.wait_stderr("demo target on", Duration::from_secs(10)),
        "{}",
        p.stderr_text()
    );
    p.signal(libc::SIGINT);
    let r = p.finish(Duration::from_secs(15));
    assert_eq!(r.code(), Some(0), "{r:?}");
    let doc = read_doc(&json);
    assert_eq!(doc["partial"], true);
    assert!(event_kinds(&doc).contains(&"stop".to_string()), "{doc}");
}
