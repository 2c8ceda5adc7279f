//! Validating the keys of streamed responses: `stream`, `stream_idle`, the `events`
//! check and `event` on checks and captures.

use serde_spanned::Spanned;

use super::super::inspect::{CaptureFrom, CheckKind, EventPick};
use super::super::model::{CaptureSection, CheckSection, RequestSection};
use super::super::plan::{ClientKind, Endpoint, StreamOpts, DEFAULT_STREAM_IDLE};
use super::super::ScenarioError;
use super::Validator;

/// A check's name when the scenario gives none: "last event contains 'x'".
pub fn check_name(kind: &CheckKind, event: Option<EventPick>) -> String {
    match event {
        None => kind.describe(),
        Some(e) => {
            let d = kind.describe();
            let d = d.strip_prefix("body ").unwrap_or(&d);
            format!("{}: {d}", e.describe())
        }
    }
}

impl Validator<'_> {
    /// `events = 5`, `events = "1..100"`, `events = "1.."`.
    pub(super) fn events_check(
        &self,
        e: &Spanned<toml::Value>,
    ) -> Result<CheckKind, ScenarioError> {
        let bad = |v: &dyn std::fmt::Display| {
            self.err(
                e.span(),
                format!(
                    "events must be a count (5) or a range like \"1..100\" or \"1..\", not {v}"
                ),
            )
        };
        match e.get_ref() {
            toml::Value::Integer(n) if *n >= 0 => Ok(CheckKind::Events(*n as u64, *n as u64)),
            toml::Value::String(r) => {
                let (a, b) = r.split_once("..").ok_or_else(|| bad(&format!("'{r}'")))?;
                let a: u64 = a.trim().parse().map_err(|_| bad(&format!("'{r}'")))?;
                let b: u64 = match b.trim() {
                    "" => u64::MAX,
                    b => b.parse().map_err(|_| bad(&format!("'{r}'")))?,
                };
                if a > b {
                    return Err(bad(&format!("'{r}' (it is empty)")));
                }
                Ok(CheckKind::Events(a, b))
            }
            other => Err(bad(other)),
        }
    }

    /// A check's `event`: only with body_contains or json_path.
    pub(super) fn check_event(
        &self,
        c: &Spanned<CheckSection>,
        kind: &CheckKind,
    ) -> Result<Option<EventPick>, ScenarioError> {
        let Some(e) = &c.get_ref().event else {
            return Ok(None);
        };
        let pick = EventPick::parse(e.get_ref()).map_err(|m| self.err(e.span(), m))?;
        if !kind.needs_body() {
            return Err(self.err(
                e.span(),
                "'event' picks the event that body_contains or json_path looks at: this check has neither",
            ));
        }
        Ok(Some(pick))
    }

    /// A capture's `event`: only with json or regex.
    pub(super) fn capture_event(
        &self,
        c: &Spanned<CaptureSection>,
        from: &CaptureFrom,
    ) -> Result<Option<EventPick>, ScenarioError> {
        let Some(e) = &c.get_ref().event else {
            return Ok(None);
        };
        let pick = EventPick::parse(e.get_ref()).map_err(|m| self.err(e.span(), m))?;
        if matches!(from, CaptureFrom::Header(_)) {
            return Err(self.err(
                e.span(),
                "'event' picks the event that json or regex reads: an event has no headers",
            ));
        }
        Ok(Some(pick))
    }

    pub(super) fn stream_opts(&self, r: &RequestSection) -> Result<StreamOpts, ScenarioError> {
        let idle =
            match r.stream_idle {
                Some(d) if d.0.is_zero() => return Err(self.err(
                    r.path.span(),
                    "stream_idle must be above zero (it is the longest silence inside a stream)",
                )),
                Some(d) => d.0,
                None => DEFAULT_STREAM_IDLE,
            };
        Ok(StreamOpts {
            forced: r.stream.as_ref().is_some_and(|s| *s.get_ref()),
            idle,
        })
    }

    /// Streams are timed by volley's own HTTP/1.1 client: a streamed request that
    /// another client would run is refused rather than silently not timed.
    pub(super) fn stream_client(
        &self,
        i: usize,
        r: &RequestSection,
        ep: &Endpoint,
    ) -> Result<(), ScenarioError> {
        if ep.client == ClientKind::H1 {
            return Ok(());
        }
        let why = match ep.client {
            ClientKind::Reqwest => "follows redirects or keeps cookies (the reqwest client)",
            _ => {
                "runs on the hyper client ([http] version \"2\" or \"auto\", or client = \"hyper\")"
            }
        };
        let msg = |what: &str| {
            format!(
                "{what} needs volley's HTTP/1.1 client, but request '{}' {why}",
                ep.name
            )
        };
        if let Some(s) = r.stream.as_ref().filter(|s| *s.get_ref()) {
            return Err(self.err_key(
                s.span(),
                &format!("request[{i}].stream"),
                msg("stream = true"),
            ));
        }
        if ep.needs_events()
            || ep
                .checks
                .iter()
                .any(|c| matches!(c.kind, CheckKind::Events(..)))
        {
            return Err(self.err_key(
                r.path.span(),
                &format!("request[{i}].check"),
                msg("a check or capture on events"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn error(request: &str) -> String {
        let src = format!("name = \"s\"\nbase_url = \"http://127.0.0.1:1\"\n{request}");
        match crate::scenario::parse(Path::new("s.toml"), &src) {
            Ok(_) => panic!("accepted:\n{src}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn mistakes_name_file_line_and_key() {
        let cases = [
            (
                "[[request]]\npath = \"/\"\n[[request.check]]\nevents = \"many\"\n",
                "s.toml:6",
                "events must be a count (5) or a range like \"1..100\" or \"1..\", not 'many'",
            ),
            (
                "[[request]]\npath = \"/\"\n[[request.check]]\nevents = \"9..2\"\n",
                "s.toml:6",
                "'9..2' (it is empty)",
            ),
            (
                "[[request]]\npath = \"/\"\n[[request.check]]\nstatus = 200\nevent = \"last\"\n",
                "s.toml:7",
                "'event' picks the event that body_contains or json_path looks at",
            ),
            (
                "[[request]]\npath = \"/\"\n[[request.check]]\nbody_contains = \"x\"\nevent = \"final\"\n",
                "s.toml:7",
                "event must be \"first\", \"last\" or an index from 0",
            ),
            (
                "[[request]]\npath = \"/\"\n[[request.capture]]\nvar = \"v\"\nheader = \"x-id\"\nevent = 0\n",
                "s.toml:8",
                "an event has no headers",
            ),
            (
                "[[request]]\npath = \"/\"\nstream = true\nfollow_redirects = true\n",
                "s.toml:5",
                "stream = true needs volley's HTTP/1.1 client, but request 'GET /' follows redirects",
            ),
            (
                "[http]\nversion = \"2\"\n[[request]]\npath = \"/\"\nstream = true\n",
                "s.toml:7",
                "runs on the hyper client",
            ),
            (
                "[[request]]\npath = \"/\"\nstream = \"yes\"\n",
                "s.toml:5",
                "invalid type: string \"yes\", expected a boolean",
            ),
            (
                "[[request]]\npath = \"/\"\nstream_idle = \"0s\"\n",
                "s.toml:4",
                "stream_idle must be above zero",
            ),
        ];
        for (toml, at, msg) in cases {
            let e = error(toml);
            assert!(e.contains(at) && e.contains(msg), "{toml}\n-> {e}");
        }
    }

    #[test]
    fn stream_keys_make_a_plan() {
        let src = "name = \"s\"\nbase_url = \"http://127.0.0.1:1\"\n[load]\niterations = 1\n[[request]]\npath = \"/\"\nstream = true\nstream_idle = \"2s\"\n[[request.check]]\nevents = \"1..\"\n[[request.check]]\nevent = \"last\"\nbody_contains = \"[DONE]\"\n";
        let plan = crate::scenario::parse(Path::new("s.toml"), src).expect("valid");
        let ep = &plan.endpoints[0];
        assert!(ep.stream.forced);
        assert_eq!(ep.stream.idle, std::time::Duration::from_secs(2));
        assert!(ep.needs_events() && !ep.needs_body());
        let names: Vec<&str> = ep.checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            ["at least 1 events", "last event: contains '[DONE]'"]
        );
    }
}
