//! The WebSocket step script of a request (`ws = """ ... """`): one step a line.
//!
//! ```text
//! send hello {{user}}                 # a text message (templates allowed)
//! send json {"type": "chat", "text": "hi"}   # a JSON message: checked to be JSON
//! expect contains reply               # wait for a message containing 'reply'
//! expect json $.type == "reply" within 2s
//! expect json $.id                    # a JSON message that has $.id
//! expect regex ^tok \d+$
//! receive 3                           # wait for any 3 messages
//! sleep 100ms
//! close                               # or: close 1000
//! ```
//!
//! `within DURATION` at the end of an `expect` or `receive` line sets its timeout (else
//! the request's). Blank lines and lines starting with `#` are skipped. This module only
//! parses; templates, JSON paths and regexes are compiled by the validator.

use std::time::Duration;

/// Most steps in one script.
pub const MAX_STEPS: usize = 1_000;
/// Most messages one `receive` waits for.
pub const MAX_RECEIVE: u64 = 1_000_000;

/// One step as written.
#[derive(Debug, Clone, PartialEq)]
pub enum RawStep {
    /// Text to send (a template); `json` when it must be a JSON document.
    Send {
        text: String,
        json: bool,
    },
    Expect {
        what: RawMatch,
        within: Option<Duration>,
    },
    Receive {
        n: u64,
        within: Option<Duration>,
    },
    Sleep(Duration),
    Close(Option<u16>),
}

/// What an `expect` waits for, as written.
#[derive(Debug, Clone, PartialEq)]
pub enum RawMatch {
    Contains(String),
    Regex(String),
    /// A JSON path, and the JSON text of the value it must equal (else it must exist).
    Json(String, Option<String>),
}

/// A step and the line (1-based, within the script) it is on.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub line: usize,
    pub step: RawStep,
}

/// An error in the script: its line (1-based) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    pub line: usize,
    pub message: String,
}

/// Parses a script; an empty script is an error (a socket that does nothing).
pub fn parse(text: &str) -> Result<Vec<Line>, ScriptError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let err = |m: String| ScriptError { line, message: m };
        let step = parse_step(t).map_err(err)?;
        if out.len() == MAX_STEPS {
            return Err(err(format!("more than {MAX_STEPS} steps")));
        }
        out.push(Line { line, step });
    }
    if out.is_empty() {
        return Err(ScriptError {
            line: 1,
            message: "the script has no steps: give it at least one (send, expect, receive, sleep, close)".into(),
        });
    }
    Ok(out)
}

fn parse_step(t: &str) -> Result<RawStep, String> {
    let (word, rest) = match t.split_once(char::is_whitespace) {
        Some((w, r)) => (w, r.trim()),
        None => (t, ""),
    };
    match word {
        "send" => {
            if let Some(j) = rest
                .strip_prefix("json")
                .filter(|r| r.is_empty() || r.starts_with(char::is_whitespace))
            {
                let text = j.trim();
                if text.is_empty() {
                    return Err("'send json' needs a JSON document after it".into());
                }
                return Ok(RawStep::Send {
                    text: text.to_string(),
                    json: true,
                });
            }
            if rest.is_empty() {
                return Err("'send' needs the text to send after it".into());
            }
            Ok(RawStep::Send {
                text: rest.to_string(),
                json: false,
            })
        }
        "expect" => {
            let (body, within) = split_within(rest)?;
            let (kind, arg) = match body.split_once(char::is_whitespace) {
                Some((k, a)) => (k, a.trim()),
                None => (body, ""),
            };
            if arg.is_empty() {
                return Err(format!(
                    "'expect' takes: contains TEXT, regex PATTERN or json PATH [== VALUE], got '{body}'"
                ));
            }
            let what = match kind {
                "contains" => RawMatch::Contains(arg.to_string()),
                "regex" => RawMatch::Regex(arg.to_string()),
                "json" => match arg.split_once("==") {
                    Some((p, v)) if !v.trim().is_empty() => {
                        RawMatch::Json(p.trim().to_string(), Some(v.trim().to_string()))
                    }
                    Some(_) => return Err(format!("'expect json {arg}': no value after '=='")),
                    None => RawMatch::Json(arg.to_string(), None),
                },
                other => {
                    return Err(format!(
                        "'expect {other}': expect takes contains, regex or json"
                    ))
                }
            };
            Ok(RawStep::Expect { what, within })
        }
        "receive" => {
            let (body, within) = split_within(rest)?;
            let n: u64 = body
                .parse()
                .ok()
                .filter(|n| (1..=MAX_RECEIVE).contains(n))
                .ok_or_else(|| {
                    format!("'receive' takes a count from 1 to {MAX_RECEIVE}, got '{body}'")
                })?;
            Ok(RawStep::Receive { n, within })
        }
        "sleep" => {
            let d = super::parse_duration(rest)
                .map_err(|e| format!("'sleep' takes a duration like 100ms: {e}"))?;
            Ok(RawStep::Sleep(d))
        }
        "close" => {
            if rest.is_empty() {
                return Ok(RawStep::Close(None));
            }
            let code: u16 = rest
                .parse()
                .ok()
                .filter(|c| *c == 1000 || (3000..=4999).contains(c))
                .ok_or_else(|| {
                    format!("'close' takes a close code: 1000, or 3000-4999 (an application's), got '{rest}'")
                })?;
            Ok(RawStep::Close(Some(code)))
        }
        other => Err(format!(
            "unknown step '{other}': a step is send, expect, receive, sleep or close"
        )),
    }
}

/// Splits a trailing `within DURATION` off.
fn split_within(rest: &str) -> Result<(&str, Option<Duration>), String> {
    let Some(i) = rest.rfind(" within ") else {
        return Ok((rest, None));
    };
    let d = rest[i + " within ".len()..].trim();
    match super::parse_duration(d) {
        Ok(d) if d.is_zero() => Err("'within' must be above zero".into()),
        Ok(d) => Ok((rest[..i].trim(), Some(d))),
        // Not a duration: part of the text.
        Err(_) => Ok((rest, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_parses() {
        let script = "# a chat\nsend hello {{user}}\nsend json {\"a\": 1}\n\nexpect contains hi there\nexpect json $.type == \"reply\" within 2s\nexpect json $.id\nexpect regex ^tok \\d+$ within 150ms\nreceive 3 within 1s\nsleep 100ms\nclose\nclose 4000\n";
        let steps: Vec<RawStep> = parse(script).unwrap().into_iter().map(|l| l.step).collect();
        assert_eq!(
            steps,
            vec![
                RawStep::Send {
                    text: "hello {{user}}".into(),
                    json: false
                },
                RawStep::Send {
                    text: "{\"a\": 1}".into(),
                    json: true
                },
                RawStep::Expect {
                    what: RawMatch::Contains("hi there".into()),
                    within: None
                },
                RawStep::Expect {
                    what: RawMatch::Json("$.type".into(), Some("\"reply\"".into())),
                    within: Some(Duration::from_secs(2)),
                },
                RawStep::Expect {
                    what: RawMatch::Json("$.id".into(), None),
                    within: None
                },
                RawStep::Expect {
                    what: RawMatch::Regex("^tok \\d+$".into()),
                    within: Some(Duration::from_millis(150)),
                },
                RawStep::Receive {
                    n: 3,
                    within: Some(Duration::from_secs(1))
                },
                RawStep::Sleep(Duration::from_millis(100)),
                RawStep::Close(None),
                RawStep::Close(Some(4000)),
            ]
        );
        assert_eq!(parse(script).unwrap()[0].line, 2);
    }

    #[test]
    fn mistakes_are_named_with_their_line() {
        for (script, line, msg) in [
            ("", 1, "the script has no steps"),
            ("send hi\nshout hi", 2, "unknown step 'shout'"),
            ("send", 1, "'send' needs the text"),
            ("send json", 1, "'send json' needs a JSON document"),
            ("expect hi", 1, "'expect' takes: contains TEXT"),
            (
                "expect near hi",
                1,
                "'expect near': expect takes contains, regex or json",
            ),
            ("expect json $.a ==", 1, "no value after '=='"),
            ("receive none", 1, "'receive' takes a count"),
            ("receive 0", 1, "'receive' takes a count"),
            ("sleep soon", 1, "'sleep' takes a duration"),
            ("close 1011", 1, "'close' takes a close code"),
            (
                "expect contains x within 0s",
                1,
                "'within' must be above zero",
            ),
        ] {
            let e = parse(script).expect_err(script);
            assert_eq!(e.line, line, "{script}");
            assert!(e.message.contains(msg), "{script}: {}", e.message);
        }
        // `within` followed by no duration is part of the text.
        let steps = parse("expect contains within reach").unwrap();
        assert_eq!(
            steps[0].step,
            RawStep::Expect {
                what: RawMatch::Contains("within reach".into()),
                within: None
            }
        );
    }
}
