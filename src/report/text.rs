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

/// Rows of the summary's latency histogram.
pub const HISTOGRAM_ROWS: usize = 10;
/// Width of the longest bar.
const BAR_WIDTH: usize = 30;

/// The histogram's buckets: (upper bound in microseconds, count), [`HISTOGRAM_ROWS`] of
/// them from the fastest to the slowest latency, evenly spaced, or spaced by ratio when
/// the slowest is more than 20 times the fastest (a long tail would crowd everything into
/// the first bucket).
pub fn histogram_buckets(h: &hdrhistogram::Histogram<u64>) -> Vec<(u64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let (lo, hi) = (h.min().max(1) as f64, h.max().max(1) as f64);
    let n = HISTOGRAM_ROWS;
    let log = hi / lo > 20.0;
    let edge = |i: usize| -> u64 {
        let f = i as f64 / n as f64;
        let v = if log {
            lo * (hi / lo).powf(f)
        } else {
            lo + (hi - lo) * f
        };
        v.round() as u64
    };
    let mut buckets: Vec<(u64, u64)> = (1..=n).map(|i| (edge(i), 0)).collect();
    if let Some(last) = buckets.last_mut() {
        last.0 = h.max();
    }
    for v in h.iter_recorded() {
        // The bucket of a value: the first whose upper bound reaches it.
        let value = h.highest_equivalent(v.value_iterated_to()).min(h.max());
        let i = buckets
            .iter()
            .position(|(upper, _)| value <= *upper)
            .unwrap_or(n - 1);
        buckets[i].1 += v.count_at_value();
    }
    buckets
}

/// The latency histogram of all requests, one bar per bucket:
/// `     4.21ms  [     1,234] ■■■■■■■`.
fn write_histogram<W: Write>(h: &hdrhistogram::Histogram<u64>, w: &mut W) -> io::Result<()> {
    let buckets = histogram_buckets(h);
    let peak = buckets.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    writeln!(
        w,
        "  latency histogram (all requests; each row: up to this latency)"
    )?;
    for (upper, n) in buckets {
        let len = if n == 0 {
            0
        } else {
            ((n as f64 / peak as f64 * BAR_WIDTH as f64).round() as usize).max(1)
        };
        let line = format!(
            "    {:>8}  [{:>10}] {}",
            units::us(upper),
            units::count(n),
            "■".repeat(len)
        );
        writeln!(w, "{}", line.trim_end())?;
    }
    Ok(())
}

pub fn map_line(map: &std::collections::BTreeMap<String, u64>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}: {}", units::count(*v)))
        .collect::<Vec<_>>()
        .join("  ")
}

/// Share of attempts dropped unanswered past which the summary warns.
pub const DROPPED_WARNING: f64 = 0.01;

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
    if !doc.overrides.is_empty() {
        writeln!(w, "overrides: {}", doc.overrides.join(" "))?;
    }
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
            l.shown(l.min),
            l.shown(l.mean),
            l.shown(l.p50),
            l.shown(l.p90),
            l.shown(l.p95),
            l.shown(l.p99),
            l.shown(l.p999),
            l.shown(l.max),
        )?;
    }
    let t = &doc.totals;
    if t.latency_ms.count > 0 {
        writeln!(
            w,
            "  {:<name_w$} stdev {}  p99.99 {}  ({} latencies)",
            "",
            units::ms(t.latency_ms.stdev),
            units::ms(t.latency_ms.p9999),
            units::count(t.latency_ms.count)
        )?;
    }
    if let Some(h) = t.histogram() {
        writeln!(w)?;
        write_histogram(&h, w)?;
    }
    writeln!(w)?;
    writeln!(
        w,
        "  requests   {} total, {} ok, {} failed ({})",
        units::count(t.requests),
        units::count(t.ok),
        units::count(t.errors),
        units::percent(t.error_rate)
    )?;
    if let Some(note) = doc.aborted_note() {
        writeln!(w, "  aborted    {note}")?;
    }
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
    if t.retries.total > 0 {
        writeln!(
            w,
            "  retries    {} ({}): the server got {} attempts",
            units::count(t.retries.total),
            map_line(&t.retries.by_reason),
            units::count(t.requests + t.retries.total)
        )?;
    }
    if t.dropped_share() > DROPPED_WARNING {
        writeln!(
            w,
            "  warning    the server dropped {:.1}% of attempts unanswered on reused connections (each was sent again)",
            t.dropped_share() * 100.0,
        )?;
    }
    let secs = doc.duration_s.max(1e-9);
    writeln!(
        w,
        "  received   {} ({})",
        units::bytes(t.bytes_received as f64),
        units::bytes_per_s(t.bytes_received as f64 / secs)
    )?;
    // Keep-alive: a VU keeps its connection. More connections than VUs ever ran are
    // new ones: reconnects (the server closed one, a timeout or an error ended one) and
    // WebSocket requests, which open a socket each.
    let why = if doc.connections.opened <= u64::from(doc.vus_max) {
        "one keep-alive connection per VU"
    } else {
        "more than the VUs: reconnects after a close, timeout or error, and WebSocket sockets"
    };
    writeln!(
        w,
        "  conns      {} opened, {} open at end ({why})",
        units::count(doc.connections.opened),
        doc.connections
            .open_at_end
            .map_or("unknown (reqwest)".to_string(), units::count)
    )?;
    if let Some(ms) = doc.startup_ms {
        writeln!(
            w,
            "  start-up   {} until every VU of the initial load started (not run time)",
            units::ms(ms)
        )?;
    }
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
    for e in doc.events.iter().filter(|e| e.kind.is_marked()) {
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
            "  dropped    {} iterations (due, no VU free in time)",
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

#[cfg(test)]
mod tests {
    use super::*;

    fn summary_with(requests: u64, retries: u64) -> String {
        let mut snap = crate::metrics::Snapshot::empty("t", &[("a".into(), "GET".into())]);
        snap.total.requests = requests;
        snap.total.ok = requests;
        if retries > 0 {
            snap.total
                .retries
                .insert("closed_before_response".into(), retries);
        }
        let doc = ResultDoc::from_snapshot(&snap, &Default::default());
        let mut out = Vec::new();
        write_summary(&doc, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn dropped_requests_show_and_warn_past_one_percent() {
        let quiet = summary_with(1000, 0);
        assert!(
            !quiet.contains("retries") && !quiet.contains("warning"),
            "{quiet}"
        );
        // 1 of 1001 attempts: shown, no warning.
        let few = summary_with(1000, 1);
        assert!(
            few.contains("retries    1 (closed_before_response: 1): the server got 1,001 attempts"),
            "{few}"
        );
        assert!(!few.contains("warning"), "{few}");
        // 300 requests, 295 dropped attempts: the server looks healthy only without it.
        let many = summary_with(300, 295);
        assert!(
            many.contains("warning    the server dropped 49.6% of attempts"),
            "{many}"
        );
        // ... and the grade counts them as it counts errors.
        assert!(
            many.contains("errors and dropped attempts 49.58% against a 1% target"),
            "{many}"
        );
        assert!(!many.contains("grade      A"), "{many}");
    }

    #[test]
    fn connections_line_says_why_there_are_more_than_vus() {
        let snap = crate::metrics::Snapshot::empty("t", &[("a".into(), "GET".into())]);
        let line = |opened: u64| {
            let mut doc = ResultDoc::from_snapshot(&snap, &Default::default());
            doc.vus_max = 20;
            doc.connections.opened = opened;
            doc.connections.open_at_end = Some(0);
            let mut out = Vec::new();
            write_summary(&doc, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            text.lines()
                .find(|l| l.trim_start().starts_with("conns"))
                .unwrap()
                .to_string()
        };
        assert!(
            line(20).ends_with("(one keep-alive connection per VU)"),
            "{}",
            line(20)
        );
        assert!(
            line(254).contains("more than the VUs: reconnects"),
            "{}",
            line(254)
        );
    }

    fn hist(values: &[(u64, u64)]) -> hdrhistogram::Histogram<u64> {
        let mut h = crate::metrics::new_histogram();
        for &(v, n) in values {
            h.record_n(v, n).unwrap();
        }
        h
    }

    #[test]
    fn histogram_buckets_hold_every_latency() {
        // 1 ms to 10 ms: even buckets; all 1,000 values land in one of them.
        let h = hist(&[(1_000, 500), (5_000, 400), (10_000, 100)]);
        let b = histogram_buckets(&h);
        assert_eq!(b.len(), HISTOGRAM_ROWS);
        assert_eq!(b.iter().map(|x| x.1).sum::<u64>(), 1000);
        // Bounds are HDR's (3 significant digits): 1.9 ms up to its bucket's top.
        assert_eq!(b[0].1, 500);
        assert!((1_900..=1_902).contains(&b[0].0), "{b:?}");
        assert_eq!(b.last().unwrap(), &(h.max(), 100));
        // A long tail (100 us to 1 s): buckets spaced by ratio, so the fast bulk spreads.
        let h = hist(&[(100, 900), (300, 50), (1_000_000, 1)]);
        let b = histogram_buckets(&h);
        assert_eq!(b.iter().map(|x| x.1).sum::<u64>(), 951);
        assert_eq!(b[0].1, 900, "{b:?}");
        assert_eq!(b[1].1, 50, "{b:?}");
        assert!(b[0].0 < 300, "{b:?}");
        assert_eq!(b.last().unwrap().1, 1);
    }

    #[test]
    fn the_summary_shows_the_histogram_stdev_and_p9999() {
        let h = hist(&[(1_000, 500), (5_000, 400), (10_000, 100)]);
        let l = crate::latency::Latency::of(&h);
        assert!(l.stdev > 0.0 && l.p9999 >= l.p999, "{l:?}");
        let mut doc: ResultDoc =
            serde_json::from_str(include_str!("../../tests/fixtures/results/current.json"))
                .unwrap();
        doc.totals.latency_ms = l;
        doc.totals.hdr = crate::metrics::TimelineRow::encode_hist(&h).map(|s| s.to_string());
        let mut out = Vec::new();
        write_summary(&doc, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.contains(&format!(
                "stdev {}  p99.99 {}  (1,000 latencies)",
                units::ms(l.stdev),
                units::ms(l.p9999)
            )),
            "{out}"
        );
        assert!(out.contains("latency histogram"), "{out}");
        let first = histogram_buckets(&h)[0].0;
        let row = format!(
            "    {:>8}  [       500] {}\n",
            units::us(first),
            "■".repeat(30)
        );
        assert!(out.contains(&row), "{out}");
        assert!(out.contains("  [         0]\n"), "{out}");
        assert!(
            out.contains("[       400] ■■■■■■■■■■■■■■■■■■■■■■■■\n"),
            "{out}"
        );
    }

    #[test]
    fn latencies_without_a_response_show_a_dash_not_zero() {
        let mut doc: ResultDoc =
            serde_json::from_str(include_str!("../../tests/fixtures/results/current.json"))
                .unwrap();
        for s in doc
            .endpoints
            .iter_mut()
            .chain(std::iter::once(&mut doc.totals))
        {
            s.latency_ms = Default::default();
            s.hdr = None;
        }
        let mut out = Vec::new();
        write_summary(&doc, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        let row = out
            .lines()
            .find(|l| l.trim_start().starts_with("total ") && l.contains('–'))
            .unwrap_or_else(|| panic!("{out}"));
        assert_eq!(row.matches('–').count(), 8, "{row}");
        assert!(!out.contains("stdev"), "{out}");
    }

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
}
