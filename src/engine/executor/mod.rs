//! Request executors: volley's own HTTP/1.1 client on the hot path (`h1`), hyper's
//! connection API as the alternative (`--client hyper`) and for HTTP/2, reqwest where a
//! request needs redirects or cookies. All return the same [`Attempt`].

mod classify;
mod conn;
mod h1;
mod hyper_client;
mod reqwest_client;
pub mod sse;
mod stream;
mod tls;
mod ws;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Uri};

use super::gate::Gate;
use crate::metrics::{ErrorKind, Gauges, Outcome, Phases, Retry, WsSample};
use crate::scenario::{ClientKind, H2Sharing, HttpVersion, Plan, RetryPolicy, StreamOpts, WsPlan};

pub use classify::{classify_hyper, classify_io, classify_reqwest};
pub use h1::H1Client;
pub use hyper_client::{H2Pool, HyperClient};
pub use reqwest_client::ReqwestClient;
pub use stream::StreamResult;

/// Where connections go: one per distinct scheme, host and port.
#[derive(Debug, Clone)]
pub struct Origin {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// The source addresses connections are bound to (the run's one round robin).
    pub bind: Arc<conn::Bind>,
}

/// An endpoint turned into everything a request needs, built once per run.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub method: Method,
    /// Origin-form URI (path and query) for hyper.
    pub uri: Uri,
    /// Full URL for reqwest.
    pub url: reqwest::Url,
    /// Headers including Host and User-Agent.
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The whole request as the h1 client writes it, when nothing is rendered per send.
    pub wire: Bytes,
    pub origin: usize,
    pub timeout: Duration,
    pub client: ClientKind,
    pub follow_redirects: bool,
    /// The request asks for a protocol upgrade (has an `Upgrade` header): only then is
    /// `101 Switching Protocols` an answer rather than `unexpected_upgrade`.
    pub upgrade: bool,
    /// How responses are timed as streams (h1 client).
    pub stream: StreamOpts,
    /// A WebSocket request: its script.
    pub ws: Option<WsPlan>,
}

/// The result of sending one request.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub outcome: Outcome,
    /// Microseconds from the start of the request (before connecting, when it needed a
    /// connection; before its first attempt, when it was sent twice) to the last body
    /// byte, or to the timeout; `None` for other failures.
    pub latency_us: Option<u64>,
    pub bytes: u64,
    pub message: Option<String>,
    /// The body, when asked for (checks or captures need it) and not over the limit.
    pub body: Option<Bytes>,
    pub headers: Option<HeaderMap>,
    /// The request was sent a second time: why, and how long the first attempt took.
    pub retry: Option<Retry>,
    /// No connection could be made (DNS, TCP or TLS): nothing was sent.
    pub connect_failed: bool,
    /// How long each phase took, for a complete response from a client that measures
    /// them (h1).
    pub phases: Option<Phases>,
    /// A streamed response (server-sent events, or `stream = true`): what arrived and
    /// when, also when the stream failed part way.
    pub stream: Option<Box<StreamResult>>,
    /// A WebSocket session: what it did, also when it failed part way.
    pub ws: Option<Box<WsSample>>,
}

/// Largest body kept for checks and captures; longer ones are counted but not kept.
pub const MAX_KEPT_BODY: usize = 16 << 20;

/// The parts of a request rendered from templates for one send.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// Path and query.
    pub path: Option<String>,
    pub headers: Vec<(http::HeaderName, HeaderValue)>,
    pub body: Option<Bytes>,
    /// A WebSocket request: the rendered templates of its steps, in order (one for a
    /// `send`, the parts around `{{seq}}` for an `echo`).
    pub ws_sends: Vec<String>,
}

impl Rendered {
    /// The request URI: the rendered path, or the prepared one.
    fn uri(&self, p: &Prepared) -> Result<Uri, conn::Failed> {
        match &self.path {
            Some(path) => path.parse().map_err(|e| {
                conn::Failed::new(
                    crate::metrics::ErrorKind::Other,
                    format!("rendered path is not a valid URI: {e}"),
                )
            }),
            None => Ok(p.uri.clone()),
        }
    }

    /// The headers to send: the prepared ones, with the rendered ones (and the rendered
    /// body's length) set over them; borrowed when nothing changes them.
    fn headers<'a>(&self, p: &'a Prepared) -> std::borrow::Cow<'a, HeaderMap> {
        if self.headers.is_empty() && self.body.is_none() {
            return std::borrow::Cow::Borrowed(&p.headers);
        }
        let mut headers = p.headers.clone();
        for (k, v) in &self.headers {
            headers.insert(k.clone(), v.clone());
        }
        if let Some(b) = &self.body {
            headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(b.len()));
        }
        std::borrow::Cow::Owned(headers)
    }

    /// The body to send: the rendered one, or the prepared one.
    fn body<'a>(&'a self, p: &'a Prepared) -> &'a Bytes {
        self.body.as_ref().unwrap_or(&p.body)
    }
}

/// What the caller needs back from the response.
#[derive(Debug, Clone, Copy, Default)]
pub struct Want {
    pub body: bool,
    pub headers: bool,
    /// The data of a streamed response's events.
    pub events: bool,
}

impl Attempt {
    pub fn failed(kind: ErrorKind, message: String, latency_us: Option<u64>) -> Attempt {
        Attempt {
            outcome: Outcome::Error(kind),
            latency_us,
            bytes: 0,
            message: Some(message),
            body: None,
            headers: None,
            retry: None,
            connect_failed: false,
            phases: None,
            stream: None,
            ws: None,
        }
    }

    /// No complete response by the deadline; `sent` when the request went out (else the
    /// connect took all the time). The latency is the time waited.
    pub fn timed_out(sent: bool, timeout: Duration, latency_us: u64) -> Attempt {
        let message = if sent {
            format!("no complete response within {timeout:?}")
        } else {
            format!("connect timed out after {timeout:?}")
        };
        Attempt::failed(ErrorKind::Timeout, message, Some(latency_us))
    }

    /// A complete response.
    pub fn response(
        status: u16,
        latency_us: u64,
        bytes: u64,
        body: Option<Bytes>,
        headers: Option<HeaderMap>,
    ) -> Attempt {
        Attempt {
            outcome: Outcome::Status(status),
            latency_us: Some(latency_us),
            bytes,
            message: (status >= 400).then(|| conn::status_message(status)),
            body,
            headers,
            retry: None,
            connect_failed: false,
            phases: None,
            stream: None,
            ws: None,
        }
    }

    /// A `101 Switching Protocols` the request did not ask for is an error: the
    /// connection now speaks something else and no HTTP answer came.
    fn unasked_upgrade(&mut self, p: &Prepared, rendered: Option<&Rendered>) {
        let asked = p.upgrade
            || rendered.is_some_and(|r| r.headers.iter().any(|(k, _)| k == http::header::UPGRADE));
        if self.outcome == Outcome::Status(101) && !asked {
            self.outcome = Outcome::Error(ErrorKind::UnexpectedUpgrade);
            self.message =
                Some("101 Switching Protocols to a request that asked for no upgrade".into());
            self.body = None;
        }
    }
}

/// Shared, read-only request material for one run.
pub struct Requests {
    pub origins: Vec<Origin>,
    pub prepared: Vec<Prepared>,
    /// TLS offering HTTP/1.1 through ALPN.
    pub tls: Arc<rustls::ClientConfig>,
    /// TLS offering `h2` (and `http/1.1` after it for `version = "auto"`), for the hyper
    /// client when the plan speaks HTTP/2; the same as `tls` for `version = "1.1"`.
    pub tls_h2: Arc<rustls::ClientConfig>,
    pub version: HttpVersion,
    pub insecure: bool,
    pub cookies: bool,
    pub retry: RetryPolicy,
    /// How VUs share HTTP/2 connections, and the run's shared connections.
    pub sharing: Option<(H2Sharing, Arc<H2Pool>)>,
    /// The run's gate: a WebSocket `echo` step holds its sends while the run is paused
    /// and ends when it stops.
    pub gate: Gate,
}

pub const USER_AGENT: &str = concat!("volley/", env!("CARGO_PKG_VERSION"));

impl Requests {
    pub fn new(plan: &Plan) -> Requests {
        let ws_scheme = |ep: &crate::scenario::Endpoint| ep.ws.is_some();
        let mut origins: Vec<Origin> = Vec::new();
        let bind = Arc::new(conn::Bind::new(plan.http.local_addresses.clone()));
        let mut prepared = Vec::with_capacity(plan.endpoints.len());
        for ep in &plan.endpoints {
            let https = ep.url.scheme() == "https";
            let host = ep.url.host_str().unwrap_or("localhost").to_string();
            let port = ep.url.port_or_known_default().unwrap_or(80);
            let origin = match origins
                .iter()
                .position(|o| o.https == https && o.host == host && o.port == port)
            {
                Some(i) => i,
                None => {
                    origins.push(Origin {
                        https,
                        host: host.clone(),
                        port,
                        bind: bind.clone(),
                    });
                    origins.len() - 1
                }
            };
            let mut pq = ep.url.path().to_string();
            if let Some(q) = ep.url.query() {
                pq.push('?');
                pq.push_str(q);
            }
            let uri: Uri = pq.parse().unwrap_or_else(|_| Uri::from_static("/"));
            let mut headers = ep.headers.clone();
            let default_port = if https { 443 } else { 80 };
            let host_header = if port == default_port {
                bracket(&host)
            } else {
                format!("{}:{port}", bracket(&host))
            };
            if !headers.contains_key(http::header::HOST) {
                if let Ok(v) = HeaderValue::from_str(&host_header) {
                    headers.insert(http::header::HOST, v);
                }
            }
            if !headers.contains_key(http::header::USER_AGENT) {
                headers.insert(
                    http::header::USER_AGENT,
                    HeaderValue::from_static(USER_AGENT),
                );
            }
            if !ep.body.is_empty() && !headers.contains_key(http::header::CONTENT_LENGTH) {
                headers.insert(
                    http::header::CONTENT_LENGTH,
                    HeaderValue::from(ep.body.len()),
                );
            }
            let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
            let upgrade = headers.contains_key(http::header::UPGRADE) || ws_scheme(ep);
            let mut wire = Vec::new();
            h1::serialize(&mut wire, &ep.method, target, &headers, &ep.body);
            prepared.push(Prepared {
                method: ep.method.clone(),
                uri,
                url: ep.url.clone(),
                headers,
                body: ep.body.clone(),
                wire: wire.into(),
                origin,
                timeout: ep.timeout,
                client: ep.client,
                follow_redirects: ep.follow_redirects,
                upgrade,
                stream: ep.stream,
                ws: ep.ws.clone(),
            });
        }
        let origins_len = origins.len();
        let tls = tls::client_config(plan.http.insecure, &[b"http/1.1"]);
        let tls_h2 = match plan.http.version {
            HttpVersion::Http1 => tls.clone(),
            HttpVersion::Http2 => tls::client_config(plan.http.insecure, &[b"h2"]),
            HttpVersion::Auto => tls::client_config(plan.http.insecure, &[b"h2", b"http/1.1"]),
        };
        Requests {
            origins,
            prepared,
            tls,
            tls_h2,
            version: plan.http.version,
            insecure: plan.http.insecure,
            cookies: plan.http.cookies,
            retry: plan.http.retry,
            sharing: plan
                .http
                .sharing
                .map(|s| (s, Arc::new(H2Pool::new(origins_len)))),
            gate: Gate::default(),
        }
    }
}

fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// One VU's clients: its own connections, never shared with another VU (except HTTP/2
/// connections when `[http] streams_per_connection` or `connections` says so).
pub struct VuClient {
    h1: H1Client,
    hyper: HyperClient,
    reqwest: Option<ReqwestClient>,
    requests: Arc<Requests>,
    gauges: Arc<Gauges>,
}

impl VuClient {
    /// The clients of VU `vu` (0-based: which shared HTTP/2 connection it uses, if VUs
    /// share them).
    pub fn new(requests: Arc<Requests>, gauges: Arc<Gauges>, vu: u64) -> Self {
        let shared = requests
            .sharing
            .as_ref()
            .map(|(how, pool)| (pool.clone(), how.slot(vu)));
        VuClient {
            h1: H1Client::new(requests.origins.len()),
            hyper: HyperClient::new(requests.origins.len(), shared),
            reqwest: None,
            requests,
            gauges,
        }
    }

    /// Opens the connection endpoint `idx` will use, ahead of the VU's first request
    /// (a fleet worker's VUs, before it says it is ready); true when one is open. Only
    /// the HTTP clients' own connections: a WebSocket session, reqwest's pool and
    /// shared HTTP/2 connections connect on first use, as always.
    pub async fn warm(&mut self, idx: usize) -> bool {
        let reqs = self.requests.clone();
        let p = &reqs.prepared[idx];
        if p.ws.is_some() {
            return false;
        }
        match p.client {
            ClientKind::H1 => self.h1.warm(&reqs, p, &self.gauges).await,
            ClientKind::Hyper => self.hyper.warm(&reqs, p, &self.gauges).await,
            ClientKind::Reqwest => false,
        }
    }

    /// Counts this client's connections in `gauges` from now on: a client warmed before
    /// the run, handed to one of its VUs.
    pub fn adopt(&mut self, gauges: Arc<Gauges>) {
        self.h1.adopt(&gauges);
        self.hyper.adopt(&gauges);
        self.gauges = gauges;
    }

    /// Sends endpoint `idx`, with templated parts from `rendered`.
    pub async fn send(&mut self, idx: usize, rendered: Option<&Rendered>, want: Want) -> Attempt {
        let reqs = &*self.requests;
        let p = &reqs.prepared[idx];
        if let Some(plan) = &p.ws {
            let sends = rendered.map_or(&[][..], |r| &r.ws_sends[..]);
            return ws::session(reqs, p, plan, sends, &self.gauges).await;
        }
        let mut attempt = match p.client {
            ClientKind::H1 => self.h1.send(reqs, p, rendered, want, &self.gauges).await,
            ClientKind::Hyper => self.hyper.send(reqs, p, rendered, want, &self.gauges).await,
            ClientKind::Reqwest => {
                let gauges = &self.gauges;
                let client = self
                    .reqwest
                    .get_or_insert_with(|| ReqwestClient::new(reqs, gauges.clone()));
                client.send(p, rendered, want).await
            }
        };
        attempt.unasked_upgrade(p, rendered);
        attempt
    }
}
