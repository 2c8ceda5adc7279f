//! Target monitor against a real node_exporter (Debian's `prometheus-node-exporter`,
//! which `.ci/run` installs when it can). When it is not installed, the test says so and
//! passes: the exposition parsing and the failure cases are covered against an in-test
//! exporter in `tests/monitor.rs`.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::scratch;
use volley::demo::{DemoOptions, DemoServer};

const EXPORTER: &str = "/usr/bin/prometheus-node-exporter";

/// The exporter, killed and reaped when dropped.
struct Exporter(Child);

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port free on 127.0.0.1 a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Starts node_exporter on `port` with only the collectors the defaults read (network
/// with the loopback interface), and waits
/// until it serves them (or fails the test after 30 s).
fn start_exporter(port: u16) -> Exporter {
    let child = Command::new(EXPORTER)
        .args([
            &format!("--web.listen-address=127.0.0.1:{port}"),
            "--collector.disable-defaults",
            "--collector.cpu",
            "--collector.meminfo",
            "--collector.netdev",
            // Loopback too (left out by default): the run's own traffic crosses it.
            "--collector.netdev.device-exclude=^$",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start node_exporter");
    let mut exporter = Exporter(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = exporter.0.try_wait().expect("try_wait") {
            panic!("node_exporter exited at start: {status}");
        }
        if get(port).contains("node_memory_MemAvailable_bytes") {
            return exporter;
        }
        assert!(
            Instant::now() < deadline,
            "node_exporter did not serve 127.0.0.1:{port}/metrics"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `GET /metrics` on 127.0.0.1:`port`: the whole answer, or nothing.
fn get(port: u16) -> String {
    let mut answer = String::new();
    if let Ok(mut conn) = TcpStream::connect(("127.0.0.1", port)) {
        let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = conn.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
        let _ = conn.read_to_string(&mut answer);
    }
    answer
}

/// `MemTotal` of /proc/meminfo, bytes.
fn mem_total() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::INFINITY, |kb| kb * 1024.0)
}

#[test]
fn node_exporter_series_are_read_beside_the_load() {
    if !Path::new(EXPORTER).exists() {
        eprintln!(
            "skipped: {EXPORTER} is not installed (apt-get install prometheus-node-exporter)"
        );
        return;
    }
    let port = free_port();
    let _exporter = start_exporter(port);
    let demo = DemoServer::spawn(DemoOptions::default()).expect("demo target");
    let dir = scratch("node-exporter");
    let (r, doc) = support::run_scenario(
        &dir,
        &format!(
            "name = \"node\"\nbase_url = \"{}\"\n\n[load]\nvus = 2\nduration = \"4s\"\n\n\
             [[request]]\npath = \"/api/items\"\n\n[monitor]\nprometheus = \"http://127.0.0.1:{port}/metrics\"\n",
            demo.url()
        ),
    );
    let m = &doc["monitor"];
    assert_eq!(
        m["series"],
        serde_json::json!([
            "cpu_busy",
            "node_memory_MemAvailable_bytes",
            "node_network_receive_bytes_total",
            "node_network_transmit_bytes_total"
        ]),
        "the node_exporter defaults"
    );
    assert_eq!(m["failures"], 0, "{m:#}");
    let rows = m["rows"].as_array().expect("rows");
    assert!(rows.len() >= 3, "{m:#}");
    let col =
        |i: usize| -> Vec<Option<f64>> { rows.iter().map(|r| r["values"][i].as_f64()).collect() };
    // Rates need two scrapes: every row after the first has all four values.
    for (i, name) in ["cpu", "memory", "rx", "tx"].iter().enumerate() {
        let vals = col(i);
        assert!(vals[1..].iter().all(Option::is_some), "{name}: {vals:?}");
    }
    let cpu: Vec<f64> = col(0).into_iter().flatten().collect();
    assert!(
        cpu.iter().all(|c| (0.0..=1.0).contains(c)),
        "cpu_busy {cpu:?}"
    );
    let total = mem_total();
    let mem: Vec<f64> = col(1).into_iter().flatten().collect();
    assert!(
        mem.iter().all(|m| *m > 0.0 && *m <= total),
        "MemAvailable {mem:?} of {total}"
    );
    // The run's own traffic crosses the loopback interface, which netdev reads here.
    for i in [2, 3] {
        let rate: Vec<f64> = col(i).into_iter().flatten().collect();
        assert!(
            rate.iter().all(|b| (0.0..1e11).contains(b)) && rate.iter().any(|b| *b > 0.0),
            "series {i}: {rate:?}"
        );
    }
    assert!(r.stdout.contains("    cpu_busy  "), "{}", r.stdout);
    let _ = std::fs::remove_dir_all(&dir);
}
