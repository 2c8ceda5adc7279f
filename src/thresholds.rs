//! Threshold expressions, k6 style: `p95 < 500ms`, `error_rate < 1%`, `rps > 100`,
//! `checks > 99%`, `dropped == 0`, optionally followed by a rolling window
//! (`p99 < 1s over 30s`: "over the last 30 seconds").
//!
//! This module is pure: it parses the text into a [`Threshold`], computes the metric it
//! names from an [`Observed`] set of numbers, and says whether a value passes. It knows
//! nothing about the engine, where the numbers come from, or what a window covers.
//!
//! # Grammar
//!
//! ```text
//! threshold := metric op value [ "over" duration ]
//!            | timing stat op value
//! metric    := stat | error_rate | rps | checks | requests | dropped | generator_cpu
//! stat      := min | mean | avg | p50 | med | p90 | p95 | p99 | p99.9 | p999 | max
//! timing    := dns | connect | tls | send | ttfb | receive | total
//!            | first_event | gap | ws_handshake | ws_expect | ws_echo
//! op        := "<" | "<=" | ">" | ">=" | "=="
//! ```
//!
//! A `timing` names one part of a request instead of its whole latency: a phase
//! (`ttfb p95 < 200ms`, `connect p99 < 50ms`), a streamed response's first event or the
//! gaps between its events, or a WebSocket session's handshake, `expect` or `echo` latency. It
//! takes a latency statistic, and is judged over the whole run (no window).
//!
//! Whitespace between tokens is optional (`p95<500ms` works) and a unit may stand apart
//! from its number (`500 ms`, `1 %`). Values are stored in canonical units:
//!
//! | metrics | written as | stored as |
//! | --- | --- | --- |
//! | min, mean, p50, p90, p95, p99, p99.9, max | a number with a unit: `us`, `ms`, `s`, `m` | milliseconds |
//! | error_rate, checks | a percentage (`1%`) or a fraction (`0.01`), at most 100% | a fraction 0..=1 |
//! | rps, requests, dropped | a plain number, no unit | the number |
//!
//! The window is read by [`crate::units::parse_duration`], must be above zero, and is
//! kept to the microsecond.
//!
//! # Evaluation
//!
//! [`Threshold::observe`] returns `None` when the metric cannot be computed yet (no
//! latencies recorded, no requests for `error_rate`, no checks for `checks`, no elapsed
//! time for `rps`). Such a threshold is **pending**: it neither passes nor fails, and a
//! run must not be failed because of it. [`Threshold::evaluate`] folds both steps into a
//! [`Status`].

use std::fmt;
use std::time::Duration;

pub use crate::latency::Latency;
use crate::units::{self, duration as format_duration, parse_duration};

/// The metric a threshold is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    Min,
    Mean,
    P50,
    P90,
    P95,
    P99,
    P999,
    Max,
    /// Failed requests / all requests, as a fraction.
    ErrorRate,
    /// Requests per second.
    Rps,
    /// Passed checks / all checks, as a fraction.
    Checks,
    /// Number of requests.
    Requests,
    /// Number of iterations or requests the executor had to drop.
    Dropped,
    /// The load generator's own CPU, as a share of its engine threads (self-watch).
    GeneratorCpu,
}

/// The part of a request a latency statistic is taken of, when not its whole latency
/// (see `docs/results.md` for what each covers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timing {
    Dns,
    Connect,
    Tls,
    Send,
    Ttfb,
    Receive,
    /// The latency of the requests that had phases (connect included, uncorrected).
    Total,
    /// A streamed response: from the send to the first complete event.
    FirstEvent,
    /// A streamed response: between an event and the one before it.
    Gap,
    /// A WebSocket session's opening handshake.
    WsHandshake,
    /// A WebSocket `expect` step: from the send to the matching message.
    WsExpect,
    /// A WebSocket `echo` step: from when a message was due to its echo.
    WsEcho,
}

impl Timing {
    pub const ALL: [Timing; 12] = [
        Timing::Dns,
        Timing::Connect,
        Timing::Tls,
        Timing::Send,
        Timing::Ttfb,
        Timing::Receive,
        Timing::Total,
        Timing::FirstEvent,
        Timing::Gap,
        Timing::WsHandshake,
        Timing::WsExpect,
        Timing::WsEcho,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Timing::Dns => "dns",
            Timing::Connect => "connect",
            Timing::Tls => "tls",
            Timing::Send => "send",
            Timing::Ttfb => "ttfb",
            Timing::Receive => "receive",
            Timing::Total => "total",
            Timing::FirstEvent => "first_event",
            Timing::Gap => "gap",
            Timing::WsHandshake => "ws_handshake",
            Timing::WsExpect => "ws_expect",
            Timing::WsEcho => "ws_echo",
        }
    }

    pub fn from_name(name: &str) -> Option<Timing> {
        Timing::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl fmt::Display for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a metric's value is written and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A duration, stored in milliseconds.
    Latency,
    /// A fraction 0..=1, written as a percentage or a fraction.
    Fraction,
    /// A plain non-negative number.
    Count,
}

impl Metric {
    /// Every metric, in the order of the documentation.
    pub const ALL: [Metric; 14] = [
        Metric::Min,
        Metric::Mean,
        Metric::P50,
        Metric::P90,
        Metric::P95,
        Metric::P99,
        Metric::P999,
        Metric::Max,
        Metric::ErrorRate,
        Metric::Rps,
        Metric::Checks,
        Metric::Requests,
        Metric::Dropped,
        Metric::GeneratorCpu,
    ];

    /// The canonical name, as written in thresholds.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Min => "min",
            Metric::Mean => "mean",
            Metric::P50 => "p50",
            Metric::P90 => "p90",
            Metric::P95 => "p95",
            Metric::P99 => "p99",
            Metric::P999 => "p99.9",
            Metric::Max => "max",
            Metric::ErrorRate => "error_rate",
            Metric::Rps => "rps",
            Metric::Checks => "checks",
            Metric::Requests => "requests",
            Metric::Dropped => "dropped",
            Metric::GeneratorCpu => "generator_cpu",
        }
    }

    /// Reads a metric name, including the aliases `avg`, `med` and `p999`.
    pub fn from_name(name: &str) -> Option<Metric> {
        match name {
            "avg" => Some(Metric::Mean),
            "med" => Some(Metric::P50),
            "p999" => Some(Metric::P999),
            _ => Metric::ALL.into_iter().find(|m| m.name() == name),
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            Metric::Min
            | Metric::Mean
            | Metric::P50
            | Metric::P90
            | Metric::P95
            | Metric::P99
            | Metric::P999
            | Metric::Max => Kind::Latency,
            Metric::ErrorRate | Metric::Checks | Metric::GeneratorCpu => Kind::Fraction,
            Metric::Rps | Metric::Requests | Metric::Dropped => Kind::Count,
        }
    }

    pub fn is_latency(self) -> bool {
        self.kind() == Kind::Latency
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==` (exact comparison of the values)
    Eq,
}

impl Op {
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
        }
    }

    pub fn from_symbol(symbol: &str) -> Option<Op> {
        match symbol {
            "<" => Some(Op::Lt),
            "<=" => Some(Op::Le),
            ">" => Some(Op::Gt),
            ">=" => Some(Op::Ge),
            "==" => Some(Op::Eq),
            _ => None,
        }
    }

    /// `lhs op rhs`. Any comparison with NaN is false.
    pub fn compare(self, lhs: f64, rhs: f64) -> bool {
        match self {
            Op::Lt => lhs < rhs,
            Op::Le => lhs <= rhs,
            Op::Gt => lhs > rhs,
            Op::Ge => lhs >= rhs,
            Op::Eq => lhs == rhs,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// A parsed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The part of the requests a latency statistic is taken of; `None` for their whole
    /// latency (and for every metric that is not a latency).
    pub timing: Option<Timing>,
    pub metric: Metric,
    pub op: Op,
    /// In canonical units: milliseconds for latency metrics, a fraction 0..=1 for
    /// `error_rate` and `checks`, a plain number for `rps`, `requests` and `dropped`.
    pub value: f64,
    /// `over <duration>`: evaluate over the last `window` of the run instead of the whole
    /// run. Above zero, a whole number of microseconds.
    pub window: Option<Duration>,
    /// The text as written (trimmed), for messages.
    pub text: String,
}

/// A threshold and where it applies (built by the scenario's validation, evaluated by
/// the aggregator).
#[derive(Debug, Clone)]
pub struct ThresholdSpec {
    pub threshold: Threshold,
    /// Endpoint index; None for all requests.
    pub endpoint: Option<usize>,
    pub abort_on_fail: bool,
    pub abort_grace: Duration,
}

/// A threshold that could not be parsed.
///
/// `Display` is the message alone; `column` is the 1-based character offset in the
/// threshold text of the offending token (one past the end when something is missing),
/// so a caller can point at it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ThresholdError {
    pub message: String,
    pub column: usize,
}

/// The numbers a threshold is evaluated against (for the whole run or for a window).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// `None` while no latency has been recorded. For a threshold on a [`Timing`], the
    /// latency of that timing.
    pub latency_ms: Option<Latency>,
    pub requests: u64,
    pub errors: u64,
    /// Elapsed time the counts cover.
    pub seconds: f64,
    pub checks_passed: u64,
    pub checks_failed: u64,
    pub dropped: u64,
    /// Self-watch: the generator's mean CPU share of its engine threads (0..1), when
    /// sampled.
    pub generator_cpu: Option<f64>,
}

/// The outcome of evaluating a threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Status {
    /// The metric cannot be computed yet; this is not a failure.
    Pending,
    Pass(f64),
    Fail(f64),
}

impl Threshold {
    /// The metric's observed value in canonical units (see [`Threshold::value`]), or
    /// `None` when it cannot be computed: no latencies yet (latency metrics), zero
    /// requests (`error_rate`), zero checks (`checks`), zero or negative seconds (`rps`).
    /// A threshold whose value is `None` is pending: it does not fail.
    pub fn observe(&self, o: &Observed) -> Option<f64> {
        match self.metric {
            Metric::Min => o.latency_ms.map(|l| l.min),
            Metric::Mean => o.latency_ms.map(|l| l.mean),
            Metric::P50 => o.latency_ms.map(|l| l.p50),
            Metric::P90 => o.latency_ms.map(|l| l.p90),
            Metric::P95 => o.latency_ms.map(|l| l.p95),
            Metric::P99 => o.latency_ms.map(|l| l.p99),
            Metric::P999 => o.latency_ms.map(|l| l.p999),
            Metric::Max => o.latency_ms.map(|l| l.max),
            Metric::ErrorRate => (o.requests > 0).then(|| o.errors as f64 / o.requests as f64),
            Metric::Rps => {
                (o.seconds > 0.0 && o.seconds.is_finite()).then(|| o.requests as f64 / o.seconds)
            }
            Metric::Checks => {
                let total = o.checks_passed + o.checks_failed;
                (total > 0).then(|| o.checks_passed as f64 / total as f64)
            }
            Metric::Requests => Some(o.requests as f64),
            Metric::Dropped => Some(o.dropped as f64),
            Metric::GeneratorCpu => o.generator_cpu,
        }
    }

    /// Whether an observed value (canonical units) satisfies the threshold. NaN never
    /// passes; `==` compares exactly.
    pub fn passes(&self, value: f64) -> bool {
        self.op.compare(value, self.value)
    }

    /// [`observe`](Threshold::observe) then [`passes`](Threshold::passes).
    pub fn evaluate(&self, o: &Observed) -> Status {
        match self.observe(o) {
            None => Status::Pending,
            Some(v) if self.passes(v) => Status::Pass(v),
            Some(v) => Status::Fail(v),
        }
    }

    /// An observed value (canonical units) for display in the metric's unit:
    /// `250µs`, `412.3ms`, `1.25s` for latencies, `0.52%` for fractions, `1,234.5` for
    /// rps, `1,234` for requests and dropped (see [`crate::units`]). Non-finite values
    /// show as `–`.
    pub fn format_value(&self, v: f64) -> String {
        format_observed(self.metric, v)
    }
}

/// See [`Threshold::format_value`]. Throughput keeps one decimal at any size, as the
/// value is read against a limit: `rps > 100` observed `99.9`.
pub fn format_observed(metric: Metric, v: f64) -> String {
    if !v.is_finite() {
        return units::NONE.into();
    }
    match metric.kind() {
        Kind::Latency => units::ms(v),
        Kind::Fraction => units::percent(v),
        Kind::Count => match metric {
            Metric::Rps => units::number(v, 1),
            _ => units::number(v, 0),
        },
    }
}

impl Threshold {
    /// What the threshold is on, as written in the canonical form: `p95`, `ttfb p95`.
    pub fn label(&self) -> String {
        match self.timing {
            Some(t) => format!("{t} {}", self.metric),
            None => self.metric.to_string(),
        }
    }
}

impl fmt::Display for Threshold {
    /// The canonical form, which [`parse`] reads back to the same metric, operator, value
    /// and window: `p95 < 500ms`, `p99 <= 1.5s`, `error_rate < 1%`, `rps > 100 over 30s`,
    /// `ttfb p95 < 200ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.label(),
            self.op,
            canonical_value(self.metric, self.value)
        )?;
        if let Some(w) = self.window {
            write!(f, " over {}", format_duration(w))?;
        }
        Ok(())
    }
}

/// A threshold value in canonical units, written so that [`parse`] reads it back exactly.
fn canonical_value(metric: Metric, v: f64) -> String {
    if !v.is_finite() || v < 0.0 {
        // Not produced by `parse`; shown as is.
        return format!("{v}");
    }
    let s = format!("{v}");
    match metric.kind() {
        Kind::Latency => {
            if v >= 60_000.0 && v % 60_000.0 == 0.0 {
                format!("{}m", v / 60_000.0)
            } else if v >= 1000.0 {
                format!("{}s", shift_decimal(&s, -3))
            } else if v > 0.0 && v < 1.0 {
                format!("{}us", shift_decimal(&s, 3))
            } else {
                format!("{s}ms")
            }
        }
        Kind::Fraction => format!("{}%", shift_decimal(&s, 2)),
        Kind::Count => s,
    }
}

/// Moves the decimal point of a plain decimal (digits with at most one `.`) by `k` places
/// (right when positive) and normalises the result (`"1.5", 3` -> `"1500"`,
/// `"4.35", -2` -> `"0.0435"`). Exact, unlike multiplying the parsed `f64`.
fn shift_decimal(num: &str, k: i32) -> String {
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    let mut digits = format!("{int}{frac}");
    let mut point = int.len() as i64 + k as i64;
    if point < 0 {
        digits.insert_str(0, &"0".repeat((-point) as usize));
        point = 0;
    }
    let point = point as usize;
    if point > digits.len() {
        digits.push_str(&"0".repeat(point - digits.len()));
    }
    let (i, f) = digits.split_at(point);
    let i = i.trim_start_matches('0');
    let i = if i.is_empty() { "0" } else { i };
    let f = f.trim_end_matches('0');
    if f.is_empty() {
        i.to_string()
    } else {
        format!("{i}.{f}")
    }
}

const METRIC_LIST: &str =
    "min, mean, p50, p90, p95, p99, p99.9, max, error_rate, rps, checks, requests, dropped, generator_cpu";
const OP_LIST: &str = "<, <=, >, >=, ==";
const STAT_LIST: &str = "min, mean, p50, p90, p95, p99, p99.9, max";
const TIMING_LIST: &str =
    "dns, connect, tls, send, ttfb, receive, total, first_event, gap, ws_handshake, ws_expect, ws_echo";
const UNITS: [&str; 6] = ["us", "µs", "ms", "s", "m", "%"];

fn is_op_char(c: char) -> bool {
    matches!(c, '<' | '>' | '=' | '!')
}

/// Byte index of the first char at or after `from` that does not satisfy `keep`.
fn take_while(text: &str, from: usize, keep: impl Fn(char) -> bool) -> usize {
    text[from..]
        .char_indices()
        .find(|&(_, c)| !keep(c))
        .map_or(text.len(), |(i, _)| from + i)
}

fn skip_ws(text: &str, from: usize) -> usize {
    take_while(text, from, char::is_whitespace)
}

fn word_end(text: &str, from: usize) -> usize {
    take_while(text, from, |c| !c.is_whitespace())
}

/// Parses a threshold expression. See the module documentation for the grammar.
pub fn parse(text: &str) -> Result<Threshold, ThresholdError> {
    let err = |at: usize, message: String| ThresholdError {
        message,
        column: text[..at].chars().count() + 1,
    };

    // metric
    let start = skip_ws(text, 0);
    if start == text.len() {
        return Err(err(
            0,
            "empty threshold (expected something like 'p95 < 500ms')".into(),
        ));
    }
    let metric_end = take_while(text, start, |c| !c.is_whitespace() && !is_op_char(c));
    if metric_end == start {
        let symbol = &text[start..take_while(text, start, is_op_char)];
        return Err(err(
            start,
            format!("missing metric before '{symbol}' (expected one of: {METRIC_LIST})"),
        ));
    }
    let first = &text[start..metric_end];
    let (timing, name, metric_end) = match Timing::from_name(first) {
        Some(timing) => {
            let (name, end) =
                timing_stat(text, timing, metric_end).map_err(|(at, m)| err(at, m))?;
            (Some(timing), name, end)
        }
        None => {
            // `tfb p95 < 1s`: a word, then a statistic, is a misspelt timing.
            let next = skip_ws(text, metric_end);
            let next_end = take_while(text, next, |c| !c.is_whitespace() && !is_op_char(c));
            let next_word = &text[next..next_end];
            if next > metric_end
                && Metric::from_name(first).is_none()
                && Metric::from_name(next_word).is_some_and(Metric::is_latency)
            {
                return Err(err(
                    start,
                    format!("unknown timing '{first}' before '{next_word}' (expected one of: {TIMING_LIST})"),
                ));
            }
            (None, first, metric_end)
        }
    };
    let metric = Metric::from_name(name).ok_or_else(|| {
        err(
            start,
            format!("unknown metric '{name}' (expected one of: {METRIC_LIST}; or a timing and a statistic, like 'ttfb p95')"),
        )
    })?;

    // operator
    let op_start = skip_ws(text, metric_end);
    let op_end = take_while(text, op_start, is_op_char);
    if op_end == op_start {
        return Err(if op_start == text.len() {
            err(
                op_start,
                format!("missing operator after '{name}' (expected one of: {OP_LIST})"),
            )
        } else {
            let got = &text[op_start..word_end(text, op_start)];
            err(
                op_start,
                format!("expected an operator ({OP_LIST}) after '{name}', got '{got}'"),
            )
        });
    }
    let symbol = &text[op_start..op_end];
    let op = Op::from_symbol(symbol).ok_or_else(|| {
        let hint = match symbol {
            "=<" => " (did you mean '<='?)".to_string(),
            "=>" => " (did you mean '>='?)".to_string(),
            "=" => " (did you mean '=='?)".to_string(),
            _ => format!(" (expected one of: {OP_LIST})"),
        };
        err(op_start, format!("unknown operator '{symbol}'{hint}"))
    })?;

    // value, possibly with a detached unit ("500 ms")
    let value_start = skip_ws(text, op_end);
    if value_start == text.len() {
        return Err(err(
            value_start,
            format!(
                "missing value after '{symbol}' (like '{name} {symbol} {}')",
                example(metric)
            ),
        ));
    }
    let mut value_end = word_end(text, value_start);
    let token = &text[value_start..value_end];
    let (sign, number, mut unit) = split_number(token);
    let mut rest = skip_ws(text, value_end);
    if unit.is_empty() && !number.is_empty() && rest < text.len() {
        let next_end = word_end(text, rest);
        if UNITS.contains(&&text[rest..next_end]) {
            unit = &text[rest..next_end];
            value_end = next_end;
            rest = skip_ws(text, next_end);
        }
    }
    let quoted = &text[value_start..value_end];
    let value = parse_value(metric, sign, number, unit, quoted).map_err(|m| err(value_start, m))?;

    // optional window
    let mut window = None;
    if rest < text.len() {
        let word = &text[rest..word_end(text, rest)];
        if word != "over" {
            return Err(err(
                rest,
                format!(
                    "trailing text '{}' (expected the end, or a window like 'over 30s')",
                    text[rest..].trim_end()
                ),
            ));
        }
        let w_start = skip_ws(text, rest + word.len());
        if w_start == text.len() {
            return Err(err(
                w_start,
                "missing window after 'over' (like 'over 30s')".into(),
            ));
        }
        if let Some(t) = timing {
            return Err(err(
                rest,
                format!("a window ('over ...') cannot be used with the timing '{t}': it is judged over the whole run"),
            ));
        }
        let w_text = text[w_start..].trim_end();
        let w = parse_duration(w_text)
            .map_err(|e| err(w_start, format!("bad window after 'over': {e}")))?;
        // parse_duration goes through f64 seconds; keep whole microseconds.
        let w = Duration::from_micros(((w.as_nanos() as f64) / 1000.0).round() as u64);
        if w.is_zero() {
            return Err(err(
                w_start,
                format!("window '{w_text}' must be above zero"),
            ));
        }
        window = Some(w);
    }

    Ok(Threshold {
        timing,
        metric,
        op,
        value,
        window,
        text: text.trim().to_string(),
    })
}

/// After a timing's name (ending at byte `from`): its statistic's name and where it
/// ends, or where and what is wrong.
fn timing_stat(text: &str, timing: Timing, from: usize) -> Result<(&str, usize), (usize, String)> {
    let at = skip_ws(text, from);
    let end = take_while(text, at, |c| !c.is_whitespace() && !is_op_char(c));
    let stat = &text[at..end];
    if stat.is_empty() {
        return Err((
            at,
            format!("missing statistic after the timing '{timing}' (like '{timing} p95 < 200ms'; one of: {STAT_LIST})"),
        ));
    }
    match Metric::from_name(stat) {
        Some(m) if m.is_latency() => Ok((stat, end)),
        Some(_) => Err((
            at,
            format!("'{stat}' cannot be taken of the timing '{timing}' (expected one of: {STAT_LIST})"),
        )),
        None => Err((
            at,
            format!("unknown statistic '{stat}' after the timing '{timing}' (expected one of: {STAT_LIST})"),
        )),
    }
}

fn example(metric: Metric) -> &'static str {
    match metric.kind() {
        Kind::Latency => "500ms",
        Kind::Fraction => "1%",
        Kind::Count => "100",
    }
}

/// Splits a value token into sign (`-`, `+` or empty), number (digits and dots) and the
/// rest (the unit).
fn split_number(token: &str) -> (&str, &str, &str) {
    let sign_len = usize::from(token.starts_with(['-', '+']));
    let (sign, rest) = token.split_at(sign_len);
    let num_len = take_while(rest, 0, |c| c.is_ascii_digit() || c == '.');
    let (number, unit) = rest.split_at(num_len);
    (sign, number, unit)
}

/// A value in canonical units, or the message saying what is wrong with it.
fn parse_value(
    metric: Metric,
    sign: &str,
    number: &str,
    unit: &str,
    quoted: &str,
) -> Result<f64, String> {
    let name = metric.name();
    if !number.chars().any(|c| c.is_ascii_digit()) {
        return Err(format!(
            "expected a number for {name} (like {}), got '{quoted}'",
            example(metric)
        ));
    }
    if number.matches('.').count() > 1 {
        return Err(format!("'{quoted}' is not a valid number"));
    }
    if sign == "-" {
        return Err(format!(
            "'{quoted}' is negative; {name} cannot be below zero"
        ));
    }
    let read = |shift: i32| -> Result<f64, String> {
        let v: f64 = shift_decimal(number, shift)
            .parse()
            .map_err(|_| format!("'{quoted}' is not a valid number"))?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(format!("'{quoted}' is too large"))
        }
    };
    match metric.kind() {
        Kind::Latency => match unit {
            "" => Err(format!(
                "'{quoted}' needs a unit for {name} (like {number}ms); durations need a unit: us, ms, s or m"
            )),
            "us" | "µs" => read(-3),
            "ms" => read(0),
            "s" => read(3),
            "m" => Ok(read(3)? * 60.0),
            other => Err(format!(
                "unknown unit '{other}' in '{quoted}' for {name} (use us, ms, s or m)"
            )),
        },
        Kind::Fraction => match unit {
            "%" => {
                let v = read(-2)?;
                if v > 1.0 {
                    Err(format!("'{quoted}' is more than 100%"))
                } else {
                    Ok(v)
                }
            }
            "" => {
                let v = read(0)?;
                if v > 1.0 {
                    Err(format!(
                        "'{quoted}' is more than 1 (write a fraction like 0.01, or a percentage like 1%)"
                    ))
                } else {
                    Ok(v)
                }
            }
            other => Err(format!(
                "unknown unit '{other}' in '{quoted}' for {name} (write a fraction like 0.01, or a percentage like 1%)"
            )),
        },
        Kind::Count => {
            if unit.is_empty() {
                read(0)
            } else {
                Err(format!(
                    "'{quoted}' has a unit, but {name} is a plain number (like {})",
                    example(metric)
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Threshold {
        parse(text).unwrap_or_else(|e| panic!("{text:?}: {e} (column {})", e.column))
    }

    fn e(text: &str) -> ThresholdError {
        match parse(text) {
            Ok(t) => panic!("{text:?} should fail, got {t:?}"),
            Err(e) => e,
        }
    }

    fn secs(s: u64) -> Option<Duration> {
        Some(Duration::from_secs(s))
    }

    #[test]
    fn every_metric_name_and_alias() {
        let cases = [
            ("min", Metric::Min),
            ("mean", Metric::Mean),
            ("avg", Metric::Mean),
            ("p50", Metric::P50),
            ("med", Metric::P50),
            ("p90", Metric::P90),
            ("p95", Metric::P95),
            ("p99", Metric::P99),
            ("p99.9", Metric::P999),
            ("p999", Metric::P999),
            ("max", Metric::Max),
        ];
        for (name, metric) in cases {
            let t = p(&format!("{name} < 5ms"));
            assert_eq!((t.metric, t.op, t.value), (metric, Op::Lt, 5.0), "{name}");
        }
        assert_eq!(p("error_rate < 1%").metric, Metric::ErrorRate);
        assert_eq!(p("checks > 99%").metric, Metric::Checks);
        assert_eq!(p("rps > 100").metric, Metric::Rps);
        assert_eq!(p("requests >= 1000").metric, Metric::Requests);
        assert_eq!(p("dropped == 0").metric, Metric::Dropped);
        for m in Metric::ALL {
            assert_eq!(Metric::from_name(m.name()), Some(m));
            assert_eq!(m.to_string(), m.name());
        }
    }

    #[test]
    fn every_operator() {
        for (sym, op) in [
            ("<", Op::Lt),
            ("<=", Op::Le),
            (">", Op::Gt),
            (">=", Op::Ge),
            ("==", Op::Eq),
        ] {
            assert_eq!(p(&format!("p95 {sym} 1ms")).op, op);
            assert_eq!(Op::from_symbol(sym), Some(op));
            assert_eq!(op.to_string(), sym);
        }
    }

    #[test]
    fn latency_units_to_milliseconds() {
        assert_eq!(p("p95 < 500ms").value, 500.0);
        assert_eq!(p("p95 < 250us").value, 0.25);
        assert_eq!(p("p95 < 250µs").value, 0.25);
        assert_eq!(p("p99 <= 1s").value, 1000.0);
        assert_eq!(p("p99 <= 1.5s").value, 1500.0);
        assert_eq!(p("max < 2m").value, 120_000.0);
        assert_eq!(p("max < 0.5m").value, 30_000.0);
        assert_eq!(p("p95 < 0.3s").value, 300.0);
        assert_eq!(p("p95 < 12.5ms").value, 12.5);
        assert_eq!(p("p95 < .5s").value, 500.0);
        assert_eq!(p("p95 < 0ms").value, 0.0);
        assert_eq!(p("p95 < +5ms").value, 5.0);
    }

    #[test]
    fn fractions_and_percentages() {
        assert_eq!(p("error_rate < 1%").value, 0.01);
        assert_eq!(p("error_rate < 0.01").value, 0.01);
        assert_eq!(p("error_rate < 4.35%").value, 0.0435);
        assert_eq!(p("error_rate <= 0").value, 0.0);
        assert_eq!(p("error_rate < 100%").value, 1.0);
        assert_eq!(p("error_rate < 1").value, 1.0);
        assert_eq!(p("checks > 99%").value, 0.99);
        assert_eq!(p("checks >= 0.999").value, 0.999);
        assert_eq!(p("checks > 99.9%").value, 0.999);
    }

    #[test]
    fn plain_numbers() {
        assert_eq!(p("rps > 100").value, 100.0);
        assert_eq!(p("rps >= 12.5").value, 12.5);
        assert_eq!(p("requests > 1000000").value, 1_000_000.0);
        assert_eq!(p("dropped == 0").value, 0.0);
    }

    #[test]
    fn flexible_whitespace_and_detached_units() {
        for text in [
            "p95<500ms",
            "  p95   <   500ms  ",
            "p95\t<\t500ms",
            "p95 <500ms",
            "p95< 500ms",
            "p95 < 500 ms",
        ] {
            let t = p(text);
            assert_eq!(
                (t.metric, t.op, t.value),
                (Metric::P95, Op::Lt, 500.0),
                "{text:?}"
            );
            assert_eq!(t.window, None);
        }
        assert_eq!(p("error_rate<1 %").value, 0.01);
        assert_eq!(p("p99.9<=2s").metric, Metric::P999);
        let t = p("p95<500ms over 30s");
        assert_eq!(t.window, secs(30));
        assert_eq!(p("  p95 < 500ms  ").text, "p95 < 500ms");
    }

    #[test]
    fn windows() {
        assert_eq!(p("p95 < 500ms over 30s").window, secs(30));
        assert_eq!(p("rps > 100 over 1m").window, secs(60));
        assert_eq!(p("error_rate < 1% over 1m30s").window, secs(90));
        assert_eq!(p("error_rate < 1% over 1m 30s").window, secs(90));
        assert_eq!(
            p("p95 < 500 ms over 1.5s").window,
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            p("p95 < 500ms over 0.3s").window,
            Some(Duration::from_millis(300))
        );
        assert_eq!(
            p("p95 < 500ms over 250us").window,
            Some(Duration::from_micros(250))
        );
        assert_eq!(p("p95 < 500ms   over   30s  ").window, secs(30));
    }

    /// (text, message, column)
    #[test]
    fn error_messages_and_columns() {
        let cases: &[(&str, &str, usize)] = &[
            ("", "empty threshold (expected something like 'p95 < 500ms')", 1),
            ("   ", "empty threshold (expected something like 'p95 < 500ms')", 1),
            (
                "p96 < 500ms",
                "unknown metric 'p96' (expected one of: min, mean, p50, p90, p95, p99, p99.9, max, error_rate, rps, checks, requests, dropped, generator_cpu; or a timing and a statistic, like 'ttfb p95')",
                1,
            ),
            (
                "  p(95)<500",
                "unknown metric 'p(95)' (expected one of: min, mean, p50, p90, p95, p99, p99.9, max, error_rate, rps, checks, requests, dropped, generator_cpu; or a timing and a statistic, like 'ttfb p95')",
                3,
            ),
            (
                "< 500ms",
                "missing metric before '<' (expected one of: min, mean, p50, p90, p95, p99, p99.9, max, error_rate, rps, checks, requests, dropped, generator_cpu)",
                1,
            ),
            ("p95 =< 500ms", "unknown operator '=<' (did you mean '<='?)", 5),
            ("p95 => 500ms", "unknown operator '=>' (did you mean '>='?)", 5),
            ("p95 = 500ms", "unknown operator '=' (did you mean '=='?)", 5),
            (
                "p95 != 500ms",
                "unknown operator '!=' (expected one of: <, <=, >, >=, ==)",
                5,
            ),
            (
                "p95 <<= 500ms",
                "unknown operator '<<=' (expected one of: <, <=, >, >=, ==)",
                5,
            ),
            (
                "p95",
                "missing operator after 'p95' (expected one of: <, <=, >, >=, ==)",
                4,
            ),
            (
                "p95 lt 500ms",
                "expected an operator (<, <=, >, >=, ==) after 'p95', got 'lt'",
                5,
            ),
            ("p95 <", "missing value after '<' (like 'p95 < 500ms')", 6),
            ("rps >=  ", "missing value after '>=' (like 'rps >= 100')", 9),
            (
                "p95 < 500",
                "'500' needs a unit for p95 (like 500ms); durations need a unit: us, ms, s or m",
                7,
            ),
            (
                "max < 0",
                "'0' needs a unit for max (like 0ms); durations need a unit: us, ms, s or m",
                7,
            ),
            (
                "p95 < 5h",
                "unknown unit 'h' in '5h' for p95 (use us, ms, s or m)",
                7,
            ),
            (
                "p95 < 500msover30s",
                "unknown unit 'msover30s' in '500msover30s' for p95 (use us, ms, s or m)",
                7,
            ),
            (
                "p95 < fast",
                "expected a number for p95 (like 500ms), got 'fast'",
                7,
            ),
            ("p95 < 1.2.3ms", "'1.2.3ms' is not a valid number", 7),
            (
                "p95 < -5ms",
                "'-5ms' is negative; p95 cannot be below zero",
                7,
            ),
            ("error_rate < 150%", "'150%' is more than 100%", 14),
            (
                "error_rate < 1.5",
                "'1.5' is more than 1 (write a fraction like 0.01, or a percentage like 1%)",
                14,
            ),
            (
                "checks > 5ms",
                "unknown unit 'ms' in '5ms' for checks (write a fraction like 0.01, or a percentage like 1%)",
                10,
            ),
            (
                "rps > 100/s",
                "'100/s' has a unit, but rps is a plain number (like 100)",
                7,
            ),
            (
                "dropped == 0%",
                "'0%' has a unit, but dropped is a plain number (like 100)",
                12,
            ),
            (
                "requests > 5 ms",
                "'5 ms' has a unit, but requests is a plain number (like 100)",
                12,
            ),
            (
                "p95 < 500ms foo",
                "trailing text 'foo' (expected the end, or a window like 'over 30s')",
                13,
            ),
            (
                "p95 < 500ms over",
                "missing window after 'over' (like 'over 30s')",
                17,
            ),
            (
                "p95 < 500ms over   ",
                "missing window after 'over' (like 'over 30s')",
                20,
            ),
            (
                "p95 < 500ms over 30",
                "bad window after 'over': invalid duration '30': expected a number with a unit, like '500ms', '30s', '2m' or '1h30m'",
                18,
            ),
            ("p95 < 500ms over 0s", "window '0s' must be above zero", 18),
            (
                "tfb p95 < 200ms",
                "unknown timing 'tfb' before 'p95' (expected one of: dns, connect, tls, send, ttfb, receive, total, first_event, gap, ws_handshake, ws_expect, ws_echo)",
                1,
            ),
            (
                "ttfb < 200ms",
                "missing statistic after the timing 'ttfb' (like 'ttfb p95 < 200ms'; one of: min, mean, p50, p90, p95, p99, p99.9, max)",
                6,
            ),
            (
                "connect",
                "missing statistic after the timing 'connect' (like 'connect p95 < 200ms'; one of: min, mean, p50, p90, p95, p99, p99.9, max)",
                8,
            ),
            (
                "ttfb error_rate < 1%",
                "'error_rate' cannot be taken of the timing 'ttfb' (expected one of: min, mean, p50, p90, p95, p99, p99.9, max)",
                6,
            ),
            (
                "gap p96 < 1s",
                "unknown statistic 'p96' after the timing 'gap' (expected one of: min, mean, p50, p90, p95, p99, p99.9, max)",
                5,
            ),
            (
                "ttfb p95 < 200",
                "'200' needs a unit for p95 (like 200ms); durations need a unit: us, ms, s or m",
                12,
            ),
            (
                "ttfb p95 < 200ms over 30s",
                "a window ('over ...') cannot be used with the timing 'ttfb': it is judged over the whole run",
                18,
            ),
            ("p95 < 500ms over 0", "window '0' must be above zero", 18),
        ];
        for &(text, message, column) in cases {
            let err = e(text);
            assert_eq!(err.message, message, "{text:?}");
            assert_eq!(err.to_string(), message, "{text:?}");
            assert_eq!(err.column, column, "column for {text:?}: {message}");
        }
    }

    #[test]
    fn timings_take_a_latency_statistic() {
        for timing in Timing::ALL {
            let t = p(&format!("{timing} p95 < 200ms"));
            assert_eq!(
                (t.timing, t.metric, t.op, t.value),
                (Some(timing), Metric::P95, Op::Lt, 200.0),
                "{timing}"
            );
            assert_eq!(Timing::from_name(timing.name()), Some(timing));
        }
        let t = p("connect p99 < 50ms");
        assert_eq!(
            (t.timing, t.metric, t.value),
            (Some(Timing::Connect), Metric::P99, 50.0)
        );
        assert_eq!(t.label(), "connect p99");
        let t = p("  ttfb   med<=1.5s ");
        assert_eq!(
            (t.timing, t.metric, t.op),
            (Some(Timing::Ttfb), Metric::P50, Op::Le)
        );
        assert_eq!(t.to_string(), "ttfb p50 <= 1.5s");
        assert_eq!(
            p(&t.to_string()),
            Threshold {
                text: t.to_string(),
                ..t
            }
        );
        assert_eq!(p("p95 < 1s").timing, None);
        assert_eq!(p("p95 < 1s").label(), "p95");
    }

    #[test]
    fn a_timing_judges_its_own_latency() {
        // The caller puts the timing's latency in `latency_ms`.
        let o = Observed {
            latency_ms: Some(latency(40.0)),
            ..Observed::default()
        };
        assert_eq!(p("ttfb p95 < 50ms").evaluate(&o), Status::Pass(44.0));
        assert_eq!(p("ttfb p95 < 40ms").evaluate(&o), Status::Fail(44.0));
        assert_eq!(
            p("gap max < 1s").evaluate(&Observed::default()),
            Status::Pending
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        // 'µ' is two bytes.
        let err = e("p95 < 5µs bogus");
        assert_eq!(err.column, 11);
        assert!(err.message.starts_with("trailing text 'bogus'"));
    }

    #[test]
    fn huge_values_are_rejected() {
        let big = "9".repeat(400);
        let err = e(&format!("rps > {big}"));
        assert!(err.message.ends_with("is too large"), "{}", err.message);
    }

    #[test]
    fn display_is_canonical() {
        let cases = [
            ("p95<500ms", "p95 < 500ms"),
            ("avg <= 12.5ms", "mean <= 12.5ms"),
            ("med < 250us", "p50 < 250us"),
            ("p999 < 1000ms", "p99.9 < 1s"),
            ("p99 <= 1500ms", "p99 <= 1.5s"),
            ("max < 120s", "max < 2m"),
            ("max < 90s", "max < 90s"),
            ("p95 < 0ms", "p95 < 0ms"),
            ("error_rate < 0.01", "error_rate < 1%"),
            ("error_rate < 4.35%", "error_rate < 4.35%"),
            ("checks > 0.999", "checks > 99.9%"),
            ("error_rate <= 0", "error_rate <= 0%"),
            ("rps > 100", "rps > 100"),
            ("rps >= 12.50", "rps >= 12.5"),
            ("dropped == 0", "dropped == 0"),
            ("p95 < 500 ms over 30s", "p95 < 500ms over 30s"),
            ("rps > 10 over 1m30s", "rps > 10 over 90s"),
            ("rps > 10 over 1.5s", "rps > 10 over 1500ms"),
        ];
        for (text, canonical) in cases {
            assert_eq!(p(text).to_string(), canonical, "{text:?}");
        }
    }

    #[test]
    fn display_round_trips() {
        let texts = [
            "min < 1ms",
            "mean < 0.001ms",
            "p50 <= 0.5us",
            "p90 > 333.333ms",
            "p95 < 500ms",
            "p99 <= 1.23456s",
            "p99.9 >= 7m",
            "max == 61s",
            "max < 0.1s",
            "error_rate < 1%",
            "error_rate < 0.07",
            "error_rate < 0.123456789",
            "checks > 99.99%",
            "checks >= 0.3333333333333333",
            "rps > 100",
            "rps > 0.1",
            "requests >= 123456789",
            "dropped == 0",
            "p95 < 500ms over 30s",
            "error_rate < 2% over 1m30s",
            "rps > 5 over 0.3s",
            "rps > 5 over 250us",
        ];
        for text in texts {
            let t = p(text);
            let again = p(&t.to_string());
            assert_eq!(
                (again.metric, again.op, again.value, again.window),
                (t.metric, t.op, t.value, t.window),
                "{text:?} -> {t}"
            );
            assert_eq!(again.to_string(), t.to_string());
        }
    }

    #[test]
    fn shift_decimal_moves_the_point() {
        assert_eq!(shift_decimal("1.5", 3), "1500");
        assert_eq!(shift_decimal("4.35", -2), "0.0435");
        assert_eq!(shift_decimal(".5", 3), "500");
        assert_eq!(shift_decimal("250", -3), "0.25");
        assert_eq!(shift_decimal("0.001", 3), "1");
        assert_eq!(shift_decimal("007.500", 0), "7.5");
        assert_eq!(shift_decimal("0", -2), "0");
        assert_eq!(shift_decimal("5.", 1), "50");
    }

    fn latency(v: f64) -> Latency {
        Latency {
            min: v,
            mean: v + 1.0,
            p50: v + 2.0,
            p90: v + 3.0,
            p95: v + 4.0,
            p99: v + 5.0,
            p999: v + 6.0,
            max: v + 7.0,
            ..Latency::default()
        }
    }

    #[test]
    fn observe_every_metric() {
        let o = Observed {
            latency_ms: Some(latency(10.0)),
            requests: 200,
            errors: 3,
            seconds: 4.0,
            checks_passed: 99,
            checks_failed: 1,
            dropped: 7,
            generator_cpu: Some(0.42),
        };
        let cases = [
            ("min < 1ms", 10.0),
            ("mean < 1ms", 11.0),
            ("p50 < 1ms", 12.0),
            ("p90 < 1ms", 13.0),
            ("p95 < 1ms", 14.0),
            ("p99 < 1ms", 15.0),
            ("p99.9 < 1ms", 16.0),
            ("max < 1ms", 17.0),
            ("error_rate < 1%", 0.015),
            ("rps > 1", 50.0),
            ("checks > 1%", 0.99),
            ("requests > 1", 200.0),
            ("dropped == 0", 7.0),
            ("generator_cpu < 10%", 0.42),
        ];
        for (text, want) in cases {
            assert_eq!(p(text).observe(&o), Some(want), "{text}");
        }
    }

    #[test]
    fn observe_not_computable_is_none() {
        let empty = Observed::default();
        for text in [
            "min < 1ms",
            "mean < 1ms",
            "p95 < 1ms",
            "p99.9 < 1ms",
            "max < 1ms",
            "error_rate < 1%",
            "rps > 1",
            "checks > 99%",
        ] {
            let t = p(text);
            assert_eq!(t.observe(&empty), None, "{text}");
            assert_eq!(t.evaluate(&empty), Status::Pending, "{text}");
        }
        // Counters are always computable.
        assert_eq!(p("requests > 1").observe(&empty), Some(0.0));
        assert_eq!(p("dropped == 0").observe(&empty), Some(0.0));
        assert_eq!(p("dropped == 0").evaluate(&empty), Status::Pass(0.0));
        // rps needs positive, finite seconds; error_rate needs requests, not just errors.
        let o = Observed {
            requests: 10,
            seconds: 0.0,
            ..Observed::default()
        };
        assert_eq!(p("rps > 1").observe(&o), None);
        let o = Observed {
            requests: 10,
            seconds: f64::NAN,
            ..Observed::default()
        };
        assert_eq!(p("rps > 1").observe(&o), None);
        let o = Observed {
            requests: 10,
            seconds: -1.0,
            ..Observed::default()
        };
        assert_eq!(p("rps > 1").observe(&o), None);
        // Zero checks passed out of some is computable (0%).
        let o = Observed {
            checks_failed: 3,
            ..Observed::default()
        };
        assert_eq!(p("checks > 99%").observe(&o), Some(0.0));
    }

    #[test]
    fn passes_at_the_boundaries() {
        let lt = p("p95 < 500ms");
        assert!(lt.passes(499.999));
        assert!(!lt.passes(500.0));
        let le = p("p95 <= 500ms");
        assert!(le.passes(500.0));
        assert!(!le.passes(500.001));
        let gt = p("rps > 100");
        assert!(gt.passes(100.1));
        assert!(!gt.passes(100.0));
        let ge = p("rps >= 100");
        assert!(ge.passes(100.0));
        assert!(!ge.passes(99.9));
        let eq = p("dropped == 0");
        assert!(eq.passes(0.0));
        assert!(!eq.passes(1.0));
        for t in [&lt, &le, &gt, &ge, &eq] {
            assert!(!t.passes(f64::NAN), "{t}");
        }
        assert!(p("error_rate < 1%").passes(0.0099));
        assert!(!p("error_rate < 1%").passes(0.01));
        assert!(p("checks > 99%").passes(0.995));
        assert!(!p("checks > 99%").passes(0.99));
    }

    #[test]
    fn evaluate_pass_and_fail() {
        let o = Observed {
            latency_ms: Some(latency(600.0)),
            requests: 100,
            errors: 0,
            seconds: 1.0,
            ..Observed::default()
        };
        assert_eq!(p("p95 < 500ms").evaluate(&o), Status::Fail(604.0));
        assert_eq!(p("p95 < 1s").evaluate(&o), Status::Pass(604.0));
        assert_eq!(p("error_rate < 1%").evaluate(&o), Status::Pass(0.0));
        assert_eq!(p("rps >= 100").evaluate(&o), Status::Pass(100.0));
    }

    #[test]
    fn format_value_per_unit() {
        let lat = p("p95 < 500ms");
        assert_eq!(lat.format_value(412.3), "412.3ms");
        assert_eq!(lat.format_value(412.345), "412.3ms");
        assert_eq!(lat.format_value(0.25), "250µs");
        assert_eq!(lat.format_value(1.0), "1.00ms");
        assert_eq!(lat.format_value(999.94), "999.9ms");
        assert_eq!(lat.format_value(1250.0), "1.25s");
        assert_eq!(lat.format_value(125_000.0), "125s");
        let er = p("error_rate < 1%");
        assert_eq!(er.format_value(0.0052), "0.52%");
        assert_eq!(er.format_value(0.0), "0.00%");
        assert_eq!(er.format_value(1.0), "100.00%");
        assert_eq!(p("checks > 99%").format_value(0.995), "99.50%");
        let rps = p("rps > 100");
        assert_eq!(rps.format_value(1234.5), "1,234.5");
        assert_eq!(rps.format_value(1_234_567.26), "1,234,567.3");
        assert_eq!(rps.format_value(99.0), "99.0");
        assert_eq!(rps.format_value(0.04), "0.0");
        assert_eq!(p("requests > 1").format_value(1234.0), "1,234");
        assert_eq!(p("requests > 1").format_value(123.0), "123");
        assert_eq!(p("dropped == 0").format_value(1_000_000.0), "1,000,000");
        assert_eq!(lat.format_value(f64::NAN), "–");
        assert_eq!(rps.format_value(f64::INFINITY), "–");
    }

    #[test]
    fn text_keeps_what_was_written() {
        let t = p("avg<1s over 30s");
        assert_eq!(t.text, "avg<1s over 30s");
        assert_eq!(t.to_string(), "mean < 1s over 30s");
    }
}
