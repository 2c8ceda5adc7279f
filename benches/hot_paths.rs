//! Hot-path micro-benchmarks (no framework): recording a sample, merging shards into a
//! snapshot, rendering a console frame. Prints a table; `cargo bench --bench hot_paths`.
//! Absolute times on shared machines are noise; compare runs side by side.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use volley::engine::ControlState;
use volley::metrics::{Aggregator, Gauges, Outcome, Phases, Sample, Snapshot};
use volley::ui::{App, Theme};

fn time<F: FnMut()>(iters: u64, mut f: F) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed() / iters as u32
}

fn endpoints(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("endpoint {i}"), "GET".to_string()))
        .collect()
}

fn sample(i: u64, n_endpoints: usize) -> Sample {
    Sample {
        endpoint: (i as usize) % n_endpoints,
        latency_us: Some(200 + (i * 7919) % 20_000),
        outcome: if i.is_multiple_of(100) {
            Outcome::Status(503)
        } else {
            Outcome::Status(200)
        },
        bytes: 512,
        raw_latency_us: None,
        retry: None,
        phases: None,
    }
}

/// A snapshot after `secs` seconds of synthetic traffic on `n` endpoints.
fn snapshot(n: usize, secs: u64, per_sec: u64) -> Snapshot {
    let t0 = Instant::now() - Duration::from_secs(secs + 1);
    let gauges = Arc::new(Gauges::new(t0));
    let control = Arc::new(ControlState::new(t0, None, None));
    let (mut agg, rec) = Aggregator::new("bench", &endpoints(n), 8, gauges, control);
    let mut last = agg.tick(t0);
    for s in 0..secs {
        for i in 0..per_sec {
            rec.record(&sample(s * per_sec + i, n));
        }
        last = agg.tick(t0 + Duration::from_secs(s + 1) + Duration::from_millis(1));
    }
    last
}

fn main() {
    println!("| hot path | per op |");
    println!("|---|---:|");

    let gauges = Arc::new(Gauges::new(Instant::now()));
    let control = Arc::new(ControlState::new(gauges.started, None, None));
    let (mut agg, rec) = Aggregator::new("bench", &endpoints(20), 8, gauges, control);
    let mut i = 0u64;
    let per = time(2_000_000, || {
        rec.record(&sample(i, 20));
        i += 1;
    });
    println!("| record one sample (20 endpoints) | {per:?} |");

    // The per-phase timings of a kept-alive request as the h1 client takes them: the
    // phases' histograms (send, ttfb, receive, total) on top of the sample, and the
    // clock reads that time them (four more per request than the latency's two: sent,
    // written, first byte, done).
    let mut i = 0u64;
    let with = time(2_000_000, || {
        let mut s = sample(i, 20);
        let l = s.latency_us.unwrap_or(0);
        s.phases = Some(Phases {
            send_us: Some(3 + i % 5),
            ttfb_us: l * 9 / 10,
            receive_us: l / 10,
            ..Phases::default()
        });
        rec.record(&s);
        i += 1;
    });
    println!("| record one sample with its phases (20 endpoints) | {with:?} |");
    let clock = time(2_000_000, || {
        std::hint::black_box(Instant::now());
    });
    println!("| read the clock (Instant::now) | {clock:?} |");
    println!(
        "| phase recording per request (difference + 4 clock reads) | {:?} |",
        with.saturating_sub(per) + clock * 4
    );

    // A 100 ms tick's worth of samples at 100k rps, then the merge.
    let per_tick = time(50, || {
        for j in 0..10_000 {
            rec.record(&sample(j, 20));
        }
        let _ = agg.tick(Instant::now());
    });
    let record_only = time(50, || {
        for j in 0..10_000 {
            rec.record(&sample(j, 20));
        }
    });
    println!(
        "| aggregator tick: merge 8 shards x 20 endpoints, publish a snapshot | {:?} |",
        per_tick.saturating_sub(record_only)
    );

    let a = snapshot(20, 120, 2_000);
    let b = snapshot(20, 120, 2_000);
    let per = time(200, || {
        let mut m = a.clone();
        m.merge(&b);
    });
    println!("| merge two snapshots (20 endpoints, 120 s timeline) | {per:?} |");

    for (w, h) in [(80u16, 24u16), (200, 60)] {
        let snap = Arc::new(snapshot(20, 120, 2_000));
        let app = App::new(snap, Theme::default_theme(), 50);
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        let per = time(200, || {
            term.draw(|f| volley::ui::view::draw(f, &app)).unwrap();
        });
        println!("| render a frame {w}x{h} (20 endpoints) | {per:?} |");
    }
}
