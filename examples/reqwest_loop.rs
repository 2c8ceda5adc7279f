//! The ceiling of volley's reqwest path: a plain loop of GETs through reqwest, built
//! exactly as volley builds its per-VU client (rustls, no redirects, no cookie store, one
//! idle connection, TCP_NODELAY, no proxy), with nothing else: no recording, no
//! scheduling. `bench/compare.sh` runs it as the `reqwest-loop-t1` tool.
//!
//!   cargo run --release --example reqwest_loop -- http://127.0.0.1:8080/ 50 5
//!
//! Arguments: URL (loopback only), connections, seconds. Prints the requests made and
//! the rate, on one current-thread runtime like `volley --threads 1`.

use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (url, conns, secs) = match args.as_slice() {
        [u, c, s] => match (
            u.parse::<reqwest::Url>(),
            c.parse::<usize>(),
            s.parse::<u64>(),
        ) {
            (Ok(u), Ok(c), Ok(s)) if c > 0 && s > 0 => (u, c, s),
            _ => usage(),
        },
        _ => usage(),
    };
    let host = url.host_str().unwrap_or("");
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        eprintln!("reqwest_loop: only loopback targets (127.0.0.1, [::1], localhost)");
        std::process::exit(2);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (requests, errors, elapsed) = rt.block_on(async move {
        let start = Instant::now();
        let end = start + Duration::from_secs(secs);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..conns {
            let url = url.clone();
            tasks.spawn(async move {
                let client = reqwest::Client::builder()
                    .use_rustls_tls()
                    .redirect(reqwest::redirect::Policy::none())
                    .pool_max_idle_per_host(1)
                    .tcp_nodelay(true)
                    .no_proxy()
                    .build()
                    .expect("a reqwest client");
                let (mut ok, mut failed) = (0u64, 0u64);
                while Instant::now() < end {
                    let done = match client.get(url.clone()).send().await {
                        Ok(resp) => resp.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    if done {
                        ok += 1;
                    } else {
                        failed += 1;
                    }
                }
                (ok, failed)
            });
        }
        let (mut ok, mut failed) = (0u64, 0u64);
        while let Some(r) = tasks.join_next().await {
            let (o, f) = r.expect("a loop task");
            ok += o;
            failed += f;
        }
        (ok, failed, start.elapsed())
    });
    println!(
        "requests {requests} errors {errors} seconds {:.3} rps {:.1}",
        elapsed.as_secs_f64(),
        requests as f64 / elapsed.as_secs_f64()
    );
}

fn usage() -> ! {
    eprintln!("usage: reqwest_loop URL CONNECTIONS SECONDS");
    std::process::exit(2);
}
