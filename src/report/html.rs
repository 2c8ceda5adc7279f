//! `--out html`: one self-contained page (inline CSS and SVG, a few lines of inline
//! script for chart read-outs; nothing fetched from the network): the run's header,
//! grade, thresholds and checks, throughput and latency over time with the events
//! marked, the endpoint table, status codes and errors, the comparison with a baseline,
//! and the scenario that ran.
//!
//! The page is the list of cards in [`render_html`], each a function of the document
//! in its own file: `summary` (header, key figures, verdicts), `charts` (the series of
//! each chart, drawn by `chart`), `details` (endpoints, status codes and errors, the
//! scenario), `timings` (phases, streamed responses, WebSocket sessions), `events`, `comparison`. Tables take their columns from constant tables
//! ([`table_start`]); the style sheet and the script are `style.css` and `script.js`.

mod chart;
mod charts;
mod comparison;
mod details;
mod events;
mod highlight;
mod summary;
mod timings;

mod resources;

use std::fmt::Write as _;
use std::io::{self, Write};

pub use chart::fmt_t;

use super::compare::Comparison;
use super::doc::ResultDoc;
use super::markdown::outcome;

/// Escapes text for HTML (content and attribute values).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = include_str!("html/style.css");

/// Chart read-outs: on hover, the values of the nearest interval.
const SCRIPT: &str = include_str!("html/script.js");

/// A left-aligned column (`(heading, LEFT)`); `!LEFT` is right-aligned (numbers).
const LEFT: bool = true;

/// Opens a scrolling table with `attrs` (e.g. ` class="ep"`) and its heading row of
/// `(heading, left-aligned)` columns, up to the body.
fn table_start(out: &mut String, attrs: &str, columns: &[(&str, bool)]) {
    let _ = write!(out, r#"<div class="scroll"><table{attrs}><thead><tr>"#);
    for (name, left) in columns {
        let class = if *left { r#" class="l""# } else { "" };
        let _ = write!(out, "<th{class}>{name}</th>");
    }
    out.push_str("</tr></thead><tbody>");
}

/// Closes what [`table_start`] opened.
fn table_end(out: &mut String) {
    out.push_str("</tbody></table></div>");
}

/// Renders the whole page.
pub fn render_html(doc: &ResultDoc, baseline: Option<&Comparison>) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let (passed, outcome_text) = outcome(doc);
    let _ = write!(
        o,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="generator" content="volley {}"><title>volley · {} · {}</title><style>{CSS}</style></head><body>"#,
        esc(&doc.volley_version),
        esc(&doc.scenario),
        esc(&doc.started_at)
    );
    let events = events::marked_events(doc);
    summary::header(doc, (passed, &outcome_text), &mut o);
    summary::key_figures(doc, &mut o);
    summary::verdicts(doc, &outcome_text, &mut o);
    charts::sections(doc, &events, &mut o);
    o.push_str(&resources::generator_section(doc, &events));
    o.push_str(&resources::monitor_section(doc, &events));
    o.push_str(&resources::knee_section(doc));
    details::endpoints(doc, &mut o);
    timings::section(doc, &mut o);
    details::errors(doc, &mut o);
    events::section(&events, &mut o);
    if let Some(c) = baseline {
        comparison::section(c, &mut o);
    }
    details::scenario(doc, &mut o);
    let _ = write!(
        o,
        r#"</main><footer>volley {} · result schema {} · rendered from the result document</footer><script>{SCRIPT}</script></body></html>"#,
        esc(&doc.volley_version),
        doc.schema_version
    );
    o.push('\n');
    o
}

/// Writes the page.
pub fn write_html<W: Write>(
    doc: &ResultDoc,
    w: &mut W,
    baseline: Option<&Comparison>,
) -> io::Result<()> {
    w.write_all(render_html(doc, baseline).as_bytes())
}
