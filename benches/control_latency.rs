//! Control latency: from a command to the change the server observes.
//! `cargo bench --bench control_latency` prints a table.

use std::path::Path;
use std::time::{Duration, Instant};

use volley::demo::{DemoOptions, DemoServer};
use volley::engine::{self, Command};

fn plan(url: &str, vus: u32) -> volley::scenario::Plan {
    let toml = format!(
        "name = \"control\"\nbase_url = \"{url}\"\n[load]\nvus = {vus}\nduration = \"60s\"\n[[request]]\npath = \"/api/search?q=x\"\n"
    );
    volley::scenario::parse(Path::new("control.toml"), &toml).unwrap()
}

fn main() {
    volley::sys::ensure_fd_limit(30_000);
    println!("| command | VUs | latency to the server |");
    println!("|---|---:|---:|");
    for (from, to, ms) in [(1_000u32, 2_000u32, 200u64), (2_000, 10_000, 2_000)] {
        let server = DemoServer::spawn(DemoOptions {
            search_latency: Duration::from_millis(ms),
            ..DemoOptions::default()
        })
        .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let h = engine::start(plan(&server.url(), from));
            tokio::time::sleep(Duration::from_secs(3)).await;

            // Set VUs: time until the server holds 90% of the new target in flight.
            let accepted_before = server.stats.connections();
            let t = Instant::now();
            h.commands.send(Command::SetVus(to)).unwrap();
            let want = (to as f64 * 0.9) as u64;
            let mut ramp = Vec::new();
            let mut next_mark = Duration::from_millis(100);
            while server.stats.in_flight() < want && t.elapsed() < Duration::from_secs(20) {
                tokio::time::sleep(Duration::from_millis(2)).await;
                if t.elapsed() >= next_mark {
                    ramp.push(format!(
                        "{}ms {} ({} new conns)",
                        next_mark.as_millis(),
                        server.stats.in_flight(),
                        server.stats.connections() - accepted_before
                    ));
                    next_mark += Duration::from_millis(100);
                }
            }
            let took = t.elapsed();
            println!("| set VUs {from} -> {to} (90% in flight) | {to} | {took:?} |");
            eprintln!(
                "  in flight at the server after the command: {}",
                ramp.join(", ")
            );
            tokio::time::sleep(Duration::from_secs(2)).await;

            // Pause: time from the command to the last new request the server sees.
            let t = Instant::now();
            h.commands.send(Command::Pause).unwrap();
            let mut last = server.stats.total();
            let mut last_change = Instant::now();
            while last_change.elapsed() < Duration::from_millis(1500) {
                let now = server.stats.total();
                if now != last {
                    last = now;
                    last_change = Instant::now();
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            println!(
                "| pause (last new request reaches the server) | {to} | {:?} |",
                last_change.saturating_duration_since(t)
            );
            h.commands.send(Command::Stop).unwrap();
            let _ = h.wait().await;
        });
    }
}
