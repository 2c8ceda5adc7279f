//! The comparison with a baseline (`--baseline`).

use std::fmt::Write as _;

use super::{esc, table_end, table_start, LEFT};
use crate::report::compare::{started_utc, Comparison, Metric, Verdict};
use crate::units;

/// The comparison card: per endpoint and metric, this run's value, the change and the
/// baseline's value, coloured by verdict; then what was ignored as noise and what is on
/// one side only.
pub(super) fn section(c: &Comparison, out: &mut String) {
    let _ = write!(
        out,
        r#"<section class="card" id="comparison"><h2>Compared with the baseline <small>{}</small></h2>"#,
        esc(&c.summary())
    );
    let _ = write!(
        out,
        r#"<p class="note" style="margin:0 0 12px">baseline <b>{}</b> · started {} · {} · {} requests (this run: {}){}. Each cell shows this run's value, the change, and the baseline's value.</p>"#,
        esc(&c.baseline.scenario),
        esc(&started_utc(&c.baseline.started_at)),
        units::secs(c.baseline.duration_s),
        units::count(c.baseline.requests),
        units::count(c.current.requests),
        if c.baseline.file.is_empty() {
            String::new()
        } else {
            format!(" · <code>{}</code>", esc(&c.baseline.file))
        }
    );
    let columns: Vec<(&str, bool)> = [("endpoint", LEFT)]
        .into_iter()
        .chain(
            Metric::ALL
                .into_iter()
                .filter(|m| *m != Metric::Requests)
                .map(|m| (m.label(), !LEFT)),
        )
        .collect();
    table_start(out, r#" class="cmp""#, &columns);
    let mut i = 0;
    while i < c.rows.len() {
        let scope = &c.rows[i].scope;
        let _ = write!(
            out,
            r#"<tr{}><td class="l name">{}</td>"#,
            if i == 0 { r#" class="first""# } else { "" },
            esc(scope)
        );
        while i < c.rows.len() && &c.rows[i].scope == scope {
            let r = &c.rows[i];
            i += 1;
            if r.metric == Metric::Requests {
                continue;
            }
            let class = match r.verdict {
                Verdict::Better => "better",
                Verdict::Worse => "worse",
                Verdict::Same => "same",
                Verdict::Info => "info",
                Verdict::Noise => "noise",
            };
            let _ = write!(
                out,
                r#"<td class="{class}" data-scope="{}" data-metric="{}" data-verdict="{class}" title="baseline {} → {}{}"><div class="v">{}</div><div class="d">{} <span>was {}</span></div></td>"#,
                esc(&r.scope),
                r.metric.label(),
                esc(&r.metric.fmt(r.baseline)),
                esc(&r.metric.fmt(r.current)),
                r.ignored
                    .as_deref()
                    .map(|why| format!(" (noise: {})", esc(why)))
                    .unwrap_or_default(),
                esc(&r.metric.fmt(r.current)),
                esc(&r.change_text()),
                esc(&r.metric.fmt(r.baseline)),
            );
        }
        out.push_str("</tr>");
    }
    table_end(out);
    out.push_str(r#"<div class="legend" style="margin-top:10px"><span><i class="box" style="background:#fbd5d5"></i>worse</span><span><i class="box" style="background:#cdeed9"></i>better</span><span><i class="box" style="background:#e9ecf0"></i>the same, within the tolerance</span><span><i class="box" style="background:#fff;border:1px solid #d5dae1"></i>noise: too small to judge</span></div>"#);
    let ignored = c.ignored_lines();
    if !ignored.is_empty() {
        out.push_str(r#"<p class="note" id="ignored">Ignored as noise (not judged, never a regression):</p><ul class="note">"#);
        for line in &ignored {
            let _ = write!(out, "<li>{}</li>", esc(line));
        }
        out.push_str("</ul>");
    }
    if !c.only_in_baseline.is_empty() {
        let _ = write!(
            out,
            r#"<p class="note">Only in the baseline: {}</p>"#,
            esc(&c.only_in_baseline.join(", "))
        );
    }
    if !c.only_in_current.is_empty() {
        let _ = write!(
            out,
            r#"<p class="note">Only in this run: {}</p>"#,
            esc(&c.only_in_current.join(", "))
        );
    }
    out.push_str("</section>");
}
