//! Baseline against current: per endpoint and in total, each metric's two values, the
//! change and a verdict (better, worse, or the same within a tolerance).
//!
//! Rules (documented in `docs/reports.md`):
//! - latencies (`p50` ... `max`) are better lower, `rps` higher; the change is relative;
//! - the error rate is better lower; its change is shown in percentage points, and a
//!   difference of at most 0.1 point is always "same" (noise on tiny rates);
//! - `requests` is shown for information only (runs may differ in length);
//! - a regression (for `--fail-on-regression`) is a `p95`, `p99`, error-rate or `rps`
//!   row, total or endpoint, that got worse by more than the limit;
//! - noise is not judged ([`Noise`]): a rate or error rate from fewer than
//!   `min_requests` requests, a percentile with fewer than [`TAIL_SAMPLES`] responses
//!   beyond it (or fewer than `min_requests` responses), and a latency change smaller
//!   than `latency_floor_ms` are shown with the reason, as `noise`, and never gate.

use std::io::{self, Write};

use serde::Serialize;

use super::doc::{ResultDoc, Stats};
use crate::units;

/// Default tolerance within which a change counts as "same".
pub const DEFAULT_TOLERANCE: f64 = 0.05;
/// Error-rate differences up to this (absolute, 0..1) are always "same".
pub const ERROR_RATE_FLOOR: f64 = 0.001;
/// Default [`Noise::min_requests`].
pub const DEFAULT_MIN_REQUESTS: u64 = 100;
/// Default [`Noise::latency_floor_ms`].
pub const DEFAULT_LATENCY_FLOOR_MS: f64 = 1.0;
/// A percentile is judged only with at least this many responses beyond it in both
/// runs (p95 from 100 responses, p99 from 500): below, a handful of requests decide it.
pub const TAIL_SAMPLES: f64 = 5.0;

/// What is too small to judge (see `docs/reports.md`, "Noise").
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Noise {
    /// Fewest requests (responses, for latencies) a scope needs in both runs.
    pub min_requests: u64,
    /// Latency changes smaller than this (milliseconds, absolute) are noise.
    pub latency_floor_ms: f64,
}

impl Default for Noise {
    fn default() -> Self {
        Noise {
            min_requests: DEFAULT_MIN_REQUESTS,
            latency_floor_ms: DEFAULT_LATENCY_FLOOR_MS,
        }
    }
}

impl Noise {
    /// Why a change of `metric` between `b` and `c` cannot be judged, if it cannot.
    pub fn reason(&self, metric: Metric, b: &Stats, c: &Stats) -> Option<String> {
        let which = |nb: u64, nc: u64| {
            if nb <= nc {
                (nb, "baseline")
            } else {
                (nc, "current run")
            }
        };
        match metric {
            Metric::Requests => None,
            Metric::Rps | Metric::ErrorRate => {
                let (n, side) = which(b.requests, c.requests);
                (n < self.min_requests).then(|| {
                    format!(
                        "too few requests: {} in the {side}, {} needed",
                        units::count(n),
                        units::count(self.min_requests)
                    )
                })
            }
            _ => {
                let (n, side) = which(b.latency_ms.count, c.latency_ms.count);
                let need = match metric.quantile() {
                    Some(q) => ((TAIL_SAMPLES / (1.0 - q)).round() as u64).max(self.min_requests),
                    None => self.min_requests,
                };
                let (vb, vc) = (metric.of(b), metric.of(c));
                if n < need {
                    Some(format!(
                        "too few responses for {}: {} in the {side}, {} needed",
                        metric.label(),
                        units::count(n),
                        units::count(need)
                    ))
                } else if (vc - vb).abs() < self.latency_floor_ms {
                    Some(format!(
                        "a change of {} is under the {} floor",
                        units::ms((vc - vb).abs()),
                        units::ms_setting(self.latency_floor_ms)
                    ))
                } else {
                    None
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Requests,
    Rps,
    ErrorRate,
    P50,
    P90,
    P95,
    P99,
    Max,
}

impl Metric {
    pub const ALL: [Metric; 8] = [
        Metric::Requests,
        Metric::Rps,
        Metric::ErrorRate,
        Metric::P50,
        Metric::P90,
        Metric::P95,
        Metric::P99,
        Metric::Max,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Metric::Requests => "requests",
            Metric::Rps => "rps",
            Metric::ErrorRate => "error rate",
            Metric::P50 => "p50",
            Metric::P90 => "p90",
            Metric::P95 => "p95",
            Metric::P99 => "p99",
            Metric::Max => "max",
        }
    }

    /// Whether `--fail-on-regression` looks at this metric.
    pub fn gated(self) -> bool {
        matches!(
            self,
            Metric::Rps | Metric::ErrorRate | Metric::P95 | Metric::P99
        )
    }

    /// The quantile a percentile metric reads (`None` for the others).
    fn quantile(self) -> Option<f64> {
        match self {
            Metric::P50 => Some(0.50),
            Metric::P90 => Some(0.90),
            Metric::P95 => Some(0.95),
            Metric::P99 => Some(0.99),
            _ => None,
        }
    }

    fn higher_is_better(self) -> Option<bool> {
        match self {
            Metric::Requests => None,
            Metric::Rps => Some(true),
            _ => Some(false),
        }
    }

    pub fn of(self, s: &Stats) -> f64 {
        match self {
            Metric::Requests => s.requests as f64,
            Metric::Rps => s.rps,
            Metric::ErrorRate => s.error_rate,
            Metric::P50 => s.latency_ms.p50,
            Metric::P90 => s.latency_ms.p90,
            Metric::P95 => s.latency_ms.p95,
            Metric::P99 => s.latency_ms.p99,
            Metric::Max => s.latency_ms.max,
        }
    }

    /// A value in this metric's unit.
    pub fn fmt(self, v: f64) -> String {
        match self {
            Metric::Requests => units::count(v as u64),
            Metric::Rps => units::rate(v),
            Metric::ErrorRate => units::percent(v),
            _ => units::ms(v),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Better,
    Worse,
    Same,
    /// Shown for information; not judged.
    Info,
    /// A change too small, or from too few samples, to judge (see [`Noise`]).
    Noise,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::Same => "same",
            Verdict::Info => "",
            Verdict::Noise => "noise",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareRow {
    /// `total` or an endpoint's name.
    pub scope: String,
    pub metric: Metric,
    pub baseline: f64,
    pub current: f64,
    /// Relative change, (current - baseline) / baseline; `None` when the baseline is 0.
    pub change: Option<f64>,
    /// How much worse, relative (negative: better); infinite from a zero baseline.
    #[serde(skip)]
    pub worse_by: f64,
    pub verdict: Verdict,
    /// Why a change was not judged (verdict `noise`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
}

impl CompareRow {
    /// A row for `metric` between the stats of two runs, judged unless it is noise.
    pub fn judged(
        scope: &str,
        metric: Metric,
        (b, c): (&Stats, &Stats),
        tolerance: f64,
        noise: &Noise,
    ) -> Self {
        let mut row = CompareRow::new(scope, metric, metric.of(b), metric.of(c), tolerance);
        if matches!(row.verdict, Verdict::Worse | Verdict::Better) {
            if let Some(why) = noise.reason(metric, b, c) {
                row.verdict = Verdict::Noise;
                row.ignored = Some(why);
            }
        }
        row
    }

    fn new(scope: &str, metric: Metric, baseline: f64, current: f64, tolerance: f64) -> Self {
        let change = (baseline != 0.0).then(|| (current - baseline) / baseline);
        let worse_by = match metric.higher_is_better() {
            None => 0.0,
            Some(higher) => {
                let d = if higher {
                    baseline - current
                } else {
                    current - baseline
                };
                if d == 0.0 {
                    0.0
                } else if baseline == 0.0 {
                    d.signum() * f64::INFINITY
                } else {
                    d / baseline
                }
            }
        };
        let verdict = if metric.higher_is_better().is_none() {
            Verdict::Info
        } else if metric == Metric::ErrorRate && (current - baseline).abs() <= ERROR_RATE_FLOOR {
            Verdict::Same
        } else if worse_by > tolerance {
            Verdict::Worse
        } else if worse_by < -tolerance {
            Verdict::Better
        } else {
            Verdict::Same
        };
        CompareRow {
            scope: scope.to_string(),
            metric,
            baseline,
            current,
            change,
            worse_by,
            verdict,
            ignored: None,
        }
    }

    /// The change as shown: `+12.3%`, `+0.40 pp` for the error rate, `new` from zero.
    pub fn change_text(&self) -> String {
        if self.metric == Metric::ErrorRate {
            return units::points(self.current - self.baseline);
        }
        match self.change {
            Some(c) => units::change(c),
            None if self.current == 0.0 => "0".into(),
            None => "new".into(),
        }
    }

    /// Whether this row is a regression beyond `limit` (for `--fail-on-regression`).
    pub fn regressed(&self, limit: f64) -> bool {
        self.metric.gated()
            && self.verdict != Verdict::Noise
            && self.worse_by > limit
            && !(self.metric == Metric::ErrorRate
                && (self.current - self.baseline).abs() <= ERROR_RATE_FLOOR)
    }
}

/// Which run a side of the comparison is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunLabel {
    /// The file it was read from, when it was.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub file: String,
    pub scenario: String,
    pub started_at: String,
    pub duration_s: f64,
    pub requests: u64,
}

impl RunLabel {
    pub fn of(doc: &ResultDoc, file: &str) -> RunLabel {
        RunLabel {
            file: file.to_string(),
            scenario: doc.scenario.clone(),
            started_at: doc.started_at.clone(),
            duration_s: doc.duration_s,
            requests: doc.totals.requests,
        }
    }

    fn line(&self) -> String {
        format!(
            "{}{} · {} · {} · {} requests",
            if self.file.is_empty() {
                String::new()
            } else {
                format!("{}  ", self.file)
            },
            self.scenario,
            started_utc(&self.started_at),
            units::secs(self.duration_s),
            units::count(self.requests)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub baseline: RunLabel,
    pub current: RunLabel,
    /// Relative tolerance within which a change is "same" (0.05 = 5%).
    pub tolerance: f64,
    /// What was too small to judge.
    pub noise: Noise,
    /// Total first, then the endpoints of the current run that the baseline has too.
    pub rows: Vec<CompareRow>,
    pub only_in_baseline: Vec<String>,
    pub only_in_current: Vec<String>,
}

impl Comparison {
    pub fn new(base: &ResultDoc, cur: &ResultDoc, tolerance: f64) -> Comparison {
        Comparison::labelled(base, "", cur, "", tolerance)
    }

    /// As [`Comparison::new`], naming the files the documents came from.
    pub fn labelled(
        base: &ResultDoc,
        base_file: &str,
        cur: &ResultDoc,
        cur_file: &str,
        tolerance: f64,
    ) -> Comparison {
        Comparison::with_noise(
            (base, base_file),
            (cur, cur_file),
            tolerance,
            Noise::default(),
        )
    }

    /// As [`Comparison::labelled`], with what counts as noise.
    pub fn with_noise(
        (base, base_file): (&ResultDoc, &str),
        (cur, cur_file): (&ResultDoc, &str),
        tolerance: f64,
        noise: Noise,
    ) -> Comparison {
        let mut rows = Vec::new();
        let mut add = |scope: &str, b: &Stats, c: &Stats| {
            for m in Metric::ALL {
                rows.push(CompareRow::judged(scope, m, (b, c), tolerance, &noise));
            }
        };
        add("total", &base.totals, &cur.totals);
        let mut only_in_current = Vec::new();
        for c in &cur.endpoints {
            match base.endpoints.iter().find(|b| b.name == c.name) {
                Some(b) => add(&c.name, b, c),
                None => only_in_current.push(c.name.clone()),
            }
        }
        let only_in_baseline = base
            .endpoints
            .iter()
            .filter(|b| !cur.endpoints.iter().any(|c| c.name == b.name))
            .map(|b| b.name.clone())
            .collect();
        Comparison {
            baseline: RunLabel::of(base, base_file),
            current: RunLabel::of(cur, cur_file),
            tolerance,
            noise,
            rows,
            only_in_baseline,
            only_in_current,
        }
    }

    /// Rows that regressed beyond `limit` (relative, 0.1 = 10%).
    pub fn regressions(&self, limit: f64) -> Vec<&CompareRow> {
        self.rows.iter().filter(|r| r.regressed(limit)).collect()
    }

    /// (better, worse, same) row counts.
    pub fn counts(&self) -> (usize, usize, usize) {
        let n = |v: Verdict| self.rows.iter().filter(|r| r.verdict == v).count();
        (n(Verdict::Better), n(Verdict::Worse), n(Verdict::Same))
    }

    /// Rows whose change was not judged, with why.
    pub fn ignored(&self) -> Vec<&CompareRow> {
        self.rows
            .iter()
            .filter(|r| r.verdict == Verdict::Noise)
            .collect()
    }

    pub fn summary(&self) -> String {
        let (better, worse, same) = self.counts();
        let ignored = self.ignored().len();
        format!(
            "{worse} worse, {better} better, {same} the same{} (tolerance ±{})",
            if ignored > 0 {
                format!(", {ignored} ignored as noise")
            } else {
                String::new()
            },
            fmt_pct(self.tolerance)
        )
    }

    /// One line per ignored change: `total p95 +339.3% (107µs -> 470µs): a change of
    /// 363µs is under the 1.00ms floor`.
    pub fn ignored_lines(&self) -> Vec<String> {
        self.ignored()
            .iter()
            .map(|r| {
                format!(
                    "{} {} {} ({} -> {}): {}",
                    r.scope,
                    r.metric.label(),
                    r.change_text(),
                    r.metric.fmt(r.baseline),
                    r.metric.fmt(r.current),
                    r.ignored.as_deref().unwrap_or_default()
                )
            })
            .collect()
    }
}

/// `2026-11-25T20:23:18.604Z` as `2026-11-25 20:23:18 UTC`.
pub fn started_utc(s: &str) -> String {
    match s.split_once('T') {
        Some((date, time)) => {
            let time = time.trim_end_matches('Z');
            format!("{date} {} UTC", time.split('.').next().unwrap_or(time))
        }
        None => s.to_string(),
    }
}

pub use crate::units::{parse_percent, percent_short as fmt_pct};

/// Writes the comparison as an aligned table for a terminal.
pub fn write_text<W: Write>(c: &Comparison, w: &mut W) -> io::Result<()> {
    writeln!(w, "volley compare")?;
    writeln!(w, "  baseline  {}", c.baseline.line())?;
    writeln!(w, "  current   {}", c.current.line())?;
    writeln!(w)?;
    let scope_w = c
        .rows
        .iter()
        .map(|r| r.scope.chars().count())
        .max()
        .unwrap_or(5)
        .clamp(8, 28);
    writeln!(
        w,
        "  {:<scope_w$}  {:<10} {:>12} {:>12} {:>10}  verdict",
        "endpoint", "metric", "baseline", "current", "change"
    )?;
    let mut last_scope = "";
    for r in &c.rows {
        let scope: String = if r.scope != last_scope {
            if !last_scope.is_empty() {
                writeln!(w)?;
            }
            r.scope.chars().take(scope_w).collect()
        } else {
            String::new()
        };
        last_scope = &r.scope;
        let verdict = match r.verdict {
            Verdict::Worse => "WORSE",
            v => v.label(),
        };
        writeln!(
            w,
            "  {:<scope_w$}  {:<10} {:>12} {:>12} {:>10}  {}",
            scope,
            r.metric.label(),
            r.metric.fmt(r.baseline),
            r.metric.fmt(r.current),
            r.change_text(),
            verdict
        )
        .map(|_| ())?;
    }
    writeln!(w)?;
    if !c.only_in_baseline.is_empty() {
        writeln!(w, "  only in baseline: {}", c.only_in_baseline.join(", "))?;
    }
    if !c.only_in_current.is_empty() {
        writeln!(w, "  only in current:  {}", c.only_in_current.join(", "))?;
    }
    let ignored = c.ignored_lines();
    if !ignored.is_empty() {
        writeln!(w, "  ignored as noise (not judged, never a regression):")?;
        for line in &ignored {
            writeln!(w, "    {line}")?;
        }
    }
    writeln!(w, "  {}", c.summary())
}

/// Escapes a Markdown table cell.
pub fn md_cell(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('\n', " ")
        .replace('<', "&lt;")
}

fn md_verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Better => "🟢 better",
        Verdict::Worse => "🔴 **worse**",
        Verdict::Same => "same",
        Verdict::Info => "",
        Verdict::Noise => "noise",
    }
}

/// Writes the comparison as a Markdown section (a heading, the two runs, a table).
pub fn write_markdown<W: Write>(c: &Comparison, w: &mut W, heading: &str) -> io::Result<()> {
    writeln!(w, "{heading} Compared with the baseline")?;
    writeln!(w)?;
    writeln!(w, "- baseline: {}", md_cell(&c.baseline.line()))?;
    writeln!(w, "- current: {}", md_cell(&c.current.line()))?;
    writeln!(w, "- {}", c.summary())?;
    writeln!(w)?;
    writeln!(
        w,
        "| endpoint | metric | baseline | current | change | verdict |"
    )?;
    writeln!(w, "| --- | --- | ---: | ---: | ---: | --- |")?;
    let mut last_scope = "";
    for r in &c.rows {
        let scope = if r.scope != last_scope {
            format!("**{}**", md_cell(&r.scope))
        } else {
            String::new()
        };
        last_scope = &r.scope;
        writeln!(
            w,
            "| {scope} | {} | {} | {} | {} | {} |",
            r.metric.label(),
            r.metric.fmt(r.baseline),
            r.metric.fmt(r.current),
            r.change_text(),
            md_verdict(r.verdict)
        )?;
    }
    if !c.only_in_baseline.is_empty() {
        writeln!(w)?;
        writeln!(
            w,
            "Only in the baseline: {}",
            md_cell(&c.only_in_baseline.join(", "))
        )?;
    }
    if !c.only_in_current.is_empty() {
        writeln!(w)?;
        writeln!(
            w,
            "Only in the current run: {}",
            md_cell(&c.only_in_current.join(", "))
        )?;
    }
    let ignored = c.ignored_lines();
    if !ignored.is_empty() {
        writeln!(w)?;
        writeln!(w, "Ignored as noise (not judged, never a regression):")?;
        writeln!(w)?;
        for line in &ignored {
            writeln!(w, "- {}", md_cell(line))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let r = CompareRow::new("total", Metric::P95, 100.0, 112.0, 0.05);
        assert_eq!(r.verdict, Verdict::Worse);
        assert!(r.regressed(0.10));
        assert!(!r.regressed(0.15));
        let r = CompareRow::new("total", Metric::P95, 100.0, 103.0, 0.05);
        assert_eq!(r.verdict, Verdict::Same);
        let r = CompareRow::new("total", Metric::Rps, 1000.0, 800.0, 0.05);
        assert_eq!(r.verdict, Verdict::Worse);
        assert_eq!(r.change_text(), "-20.0%");
        assert!(r.regressed(0.10));
        let r = CompareRow::new("total", Metric::Rps, 1000.0, 1200.0, 0.05);
        assert_eq!(r.verdict, Verdict::Better);
        // Error rate: tiny absolute changes are the same, whatever the relative change.
        let r = CompareRow::new("total", Metric::ErrorRate, 0.0001, 0.0009, 0.05);
        assert_eq!(r.verdict, Verdict::Same);
        assert!(!r.regressed(0.10));
        let r = CompareRow::new("total", Metric::ErrorRate, 0.0, 0.02, 0.05);
        assert_eq!(r.verdict, Verdict::Worse);
        assert_eq!(r.change_text(), "+2.00 pp");
        assert!(r.regressed(0.10));
        let r = CompareRow::new("total", Metric::Requests, 10.0, 1000.0, 0.05);
        assert_eq!(r.verdict, Verdict::Info);
        assert!(!r.regressed(0.0));
        // p50 is shown and judged but does not gate.
        let r = CompareRow::new("total", Metric::P50, 1.0, 2.0, 0.05);
        assert_eq!(r.verdict, Verdict::Worse);
        assert!(!r.regressed(0.10));
    }

    /// Stats with `requests` requests (all answered) at `rps`, and every percentile at
    /// `p_ms`.
    fn stats(requests: u64, rps: f64, p_ms: f64) -> Stats {
        serde_json::from_value(serde_json::json!({
            "name": "total", "requests": requests, "ok": requests, "errors": 0,
            "error_rate": 0.0, "rps": rps, "bytes_received": 0,
            "latency_ms": {"min": p_ms, "mean": p_ms, "p50": p_ms, "p90": p_ms, "p95": p_ms,
                           "p99": p_ms, "p999": p_ms, "max": p_ms, "count": requests},
            "status": {}, "errors_by_kind": {}
        }))
        .unwrap()
    }

    fn row(metric: Metric, b: &Stats, c: &Stats) -> CompareRow {
        CompareRow::judged("total", metric, (b, c), 0.05, &Noise::default())
    }

    #[test]
    fn too_few_requests_is_noise_not_a_regression() {
        // From the issue: rps -24% on 59 vs 45 requests was flagged.
        let (b, c) = (stats(59, 5.9, 20.0), stats(45, 4.5, 20.0));
        let r = row(Metric::Rps, &b, &c);
        assert_eq!(r.verdict, Verdict::Noise);
        assert!(!r.regressed(0.10));
        assert_eq!(
            r.ignored.as_deref(),
            Some("too few requests: 45 in the current run, 100 needed")
        );
        // The same change on enough requests is one.
        let r = row(
            Metric::Rps,
            &stats(5900, 590.0, 20.0),
            &stats(4500, 450.0, 20.0),
        );
        assert_eq!(r.verdict, Verdict::Worse);
        assert!(r.regressed(0.10));
    }

    #[test]
    fn a_percentile_needs_a_tail_and_a_change_above_the_floor() {
        // From the issue: p95 +339% on 107 µs -> 470 µs was flagged.
        let (b, c) = (stats(5000, 500.0, 0.107), stats(5000, 500.0, 0.470));
        let r = row(Metric::P95, &b, &c);
        assert_eq!(r.verdict, Verdict::Noise);
        assert!(!r.regressed(0.10));
        assert_eq!(
            r.ignored.as_deref(),
            Some("a change of 363µs is under the 1ms floor")
        );
        // p99 from 300 responses rests on 3 of them: noise; p95 (15 beyond it) is judged.
        let (b, c) = (stats(300, 30.0, 10.0), stats(300, 30.0, 30.0));
        let r = row(Metric::P99, &b, &c);
        assert_eq!(r.verdict, Verdict::Noise);
        assert_eq!(
            r.ignored.as_deref(),
            Some("too few responses for p99: 300 in the baseline, 500 needed")
        );
        assert_eq!(row(Metric::P95, &b, &c).verdict, Verdict::Worse);
        // Changes within the tolerance stay "same", with nothing to explain.
        let r = row(Metric::P95, &stats(10, 1.0, 0.1), &stats(10, 1.0, 0.1));
        assert_eq!((r.verdict, r.ignored), (Verdict::Same, None));
    }

    #[test]
    fn ignored_changes_are_listed_with_why() {
        let doc = |s: Stats| -> ResultDoc {
            let mut d: ResultDoc = serde_json::from_value(serde_json::json!({
                "schema_version": 1, "volley_version": "t", "scenario": "s", "source": "s",
                "target": "t", "started_at": "2026-01-01T00:00:00Z", "duration_s": 10.0,
                "run_time_s": 10.0, "partial": false, "vus_max": 1,
                "connections": {"open_at_end": 0, "opened": 1},
                "totals": serde_json::to_value(&s).unwrap(), "endpoints": [], "timeline": [],
                "events": []
            }))
            .unwrap();
            d.totals = s;
            d
        };
        let c = Comparison::new(
            &doc(stats(59, 5.9, 0.107)),
            &doc(stats(45, 4.5, 0.470)),
            0.05,
        );
        assert!(c.regressions(0.10).is_empty());
        let lines = c.ignored_lines();
        assert!(
            lines.contains(&"total rps -23.7% (5.9 -> 4.5): too few requests: 45 in the current run, 100 needed".to_string()),
            "{lines:#?}"
        );
        assert!(c.summary().contains("ignored as noise"), "{}", c.summary());
        let mut text = Vec::new();
        write_text(&c, &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("ignored as noise (not judged"), "{text}");
        assert!(text.contains("noise"), "{text}");
    }

    #[test]
    fn percentages() {
        assert_eq!(parse_percent("10%"), Ok(0.10));
        assert_eq!(parse_percent(" 2.5 % "), Ok(0.025));
        assert_eq!(parse_percent("10"), Ok(0.10));
        assert!(parse_percent("ten").is_err());
        assert!(parse_percent("-5%").is_err());
        assert_eq!(fmt_pct(0.05), "5%");
        assert_eq!(fmt_pct(0.025), "2.5%");
    }
}
