//! The timings card: per-phase timings (a stacked bar of where an average request's time
//! went, and each phase's percentiles), streamed responses (TTFB, first event, gaps) and
//! WebSocket sessions, for the endpoints that have them. Absent when none has.

use std::fmt::Write as _;

use super::{esc, table_end, table_start, LEFT};
use crate::report::{Latency, PhasesMs, ResultDoc, Stats, StreamDoc, WsDoc};
use crate::units;

/// The colour of each part of the stacked phase bar.
const PART_COLOURS: [(&str, &str); 5] = [
    ("dns", "#94a3b8"),
    ("connect", "#0891b2"),
    ("tls", "#6366f1"),
    ("ttfb", "#f59e0b"),
    ("receive", "#15803d"),
];

/// Picks one value of a latency.
type Pick = fn(&Latency) -> f64;

/// The percentile columns of the timing tables.
const PERCENTILES: [(&str, Pick); 5] = [
    ("p50", |l| l.p50),
    ("p90", |l| l.p90),
    ("p95", |l| l.p95),
    ("p99", |l| l.p99),
    ("max", |l| l.max),
];

/// The endpoints (and the total, when there are several) that `has` something.
fn rows<'a, T>(
    doc: &'a ResultDoc,
    has: impl Fn(&'a Stats) -> Option<&'a T>,
) -> Vec<(&'a str, &'a T)> {
    let mut out: Vec<(&str, &T)> = doc
        .endpoints
        .iter()
        .filter_map(|s| has(s).map(|t| (s.name.as_str(), t)))
        .collect();
    if doc.endpoints.len() > 1 && !out.is_empty() {
        if let Some(t) = has(&doc.totals) {
            out.push(("total", t));
        }
    }
    out
}

/// The card, when any endpoint has phases, streams or WebSocket sessions.
pub(super) fn section(doc: &ResultDoc, o: &mut String) {
    let phases = rows(doc, |s| s.phases_ms.as_ref());
    let streams = rows(doc, |s| s.stream.as_ref());
    let ws = rows(doc, |s| s.ws.as_ref());
    if phases.is_empty() && streams.is_empty() && ws.is_empty() {
        return;
    }
    o.push_str(r#"<section class="card" id="timings"><h2>Timings</h2>"#);
    if !phases.is_empty() {
        phase_tables(&phases, o);
    }
    if !streams.is_empty() {
        stream_table(&streams, o);
    }
    if !ws.is_empty() {
        ws_table(&ws, o);
    }
    o.push_str("</section>");
}

/// One latency's percentile cells.
fn percentile_cells(o: &mut String, l: Option<&Latency>) {
    for (_, v) in PERCENTILES {
        match l {
            Some(l) if l.count > 0 => {
                let v = v(l);
                let _ = write!(o, r#"<td data-v="{v}">{}</td>"#, units::ms(v));
            }
            _ => o.push_str(r#"<td class="dim">–</td>"#),
        }
    }
}

fn phase_tables(rows: &[(&str, &PhasesMs)], o: &mut String) {
    o.push_str(r#"<h3>Phases</h3><div class="legend">"#);
    for (name, colour) in PART_COLOURS {
        let _ = write!(
            o,
            r#"<span><i style="background:{colour}"></i>{name}</span>"#
        );
    }
    o.push_str("</div>");
    let columns: Vec<(&str, bool)> = [("endpoint", LEFT), ("phase", LEFT), ("count", !LEFT)]
        .into_iter()
        .chain(PERCENTILES.iter().map(|(h, _)| (*h, !LEFT)))
        .collect();
    table_start(o, r#" class="phases""#, &columns);
    for (name, p) in rows {
        let parts = p.breakdown();
        let sum: f64 = parts.iter().map(|(_, v)| v).sum();
        let _ = write!(
            o,
            r#"<tr data-phases="{}"><td class="l name" colspan="{}"><b>{}</b> <span class="note">mean {}: "#,
            esc(name),
            3 + PERCENTILES.len(),
            esc(name),
            units::ms(p.total.mean)
        );
        let shown: Vec<String> = parts
            .iter()
            .filter(|(_, v)| *v > 0.0)
            .map(|(n, v)| format!("{n} {}", units::ms(*v)))
            .collect();
        o.push_str(&shown.join(" · "));
        o.push_str(r#"</span><div class="bar stack">"#);
        for ((part, v), (_, colour)) in parts.iter().zip(PART_COLOURS) {
            if sum > 0.0 && *v > 0.0 {
                let _ = write!(
                    o,
                    r#"<b title="{part} {}" style="width:{:.2}%;background:{colour}"></b>"#,
                    units::ms(*v),
                    v / sum * 100.0
                );
            }
        }
        o.push_str("</div></td></tr>");
        for (phase, l) in p.named() {
            let _ = write!(
                o,
                r#"<tr data-phase="{phase}"><td class="l dim">{}</td><td class="l">{phase}</td><td>{}</td>"#,
                esc(name),
                units::count(l.count)
            );
            percentile_cells(o, Some(l));
            o.push_str("</tr>");
        }
    }
    table_end(o);
    o.push_str(r#"<p class="note">Phases of the requests whose client times them: the bar spreads each phase's mean over all of them (a connect one request in ten made counts a tenth). <code>ttfb</code> runs from starting to write the request (so <code>send</code> is inside it) to the first response byte.</p>"#);
}

fn stream_table(rows: &[(&str, &StreamDoc)], o: &mut String) {
    o.push_str("<h3>Streamed responses</h3>");
    let mut columns: Vec<(&str, bool)> = vec![
        ("endpoint", LEFT),
        ("timing", LEFT),
        ("responses", !LEFT),
        ("events", !LEFT),
    ];
    columns.extend(PERCENTILES.iter().map(|(h, _)| (*h, !LEFT)));
    table_start(o, r#" class="streams""#, &columns);
    for (name, s) in rows {
        let timings = [
            ("ttfb", s.ttfb_ms.as_ref()),
            ("first event", s.first_event_ms.as_ref()),
            ("gap", s.gap_ms.as_ref()),
            ("duration", Some(&s.duration_ms)),
        ];
        for (i, (what, l)) in timings.into_iter().enumerate() {
            let (responses, events) = if i == 0 {
                (units::count(s.responses), units::count(s.events))
            } else {
                (String::new(), String::new())
            };
            let _ = write!(
                o,
                r#"<tr data-stream="{}"><td class="l{}">{}</td><td class="l">{what}</td><td>{responses}</td><td>{events}</td>"#,
                esc(name),
                if i == 0 { " name" } else { " dim" },
                esc(name)
            );
            percentile_cells(o, l);
            o.push_str("</tr>");
        }
    }
    table_end(o);
}

fn ws_table(rows: &[(&str, &WsDoc)], o: &mut String) {
    o.push_str("<h3>WebSocket</h3>");
    let columns: Vec<(&str, bool)> = [
        ("endpoint", LEFT),
        ("sessions", !LEFT),
        ("opened", !LEFT),
        ("closed", !LEFT),
        ("sent", !LEFT),
        ("received", !LEFT),
        ("bytes in", !LEFT),
        ("handshake p50", !LEFT),
        ("handshake p99", !LEFT),
        ("expect p50", !LEFT),
        ("expect p95", !LEFT),
        ("expect p99", !LEFT),
    ]
    .into();
    // Echo columns only when an endpoint has `echo` steps.
    let echo = rows.iter().any(|(_, w)| w.echo.is_some());
    let mut columns = columns;
    if echo {
        columns.extend([
            ("echo p50", !LEFT),
            ("echo p95", !LEFT),
            ("echo p99", !LEFT),
            ("echo timeouts", !LEFT),
            ("echo lost", !LEFT),
        ]);
    }
    columns.push(("close codes", LEFT));
    table_start(o, r#" class="ws""#, &columns);
    for (name, w) in rows {
        let _ = write!(
            o,
            r#"<tr data-ws="{}"><td class="l name">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"#,
            esc(name),
            esc(name),
            units::count(w.sessions),
            units::count(w.connections_opened),
            units::count(w.connections_closed),
            units::count(w.messages_sent),
            units::count(w.messages_received),
            units::bytes(w.bytes_received as f64)
        );
        let cell =
            |l: Option<&Latency>, v: Pick| l.map_or(units::NONE.to_string(), |l| units::ms(v(l)));
        let (h, e) = (w.handshake_ms.as_ref(), w.expect_ms.as_ref());
        for text in [
            cell(h, |l| l.p50),
            cell(h, |l| l.p99),
            cell(e, |l| l.p50),
            cell(e, |l| l.p95),
            cell(e, |l| l.p99),
        ] {
            let _ = write!(o, "<td>{text}</td>");
        }
        if echo {
            let l = w.echo_ms.as_ref();
            let count = |v: Option<u64>| v.map_or(units::NONE.to_string(), units::count);
            for text in [
                cell(l, |l| l.p50),
                cell(l, |l| l.p95),
                cell(l, |l| l.p99),
                count(w.echo.map(|e| e.timeouts)),
                count(w.echo.map(|e| e.lost)),
            ] {
                let _ = write!(o, "<td>{text}</td>");
            }
        }
        let codes: Vec<String> = w
            .close_codes
            .iter()
            .map(|(c, n)| format!("{}×{}", esc(c), units::count(*n)))
            .collect();
        let _ = write!(o, r#"<td class="l">{}</td></tr>"#, codes.join(" "));
    }
    table_end(o);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::parse_doc;

    fn lat(base: f64, count: u64) -> Latency {
        Latency {
            min: base,
            mean: base * 1.2,
            p50: base * 1.1,
            p90: base * 1.5,
            p95: base * 1.8,
            p99: base * 2.5,
            p999: base * 3.0,
            p9999: base * 3.0,
            max: base * 4.0,
            stdev: base / 4.0,
            count,
        }
    }

    fn timed_doc() -> ResultDoc {
        let mut doc = parse_doc(include_str!("../../../tests/fixtures/results/current.json"))
            .expect("parses");
        doc.endpoints.truncate(2);
        doc.endpoints[0].name = "login".into();
        doc.endpoints[0].phases_ms = Some(PhasesMs {
            dns: Some(lat(0.4, 10)),
            connect: Some(lat(0.2, 10)),
            tls: None,
            send: Some(lat(0.01, 100)),
            ttfb: lat(12.0, 100),
            receive: lat(1.0, 100),
            total: lat(13.5, 100),
            hdr: Default::default(),
        });
        doc.endpoints[1].name = "tokens".into();
        doc.endpoints[1].stream = Some(StreamDoc {
            responses: 40,
            events: 1_200,
            ttfb_ms: Some(lat(80.0, 40)),
            first_event_ms: Some(lat(85.0, 40)),
            gap_ms: Some(lat(15.0, 1_160)),
            events_per_response: lat(30.0, 40),
            duration_ms: lat(520.0, 40),
        });
        doc.endpoints[1].ws = Some(WsDoc {
            sessions: 5,
            connections_opened: 5,
            connections_closed: 4,
            messages_sent: 50,
            messages_received: 49,
            bytes_sent: 2_000,
            bytes_received: 1_960,
            close_codes: [("1000".to_string(), 4), ("1011".to_string(), 1)].into(),
            handshake_ms: Some(lat(0.8, 5)),
            expect_ms: Some(lat(2.0, 49)),
            echo: None,
            echo_ms: None,
        });
        doc
    }

    #[test]
    fn the_websocket_table_has_echo_columns_when_there_are_echoes() {
        let mut doc = timed_doc();
        let ws = doc.endpoints[1].ws.as_mut().unwrap();
        ws.echo = Some(crate::report::EchoDoc {
            sent: 1_000,
            echoed: 990,
            timeouts: 7,
            lost: 3,
        });
        ws.echo_ms = Some(lat(1.5, 990));
        let mut o = String::new();
        section(&doc, &mut o);
        let table = &o[o.find("<h3>WebSocket").unwrap()..];
        for want in [
            "echo p95",
            "echo timeouts",
            "echo lost",
            ">1.65ms<",
            ">7<",
            ">3<",
        ] {
            assert!(table.contains(want), "{want}: {table}");
        }
        // Without echoes, no echo columns.
        let mut o = String::new();
        section(&timed_doc(), &mut o);
        assert!(!o.contains("echo p95"));
    }

    #[test]
    fn the_timings_card() {
        let mut o = String::new();
        section(&timed_doc(), &mut o);
        insta::assert_snapshot!(o.replace("<tr", "\n<tr").replace("<h3", "\n<h3"));
    }

    #[test]
    fn the_bar_spreads_connections_over_requests() {
        let doc = timed_doc();
        let parts = doc.endpoints[0].phases_ms.as_ref().unwrap().breakdown();
        // dns: mean 0.48 ms over 10 of 100 requests.
        assert_eq!(parts[0], ("dns", 0.48 * 10.0 / 100.0));
        assert_eq!(parts[3], ("ttfb", 12.0 * 1.2));
        let mut o = String::new();
        section(&doc, &mut o);
        let sum: f64 = parts.iter().map(|p| p.1).sum();
        assert!(
            o.contains(&format!("width:{:.2}%", 12.0 * 1.2 / sum * 100.0)),
            "{o}"
        );
    }

    #[test]
    fn no_card_without_timings() {
        let mut doc = timed_doc();
        for e in &mut doc.endpoints {
            (e.phases_ms, e.stream, e.ws) = (None, None, None);
        }
        let mut o = String::new();
        section(&doc, &mut o);
        assert_eq!(o, "");
    }
}
