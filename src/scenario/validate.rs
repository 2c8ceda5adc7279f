//! From the TOML model to a typed [`Plan`], with every error located.

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use serde_spanned::Spanned;

use super::error::ScenarioError;
use super::inspect::{Capture, CaptureFrom, Check, CheckKind, JsonPath};
use super::locate::Layout;
use super::model::{
    CaptureSection, CheckSection, ClientChoice, HttpVersion, RequestSection, ScenarioFile,
};
use super::plan::{
    header_pair, join_url, ClientKind, DataSet, Endpoint, HttpOptions, Plan, RequestTemplate,
    DEFAULT_TIMEOUT,
};
use super::template::{Names, Template};
use crate::thresholds::ThresholdSpec;

mod data;
mod h2;
mod load;
mod observe;
mod stream;
mod ws;

pub struct Validator<'a> {
    pub path: &'a Path,
    pub src: &'a str,
    /// Accept `{{env.NAME}}` for unset variables (a generated scenario is checked before
    /// its user has set them); `volley check` and `run` leave this off.
    pub env_optional: bool,
}

/// Names a template may use while validating.
struct Scope<'a> {
    vars: &'a [String],
    data: &'a [DataSet],
    env_optional: bool,
}

impl Names for Scope<'_> {
    fn var(&self, name: &str) -> Option<usize> {
        self.vars.iter().position(|v| v == name)
    }
    fn data(&self, dataset: &str, column: &str) -> Option<Result<(usize, usize), String>> {
        let (d, ds) = self
            .data
            .iter()
            .enumerate()
            .find(|(_, d)| d.name == dataset)?;
        Some(
            ds.columns
                .iter()
                .position(|c| c == column)
                .map(|c| (d, c))
                .ok_or_else(|| {
                    format!(
                        "data set '{dataset}' has no column '{column}' (columns: {})",
                        ds.columns.join(", ")
                    )
                }),
        )
    }
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name)
            .ok()
            .or_else(|| self.env_optional.then(|| format!("<{name}>")))
    }
}

impl Validator<'_> {
    fn err(&self, span: Range<usize>, msg: impl Into<String>) -> ScenarioError {
        ScenarioError::at(self.path, self.src, span, msg)
    }

    fn err_key(&self, span: Range<usize>, key: &str, msg: impl Into<String>) -> ScenarioError {
        ScenarioError::at_key(self.path, self.src, span, key, msg)
    }

    /// The span of table `name`, or of entry `index` of the array of tables `name`;
    /// 0..0 when the file has none.
    fn table_span(&self, name: &str, index: Option<usize>) -> Range<usize> {
        Layout::parse(self.src)
            .and_then(|l| l.table_span(name, index))
            .unwrap_or(0..0)
    }

    /// The span of the root-level `key = value`; 0..0 when there is none.
    fn key_span(&self, key: &str) -> Range<usize> {
        Layout::parse(self.src)
            .and_then(|l| l.root_key_span(key))
            .unwrap_or(0..0)
    }

    pub fn plan(&self, f: ScenarioFile) -> Result<Plan, ScenarioError> {
        if f.name.trim().is_empty() {
            return Err(self.err(self.key_span("name"), "the scenario name must not be empty"));
        }
        let base_url = f.base_url.get_ref().0.clone();
        let data = self.data_sets(&f.data)?;
        // Every variable any request captures, in order of first appearance.
        let mut vars: Vec<String> = Vec::new();
        for r in &f.requests {
            for c in &r.capture {
                let v = c.get_ref().var.get_ref();
                if !vars.contains(v) {
                    vars.push(v.clone());
                }
            }
        }
        let scope = Scope {
            vars: &vars,
            data: &data,
            env_optional: self.env_optional,
        };
        let default_headers = self.headers(&f.headers, "headers", &scope)?;
        let timeout = f.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0);
        if timeout.is_zero() {
            return Err(self.err_key(self.key_span("timeout"), "timeout", "must be above zero"));
        }
        let client_choice = f.http.client.unwrap_or_default();
        let http = HttpOptions {
            insecure: f.http.insecure.unwrap_or(false),
            cookies: f.http.cookies.unwrap_or(false),
            retry: f.http.retry.unwrap_or_default(),
            version: f
                .http
                .version
                .as_ref()
                .map_or_else(Default::default, |v| *v.get_ref()),
            sharing: None,
            local_addresses: Vec::new(),
        };
        let version_span = f.http.version.as_ref().map_or(0..0, |v| v.span());
        let mut local_addresses = Vec::with_capacity(f.http.local_addresses.len());
        for a in &f.http.local_addresses {
            let ip = a.get_ref().trim().parse::<std::net::IpAddr>().map_err(|_| {
                self.err_key(
                    a.span(),
                    "http.local_addresses",
                    format!(
                        "'{}' is not an IP address (source addresses to bind connections to, like \"127.0.0.2\" or \"::1\")",
                        a.get_ref()
                    ),
                )
            })?;
            local_addresses.push((ip, a.span()));
        }
        let http = HttpOptions {
            sharing: self.h2_sharing(&f.http, http.version)?,
            local_addresses: local_addresses.iter().map(|(ip, _)| *ip).collect(),
            ..http
        };
        let follow_default = f.http.follow_redirects.unwrap_or(false);
        let mut secret_headers = Vec::new();
        for h in &f.http.secret_headers {
            secret_headers.push(
                http::HeaderName::from_bytes(h.get_ref().trim().as_bytes()).map_err(|_| {
                    self.err(h.span(), format!("invalid header name '{}'", h.get_ref()))
                })?,
            );
        }

        if f.requests.is_empty() {
            return Err(self.err_key(
                0..0,
                "request",
                "the scenario has no requests: add at least one [[request]] table with a path",
            ));
        }
        let mut endpoints = Vec::with_capacity(f.requests.len());
        let mut names = HashSet::new();
        let mut checks: Vec<(usize, String)> = Vec::new();
        let mut thresholds: Vec<ThresholdSpec> = Vec::new();
        for (i, r) in f.requests.iter().enumerate() {
            let mut ep = self.endpoint(
                i,
                r,
                &base_url,
                &default_headers,
                timeout,
                &scope,
                &mut checks,
            )?;
            ep.follow_redirects |= follow_default;
            ep.client = resolve_client(client_choice, &ep, &http)
                .map_err(|msg| self.err_key(version_span.clone(), "http.version", msg))?;
            self.stream_client(i, r, &ep)?;
            ep.ws = self.ws_plan(i, r, &ep, &scope)?;
            for (name, value) in ep.headers.iter_mut() {
                if secret_headers.contains(name) {
                    value.set_sensitive(true);
                }
            }
            if !names.insert(ep.name.clone()) {
                return Err(self.err_key(
                    self.table_span("request", Some(i)),
                    &format!("request[{i}].name"),
                    format!(
                        "two requests are named '{}': give each a distinct name",
                        ep.name
                    ),
                ));
            }
            for t in &r.thresholds {
                let threshold = self.threshold(t)?;
                self.timing_covered(t, &threshold, &[&ep])?;
                thresholds.push(ThresholdSpec {
                    threshold,
                    endpoint: Some(i),
                    abort_on_fail: false,
                    abort_grace: Duration::ZERO,
                });
            }
            endpoints.push(ep);
        }
        let users = self.users(&f.users, &endpoints, &f)?;
        self.streams_used(&f.http, &http, &users)?;

        let all: Vec<&Endpoint> = endpoints.iter().collect();
        for t in &f.thresholds {
            let threshold = self.threshold(t)?;
            self.timing_covered(t, &threshold, &all)?;
            thresholds.push(ThresholdSpec {
                threshold,
                endpoint: None,
                abort_on_fail: false,
                abort_grace: Duration::ZERO,
            });
        }
        for t in &f.threshold_tables {
            let endpoint = match &t.endpoint {
                None => None,
                Some(name) => Some(
                    endpoints
                        .iter()
                        .position(|e| &e.name == name.get_ref())
                        .ok_or_else(|| {
                            self.err(
                                name.span(),
                                format!("no request is named '{}'", name.get_ref()),
                            )
                        })?,
                ),
            };
            let threshold = self.threshold(&t.expr)?;
            let covered = match endpoint {
                Some(i) => vec![&endpoints[i]],
                None => all.clone(),
            };
            self.timing_covered(&t.expr, &threshold, &covered)?;
            thresholds.push(ThresholdSpec {
                threshold,
                endpoint,
                abort_on_fail: t.abort_on_fail,
                abort_grace: t.abort_grace.map_or(Duration::ZERO, |d| d.0),
            });
        }

        let load = self.load(&f)?;
        let monitor = f.monitor.as_ref().map(|m| self.monitor(m)).transpose()?;
        let plan = Plan {
            name: f.name.clone(),
            source: self.path.display().to_string(),
            base_url,
            endpoints,
            load,
            http,
            users,
            vars,
            data,
            checks,
            thresholds,
            text: Some(self.src.to_string()),
            overrides: Vec::new(),
            monitor,
        };
        if let Some((at, why)) = plan.local_addresses_conflict(&plan.http.local_addresses) {
            let span = local_addresses
                .iter()
                .find(|(ip, _)| Some(*ip) == at)
                .or(local_addresses.first())
                .map_or(0..0, |(_, span)| span.clone());
            return Err(self.err_key(span, "http.local_addresses", why));
        }
        Ok(plan)
    }

    #[allow(clippy::too_many_arguments)]
    fn endpoint(
        &self,
        i: usize,
        r: &RequestSection,
        base: &reqwest::Url,
        defaults: &(HeaderMap, Vec<(http::HeaderName, Template)>),
        timeout: Duration,
        scope: &Scope,
        all_checks: &mut Vec<(usize, String)>,
    ) -> Result<Endpoint, ScenarioError> {
        let method = r.method.clone().map_or(http::Method::GET, |m| m.0);
        let ws_path = ws::http_path(r.path.get_ref());
        let path: &str = &ws_path;
        if path.chars().any(char::is_control) {
            return Err(self.err(r.path.span(), "a path must not contain control characters"));
        }
        let name = match &r.name {
            Some(n) if n.get_ref().trim().is_empty() => {
                return Err(self.err(n.span(), "a request name must not be empty"))
            }
            Some(n) if n.get_ref().chars().any(char::is_control) => {
                return Err(self.err(
                    n.span(),
                    "a request name must not contain control characters",
                ))
            }
            Some(n) => n.get_ref().clone(),
            None => format!("{method} {path}"),
        };
        let mut template = RequestTemplate::default();
        let url = if path.contains("{{") {
            if path.starts_with("http://") || path.starts_with("https://") {
                return Err(self.err(
                    r.path.span(),
                    "templates are not supported in absolute URLs: use a path",
                ));
            }
            if !path.starts_with('/') {
                return Err(self.err(r.path.span(), format!("path '{path}' must start with '/'")));
            }
            let prefix = base.path().trim_end_matches('/');
            let t = Template::compile(&format!("{prefix}{path}"), scope).map_err(|(at, m)| {
                self.err(self.inner(&r.path, at.saturating_sub(prefix.len())), m)
            })?;
            template.path = Some(t);
            join_url(base, "/").map_err(|m| self.err(r.path.span(), m))?
        } else {
            join_url(base, path).map_err(|m| self.err(r.path.span(), m))?
        };
        let mut headers = defaults.0.clone();
        template.headers = defaults.1.clone();
        let (own, own_t) = self.headers(&r.headers, &format!("request[{i}].headers"), scope)?;
        for (k, v) in &own {
            headers.insert(k.clone(), v.clone());
            template.headers.retain(|(n, _)| n != k);
        }
        for (k, t) in own_t {
            headers.remove(&k);
            template.headers.retain(|(n, _)| n != k);
            template.headers.push((k, t));
        }
        let body_text: Option<(String, Range<usize>)> = match (&r.body, &r.json) {
            (Some(_), Some(j)) => {
                return Err(self.err(
                    j.span(),
                    "a request has either 'body' (text) or 'json', not both",
                ))
            }
            (Some(b), None) => Some((b.get_ref().clone(), b.span())),
            (None, Some(j)) => {
                if let Some(m) = json_unencodable(j.get_ref(), "json") {
                    return Err(self.err(j.span(), format!("cannot encode as JSON: {m}")));
                }
                let value = serde_json::to_string(j.get_ref())
                    .map_err(|e| self.err(j.span(), format!("cannot encode as JSON: {e}")))?;
                if !headers.contains_key(http::header::CONTENT_TYPE) {
                    headers.insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("application/json"),
                    );
                }
                Some((value, j.span()))
            }
            (None, None) => None,
        };
        let mut body = Bytes::new();
        if let Some((text, span)) = body_text {
            let t = Template::compile(&text, scope).map_err(|(_, m)| self.err(span.clone(), m))?;
            if t.is_static() {
                body = Bytes::from(t.static_text());
            } else {
                template.body = Some(t);
            }
        }
        let mut checks = Vec::new();
        for c in &r.check {
            let kind = self.check(c)?;
            let event = self.check_event(c, &kind)?;
            let name = c
                .get_ref()
                .name
                .clone()
                .unwrap_or_else(|| stream::check_name(&kind, event));
            let id = all_checks.len();
            all_checks.push((i, name.clone()));
            checks.push(Check {
                id,
                name,
                kind,
                event,
            });
        }
        let mut captures = Vec::new();
        for c in &r.capture {
            captures.push(self.capture(c, scope)?);
        }
        let has_template =
            template.path.is_some() || !template.headers.is_empty() || template.body.is_some();
        Ok(Endpoint {
            name,
            method,
            url,
            headers,
            body,
            weight: r.weight.map_or(1, |w| w.0),
            timeout: r.timeout.map_or(timeout, |d| d.0),
            client: ClientKind::H1,
            follow_redirects: r.follow_redirects.unwrap_or(false),
            template: has_template.then_some(template),
            checks,
            captures,
            stream: self.stream_opts(r)?,
            ws: None,
        })
    }

    /// A span inside a spanned string value (skipping its opening quote).
    fn inner(&self, s: &Spanned<String>, at: usize) -> Range<usize> {
        let p = s.span().start + 1 + at;
        p..p
    }

    fn check(&self, c: &Spanned<CheckSection>) -> Result<CheckKind, ScenarioError> {
        let s = c.get_ref();
        let mut kinds = Vec::new();
        if let Some(st) = &s.status {
            kinds.push(self.status_check(st)?);
        }
        if let Some(t) = &s.body_contains {
            kinds.push(CheckKind::BodyContains(t.clone()));
        }
        if let Some(m) = s
            .equals
            .as_ref()
            .and_then(|v| json_unencodable(v, "equals"))
        {
            return Err(self.err(c.span(), format!("cannot compare as JSON: {m}")));
        }
        if let Some(p) = &s.json_path {
            let path = JsonPath::parse(p.get_ref()).map_err(|m| self.err(p.span(), m))?;
            kinds.push(match &s.equals {
                Some(v) => CheckKind::JsonEquals(
                    path,
                    serde_json::to_value(v).map_err(|e| self.err(c.span(), e.to_string()))?,
                ),
                None => CheckKind::JsonExists(path),
            });
        } else if s.equals.is_some() {
            return Err(self.err(c.span(), "'equals' needs a 'json_path' to compare"));
        }
        if let Some(h) = &s.header {
            let name =
                http::HeaderName::from_bytes(h.get_ref().trim().as_bytes()).map_err(|_| {
                    self.err(h.span(), format!("invalid header name '{}'", h.get_ref()))
                })?;
            kinds.push(CheckKind::Header(name));
        }
        if let Some(d) = s.latency_under {
            kinds.push(CheckKind::LatencyUnder(d.0));
        }
        if let Some(e) = &s.events {
            kinds.push(self.events_check(e)?);
        }
        match kinds.len() {
            1 => Ok(kinds.pop().expect("one")),
            0 => Err(self.err(
                c.span(),
                "a check needs one of: status, body_contains, json_path, header, latency_under, events",
            )),
            _ => Err(self.err(
                c.span(),
                "a check tests one thing: split it into several checks",
            )),
        }
    }

    fn status_check(&self, st: &Spanned<toml::Value>) -> Result<CheckKind, ScenarioError> {
        let code = |v: &toml::Value| -> Result<u16, ScenarioError> {
            v.as_integer()
                .filter(|n| (100..=599).contains(n))
                .map(|n| n as u16)
                .ok_or_else(|| {
                    self.err(st.span(), format!("'{v}' is not an HTTP status (100-599)"))
                })
        };
        match st.get_ref() {
            toml::Value::Integer(_) => Ok(CheckKind::Status(vec![code(st.get_ref())?])),
            toml::Value::Array(a) if !a.is_empty() => {
                Ok(CheckKind::Status(a.iter().map(code).collect::<Result<_, _>>()?))
            }
            toml::Value::String(r) => {
                let (a, b) = r.split_once("..").ok_or_else(|| {
                    self.err(st.span(), format!("status range '{r}' must look like \"200..299\""))
                })?;
                let a: u16 = a.trim().parse().map_err(|_| self.err(st.span(), format!("bad status range '{r}'")))?;
                let b: u16 = b.trim().parse().map_err(|_| self.err(st.span(), format!("bad status range '{r}'")))?;
                if a > b || !(100..=599).contains(&a) || !(100..=599).contains(&b) {
                    return Err(self.err(st.span(), format!("bad status range '{r}'")));
                }
                Ok(CheckKind::StatusRange(a, b))
            }
            other => Err(self.err(
                st.span(),
                format!("status must be a code, a list of codes or a range like \"200..299\", not {other}"),
            )),
        }
    }

    fn capture(
        &self,
        c: &Spanned<CaptureSection>,
        scope: &Scope,
    ) -> Result<Capture, ScenarioError> {
        let s = c.get_ref();
        let var = s.var.get_ref();
        if var.is_empty()
            || !var
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        {
            return Err(self.err(
                s.var.span(),
                format!("'{var}' is not a valid variable name (letters, digits, _)"),
            ));
        }
        let from = match (&s.json, &s.header, &s.regex) {
            (Some(p), None, None) => {
                CaptureFrom::Json(JsonPath::parse(p.get_ref()).map_err(|m| self.err(p.span(), m))?)
            }
            (None, Some(h), None) => CaptureFrom::Header(
                http::HeaderName::from_bytes(h.get_ref().trim().as_bytes()).map_err(|_| {
                    self.err(h.span(), format!("invalid header name '{}'", h.get_ref()))
                })?,
            ),
            (None, None, Some(r)) => {
                let re = regex::Regex::new(r.get_ref()).map_err(|e| {
                    self.err(
                        r.span(),
                        format!(
                            "invalid regex: {}",
                            e.to_string()
                                .lines()
                                .last()
                                .unwrap_or("")
                                .trim_start_matches("error: ")
                        ),
                    )
                })?;
                let groups = re.captures_len() - 1;
                let group = s.group.unwrap_or(if groups > 0 { 1 } else { 0 });
                if group > groups {
                    return Err(self.err(
                        r.span(),
                        format!(
                            "group = {group}, but the regex has {groups} capture group{}",
                            if groups == 1 { "" } else { "s" }
                        ),
                    ));
                }
                CaptureFrom::Regex(re, group)
            }
            _ => {
                return Err(self.err(
                    c.span(),
                    "a capture takes exactly one of: json, header, regex",
                ))
            }
        };
        let event = self.capture_event(c, &from)?;
        Ok(Capture {
            var: scope.var(var).expect("collected above"),
            name: var.clone(),
            from,
            event,
        })
    }

    /// Static headers and templated ones.
    fn headers(
        &self,
        h: &Spanned<BTreeMap<String, String>>,
        key: &str,
        scope: &Scope,
    ) -> Result<(HeaderMap, Vec<(http::HeaderName, Template)>), ScenarioError> {
        let mut map = HeaderMap::new();
        let mut templated = Vec::new();
        for (k, v) in h.get_ref() {
            let t = Template::compile(v, scope)
                .map_err(|(_, m)| self.err_key(h.span(), &format!("{key}.{k}"), m))?;
            let static_value = if t.is_static() {
                t.static_text()
            } else {
                "x".into()
            };
            let (name, mut value) = header_pair(k, &static_value)
                .map_err(|m| self.err_key(h.span(), &format!("{key}.{k}"), m))?;
            // An `{{env.NAME}}` value is a secret whatever the header: never printed.
            value.set_sensitive(t.uses_env());
            if t.is_static() {
                map.insert(name, value);
            } else {
                templated.push((name, t));
            }
        }
        Ok((map, templated))
    }
}

/// Why a TOML value has no JSON form (a date-time, NaN or an infinity), naming where it
/// sits; `None` when it encodes. serde_json would otherwise write an internal table or
/// `null` without a word.
fn json_unencodable(v: &toml::Value, at: &str) -> Option<String> {
    match v {
        toml::Value::Datetime(d) => Some(format!(
            "'{at}' is a TOML date-time ({d}), which JSON has no type for: quote it as a string"
        )),
        toml::Value::Float(f) if !f.is_finite() => Some(format!(
            "'{at}' is {f}, which JSON cannot represent (no NaN or infinity)"
        )),
        toml::Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, v)| json_unencodable(v, &format!("{at}[{i}]"))),
        toml::Value::Table(t) => t
            .iter()
            .find_map(|(k, v)| json_unencodable(v, &format!("{at}.{k}"))),
        _ => None,
    }
}

/// Picks the h1 client unless the request needs something only reqwest does, or
/// HTTP/2 (hyper's client, which negotiates it); an error when the choices conflict.
fn resolve_client(
    choice: ClientChoice,
    ep: &Endpoint,
    http: &HttpOptions,
) -> Result<ClientKind, String> {
    let needs_reqwest = ep.follow_redirects || http.cookies;
    match http.version {
        HttpVersion::Http1 => {}
        HttpVersion::Http2 => {
            return match choice {
                ClientChoice::H1 => Err(
                    "version = \"2\" needs the hyper client, but [http] client = \"h1\" speaks HTTP/1.1 only: remove client or set it to \"hyper\"".into(),
                ),
                ClientChoice::Reqwest => Err(
                    "version = \"2\" needs the hyper client, but [http] client = \"reqwest\" runs over HTTP/1.1 only".into(),
                ),
                _ if needs_reqwest => Err(format!(
                    "version = \"2\" cannot follow redirects or keep cookies (request '{}'): those need the reqwest client, which volley runs over HTTP/1.1 only",
                    ep.name
                )),
                _ => Ok(ClientKind::Hyper),
            };
        }
        HttpVersion::Auto => {
            if choice == ClientChoice::Auto && !needs_reqwest && ep.url.scheme() == "https" {
                return Ok(ClientKind::Hyper);
            }
        }
    }
    Ok(match choice {
        ClientChoice::H1 => ClientKind::H1,
        ClientChoice::Hyper => ClientKind::Hyper,
        ClientChoice::Reqwest => ClientKind::Reqwest,
        ClientChoice::Auto => {
            if needs_reqwest {
                ClientKind::Reqwest
            } else {
                ClientKind::H1
            }
        }
    })
}
