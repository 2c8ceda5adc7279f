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
//! echo {"seq": {{seq}}} at 50/s for 10s within 2s   # echo latency at a fixed rate
//! ```
//!
//! `within DURATION` at the end of an `expect`, `receive` or `echo` line sets its timeout
//! (else the request's). `echo [json] MESSAGE at RATE for DURATION` sends
//! floor(RATE x DURATION) messages on a schedule fixed in advance; `{{seq}}` in MESSAGE
//! (required) is each message's sequence number in the session, which matches it to its
//! echo. Blank lines and lines starting with `#` are skipped. This module only
//! parses; templates, JSON paths and regexes are compiled by the validator.

use std::time::Duration;

/// Most steps in one script.
pub const MAX_STEPS: usize = 1_000;
/// Most messages one `receive` waits for.
pub const MAX_RECEIVE: u64 = 1_000_000;
/// Fastest `echo` rate on one socket, messages per second.
pub const MAX_ECHO_RATE: u64 = 10_000;
/// The sequence number placeholder of an `echo` message.
pub const SEQ: &str = "seq";

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
    /// Messages at a fixed rate for a while, each matched to its echo.
    Echo {
        /// The message's text around each `{{seq}}` (a template each): at least two.
        parts: Vec<String>,
        json: bool,
        rate: EchoRate,
        duration: Duration,
        within: Option<Duration>,
    },
}

/// An `echo` step's rate: `milli` thousandths of a message every `per`, kept exact so
/// that the step sends exactly floor(rate x duration) messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoRate {
    pub milli: u64,
    pub per: Duration,
}

impl EchoRate {
    /// Messages in `d`: floor(rate x d).
    pub fn count(self, d: Duration) -> u64 {
        let n = self.milli as u128 * d.as_nanos() / (1000 * self.per.as_nanos());
        n.min(u64::MAX as u128) as u64
    }

    /// When message `k` (from 0) is due, from the step's start.
    pub fn offset(self, k: u64) -> Duration {
        let ns = k as u128 * 1000 * self.per.as_nanos() / self.milli.max(1) as u128;
        Duration::from_nanos(ns.min(u64::MAX as u128) as u64)
    }

    /// Messages per second.
    pub fn per_second(self) -> f64 {
        self.milli as f64 / 1000.0 / self.per.as_secs_f64()
    }
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
            message: "the script has no steps: give it at least one (send, expect, receive, sleep, close, echo)".into(),
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
        "echo" => parse_echo(rest),
        other => Err(format!(
            "unknown step '{other}': a step is send, expect, receive, sleep, close or echo"
        )),
    }
}

const ECHO_FORM: &str =
    "echo MESSAGE at RATE for DURATION [within DURATION], like: echo {\"seq\": {{seq}}} at 50/s for 10s";

/// `echo [json] MESSAGE at RATE for DURATION [within DURATION]`.
fn parse_echo(rest: &str) -> Result<RawStep, String> {
    let (body, within) = split_within(rest)?;
    let (json, body) = match body
        .strip_prefix("json")
        .filter(|r| r.is_empty() || r.starts_with(char::is_whitespace))
    {
        Some(b) => (true, b.trim_start()),
        None => (false, body),
    };
    let (body, duration) = match body.rsplit_once(" for ") {
        Some((b, d)) => (b, d.trim()),
        None => return Err(format!("'echo' takes: {ECHO_FORM} (no 'for DURATION')")),
    };
    let at = body
        .rsplit_once(" at ")
        .or_else(|| body.strip_prefix("at ").map(|r| ("", r)));
    let (text, rate_text) = match at {
        Some((t, r)) => (t.trim(), r.trim()),
        None => return Err(format!("'echo' takes: {ECHO_FORM} (no 'at RATE')")),
    };
    if text.is_empty() {
        return Err(format!("'echo' needs the message before 'at': {ECHO_FORM}"));
    }
    let rate = parse_echo_rate(rate_text)?;
    let duration_text = duration;
    let duration = match super::parse_duration(duration) {
        Ok(d) if !d.is_zero() => d,
        Ok(_) => return Err("'echo ... for': the duration must be above zero".into()),
        Err(e) => {
            return Err(format!(
                "'echo ... for' takes a duration like 10s, got '{duration}': {e}"
            ))
        }
    };
    let n = rate.count(duration);
    if n == 0 {
        return Err(format!(
            "'echo ... at {rate_text} for {duration_text}' sends no message (rate x duration is below 1)"
        ));
    }
    let parts: Vec<String> = split_seq(text).into_iter().map(str::to_string).collect();
    if parts.len() < 2 {
        return Err(format!(
            "'echo' needs {{{{seq}}}} in its message (each message's sequence number, which matches it to its echo): {ECHO_FORM}"
        ));
    }
    Ok(RawStep::Echo {
        parts,
        json,
        rate,
        duration,
        within,
    })
}

/// A rate like `50/s`, `2.5/s`, `600/m` or `10/h` (at most 3 decimals), above zero and
/// at most [`MAX_ECHO_RATE`] a second.
fn parse_echo_rate(t: &str) -> Result<EchoRate, String> {
    let bad = || {
        format!("'echo ... at' takes a rate like 50/s (a number per s, m or h, at most 3 decimals), got '{t}'")
    };
    let (num, unit) = t.split_once('/').ok_or_else(bad)?;
    let per = match unit.trim() {
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        _ => return Err(bad()),
    };
    let num = num.trim();
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(frac) || frac.len() > 3 || whole.len() > 12 {
        return Err(bad());
    }
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    let frac: u64 = format!("{frac:0<3}").parse().map_err(|_| bad())?;
    let rate = EchoRate {
        milli: whole * 1000 + frac,
        per,
    };
    if rate.milli == 0 {
        return Err(format!("'echo ... at {t}': the rate must be above zero"));
    }
    if rate.milli as u128 * 1_000_000_000 > MAX_ECHO_RATE as u128 * 1000 * per.as_nanos() {
        return Err(format!(
            "'echo ... at {t}': at most {MAX_ECHO_RATE}/s on one socket (use more VUs for more)"
        ));
    }
    Ok(rate)
}

/// `text` cut at each `{{seq}}` (spaces inside the braces allowed): the parts around
/// them, one more than there are placeholders.
pub fn split_seq(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut from = 0;
    let mut at = 0;
    while let Some(open) = text[at..].find("{{") {
        let open = at + open;
        let Some(close) = text[open + 2..].find("}}") else {
            break;
        };
        let close = open + 2 + close;
        if text[open + 2..close].trim() == SEQ {
            parts.push(&text[from..open]);
            from = close + 2;
        }
        at = close + 2;
    }
    parts.push(&text[from..]);
    parts
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
            ("echo {{seq}} at 5/s", 1, "no 'for DURATION'"),
            ("echo {{seq}} for 1s", 1, "no 'at RATE'"),
            ("echo at 5/s for 1s", 1, "needs the message before 'at'"),
            ("echo  at 5/s for 1s", 1, "needs the message before 'at'"),
            (
                "echo json at 5/s for 1s",
                1,
                "needs the message before 'at'",
            ),
            ("echo {{seq}} at fast for 1s", 1, "takes a rate like 50/s"),
            ("echo {{seq}} at 5/d for 1s", 1, "takes a rate like 50/s"),
            ("echo {{seq}} at 5 for 1s", 1, "takes a rate like 50/s"),
            ("echo {{seq}} at -5/s for 1s", 1, "takes a rate like 50/s"),
            ("echo {{seq}} at 0.0001/s for 1s", 1, "at most 3 decimals"),
            (
                "echo {{seq}} at 0/s for 1s",
                1,
                "the rate must be above zero",
            ),
            (
                "echo {{seq}} at 0.000/s for 1s",
                1,
                "the rate must be above zero",
            ),
            (
                "echo {{seq}} at 10001/s for 1s",
                1,
                "at most 10000/s on one socket",
            ),
            (
                "echo {{seq}} at 600001/m for 1s",
                1,
                "at most 10000/s on one socket",
            ),
            (
                "echo {{seq}} at 5/s for soon",
                1,
                "takes a duration like 10s",
            ),
            (
                "echo {{seq}} at 5/s for 0s",
                1,
                "the duration must be above zero",
            ),
            ("echo {{seq}} at 1/m for 10s", 1, "sends no message"),
            (
                "echo {{seq}} at 5/s for 1s within 0s",
                1,
                "'within' must be above zero",
            ),
            (
                "echo hello at 5/s for 1s",
                1,
                "needs {{seq}} in its message",
            ),
            ("echo {{sequence}} at 5/s for 1s", 1, "needs {{seq}}"),
            ("send a\necho {{seq at 5/s for 1s", 2, "needs {{seq}}"),
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
        // `within` followed by no duration is part of the text (and of an echo's
        // duration, which is then wrong).
        let e = parse("echo {{seq}} at 5/s for 1s within reach").unwrap_err();
        assert!(
            e.message.contains("takes a duration like 10s"),
            "{}",
            e.message
        );
        let steps = parse("expect contains within reach").unwrap();
        assert_eq!(
            steps[0].step,
            RawStep::Expect {
                what: RawMatch::Contains("within reach".into()),
                within: None
            }
        );
    }

    #[test]
    fn an_echo_step_parses_with_its_rate_and_sequence() {
        let steps = parse(
            "echo {\"seq\": {{seq}}, \"at\": \"x at y\"} at 50/s for 10s within 2s\necho json [{{ seq }}, {{vu}}, {{seq}}] at 2.5/s for 2s\necho {{seq}} at 90/m for 1m",
        )
        .unwrap();
        let per_s = Duration::from_secs(1);
        assert_eq!(
            steps[0].step,
            RawStep::Echo {
                parts: vec!["{\"seq\": ".into(), ", \"at\": \"x at y\"}".into()],
                json: false,
                rate: EchoRate {
                    milli: 50_000,
                    per: per_s
                },
                duration: Duration::from_secs(10),
                within: Some(Duration::from_secs(2)),
            }
        );
        assert_eq!(
            steps[1].step,
            RawStep::Echo {
                parts: vec!["[".into(), ", {{vu}}, ".into(), "]".into()],
                json: true,
                rate: EchoRate {
                    milli: 2_500,
                    per: per_s
                },
                duration: Duration::from_secs(2),
                within: None,
            }
        );
        let RawStep::Echo { rate, duration, .. } = steps[2].step.clone() else {
            panic!("{:?}", steps[2]);
        };
        assert_eq!(rate.count(duration), 90);
        assert_eq!(rate.offset(1), Duration::from_nanos(666_666_666));
    }

    #[test]
    fn an_echo_rate_counts_exactly() {
        let r = |milli, secs| EchoRate {
            milli,
            per: Duration::from_secs(secs),
        };
        assert_eq!(r(20_000, 1).count(Duration::from_secs(1)), 20);
        assert_eq!(r(20_000, 1).count(Duration::from_millis(999)), 19);
        assert_eq!(r(2_500, 1).count(Duration::from_secs(2)), 5);
        assert_eq!(r(700, 1).count(Duration::from_secs(10)), 7);
        assert_eq!(r(1, 1).count(Duration::from_secs(1)), 0);
        assert_eq!(r(3_000, 1).offset(2), Duration::from_nanos(666_666_666));
        // Every message is due before the step's end (and at 0.7/m, 90 s holds one: the
        // count is floor(rate x duration), though a second would be due at 85.7 s).
        for (milli, secs, d, n) in [
            (20_000, 1, 1_000, 20),
            (3_000, 1, 1_000, 3),
            (700, 60, 90_001, 1),
        ] {
            let (rate, d) = (r(milli, secs), Duration::from_millis(d));
            assert_eq!(rate.count(d), n, "{rate:?}");
            assert!(rate.offset(n - 1) < d, "{rate:?}");
        }
    }

    #[test]
    fn the_sequence_placeholder_splits_a_message() {
        assert_eq!(split_seq("a{{seq}}b{{ seq }}c"), vec!["a", "b", "c"]);
        assert_eq!(split_seq("{{seq}}"), vec!["", ""]);
        assert_eq!(split_seq("{{vu}}-{{seq}}"), vec!["{{vu}}-", ""]);
        assert_eq!(split_seq("{{seq"), vec!["{{seq"]);
        assert_eq!(split_seq("no seq"), vec!["no seq"]);
    }
}
