//! `--out md`: a Markdown summary for a CI job summary or a pull-request comment.

use std::io::{self, Write};

use super::compare::{md_cell, write_markdown as write_comparison, Comparison};
use super::doc::{ResultDoc, Stats};
use super::text::fmt_metric_value;
use crate::units;

/// "✅ passed", "❌ 2 of 5 thresholds failed", or a plain state without thresholds.
pub fn outcome(doc: &ResultDoc) -> (bool, String) {
    let failed = doc.thresholds.iter().filter(|t| !t.passed).count();
    if doc.no_response() {
        (false, "no request got a response: is the target up?".into())
    } else if failed > 0 {
        (
            false,
            format!(
                "{failed} of {} threshold{} failed",
                doc.thresholds.len(),
                if doc.thresholds.len() == 1 { "" } else { "s" }
            ),
        )
    } else if !doc.thresholds.is_empty() {
        (
            true,
            format!(
                "all {} threshold{} passed",
                doc.thresholds.len(),
                if doc.thresholds.len() == 1 { "" } else { "s" }
            ),
        )
    } else if doc.partial {
        (true, "stopped early".into())
    } else {
        (true, "completed".into())
    }
}

fn endpoint_row<W: Write>(w: &mut W, s: &Stats, bold: bool) -> io::Result<()> {
    let b = |x: String| if bold { format!("**{x}**") } else { x };
    let l = &s.latency_ms;
    writeln!(
        w,
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        b(md_cell(&s.name)),
        md_cell(&s.method),
        b(units::count(s.requests)),
        b(units::rate(s.rps)),
        b(units::percent(s.error_rate)),
        b(l.shown(l.p50)),
        b(l.shown(l.p90)),
        b(l.shown(l.p95)),
        b(l.shown(l.p99)),
        b(l.shown(l.max)),
    )
}

/// Writes the Markdown summary; `baseline` adds the comparison section.
pub fn write_markdown<W: Write>(
    doc: &ResultDoc,
    w: &mut W,
    baseline: Option<&Comparison>,
) -> io::Result<()> {
    let (ok, outcome) = outcome(doc);
    let icon = if !ok {
        "❌"
    } else if doc.partial {
        "⚠️"
    } else {
        "✅"
    };
    writeln!(
        w,
        "## {icon} volley · {} — {outcome}",
        md_cell(&doc.scenario)
    )?;
    writeln!(w)?;
    let t = &doc.totals;
    writeln!(
        w,
        "`{}` · started {} · {}{} · {} max{}",
        doc.target,
        doc.started_at.replace('T', " "),
        units::secs(doc.duration_s),
        if (doc.duration_s - doc.run_time_s).abs() > 0.05 {
            format!(" ({} running)", units::secs(doc.run_time_s))
        } else {
            String::new()
        },
        units::vus(doc.vus_max.into()),
        if doc.partial {
            " · **stopped early**"
        } else {
            ""
        }
    )?;
    if !doc.overrides.is_empty() {
        let list: Vec<String> = doc
            .overrides
            .iter()
            .map(|a| format!("`{}`", a.replace('`', "'")))
            .collect();
        writeln!(w)?;
        writeln!(w, "Command-line overrides: {}", list.join(" "))?;
    }
    writeln!(w)?;
    writeln!(
        w,
        "| requests | rps | errors | p50 | p95 | p99 | max | received |"
    )?;
    writeln!(
        w,
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )?;
    writeln!(
        w,
        "| {} | {} | {} ({}) | {} | {} | {} | {} | {} |",
        units::count(t.requests),
        units::rate(t.rps),
        units::count(t.errors),
        units::percent(t.error_rate),
        t.latency_ms.shown(t.latency_ms.p50),
        t.latency_ms.shown(t.latency_ms.p95),
        t.latency_ms.shown(t.latency_ms.p99),
        t.latency_ms.shown(t.latency_ms.max),
        units::bytes(t.bytes_received as f64)
    )?;
    if let Some(g) = &doc.grade {
        writeln!(w)?;
        writeln!(w, "**Grade {}** ({:.0}/100)", md_cell(&g.letter), g.score)?;
        if !g.parts.is_empty() {
            writeln!(w)?;
            for p in &g.parts {
                writeln!(
                    w,
                    "- {}: {:.0}{}",
                    md_cell(&p.name),
                    p.score,
                    if p.detail.is_empty() {
                        String::new()
                    } else {
                        format!(" — {}", md_cell(&p.detail))
                    }
                )?;
            }
        }
    }
    if let Some(note) = doc.aborted_note() {
        writeln!(w)?;
        writeln!(w, "⚠️ {note}")?;
    }
    if t.retries.total > 0 {
        writeln!(w)?;
        writeln!(
            w,
            "{}{} attempts dropped by the server before any response were sent again ({}): the server got {} attempts",
            if t.dropped_share() > super::text::DROPPED_WARNING {
                "⚠️ "
            } else {
                ""
            },
            units::count(t.retries.total),
            md_cell(&super::text::map_line(&t.retries.by_reason)),
            units::count(t.requests + t.retries.total)
        )?;
    }
    if let Some(d) = doc.dropped_iterations.filter(|d| *d > 0) {
        writeln!(w)?;
        writeln!(
            w,
            "⚠️ {} iterations dropped (due, and no VU was free in time)",
            units::count(d)
        )?;
    }
    if !doc.thresholds.is_empty() {
        writeln!(w)?;
        writeln!(w, "### Thresholds")?;
        writeln!(w)?;
        writeln!(w, "| | threshold | on | value |")?;
        writeln!(w, "| --- | --- | --- | ---: |")?;
        for th in &doc.thresholds {
            writeln!(
                w,
                "| {} | `{}` | {} | {} |",
                if th.passed { "✅" } else { "❌" },
                th.expression.replace('`', "'"),
                md_cell(th.endpoint.as_deref().unwrap_or("all requests")),
                fmt_metric_value(&th.metric, th.value)
            )?;
        }
    }
    if !doc.checks.is_empty() {
        writeln!(w)?;
        writeln!(w, "### Checks")?;
        writeln!(w)?;
        writeln!(w, "| | check | endpoint | passed | failed |")?;
        writeln!(w, "| --- | --- | --- | ---: | ---: |")?;
        for c in &doc.checks {
            writeln!(
                w,
                "| {} | {} | {} | {} | {} |",
                if c.fails == 0 { "✅" } else { "❌" },
                md_cell(&c.name),
                md_cell(&c.endpoint),
                units::count(c.passes),
                units::count(c.fails)
            )?;
        }
    }
    writeln!(w)?;
    writeln!(w, "### Endpoints")?;
    writeln!(w)?;
    writeln!(
        w,
        "| endpoint | method | requests | rps | errors | p50 | p90 | p95 | p99 | max |"
    )?;
    writeln!(
        w,
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    )?;
    for s in &doc.endpoints {
        endpoint_row(w, s, false)?;
    }
    if doc.endpoints.len() > 1 {
        endpoint_row(w, &doc.totals, true)?;
    }
    let with_errors: Vec<&Stats> = doc
        .endpoints
        .iter()
        .filter(|e| !e.errors_by_kind.is_empty())
        .collect();
    if !t.status.is_empty() || !with_errors.is_empty() {
        writeln!(w)?;
        writeln!(w, "### Status codes and errors")?;
        writeln!(w)?;
        if !t.status.is_empty() {
            let codes: Vec<String> = t
                .status
                .iter()
                .map(|(k, v)| format!("`{k}` {}", units::count(*v)))
                .collect();
            writeln!(w, "- status: {}", codes.join(" · "))?;
        }
        for e in with_errors {
            let kinds: Vec<String> = e
                .errors_by_kind
                .iter()
                .map(|(k, v)| format!("`{k}` {}", units::count(*v)))
                .collect();
            writeln!(w, "- {}: {}", md_cell(&e.name), kinds.join(" · "))?;
        }
        if let Some(last) = t.recent_errors.last() {
            writeln!(
                w,
                "- last error at {}: `{}` {}",
                units::secs(last.t),
                last.kind,
                md_cell(&last.message)
            )?;
        }
    }
    super::target::write_resources_md(doc, w)?;
    let events: Vec<_> = doc.events.iter().filter(|e| e.kind.is_marked()).collect();
    if !events.is_empty() {
        writeln!(w)?;
        writeln!(w, "### Events")?;
        writeln!(w)?;
        for e in events {
            writeln!(
                w,
                "- {} `{}` {}",
                units::secs(e.t),
                md_cell(e.kind.as_str()),
                md_cell(&e.detail)
            )?;
        }
    }
    if let Some(c) = baseline {
        writeln!(w)?;
        write_comparison(c, w, "###")?;
    }
    writeln!(w)?;
    writeln!(
        w,
        "<sub>volley {} · result schema {}</sub>",
        md_cell(&doc.volley_version),
        doc.schema_version
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_where_nothing_answered_is_not_completed() {
        let mut doc: ResultDoc =
            serde_json::from_str(include_str!("../../tests/fixtures/results/current.json"))
                .unwrap();
        assert!(outcome(&doc).0, "the fixture got responses");
        doc.totals.status.clear();
        doc.thresholds.clear();
        doc.partial = false;
        let (ok, text) = outcome(&doc);
        assert!(!ok);
        assert_eq!(text, "no request got a response: is the target up?");
    }
}
