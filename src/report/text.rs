//! The end-of-run summary, aligned like k6's, written to any `Write`.

use std::io::{self, Write};

use super::doc::{ResultDoc, Stats};

/// Formats milliseconds with a unit that keeps 3-4 significant digits.
pub fn fmt_ms(ms: f64) -> String {
    if ms <= 0.0 {
        "0".into()
    } else if ms < 1.0 {
        format!("{:.0}µs", ms * 1000.0)
    } else if ms < 10.0 {
        format!("{ms:.2}ms")
    } else if ms < 1000.0 {
        format!("{ms:.1}ms")
    } else {
        format!("{:.2}s", ms / 1000.0)
    }
}

pub fn fmt_bytes(b: f64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = b;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{v:.0} {}", UNITS[i])
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

pub fn fmt_count(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A metric's value in the unit it reads in: latencies (`p95`, `max`, ...) in
/// milliseconds, rates of errors or failures (0..1) as percentages, throughput per
/// second, anything else as a plain number.
pub fn fmt_metric_value(metric: &str, value: f64) -> String {
    if !value.is_finite() {
        return "–".into();
    }
    let m = metric.to_ascii_lowercase();
    let percentile = m.starts_with('p') && m[1..].starts_with(|c: char| c.is_ascii_digit());
    let latency = percentile
        || ["min", "max", "mean", "avg", "med", "latency", "duration"]
            .iter()
            .any(|k| m.contains(k));
    if latency {
        fmt_ms(value)
    } else if m.contains("rps") || m.contains("throughput") || m.contains("per_s") {
        format!("{value:.1}/s")
    } else if m.contains("error") || m.contains("fail") || m.contains("rate") {
        format!("{:.2}%", value * 100.0)
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        if value < 0.0 {
            format!("-{}", fmt_count(value.abs() as u64))
        } else {
            fmt_count(value as u64)
        }
    } else {
        format!("{value:.2}")
    }
}

fn map_line(map: &std::collections::BTreeMap<String, u64>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}: {}", fmt_count(*v)))
        .collect::<Vec<_>>()
        .join("  ")
}

/// Writes the summary of a finished run, endpoint names in full (a file, a pipe).
pub fn write_summary<W: Write>(doc: &ResultDoc, w: &mut W) -> io::Result<()> {
    write_summary_fit(doc, w, usize::MAX)
}

/// The latency table's width besides the endpoint name: an indent and 8 columns of 7.
const LATENCY_COLUMNS: usize = 2 + 8 * 8;

/// [`write_summary`] for a terminal `cols` wide: endpoint names are cut where the
/// tables would not fit (never below 14 characters).
pub fn write_summary_fit<W: Write>(doc: &ResultDoc, w: &mut W, cols: usize) -> io::Result<()> {
    let name_max = cols.saturating_sub(LATENCY_COLUMNS).max(14);
    let state = if doc.partial { "STOPPED EARLY" } else { "DONE" };
    writeln!(w)?;
    writeln!(
        w,
        "volley · {} · {} · {:.1}s{} · {} VUs max · {state}",
        doc.scenario,
        doc.target,
        doc.duration_s,
        if (doc.duration_s - doc.run_time_s).abs() > 0.05 {
            format!(" ({:.1}s running)", doc.run_time_s)
        } else {
            String::new()
        },
        doc.vus_max,
    )?;
    writeln!(w)?;
    let name_w = doc
        .endpoints
        .iter()
        .map(|e| e.name.chars().count())
        .chain(std::iter::once(8))
        .max()
        .unwrap_or(8)
        .min(name_max);
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
            "  {:<name_w$} {:>10} {:>10.1} {:>8.2} {:>12}",
            clip(s),
            fmt_count(s.requests),
            s.rps,
            s.error_rate * 100.0,
            fmt_bytes(s.bytes_received as f64),
        )?;
    }
    writeln!(w)?;
    writeln!(
        w,
        "  {:<name_w$} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}",
        "latency", "min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max"
    )?;
    for s in &all {
        if s.latency_ms.count == 0 {
            // Nothing measured (no response, no timeout): no numbers, not zeros.
            let none = ["–"; 8].map(|d| format!("{d:>7}")).join(" ");
            writeln!(w, "  {:<name_w$} {none}", clip(s))?;
            continue;
        }
        let l = &s.latency_ms;
        writeln!(
            w,
            "  {:<name_w$} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7}",
            clip(s),
            fmt_ms(l.min),
            fmt_ms(l.mean),
            fmt_ms(l.p50),
            fmt_ms(l.p90),
            fmt_ms(l.p95),
            fmt_ms(l.p99),
            fmt_ms(l.p999),
            fmt_ms(l.max),
        )?;
    }
    writeln!(w)?;
    let t = &doc.totals;
    writeln!(
        w,
        "  requests   {} total, {} ok, {} failed ({:.2}%)",
        fmt_count(t.requests),
        fmt_count(t.ok),
        fmt_count(t.errors),
        t.error_rate * 100.0
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
        "  received   {} ({}/s)",
        fmt_bytes(t.bytes_received as f64),
        fmt_bytes(t.bytes_received as f64 / secs)
    )?;
    writeln!(
        w,
        "  conns      {} opened, {} open at end (one keep-alive connection per VU)",
        fmt_count(doc.connections.opened),
        doc.connections.open_at_end
    )?;
    for e in doc
        .events
        .iter()
        .filter(|e| e.kind != "start" && e.kind != "done")
    {
        writeln!(w, "  event      {:>7.1}s  {:<9} {}", e.t, e.kind, e.detail)?;
    }
    if let Some(d) = doc.dropped_iterations {
        writeln!(
            w,
            "  dropped    {} iterations (every VU busy)",
            fmt_count(d)
        )?;
    }
    let skipped: u64 = doc.endpoints.iter().map(|e| e.skipped).sum();
    if skipped > 0 {
        writeln!(
            w,
            "  skipped    {} steps (a variable they need was not captured)",
            fmt_count(skipped)
        )?;
    }
    if let Some(l) = &doc.totals.latency_ms_uncorrected {
        writeln!(
            w,
            "  uncorrected latency (from the actual send): p50 {}  p95 {}  p99 {}  max {}",
            fmt_ms(l.p50),
            fmt_ms(l.p95),
            fmt_ms(l.p99),
            fmt_ms(l.max)
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
                "    {mark} {:<40} {:>6.2}%  {} ✓ {} ✗   ({})",
                c.name,
                if total == 0 {
                    0.0
                } else {
                    c.passes as f64 * 100.0 / total as f64
                },
                fmt_count(c.passes),
                fmt_count(c.fails),
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
                if t.value.is_nan() {
                    "-".to_string()
                } else {
                    crate::thresholds::parse(&t.expression)
                        .map(|th| th.format_value(t.value))
                        .unwrap_or_else(|_| format!("{}", t.value))
                }
            )?;
        }
    }
    if let Some(g) = &doc.grade {
        writeln!(w)?;
        writeln!(w, "  grade      {}  (score {:.1}/100)", g.letter, g.score)?;
        for p in &g.parts {
            writeln!(w, "    {:<12} {:>5.1}%  {}", p.name, p.score, p.detail)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cut_only_for_a_narrow_terminal() {
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/results/current.json"
        );
        let mut doc = crate::report::load_doc(std::path::Path::new(fixture)).unwrap();
        let long = "GET /api/v2/customers/search";
        doc.endpoints[0].name = long.into();
        let text = |cols: usize| {
            let mut out = Vec::new();
            write_summary_fit(&doc, &mut out, cols).unwrap();
            String::from_utf8(out).unwrap()
        };
        let mut full = Vec::new();
        write_summary(&doc, &mut full).unwrap();
        let full = String::from_utf8(full).unwrap();
        assert!(full.contains(long), "{full}");
        assert_eq!(text(200), full);
        // 80 columns: the latency table leaves 14 for the name.
        let narrow = text(80);
        // The table rows (name, then numbers) are cut to fit; the latency row is 80 wide.
        let rows: Vec<&str> = narrow
            .lines()
            .filter(|l| l.starts_with("  GET /api/v2/cu"))
            .collect();
        assert!(rows.len() >= 2, "{narrow}");
        assert!(
            rows.iter().all(|l| l.starts_with("  GET /api/v2/cu ")),
            "{narrow}"
        );
        let latency = rows.iter().find(|l| l.contains("ms"));
        assert!(latency.is_some_and(|l| l.chars().count() <= 80), "{narrow}");
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_ms(0.25), "250µs");
        assert_eq!(fmt_ms(4.213), "4.21ms");
        assert_eq!(fmt_ms(42.13), "42.1ms");
        assert_eq!(fmt_ms(1500.0), "1.50s");
        assert_eq!(fmt_count(1234567), "1,234,567");
        assert_eq!(fmt_count(12), "12");
        assert_eq!(fmt_bytes(1500.0), "1.5 kB");
    }
}
