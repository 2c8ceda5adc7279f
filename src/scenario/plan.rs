//! The validated, typed plan the engine runs.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use super::duration::{format_duration, ThinkTime};
use crate::thresholds::ThresholdSpec;

/// Which executor runs an endpoint's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// volley's own HTTP/1.1 client: the fast path.
    H1,
    /// hyper's connection API.
    Hyper,
    /// reqwest: redirects, cookies, proxies.
    Reqwest,
}

impl fmt::Display for ClientKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClientKind::H1 => "h1",
            ClientKind::Hyper => "hyper",
            ClientKind::Reqwest => "reqwest",
        })
    }
}

/// Parts of a request that change per iteration.
#[derive(Debug, Clone, Default)]
pub struct RequestTemplate {
    /// Path and query, appended to the origin of `Endpoint::url`.
    pub path: Option<super::template::Template>,
    pub headers: Vec<(HeaderName, super::template::Template)>,
    pub body: Option<super::template::Template>,
}

impl RequestTemplate {
    /// Captured variables the request needs.
    pub fn vars(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .path
            .iter()
            .chain(self.headers.iter().map(|(_, t)| t))
            .chain(self.body.iter())
            .flat_map(|t| t.vars())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// Default longest silence inside a stream before it counts as stalled.
pub const DEFAULT_STREAM_IDLE: Duration = Duration::from_secs(10);

/// How an endpoint's responses are streamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOpts {
    /// `stream = true`: time every response as a stream (otherwise only
    /// `text/event-stream` ones are).
    pub forced: bool,
    /// Longest wait for the next bytes once the response head arrived.
    pub idle: Duration,
}

impl Default for StreamOpts {
    fn default() -> Self {
        StreamOpts {
            forced: false,
            idle: DEFAULT_STREAM_IDLE,
        }
    }
}

/// A WebSocket request's script, compiled.
#[derive(Debug, Clone)]
pub struct WsPlan {
    pub steps: Vec<WsStep>,
    /// Largest message (and frame) accepted, bytes.
    pub max_message: usize,
}

/// Default largest WebSocket message accepted (1 MiB).
pub const DEFAULT_WS_MAX_MESSAGE: usize = 1 << 20;

/// One step of a WebSocket script.
#[derive(Debug, Clone)]
pub enum WsStep {
    /// Send a text message.
    Send(super::template::Template),
    /// Wait (at most `within`) for a message that matches; the time from the last send
    /// to the match is the step's latency.
    Expect {
        what: WsMatch,
        within: Duration,
    },
    /// Wait (at most `within`) for `n` more messages.
    Receive {
        n: u64,
        within: Duration,
    },
    Sleep(Duration),
    /// Close with this code (1000 when none).
    Close(u16),
    /// Send floor(rate x duration) messages, each due at a time fixed when the step
    /// starts, and wait (at most `within` from that time) for each one's echo.
    Echo(Box<WsEcho>),
}

/// An `echo` step.
#[derive(Debug, Clone)]
pub struct WsEcho {
    /// The message around each `{{seq}}`: one more part than placeholders (two or more).
    pub parts: Vec<super::template::Template>,
    pub rate: super::wsscript::EchoRate,
    pub duration: Duration,
    pub within: Duration,
}

impl WsStep {
    /// The templates a VU renders for this step, in order (the executor takes each
    /// step's rendered texts in the same order).
    pub fn templates(&self) -> &[super::template::Template] {
        match self {
            WsStep::Send(t) => std::slice::from_ref(t),
            WsStep::Echo(e) => &e.parts,
            _ => &[],
        }
    }
}

/// What an `expect` step waits for.
#[derive(Debug, Clone)]
pub enum WsMatch {
    Contains(String),
    Regex(regex::Regex),
    JsonExists(super::inspect::JsonPath),
    JsonEquals(super::inspect::JsonPath, serde_json::Value),
}

impl WsMatch {
    pub fn matches(&self, text: &str) -> bool {
        match self {
            WsMatch::Contains(t) => text.contains(t.as_str()),
            WsMatch::Regex(re) => re.is_match(text),
            WsMatch::JsonExists(p) => serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .is_some_and(|v| p.get(&v).is_some()),
            WsMatch::JsonEquals(p, want) => serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .is_some_and(|v| p.get(&v) == Some(want)),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            WsMatch::Contains(t) => format!("containing '{t}'"),
            WsMatch::Regex(re) => format!("matching /{re}/"),
            WsMatch::JsonExists(p) => format!("with {}", p.text),
            WsMatch::JsonEquals(p, v) => format!("with {} == {v}", p.text),
        }
    }
}

/// One request the scenario makes, fully resolved.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub name: String,
    pub method: Method,
    pub url: reqwest::Url,
    /// Default headers merged with the request's own (the request's win).
    pub headers: HeaderMap,
    pub body: Bytes,
    pub weight: u32,
    pub timeout: Duration,
    pub client: ClientKind,
    pub follow_redirects: bool,
    /// Set when path, a header or the body has placeholders.
    pub template: Option<RequestTemplate>,
    pub checks: Vec<super::inspect::Check>,
    pub captures: Vec<super::inspect::Capture>,
    /// How its responses are timed as streams.
    pub stream: StreamOpts,
    /// A WebSocket request: its script (the URL's scheme stays http or https).
    pub ws: Option<WsPlan>,
}

impl Endpoint {
    /// A plain endpoint: no template, checks or captures.
    pub fn simple(name: String, method: Method, url: reqwest::Url) -> Endpoint {
        Endpoint {
            name,
            method,
            url,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            weight: 1,
            timeout: DEFAULT_TIMEOUT,
            client: ClientKind::H1,
            follow_redirects: false,
            template: None,
            checks: Vec::new(),
            captures: Vec::new(),
            stream: StreamOpts::default(),
            ws: None,
        }
    }

    pub fn needs_body(&self) -> bool {
        self.checks
            .iter()
            .any(|c| c.event.is_none() && c.kind.needs_body())
            || self.captures.iter().any(|c| {
                c.event.is_none()
                    && matches!(
                        c.from,
                        super::inspect::CaptureFrom::Json(_)
                            | super::inspect::CaptureFrom::Regex(..)
                    )
            })
    }

    /// A check or capture reads a streamed response's events.
    pub fn needs_events(&self) -> bool {
        self.checks.iter().any(|c| c.event.is_some())
            || self.captures.iter().any(|c| c.event.is_some())
    }

    pub fn needs_headers(&self) -> bool {
        self.checks
            .iter()
            .any(|c| matches!(c.kind, super::inspect::CheckKind::Header(_)))
            || self
                .captures
                .iter()
                .any(|c| matches!(c.from, super::inspect::CaptureFrom::Header(_)))
    }
}

/// What one user type does.
#[derive(Debug, Clone)]
pub enum Flow {
    /// One request per iteration, picked by weight: (endpoint, weight).
    Tasks(Vec<(usize, u32)>),
    /// Every step in order, as one iteration.
    Steps(Vec<Step>),
}

/// One step of a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// One request (an endpoint index).
    One(usize),
    /// Requests sent together by one VU (`steps = ["page", ["css", "js"]]`): at most
    /// [`HttpOptions::streams`] in flight at a time; the step ends when all have ended.
    Batch(Vec<usize>),
}

impl Step {
    /// The endpoints of this step, in order.
    pub fn endpoints(&self) -> &[usize] {
        match self {
            Step::One(i) => std::slice::from_ref(i),
            Step::Batch(b) => b,
        }
    }
}

#[derive(Debug, Clone)]
pub struct UserType {
    pub name: String,
    pub weight: u32,
    /// Endpoints run once per VU before its first iteration.
    pub on_start: Vec<usize>,
    pub flow: Flow,
    pub think_time: ThinkTime,
    pub pacing: Option<Duration>,
}

pub use super::model::DataMode;

/// A CSV data file, loaded when the scenario is validated.
#[derive(Debug, Clone)]
pub struct DataSet {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: std::sync::Arc<Vec<Vec<String>>>,
    pub mode: DataMode,
}

/// Closed (VUs) or open (arrival rate) model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LoadModel {
    Closed,
    /// `rate` iterations per second on at most `max_vus` VUs.
    Open {
        rate: f64,
        max_vus: u32,
    },
}

/// Ramp linearly to `target` (VUs or iterations/s) over `duration`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    pub duration: Duration,
    pub target: f64,
}

/// When a run ends by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopAt {
    /// Run time (excluding pauses) after which no new request starts.
    pub duration: Option<Duration>,
    /// Total iterations (one request each, for now) after which no new one starts.
    pub iterations: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub model: LoadModel,
    /// Closed model: starting VUs.
    pub vus: u32,
    pub stages: Vec<Stage>,
    pub pacing: Option<Duration>,
    pub stop: StopAt,
    pub think_time: ThinkTime,
    /// How long in-flight requests may finish after the run ends before being aborted.
    pub graceful_stop: Duration,
}

#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub insecure: bool,
    pub cookies: bool,
    pub retry: super::RetryPolicy,
    /// `[http] version`: HTTP/1.1, HTTP/2, or HTTP/2 where TLS negotiates it.
    pub version: super::HttpVersion,
    /// HTTP/2 connections shared by VUs; `None`: one per VU.
    pub sharing: Option<H2Sharing>,
    /// Source addresses connections are bound to in turn (`[http] local_addresses`,
    /// `--bind`); empty: the system's choice.
    pub local_addresses: Vec<std::net::IpAddr>,
}

impl HttpOptions {
    /// Requests one VU may have in flight at once in a batch step: the streams of its
    /// HTTP/2 connection (`streams_per_connection`), else 1.
    pub fn streams(&self) -> usize {
        match self.sharing {
            Some(H2Sharing::PerConnection(n)) => n.max(1) as usize,
            _ => 1,
        }
    }
}

/// How VUs use HTTP/2 connections (`[http] streams_per_connection`, `connections`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H2Sharing {
    /// Each VU has its own connection with up to `n` streams open on it (a batch step's
    /// requests, sent together).
    PerConnection(u64),
    /// `n` connections for all VUs: VU `k` sends on connection `k mod n`.
    Connections(u64),
}

impl H2Sharing {
    /// The connection (per origin) of VU `vu` (0-based).
    pub fn slot(self, vu: u64) -> usize {
        match self {
            H2Sharing::PerConnection(_) => vu as usize,
            H2Sharing::Connections(n) => (vu % n.max(1)) as usize,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    /// Where the plan came from (a file path, or "command line").
    pub source: String,
    pub base_url: reqwest::Url,
    pub endpoints: Vec<Endpoint>,
    pub load: LoadPlan,
    pub http: HttpOptions,
    pub users: Vec<UserType>,
    /// Names of captured variables, by index.
    pub vars: Vec<String>,
    pub data: Vec<DataSet>,
    /// Every check of every endpoint, by id: (endpoint, name).
    pub checks: Vec<(usize, String)>,
    pub thresholds: Vec<ThresholdSpec>,
    /// The scenario text (for reports), when it came from a file.
    pub text: Option<String>,
    /// The command-line options that replaced the scenario's own values, as given:
    /// `--vus 50`, `--duration 10s` (for reports).
    pub overrides: Vec<String>,
    /// The target's resources to sample beside the load (`[monitor]`, `--monitor`).
    pub monitor: Option<crate::monitor::MonitorSpec>,
}

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_GRACEFUL_STOP: Duration = Duration::from_secs(5);

impl Plan {
    /// Points every endpoint at `target` instead of the scenario's base URL, keeping paths.
    pub fn retarget(&mut self, target: &reqwest::Url) {
        let old_base = self.base_url.clone();
        for ep in &mut self.endpoints {
            if ep.url.origin() == old_base.origin() {
                let old_prefix = old_base.path().trim_end_matches('/');
                let rest = ep
                    .url
                    .path()
                    .strip_prefix(old_prefix)
                    .unwrap_or(ep.url.path());
                let mut url = target.clone();
                let new_path = format!("{}{}", target.path().trim_end_matches('/'), rest);
                url.set_path(&new_path);
                url.set_query(ep.url.query());
                ep.url = url;
            }
        }
        self.base_url = target.clone();
    }

    /// Why `addrs` cannot be the source addresses of this plan's connections: one of them
    /// is of a family (IPv4, IPv6) no target the plan names by address has, or such a
    /// target has no source address of its family, or a request runs on the reqwest
    /// client (which binds none of them). `(the address at fault, if one, the reason)`.
    pub fn local_addresses_conflict(
        &self,
        addrs: &[std::net::IpAddr],
    ) -> Option<(Option<std::net::IpAddr>, String)> {
        if addrs.is_empty() {
            return None;
        }
        if let Some(ep) = self
            .endpoints
            .iter()
            .find(|e| e.client == ClientKind::Reqwest && e.ws.is_none())
        {
            return Some((
                None,
                format!(
                    "request '{}' runs on the reqwest client (follow_redirects or client = \"reqwest\"), which binds no source address: use the h1 or hyper client",
                    ep.name
                ),
            ));
        }
        let family = |v4: bool| if v4 { "IPv4" } else { "IPv6" };
        // Targets named by address (a name may resolve to either family).
        let targets: Vec<(bool, &str)> = self
            .endpoints
            .iter()
            .filter_map(|e| {
                let host = e.url.host_str()?;
                let ip: std::net::IpAddr = host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse()
                    .ok()?;
                Some((ip.is_ipv4(), host))
            })
            .collect();
        for a in addrs {
            if let Some((_, host)) = targets.iter().find(|(v4, _)| *v4 != a.is_ipv4()) {
                if !targets.iter().any(|(v4, _)| *v4 == a.is_ipv4()) {
                    return Some((
                        Some(*a),
                        format!(
                            "{a} is an {} address but the target {host} is {}",
                            family(a.is_ipv4()),
                            family(!a.is_ipv4())
                        ),
                    ));
                }
            }
        }
        for (v4, host) in &targets {
            if !addrs.iter().any(|a| a.is_ipv4() == *v4) {
                return Some((
                    None,
                    format!(
                        "the target {host} is {} and no source address is",
                        family(*v4)
                    ),
                ));
            }
        }
        None
    }

    pub fn total_weight(&self) -> u64 {
        self.endpoints.iter().map(|e| e.weight as u64).sum()
    }

    /// Every endpoint's (name, method), in order: what snapshots list.
    pub fn endpoint_names(&self) -> Vec<(String, String)> {
        self.endpoints
            .iter()
            .map(|e| (e.name.clone(), e.method.to_string()))
            .collect()
    }
}

/// Joins a base URL and a request path: `http://h/api` + `/items?x=1`.
pub fn join_url(base: &reqwest::Url, path: &str) -> Result<reqwest::Url, String> {
    if path.starts_with("http://") || path.starts_with("https://") {
        return super::model::parse_base_url(path);
    }
    if !path.starts_with('/') {
        return Err(format!("path '{path}' must start with '/'"));
    }
    // Append rather than join: the URL crate's join would drop the base's path prefix.
    let mut base = base.clone();
    base.set_query(None);
    base.set_fragment(None);
    let joined = format!("{}{}", base.as_str().trim_end_matches('/'), path);
    reqwest::Url::parse(&joined).map_err(|e| format!("invalid path '{path}': {e}"))
}

pub fn header_pair(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let n = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("invalid header name '{name}'"))?;
    let v = HeaderValue::from_str(value.trim())
        .map_err(|_| format!("invalid value for header '{name}'"))?;
    Ok((n, v))
}

/// Header names whose values are secrets: never printed.
pub fn is_secret_header(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "authorization" | "cookie" | "set-cookie" | "proxy-authorization" | "x-api-key"
    )
}

impl fmt::Display for Plan {
    /// The plan as `volley check` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "scenario   {}", self.name)?;
        writeln!(f, "source     {}", self.source)?;
        writeln!(f, "target     {}", self.base_url)?;
        let l = &self.load;
        match l.model {
            LoadModel::Closed => write!(f, "load       closed model, {} VUs", l.vus)?,
            LoadModel::Open { rate, max_vus } => write!(
                f,
                "load       open model, {rate}/s on at most {max_vus} VUs (latency corrected for coordinated omission)"
            )?,
        }
        match (l.stop.duration, l.stop.iterations) {
            (Some(d), Some(n)) => write!(f, ", {} or {n} iterations", format_duration(d))?,
            (Some(d), None) => write!(f, " for {}", format_duration(d))?,
            (None, Some(n)) => write!(f, ", {n} iterations")?,
            (None, None) => write!(f, ", until stopped")?,
        }
        writeln!(f)?;
        let unit = if matches!(l.model, LoadModel::Open { .. }) {
            "/s"
        } else {
            " VUs"
        };
        for (i, st) in l.stages.iter().enumerate() {
            writeln!(
                f,
                "  stage {}  {:>8}  -> {}{unit}",
                i + 1,
                format_duration(st.duration),
                st.target
            )?;
        }
        match l.pacing {
            Some(p) => writeln!(f, "pacing     an iteration every {}", format_duration(p))?,
            None => writeln!(f, "think time {}", l.think_time)?,
        }
        writeln!(f, "grace      {}", format_duration(l.graceful_stop))?;
        if self.http.insecure {
            writeln!(f, "tls        certificates NOT verified (--insecure)")?;
        }
        match self.http.version {
            super::HttpVersion::Http1 => {}
            super::HttpVersion::Http2 => writeln!(
                f,
                "http       2 (ALPN h2 over TLS, prior knowledge on cleartext){}",
                match self.http.sharing {
                    None => String::new(),
                    Some(H2Sharing::PerConnection(n)) =>
                        format!(", up to {n} streams per VU's connection (batch steps)"),
                    Some(H2Sharing::Connections(n)) =>
                        format!(", {n} connections shared by all VUs"),
                }
            )?,
            super::HttpVersion::Auto => writeln!(
                f,
                "http       auto (HTTP/2 where TLS negotiates it, else HTTP/1.1)"
            )?,
        }
        if self.http.retry != super::RetryPolicy::Stale {
            writeln!(
                f,
                "retry      {}: a request a reused connection dropped is an error",
                self.http.retry.as_str()
            )?;
        }
        // With [[user]] types, their tasks and steps choose requests: a request's own
        // weight plays no part, so it is not shown.
        let user_types =
            self.users.len() > 1 || self.users.first().is_some_and(|u| u.name != "default");
        if user_types {
            let total: u32 = self.users.iter().map(|u| u.weight).sum::<u32>().max(1);
            writeln!(f, "users      {}", self.users.len())?;
            for u in &self.users {
                let names = |idx: &[usize]| -> String {
                    idx.iter()
                        .map(|&i| self.endpoints[i].name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let flow = match &u.flow {
                    Flow::Tasks(t) => format!(
                        "tasks {}",
                        t.iter()
                            .map(|(i, w)| format!("{}={w}", self.endpoints[*i].name))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    Flow::Steps(s) => format!(
                        "steps {}",
                        s.iter()
                            .map(|st| match st {
                                Step::One(i) => self.endpoints[*i].name.clone(),
                                Step::Batch(b) => format!("[{}]", names(b)),
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                writeln!(
                    f,
                    "  {:<12} weight {:>3} ({:>5.1}%)  {}{}",
                    u.name,
                    u.weight,
                    u.weight as f64 * 100.0 / total as f64,
                    if u.on_start.is_empty() {
                        String::new()
                    } else {
                        format!("on_start {}; ", names(&u.on_start))
                    },
                    flow
                )?;
            }
        }
        for d in &self.data {
            writeln!(
                f,
                "data       {}: {} rows, columns {}",
                d.name,
                d.rows.len(),
                d.columns.join(", ")
            )?;
        }
        let total = self.total_weight().max(1) as f64;
        writeln!(f, "requests   {}", self.endpoints.len())?;
        for ep in &self.endpoints {
            let url = match ep.template.as_ref().and_then(|t| t.path.as_ref()) {
                Some(t) => format!(
                    "{}{}",
                    ep.url.origin().ascii_serialization(),
                    t.describe(
                        &|i| self.vars.get(i).cloned().unwrap_or_default(),
                        &|d, c| match self.data.get(d) {
                            Some(set) => format!(
                                "{}.{}",
                                set.name,
                                set.columns.get(c).map_or("", String::as_str)
                            ),
                            None => String::new(),
                        },
                    )
                ),
                None => ep.url.to_string(),
            };
            let weight = if user_types {
                String::new()
            } else {
                format!(
                    "weight {:>3} ({:>5.1}%)  ",
                    ep.weight,
                    ep.weight as f64 * 100.0 / total
                )
            };
            writeln!(
                f,
                "  {:<24} {:<7} {:<40} {weight}timeout {}  via {}{}",
                ep.name,
                ep.method.as_str(),
                url,
                format_duration(ep.timeout),
                ep.client,
                if ep.body.is_empty() {
                    String::new()
                } else {
                    format!("  body {} bytes", ep.body.len())
                }
            )?;
            for (name, value) in &ep.headers {
                let shown = if is_secret_header(name.as_str()) || value.is_sensitive() {
                    "[redacted]"
                } else {
                    value.to_str().unwrap_or("[binary]")
                };
                writeln!(f, "      {}: {}", name, shown)?;
            }
            for c in &ep.checks {
                writeln!(f, "      check   {}", c.name)?;
            }
            for c in &ep.captures {
                writeln!(f, "      capture {}", c.name)?;
            }
        }
        for t in &self.thresholds {
            let scope = t.endpoint.map_or("all requests".to_string(), |i| {
                self.endpoints[i].name.clone()
            });
            writeln!(
                f,
                "threshold  {}  ({scope}){}",
                t.threshold,
                if t.abort_on_fail {
                    ", aborts the run when it fails"
                } else {
                    ""
                }
            )?;
        }
        Ok(())
    }
}
