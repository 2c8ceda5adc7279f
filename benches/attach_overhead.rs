//! What attached remote consoles cost a run: the rps of the same 20-endpoint scenario run
//! with no console attached and with 2, alternating (none, 2, none, 2) in one bench run,
//! and the bytes per second each attached console receives (the updates' protobuf size, and
//! the bytes on the socket: gzip-compressed, through a counting proxy).
//! `cargo bench --bench attach_overhead` prints a table (docs/control.md).
//!
//! Each run is the real binary (a run host serving its control API on a Unix socket in a
//! scratch run directory), headless, against the demo target on 127.0.0.1. An attached
//! console here is what `volley attach` does per update, minus the terminal: the Watch
//! stream read and decoded into a snapshot, and the whole console drawn from it into an
//! 80x24 buffer at 8 frames per second.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use volley::control::{client, proto, wire, PROTOCOL_VERSION};
use volley::demo::{DemoOptions, DemoServer};

const SECS: u64 = 10;
const ENDPOINTS: usize = 20;

fn scenario(dir: &Path, url: &str) -> PathBuf {
    let mut toml = format!(
        "name = \"overhead\"\nbase_url = \"{url}\"\n[load]\nvus = 8\nduration = \"{SECS}s\"\n"
    );
    for i in 0..ENDPOINTS {
        toml.push_str(&format!(
            "[[request]]\nname = \"items {i}\"\npath = \"/api/items/{}\"\n",
            i + 1
        ));
    }
    let path = dir.join("overhead.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

/// A Unix socket at `at` that forwards to `to`, adding what comes back to `count`.
fn proxy(to: &Path, at: &Path, count: Arc<AtomicU64>) -> PathBuf {
    use std::io::{Read, Write};
    use std::os::unix::net::{UnixListener, UnixStream};
    let listener = UnixListener::bind(at).unwrap();
    let to = to.to_path_buf();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let server = UnixStream::connect(&to).unwrap();
            let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_in, &mut s_out);
            });
            let (mut s_in, mut c_out) = (server, client);
            let count = count.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 16384];
                while let Ok(n) = s_in.read(&mut buf) {
                    if n == 0 || c_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    count.fetch_add(n as u64, Ordering::Relaxed);
                }
            });
        }
    });
    at.to_path_buf()
}

/// One run with `consoles` attached; (rps, update bytes per console per second, bytes
/// on the wire per console per second).
fn run(dir: &Path, file: &Path, consoles: usize, n: usize) -> (f64, f64, f64) {
    let runs = dir.join(format!("runs-{n}"));
    let out = dir.join(format!("out-{n}.json"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_volley"))
        .args([
            "run",
            file.to_str().unwrap(),
            "--headless",
            "--progress",
            "60s",
        ])
        .arg("--out")
        .arg(format!("json={}", out.display()))
        .env("VOLLEY_RUN_DIR", &runs)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let bytes = Arc::new(AtomicU64::new(0));
    let wire = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut watchers = Vec::new();
    if consoles > 0 {
        // The run's socket, once it is there.
        let sock = loop {
            let found = std::fs::read_dir(&runs).ok().and_then(|d| {
                d.flatten()
                    .map(|e| e.path().join("control.sock"))
                    .find(|p| p.exists())
            });
            if let Some(s) = found {
                break s;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        for k in 0..consoles {
            // Each console through a proxy that counts the bytes the run sends it (what
            // goes over an SSH forward: gzip-compressed frames, HTTP/2 included).
            let via = proxy(&sock, &runs.join(format!("proxy-{k}.sock")), wire.clone());
            let (bytes, stop) = (bytes.clone(), stop.clone());
            watchers.push(std::thread::spawn(move || console(via, bytes, stop)));
        }
    }
    let started = Instant::now();
    let _ = child.wait();
    stop.store(true, Ordering::Relaxed);
    let took = started.elapsed().as_secs_f64();
    for w in watchers {
        let _ = w.join();
    }
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let rps = doc["totals"]["rps"].as_f64().unwrap();
    let per = |b: &AtomicU64| match consoles {
        0 => 0.0,
        c => b.load(Ordering::Relaxed) as f64 / c as f64 / took,
    };
    (rps, per(&bytes), per(&wire))
}

/// An attached console without a terminal: the stream decoded, the screen drawn.
fn console(sock: PathBuf, bytes: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut c = client::connect(&client::Target::Unix(sock)).await.unwrap();
        let mut stream = c
            .watch(proto::WatchRequest {
                version: PROTOCOL_VERSION,
                client: "bench".into(),
                // As volley attach asks: timelines as deltas.
                deltas: true,
                every_ms: volley::attach::ATTACH_EVERY_MS,
            })
            .await
            .unwrap()
            .into_inner();
        let mut app: Option<volley::ui::App> = None;
        let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(80, 24)).unwrap();
        let mut last_draw = Instant::now();
        let mut decoder = wire::Decoder::default();
        while let Ok(Some(u)) = stream.message().await {
            bytes.fetch_add(u.encoded_len() as u64, Ordering::Relaxed);
            if let Some(path) = std::env::var_os("VOLLEY_BENCH_DUMP") {
                // One update, to see what its bytes are made of.
                if !std::path::Path::new(&path).exists() && bytes.load(Ordering::Relaxed) > 200_000
                {
                    let _ = std::fs::write(&path, &u.snapshot_json);
                }
            }
            let snap = Arc::new(decoder.decode(&u.snapshot_json).unwrap());
            match app.as_mut() {
                Some(a) => a.set_snapshot(snap),
                None => {
                    app = Some(volley::ui::App::new(
                        snap,
                        volley::ui::Theme::default_theme(),
                        8,
                    ))
                }
            }
            if last_draw.elapsed() >= Duration::from_millis(125) {
                if let Some(a) = &app {
                    let _ = term.draw(|f| volley::ui::view::draw(f, a));
                }
                last_draw = Instant::now();
            }
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
    });
}

fn main() {
    let server = DemoServer::spawn(DemoOptions {
        latency: Duration::from_millis(1),
        ..DemoOptions::default()
    })
    .unwrap();
    let dir = std::env::temp_dir().join(format!("volley-attach-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = scenario(&dir, &server.url());
    let mut none = Vec::new();
    let mut two = Vec::new();
    let mut per = Vec::new();
    let mut on_wire = Vec::new();
    for round in 0..3 {
        none.push(run(&dir, &file, 0, round * 2).0);
        let (rps, b, w) = run(&dir, &file, 2, round * 2 + 1);
        two.push(rps);
        per.push(b);
        on_wire.push(w);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!("| consoles attached | rps (runs of {SECS}s, 8 VUs, {ENDPOINTS} endpoints) | update bytes/s per console | wire bytes/s per console |");
    println!("|---:|---:|---:|---:|");
    println!("| 0 | {:.0} ({}) | - | - |", mean(&none), fmt(&none));
    println!(
        "| 2 | {:.0} ({}) | {:.0} ({}) | {:.0} ({}) |",
        mean(&two),
        fmt(&two),
        mean(&per),
        fmt(&per),
        mean(&on_wire),
        fmt(&on_wire)
    );
    println!(
        "rps with 2 consoles / without: {:.1}%",
        100.0 * mean(&two) / mean(&none)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn fmt(v: &[f64]) -> String {
    v.iter()
        .map(|x| format!("{x:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}
