//! Evaluating checks and captures against a response.

use std::cell::OnceCell;

use super::executor::Attempt;
use crate::metrics::Outcome;
use crate::scenario::inspect::{CaptureFrom, CheckKind, EventPick};

/// A response as checks see it; the body is parsed as JSON at most once.
pub struct Response<'a> {
    pub status: u16,
    pub latency_us: u64,
    attempt: &'a Attempt,
    /// What body checks read: the body, or one event of a streamed response.
    body: &'a [u8],
    json: OnceCell<Option<serde_json::Value>>,
}

impl<'a> Response<'a> {
    /// None when there was no response (the request failed before a status).
    pub fn new(a: &'a Attempt) -> Option<Response<'a>> {
        let status = match a.outcome {
            Outcome::Status(s) | Outcome::Rejected(s, _) => s,
            Outcome::Error(_) => return None,
        };
        Some(Response {
            status,
            latency_us: a.latency_us.unwrap_or(0),
            attempt: a,
            body: a.body.as_deref().unwrap_or(&[]),
            json: OnceCell::new(),
        })
    }

    /// The same response, with one of its stream's events as the body; None when the
    /// response was not streamed or has no such event.
    pub fn event(&self, pick: EventPick) -> Option<Response<'a>> {
        let s = self.attempt.stream.as_deref()?;
        let data = match pick {
            EventPick::First => s.events.first(),
            EventPick::Last => s.last.as_ref(),
            EventPick::Index(i) => s.events.get(i),
        }?;
        Some(Response {
            status: self.status,
            latency_us: self.latency_us,
            attempt: self.attempt,
            body: data.as_bytes(),
            json: OnceCell::new(),
        })
    }

    fn body(&self) -> &[u8] {
        self.body
    }

    /// Events (or chunks) of a streamed response; 0 when it was not streamed.
    fn events(&self) -> u64 {
        self.attempt.stream.as_ref().map_or(0, |s| s.sample.events)
    }

    fn json(&self) -> Option<&serde_json::Value> {
        self.json
            .get_or_init(|| serde_json::from_slice(self.body()).ok())
            .as_ref()
    }

    fn header(&self, name: &http::HeaderName) -> Option<&http::HeaderValue> {
        self.attempt.headers.as_ref()?.get(name)
    }
}

/// Whether a response passes a check.
pub fn eval_check(kind: &CheckKind, r: &Response) -> bool {
    match kind {
        CheckKind::Status(codes) => codes.contains(&r.status),
        CheckKind::StatusRange(a, b) => (*a..=*b).contains(&r.status),
        CheckKind::BodyContains(t) => {
            t.is_empty() || r.body().windows(t.len()).any(|w| w == t.as_bytes())
        }
        CheckKind::JsonExists(p) => r.json().and_then(|v| p.get(v)).is_some(),
        CheckKind::JsonEquals(p, want) => r.json().and_then(|v| p.get(v)) == Some(want),
        CheckKind::Header(h) => r.header(h).is_some(),
        CheckKind::LatencyUnder(d) => (r.latency_us as u128) < d.as_micros(),
        CheckKind::Events(a, b) => (*a..=*b).contains(&r.events()),
    }
}

/// The captured value, or None when the response does not have it.
pub fn eval_capture(from: &CaptureFrom, r: &Response) -> Option<String> {
    match from {
        CaptureFrom::Json(p) => match p.get(r.json()?)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        },
        CaptureFrom::Header(h) => r.header(h)?.to_str().ok().map(str::to_string),
        CaptureFrom::Regex(re, group) => {
            let text = std::str::from_utf8(r.body()).ok()?;
            Some(re.captures(text)?.get(*group)?.as_str().to_string())
        }
    }
}
