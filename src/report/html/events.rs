//! Everything the page decides by an event's kind: its colour, which events the charts
//! mark, the pause and spike bands, and the events table.

use std::fmt::Write as _;

use super::chart::Band;
use super::esc;
use crate::metrics::{Event, EventKind};
use crate::report::doc::ResultDoc;
use crate::units;

/// Every kind is named, so a new kind cannot go uncoloured by accident (`set_rate` once
/// did, when kinds were strings).
pub(super) fn event_color(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::Pause | EventKind::Resume => "#64748b",
        EventKind::Spike | EventKind::SpikeEnd => "#a21caf",
        EventKind::SetVus | EventKind::SetRate => "#2563eb",
        EventKind::Stop | EventKind::Abort => "#dc2626",
        EventKind::End => "#0f766e",
        EventKind::Start
        | EventKind::Stage
        | EventKind::Done
        | EventKind::Monitor
        | EventKind::Other(_) => "#b45309",
    }
}

/// Events drawn on the charts (the run's start and final "done" are implied), numbered
/// from 1.
pub(super) fn marked_events(doc: &ResultDoc) -> Vec<(usize, &Event)> {
    doc.events
        .iter()
        .filter(|e| e.kind.is_marked())
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
        match e.kind {
            EventKind::Pause => open = Some((e.t, "paused")),
            EventKind::Resume => {
                if let Some((a, _)) = open.take() {
                    out.push((a, e.t, "#64748b", "paused"));
                }
            }
            EventKind::Spike => spike = Some(e.t),
            EventKind::SpikeEnd => {
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
            esc(e.kind.as_str()),
            esc(&e.detail)
        );
    }
    o.push_str("</tbody></table></div></section>");
}
