//! Reports: the result document and what is rendered from it, written to any `Write`.

mod doc;
mod text;

pub use doc::{latency, Connections, Latency, ResultDoc, Row, RunInfo, Stats, SCHEMA_VERSION};
pub use text::{fmt_bytes, fmt_count, fmt_ms, write_summary};

use std::io::Write;

/// Writes the JSON result document (pretty-printed).
pub fn write_json<W: Write>(doc: &ResultDoc, w: &mut W) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, doc)?;
    writeln!(w)
}
