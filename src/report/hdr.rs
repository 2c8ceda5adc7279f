//! `--out hdr`: an HdrHistogram interval log (format version 1.3, as written by
//! HdrHistogram's `HistogramLogWriter` and read by `HistogramLogProcessor`, the
//! `hdrhistogram` crate's `IntervalLogIterator` and other HDR tools).
//!
//! One interval per second (per `dt` after downsampling): untagged lines are all
//! requests together, `Tag=<endpoint>` lines one endpoint each. Values are microseconds;
//! the `Interval_Max` column is in milliseconds (`MaxValueDivisor` 1000).

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use hdrhistogram::serialization::{Serializer as _, V2DeflateSerializer};

use super::doc::{ResultDoc, Row};
use crate::metrics::new_histogram;

/// Divisor applied to a histogram's max value in the `Interval_Max` column.
pub const MAX_VALUE_DIVISOR: f64 = 1000.0;

/// A tag for an endpoint name: HDR tags cannot hold commas, spaces or line breaks.
pub fn tag_of(name: &str) -> String {
    let t: String = name
        .chars()
        .map(|c| {
            if c == ',' || c.is_whitespace() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if t.is_empty() {
        "_".into()
    } else {
        t
    }
}

/// Tags for every endpoint, in order: unique even when sanitizing makes two equal.
pub fn tags(doc: &ResultDoc) -> Vec<String> {
    let mut seen = BTreeSet::new();
    doc.endpoints
        .iter()
        .map(|e| {
            let base = tag_of(&e.name);
            let mut tag = base.clone();
            let mut n = 2;
            while !seen.insert(tag.clone()) {
                tag = format!("{base}~{n}");
                n += 1;
            }
            tag
        })
        .collect()
}

fn empty_histogram() -> String {
    let mut buf = Vec::new();
    V2DeflateSerializer::new()
        .serialize(&new_histogram(), &mut buf)
        .expect("an empty histogram serializes");
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// `2026-11-25T20:03:39Z`-style text for the log's header comment.
fn rfc3339(doc: &ResultDoc) -> &str {
    &doc.started_at
}

/// Seconds since the epoch of the run's start, from `started_at`.
fn start_epoch(doc: &ResultDoc) -> Option<f64> {
    let t = humantime::parse_rfc3339_weak(&doc.started_at).ok()?;
    Some(t.duration_since(UNIX_EPOCH).ok()?.as_secs_f64())
}

/// Whether the document has per-second histograms (the run wrote an `hdr` output; they
/// are not kept otherwise, to keep memory flat on long runs). Without them the interval
/// log has no intervals with latencies.
pub fn has_interval_histograms(doc: &ResultDoc) -> bool {
    let rows = || {
        doc.timeline
            .iter()
            .chain(doc.endpoints.iter().flat_map(|e| e.timeline.iter()))
    };
    rows().all(|r| r.hdr.is_some() || r.max_ms == 0.0)
}

/// Writes the interval log.
pub fn write_hdr<W: Write>(doc: &ResultDoc, w: &mut W) -> io::Result<()> {
    let tags = tags(doc);
    writeln!(
        w,
        "#[volley {} interval log: scenario {}, target {}]",
        doc.volley_version,
        doc.scenario.replace('\n', " "),
        doc.target
    )?;
    writeln!(
        w,
        "#[Values are latencies in microseconds; Interval_Max is in milliseconds]"
    )?;
    writeln!(
        w,
        "#[Untagged intervals: all requests; tagged intervals: one endpoint each]"
    )?;
    for (ep, tag) in doc.endpoints.iter().zip(&tags) {
        writeln!(
            w,
            "#[Tag {tag}: {} {}]",
            ep.method,
            ep.name.replace('\n', " ")
        )?;
    }
    if !has_interval_histograms(doc) {
        writeln!(
            w,
            "#[This result document has no per-second histograms: run with --out hdr=FILE to record them]"
        )?;
    }
    writeln!(w, "#[Histogram log format version 1.3]")?;
    if let Some(start) = start_epoch(doc) {
        writeln!(
            w,
            "#[StartTime: {start:.3} (seconds since epoch), {}]",
            rfc3339(doc)
        )?;
        writeln!(w, "#[BaseTime: {start:.3} (seconds since epoch)]")?;
    }
    writeln!(w, "#[MaxValueDivisor: {MAX_VALUE_DIVISOR:.3}]")?;
    writeln!(
        w,
        "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
    )?;
    let empty = empty_histogram();
    let line = |w: &mut W, tag: Option<&str>, r: &Row| -> io::Result<()> {
        let Some(hist) = r
            .hdr
            .as_deref()
            .or((r.max_ms == 0.0).then_some(empty.as_str()))
        else {
            // A row from a document without histograms: nothing exact to write.
            return Ok(());
        };
        if let Some(t) = tag {
            write!(w, "Tag={t},")?;
        }
        writeln!(
            w,
            "{:.3},{:.3},{:.3},{hist}",
            Duration::from_secs(r.t).as_secs_f64(),
            Duration::from_secs(r.dt.max(1)).as_secs_f64(),
            // max_ms is microseconds / 1000, the same as max / MAX_VALUE_DIVISOR.
            r.max_ms
        )
    };
    let mut cursors = vec![0usize; doc.endpoints.len()];
    for total in &doc.timeline {
        line(w, None, total)?;
        for ((ep, tag), cur) in doc.endpoints.iter().zip(&tags).zip(cursors.iter_mut()) {
            while *cur < ep.timeline.len() && ep.timeline[*cur].t < total.t {
                *cur += 1;
            }
            if let Some(r) = ep.timeline.get(*cur).filter(|r| r.t == total.t) {
                line(w, Some(tag), r)?;
            }
        }
    }
    Ok(())
}
