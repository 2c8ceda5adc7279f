//! The scenario text kept in the result document: the TOML source with secret values
//! redacted (layout and comments kept), or for quick mode the equivalent command line.
//!
//! Redacted: every header value except a few that cannot carry credentials (`Accept`,
//! `Content-Type`, ...), and the string values of keys that name a secret anywhere in
//! the file (`password`, `token`, `api_key`, `secret`, `cookie`, ...), JSON bodies
//! included. A `body` written as one string is kept as it is.

use toml_edit::{DocumentMut, InlineTable, Item, Table, Value};

use crate::scenario::{Plan, StopAt};

/// What a redacted value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Header names whose values are shown.
const SHOWN_HEADERS: &[&str] = &[
    "accept",
    "accept-encoding",
    "accept-language",
    "cache-control",
    "content-type",
    "user-agent",
];

/// Parts of key names that mark a secret value.
const SECRET_WORDS: &[&str] = &[
    "pass",
    "pwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "authorization",
    "cookie",
    "credential",
    "private",
    "session",
];

fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k == "auth" || k == "key" || SECRET_WORDS.iter().any(|w| k.contains(w))
}

fn header_shown(name: &str) -> bool {
    SHOWN_HEADERS.contains(&name.to_ascii_lowercase().as_str())
}

/// The text the result document keeps for `plan`.
pub fn of_plan(plan: &Plan) -> Option<String> {
    match &plan.text {
        Some(src) => Some(redact_toml(src)),
        None if plan.source == "command line" => Some(quick_command(plan)),
        None => None,
    }
}

/// The TOML source with secret values replaced by `"[redacted]"`. Text that does not
/// parse as TOML is not kept at all (it cannot be redacted safely).
pub fn redact_toml(src: &str) -> String {
    let Ok(mut doc) = src.parse::<DocumentMut>() else {
        return "# (the scenario text could not be parsed again, so it is not shown)\n".into();
    };
    walk_table(doc.as_table_mut(), false);
    doc.to_string()
}

fn redact_value(v: &mut Value) {
    let decor = v.decor().clone();
    *v = Value::from(REDACTED);
    *v.decor_mut() = decor;
}

/// Redacts the scalars (strings, numbers) in `v`; tables and arrays recursively.
fn redact_all(v: &mut Value) {
    match v {
        Value::InlineTable(t) => {
            for (_, v) in t.iter_mut() {
                redact_all(v);
            }
        }
        Value::Array(a) => {
            for v in a.iter_mut() {
                redact_all(v);
            }
        }
        Value::Boolean(_) => {}
        _ => redact_value(v),
    }
}

fn walk_item(key: &str, item: &mut Item, in_headers: bool) {
    let headers = key.eq_ignore_ascii_case("headers");
    match item {
        Item::Table(t) => walk_table(t, headers),
        Item::ArrayOfTables(a) => {
            for t in a.iter_mut() {
                walk_table(t, headers);
            }
        }
        Item::Value(v) => walk_value(key, v, in_headers),
        Item::None => {}
    }
}

fn walk_table(t: &mut Table, in_headers: bool) {
    for (k, item) in t.iter_mut() {
        walk_item(k.get(), item, in_headers);
    }
}

fn walk_inline(t: &mut InlineTable, in_headers: bool) {
    for (k, v) in t.iter_mut() {
        walk_value(k.get(), v, in_headers);
    }
}

fn walk_value(key: &str, v: &mut Value, in_headers: bool) {
    if in_headers {
        // A header: its value is shown only for a few harmless names.
        if !header_shown(key) {
            redact_all(v);
        }
        return;
    }
    if is_secret_key(key) {
        redact_all(v);
        return;
    }
    match v {
        Value::InlineTable(t) => walk_inline(t, key.eq_ignore_ascii_case("headers")),
        Value::Array(a) => {
            for v in a.iter_mut() {
                if let Value::InlineTable(t) = v {
                    walk_inline(t, false);
                }
            }
        }
        _ => {}
    }
}

fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=?&%+,@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Quick mode's run as the command line that would repeat it (header values redacted,
/// the body only by its size).
pub fn quick_command(plan: &Plan) -> String {
    let mut out = String::from("volley");
    let Some(ep) = plan.endpoints.first() else {
        return out;
    };
    out.push(' ');
    out.push_str(&quote(ep.url.as_str()));
    out.push_str(&format!(" -c {}", plan.load.vus));
    let StopAt {
        duration,
        iterations,
    } = plan.load.stop;
    if let Some(d) = duration {
        out.push_str(&format!(
            " -d {}",
            crate::scenario::format_duration(d).replace(' ', "")
        ));
    }
    if let Some(n) = iterations {
        out.push_str(&format!(" -n {n}"));
    }
    if ep.method != http::Method::GET {
        out.push_str(&format!(" -m {}", ep.method));
    }
    for (name, value) in &ep.headers {
        let shown = if header_shown(name.as_str()) {
            value.to_str().unwrap_or(REDACTED)
        } else {
            REDACTED
        };
        out.push_str(&format!(" -H {}", quote(&format!("{name}: {shown}"))));
    }
    if !ep.body.is_empty() {
        out.push_str(&format!(" --body '<{} bytes>'", ep.body.len()));
    }
    out.push_str(&format!(
        " --timeout {}",
        crate::scenario::format_duration(ep.timeout).replace(' ', "")
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_headers_and_secret_keys_keeping_layout() {
        let src = r#"# my scenario
name = "shop"   # the name
base_url = "http://127.0.0.1:8080"

[headers]
Accept = "application/json"
Authorization = "Bearer abc123"   # keep this comment
X-Custom = "xyz"

[[request]]
name = "login"
method = "POST"
path = "/login"
json = { username = "demo", password = "hunter2", nested = { api_key = "k1" } }
headers = { "X-Api-Key" = "sekrit", Content-Type = "text/plain" }

[[request]]
path = "/x"
[request.headers]
Cookie = "sid=42"
"#;
        let out = redact_toml(src);
        for secret in ["abc123", "hunter2", "k1", "sekrit", "sid=42", "xyz"] {
            assert!(!out.contains(secret), "{secret} leaked:\n{out}");
        }
        assert!(out.contains("# keep this comment"), "{out}");
        assert!(out.contains("Accept = \"application/json\""), "{out}");
        assert!(out.contains("Content-Type = \"text/plain\""), "{out}");
        assert!(out.contains("username = \"demo\""), "{out}");
        assert!(out.contains("name = \"shop\"   # the name"), "{out}");
        assert!(out.starts_with("# my scenario\n"), "{out}");
    }

    #[test]
    fn unparsable_text_is_not_kept() {
        let out = redact_toml("password = \"x\" = y");
        assert!(!out.contains("password"));
    }
}
