//! The plan as text, Markdown or JSON. Numbers are formatted by [`crate::units`].

use std::io::{self, Write};

use super::table::{Need, Peak};
use super::{CapacityPlan, Format};
use crate::units;

/// Writes `plan` in `format`.
pub fn write<W: Write>(plan: &CapacityPlan, format: Format, out: &mut W) -> io::Result<()> {
    match format {
        Format::Text => write_text(plan, out),
        Format::Md => write_markdown(plan, out),
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, plan).map_err(io::Error::other)?;
            writeln!(out)
        }
    }
}

fn money(v: f64) -> String {
    if v.fract() == 0.0 {
        units::number(v, 0)
    } else {
        units::number(v, 2)
    }
}

/// `10` for a whole number, `12.5` otherwise.
fn whole_or_rate(v: f64) -> String {
    if v.fract() == 0.0 {
        units::number(v, 0)
    } else {
        units::rate(v)
    }
}

fn peak_text(peak: Peak) -> String {
    match peak {
        Peak::Users {
            users,
            requests_per_minute,
        } => format!(
            "{} users x {} req/min = {} rps",
            whole_or_rate(users),
            whole_or_rate(requests_per_minute),
            units::rate(peak.rps())
        ),
        Peak::Rps(rps) => format!("{} rps", units::rate(rps)),
    }
}

/// The rows of the capacity table: label and value.
fn rows(plan: &CapacityPlan) -> Vec<(String, String)> {
    let t = &plan.table;
    let mut rows = vec![
        (
            "max sustainable rps per instance".to_string(),
            units::rate(t.max_rps_per_instance),
        ),
        (
            "safe operating point (70% of the knee)".into(),
            format!("{} rps", units::rate(t.safe_rps_70)),
        ),
        (
            "safe operating point (80% of the knee)".into(),
            format!("{} rps", units::rate(t.safe_rps_80)),
        ),
    ];
    if let Some(c) = plan.cpu_projection {
        rows.push((
            format!(
                "CPU-based max per instance (at {} CPU)",
                units::percent_with(c.cpu_share, 0)
            ),
            units::rate(c.max_rps_per_instance),
        ));
    }
    if let (Some(peak), Some(now)) = (t.peak, t.now) {
        rows.push(("required at the peak".into(), peak_text(peak)));
        rows.push(("instances needed".into(), units::count(now.instances)));
        rows.push((
            format!("with a {} buffer", units::percent_short(t.buffer)),
            units::count(now.instances_with_buffer),
        ));
        if let Some(cost) = now.cost {
            rows.push(("cost".into(), money(cost)));
        }
    }
    rows
}

const GROWTH_HEADER: [&str; 5] = ["month", "required rps", "instances", "with buffer", "cost"];

fn growth_cells(month: u32, n: &Need) -> [String; 5] {
    [
        month.to_string(),
        units::rate(n.required_rps),
        units::count(n.instances),
        units::count(n.instances_with_buffer),
        units::fmt_opt(n.cost, money),
    ]
}

fn write_text<W: Write>(plan: &CapacityPlan, out: &mut W) -> io::Result<()> {
    writeln!(out, "volley plan: {} ({})", plan.scenario, plan.source)?;
    writeln!(out, "{}", plan.knee.line())?;
    writeln!(out, "  {}", plan.knee.where_line())?;
    writeln!(out)?;
    writeln!(
        out,
        "capacity ({} served the test)",
        units::plural(u64::from(plan.instances), "instance", "instances")
    )?;
    let rows = rows(plan);
    let width = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    for (label, value) in &rows {
        writeln!(out, "  {label:<width$}  {value}")?;
    }
    if let Some(g) = plan.table.monthly_growth {
        writeln!(out)?;
        writeln!(out, "growth ({} a month)", units::percent_short(g))?;
        let cells: Vec<[String; 5]> = plan
            .table
            .growth
            .iter()
            .map(|m| growth_cells(m.month, &m.need))
            .collect();
        let widths: Vec<usize> = (0..5)
            .map(|i| {
                cells
                    .iter()
                    .map(|c| c[i].chars().count())
                    .chain([GROWTH_HEADER[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |c: &[String]| {
            let mut s = String::from(" ");
            for (i, v) in c.iter().enumerate() {
                if i == 0 {
                    s.push_str(&format!(" {v:<w$}", w = widths[i]));
                } else {
                    s.push_str(&format!("  {v:>w$}", w = widths[i]));
                }
            }
            s
        };
        let header: Vec<String> = GROWTH_HEADER.iter().map(|h| h.to_string()).collect();
        writeln!(out, "{}", line(&header))?;
        for c in &cells {
            writeln!(out, "{}", line(c))?;
        }
    }
    if !plan.warnings.is_empty() {
        writeln!(out)?;
        for w in &plan.warnings {
            writeln!(out, "warning: {w}")?;
        }
    }
    Ok(())
}

fn write_markdown<W: Write>(plan: &CapacityPlan, out: &mut W) -> io::Result<()> {
    writeln!(out, "## Capacity plan: {}", plan.scenario)?;
    writeln!(out)?;
    writeln!(out, "**{}**  ", plan.knee.line())?;
    writeln!(out, "{}", plan.knee.where_line())?;
    writeln!(out)?;
    writeln!(
        out,
        "| capacity ({} served the test) | |",
        units::plural(u64::from(plan.instances), "instance", "instances")
    )?;
    writeln!(out, "|---|---:|")?;
    for (label, value) in rows(plan) {
        writeln!(out, "| {label} | {value} |")?;
    }
    if let Some(g) = plan.table.monthly_growth {
        writeln!(out)?;
        writeln!(out, "Growth: {} a month.", units::percent_short(g))?;
        writeln!(out)?;
        writeln!(out, "| {} |", GROWTH_HEADER.join(" | "))?;
        writeln!(out, "|---:|---:|---:|---:|---:|")?;
        for m in &plan.table.growth {
            writeln!(out, "| {} |", growth_cells(m.month, &m.need).join(" | "))?;
        }
    }
    if !plan.warnings.is_empty() {
        writeln!(out)?;
        for w in &plan.warnings {
            writeln!(out, "> **Warning:** {w}")?;
        }
    }
    Ok(())
}
