//! End to end: the binary in a pseudo-terminal, steered by keys, checked against what the
//! server saw.

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use volley::demo::{DemoOptions, DemoServer};

/// A child process on a pty; everything it prints is collected.
struct PtyChild {
    child: Child,
    master: std::fs::File,
    output: Arc<Mutex<Vec<u8>>>,
}

impl PtyChild {
    fn spawn(args: &[&str], cols: u16, rows: u16) -> PtyChild {
        let mut master_fd = 0;
        let mut slave_fd = 0;
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: openpty fills two descriptors we then own.
        let rc = unsafe {
            libc::openpty(
                &mut master_fd,
                &mut slave_fd,
                std::ptr::null_mut(),
                std::ptr::null(),
                &ws,
            )
        };
        assert_eq!(rc, 0, "openpty failed");
        // SAFETY: fresh descriptors from openpty.
        let slave = unsafe { OwnedFd::from_raw_fd(slave_fd) };
        let master = unsafe { std::fs::File::from_raw_fd(master_fd) };
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_volley"));
        cmd.args(args)
            .env("TERM", "xterm-256color")
            .env_remove("NO_COLOR")
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn volley");
        let output = Arc::new(Mutex::new(Vec::new()));
        let out = output.clone();
        let mut reader = master.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                out.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        PtyChild {
            child,
            master,
            output,
        }
    }

    fn keys(&mut self, s: &str) {
        self.master.write_all(s.as_bytes()).unwrap();
        self.master.flush().unwrap();
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(st) = self.child.try_wait().unwrap() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for PtyChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `f` holds (polling), up to `limit`.
fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// The most requests in flight at the server over `window`, sampled often.
fn max_in_flight(server: &DemoServer, window: Duration) -> u64 {
    let start = Instant::now();
    let mut max = 0;
    while start.elapsed() < window {
        max = max.max(server.stats.in_flight());
        std::thread::sleep(Duration::from_millis(5));
    }
    max
}

#[test]
fn keys_steer_a_live_run_and_results_match_the_server() {
    let server = DemoServer::spawn(DemoOptions {
        search_latency: Duration::from_millis(100),
        ..DemoOptions::default()
    })
    .unwrap();
    let dir = std::env::temp_dir().join(format!("volley-pty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("search.toml");
    std::fs::write(
        &scenario,
        format!(
            "name = \"pty\"\nbase_url = \"{}\"\n[load]\nvus = 4\nduration = \"60s\"\n\
             [[request]]\nname = \"search\"\npath = \"/api/search?q=x\"\n",
            server.url()
        ),
    )
    .unwrap();
    let json = dir.join("out.json");
    let mut vt = PtyChild::spawn(
        &[
            "run",
            scenario.to_str().unwrap(),
            "--out",
            &format!("json={}", json.display()),
            "--fps",
            "20",
        ],
        80,
        24,
    );

    // The console is up and load flows at 4 VUs.
    assert!(
        eventually(Duration::from_secs(10), || vt.text().contains("RUNNING")),
        "{}",
        vt.text()
    );
    assert!(eventually(Duration::from_secs(5), || server
        .stats
        .in_flight()
        == 4));
    assert!(max_in_flight(&server, Duration::from_millis(500)) <= 4);

    // Pause: nothing new reaches the server until resume.
    vt.keys("p");
    assert!(eventually(Duration::from_secs(2), || vt
        .text()
        .contains("PAUSED")));
    assert!(eventually(Duration::from_secs(2), || server
        .stats
        .in_flight()
        == 0));
    let before = server.stats.total();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        server.stats.total(),
        before,
        "requests arrived while paused"
    );
    vt.keys("p");
    assert!(eventually(Duration::from_secs(2), || server.stats.total() > before));

    // Type an exact VU count: concurrency follows it.
    vt.keys("v\x152\r");
    // Retired VUs finish their in-flight request (search is long-tailed, capped at 1 s).
    // Wait out that tail first: before the command lands, gaps between requests can
    // briefly show <= 2 in flight at 4 VUs.
    std::thread::sleep(Duration::from_millis(1300));
    assert!(eventually(Duration::from_secs(3), || server
        .stats
        .in_flight()
        <= 2));
    let m = max_in_flight(&server, Duration::from_millis(800));
    assert!(
        (1..=2).contains(&m),
        "max in flight {m} after setting 2 VUs"
    );

    // Spike x3 for 1s: concurrency rises to 6, then returns to 2 by itself.
    vt.keys("S\x15x3 1s\r");
    assert!(
        eventually(Duration::from_secs(2), || server.stats.in_flight() >= 5),
        "the spike did not raise concurrency"
    );
    // The spike ends 1 s after it began; its VUs then finish their last request (<= 1 s).
    std::thread::sleep(Duration::from_millis(2300));
    assert!(
        eventually(Duration::from_secs(3), || server.stats.in_flight() <= 2),
        "concurrency did not return after the spike"
    );
    let m = max_in_flight(&server, Duration::from_millis(600));
    assert!(m <= 2, "max in flight {m} after the spike ended");

    // Quit: drain, restore the terminal, print the summary, write the JSON.
    vt.keys("q");
    let status = vt
        .wait_exit(Duration::from_secs(10))
        .expect("volley did not exit");
    assert!(status.success(), "{status:?}\n{}", vt.text());
    std::thread::sleep(Duration::from_millis(200));
    let text = vt.text();
    assert!(text.contains("\x1b[?1049l"), "alternate screen not left");
    assert!(text.contains("requests "), "no summary: {text}");

    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let reported = doc["totals"]["requests"].as_u64().unwrap();
    assert_eq!(reported, server.stats.route_count("search"));
    assert_eq!(reported, server.stats.total());
    assert_eq!(doc["totals"]["errors"].as_u64(), Some(0));
    let kinds: Vec<&str> = doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for k in ["pause", "resume", "set_vus", "spike", "spike_end", "stop"] {
        assert!(kinds.contains(&k), "event {k} missing from {kinds:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn terminal_too_small_then_quit_restores() {
    let server = DemoServer::spawn(DemoOptions::default()).unwrap();
    let url = format!("{}/health", server.url());
    let mut vt = PtyChild::spawn(&[&url, "-c", "2", "-d", "30s"], 60, 20);
    assert!(
        eventually(Duration::from_secs(10), || vt
            .text()
            .contains("terminal too small")),
        "{}",
        vt.text()
    );
    vt.keys("q");
    let status = vt
        .wait_exit(Duration::from_secs(10))
        .expect("volley did not exit");
    assert!(status.success());
    assert!(vt.text().contains("\x1b[?1049l"));
    assert!(vt.text().contains("STOPPED EARLY"));
}
