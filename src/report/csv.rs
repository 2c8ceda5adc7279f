//! `--out csv`: one row per second per endpoint, plus a total row per second, with the
//! events of that second. Long ("tidy") format: easy to pivot in a spreadsheet or pandas.

use std::io::{self, Write};

use super::doc::{ResultDoc, Row};

/// The header line's columns, in order.
pub const COLUMNS: &[&str] = &[
    "t",
    "dt",
    "scope",
    "endpoint",
    "method",
    "requests",
    "ok",
    "errors",
    "error_rate",
    "rps",
    "bytes",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "vus",
    "events",
];

/// Quotes a field when it needs it (RFC 4180).
pub fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) || s.starts_with(' ') || s.ends_with(' ') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The events of `[t, t + dt)`, as `kind detail; kind detail`; the last row also gets
/// the events after it (the end of the run).
fn events_in(doc: &ResultDoc, row: &Row, last: bool) -> String {
    let from = row.t as f64;
    let to = (row.t + row.dt.max(1)) as f64;
    doc.events
        .iter()
        .filter(|e| e.t >= from && (e.t < to || last))
        .map(|e| {
            if e.detail.is_empty() {
                e.kind.to_string()
            } else {
                format!("{} {}", e.kind, e.detail)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn write_row<W: Write>(
    w: &mut W,
    scope: &str,
    name: &str,
    method: &str,
    r: &Row,
    events: &str,
) -> io::Result<()> {
    let rate = if r.requests == 0 {
        0.0
    } else {
        r.errors as f64 / r.requests as f64
    };
    writeln!(
        w,
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
        r.t,
        r.dt,
        scope,
        field(name),
        field(method),
        r.requests,
        r.ok,
        r.errors,
        rate,
        r.rps,
        r.bytes,
        r.p50_ms,
        r.p90_ms,
        r.p95_ms,
        r.p99_ms,
        r.max_ms,
        r.vus,
        field(events)
    )
}

/// Writes the CSV: a header line, then for each second the endpoints' rows (scope
/// `endpoint`, in scenario order) and the total's (scope `total`, endpoint `total`).
pub fn write_csv<W: Write>(doc: &ResultDoc, w: &mut W) -> io::Result<()> {
    writeln!(w, "{}", COLUMNS.join(","))?;
    let n = doc.timeline.len();
    // Endpoint rows are looked up by start time (every series closes the same seconds).
    let mut cursors = vec![0usize; doc.endpoints.len()];
    for (i, total) in doc.timeline.iter().enumerate() {
        let last = i + 1 == n;
        let events = events_in(doc, total, last);
        for (ep, cur) in doc.endpoints.iter().zip(cursors.iter_mut()) {
            while *cur < ep.timeline.len() && ep.timeline[*cur].t < total.t {
                *cur += 1;
            }
            if let Some(r) = ep.timeline.get(*cur).filter(|r| r.t == total.t) {
                write_row(w, "endpoint", &ep.name, &ep.method, r, &events)?;
            }
        }
        write_row(w, "total", "total", "", total, &events)?;
    }
    Ok(())
}
