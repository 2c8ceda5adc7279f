//! Control latency through the control API (gRPC over the run's Unix socket): from a
//! `Command` sent by a client to the change the target observes. A real run (in-process
//! `volley::run`, headless) against the built-in demo target on 127.0.0.1.
//! `cargo bench --bench control_api` prints a table (figures in docs/control.md).

use std::time::{Duration, Instant};

use clap::Parser;
use volley::control::{client, proto, PROTOCOL_VERSION};
use volley::demo::{DemoOptions, DemoServer};

use proto::command_request::Command as C;

fn command(cmd: C) -> proto::CommandRequest {
    proto::CommandRequest {
        version: PROTOCOL_VERSION,
        sender: "bench".into(),
        command: Some(cmd),
    }
}

fn main() {
    let runs = std::env::temp_dir().join(format!("volley-bench-control-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&runs);
    std::env::set_var("VOLLEY_RUN_DIR", &runs);
    volley::sys::ensure_fd_limit(4_000);
    let server = DemoServer::spawn(DemoOptions {
        search_latency: Duration::from_millis(50),
        ..DemoOptions::default()
    })
    .unwrap();
    let url = format!("{}/api/search?q=x", server.url());
    let run = std::thread::spawn(move || {
        let cli = volley::Cli::parse_from([
            "volley",
            &url,
            "--headless",
            "-c",
            "2",
            "-d",
            "120s",
            "--progress",
            "120s",
        ]);
        volley::run(cli)
    });
    // The run's socket, once it is listed.
    let t = Instant::now();
    let socket = loop {
        let found = std::fs::read_dir(&runs).ok().and_then(|d| {
            d.flatten()
                .map(|e| e.path().join("control.sock"))
                .find(|p| p.exists())
        });
        if let Some(s) = found {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "no run socket");
        std::thread::sleep(Duration::from_millis(5));
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = client::connect(&client::Target::Unix(socket)).await.unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;

        // Round trip of a Status call.
        let mut rtts = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            client::status(&mut c).await.unwrap();
            rtts.push(t.elapsed());
        }
        rtts.sort();
        println!("| what | run | figure |");
        println!("|---|---|---:|");
        println!(
            "| Status round trip, median / p99 of 200 | 2 VUs | {:?} / {:?} |",
            rtts[100], rtts[197]
        );

        for round in 1..=3 {
            // VUs 2 -> 200: until the target holds 90% and 100% of them in flight.
            c.command(command(C::SetVus(2))).await.unwrap();
            tokio::time::sleep(Duration::from_secs(1)).await;
            let t = Instant::now();
            c.command(command(C::SetVus(200))).await.unwrap();
            let sent = t.elapsed();
            let mut at90 = None;
            while server.stats.in_flight() < 200 && t.elapsed() < Duration::from_secs(10) {
                if at90.is_none() && server.stats.in_flight() >= 180 {
                    at90 = Some(t.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            println!(
                "| VUs 2 -> 200 (round {round}): reply / 90% / 100% in flight at the target | 50 ms target | {sent:?} / {:?} / {:?} |",
                at90.unwrap_or(t.elapsed()),
                t.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(500)).await;

            // Pause: time from the command to the last new request the target sees.
            let t = Instant::now();
            c.command(command(C::Pause(proto::Empty {}))).await.unwrap();
            let mut last = server.stats.total();
            let mut last_change = Instant::now();
            while last_change.elapsed() < Duration::from_millis(1000) {
                let now = server.stats.total();
                if now != last {
                    last = now;
                    last_change = Instant::now();
                }
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            println!(
                "| pause (round {round}): last new request reaches the target | 200 VUs | {:?} |",
                last_change.saturating_duration_since(t)
            );
            c.command(command(C::Resume(proto::Empty {}))).await.unwrap();
        }
        c.command(command(C::Stop(proto::Empty {}))).await.unwrap();
    });
    let code = run.join().unwrap().unwrap();
    eprintln!("run exit {code}");
    let _ = std::fs::remove_dir_all(&runs);
}
