//! The detail cards: the endpoint table, status codes and errors, and the scenario
//! that ran.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::highlight::highlight_toml;
use super::{esc, table_end, table_start, LEFT};
use crate::report::doc::{Latency, ResultDoc, Stats};
use crate::units;

/// A latency column of the endpoint table: heading, value, and the cell's class.
struct Column {
    heading: &'static str,
    value: fn(&Latency) -> f64,
    class: &'static str,
}

/// The endpoint table's latency columns.
const LATENCY_COLUMNS: [Column; 8] = [
    Column {
        heading: "min",
        value: |l| l.min,
        class: "",
    },
    Column {
        heading: "mean",
        value: |l| l.mean,
        class: "",
    },
    Column {
        heading: "p50",
        value: |l| l.p50,
        class: "",
    },
    Column {
        heading: "p90",
        value: |l| l.p90,
        class: "",
    },
    Column {
        heading: "p95",
        value: |l| l.p95,
        class: "em",
    },
    Column {
        heading: "p99",
        value: |l| l.p99,
        class: "",
    },
    Column {
        heading: "p99.9",
        value: |l| l.p999,
        class: "",
    },
    Column {
        heading: "max",
        value: |l| l.max,
        class: "",
    },
];

/// A `data-` attribute of an endpoint row: name and value.
type Attribute = (&'static str, fn(&Stats) -> String);

/// The endpoint rows' `data-` attributes (for scripts and tests reading the page).
const DATA_ATTRIBUTES: [Attribute; 10] = [
    ("endpoint", |s| esc(&s.name)),
    ("requests", |s| s.requests.to_string()),
    ("ok", |s| s.ok.to_string()),
    ("errors", |s| s.errors.to_string()),
    ("count", |s| s.latency_ms.count.to_string()),
    ("p50", |s| s.latency_ms.p50.to_string()),
    ("p90", |s| s.latency_ms.p90.to_string()),
    ("p95", |s| s.latency_ms.p95.to_string()),
    ("p99", |s| s.latency_ms.p99.to_string()),
    ("max", |s| s.latency_ms.max.to_string()),
];

/// The endpoint table (with a total row unless there is exactly one endpoint) and the
/// note on how latency is measured and connections counted.
pub(super) fn endpoints(doc: &ResultDoc, o: &mut String) {
    let columns: Vec<(&str, bool)> = [
        ("endpoint", LEFT),
        ("requests", !LEFT),
        ("rps", !LEFT),
        ("errors", !LEFT),
        ("err %", !LEFT),
    ]
    .into_iter()
    .chain(LATENCY_COLUMNS.iter().map(|c| (c.heading, !LEFT)))
    .chain([("received", !LEFT)])
    .collect();
    o.push_str(r#"<section class="card"><h2>Endpoints</h2>"#);
    table_start(o, r#" id="endpoints" class="ep""#, &columns);
    for s in &doc.endpoints {
        endpoint_row(o, s, false);
    }
    if doc.endpoints.len() != 1 {
        endpoint_row(o, &doc.totals, true);
    }
    table_end(o);
    let _ = write!(
        o,
        r#"<p class="note">Latency from the start of the request (connecting included, and a first attempt that was sent again) to the last body byte (HDR histograms, 3 significant digits). {} connections opened, {} open at the end.{}</p></section>"#,
        units::count(doc.connections.opened),
        doc.connections
            .open_at_end
            .map_or("unknown (reqwest)".to_string(), units::count),
        retries_note(&doc.totals)
    );
}

fn endpoint_row(out: &mut String, s: &Stats, total: bool) {
    let _ = write!(out, r#"<tr class="{}""#, if total { "total" } else { "" });
    for (name, value) in DATA_ATTRIBUTES {
        let _ = write!(out, r#" data-{name}="{}""#, value(s));
    }
    out.push('>');
    let bad = if s.errors > 0 { "bad" } else { "dim" };
    let _ = write!(
        out,
        r#"<td class="l name">{}{}</td><td>{}</td><td>{}</td><td class="{bad}">{}</td><td class="{bad}">{}</td>"#,
        if s.method.is_empty() {
            String::new()
        } else {
            format!(r#"<span class="m">{}</span>"#, esc(&s.method))
        },
        esc(&s.name),
        units::count(s.requests),
        units::rate(s.rps),
        units::count(s.errors),
        units::percent(s.error_rate)
    );
    let l = &s.latency_ms;
    for c in &LATENCY_COLUMNS {
        let v = (c.value)(l);
        let _ = write!(
            out,
            r#"<td class="{}" data-v="{v}">{}</td>"#,
            c.class,
            l.shown(v)
        );
    }
    let _ = write!(
        out,
        "<td>{}</td></tr>",
        units::bytes(s.bytes_received as f64)
    );
}

fn status_class(code: &str) -> &'static str {
    match code.chars().next() {
        Some('2') | Some('1') => "#15803d",
        Some('3') => "#2563eb",
        Some('4') => "#b45309",
        _ => "#dc2626",
    }
}

/// " N attempts were sent again (...)." when a server dropped requests on reused
/// connections.
fn retries_note(t: &Stats) -> String {
    if t.retries.total == 0 {
        return String::new();
    }
    format!(
        " {} attempts dropped by the server before any response were sent again ({}): the server got {} attempts.",
        units::count(t.retries.total),
        crate::report::text::map_line(&t.retries.by_reason),
        units::count(t.requests + t.retries.total)
    )
}

/// The status codes and error kinds per endpoint, and the most recent errors.
pub(super) fn errors(doc: &ResultDoc, out: &mut String) {
    let codes: BTreeSet<&String> = doc.endpoints.iter().flat_map(|e| e.status.keys()).collect();
    // Error kinds that are not HTTP statuses (those are in the status columns).
    let kinds: BTreeSet<&String> = doc
        .endpoints
        .iter()
        .flat_map(|e| e.errors_by_kind.keys())
        .filter(|k| !k.starts_with("http_"))
        .collect();
    out.push_str(r#"<section class="card"><h2>Status codes and errors</h2>"#);
    if codes.is_empty() && kinds.is_empty() {
        out.push_str(r#"<p class="note">No responses were recorded.</p></section>"#);
        return;
    }
    // The heading cells carry markup of their own.
    out.push_str(
        r#"<div class="scroll"><table class="auto"><thead><tr><th class="l">endpoint</th>"#,
    );
    for c in &codes {
        let _ = write!(
            out,
            r#"<th><span style="color:{}">{}</span></th>"#,
            status_class(c),
            esc(c)
        );
    }
    for k in &kinds {
        let _ = write!(out, r#"<th style="color:var(--err)">{}</th>"#, esc(k));
    }
    out.push_str("</tr></thead><tbody>");
    let mut all: Vec<&Stats> = doc.endpoints.iter().collect();
    if doc.endpoints.len() > 1 {
        all.push(&doc.totals);
    }
    for (i, s) in all.iter().enumerate() {
        let total = doc.endpoints.len() > 1 && i + 1 == all.len();
        let _ = write!(
            out,
            r#"<tr{}><td class="l name">{}</td>"#,
            if total { r#" class="total""# } else { "" },
            esc(&s.name)
        );
        for c in &codes {
            match s.status.get(*c) {
                Some(n) => {
                    let _ = write!(out, "<td>{}</td>", units::count(*n));
                }
                None => out.push_str(r#"<td class="dim">–</td>"#),
            }
        }
        for k in &kinds {
            match s.errors_by_kind.get(*k) {
                Some(n) => {
                    let _ = write!(out, r#"<td class="bad">{}</td>"#, units::count(*n));
                }
                None => out.push_str(r#"<td class="dim">–</td>"#),
            }
        }
        out.push_str("</tr>");
    }
    table_end(out);
    let mut recent: Vec<(&str, &crate::metrics::ErrorSample)> = doc
        .endpoints
        .iter()
        .flat_map(|e| e.recent_errors.iter().map(move |r| (e.name.as_str(), r)))
        .collect();
    recent.sort_by(|a, b| b.1.t.total_cmp(&a.1.t));
    if !recent.is_empty() {
        out.push_str(r#"<h3>Recent errors</h3><ul class="errs">"#);
        for (name, r) in recent.iter().take(12) {
            let _ = write!(
                out,
                r#"<li><span class="t">{}</span><span>{}</span><span><code>{}</code></span><span title="{}">{}</span></li>"#,
                units::secs(r.t),
                esc(name),
                esc(&r.kind),
                esc(&r.message),
                esc(&r.message)
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</section>");
}

/// The scenario as it ran (its text, highlighted) and the command-line overrides.
pub(super) fn scenario(doc: &ResultDoc, o: &mut String) {
    if doc.scenario_text.is_none() && doc.overrides.is_empty() {
        return;
    }
    let _ = write!(
        o,
        r#"<section class="card" id="scenario"><h2>Scenario <small>{}</small></h2>"#,
        esc(&doc.source)
    );
    if !doc.overrides.is_empty() {
        let list: Vec<String> = doc
            .overrides
            .iter()
            .map(|a| format!("<code>{}</code>", esc(a)))
            .collect();
        let _ = write!(
            o,
            r#"<p class="note" id="overrides" style="margin:0 0 10px">Run with command-line overrides, which replace the scenario's own values: {}</p>"#,
            list.join(" ")
        );
    }
    if let Some(text) = &doc.scenario_text {
        let _ = write!(
            o,
            r#"<pre class="code">{}</pre>"#,
            highlight_toml(text.trim_end())
        );
    }
    o.push_str("</section>");
}
