//! Checks and captures: what to look at in a response, validated at load time.

use std::time::Duration;

/// A JSON path subset: `$`, `.key`, `['key']`, `[index]`.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    pub text: String,
    segs: Vec<Seg>,
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

impl JsonPath {
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let bad = |why: &str| format!("invalid JSON path '{text}': {why}");
        let rest = text
            .trim()
            .strip_prefix('$')
            .ok_or_else(|| bad("it must start with '$'"))?;
        let mut segs = Vec::new();
        let mut s = rest;
        while !s.is_empty() {
            if let Some(r) = s.strip_prefix('.') {
                let end = r.find(['.', '[']).unwrap_or(r.len());
                let key = &r[..end];
                if key.is_empty() {
                    return Err(bad("empty key after '.'"));
                }
                segs.push(Seg::Key(key.to_string()));
                s = &r[end..];
            } else if let Some(r) = s.strip_prefix('[') {
                let end = r.find(']').ok_or_else(|| bad("'[' without ']'"))?;
                let inner = r[..end].trim();
                if let Some(q) = inner
                    .strip_prefix('\'')
                    .and_then(|x| x.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
                {
                    segs.push(Seg::Key(q.to_string()));
                } else {
                    let i: usize = inner.parse().map_err(|_| {
                        bad(&format!("'[{inner}]' is not an index or a quoted key"))
                    })?;
                    segs.push(Seg::Index(i));
                }
                s = &r[end + 1..];
            } else {
                return Err(bad(&format!(
                    "unexpected '{}'",
                    s.chars().next().unwrap_or(' ')
                )));
            }
        }
        Ok(JsonPath {
            text: text.trim().to_string(),
            segs,
        })
    }

    pub fn get<'a>(&self, v: &'a serde_json::Value) -> Option<&'a serde_json::Value> {
        let mut cur = v;
        for s in &self.segs {
            cur = match s {
                Seg::Key(k) => cur.get(k.as_str())?,
                Seg::Index(i) => cur.get(*i)?,
            };
        }
        Some(cur)
    }
}

/// Where a captured value comes from.
#[derive(Debug, Clone)]
pub enum CaptureFrom {
    Json(JsonPath),
    Header(http::HeaderName),
    Regex(regex::Regex, usize),
}

#[derive(Debug, Clone)]
pub struct Capture {
    /// Index of the variable it sets.
    pub var: usize,
    pub name: String,
    pub from: CaptureFrom,
    /// Read from this event of a streamed response instead of the body.
    pub event: Option<EventPick>,
}

/// Which event of a streamed response a check or capture reads (`event = "last"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventPick {
    First,
    Last,
    /// 0-based.
    Index(usize),
}

impl EventPick {
    /// `"first"`, `"last"` or a 0-based index.
    pub fn parse(v: &toml::Value) -> Result<EventPick, String> {
        match v {
            toml::Value::String(s) if s == "first" => Ok(EventPick::First),
            toml::Value::String(s) if s == "last" => Ok(EventPick::Last),
            toml::Value::Integer(n) if *n >= 0 => Ok(EventPick::Index(*n as usize)),
            other => Err(format!(
                "event must be \"first\", \"last\" or an index from 0, not {other}"
            )),
        }
    }

    pub fn describe(self) -> String {
        match self {
            EventPick::First => "first event".into(),
            EventPick::Last => "last event".into(),
            EventPick::Index(i) => format!("event {i}"),
        }
    }
}

/// What a check asserts.
#[derive(Debug, Clone)]
pub enum CheckKind {
    Status(Vec<u16>),
    StatusRange(u16, u16),
    BodyContains(String),
    JsonExists(JsonPath),
    JsonEquals(JsonPath, serde_json::Value),
    Header(http::HeaderName),
    LatencyUnder(Duration),
    /// A streamed response had between this many events (inclusive).
    Events(u64, u64),
}

#[derive(Debug, Clone)]
pub struct Check {
    /// Index among all checks of the run.
    pub id: usize,
    pub name: String,
    pub kind: CheckKind,
    /// Looks at this event of a streamed response instead of the body.
    pub event: Option<EventPick>,
}

impl CheckKind {
    /// A readable default name, e.g. "status is 200".
    pub fn describe(&self) -> String {
        match self {
            CheckKind::Status(s) if s.len() == 1 => format!("status is {}", s[0]),
            CheckKind::Status(s) => format!(
                "status in {}",
                s.iter().map(u16::to_string).collect::<Vec<_>>().join(",")
            ),
            CheckKind::StatusRange(a, b) => format!("status in {a}..{b}"),
            CheckKind::BodyContains(t) => format!("body contains '{t}'"),
            CheckKind::JsonExists(p) => format!("{} exists", p.text),
            CheckKind::JsonEquals(p, v) => format!("{} == {v}", p.text),
            CheckKind::Header(h) => format!("header {h} present"),
            CheckKind::LatencyUnder(d) => {
                format!("latency < {}", super::format_duration(*d))
            }
            CheckKind::Events(a, b) if a == b => format!("{a} events"),
            CheckKind::Events(a, u64::MAX) => format!("at least {a} events"),
            CheckKind::Events(a, b) => format!("{a}..{b} events"),
        }
    }

    /// True when the check needs the response body.
    pub fn needs_body(&self) -> bool {
        matches!(
            self,
            CheckKind::BodyContains(_) | CheckKind::JsonExists(_) | CheckKind::JsonEquals(..)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"a":{"b":[{"c":1},{"c":"x"}]},"d e":true}"#).unwrap();
        assert_eq!(JsonPath::parse("$.a.b[1].c").unwrap().get(&v).unwrap(), "x");
        assert_eq!(JsonPath::parse("$['d e']").unwrap().get(&v).unwrap(), true);
        assert_eq!(JsonPath::parse("$").unwrap().get(&v).unwrap(), &v);
        assert!(JsonPath::parse("$.a.z").unwrap().get(&v).is_none());
        assert!(JsonPath::parse("a.b").is_err());
        assert!(JsonPath::parse("$.a[x]").is_err());
        assert!(JsonPath::parse("$..a").is_err());
        assert!(JsonPath::parse("$.a[0").is_err());
    }
}
