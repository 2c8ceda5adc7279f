//! HAR 1.2 -> one user whose steps replay the recording.
//!
//! The file is read as a stream: serde_json walks `log.entries` one entry at a time
//! (a seed over the top-level maps), so memory grows with the distinct requests kept
//! (at most [`MAX_REQUESTS`]) and the largest single entry, not with the file.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::draft::{Body, Draft, Load, Request, Step, User};
use super::{glob_match, split_url, ImportError};

/// Distinct requests kept; more are counted and dropped.
pub const MAX_REQUESTS: usize = 500;
/// Steps kept (a request may repeat); more are counted and dropped.
pub const MAX_STEPS: usize = 1000;
/// JSON response bodies up to this size are searched for the tokens later requests send.
const MAX_TOKEN_BODY: usize = 256 * 1024;
/// Strings remembered from responses to find where a token came from.
const MAX_TOKEN_CANDIDATES: usize = 20_000;

#[derive(Debug, Clone, Default)]
pub struct HarOptions {
    pub include_host: Vec<String>,
    pub exclude: Vec<String>,
    pub keep_static: bool,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "startedDateTime", default)]
    started: String,
    #[serde(default)]
    time: f64,
    request: HarRequest,
    #[serde(default)]
    response: HarResponse,
}

#[derive(Deserialize)]
struct HarRequest {
    method: String,
    url: String,
    #[serde(default)]
    headers: Vec<NameValue>,
    #[serde(rename = "postData")]
    post_data: Option<PostData>,
}

#[derive(Deserialize)]
struct NameValue {
    name: String,
    value: String,
}

#[derive(Deserialize)]
struct PostData {
    #[serde(rename = "mimeType", default)]
    mime: String,
    text: Option<String>,
    encoding: Option<String>,
}

#[derive(Deserialize, Default)]
struct HarResponse {
    #[serde(default)]
    headers: Vec<NameValue>,
    #[serde(default)]
    content: Content,
}

#[derive(Deserialize, Default)]
struct Content {
    #[serde(rename = "mimeType", default)]
    mime: String,
    text: Option<String>,
    encoding: Option<String>,
}

/// What the stream of entries builds up.
struct State<'a> {
    opts: &'a HarOptions,
    draft: Draft,
    origins: Vec<String>,
    /// (method, path, headers, body) -> request index.
    seen: HashMap<String, usize>,
    steps: Vec<String>,
    /// A string seen in a JSON response -> (request index, JSON path). Never written out.
    token_sources: HashMap<String, (usize, String)>,
    /// Cookie names some response set.
    cookies_set: HashSet<String>,
    /// The end of the previous kept entry, in ms since the epoch.
    last_end: Option<f64>,
    gaps_ms: Vec<f64>,
    entries: u64,
    dropped_static: u64,
    dropped_filter: u64,
    dropped_binary: Vec<String>,
    dropped_scheme: u64,
    dropped_limit: u64,
}

/// Reads a HAR from `r` (streamed) and builds the draft.
pub fn from_reader<R: Read>(path: &Path, r: R, opts: &HarOptions) -> Result<Draft, ImportError> {
    let mut st = State {
        opts,
        draft: Draft {
            name: super::name_from(path, "har"),
            load: Load {
                vus: Some(1),
                duration: Some("30s".into()),
                ..Default::default()
            },
            ..Default::default()
        },
        origins: Vec::new(),
        seen: HashMap::new(),
        steps: Vec::new(),
        token_sources: HashMap::new(),
        cookies_set: HashSet::new(),
        last_end: None,
        gaps_ms: Vec::new(),
        entries: 0,
        dropped_static: 0,
        dropped_filter: 0,
        dropped_binary: Vec::new(),
        dropped_scheme: 0,
        dropped_limit: 0,
    };
    let mut de = serde_json::Deserializer::from_reader(r);
    let found = Root { st: &mut st }
        .deserialize(&mut de)
        .and_then(|found| de.end().map(|_| found))
        .map_err(|e| ImportError::input(path, format!("not a valid HAR file: {e}")))?;
    if !found {
        return Err(ImportError::input(
            path,
            "not a HAR file: no log.entries array",
        ));
    }
    st.finish(path)
}

struct Root<'s, 'a> {
    st: &'s mut State<'a>,
}

impl<'de> DeserializeSeed<'de> for Root<'_, '_> {
    /// Whether `log.entries` was found.
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Root<'_, '_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a HAR object with a 'log'")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(k) = m.next_key::<String>()? {
            if k == "log" {
                found |= m.next_value_seed(Log { st: self.st })?;
            } else {
                m.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

struct Log<'s, 'a> {
    st: &'s mut State<'a>,
}

impl<'de> DeserializeSeed<'de> for Log<'_, '_> {
    type Value = bool;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Log<'_, '_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the HAR 'log' object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(k) = m.next_key::<String>()? {
            if k == "entries" {
                m.next_value_seed(Entries { st: self.st })?;
                found = true;
            } else {
                m.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

struct Entries<'s, 'a> {
    st: &'s mut State<'a>,
}

impl<'de> DeserializeSeed<'de> for Entries<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Entries<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the HAR 'entries' array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        while let Some(e) = s.next_element::<Entry>()? {
            self.st.entry(e);
        }
        Ok(())
    }
}

const STATIC_EXT: &[&str] = &[
    "js", "mjs", "css", "png", "jpg", "jpeg", "gif", "svg", "ico", "webp", "avif", "bmp", "woff",
    "woff2", "ttf", "otf", "eot", "map", "mp4", "webm", "mp3", "wav",
];

fn is_static(url: &reqwest::Url, mime: &str) -> bool {
    let ext = url
        .path()
        .rsplit('/')
        .next()
        .and_then(|f| f.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase());
    if ext.is_some_and(|e| STATIC_EXT.contains(&e.as_str())) {
        return true;
    }
    let m = mime.to_ascii_lowercase();
    [
        "image/",
        "font/",
        "video/",
        "audio/",
        "text/css",
        "javascript",
    ]
    .iter()
    .any(|p| m.contains(p))
}

/// Headers a browser adds by itself, which a load test should not copy.
fn is_noise(lower: &str) -> bool {
    lower.starts_with(':')
        || lower.starts_with("sec-")
        || matches!(
            lower,
            "accept-encoding"
                | "accept-language"
                | "user-agent"
                | "upgrade-insecure-requests"
                | "connection"
                | "host"
                | "content-length"
                | "cache-control"
                | "pragma"
                | "referer"
                | "origin"
                | "dnt"
                | "priority"
                | "if-none-match"
                | "if-modified-since"
                | "te"
                | "keep-alive"
                | "purpose"
                | "x-client-data"
        )
}

fn is_binary(pd: &PostData) -> bool {
    let m = pd.mime.to_ascii_lowercase();
    pd.encoding
        .as_deref()
        .is_some_and(|e| e.eq_ignore_ascii_case("base64"))
        || m.starts_with("image/")
        || m.starts_with("audio/")
        || m.starts_with("video/")
        || m.contains("octet-stream")
        || pd.text.as_deref().is_some_and(|t| {
            t.chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        })
}

/// `2024-05-01T10:00:00.123Z` or with a `+02:00` offset -> ms since the epoch.
fn parse_time(s: &str) -> Option<f64> {
    let (base, offset_min) = match s.get(19..).and_then(|t| t.rfind(['+', '-'])) {
        Some(i) => {
            let at = 19 + i;
            let off = &s[at + 1..];
            let (h, m) = off
                .split_once(':')
                .unwrap_or((off.get(..2)?, off.get(2..)?));
            let mins = h.parse::<u8>().ok()? as i64 * 60 + m.parse::<u8>().ok()? as i64;
            let sign = if &s[at..at + 1] == "-" { -1 } else { 1 };
            (format!("{}Z", &s[..at]), sign * mins)
        }
        None => (s.to_string(), 0),
    };
    let t = humantime::parse_rfc3339_weak(&base).ok()?;
    let ms = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64() * 1000.0;
    Some(ms - offset_min as f64 * 60_000.0)
}

/// String leaves of a JSON value (depth-limited) with their JSON paths.
fn leaves(v: &serde_json::Value, path: &str, depth: usize, out: &mut Vec<(String, String)>) {
    if depth > 6 {
        return;
    }
    match v {
        serde_json::Value::String(s) if s.len() >= 8 => out.push((s.clone(), path.to_string())),
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let p = if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    format!("{path}.{k}")
                } else {
                    format!("{path}['{}']", k.replace('\'', ""))
                };
                leaves(x, &p, depth + 1, out);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate().take(16) {
                leaves(x, &format!("{path}[{i}]"), depth + 1, out);
            }
        }
        _ => {}
    }
}

impl State<'_> {
    fn entry(&mut self, e: Entry) {
        self.entries += 1;
        let Ok(url) = reqwest::Url::parse(&e.request.url) else {
            self.dropped_scheme += 1;
            return;
        };
        if !matches!(url.scheme(), "http" | "https") {
            self.dropped_scheme += 1;
            return;
        }
        let host = url.host_str().unwrap_or("");
        if (!self.opts.include_host.is_empty()
            && !self.opts.include_host.iter().any(|p| glob_match(p, host)))
            || self
                .opts
                .exclude
                .iter()
                .any(|p| glob_match(p, url.as_str()))
        {
            self.dropped_filter += 1;
            return;
        }
        if !self.opts.keep_static && is_static(&url, &e.response.content.mime) {
            self.dropped_static += 1;
            return;
        }
        if e.request.post_data.as_ref().is_some_and(is_binary) {
            if self.dropped_binary.len() < 5 {
                self.dropped_binary
                    .push(format!("{} {}", e.request.method, url.path()));
            } else {
                self.dropped_binary.push(String::new());
            }
            return;
        }
        let Ok(method) = crate::scenario::parse_method(&e.request.method) else {
            self.dropped_filter += 1;
            return;
        };
        let method = method.to_string();
        if let (Some(start), Some(end)) = (parse_time(&e.started), self.last_end) {
            let gap = start - end;
            if gap > 0.0 && self.gaps_ms.len() < MAX_STEPS {
                self.gaps_ms.push(gap);
            }
        }
        if let Some(start) = parse_time(&e.started) {
            self.last_end = Some(start + e.time.max(0.0));
        }

        let (origin, path) = split_url(&url);
        let path = self.draft.secrets.path(&path);
        let mut headers = std::collections::BTreeMap::new();
        for h in &e.request.headers {
            let lower = h.name.to_ascii_lowercase();
            if is_noise(&lower) {
                continue;
            }
            let value = match lower.as_str() {
                "authorization" => self.authorization(&h.value),
                "cookie" => match self.cookie(&h.value) {
                    Some(v) => v,
                    None => continue,
                },
                _ => self.draft.secrets.header(&h.name, &h.value),
            };
            headers.insert(h.name.clone(), value);
        }
        let body = e.request.post_data.as_ref().and_then(|pd| {
            let text = pd.text.as_deref().filter(|t| !t.is_empty())?;
            if pd.mime.contains("json") {
                if let Ok(mut j) = serde_json::from_str::<serde_json::Value>(text) {
                    self.draft.secrets.json(&mut j);
                    headers.retain(|k: &String, _| !k.eq_ignore_ascii_case("content-type"));
                    return Some(Body::Json(j));
                }
            }
            Some(Body::Text(self.draft.secrets.form(text)))
        });
        if body.is_some()
            && !matches!(body, Some(Body::Json(_)))
            && !headers
                .keys()
                .any(|k| k.eq_ignore_ascii_case("content-type"))
        {
            if let Some(pd) = &e.request.post_data {
                if !pd.mime.is_empty() {
                    headers.insert("Content-Type".into(), pd.mime.clone());
                }
            }
        }
        let key = format!("{method} {origin}{path} {headers:?} {body:?}");
        let idx = match self.seen.get(&key) {
            Some(&i) => i,
            None => {
                if self.draft.requests.len() >= MAX_REQUESTS {
                    self.dropped_limit += 1;
                    return;
                }
                let name = self.draft.unique_name(&format!("{method} {}", url.path()));
                self.draft.requests.push(Request {
                    name,
                    method,
                    path,
                    headers,
                    body,
                    ..Default::default()
                });
                self.origins.push(origin);
                let i = self.draft.requests.len() - 1;
                self.seen.insert(key, i);
                i
            }
        };
        if self.steps.len() < MAX_STEPS {
            self.steps.push(self.draft.requests[idx].name.clone());
        } else {
            self.dropped_limit += 1;
        }
        self.remember_response(idx, &e.response);
    }

    /// Tokens and cookies this response handed out, for the requests after it.
    fn remember_response(&mut self, idx: usize, r: &HarResponse) {
        for h in &r.headers {
            if h.name.eq_ignore_ascii_case("set-cookie") && self.cookies_set.len() < 1000 {
                if let Some((n, _)) = h.value.split_once('=') {
                    self.cookies_set.insert(n.trim().to_string());
                }
            }
        }
        let c = &r.content;
        if !c.mime.contains("json") || c.encoding.is_some() {
            return;
        }
        let Some(text) = c.text.as_deref().filter(|t| t.len() <= MAX_TOKEN_BODY) else {
            return;
        };
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            return;
        };
        let mut out = Vec::new();
        leaves(&v, "$", 0, &mut out);
        for (s, p) in out {
            if self.token_sources.len() >= MAX_TOKEN_CANDIDATES {
                break;
            }
            self.token_sources.entry(s).or_insert((idx, p));
        }
    }

    /// A bearer token some earlier response returned becomes a capture; any other
    /// Authorization value a `{{env.…}}` placeholder.
    fn authorization(&mut self, value: &str) -> String {
        if let Some((scheme, token)) = value.split_once(' ') {
            if scheme.eq_ignore_ascii_case("bearer") {
                if let Some((src, path)) = self.token_sources.get(token.trim()).cloned() {
                    let r = &mut self.draft.requests[src];
                    if !r.captures.iter().any(|(v, _)| v == "token") {
                        r.captures.push(("token".into(), path));
                        r.comments.push(
                            "the recording shows the token comes from this response: captured as {{token}}"
                                .into(),
                        );
                    }
                    return "Bearer {{token}}".into();
                }
            }
        }
        self.draft.secrets.header("Authorization", value)
    }

    /// Cookies the recorded responses set go to a cookie jar (the header is dropped);
    /// others become a placeholder.
    fn cookie(&mut self, value: &str) -> Option<String> {
        let all_set = value
            .split(';')
            .filter_map(|c| c.split_once('=').map(|(n, _)| n.trim()))
            .all(|n| self.cookies_set.contains(n));
        if all_set {
            self.draft.cookies = true;
            None
        } else {
            Some(self.draft.secrets.header("Cookie", value))
        }
    }

    fn finish(mut self, path: &Path) -> Result<Draft, ImportError> {
        let binary = self.dropped_binary.len();
        let summary = format!(
            "{} entries read; kept {} requests ({} distinct); dropped {} static assets, {} by --include-host/--exclude, {} with binary bodies, {} not http(s), {} past the limits ({MAX_REQUESTS} requests, {MAX_STEPS} steps)",
            self.entries,
            self.steps.len(),
            self.draft.requests.len(),
            self.dropped_static,
            self.dropped_filter,
            binary,
            self.dropped_scheme,
            self.dropped_limit
        );
        if self.draft.requests.is_empty() {
            return Err(ImportError::input(
                path,
                format!("no request left to import: {summary}"),
            ));
        }
        let shown: Vec<&str> = self
            .dropped_binary
            .iter()
            .filter(|s| !s.is_empty())
            .map(String::as_str)
            .collect();
        if binary > 0 {
            self.draft.todos.push(format!(
                "{binary} request(s) with binary bodies cannot be written in a scenario and were left out: {}{}",
                shown.join(", "),
                if binary > shown.len() { ", ..." } else { "" }
            ));
        }
        let origins = std::mem::take(&mut self.origins);
        super::pick_base(&mut self.draft, &origins);
        // The request a token came from runs once per VU, before the steps.
        let on_start: Vec<String> = self
            .draft
            .requests
            .iter()
            .filter(|r| !r.captures.is_empty())
            .map(|r| r.name.clone())
            .collect();
        let steps: Vec<Step> = self
            .steps
            .iter()
            .filter(|s| !on_start.contains(s))
            .map(|s| Step::One(s.clone()))
            .collect();
        let mut comments =
            vec!["The recording, in order: each iteration replays these steps.".to_string()];
        let mut think_time = None;
        if !self.gaps_ms.is_empty() {
            let mut g = self.gaps_ms.clone();
            g.sort_by(f64::total_cmp);
            let (min, med, max) = (g[0], g[g.len() / 2], g[g.len() - 1]);
            comments.push(format!(
                "Recorded pauses between requests: min {}, median {}, max {}. volley pauses between",
                ms(min),
                ms(med),
                ms(max)
            ));
            comments.push(
                "iterations, not steps: the think time is the recording's median..max pause."
                    .into(),
            );
            if max >= 1.0 {
                think_time = Some(format!("{}..{}", ms(med.max(1.0)), ms(max)));
            }
        }
        let (on_start, steps) = if steps.is_empty() {
            (Vec::new(), on_start.into_iter().map(Step::One).collect())
        } else {
            (on_start, steps)
        };
        self.draft.users.push(User {
            name: "recorded".into(),
            on_start,
            steps,
            think_time,
            comments,
            ..Default::default()
        });
        self.draft.notes = vec![
            format!(
                "Scenario '{}', imported by volley from {}.",
                self.draft.name,
                path.display()
            ),
            summary,
            "One VU for 30s to begin with.".into(),
        ];
        Ok(self.draft)
    }
}

/// Milliseconds as a scenario duration: whole ms.
fn ms(v: f64) -> String {
    format!("{}ms", v.round().max(0.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_with_offsets() {
        let a = parse_time("2024-05-01T10:00:00.500Z").unwrap();
        let b = parse_time("2024-05-01T12:00:01.500+02:00").unwrap();
        assert_eq!(b - a, 1000.0);
        assert_eq!(
            parse_time("2024-05-01T10:00:00.000+99999999999999:00"),
            None
        );
        assert_eq!(parse_time("2024-05-01T10:00:0é"), None);
    }

    #[test]
    fn token_from_login_becomes_capture() {
        let har = r#"{"log":{"version":"1.2","entries":[
 {"startedDateTime":"2024-05-01T10:00:00.000Z","time":10,
  "request":{"method":"POST","url":"http://127.0.0.1:9/login","headers":[{"name":"Content-Type","value":"application/json"},{"name":"User-Agent","value":"x"}],
   "postData":{"mimeType":"application/json","text":"{\"username\":\"a\",\"password\":\"hunter2\"}"}},
  "response":{"status":200,"headers":[],"content":{"mimeType":"application/json","text":"{\"access_token\":\"tok-123456789\"}"}}},
 {"startedDateTime":"2024-05-01T10:00:01.010Z","time":5,
  "request":{"method":"GET","url":"http://127.0.0.1:9/api/items","headers":[{"name":"Authorization","value":"Bearer tok-123456789"},{"name":"sec-ch-ua","value":"x"}]},
  "response":{"status":200,"content":{"mimeType":"application/json","text":"[]"}}},
 {"startedDateTime":"2024-05-01T10:00:01.100Z","time":5,
  "request":{"method":"GET","url":"http://127.0.0.1:9/app.js","headers":[]},
  "response":{"status":200,"content":{"mimeType":"application/javascript"}}}
]}}"#;
        let d = from_reader(Path::new("t.har"), har.as_bytes(), &HarOptions::default()).unwrap();
        let t = d.to_toml();
        assert!(
            !t.contains("hunter2") && !t.contains("tok-123456789"),
            "{t}"
        );
        assert!(
            t.contains("capture = [{ var = \"token\", json = \"$.access_token\" }]"),
            "{t}"
        );
        assert!(t.contains("Bearer {{token}}"), "{t}");
        assert!(
            !t.to_ascii_lowercase().contains("user-agent") && !t.contains("sec-ch-ua"),
            "{t}"
        );
        assert!(!t.contains("app.js"), "{t}");
        assert_eq!(d.users[0].on_start, vec!["POST /login".to_string()]);
        assert_eq!(d.users[0].think_time.as_deref(), Some("1000ms..1000ms"));
    }
}
