//! Validating WebSocket requests: `protocol`, `ws` (the step script, parsed by
//! [`crate::scenario::wsscript`]) and `ws_max_message`.

use std::borrow::Cow;
use std::ops::Range;

use serde_spanned::Spanned;

use super::super::inspect::JsonPath;
use super::super::model::RequestSection;
use super::super::plan::{Endpoint, WsEcho, WsMatch, WsPlan, WsStep, DEFAULT_WS_MAX_MESSAGE};
use super::super::template::Template;
use super::super::wsscript::{self, RawMatch, RawStep};
use super::super::ScenarioError;
use super::{Scope, Validator};

/// A `ws://` or `wss://` path as the `http://` or `https://` URL the connection goes to.
pub fn http_path(path: &str) -> Cow<'_, str> {
    if let Some(rest) = path.strip_prefix("ws://") {
        Cow::Owned(format!("http://{rest}"))
    } else if let Some(rest) = path.strip_prefix("wss://") {
        Cow::Owned(format!("https://{rest}"))
    } else {
        Cow::Borrowed(path)
    }
}

/// Largest `ws_max_message` accepted (64 MiB).
const MAX_WS_MESSAGE: u64 = 64 << 20;

impl Validator<'_> {
    /// The request's WebSocket plan, when it is one.
    pub(super) fn ws_plan(
        &self,
        i: usize,
        r: &RequestSection,
        ep: &Endpoint,
        scope: &Scope,
    ) -> Result<Option<WsPlan>, ScenarioError> {
        let written = r.path.get_ref();
        let by_scheme = written.starts_with("ws://") || written.starts_with("wss://");
        let by_protocol = match &r.protocol {
            None => false,
            Some(p) => match p.get_ref().as_str() {
                "websocket" => true,
                "http" if by_scheme => {
                    return Err(self.err(
                        p.span(),
                        format!("protocol = \"http\", but the path '{written}' is a WebSocket URL"),
                    ))
                }
                "http" => false,
                other => {
                    return Err(self.err(
                        p.span(),
                        format!("protocol must be \"http\" or \"websocket\", not '{other}'"),
                    ))
                }
            },
        };
        let key = |k: &str| format!("request[{i}].{k}");
        if !(by_scheme || by_protocol) {
            if let Some(w) = &r.ws {
                return Err(self.err_key(
                    w.span(),
                    &key("ws"),
                    "'ws' is a WebSocket step script: give the request a ws:// or wss:// path, or protocol = \"websocket\"",
                ));
            }
            if let Some(m) = &r.ws_max_message {
                return Err(self.err_key(
                    m.span(),
                    &key("ws_max_message"),
                    "'ws_max_message' applies to WebSocket requests only",
                ));
            }
            return Ok(None);
        }
        let Some(script) = &r.ws else {
            return Err(self.err_key(
                r.path.span(),
                &key("ws"),
                format!(
                    "request '{}' is a WebSocket request: give it a step script, ws = \"\"\"\\nsend hello\\nexpect contains hello\\n\"\"\"",
                    ep.name
                ),
            ));
        };
        if ep.method != http::Method::GET {
            return Err(self.err_key(
                r.path.span(),
                &key("method"),
                "a WebSocket handshake is a GET: remove method",
            ));
        }
        if r.body.is_some() || r.json.is_some() {
            return Err(self.err_key(
                r.path.span(),
                &key("body"),
                "a WebSocket request has no body: send messages with 'send' steps",
            ));
        }
        if !r.check.is_empty() || !r.capture.is_empty() || r.stream.is_some() {
            return Err(self.err_key(
                r.path.span(),
                &key("check"),
                "checks, captures and stream look at HTTP responses: a WebSocket script checks messages with 'expect' steps",
            ));
        }
        if ep.template.as_ref().is_some_and(|t| t.path.is_some()) {
            return Err(self.err_key(
                r.path.span(),
                &key("path"),
                "a WebSocket path cannot have templates (headers can)",
            ));
        }
        let max_message = match &r.ws_max_message {
            None => DEFAULT_WS_MAX_MESSAGE,
            Some(m) if (1..=MAX_WS_MESSAGE).contains(m.get_ref()) => *m.get_ref() as usize,
            Some(m) => {
                return Err(self.err_key(
                    m.span(),
                    &key("ws_max_message"),
                    format!("ws_max_message must be from 1 to {MAX_WS_MESSAGE} bytes"),
                ))
            }
        };
        let raw = wsscript::parse(script.get_ref())
            .map_err(|e| self.err_key(self.script_line(script, e.line), &key("ws"), e.message))?;
        let mut steps = Vec::with_capacity(raw.len());
        for l in raw {
            let at = || self.script_line(script, l.line);
            let bad = |m: String| self.err_key(at(), &key("ws"), m);
            steps.push(match l.step {
                RawStep::Send { text, json } => {
                    let t = Template::compile(&text, scope).map_err(|(_, m)| bad(m))?;
                    if json {
                        // Placeholders stand for values: check the JSON around them.
                        let probe = placeholder_probe(&text);
                        if let Err(e) = serde_json::from_str::<serde_json::Value>(&probe) {
                            return Err(bad(format!("'send json': not JSON: {e}")));
                        }
                    }
                    WsStep::Send(t)
                }
                RawStep::Expect { what, within } => WsStep::Expect {
                    what: match what {
                        RawMatch::Contains(t) => WsMatch::Contains(t),
                        RawMatch::Regex(r) => WsMatch::Regex(
                            regex::Regex::new(&r)
                                .map_err(|e| bad(format!("invalid regex '{r}': {e}")))?,
                        ),
                        RawMatch::Json(p, v) => {
                            let path = JsonPath::parse(&p).map_err(bad)?;
                            match v {
                                None => WsMatch::JsonExists(path),
                                Some(v) => WsMatch::JsonEquals(
                                    path,
                                    serde_json::from_str(&v).map_err(|_| {
                                        bad(format!(
                                            "'== {v}': the value must be JSON (quote a string: \"{v}\")"
                                        ))
                                    })?,
                                ),
                            }
                        }
                    },
                    within: within.unwrap_or(ep.timeout),
                },
                RawStep::Receive { n, within } => WsStep::Receive {
                    n,
                    within: within.unwrap_or(ep.timeout),
                },
                RawStep::Sleep(d) => WsStep::Sleep(d),
                RawStep::Close(code) => WsStep::Close(code.unwrap_or(1000)),
                RawStep::Echo {
                    parts,
                    json,
                    rate,
                    duration,
                    within,
                } => {
                    if json {
                        let probe = placeholder_probe(&parts.join("{{seq}}"));
                        if let Err(e) = serde_json::from_str::<serde_json::Value>(&probe) {
                            return Err(bad(format!("'echo json': not JSON: {e}")));
                        }
                    }
                    let parts = parts
                        .iter()
                        .map(|p| Template::compile(p, scope).map_err(|(_, m)| bad(m)))
                        .collect::<Result<Vec<_>, _>>()?;
                    WsStep::Echo(Box::new(WsEcho {
                        parts,
                        rate,
                        duration,
                        within: within.unwrap_or(ep.timeout),
                    }))
                }
            });
        }
        Ok(Some(WsPlan { steps, max_message }))
    }

    /// The span of line `line` (1-based) of a script string, found by its text.
    fn script_line(&self, script: &Spanned<String>, line: usize) -> Range<usize> {
        let span = script.span();
        let text = script
            .get_ref()
            .lines()
            .nth(line.saturating_sub(1))
            .unwrap_or("")
            .trim();
        let region = self.src.get(span.clone()).unwrap_or("");
        match region.find(text).filter(|_| !text.is_empty()) {
            Some(at) => span.start + at..span.start + at + text.len(),
            None => span,
        }
    }
}

/// JSON text with each `{{...}}` placeholder replaced by `0` (inside a string it stays a
/// string; outside, it stands for a number).
fn placeholder_probe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        match rest[start..].find("}}") {
            Some(end) => {
                out.push('0');
                rest = &rest[start + end + 2..];
            }
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn parse(request: &str) -> Result<crate::scenario::Plan, String> {
        let src = format!(
            "name = \"s\"\nbase_url = \"http://127.0.0.1:1\"\n[load]\niterations = 1\n{request}"
        );
        crate::scenario::parse(Path::new("s.toml"), &src).map_err(|e| e.to_string())
    }

    #[test]
    fn a_script_compiles_with_templates_and_timeouts() {
        let plan = parse(
            "[[request]]\nname = \"chat\"\npath = \"ws://127.0.0.1:9/chat\"\ntimeout = \"3s\"\nws = \"\"\"\nsend json {\"n\": {{vu}}, \"who\": \"{{vu}}\"}\nexpect json $.n == 1 within 2s\nreceive 2\nsleep 10ms\nclose\n\"\"\"\n",
        )
        .unwrap();
        let ep = &plan.endpoints[0];
        assert_eq!(ep.url.as_str(), "http://127.0.0.1:9/chat");
        let ws = ep.ws.as_ref().expect("a websocket plan");
        assert_eq!(ws.steps.len(), 5);
        assert!(matches!(
            ws.steps[1],
            crate::scenario::WsStep::Expect { within, .. } if within == std::time::Duration::from_secs(2)
        ));
        assert!(matches!(
            ws.steps[2],
            crate::scenario::WsStep::Receive { n: 2, within } if within == std::time::Duration::from_secs(3)
        ));
    }

    #[test]
    fn an_echo_step_compiles_its_parts_and_takes_the_timeout() {
        let plan = parse(
            "[[request]]\nname = \"echo\"\npath = \"ws://127.0.0.1:9/\"\ntimeout = \"3s\"\nws = \"\"\"\necho json {\"seq\": {{seq}}, \"vu\": {{vu}}} at 20/s for 1s\necho {{seq}} at 1/s for 2s within 500ms\n\"\"\"\n",
        )
        .unwrap();
        let ws = plan.endpoints[0].ws.as_ref().unwrap();
        let crate::scenario::WsStep::Echo(e) = &ws.steps[0] else {
            panic!("{:?}", ws.steps[0]);
        };
        assert_eq!(e.parts.len(), 2);
        assert_eq!(ws.steps[0].templates().len(), 2);
        assert_eq!(e.rate.count(e.duration), 20);
        assert_eq!(e.within, std::time::Duration::from_secs(3));
        let crate::scenario::WsStep::Echo(e) = &ws.steps[1] else {
            panic!("{:?}", ws.steps[1]);
        };
        assert_eq!(e.within, std::time::Duration::from_millis(500));
    }

    #[test]
    fn mistakes_name_file_line_and_key() {
        for (request, at, msg) in [
            (
                "[[request]]\npath = \"ws://h:1/\"\nws = \"\"\"\nsend hi\nyell hi\n\"\"\"\n",
                "s.toml:9:1",
                "unknown step 'yell'",
            ),
            (
                "[[request]]\npath = \"ws://h:1/\"\n",
                "s.toml:6",
                "is a WebSocket request: give it a step script",
            ),
            (
                "[[request]]\npath = \"/\"\nws = \"send hi\"\n",
                "s.toml:7",
                "give the request a ws:// or wss:// path, or protocol = \"websocket\"",
            ),
            (
                "[[request]]\npath = \"/\"\nprotocol = \"grpc\"\n",
                "s.toml:7",
                "protocol must be \"http\" or \"websocket\"",
            ),
            (
                "[[request]]\npath = \"/c\"\nprotocol = \"websocket\"\nws = \"send json {oops}\"\n",
                "s.toml:8",
                "'send json': not JSON",
            ),
            (
                "[[request]]\npath = \"ws://h:1/\"\nws = \"expect json $.a == reply\"\n",
                "s.toml:7",
                "the value must be JSON (quote a string: \"reply\")",
            ),
            (
                "[[request]]\npath = \"ws://h:1/\"\nws = \"send {{nobody}}\"\n",
                "s.toml:7",
                "nobody",
            ),
            (
                "[[request]]\npath = \"ws://h:1/\"\nws = \"send hi\"\n[[request.check]]\nstatus = 101\n",
                "s.toml:6",
                "a WebSocket script checks messages with 'expect' steps",
            ),
            (
                "[[request]]\npath = \"ws://h:1/\"\nws = \"\"\"\nsend hi\necho {{seq}} at 5/s\n\"\"\"\n",
                "s.toml:9:1",
                "'echo' takes: echo MESSAGE at RATE for DURATION",
            ),
            (
                "[[request]]\npath = \"ws://h:1/\"\nws = \"echo json {\\\"n\\\": {{seq}} at 5/s for 1s\"\n",
                "s.toml:7",
                "'echo json': not JSON",
            ),
            (
                "[[request]]\npath = \"ws://h:1/\"\nws = \"echo {{seq}} {{nobody}} at 5/s for 1s\"\n",
                "s.toml:7",
                "nobody",
            ),
            (
                "[[request]]\npath = \"ws://h:1/\"\nws = \"send hi\"\nws_max_message = 0\n",
                "s.toml:8",
                "ws_max_message must be from 1",
            ),
        ] {
            let e = parse(request).expect_err(request);
            assert!(e.contains(at) && e.contains(msg), "{request}\n-> {e}");
        }
    }
}
