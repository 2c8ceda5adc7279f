//! Reports: the result document and everything rendered from it, each written to any
//! `Write`. The JSON document is the single source: every other output is rendered
//! from a [`ResultDoc`] (a fresh one, or one read back with [`load_doc`]).

pub mod compare;
mod csv;
mod doc;
pub mod generator;
mod hdr;
mod html;
mod junit;
pub mod knee;
mod load;
mod markdown;
pub mod scenario_text;
pub mod target;
mod text;

pub use compare::{Comparison, Verdict};
pub use csv::{write_csv, COLUMNS as CSV_COLUMNS};
pub use doc::{
    latency, latency_of, CheckResult, Connections, EchoDoc, FleetSummary, Grade, GradePart,
    Latency, PhaseHdr, PhasesMs, ResultDoc, Row, RunInfo, Stats, StreamDoc, ThresholdResult, WsDoc,
    SCHEMA_VERSION,
};
pub use hdr::{has_interval_histograms, tag_of as hdr_tag_of, tags as hdr_tags, write_hdr};
pub use html::{render_html, write_html};
pub use junit::write_junit;
pub use load::{load_doc, parse_doc, LoadError};
pub use markdown::write_markdown;
pub use text::{fmt_metric_value, write_summary, write_summary_fit};

use std::io::Write;

/// Writes the JSON result document (pretty-printed).
pub fn write_json<W: Write>(doc: &ResultDoc, w: &mut W) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, doc)?;
    writeln!(w)
}
