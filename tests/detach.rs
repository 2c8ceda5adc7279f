//! Runs that outlive their terminal: `d` in the console, `--detach`, a hang-up and a
//! SIGHUP leave the run going on in a background run host, give the shell its prompt
//! back, and the run still ends by its plan with its results written, counting what the
//! server saw. (`--on-hangup stop` keeps the old behaviour: tests/interrupt.rs.)

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::{eventually, read_doc, scratch, total, PtyChild, Reply, Spawned, TestServer};

fn server() -> TestServer {
    TestServer::answering(|_, _| Reply::ok().delay(Duration::from_millis(10)))
}

/// The volley processes whose command line holds `marker` (a test's own output path),
/// alive and not zombies.
fn pids_with(marker: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        if !zombie && String::from_utf8_lossy(&cmdline).contains(marker) {
            out.push(pid);
        }
    }
    out
}

/// Kills what is left of a test's runs when the test ends, however it ends.
struct Reap(String);

impl Drop for Reap {
    fn drop(&mut self) {
        for pid in pids_with(&self.0) {
            // SAFETY: kill(2) on a process this test started.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        }
    }
}

struct Case {
    server: TestServer,
    url: String,
    json: PathBuf,
    _reap: Reap,
}

impl Case {
    fn new(name: &str) -> Case {
        let dir = scratch(name);
        let json = dir.join("out.json");
        let server = server();
        Case {
            url: server.url(),
            server,
            _reap: Reap(json.display().to_string()),
            json,
        }
    }

    fn args<'a>(&'a self, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec![self.url.as_str(), "-c", "2", "--out", out];
        args.extend_from_slice(extra);
        args
    }

    fn out(&self) -> String {
        format!("json={}", self.json.display())
    }

    /// The run goes on after the foreground process left: the server keeps getting
    /// requests, and exactly one run host is there.
    fn goes_on(&self) {
        let at_exit = self.server.requests();
        assert!(
            eventually(Duration::from_secs(5), || self.server.requests()
                > at_exit + 5),
            "the run did not go on in the background"
        );
        assert_eq!(pids_with(&self.json.display().to_string()).len(), 1);
    }

    /// The run ends by its plan: the run host exits and its results count what the server
    /// saw.
    fn ends_and_writes(&self) -> serde_json::Value {
        let marker = self.json.display().to_string();
        assert!(
            eventually(Duration::from_secs(30), || pids_with(&marker).is_empty()),
            "the run host did not end"
        );
        let doc = read_doc(&self.json);
        assert_eq!(doc["partial"], false, "a detached run ends by its plan");
        let reported = total(&doc, "requests");
        assert!(reported > 0);
        // The server may not have counted the last requests yet (returns as soon as it
        // has).
        eventually(Duration::from_secs(10), || {
            self.server.requests() == reported
        });
        assert_eq!(reported, self.server.requests(), "{}", doc["totals"]);
        doc
    }
}

/// A run of 8 s: long enough that it is still going when the test has seen it start,
/// detached it and looks for it in the background, on a loaded machine too.
fn console(case: &Case, out: &str, extra: &[&str]) -> PtyChild {
    let mut args = case.args(out, &["-d", "8s", "--fps", "20"]);
    args.extend_from_slice(extra);
    let vt = PtyChild::spawn(&args, &[], 80, 24);
    assert!(
        vt.wait_screen("RUNNING", Duration::from_secs(10)),
        "{}",
        vt.screen()
    );
    assert!(eventually(Duration::from_secs(5), || case
        .server
        .requests()
        >= 10));
    vt
}

/// The shell gets its prompt back: the foreground process exits 0 soon, having restored
/// the terminal and said where the run went.
fn prompt_back(vt: &mut PtyChild) {
    let status = vt
        .wait_exit(Duration::from_secs(5))
        .expect("the foreground process did not exit: no prompt");
    assert!(status.success(), "{status:?}");
}

fn said_where(text: &str) {
    let left = text
        .rfind("\x1b[?1049l")
        .expect("alternate screen not left");
    assert!(
        text[left..].contains("goes on in the background"),
        "{:?}",
        &text[left..]
    );
}

#[test]
fn d_detaches_and_the_run_goes_on_to_its_end() {
    let case = Case::new("detach-d");
    let out = case.out();
    let mut vt = console(&case, &out, &[]);
    vt.keys("d");
    prompt_back(&mut vt);
    said_where(&vt.text());
    case.goes_on();
    let doc = case.ends_and_writes();
    assert!(doc["totals"]["requests"].as_u64().unwrap() > 10);
}

#[test]
fn a_terminal_hang_up_detaches_by_default() {
    let case = Case::new("detach-hangup");
    let out = case.out();
    let mut vt = console(&case, &out, &[]);
    vt.hang_up();
    prompt_back(&mut vt);
    case.goes_on();
    case.ends_and_writes();
}

#[test]
fn sighup_under_the_console_detaches_by_default() {
    let case = Case::new("detach-sighup");
    let out = case.out();
    let mut vt = console(&case, &out, &[]);
    vt.signal(libc::SIGHUP);
    prompt_back(&mut vt);
    said_where(&vt.text());
    case.goes_on();
    case.ends_and_writes();
}

#[test]
fn detach_flag_starts_in_the_background() {
    let case = Case::new("detach-flag");
    let out = case.out();
    // 8 s: still going when the foreground process has left and the test looks for it.
    let args = case.args(&out, &["-d", "8s", "--detach"]);
    let run = Spawned::start(&args, &[]).finish(Duration::from_secs(10));
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("goes on in the background"),
        "{}",
        run.stderr
    );
    case.goes_on();
    case.ends_and_writes();
    // Its progress and summary went to the log the notice named.
    let log = log_named(&run.stderr);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("requests "), "{text}");
}

/// The log file a detach notice names.
fn log_named(notice: &str) -> PathBuf {
    let path = notice
        .split("log: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no log in {notice:?}"));
    Path::new(path).to_path_buf()
}
