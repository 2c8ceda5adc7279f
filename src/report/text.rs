//! The end-of-run summary, aligned like k6's, written to any `Write`.

use std::io::{self, Write};

use super::doc::{ResultDoc, Stats};
use crate::units;

/// A metric's value in the unit it reads in: latencies (`p95`, `max`, ...) in
/// milliseconds, rates of errors or failures (0..1) as percentages, throughput per
/// second, anything else as a plain number.
pub fn fmt_metric_value(metric: &str, value: f64) -> String {
    if !value.is_finite() {
        return units::NONE.into();
    }
    let m = metric.to_ascii_lowercase();
    let percentile = m.starts_with('p') && m[1..].starts_with(|c: char| c.is_ascii_digit());
    let latency = percentile
        || ["min", "max", "mean", "avg", "med", "latency", "duration"]
            .iter()
            .any(|k| m.contains(k));
    if latency {
        units::ms(value)
    } else if m.contains("rps") || m.contains("throughput") || m.contains("per_s") {
        units::per_s(value)
    } else if m.contains("error") || m.contains("fail") || m.contains("rate") {
        units::percent(value)
    } else if value.fract() == 0.0 {
        units::number(value, 0)
    } else {
        units::number(value, 2)
    }
}

fn map_line(map: &std::collections::BTreeMap<String, u64>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}: {}", units::count(*v)))
        .collect::<Vec<_>>()
        .join("  ")
}

/// Writes the summary of a finished run.
pub fn write_summary<W: Write>(doc: &ResultDoc, w: &mut W) -> io::Result<()> {
    let state = if doc.partial { "STOPPED EARLY" } else { "DONE" };
    writeln!(w)?;
    writeln!(
        w,
        "volley · {} · {} · {}{} · {} max · {state}",
        doc.scenario,
        doc.target,
        units::secs(doc.duration_s),
        if (doc.duration_s - doc.run_time_s).abs() > 0.05 {
            format!(" ({} running)", units::secs(doc.run_time_s))
        } else {
            String::new()
        },
        units::vus(doc.vus_max.into()),
    )?;
    writeln!(w)?;
    let name_w = doc
        .endpoints
        .iter()
        .map(|e| e.name.chars().count())
        .chain(std::iter::once(8))
        .max()
        .unwrap_or(8)
        .min(14);
    let mut all: Vec<&Stats> = doc.endpoints.iter().collect();
    if doc.endpoints.len() > 1 {
        all.push(&doc.totals);
    }
    let clip = |s: &Stats| -> String { s.name.chars().take(name_w).collect() };
    writeln!(
        w,
        "  {:<name_w$} {:>10} {:>10} {:>8} {:>12}",
        "endpoint", "requests", "rps", "err%", "received"
    )?;
    for s in &all {
        writeln!(
            w,
            "  {:<name_w$} {:>10} {:>10} {:>8} {:>12}",
            clip(s),
            units::count(s.requests),
            units::rate(s.rps),
            units::percent(s.error_rate),
            units::bytes(s.bytes_received as f64),
        )?;
    }
    writeln!(w)?;
    writeln!(
        w,
        "  {:<name_w$} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}",
        "latency", "min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"
    )?;
    for s in &all {
        let l = &s.latency_ms;
        writeln!(
            w,
            "  {:<name_w$} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}",
            clip(s),
            units::ms(l.min),
            units::ms(l.mean),
            units::ms(l.p50),
            units::ms(l.p90),
            units::ms(l.p95),
            units::ms(l.p99),
            units::ms(l.p999),
            units::ms(l.max),
        )?;
    }
    writeln!(w)?;
    let t = &doc.totals;
    writeln!(
        w,
        "  requests   {} total, {} ok, {} failed ({})",
        units::count(t.requests),
        units::count(t.ok),
        units::count(t.errors),
        units::percent(t.error_rate)
    )?;
    if !t.status.is_empty() {
        writeln!(w, "  status     {}", map_line(&t.status))?;
    }
    if !t.errors_by_kind.is_empty() {
        writeln!(w, "  errors     {}", map_line(&t.errors_by_kind))?;
        for ep in doc
            .endpoints
            .iter()
            .filter(|e| !e.errors_by_kind.is_empty())
        {
            writeln!(
                w,
                "    {:<name_w$} {}",
                ep.name,
                map_line(&ep.errors_by_kind)
            )?;
        }
        if let Some(last) = t.recent_errors.last() {
            writeln!(w, "  last error [{}] {}", last.kind, last.message)?;
        }
    }
    let secs = doc.duration_s.max(1e-9);
    writeln!(
        w,
        "  received   {} ({})",
        units::bytes(t.bytes_received as f64),
        units::bytes_per_s(t.bytes_received as f64 / secs)
    )?;
    writeln!(
        w,
        "  conns      {} opened, {} open at end (one keep-alive connection per VU)",
        units::count(doc.connections.opened),
        units::count(doc.connections.open_at_end)
    )?;
    if let Some(m) = &doc.monitor {
        writeln!(
            w,
            "  target     {} ({} failed scrapes)",
            m.source,
            units::count(m.failures)
        )?;
        for line in m.summary_lines() {
            writeln!(w, "    {line}")?;
        }
    }
    if let Some(g) = &doc.generator {
        writeln!(w, "  generator  {}", g.summary_line())?;
        if let Some(reason) = &g.reason {
            writeln!(
                w,
                "  warning    {} ({reason})",
                super::generator::BOTTLENECK_BANNER
            )?;
        }
    }
    for e in doc
        .events
        .iter()
        .filter(|e| e.kind != "start" && e.kind != "done")
    {
        writeln!(
            w,
            "  event      {:>8}  {:<9} {}",
            units::secs(e.t),
            e.kind,
            e.detail
        )?;
    }
    if let Some(d) = doc.dropped_iterations {
        writeln!(
            w,
            "  dropped    {} iterations (every VU busy)",
            units::count(d)
        )?;
    }
    let skipped: u64 = doc.endpoints.iter().map(|e| e.skipped).sum();
    if skipped > 0 {
        writeln!(
            w,
            "  skipped    {} steps (a variable they need was not captured)",
            units::count(skipped)
        )?;
    }
    if let Some(l) = &doc.totals.latency_ms_uncorrected {
        writeln!(
            w,
            "  uncorrected latency (from the actual send): p50 {}  p95 {}  p99 {}  max {}",
            units::ms(l.p50),
            units::ms(l.p95),
            units::ms(l.p99),
            units::ms(l.max)
        )?;
    }
    if !doc.checks.is_empty() {
        writeln!(w)?;
        writeln!(w, "  checks")?;
        for c in &doc.checks {
            let total = c.passes + c.fails;
            let mark = if c.fails == 0 { "✓" } else { "✗" };
            writeln!(
                w,
                "    {mark} {:<40} {:>7}  {} ✓ {} ✗   ({})",
                c.name,
                units::fmt_opt(
                    (total > 0).then(|| c.passes as f64 / total as f64),
                    units::percent
                ),
                units::count(c.passes),
                units::count(c.fails),
                c.endpoint
            )?;
        }
    }
    if !doc.thresholds.is_empty() {
        writeln!(w)?;
        writeln!(w, "  thresholds")?;
        for t in &doc.thresholds {
            writeln!(
                w,
                "    {} {:<40} observed {}",
                if t.passed { "PASS" } else { "FAIL" },
                t.name,
                units::fmt_finite(t.value, |v| crate::thresholds::parse(&t.expression)
                    .map(|th| th.format_value(v))
                    .unwrap_or_else(|_| fmt_metric_value(&t.metric, v)))
            )?;
        }
    }
    if let Some(g) = &doc.grade {
        writeln!(w)?;
        writeln!(w, "  grade      {}  (score {:.1}/100)", g.letter, g.score)?;
        for p in &g.parts {
            writeln!(
                w,
                "    {:<12} {:>6}  {}",
                p.name,
                units::percent_with(p.score / 100.0, 1),
                p.detail
            )?;
        }
    }
    Ok(())
}
