//! The scenario file as written: serde structs that refuse unknown keys.
//!
//! Values that can be checked alone (durations, counts, URLs, methods) are checked while
//! deserializing, so toml's spans point at the offending value.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_spanned::Spanned;

use super::duration::{HumanDuration, ThinkTime};

/// Most virtual users one engine will run. Above this a typo is more likely than intent.
pub const MAX_VUS: u64 = 100_000;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: String,
    /// Base URL every request path is appended to.
    #[schemars(with = "BaseUrl")]
    pub base_url: Spanned<BaseUrl>,
    #[serde(default = "empty_headers")]
    #[schemars(with = "BTreeMap<String, String>")]
    pub headers: Spanned<BTreeMap<String, String>>,
    pub timeout: Option<HumanDuration>,
    #[serde(default)]
    pub load: LoadSection,
    #[serde(default)]
    pub http: HttpSection,
    #[serde(default, rename = "request")]
    pub requests: Vec<RequestSection>,
    /// User types; without any, one implicit user picks requests by weight.
    #[serde(default, rename = "user")]
    pub users: Vec<UserSection>,
    /// CSV data files.
    #[serde(default, rename = "data")]
    pub data: Vec<DataSection>,
    /// Whole-run thresholds in short form: ["p95 < 500ms", "error_rate < 1%"].
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub thresholds: Vec<Spanned<String>>,
    /// Thresholds with options.
    #[serde(default, rename = "threshold")]
    pub threshold_tables: Vec<ThresholdSection>,
    /// The target's resources, sampled beside the load.
    #[schemars(with = "Option<MonitorSection>")]
    pub monitor: Option<Spanned<MonitorSection>>,
}

/// `[monitor]`: one source (a Prometheus URL, a process id or a process name).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitorSection {
    /// A Prometheus exposition URL of the target (node_exporter, cAdvisor, the app's own).
    #[schemars(with = "Option<String>")]
    pub prometheus: Option<Spanned<String>>,
    /// Series to read from `prometheus`: names with optional label matchers.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub series: Vec<Spanned<String>>,
    pub pid: Option<u32>,
    pub process: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserSection {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    pub weight: Option<Weight>,
    /// Requests run once when a VU of this type starts (log in).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub on_start: Vec<Spanned<String>>,
    /// Weighted tasks: request name -> weight; one per iteration.
    #[schemars(with = "Option<BTreeMap<String, Weight>>")]
    pub tasks: Option<Spanned<BTreeMap<String, Weight>>>,
    /// An ordered list of requests run as one iteration. A list inside the list is a
    /// batch: its requests are sent together, as a browser loads a page's resources (at
    /// most `[http] streams_per_connection` at a time, on the VU's one HTTP/2 connection).
    #[schemars(with = "Option<Vec<StepSchema>>")]
    pub steps: Option<Vec<Spanned<toml::Value>>>,
    pub think_time: Option<ThinkTime>,
    pub pacing: Option<HumanDuration>,
}

/// A step of a flow, for the JSON schema: a request's name, or a batch of names.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum StepSchema {
    One(String),
    Batch(Vec<String>),
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    #[schemars(with = "String")]
    pub file: Spanned<String>,
    #[serde(default)]
    pub mode: DataMode,
}

/// How a data file's rows are handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataMode {
    /// Row after row over all VUs, wrapping around.
    #[default]
    Sequential,
    /// A random row each iteration.
    Random,
    /// Each VU keeps one row (VU n gets row n, wrapping).
    PerVu,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThresholdSection {
    #[schemars(with = "String")]
    pub expr: Spanned<String>,
    /// Name of the request it applies to (default: all requests).
    #[schemars(with = "Option<String>")]
    pub endpoint: Option<Spanned<String>>,
    #[serde(default)]
    pub abort_on_fail: bool,
    /// How long after the start an abort may happen at the earliest (default 0s).
    pub abort_grace: Option<HumanDuration>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptureSection {
    /// The variable to set.
    #[schemars(with = "String")]
    pub var: Spanned<String>,
    #[schemars(with = "Option<String>")]
    pub json: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub header: Option<Spanned<String>>,
    #[schemars(with = "Option<String>")]
    pub regex: Option<Spanned<String>>,
    /// Regex group (default 1, or 0 when the regex has no group).
    pub group: Option<usize>,
    /// Read `json` or `regex` from this event of a streamed response ("first", "last"
    /// or a 0-based index) instead of the body.
    #[schemars(with = "Option<serde_json::Value>")]
    pub event: Option<Spanned<toml::Value>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckSection {
    pub name: Option<String>,
    /// 200, [200, 201], or "200..299".
    #[schemars(with = "Option<serde_json::Value>")]
    pub status: Option<Spanned<toml::Value>>,
    pub body_contains: Option<String>,
    #[schemars(with = "Option<String>")]
    pub json_path: Option<Spanned<String>>,
    /// With json_path: the value it must equal (otherwise it must exist).
    #[schemars(with = "Option<serde_json::Value>")]
    pub equals: Option<toml::Value>,
    /// A header that must be present.
    #[schemars(with = "Option<String>")]
    pub header: Option<Spanned<String>>,
    pub latency_under: Option<HumanDuration>,
    /// A streamed response's number of events: 5, or a range like "1..100" or "1..".
    #[schemars(with = "Option<serde_json::Value>")]
    pub events: Option<Spanned<toml::Value>>,
    /// With body_contains or json_path: look at this event of a streamed response
    /// ("first", "last" or a 0-based index) instead of the body.
    #[schemars(with = "Option<serde_json::Value>")]
    pub event: Option<Spanned<toml::Value>>,
}

/// One step of a stage list: ramp linearly to `target` over `duration`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StageSection {
    pub duration: HumanDuration,
    /// VUs (closed model) or iterations per second (open model).
    #[schemars(with = "f64")]
    pub target: Spanned<f64>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadSection {
    /// "closed" (VUs) or "open" (arrival rate); inferred from `rate` when absent.
    pub model: Option<LoadModelChoice>,
    /// Starting VUs; 0 only makes sense with stages.
    #[schemars(with = "Option<Weight>")]
    pub vus: Option<Spanned<Weight>>,
    /// Open model: iterations per second ("200/s", "1200/m" or a number per second).
    #[schemars(with = "Option<Rate>")]
    pub rate: Option<Spanned<Rate>>,
    /// Open model: most VUs to run iterations on.
    #[schemars(with = "Option<Count>")]
    pub max_vus: Option<Spanned<Count>>,
    /// Closed model: each iteration starts this long after the previous one started.
    pub pacing: Option<HumanDuration>,
    #[serde(default)]
    pub stages: Vec<StageSection>,
    pub duration: Option<HumanDuration>,
    pub iterations: Option<Count>,
    pub think_time: Option<ThinkTime>,
    pub graceful_stop: Option<HumanDuration>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    pub client: Option<ClientChoice>,
    pub insecure: Option<bool>,
    pub follow_redirects: Option<bool>,
    pub cookies: Option<bool>,
    pub retry: Option<RetryPolicy>,
    #[schemars(with = "Option<HttpVersion>")]
    pub version: Option<Spanned<HttpVersion>>,
    /// HTTP/2: streams one VU may have open at once on its connection (default 1: one
    /// request in flight). More lets a VU send a batch step's requests together, like a
    /// browser; it never adds iterations.
    #[schemars(with = "Option<Count>")]
    pub streams_per_connection: Option<Spanned<Count>>,
    /// HTTP/2: this many connections (per origin), shared by all VUs (oha's model): VU k
    /// sends on connection k mod N.
    #[schemars(with = "Option<Count>")]
    pub connections: Option<Spanned<Count>>,
    /// More header names whose values are secrets (never printed), beyond the built-in
    /// Authorization, Cookie, Set-Cookie, Proxy-Authorization and X-Api-Key.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub secret_headers: Vec<Spanned<String>>,
    /// Source addresses outgoing connections are bound to, in turn (e.g. "127.0.0.2",
    /// "127.0.0.3"): each has its own ephemeral ports, so more of them carry more
    /// connections to one target address. `--bind` replaces them.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub local_addresses: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestSection {
    #[schemars(with = "Option<String>")]
    pub name: Option<Spanned<String>>,
    #[serde(default)]
    pub method: Option<Method>,
    #[schemars(with = "String")]
    pub path: Spanned<String>,
    #[serde(default = "empty_headers")]
    #[schemars(with = "BTreeMap<String, String>")]
    pub headers: Spanned<BTreeMap<String, String>>,
    #[schemars(with = "Option<String>")]
    pub body: Option<Spanned<String>>,
    #[schemars(with = "Option<serde_json::Value>")]
    pub json: Option<Spanned<toml::Value>>,
    pub weight: Option<Weight>,
    pub timeout: Option<HumanDuration>,
    pub follow_redirects: Option<bool>,
    #[serde(default)]
    #[schemars(with = "Vec<CaptureSection>")]
    pub capture: Vec<Spanned<CaptureSection>>,
    #[serde(default)]
    #[schemars(with = "Vec<CheckSection>")]
    pub check: Vec<Spanned<CheckSection>>,
    /// Thresholds on this request alone.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub thresholds: Vec<Spanned<String>>,
    /// Time the response as a stream (time to first byte, to the first event or chunk,
    /// gaps between events); `text/event-stream` responses always are.
    #[schemars(with = "Option<bool>")]
    pub stream: Option<Spanned<bool>>,
    /// Longest silence inside a streamed response before it counts as stalled
    /// (default 10s).
    pub stream_idle: Option<HumanDuration>,
    /// "http" (the default) or "websocket" (also implied by a ws:// or wss:// path).
    #[schemars(with = "Option<String>")]
    pub protocol: Option<Spanned<String>>,
    /// A WebSocket request's step script, one step a line: send, send json, expect
    /// contains|regex|json, receive N, sleep, close, echo MESSAGE at RATE for DURATION
    /// (see docs/scenario.md).
    #[schemars(with = "Option<String>")]
    pub ws: Option<Spanned<String>>,
    /// Largest WebSocket message (and frame) accepted, bytes (default 1048576).
    #[schemars(with = "Option<u64>")]
    pub ws_max_message: Option<Spanned<u64>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LoadModelChoice {
    Closed,
    Open,
}

/// Iterations per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate(pub f64);

pub use crate::units::parse_rate;

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Rate;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a rate like \"200/s\" or a number per second")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Rate, E> {
                self.visit_f64(v as f64)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Rate, E> {
                parse_rate(&v.to_string()).map(Rate).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Rate, E> {
                parse_rate(v).map(Rate).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// Which HTTP client executes requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClientChoice {
    /// volley's own HTTP/1.1 client unless a request needs reqwest's features.
    #[default]
    Auto,
    H1,
    Hyper,
    Reqwest,
}

/// `[http] version`: which HTTP the requests speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpVersion {
    /// HTTP/1.1 only (as before there was a choice).
    #[default]
    Http1,
    /// HTTP/2 only: ALPN `h2` over TLS, prior knowledge (h2c) on cleartext.
    Http2,
    /// HTTP/2 when a TLS server offers it through ALPN, else HTTP/1.1; HTTP/1.1 on
    /// cleartext.
    Auto,
}

impl HttpVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpVersion::Http1 => "1.1",
            HttpVersion::Http2 => "2",
            HttpVersion::Auto => "auto",
        }
    }
}

impl<'de> Deserialize<'de> for HttpVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        const EXPECTED: &str = r#"must be "1.1", "2" or "auto""#;
        impl Visitor<'_> for V {
            type Value = HttpVersion;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#""1.1", "2" or "auto""#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HttpVersion, E> {
                match v.trim() {
                    "1.1" | "1" | "http/1.1" => Ok(HttpVersion::Http1),
                    "2" | "h2" | "h2c" => Ok(HttpVersion::Http2),
                    "auto" => Ok(HttpVersion::Auto),
                    _ => Err(E::custom(format!("{EXPECTED}, got \"{v}\""))),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<HttpVersion, E> {
                match v {
                    1 => Ok(HttpVersion::Http1),
                    2 => Ok(HttpVersion::Http2),
                    _ => Err(E::custom(format!("{EXPECTED}, got {v}"))),
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<HttpVersion, E> {
                if v == 1.1 || v == 1.0 {
                    Ok(HttpVersion::Http1)
                } else if v == 2.0 {
                    Ok(HttpVersion::Http2)
                } else {
                    Err(E::custom(format!("{EXPECTED}, got {v}")))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Whether a request whose reused keep-alive connection ended before any response is
/// sent again on a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RetryPolicy {
    /// Once, for an idempotent request (any request the server provably did not get);
    /// the first attempt is counted in `retries`.
    #[default]
    Stale,
    /// Never: the failed attempt is the request's result, an error (as wrk counts it).
    Never,
}

impl RetryPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            RetryPolicy::Stale => "stale",
            RetryPolicy::Never => "never",
        }
    }
}

/// A positive count (VUs, iterations), at most [`MAX_VUS`] for VUs is checked later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count(pub u64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a whole number of at least 1")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Count, E> {
                if v < 1 {
                    Err(E::custom(format!("must be at least 1, got {v}")))
                } else {
                    Ok(Count(v as u64))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Count, E> {
                self.visit_i64(v.min(i64::MAX as u64) as i64)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Count, E> {
                Err(E::custom(format!("must be a whole number, got {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Count, E> {
                Err(E::custom(format!(
                    "must be a number, not the string \"{v}\" (drop the quotes)"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// A request's relative weight: 0 (never picked) or more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weight(pub u32);

impl<'de> Deserialize<'de> for Weight {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Weight;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a whole number, 0 or more")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Weight, E> {
                if v < 0 {
                    Err(E::custom(format!("must be 0 or more, got {v}")))
                } else if v > 1_000_000 {
                    Err(E::custom(format!("must be at most 1000000, got {v}")))
                } else {
                    Ok(Weight(v as u32))
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Weight, E> {
                Err(E::custom(format!("must be a whole number, got {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Weight, E> {
                Err(E::custom(format!(
                    "must be a number, not the string \"{v}\" (drop the quotes)"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// An HTTP method, upper-cased and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Method(pub http::Method);

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_method(&s).map(Method).map_err(de::Error::custom)
    }
}

pub fn parse_method(s: &str) -> Result<http::Method, String> {
    let upper = s.to_ascii_uppercase();
    match upper.as_str() {
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS" => {
            Ok(http::Method::from_bytes(upper.as_bytes()).expect("known method"))
        }
        _ => Err(format!(
            "unknown HTTP method '{s}' (expected GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS)"
        )),
    }
}

/// An absolute http(s) URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(pub reqwest::Url);

impl<'de> Deserialize<'de> for BaseUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_base_url(&s).map(BaseUrl).map_err(de::Error::custom)
    }
}

pub fn parse_base_url(s: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(s).map_err(|e| format!("invalid URL '{s}': {e}"))?;
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(format!(
                "invalid URL '{s}': scheme '{other}' is not supported (use http or https)"
            ))
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("invalid URL '{s}': it has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Never echo the credentials: show the URL without them.
        let mut shown = url.clone();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        return Err(format!(
            "URL '{shown}' has a user name or password in it (user:password@): send credentials in an Authorization header, which is never printed; a URL is shown in results"
        ));
    }
    Ok(url)
}

/// A URL as a person types it on the command line. Without a scheme, `http://` is
/// assumed as curl and oha do (`localhost:8080/x`, `127.0.0.1:8080/x`, `api.test/x`),
/// when what follows looks like a host: localhost, an IP address, a name with a dot, or
/// any name with a port (a bare word like a mistyped command is not sent anywhere).
/// Returns the URL and whether `http://` was assumed.
pub fn parse_user_url(s: &str) -> Result<(reqwest::Url, bool), String> {
    let t = s.trim();
    let plain = parse_base_url(t);
    if plain.is_ok() || t.contains("://") {
        return plain.map(|u| (u, false));
    }
    let with_http = format!("http://{t}");
    match reqwest::Url::parse(&with_http) {
        // Credentials get parse_base_url's message, which does not echo them.
        Ok(u) if looks_like_a_host(&u) || !u.username().is_empty() => {
            parse_base_url(&with_http).map(|u| (u, true))
        }
        _ => plain.map(|u| (u, false)),
    }
}

fn looks_like_a_host(u: &reqwest::Url) -> bool {
    let Some(host) = u.host_str() else {
        return false;
    };
    let ip = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_ok();
    ip || host == "localhost" || host.contains('.') || u.port().is_some()
}

fn empty_headers() -> Spanned<BTreeMap<String, String>> {
    Spanned::new(0..0, BTreeMap::new())
}

// JSON Schema of the values checked while deserializing (see `volley schema`). Each says
// what its Deserialize accepts, so editors flag what volley would refuse.

macro_rules! schema_of {
    ($ty:ty, $name:literal, $schema:tt) => {
        impl JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!($schema)
            }
        }
    };
}

schema_of!(Rate, "Rate", {
    "description": "Iterations per second: a number, or \"200/s\", \"1200/m\", \"10/h\".",
    "anyOf": [
        { "type": "number", "exclusiveMinimum": 0, "maximum": 1_000_000 },
        { "type": "string", "pattern": "^\\s*[0-9.]+\\s*(/\\s*(s|sec|second|m|min|minute|h|hour)\\s*)?$" }
    ]
});

schema_of!(HttpVersion, "HttpVersion", {
    "description": "Which HTTP the requests speak: \"1.1\", \"2\" (h2c prior knowledge on cleartext, ALPN h2 over TLS) or \"auto\" (ALPN over TLS, HTTP/1.1 on cleartext).",
    "anyOf": [
        { "type": "string", "enum": ["1.1", "1", "http/1.1", "2", "h2", "h2c", "auto"] },
        { "type": "number", "enum": [1, 1.1, 2] }
    ]
});

schema_of!(Count, "Count", {
    "description": "A whole number of at least 1.",
    "type": "integer",
    "minimum": 1
});

schema_of!(Weight, "Weight", {
    "description": "A relative weight: a whole number from 0 (never picked) to 1000000.",
    "type": "integer",
    "minimum": 0,
    "maximum": 1_000_000
});

schema_of!(Method, "Method", {
    "description": "An HTTP method.",
    "type": "string",
    "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
             "get", "post", "put", "patch", "delete", "head", "options"]
});

schema_of!(BaseUrl, "BaseUrl", {
    "description": "An absolute http or https URL, without user:password@.",
    "type": "string",
    "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/@]+(/.*)?$"
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_urls_without_a_scheme_get_http() {
        for (typed, want) in [
            ("localhost:8080/x", "http://localhost:8080/x"),
            ("127.0.0.1:8080/x", "http://127.0.0.1:8080/x"),
            ("[::1]:8080/", "http://[::1]:8080/"),
            ("api.example.test/health", "http://api.example.test/health"),
            ("localhost", "http://localhost/"),
            ("box:9000", "http://box:9000/"),
        ] {
            let (url, assumed) = parse_user_url(typed).unwrap();
            assert_eq!((url.as_str(), assumed), (want, true), "{typed}");
        }
        let (url, assumed) = parse_user_url("https://127.0.0.1:1/a").unwrap();
        assert_eq!((url.as_str(), assumed), ("https://127.0.0.1:1/a", false));
        // A bare word (a mistyped command) is not a host; other schemes stay refused.
        assert!(parse_user_url("demoo").unwrap_err().contains("'demoo'"));
        assert!(parse_user_url("not a url")
            .unwrap_err()
            .contains("invalid URL"));
        assert!(parse_user_url("ftp://h/x")
            .unwrap_err()
            .contains("scheme 'ftp'"));
        assert!(parse_user_url("user:pw@localhost:80/")
            .unwrap_err()
            .contains("user name or password"));
    }
}
