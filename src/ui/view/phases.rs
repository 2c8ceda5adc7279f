//! The phase breakdown of one endpoint in the detail view: a stacked bar of where an
//! average request's time went (each phase's mean spread over all the timed requests,
//! so a connect one request in ten made counts a tenth), and the p50, p95 and p99 of
//! each phase measured.

use hdrhistogram::Histogram;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::metrics::PhaseHists;
use crate::ui::theme::Theme;
use crate::units;

/// The phase breakdown widget (no border: the caller puts it in a panel).
pub struct PhaseBreakdown<'a> {
    /// The endpoint's phase histograms (microseconds).
    pub phases: &'a PhaseHists,
    /// Colours.
    pub theme: &'a Theme,
}

/// Parts of the bar: name, short legend name, and colour.
fn parts(t: &Theme) -> [(&'static str, &'static str, Color); 5] {
    [
        ("dns", "dns", t.muted),
        ("connect", "conn", t.p50),
        ("tls", "tls", t.accent),
        ("ttfb", "ttfb", t.p95),
        ("receive", "recv", t.ok),
    ]
}

impl PhaseBreakdown<'_> {
    /// Each part's share of an average request, microseconds: `dns`, `connect`, `tls`,
    /// `ttfb`, `receive` (`send` is inside `ttfb`).
    pub fn shares(&self) -> [f64; 5] {
        let p = self.phases;
        let n = p.total.len().max(1) as f64;
        let part = |h: &Histogram<u64>| h.mean() * h.len() as f64 / n;
        [
            part(&p.dns),
            part(&p.connect),
            part(&p.tls),
            part(&p.ttfb),
            part(&p.receive),
        ]
    }

    /// Cells of the bar per part over `width`, rounded so that they add up to the width
    /// (largest remainders).
    fn cells(&self, width: u16) -> [u16; 5] {
        let shares = self.shares();
        let sum: f64 = shares.iter().sum();
        let mut out = [0u16; 5];
        if sum <= 0.0 || width == 0 {
            return out;
        }
        let exact: Vec<f64> = shares.iter().map(|s| s / sum * width as f64).collect();
        for (o, e) in out.iter_mut().zip(&exact) {
            *o = e.floor() as u16;
        }
        let mut left = width - out.iter().sum::<u16>();
        let mut order: Vec<usize> = (0..5).collect();
        order.sort_by(|&a, &b| {
            (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor()))
        });
        for i in order {
            if left == 0 {
                break;
            }
            if exact[i] > 0.0 {
                out[i] += 1;
                left -= 1;
            }
        }
        out
    }

    /// The lines, for an area `width` cells wide and `height` high: when not every
    /// phase fits, `ttfb`, `receive`, `total`, `connect`, `tls`, `dns` and `send` are
    /// kept in that order (and shown in the order a request goes through them).
    pub fn lines(&self, width: u16, height: u16) -> Vec<Line<'static>> {
        let t = self.theme;
        let p = self.phases;
        let mut bar = Vec::new();
        for ((_, _, colour), n) in parts(t).into_iter().zip(self.cells(width)) {
            if n > 0 {
                bar.push(Span::styled("█".repeat(n as usize), t.fg(colour)));
            }
        }
        let mut legend = Vec::new();
        for ((_, short, colour), share) in parts(t).into_iter().zip(self.shares()) {
            if share > 0.0 {
                legend.push(Span::styled("■", t.fg(colour)));
                legend.push(Span::styled(format!("{short} "), t.muted()));
            }
        }
        let mut out = vec![Line::from(bar), Line::from(legend)];
        let ms = |h: &Histogram<u64>, q: f64| units::ms(h.value_at_quantile(q) as f64 / 1000.0);
        out.push(Line::from(Span::styled(
            format!("{:<8}{:>9}{:>9}{:>9}", "phase", "p50", "p95", "p99"),
            t.muted(),
        )));
        // (name, histogram, colour, rank: the rows a short area keeps, lowest first).
        let rows = [
            ("dns", &p.dns, t.muted, 5),
            ("connect", &p.connect, t.p50, 3),
            ("tls", &p.tls, t.accent, 4),
            ("send", &p.send, t.text, 6),
            ("ttfb", &p.ttfb, t.p95, 0),
            ("receive", &p.receive, t.ok, 1),
            ("total", &p.total, t.text, 2),
        ];
        let mut ranks: Vec<u8> = rows
            .iter()
            .filter(|r| !r.1.is_empty())
            .map(|r| r.3)
            .collect();
        ranks.sort_unstable();
        let room = (height as usize).saturating_sub(out.len());
        let cut = ranks.get(room).copied().unwrap_or(u8::MAX);
        for (name, h, colour, _) in rows
            .into_iter()
            .filter(|(_, h, _, rank)| !h.is_empty() && *rank < cut)
        {
            out.push(Line::from(vec![
                Span::styled(format!("{name:<8}"), t.fg(colour)),
                Span::styled(
                    format!("{:>9}{:>9}{:>9}", ms(h, 0.5), ms(h, 0.95), ms(h, 0.99)),
                    Style::default().fg(t.text),
                ),
            ]));
        }
        out
    }
}

impl Widget for PhaseBreakdown<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        Paragraph::new(self.lines(area.width, area.height)).render(area, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::new_histogram;

    fn hist(values: &[(u64, u64)]) -> Histogram<u64> {
        let mut h = new_histogram();
        for &(v, n) in values {
            h.record_n(v, n).unwrap();
        }
        h
    }

    /// 10 requests: 1 opened a connection (1 ms), each waited 6 ms and read for 2 ms.
    fn phases() -> PhaseHists {
        PhaseHists {
            connect: hist(&[(1_000, 1)]),
            send: hist(&[(20, 10)]),
            ttfb: hist(&[(5_000, 5), (7_000, 5)]),
            receive: hist(&[(2_000, 10)]),
            total: hist(&[(8_000, 10)]),
            ..Default::default()
        }
    }

    fn symbols(buf: &Buffer) -> Vec<String> {
        (0..buf.area.height)
            .map(|y| {
                (0..buf.area.width)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
            })
            .collect()
    }

    #[test]
    fn renders_the_bar_legend_and_percentiles() {
        let theme = Theme::default_theme();
        let p = phases();
        let w = PhaseBreakdown {
            phases: &p,
            theme: &theme,
        };
        assert_eq!(w.cells(36), [0, 0, 0, 27, 9]);
        let mut buf = Buffer::empty(Rect::new(0, 0, 36, 8));
        w.render(buf.area, &mut buf);
        // connect 0.1 ms, ttfb 6 ms, receive 2 ms per request: 36 cells -> 0 + 27 + 9.
        let expected = Buffer::with_lines([
            "████████████████████████████████████",
            "■conn ■ttfb ■recv                   ",
            "phase         p50      p95      p99 ",
            "connect    1.00ms   1.00ms   1.00ms ",
            "send         20µs     20µs     20µs ",
            "ttfb       5.00ms   7.00ms   7.00ms ",
            "receive    2.00ms   2.00ms   2.00ms ",
            "total      8.00ms   8.00ms   8.00ms ",
        ]);
        assert_eq!(symbols(&buf), symbols(&expected));
        // The bar's colours are the parts'.
        assert_eq!(buf[(0, 0)].fg, theme.p95);
        assert_eq!(buf[(35, 0)].fg, theme.ok);
    }

    #[test]
    fn a_short_area_keeps_the_waiting_and_receiving_rows() {
        let theme = Theme::default_theme();
        let mut p = phases();
        p.dns = hist(&[(300, 1)]);
        let w = PhaseBreakdown {
            phases: &p,
            theme: &theme,
        };
        let names = |height| -> Vec<String> {
            w.lines(36, height)[3..]
                .iter()
                .map(|l| l.spans[0].content.trim().to_string())
                .collect()
        };
        assert_eq!(names(5), ["ttfb", "receive"]);
        assert_eq!(names(7), ["connect", "ttfb", "receive", "total"]);
        assert_eq!(
            names(20),
            ["dns", "connect", "send", "ttfb", "receive", "total"]
        );
    }

    #[test]
    fn cells_add_up_to_the_width() {
        let theme = Theme::default_theme();
        let p = phases();
        let w = PhaseBreakdown {
            phases: &p,
            theme: &theme,
        };
        for width in [1, 7, 13, 40, 46, 79] {
            assert_eq!(w.cells(width).iter().sum::<u16>(), width, "{width}");
        }
        let none = PhaseHists::default();
        let w = PhaseBreakdown {
            phases: &none,
            theme: &theme,
        };
        assert_eq!(w.cells(40), [0; 5]);
    }
}
