//! The result document's `monitor` section: the target's resources a second (from
//! `[monitor]` or `--monitor`), with min/avg/max per series.

use serde::{Deserialize, Serialize};

use super::generator::MinAvgMax;
use crate::monitor::TargetSeries;
use crate::units;

/// `monitor` in the result document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Monitor {
    /// The metrics URL, `pid:N` or `process:NAME`.
    pub source: String,
    /// Series names, in the order of each row's `values`.
    pub series: Vec<String>,
    /// Per series: min/avg/max over the seconds it was read (absent when never read).
    pub summary: Vec<Option<MinAvgMax>>,
    /// Seconds whose scrape failed (their values are `null`).
    pub failures: u64,
    /// One row a second, `t` as in `timeline`.
    pub rows: Vec<MonitorRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorRow {
    pub t: u64,
    pub values: Vec<Option<f64>>,
}

impl Monitor {
    pub fn of(s: &TargetSeries) -> Monitor {
        let summary = (0..s.names.len())
            .map(|i| {
                let vals: Vec<f64> = s
                    .samples
                    .iter()
                    .filter_map(|r| r.values.get(i).copied().flatten())
                    .collect();
                (!vals.is_empty()).then(|| MinAvgMax::of(vals.into_iter()))
            })
            .collect();
        Monitor {
            source: s.source.clone(),
            series: s.names.clone(),
            summary,
            failures: s.failures,
            rows: s
                .samples
                .iter()
                .map(|r| MonitorRow {
                    t: r.t,
                    values: r.values.clone(),
                })
                .collect(),
        }
    }

    /// A value of series `name` for people: `cpu_busy` and `*_pct` as percentages, bytes
    /// as bytes, anything else as a number.
    pub fn format(name: &str, v: f64) -> String {
        if name == "cpu_busy" {
            units::percent_with(v, 1)
        } else if name.ends_with("_pct") {
            format!("{}%", units::number(v, 1))
        } else if name.contains("bytes") {
            if name.ends_with("_total") {
                units::bytes_per_s(v)
            } else {
                units::bytes(v)
            }
        } else if v.abs() >= 100.0 {
            units::number(v, 0)
        } else {
            units::number(v, 2)
        }
    }

    /// Summary lines: `cpu_busy  min 12.0%  avg 40.2%  max 71.3%`.
    pub fn summary_lines(&self) -> Vec<String> {
        let width = self
            .series
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(0);
        self.series
            .iter()
            .zip(&self.summary)
            .map(|(name, s)| match s {
                Some(m) => format!(
                    "{name:<width$}  min {}  avg {}  max {}",
                    Monitor::format(name, m.min),
                    Monitor::format(name, m.avg),
                    Monitor::format(name, m.max)
                ),
                None => format!("{name:<width$}  {} (never read)", units::NONE),
            })
            .collect()
    }
}

/// The Markdown summary's resources table: the generator's own figures and the target's
/// series, min/avg/max over the run (nothing when the run has neither).
pub fn write_resources_md<W: std::io::Write>(
    doc: &super::ResultDoc,
    w: &mut W,
) -> std::io::Result<()> {
    let mut rows: Vec<[String; 4]> = Vec::new();
    if let Some(g) = &doc.generator {
        let s = &g.summary;
        let cores = crate::metrics::generator::cores(g.capacity_cores);
        let share = |v: f64| units::percent_with(v, 0);
        let row = |name: String, m: &MinAvgMax, f: &dyn Fn(f64) -> String| {
            [name, f(m.min), f(m.avg), f(m.max)]
        };
        rows.push(row(
            format!("volley CPU (of its {cores})"),
            &s.cpu_share,
            &share,
        ));
        rows.push(row("volley RSS".into(), &s.rss_bytes, &units::bytes));
        rows.push(row(
            "volley event-loop lag p99".into(),
            &s.lag_p99_ms,
            &units::ms,
        ));
    }
    if let Some(m) = &doc.monitor {
        for (name, s) in m.series.iter().zip(&m.summary) {
            let label = format!("target `{}`", name.replace('`', "'"));
            rows.push(match s {
                Some(s) => [
                    label,
                    Monitor::format(name, s.min),
                    Monitor::format(name, s.avg),
                    Monitor::format(name, s.max),
                ],
                None => [
                    label,
                    units::NONE.into(),
                    units::NONE.into(),
                    units::NONE.into(),
                ],
            });
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    writeln!(w)?;
    writeln!(w, "### Resources")?;
    writeln!(w)?;
    if let Some(reason) = doc.generator.as_ref().and_then(|g| g.reason.as_deref()) {
        writeln!(w, "⚠️ {} ({reason})", super::generator::BOTTLENECK_BANNER)?;
        writeln!(w)?;
    }
    writeln!(w, "| | min | avg | max |")?;
    writeln!(w, "| --- | ---: | ---: | ---: |")?;
    for [name, min, avg, max] in rows {
        writeln!(w, "| {name} | {min} | {avg} | {max} |")?;
    }
    if let Some(m) = doc.monitor.as_ref().filter(|m| m.failures > 0) {
        writeln!(w)?;
        writeln!(
            w,
            "{} failed scrapes of {}",
            units::count(m.failures),
            m.source
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::TargetSample;

    #[test]
    fn summary_skips_missing_seconds() {
        let s = TargetSeries {
            source: "pid:1".into(),
            names: vec!["cpu_pct".into(), "rss_bytes".into(), "ghost".into()],
            samples: vec![
                TargetSample {
                    t: 0,
                    values: vec![None, Some(1e6), None],
                },
                TargetSample {
                    t: 1,
                    values: vec![Some(10.0), Some(3e6), None],
                },
                TargetSample {
                    t: 2,
                    values: vec![Some(30.0), None, None],
                },
            ],
            failures: 0,
        };
        let m = Monitor::of(&s);
        assert_eq!(
            m.summary[0],
            Some(MinAvgMax {
                min: 10.0,
                avg: 20.0,
                max: 30.0
            })
        );
        assert_eq!(m.summary[2], None);
        let lines = m.summary_lines();
        assert_eq!(lines[0], "cpu_pct    min 10.0%  avg 20.0%  max 30.0%");
        assert_eq!(lines[1], "rss_bytes  min 1.0 MB  avg 2.0 MB  max 3.0 MB");
        assert!(lines[2].contains("never read"), "{}", lines[2]);

        let mut doc =
            crate::report::parse_doc(include_str!("../../tests/fixtures/results/current.json"))
                .expect("fixture");
        let mut none = Vec::new();
        write_resources_md(&doc, &mut none).expect("writes");
        assert!(none.is_empty(), "no generator, no monitor: no section");
        doc.monitor = Some(m);
        let mut md = Vec::new();
        write_resources_md(&doc, &mut md).expect("writes");
        let md = String::from_utf8(md).expect("utf-8");
        assert!(
            md.contains("| target `cpu_pct` | 10.0% | 20.0% | 30.0% |"),
            "{md}"
        );
        assert!(md.contains("| target `ghost` | – | – | – |"), "{md}");
    }
}
