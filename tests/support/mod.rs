//! Support for the integration tests: the volley binary run with a time limit and its
//! memory sampled, signals, a pseudo-terminal ([`pty`]), and local servers: the one
//! well-behaved HTTP server ([`server`]: answers from a route table or a closure, and
//! records what it received), bare TCP servers that misbehave on purpose ([`raw`]), and
//! an HTTPS one ([`tls`]).
//!
//! Every server binds 127.0.0.1 on a free port, runs on threads of its own and stops when
//! dropped. Each counts the requests that reached it (a complete request head was read),
//! so a test can compare what volley reports with what the server saw.
#![allow(dead_code)]

pub mod pty;
pub mod raw;
pub mod server;
pub mod tls;

// Each test binary uses some of these.
#[allow(unused_imports)]
pub use pty::PtyChild;
#[allow(unused_imports)]
pub use raw::{closed_port, dropping_server, Conn, RawServer, Reset, ResetServer, WAIT_CLOSE};
#[allow(unused_imports)]
pub use server::{Reply, Route, Seen, ServerConfig, TestServer, MAX_ARRIVALS};
#[allow(unused_imports)]
pub use tls::{TlsServer, TEST_CERT, TEST_KEY};

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The volley binary under test.
pub fn volley_bin() -> &'static str {
    env!("CARGO_BIN_EXE_volley")
}

/// The run directory (`VOLLEY_RUN_DIR`) of every volley this test binary starts, unless
/// a test gives its own: the runs of `cargo test` stay out of the user's `volley ls`.
pub fn test_runs_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        use std::os::unix::fs::DirBuilderExt;
        let dir = std::env::temp_dir().join(format!("volley-test-runs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .expect("create the tests' run directory");
        dir
    })
}

/// A fresh, empty scratch folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("volley-rel-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch folder");
    dir
}

/// Reads a result document written with `--out json=PATH`.
pub fn read_doc(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: not written: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Writes `toml` to DIR/s.toml and runs it headless with `--out json=DIR/r.json` (60 s at
/// most); requires exit code 0 and returns the run and its result document.
pub fn run_scenario(dir: &Path, toml: &str) -> (Run, serde_json::Value) {
    let file = dir.join("s.toml");
    std::fs::write(&file, toml).expect("write scenario");
    let result = dir.join("r.json");
    let r = run(
        &[
            "run",
            &file.display().to_string(),
            "--headless",
            "--out",
            &format!("json={}", result.display()),
        ],
        Duration::from_secs(60),
    );
    assert_eq!(r.code(), Some(0), "{r:?}");
    let doc = read_doc(&result);
    (r, doc)
}

/// `doc.totals.errors_by_kind` as (kind, count) pairs.
pub fn kinds(doc: &serde_json::Value) -> Vec<(String, u64)> {
    doc["totals"]["errors_by_kind"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default()
}

/// `doc.totals[key]` as a number (0 when absent).
pub fn total(doc: &serde_json::Value, key: &str) -> u64 {
    doc["totals"][key].as_u64().unwrap_or(0)
}

/// How one run of the binary went.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub wall: Duration,
    /// Highest resident set size seen while it ran (VmHWM), in KiB.
    pub peak_rss_kib: u64,
}

impl Run {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// Peak resident set size of a live process, in KiB (0 when it cannot be read).
pub fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// A volley process with its output collected in the background.
pub struct Spawned {
    pub child: Child,
    started: Instant,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
    peak: u64,
}

fn collect(mut from: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    })
}

impl Spawned {
    /// Starts volley with `args` and extra environment variables (stdin closed).
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Spawned {
        Spawned::start_in(Path::new("."), args, envs)
    }

    /// [`Spawned::start`] with `dir` as the working folder.
    pub fn start_in(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Spawned {
        let mut cmd = Command::new(volley_bin());
        cmd.current_dir(dir)
            .args(args)
            .env("VOLLEY_RUN_DIR", test_runs_dir())
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn volley");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            collect(child.stdout.take().unwrap(), stdout.clone()),
            collect(child.stderr.take().unwrap(), stderr.clone()),
        ];
        Spawned {
            child,
            started: Instant::now(),
            stdout,
            stderr,
            readers,
            peak: 0,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (SIGINT, SIGTERM, SIGHUP, ...).
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill({sig}) failed");
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Waits until stderr contains `needle` (or `limit` passes); true if it did.
    pub fn wait_stderr(&mut self, needle: &str, limit: Duration) -> bool {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            self.sample();
            if self.stderr_text().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    fn sample(&mut self) {
        self.peak = self.peak.max(peak_rss_kib(self.child.id()));
    }

    /// Waits for the exit, sampling memory; kills it and panics past `limit`.
    pub fn finish(mut self, limit: Duration) -> Run {
        let status = loop {
            self.sample();
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                break st;
            }
            if self.started.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "volley did not exit within {limit:?}\nstderr:\n{}",
                    self.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let wall = self.started.elapsed();
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let stdout = String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned();
        let stderr = self.stderr_text();
        Run {
            status,
            stdout,
            stderr,
            wall,
            peak_rss_kib: self.peak,
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs volley to its end (at most `limit`).
pub fn run(args: &[&str], limit: Duration) -> Run {
    Spawned::start(args, &[]).finish(limit)
}

/// Runs quick mode headless against `url` with `args`; returns the run and its document.
pub fn quick(dir: &Path, url: &str, args: &[&str], limit: Duration) -> (Run, serde_json::Value) {
    let out = dir.join("out.json");
    let out_arg = format!("json={}", out.display());
    let mut all = vec![url, "--headless", "--out", &out_arg];
    all.extend_from_slice(args);
    let r = run(&all, limit);
    eprintln!("{url}: wall {:?}, peak RSS {} KiB", r.wall, r.peak_rss_kib);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let doc = read_doc(&out);
    assert_exit(&r, &doc);
    (r, doc)
}

/// Exit 0, or 1 with its line when not a single request got a response (an HTTP status
/// of any kind is a response).
pub fn assert_exit(r: &Run, doc: &serde_json::Value) {
    let responses: u64 = doc["totals"]["status"]
        .as_object()
        .map_or(0, |m| m.values().filter_map(|v| v.as_u64()).sum());
    if total(doc, "requests") > 0 && responses == 0 {
        assert_eq!(r.code(), Some(1), "{r:?}");
        assert!(
            r.stderr
                .contains("no request got a response: is the target up?"),
            "{}",
            r.stderr
        );
    } else {
        assert_eq!(r.code(), Some(0), "{r:?}");
    }
}

/// Runs a scenario file headless; returns the run and its document.
pub fn scenario(dir: &Path, text: &str, limit: Duration) -> (Run, serde_json::Value) {
    let file = dir.join("s.toml");
    std::fs::write(&file, text).unwrap();
    let out = dir.join("out.json");
    let r = run(
        &[
            "run",
            file.to_str().unwrap(),
            "--headless",
            "--out",
            &format!("json={}", out.display()),
        ],
        limit,
    );
    eprintln!(
        "scenario: wall {:?}, peak RSS {} KiB",
        r.wall, r.peak_rss_kib
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let doc = read_doc(&out);
    assert_exit(&r, &doc);
    (r, doc)
}

/// Polls `f` every 10 ms until it holds or `limit` passes; true if it held.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}
