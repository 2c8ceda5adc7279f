//! Lines of the detail view for streamed responses (time to first byte, to the first
//! event, the gaps between events) and WebSocket sessions (messages, expect latency,
//! close codes). Nothing when the endpoint has neither.

use hdrhistogram::Histogram;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::metrics::EndpointStats;
use crate::ui::theme::Theme;
use crate::units;

fn ms_at(h: &Histogram<u64>, q: f64) -> String {
    if h.is_empty() {
        "-".into()
    } else {
        units::ms(h.value_at_quantile(q) as f64 / 1000.0)
    }
}

/// `label p50 X p95 Y p99 Z` of a histogram in microseconds.
fn percentiles<'a>(t: &Theme, label: &'static str, h: &Histogram<u64>) -> Line<'a> {
    Line::from(vec![
        Span::styled(label, t.muted()),
        Span::styled(ms_at(h, 0.5), t.fg(t.p50)),
        Span::styled(" p95 ", t.muted()),
        Span::styled(ms_at(h, 0.95), t.fg(t.p95)),
        Span::styled(" p99 ", t.muted()),
        Span::styled(ms_at(h, 0.99), t.fg(t.p99)),
    ])
}

fn counts<'a>(t: &Theme, parts: &[(&'static str, String, Style)]) -> Line<'a> {
    Line::from(
        parts
            .iter()
            .flat_map(|(label, v, style)| {
                [
                    Span::styled(*label, t.muted()),
                    Span::styled(v.clone(), *style),
                ]
            })
            .collect::<Vec<_>>(),
    )
}

/// The endpoint's stream and WebSocket lines, each group after a blank line.
pub fn lines<'a>(t: &Theme, ep: &EndpointStats) -> Vec<Line<'a>> {
    let mut out = Vec::new();
    if let Some(s) = ep.stream.as_deref().filter(|s| !s.is_empty()) {
        out.push(Line::from(""));
        out.push(counts(
            t,
            &[
                ("streams ", units::count(s.responses), t.text()),
                ("  events ", units::count(s.events), t.text()),
            ],
        ));
        out.push(percentiles(t, "ttfb p50 ", &s.ttfb));
        out.push(percentiles(t, "1st ev p50 ", &s.first_event));
        out.push(percentiles(t, "gap p50 ", &s.gap));
    }
    if let Some(w) = ep.ws.as_deref().filter(|w| !w.is_empty()) {
        out.push(Line::from(""));
        out.push(counts(
            t,
            &[
                ("msgs sent ", units::count(w.sent), t.text()),
                ("  recv ", units::count(w.received), t.text()),
            ],
        ));
        out.push(counts(
            t,
            &[
                ("conns opened ", units::count(w.opened), t.text()),
                ("  closed ", units::count(w.closed), t.text()),
            ],
        ));
        out.push(percentiles(t, "handshake p50 ", &w.handshake));
        out.push(percentiles(t, "expect p50 ", &w.expect));
        let e = w.echo_counts;
        if e.sent > 0 {
            let bad = |n: u64| if n > 0 { t.bad() } else { t.text() };
            out.push(counts(
                t,
                &[
                    ("echoes ", units::count(e.echoed), t.text()),
                    ("  timeout ", units::count(e.timeouts), bad(e.timeouts)),
                    ("  lost ", units::count(e.lost), bad(e.lost)),
                ],
            ));
            out.push(percentiles(t, "echo p50 ", &w.echo));
        }
        let mut codes = w.close_codes.clone();
        codes.sort_unstable();
        for (code, n) in codes {
            let style = if matches!(code, 1000 | 1001) {
                t.fg(t.ok)
            } else {
                t.bad()
            };
            out.push(counts(
                t,
                &[
                    ("close ", code.to_string(), style),
                    (" ", units::count(n), t.text()),
                ],
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{StreamHists, StreamSample, WsSample, WsStats};

    fn text(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn streams_and_sockets_get_their_lines_others_none() {
        let t = Theme::default_theme();
        let mut ep = EndpointStats::new("tokens", "GET");
        assert!(lines(&t, &ep).is_empty());
        let mut s = StreamHists::default();
        s.record(&StreamSample {
            ttfb_us: Some(40_000),
            first_event_us: Some(41_000),
            gaps_us: vec![8_000, 8_000],
            events: 3,
            duration_us: 60_000,
        });
        ep.stream = Some(std::sync::Arc::new(s));
        let mut w = WsStats::default();
        w.record(&WsSample {
            handshake_us: Some(1_000),
            opened: true,
            closed: true,
            close_code: Some(1011),
            sent: 2,
            received: 1,
            expect_us: vec![3_000],
            ..WsSample::default()
        });
        ep.ws = Some(std::sync::Arc::new(w));
        let got = text(&lines(&t, &ep));
        assert_eq!(got[1], "streams 1  events 3");
        assert!(got[2].starts_with("ttfb p50 40.0ms"), "{got:?}");
        assert!(got[4].starts_with("gap p50 8.00ms"), "{got:?}");
        assert_eq!(got[6], "msgs sent 2  recv 1");
        assert!(got[9].starts_with("expect p50 3.00ms"), "{got:?}");
        assert_eq!(got[10], "close 1011 1");
    }
}
