//! Scenario files: the TOML model, its validation, and the typed [`Plan`] it becomes.

mod duration;
mod error;
mod model;
mod plan;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;

pub use duration::{format_duration, parse_duration, HumanDuration, ThinkTime};
pub use error::{line_col, Located, ScenarioError};
pub use model::{parse_base_url, parse_method, ClientChoice, MAX_VUS};
pub use plan::{
    header_pair, is_secret_header, join_url, ClientKind, Endpoint, HttpOptions, LoadPlan, Plan,
    StopAt, DEFAULT_GRACEFUL_STOP, DEFAULT_TIMEOUT,
};

use model::{RequestSection, ScenarioFile};

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Plan, ScenarioError> {
    let src = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &src)
}

/// Validates scenario text; `path` is only used in messages.
pub fn parse(path: &Path, src: &str) -> Result<Plan, ScenarioError> {
    let file: ScenarioFile =
        toml::from_str(src).map_err(|e| ScenarioError::from_toml(path, src, &e))?;
    Validator { path, src }.plan(file)
}

struct Validator<'a> {
    path: &'a Path,
    src: &'a str,
}

impl Validator<'_> {
    fn err(&self, span: std::ops::Range<usize>, msg: impl Into<String>) -> ScenarioError {
        ScenarioError::at(self.path, self.src, span, msg)
    }

    fn err_key(
        &self,
        span: std::ops::Range<usize>,
        key: &str,
        msg: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError::at_key(self.path, self.src, span, key, msg)
    }

    /// Span of the first line that opens table `header` (e.g. `[load]`), or the file start.
    fn table_span(&self, header: &str) -> std::ops::Range<usize> {
        let mut offset = 0;
        for line in self.src.split_inclusive('\n') {
            if line.trim() == header {
                return offset..offset + line.trim_end().len();
            }
            offset += line.len();
        }
        0..0
    }

    fn plan(&self, f: ScenarioFile) -> Result<Plan, ScenarioError> {
        if f.name.trim().is_empty() {
            return Err(self.err(self.key_span("name"), "the scenario name must not be empty"));
        }
        let base_url = f.base_url.get_ref().0.clone();
        let default_headers = self.headers(&f.headers, "headers")?;
        let timeout = f.timeout.map_or(plan::DEFAULT_TIMEOUT, |d| d.0);
        if timeout.is_zero() {
            return Err(self.err_key(self.key_span("timeout"), "timeout", "must be above zero"));
        }
        let client_choice = f.http.client.unwrap_or_default();
        let http = HttpOptions {
            insecure: f.http.insecure.unwrap_or(false),
            cookies: f.http.cookies.unwrap_or(false),
        };
        let follow_default = f.http.follow_redirects.unwrap_or(false);

        if f.requests.is_empty() {
            return Err(self.err_key(
                0..0,
                "request",
                "the scenario has no requests: add at least one [[request]] table with a path",
            ));
        }
        let mut endpoints = Vec::with_capacity(f.requests.len());
        let mut names = HashSet::new();
        for (i, r) in f.requests.into_iter().enumerate() {
            let ep = self.endpoint(i, r, &base_url, &default_headers, timeout, &http)?;
            let ep = Endpoint {
                client: resolve_client(client_choice, &ep, &http, follow_default),
                follow_redirects: ep.follow_redirects || follow_default,
                ..ep
            };
            if !names.insert(ep.name.clone()) {
                return Err(self.err_key(
                    self.nth_table_span("[[request]]", i),
                    &format!("request[{i}].name"),
                    format!(
                        "two requests are named '{}': give each a distinct name",
                        ep.name
                    ),
                ));
            }
            endpoints.push(ep);
        }
        if endpoints.iter().all(|e| e.weight == 0) {
            return Err(self.err_key(
                self.nth_table_span("[[request]]", 0),
                "request.weight",
                "the weights of all requests add up to zero: at least one must be above zero",
            ));
        }

        let load = &f.load;
        let vus = match &load.vus {
            Some(v) => {
                let n = v.get_ref().0;
                if n > MAX_VUS {
                    return Err(self.err(
                        v.span(),
                        format!("{n} VUs is more than the maximum of {MAX_VUS}"),
                    ));
                }
                n as u32
            }
            None => 1,
        };
        let stop = StopAt {
            duration: load.duration.map(|d| d.0),
            iterations: load.iterations.map(|c| c.0),
        };
        if stop.duration.is_none() && stop.iterations.is_none() {
            return Err(self.err_key(
                self.table_span("[load]"),
                "load",
                "set load.duration (like \"30s\") or load.iterations (a count): otherwise the run never ends",
            ));
        }
        if stop.duration == Some(Duration::ZERO) {
            return Err(self.err_key(
                self.table_span("[load]"),
                "load.duration",
                "must be above zero",
            ));
        }
        Ok(Plan {
            name: f.name,
            source: self.path.display().to_string(),
            base_url,
            endpoints,
            load: LoadPlan {
                vus,
                stop,
                think_time: load.think_time.unwrap_or_default(),
                graceful_stop: load.graceful_stop.map_or(DEFAULT_GRACEFUL_STOP, |d| d.0),
            },
            http,
        })
    }

    fn endpoint(
        &self,
        i: usize,
        r: RequestSection,
        base: &reqwest::Url,
        defaults: &HeaderMap,
        timeout: Duration,
        http: &HttpOptions,
    ) -> Result<Endpoint, ScenarioError> {
        let _ = http;
        let method = r.method.map_or(http::Method::GET, |m| m.0);
        let path = r.path.get_ref();
        let url = join_url(base, path).map_err(|m| self.err(r.path.span(), m))?;
        let name = match &r.name {
            Some(n) if n.get_ref().trim().is_empty() => {
                return Err(self.err(n.span(), "a request name must not be empty"))
            }
            Some(n) => n.get_ref().clone(),
            None => format!("{} {}", method, path),
        };
        let mut headers = defaults.clone();
        for (k, v) in self.headers(&r.headers, &format!("request[{i}].headers"))? {
            if let Some(k) = k {
                headers.insert(k, v);
            }
        }
        let body = match (&r.body, &r.json) {
            (Some(_), Some(j)) => {
                return Err(self.err(
                    j.span(),
                    "a request has either 'body' (text) or 'json', not both",
                ))
            }
            (Some(b), None) => Bytes::from(b.get_ref().clone()),
            (None, Some(j)) => {
                let value = serde_json::to_vec(j.get_ref())
                    .map_err(|e| self.err(j.span(), format!("cannot encode as JSON: {e}")))?;
                if !headers.contains_key(http::header::CONTENT_TYPE) {
                    headers.insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/json"),
                    );
                }
                Bytes::from(value)
            }
            (None, None) => Bytes::new(),
        };
        Ok(Endpoint {
            name,
            method,
            url,
            headers,
            body,
            weight: r.weight.map_or(1, |w| w.0),
            timeout: r.timeout.map_or(timeout, |d| d.0),
            client: ClientKind::Hyper,
            follow_redirects: r.follow_redirects.unwrap_or(false),
        })
    }

    fn headers(
        &self,
        h: &serde_spanned::Spanned<BTreeMap<String, String>>,
        key: &str,
    ) -> Result<HeaderMap, ScenarioError> {
        let mut map = HeaderMap::new();
        for (k, v) in h.get_ref() {
            let (name, value) =
                header_pair(k, v).map_err(|m| self.err_key(h.span(), &format!("{key}.{k}"), m))?;
            map.insert(name, value);
        }
        Ok(map)
    }

    /// Span of the root-level `key = ...` line.
    fn key_span(&self, key: &str) -> std::ops::Range<usize> {
        let mut offset = 0;
        for line in self.src.split_inclusive('\n') {
            let t = line.trim_start();
            if t.starts_with('[') {
                break;
            }
            if t.split('=').next().map(str::trim) == Some(key) {
                let start = offset + (line.len() - t.len());
                return start..start + t.trim_end().len();
            }
            offset += line.len();
        }
        0..0
    }

    fn nth_table_span(&self, header: &str, n: usize) -> std::ops::Range<usize> {
        let mut offset = 0;
        let mut seen = 0;
        for line in self.src.split_inclusive('\n') {
            if line.trim() == header {
                if seen == n {
                    return offset..offset + line.trim_end().len();
                }
                seen += 1;
            }
            offset += line.len();
        }
        0..0
    }
}

/// Picks hyper unless the request needs something only reqwest does.
fn resolve_client(
    choice: ClientChoice,
    ep: &Endpoint,
    http: &HttpOptions,
    follow_default: bool,
) -> ClientKind {
    match choice {
        ClientChoice::Hyper => ClientKind::Hyper,
        ClientChoice::Reqwest => ClientKind::Reqwest,
        ClientChoice::Auto => {
            if ep.follow_redirects || follow_default || http.cookies {
                ClientKind::Reqwest
            } else {
                ClientKind::Hyper
            }
        }
    }
}

/// Command-line values that replace the scenario's own.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub target: Option<reqwest::Url>,
    pub vus: Option<u32>,
    pub duration: Option<Duration>,
    pub iterations: Option<u64>,
    pub insecure: bool,
}

impl Overrides {
    pub fn apply(&self, plan: &mut Plan) {
        if let Some(t) = &self.target {
            plan.retarget(t);
        }
        if let Some(v) = self.vus {
            plan.load.vus = v;
        }
        if self.duration.is_some() || self.iterations.is_some() {
            plan.load.stop = StopAt {
                duration: self.duration,
                iterations: self.iterations,
            };
        }
        if self.insecure {
            plan.http.insecure = true;
        }
    }
}
