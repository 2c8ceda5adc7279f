//! What every importer produces: a scenario draft, written out as commented TOML.
//!
//! Importers fill a [`Draft`]; [`Draft::to_toml`] writes it. Secrets go through
//! [`Secrets`], which turns them into `{{env.NAME}}` placeholders and remembers a note for
//! each, so no importer can write one in clear by forgetting to.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use toml_edit::{Array, InlineTable, Value};

/// A request body as the source gave it.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    Text(String),
    Json(serde_json::Value),
}

#[derive(Debug, Clone, Default)]
pub struct Request {
    pub name: String,
    pub method: String,
    /// Starts with `/` (relative to the base URL) or is an absolute URL.
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: Option<Body>,
    pub weight: Option<u32>,
    /// (variable, JSON path) pairs.
    pub captures: Vec<(String, String)>,
    pub checks_status: Option<u16>,
    /// Comment lines written above the request.
    pub comments: Vec<String>,
}

/// One step of a user's flow: a request, or requests sent together (a batch step).
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    One(String),
    Batch(Vec<String>),
}

impl Step {
    /// Requests sent together: a batch of two or more, one request alone, none for none.
    pub fn of(mut names: Vec<String>) -> Option<Step> {
        match names.len() {
            0 => None,
            1 => names.pop().map(Step::One),
            _ => Some(Step::Batch(names)),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct User {
    pub name: String,
    pub weight: Option<u32>,
    pub on_start: Vec<String>,
    pub tasks: Vec<(String, u32)>,
    pub steps: Vec<Step>,
    pub think_time: Option<String>,
    pub pacing: Option<String>,
    pub comments: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Load {
    pub model: Option<&'static str>,
    pub vus: Option<u32>,
    pub rate: Option<String>,
    pub max_vus: Option<u32>,
    pub duration: Option<String>,
    pub iterations: Option<u64>,
    /// (duration, target)
    pub stages: Vec<(String, f64)>,
    pub think_time: Option<String>,
    pub pacing: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub name: String,
    pub base_url: String,
    pub timeout: Option<String>,
    pub load: Load,
    pub insecure: bool,
    pub follow_redirects: bool,
    pub cookies: bool,
    pub requests: Vec<Request>,
    pub users: Vec<User>,
    pub thresholds: Vec<String>,
    /// Comment lines at the top of the file.
    pub notes: Vec<String>,
    /// What could not be carried over: written as `# TODO:` lines and listed on stderr.
    pub todos: Vec<String>,
    pub secrets: Secrets,
}

/// Secret values replaced by `{{env.NAME}}` placeholders.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    /// NAME -> what it stands for.
    pub vars: BTreeMap<String, String>,
}

impl Secrets {
    /// The placeholder for a secret; `what` says where it came from (never the value).
    pub fn placeholder(&mut self, name: &str, what: &str) -> String {
        self.vars
            .entry(name.to_string())
            .or_insert_with(|| what.to_string());
        format!("{{{{env.{name}}}}}")
    }

    /// A header's value with any secret in it replaced, or the value unchanged.
    pub fn header(&mut self, name: &str, value: &str) -> String {
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "authorization" | "proxy-authorization" => {
                let (scheme, _) = value.split_once(' ').unwrap_or(("", value));
                match scheme.to_ascii_lowercase().as_str() {
                    "bearer" => format!(
                        "Bearer {}",
                        self.placeholder("TOKEN", "the bearer token of the original requests")
                    ),
                    "basic" => format!(
                        "Basic {}",
                        self.placeholder(
                            "BASIC_AUTH",
                            "base64 of user:password (echo -n user:password | base64)"
                        )
                    ),
                    _ => self.placeholder("AUTHORIZATION", "the whole Authorization value"),
                }
            }
            "cookie" => self.placeholder("COOKIE", "the Cookie header of the original requests"),
            _ if is_secret_name(&lower) => {
                let var = env_name(name);
                self.placeholder(&var, &format!("the value of the {name} header"))
            }
            _ => value.to_string(),
        }
    }

    /// A path with secret-looking query values (token=, api_key=, ...) replaced.
    pub fn path(&mut self, path: &str) -> String {
        let Some((before, query)) = path.split_once('?') else {
            return path.to_string();
        };
        let parts: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) if !v.is_empty() && is_secret_name(&k.to_ascii_lowercase()) => {
                    let var = env_name(k);
                    format!(
                        "{k}={}",
                        self.placeholder(&var, &format!("the '{k}' query parameter"))
                    )
                }
                _ => kv.to_string(),
            })
            .collect();
        format!("{before}?{}", parts.join("&"))
    }

    /// A JSON body with secret-looking fields (password, token, ...) replaced.
    pub fn json(&mut self, v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, val) in m.iter_mut() {
                    if val.is_string() && is_secret_name(&k.to_ascii_lowercase()) {
                        let var = env_name(k);
                        *val = serde_json::Value::String(
                            self.placeholder(&var, &format!("the '{k}' field of a request body")),
                        );
                    } else {
                        self.json(val);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| self.json(x)),
            _ => {}
        }
    }

    /// A form-encoded (`a=1&password=x`) body with secret fields replaced.
    pub fn form(&mut self, body: &str) -> String {
        if !body.contains('=') || body.contains(['\n', '{', '"']) {
            return body.to_string();
        }
        self.path(&format!("?{body}"))[1..].to_string()
    }
}

/// Whether `text` has a `{{...}}` that is not one of `ours` (or a `{{` never closed).
fn has_foreign_placeholder(text: &str, ours: &[String]) -> bool {
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let Some(end) = after.find("}}") else {
            return true;
        };
        if !ours.iter().any(|o| o == after[..end].trim()) {
            return true;
        }
        rest = &after[end + 2..];
    }
    false
}

/// Names whose values are secrets wherever they appear.
pub fn is_secret_name(lower: &str) -> bool {
    let l = lower.replace(['-', '_'], "");
    crate::scenario::is_secret_header(lower)
        || matches!(
            l.as_str(),
            "password"
                | "passwd"
                | "pass"
                | "pwd"
                | "secret"
                | "clientsecret"
                | "token"
                | "accesstoken"
                | "refreshtoken"
                | "idtoken"
                | "apikey"
                | "xapikey"
                | "apitoken"
                | "xauthtoken"
                | "authtoken"
                | "sessionid"
                | "session"
                | "privatekey"
                | "signature"
                | "sig"
        )
}

/// A JSON value as text: strings without their quotes.
pub fn plain(v: &serde_json::Value) -> String {
    v.as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string())
}

/// Percent-encodes what is not unreserved (RFC 3986), keeping a whole `{{...}}` placeholder.
pub fn encode(s: &str) -> String {
    if s.starts_with("{{") && s.ends_with("}}") {
        return s.to_string();
    }
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The content type of [`form_body`].
pub const FORM: &str = "application/x-www-form-urlencoded";

/// An object as an `application/x-www-form-urlencoded` body.
pub fn form_body(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, x)| format!("{}={}", encode(k), encode(&plain(x))))
            .collect::<Vec<_>>()
            .join("&"),
        other => plain(other),
    }
}

/// `X-Api-Key` -> `X_API_KEY`.
pub fn env_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'V');
    }
    out
}

/// A TOML value, written inline.
pub fn inline(v: impl Into<Value>) -> String {
    let mut v: Value = v.into();
    v.decor_mut().clear();
    v.to_string()
}

fn key(k: &str) -> String {
    toml_edit::Key::new(k).display_repr().to_string()
}

/// JSON as a TOML value; `None` when it holds a null, which TOML cannot write.
pub fn json_to_toml(v: &serde_json::Value) -> Option<Value> {
    Some(match v {
        serde_json::Value::Null => return None,
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::from(i),
            None => Value::from(n.as_f64()?),
        },
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(a) => {
            let mut arr = Array::new();
            for x in a {
                arr.push(json_to_toml(x)?);
            }
            Value::Array(arr)
        }
        serde_json::Value::Object(m) => {
            let mut t = InlineTable::new();
            for (k, x) in m {
                t.insert(k, json_to_toml(x)?);
            }
            Value::InlineTable(t)
        }
    })
}

fn table<'a>(pairs: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    let mut t = InlineTable::new();
    for (k, v) in pairs {
        t.insert(k, Value::from(v.as_str()));
    }
    inline(Value::InlineTable(t))
}

fn comment(out: &mut String, text: &str) {
    // TOML comments cannot hold control characters: show them escaped.
    let text: String = text
        .chars()
        .map(|c| match c {
            '\n' | '\t' => c.to_string(),
            c if c.is_control() => c.escape_debug().to_string(),
            c => c.to_string(),
        })
        .collect();
    for line in text.lines() {
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            let _ = writeln!(out, "# {line}");
        }
    }
}

fn num(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

impl Draft {
    /// Request names made unique ("GET /x", "GET /x #2", ...) before they are referenced.
    pub fn unique_name(&self, base: &str) -> String {
        let base = if base.trim().is_empty() {
            "request"
        } else {
            base.trim()
        };
        let base: String = base.chars().filter(|c| !c.is_control()).collect();
        if !self.requests.iter().any(|r| r.name == base) {
            return base;
        }
        (2..)
            .map(|n| format!("{base} #{n}"))
            .find(|n| !self.requests.iter().any(|r| &r.name == n))
            .expect("an unused name")
    }

    /// Drops headers HTTP cannot carry, references to requests that are not there (left
    /// out after they were referenced), and users left with nothing to do.
    pub fn prune_references(&mut self) {
        // Headers that HTTP cannot carry (a mangled name, a newline in a value).
        for r in &mut self.requests {
            let todos = &mut self.todos;
            r.headers.retain(|n, v| {
                let ok = http::HeaderName::from_bytes(n.as_bytes()).is_ok()
                    && http::HeaderValue::from_str(v).is_ok();
                if !ok {
                    todos.push(format!(
                        "'{}': header '{}' is not a valid HTTP header; left out",
                        r.name,
                        n.escape_debug()
                    ));
                }
                ok
            });
        }
        // `{{` the source itself contains would be read as a placeholder, and there is
        // no escape for it: such a request cannot be written as it was.
        let mut ours: Vec<String> = self
            .secrets
            .vars
            .keys()
            .map(|n| format!("env.{n}"))
            .collect();
        ours.extend(
            self.requests
                .iter()
                .flat_map(|r| r.captures.iter().map(|(v, _)| v.clone())),
        );
        let todos = &mut self.todos;
        self.requests.retain(|r| {
            let body = match &r.body {
                Some(Body::Json(j)) => j.to_string(),
                Some(Body::Text(t)) => t.clone(),
                None => String::new(),
            };
            let foreign = std::iter::once(&r.path)
                .chain(r.headers.values())
                .chain(std::iter::once(&body))
                .any(|t| has_foreign_placeholder(t, &ours));
            if foreign {
                todos.push(format!(
                    "'{}' contains '{{{{', which a scenario reads as a placeholder (there is no escape for it): left out",
                    r.name
                ));
            }
            !foreign
        });
        let known: std::collections::HashSet<String> =
            self.requests.iter().map(|r| r.name.clone()).collect();
        for u in &mut self.users {
            u.on_start.retain(|n| known.contains(n));
            u.tasks.retain(|(n, _)| known.contains(n));
            u.steps = std::mem::take(&mut u.steps)
                .into_iter()
                .filter_map(|st| match st {
                    Step::One(n) => known.contains(&n).then_some(Step::One(n)),
                    Step::Batch(mut b) => {
                        b.retain(|n| known.contains(n));
                        Step::of(b)
                    }
                })
                .collect();
        }
        self.users
            .retain(|u| !u.tasks.is_empty() || !u.steps.is_empty());
    }

    /// The scenario as commented TOML.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        for n in &self.notes {
            comment(&mut out, n);
        }
        if !self.secrets.vars.is_empty() {
            comment(
                &mut out,
                "Secrets are not written here: set these environment variables before running:",
            );
            for (name, what) in &self.secrets.vars {
                comment(&mut out, &format!("  {name}: {what}"));
            }
        }
        for t in &self.todos {
            comment(&mut out, &format!("TODO: {t}"));
        }
        let _ = writeln!(out, "name = {}", inline(self.name.as_str()));
        let _ = writeln!(out, "base_url = {}", inline(self.base_url.as_str()));
        if let Some(t) = &self.timeout {
            let _ = writeln!(out, "timeout = {}", inline(t.as_str()));
        }
        if !self.thresholds.is_empty() {
            let mut a = Array::new();
            for t in &self.thresholds {
                a.push(t.as_str());
            }
            let _ = writeln!(out, "thresholds = {}", inline(a));
        }
        out.push_str("\n# How much load: start small, raise it on purpose.\n[load]\n");
        let l = &self.load;
        if let Some(m) = l.model {
            let _ = writeln!(out, "model = {}", inline(m));
        }
        if let Some(v) = l.vus {
            let _ = writeln!(out, "vus = {v}");
        }
        if let Some(r) = &l.rate {
            let _ = writeln!(out, "rate = {}", inline(r.as_str()));
        }
        if let Some(v) = l.max_vus {
            let _ = writeln!(out, "max_vus = {v}");
        }
        if let Some(d) = &l.duration {
            let _ = writeln!(out, "duration = {}", inline(d.as_str()));
        }
        if let Some(i) = l.iterations {
            let _ = writeln!(out, "iterations = {i}");
        }
        if let Some(t) = &l.think_time {
            let _ = writeln!(out, "think_time = {}", inline(t.as_str()));
        }
        if let Some(p) = &l.pacing {
            let _ = writeln!(out, "pacing = {}", inline(p.as_str()));
        }
        if !l.stages.is_empty() {
            out.push_str("stages = [\n");
            for (d, t) in &l.stages {
                let _ = writeln!(
                    out,
                    "  {{ duration = {}, target = {} }},",
                    inline(d.as_str()),
                    num(*t)
                );
            }
            out.push_str("]\n");
        }
        if self.insecure || self.follow_redirects || self.cookies {
            out.push_str("\n[http]\n");
            if self.insecure {
                out.push_str("insecure = true\n");
            }
            if self.follow_redirects {
                out.push_str("follow_redirects = true\n");
            }
            if self.cookies {
                out.push_str("cookies = true   # a cookie jar per VU, as the browser had\n");
            }
        }
        for u in &self.users {
            out.push('\n');
            for c in &u.comments {
                comment(&mut out, c);
            }
            out.push_str("[[user]]\n");
            let _ = writeln!(out, "name = {}", inline(u.name.as_str()));
            if let Some(w) = u.weight {
                let _ = writeln!(out, "weight = {w}");
            }
            if !u.on_start.is_empty() {
                let mut a = Array::new();
                u.on_start.iter().for_each(|s| a.push(s.as_str()));
                let _ = writeln!(out, "on_start = {}", inline(a));
            }
            if !u.tasks.is_empty() {
                let mut t = InlineTable::new();
                for (n, w) in &u.tasks {
                    t.insert(n, Value::from(*w as i64));
                }
                let _ = writeln!(out, "tasks = {}", inline(Value::InlineTable(t)));
            }
            if !u.steps.is_empty() {
                out.push_str("steps = [\n");
                for s in &u.steps {
                    match s {
                        Step::One(n) => {
                            let _ = writeln!(out, "  {},", inline(n.as_str()));
                        }
                        Step::Batch(b) => {
                            let mut a = Array::new();
                            b.iter().for_each(|n| a.push(n.as_str()));
                            let _ = writeln!(out, "  {},", inline(a));
                        }
                    }
                }
                out.push_str("]\n");
            }
            if let Some(t) = &u.think_time {
                let _ = writeln!(out, "think_time = {}", inline(t.as_str()));
            }
            if let Some(p) = &u.pacing {
                let _ = writeln!(out, "pacing = {}", inline(p.as_str()));
            }
        }
        for r in &self.requests {
            out.push('\n');
            for c in &r.comments {
                comment(&mut out, c);
            }
            out.push_str("[[request]]\n");
            let _ = writeln!(out, "name = {}", inline(r.name.as_str()));
            if r.method != "GET" {
                let _ = writeln!(out, "method = {}", inline(r.method.as_str()));
            }
            let _ = writeln!(out, "path = {}", inline(r.path.as_str()));
            let json = match &r.body {
                Some(Body::Json(j)) => Some((j, json_to_toml(j))),
                _ => None,
            };
            let mut headers = r.headers.clone();
            if matches!(json, Some((_, None)))
                && !headers
                    .keys()
                    .any(|k| k.eq_ignore_ascii_case("content-type"))
            {
                headers.insert("Content-Type".into(), "application/json".into());
            }
            if !headers.is_empty() {
                let _ = writeln!(out, "headers = {}", table(&headers));
            }
            match &r.body {
                Some(Body::Json(j)) => match json.and_then(|(_, v)| v) {
                    Some(v) => {
                        let _ = writeln!(out, "json = {}", inline(v));
                    }
                    None => {
                        // TOML has no null: the JSON text as it is.
                        out.push_str(
                            "# the body has nulls, which TOML cannot write as json = ...\n",
                        );
                        let _ = writeln!(out, "body = {}", inline(j.to_string()));
                    }
                },
                Some(Body::Text(t)) => {
                    let _ = writeln!(out, "body = {}", inline(t.as_str()));
                }
                None => {}
            }
            if let Some(w) = r.weight {
                let _ = writeln!(out, "weight = {w}");
            }
            if !r.captures.is_empty() {
                let caps: Vec<String> = r
                    .captures
                    .iter()
                    .map(|(var, path)| {
                        format!(
                            "{{ {} = {}, json = {} }}",
                            key("var"),
                            inline(var.as_str()),
                            inline(path.as_str())
                        )
                    })
                    .collect();
                let _ = writeln!(out, "capture = [{}]", caps.join(", "));
            }
            if let Some(s) = r.checks_status {
                let _ = writeln!(out, "check = [{{ status = {s} }}]");
            }
        }
        out
    }

    /// The lines printed on stderr after an import: TODOs and the variables to set.
    pub fn stderr_notes(&self) -> Vec<String> {
        let mut v: Vec<String> = self.todos.iter().map(|t| format!("TODO: {t}")).collect();
        for (name, what) in &self.secrets.vars {
            v.push(format!("set {name} before running ({what})"));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_become_placeholders() {
        let mut s = Secrets::default();
        assert_eq!(
            s.header("Authorization", "Bearer abc.def"),
            "Bearer {{env.TOKEN}}"
        );
        assert_eq!(s.header("Cookie", "sid=1"), "{{env.COOKIE}}");
        assert_eq!(s.header("X-Api-Key", "k"), "{{env.X_API_KEY}}");
        assert_eq!(s.header("Accept", "text/plain"), "text/plain");
        assert_eq!(
            s.path("/a?q=1&api_key=zz&token=t"),
            "/a?q=1&api_key={{env.API_KEY}}&token={{env.TOKEN}}"
        );
        let mut j = serde_json::json!({"user": "u", "password": "hunter2", "n": [{"secret": "s"}]});
        s.json(&mut j);
        assert!(!j.to_string().contains("hunter2"));
        assert!(!j.to_string().contains("\"s\""));
        assert_eq!(
            s.form("user=a&password=b"),
            "user=a&password={{env.PASSWORD}}"
        );
    }

    #[test]
    fn names_are_made_unique() {
        let mut d = Draft::default();
        d.requests.push(Request {
            name: "GET /".into(),
            ..Default::default()
        });
        assert_eq!(d.unique_name("GET /"), "GET / #2");
        assert_eq!(d.unique_name("GET /x"), "GET /x");
    }
}
