//! Everything the page decides by an event's kind: its colour, which events the charts
//! mark, the pause and spike bands, and the events table.

use std::fmt::Write as _;

use super::chart::Band;
use super::esc;
use crate::metrics::Event;
use crate::report::doc::ResultDoc;
use crate::units;

pub(super) fn event_color(kind: &str) -> &'static str {
    match kind {
        "pause" | "resume" => "#64748b",
        "spike" | "spike_end" => "#a21caf",
        "set_vus" | "set_rate" => "#2563eb",
        "stop" | "abort" => "#dc2626",
        "end" => "#0f766e",
        _ => "#b45309",
    }
}

/// Events drawn on the charts (the run's start and final "done" are implied), numbered
/// from 1.
pub(super) fn marked_events(doc: &ResultDoc) -> Vec<(usize, &Event)> {
    doc.events
        .iter()
        .filter(|e| e.kind != "start" && e.kind != "done")
        .enumerate()
        .map(|(i, e)| (i + 1, e))
        .collect()
}

/// Pause and spike intervals, from the events.
pub(super) fn bands(doc: &ResultDoc, end: f64) -> Vec<Band> {
    let mut out = Vec::new();
    let mut open: Option<(f64, &str)> = None;
    let mut spike: Option<f64> = None;
    for e in &doc.events {
        match e.kind.as_str() {
            "pause" => open = Some((e.t, "paused")),
            "resume" => {
                if let Some((a, _)) = open.take() {
                    out.push((a, e.t, "#64748b", "paused"));
                }
            }
            "spike" => spike = Some(e.t),
            "spike_end" => {
                if let Some(a) = spike.take() {
                    out.push((a, e.t, "#a21caf", "spike"));
                }
            }
            _ => {}
        }
    }
    if let Some((a, _)) = open {
        out.push((a, end, "#64748b", "paused"));
    }
    if let Some(a) = spike {
        out.push((a, end, "#a21caf", "spike"));
    }
    out
}

/// The table of the marked events, numbered as on the charts.
pub(super) fn section(events: &[(usize, &Event)], o: &mut String) {
    if events.is_empty() {
        return;
    }
    o.push_str(r#"<section class="card ev"><h2>Events</h2><div class="scroll"><table><thead><tr><th class="l">#</th><th>time</th><th class="l">event</th><th class="l">detail</th></tr></thead><tbody>"#);
    for (n, e) in events {
        let _ = write!(
            o,
            r#"<tr><td class="l n"><span style="background:{}">{n}</span></td><td>{}</td><td class="l"><code>{}</code></td><td class="l" style="white-space:normal">{}</td></tr>"#,
            event_color(&e.kind),
            units::secs(e.t),
            esc(&e.kind),
            esc(&e.detail)
        );
    }
    o.push_str("</tbody></table></div></section>");
}
