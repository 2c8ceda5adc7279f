//! The built-in demo target: a small HTTP/1.1 API that behaves like a realistic service.
//!
//! Routes:
//!
//! | request                  | response                                                        |
//! |--------------------------|-----------------------------------------------------------------|
//! | `POST /login`            | 200 `{"access_token", "token_type": "bearer", "expires_in"}`    |
//! | `GET /api/items`         | 200, a JSON array of 20 items (cheap: `--latency`)              |
//! | `GET /api/items/{id}`    | 200 item JSON; 404 unless `id` is a number in `1..=1000`        |
//! | `GET /api/search?q=...`  | 200 results after a long-tailed delay (`--search-latency`)      |
//! | `POST /api/orders`       | 201 `{"id": n}`, or 500/503 with probability `--error-rate`     |
//! | `GET /health`            | 200 `ok`                                                        |
//! | `GET /__stats`           | 200 [`DemoStats::to_json`] (not itself counted)                 |
//! | `GET /api/stream?tokens=N` | server-sent events (see [`streaming`]; not counted in stats) |
//! | `GET /ws/chat`           | a WebSocket chat echo (see [`streaming`]; not counted in stats)  |
//! | anything else            | 404                                                             |
//!
//! With `--capacity RPS`, every request but `/__stats` passes a limiter first: it waits in a
//! queue while the server is busy and gets 503 when the queue is full (see [`capacity`]).
//!
//! With `--require-auth`, every `/api/*` request needs `Authorization: Bearer <token>`
//! with a token issued by `/login`, or it gets 401.
//!
//! [`DemoServer::spawn`] runs the server on its own OS thread and tokio runtime so that it
//! never competes with the load generator's scheduler; [`serve_until_ctrl_c`] serves in
//! the foreground for `volley demo --serve-only`.

mod capacity;
mod latency;
mod routes;
mod server;
mod stats;
mod streaming;
mod tokens;

#[cfg(test)]
mod tests;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::scenario::parse_duration;

pub use stats::DemoStats;

use routes::AppState;

/// Options of the demo target (`volley demo`).
#[derive(clap::Args, Debug, Clone, PartialEq)]
pub struct DemoOptions {
    /// Port to listen on (0 lets the OS choose)
    #[arg(long, value_name = "PORT", default_value_t = 0)]
    pub port: u16,

    /// Address to listen on (`--bind` is the load's source addresses, as in `run`)
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    pub listen: IpAddr,

    /// Base latency of the cheap item endpoints
    #[arg(long, value_name = "DUR", default_value = "2ms", value_parser = parse_duration)]
    pub latency: Duration,

    /// Median latency of search; long-tailed, p99 several times the median
    #[arg(long, value_name = "DUR", default_value = "25ms", value_parser = parse_duration)]
    pub search_latency: Duration,

    /// Median latency of login
    #[arg(long, value_name = "DUR", default_value = "15ms", value_parser = parse_duration)]
    pub login_latency: Duration,

    /// Median latency of creating an order
    #[arg(long, value_name = "DUR", default_value = "8ms", value_parser = parse_duration)]
    pub write_latency: Duration,

    /// Probability (0 to 1) that creating an order fails with 500 or 503
    #[arg(long, value_name = "P", default_value_t = 0.02, value_parser = parse_error_rate)]
    pub error_rate: f64,

    /// Require a bearer token from POST /login on /api/* routes
    #[arg(long)]
    pub require_auth: bool,

    /// Serve at most this many requests per second: past it latency climbs while a queue
    /// fills, then the excess is refused with 503 (unlimited by default)
    #[arg(long, value_name = "RPS", value_parser = capacity::parse_capacity)]
    pub capacity: Option<f64>,

    /// With --capacity: the longest a request waits in the queue before it is refused
    #[arg(long, value_name = "DUR", default_value = "250ms", value_parser = parse_duration)]
    pub capacity_queue: Duration,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            port: 0,
            listen: IpAddr::V4(Ipv4Addr::LOCALHOST),
            latency: Duration::from_millis(2),
            search_latency: Duration::from_millis(25),
            login_latency: Duration::from_millis(15),
            write_latency: Duration::from_millis(8),
            error_rate: 0.02,
            require_auth: false,
            capacity: None,
            capacity_queue: capacity::DEFAULT_QUEUE,
        }
    }
}

impl DemoOptions {
    /// The address to bind.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.listen, self.port)
    }
}

/// Parses an error rate: a number from 0 to 1.
fn parse_error_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("invalid error rate '{text}': expected a number from 0 to 1"))?;
    check_error_rate(rate)
}

fn check_error_rate(rate: f64) -> Result<f64, String> {
    if (0.0..=1.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!(
            "error rate {rate} is out of range: expected 0 to 1"
        ))
    }
}

fn invalid_input(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// A demo server running on its own thread; dropping it shuts the server down (requests in
/// progress get up to a second to finish).
#[derive(Debug)]
pub struct DemoServer {
    /// The address actually bound (with the OS-assigned port when `--port 0`).
    pub addr: SocketAddr,
    /// Live counters of the server's traffic.
    pub stats: Arc<DemoStats>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl DemoServer {
    /// Binds right away (errors such as "address in use" are returned here) and serves on a
    /// dedicated OS thread with a single-threaded tokio runtime of its own. May be called
    /// from inside or outside a tokio runtime.
    pub fn spawn(opts: DemoOptions) -> io::Result<DemoServer> {
        let state = Arc::new(AppState::new(&opts).map_err(invalid_input)?);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = {
            let _context = runtime.enter();
            server::bind(opts.socket_addr())?
        };
        let addr = listener.local_addr()?;
        let stats = Arc::clone(&state.stats);
        let (tx, rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("volley-demo".into())
            .spawn(move || {
                runtime.block_on(server::serve(listener, state, async {
                    let _ = rx.await;
                }));
            })?;
        Ok(DemoServer {
            addr,
            stats,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The base URL, like `http://127.0.0.1:8080` (IPv6 addresses in brackets). When bound
    /// to an unspecified address (`0.0.0.0`, `::`), the URL names the loopback address.
    pub fn url(&self) -> String {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            });
        }
        format!("http://{addr}")
    }

    /// Stops the server and waits for its thread to end (the same as dropping it).
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves in the foreground on the caller's runtime until Ctrl-C or SIGTERM, after
/// printing one line to stderr: `volley demo target listening on http://... (routes: ...)`.
pub async fn serve_until_ctrl_c(opts: DemoOptions) -> io::Result<()> {
    let state = Arc::new(AppState::new(&opts).map_err(invalid_input)?);
    // Before the line that says it listens: a Ctrl-C right after it stops it cleanly.
    let stop = server::termination_signal();
    let listener = server::bind(opts.socket_addr())?;
    let addr = listener.local_addr()?;
    eprintln!(
        "volley demo target listening on http://{addr} (routes: {})",
        routes::ROUTE_SUMMARY
    );
    server::serve(listener, state, stop).await;
    Ok(())
}
