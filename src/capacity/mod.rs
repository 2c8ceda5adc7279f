//! `volley plan RESULT.json`: from the result document of a staged or breakpoint run, the
//! knee (see [`knee`]) and a capacity table (see [`table`]), as text, Markdown or JSON.
//!
//! Reads only the result document; nothing here runs load.

pub mod render;
pub mod table;

use std::io::Write;

use serde::Serialize;

use crate::cli::PlanArgs;
use crate::error::{exit, Error};
use crate::report::knee;
use crate::report::{load_doc, ResultDoc};

pub use knee::{Knee, Method};
pub use table::{Inputs, Peak, Table};

/// A capacity plan: the knee, the table, and what to be wary of.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityPlan {
    /// The result document it was made from.
    pub source: String,
    pub scenario: String,
    /// Instances that served the test.
    pub instances: u32,
    pub knee: Knee,
    pub table: Table,
    /// With target CPU monitored (`cpu_busy`): the knee's rps over the CPU share it took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_projection: Option<CpuProjection>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// "200 rps at 70% CPU: at most ~285 rps".
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CpuProjection {
    /// The target's CPU share (0..1) at the knee's second.
    pub cpu_share: f64,
    /// The knee's rps / `cpu_share`, per instance.
    pub max_rps_per_instance: f64,
}

/// The lowest CPU share worth extrapolating from.
const MIN_CPU_SHARE: f64 = 0.05;
/// Knee and CPU projections further apart than this get a warning.
const DISAGREEMENT: f64 = 0.25;

/// The CPU projection, when the run monitored the target's `cpu_busy`.
fn cpu_projection(doc: &ResultDoc, knee: &Knee, instances: u32) -> Option<CpuProjection> {
    let m = doc.monitor.as_ref()?;
    let i = m.series.iter().position(|s| s == "cpu_busy")?;
    let cpu_share = m
        .rows
        .iter()
        .filter(|r| r.t <= knee.t)
        .filter_map(|r| r.values.get(i).copied().flatten())
        .next_back()?;
    (cpu_share >= MIN_CPU_SHARE).then(|| CpuProjection {
        cpu_share,
        max_rps_per_instance: knee.rps / cpu_share / f64::from(instances.max(1)),
    })
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("{0}: too short to find a knee: fewer than {n} seconds with traffic in its timeline", n = knee::STREAK + 1)]
    TooShort(String),
    #[error("{0}: no successful responses at the knee, so there is no capacity to plan with")]
    NoCapacity(String),
}

/// Makes the plan for `doc`.
pub fn plan(doc: &ResultDoc, source: &str, inputs: &Inputs) -> Result<CapacityPlan, PlanError> {
    let knee = knee::find(doc).ok_or_else(|| PlanError::TooShort(source.to_string()))?;
    if knee.rps <= 0.0 {
        return Err(PlanError::NoCapacity(source.to_string()));
    }
    let table = table::table(knee.rps, inputs);
    let cpu = cpu_projection(doc, &knee, inputs.instances);
    let mut warnings = Vec::new();
    if let Some(g) = doc.generator.as_ref().filter(|g| g.generator_bottleneck) {
        warnings.push(format!(
            "volley itself was the bottleneck ({}): the target may sustain more than this knee",
            g.reason
                .as_deref()
                .unwrap_or("see the run's generator section")
        ));
    }
    if let Some(c) = cpu {
        let knee_based = table.max_rps_per_instance;
        let gap = (c.max_rps_per_instance - knee_based).abs() / knee_based;
        if gap > DISAGREEMENT {
            warnings.push(format!(
                "the CPU-based projection ({} rps) and the knee ({} rps) disagree by {}: \
                 the target is limited by something else than CPU, or CPU does not scale linearly",
                crate::units::rate(c.max_rps_per_instance),
                crate::units::rate(knee_based),
                crate::units::percent_with(gap, 0)
            ));
        }
    }
    if knee.method == Method::NotReached {
        warnings.push(format!(
            "the run never passed its knee{}: the figures are a lower bound (ramp the load higher)",
            if doc.partial {
                " (it was stopped early)"
            } else {
                ""
            }
        ));
    }
    Ok(CapacityPlan {
        source: source.to_string(),
        scenario: doc.scenario.clone(),
        instances: inputs.instances.max(1),
        knee,
        table,
        cpu_projection: cpu,
        warnings,
    })
}

/// Output formats of `volley plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Md,
    Json,
}

impl Format {
    fn parse(s: &str) -> Option<Format> {
        match s {
            "txt" | "text" => Some(Format::Text),
            "md" | "markdown" => Some(Format::Md),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// Reads `--out KIND=PATH` of `volley plan` (kinds txt, md, json; `-` is stdout).
pub fn parse_out(spec: &str) -> Result<(Format, String), String> {
    let (kind, path) = spec
        .split_once('=')
        .ok_or_else(|| format!("expected KIND=PATH (like md=plan.md or json=-), got '{spec}'"))?;
    let format = Format::parse(kind.trim())
        .ok_or_else(|| format!("unknown kind '{kind}' (expected one of: txt, md, json)"))?;
    if path.trim().is_empty() {
        return Err(format!("'{spec}' has no path"));
    }
    Ok((format, path.to_string()))
}

fn inputs_of(args: &PlanArgs) -> Result<Inputs, Error> {
    let usage = |flag: &str, m: String| Error::Usage(format!("--{flag}: {m}"));
    let positive = |flag: &str, v: f64| {
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(usage(flag, format!("expected a number above 0, got {v}")))
        }
    };
    let peak = match (args.peak_users, args.requests_per_user_per_minute, args.peak_rps) {
        (Some(_), _, Some(_)) => {
            return Err(Error::Usage(
                "--peak-users and --peak-rps: give one of them, not both".into(),
            ))
        }
        (Some(u), Some(r), None) => Some(Peak::Users {
            users: positive("peak-users", u)?,
            requests_per_minute: positive("requests-per-user-per-minute", r)?,
        }),
        (Some(_), None, None) => {
            return Err(Error::Usage(
                "--peak-users needs --requests-per-user-per-minute (how often one user sends a request)".into(),
            ))
        }
        (None, Some(_), None) => {
            return Err(Error::Usage(
                "--requests-per-user-per-minute needs --peak-users".into(),
            ))
        }
        (None, _, Some(x)) => Some(Peak::Rps(positive("peak-rps", x)?)),
        (None, None, None) => None,
    };
    let percent = |flag: &str, s: &Option<String>, default: f64| {
        s.as_deref()
            .map(crate::units::parse_percent)
            .transpose()
            .map(|v| v.unwrap_or(default))
            .map_err(|m| usage(flag, m))
    };
    if args.instances == 0 {
        return Err(usage("instances", "must be at least 1".into()));
    }
    let cost = args
        .cost_per_instance
        .map(|c| {
            if c.is_finite() && c >= 0.0 {
                Ok(c)
            } else {
                Err(usage(
                    "cost-per-instance",
                    format!("expected 0 or more, got {c}"),
                ))
            }
        })
        .transpose()?;
    let growth = percent("growth", &args.growth, 0.0)?;
    if args.growth.is_some() && args.months == 0 {
        return Err(Error::Usage(
            "--growth needs --months (how far to project)".into(),
        ));
    }
    if args.months > 120 {
        return Err(usage("months", "at most 120".into()));
    }
    Ok(Inputs {
        instances: args.instances,
        peak,
        buffer: percent("buffer", &args.buffer, 0.2)?,
        growth,
        months: if peak.is_some() { args.months } else { 0 },
        cost_per_instance: cost,
    })
}

/// `volley plan RESULT.json ...`: prints the plan (or writes it with `--out`).
pub fn command(args: &PlanArgs) -> Result<i32, Error> {
    let inputs = inputs_of(args)?;
    let outs = args
        .out
        .iter()
        .map(|s| parse_out(s).map_err(|m| Error::Usage(format!("--out: {m}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let doc = load_doc(&args.file).map_err(Error::Usage)?;
    let source = args.file.display().to_string();
    let plan = plan(&doc, &source, &inputs).map_err(|e| Error::Usage(e.to_string()))?;
    let outs = if outs.is_empty() {
        vec![(Format::Text, "-".to_string())]
    } else {
        outs
    };
    for (format, path) in &outs {
        let mut buf = Vec::new();
        render::write(&plan, *format, &mut buf)
            .map_err(|e| Error::io("cannot render the plan", e))?;
        if path == "-" {
            let mut out = std::io::stdout().lock();
            match out.write_all(&buf).and_then(|_| out.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(Error::io("cannot write the plan", e))
                }
                _ => {}
            }
        } else {
            std::fs::write(path, &buf).map_err(|e| Error::io(path.as_str(), e))?;
            say!("volley: wrote {path}");
        }
    }
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::parse_doc;
    use crate::report::target::{Monitor, MonitorRow};

    /// A closed-model run whose throughput is 10 rps a VU up to 30 VUs, then flat, with the
    /// target's cpu_busy at `cpu` a second.
    fn doc_with_cpu(cpu: f64) -> ResultDoc {
        let mut d =
            parse_doc(include_str!("../../tests/fixtures/results/current.json")).expect("fixture");
        let template = d.timeline[0].clone();
        d.timeline = (1..=45u32)
            .map(|vus| {
                let tput = u64::from(10 * vus.min(30));
                crate::report::Row {
                    t: u64::from(vus - 1),
                    requests: tput,
                    ok: tput,
                    errors: 0,
                    p95_ms: 100.0,
                    vus,
                    hdr: None,
                    ..template.clone()
                }
            })
            .collect();
        d.thresholds.clear();
        d.monitor = Some(Monitor {
            source: "http://127.0.0.1:9100/metrics".into(),
            series: vec!["cpu_busy".into()],
            summary: vec![None],
            failures: 0,
            rows: (0..45)
                .map(|t| MonitorRow {
                    t,
                    values: vec![Some(cpu)],
                })
                .collect(),
        });
        d
    }

    #[test]
    fn cpu_projection_beside_the_knee_and_a_warning_when_they_disagree() {
        // 300 rps at 75% CPU: ~400 rps by CPU, 33% above the knee.
        let p = plan(&doc_with_cpu(0.75), "r.json", &Inputs::default()).expect("plan");
        let c = p.cpu_projection.expect("cpu was monitored");
        assert_eq!(c.max_rps_per_instance, 400.0);
        assert!(
            p.warnings.iter().any(|w| w.contains("disagree by 33%")),
            "{:?}",
            p.warnings
        );
        // 300 rps at 95% CPU: 316 rps, close to the knee: no warning.
        let p = plan(&doc_with_cpu(0.95), "r.json", &Inputs::default()).expect("plan");
        assert!(p.cpu_projection.is_some());
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        // Without a monitor there is no projection.
        let mut d = doc_with_cpu(0.5);
        d.monitor = None;
        assert_eq!(
            plan(&d, "r.json", &Inputs::default()).map(|p| p.cpu_projection),
            Ok(None)
        );
    }

    #[test]
    fn a_generator_bottleneck_is_a_warning() {
        use crate::metrics::generator::{GeneratorSample, GeneratorSeries};
        let mut d = doc_with_cpu(0.95);
        let mut g = GeneratorSeries::new(1.0);
        for t in 0..5 {
            g.push(GeneratorSample {
                t,
                cpu_share: 0.99,
                ..GeneratorSample::default()
            });
        }
        d.generator = crate::report::generator::Generator::of(&g);
        let p = plan(&d, "r.json", &Inputs::default()).expect("plan");
        assert!(
            p.warnings
                .iter()
                .any(|w| w.starts_with("volley itself was the bottleneck (CPU 99%")),
            "{:?}",
            p.warnings
        );
    }
}
