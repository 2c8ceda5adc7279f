//! `volley plan RESULT.json`: from the result document of a staged or breakpoint run, the
//! knee (see [`knee`]) and a capacity table (see [`table`]), as text, Markdown or JSON.
//!
//! Reads only the result document; nothing here runs load.

pub mod knee;
pub mod render;
pub mod table;

use std::io::Write;

use serde::Serialize;

use crate::cli::PlanArgs;
use crate::error::{exit, Error};
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
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
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
    let mut warnings = Vec::new();
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
