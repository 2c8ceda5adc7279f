//! `--out KIND=PATH`: parsed before the run, written after it; and the `volley report`
//! and `volley compare` commands, which render the same outputs from saved documents.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cli::{CompareArgs, CompareFormat, ReportArgs, RunArgs};
use crate::error::{exit, Error};
use crate::report::{
    compare, has_interval_histograms, load_doc, write_csv, write_hdr, write_html, write_json,
    write_junit, write_markdown, write_summary, Comparison, ResultDoc,
};

/// Exit code of `volley compare --fail-on-regression` when a regression was found (99
/// is failed thresholds).
pub const EXIT_REGRESSION: i32 = 98;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutKind {
    /// The full result document.
    Json,
    /// One row per second per endpoint and in total.
    Csv,
    /// A self-contained HTML report.
    Html,
    /// HdrHistogram interval log, one tag per endpoint.
    Hdr,
    /// Thresholds and checks as JUnit test cases.
    Junit,
    /// A Markdown summary (CI job summary, pull-request comment).
    Md,
    /// The text summary printed at the end of a run.
    Txt,
}

impl OutKind {
    pub const NAMES: &'static [&'static str] =
        &["json", "csv", "html", "hdr", "junit", "md", "txt"];

    pub fn parse(s: &str) -> Option<OutKind> {
        Some(match s.to_ascii_lowercase().as_str() {
            "json" => OutKind::Json,
            "csv" => OutKind::Csv,
            "html" => OutKind::Html,
            "hdr" | "hlog" => OutKind::Hdr,
            "junit" | "xml" => OutKind::Junit,
            "md" | "markdown" => OutKind::Md,
            "txt" | "text" => OutKind::Txt,
            _ => return None,
        })
    }
}

/// A saved run to compare with, and the file it came from.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub file: String,
    pub doc: ResultDoc,
}

impl Baseline {
    /// Reads a baseline; a file that is not a result document is bad input (exit 2).
    pub fn load(path: &Path) -> Result<Baseline, Error> {
        let doc = load_doc(path).map_err(|m| Error::Usage(format!("--baseline: {m}")))?;
        Ok(Baseline {
            file: path.display().to_string(),
            doc,
        })
    }

    pub fn compare(&self, current: &ResultDoc) -> Comparison {
        Comparison::labelled(
            &self.doc,
            &self.file,
            current,
            "",
            compare::DEFAULT_TOLERANCE,
        )
    }
}

#[derive(Debug, Clone)]
pub struct OutSpec {
    pub kind: OutKind,
    /// `-` is standard output.
    pub path: PathBuf,
    /// Compared with in the `html` and `md` outputs.
    pub baseline: Option<Arc<Baseline>>,
}

pub fn parse_outs(specs: &[String]) -> Result<Vec<OutSpec>, Error> {
    specs
        .iter()
        .map(|s| {
            let (kind, path) = s.split_once('=').ok_or_else(|| {
                Error::Usage(format!(
                    "--out: expected KIND=PATH (like json=results.json), got '{s}'"
                ))
            })?;
            let kind = OutKind::parse(kind.trim()).ok_or_else(|| {
                Error::Usage(format!(
                    "--out: unknown kind '{kind}' (expected one of: {})",
                    OutKind::NAMES.join(", ")
                ))
            })?;
            if path.trim().is_empty() {
                return Err(Error::Usage(format!("--out: '{s}' has no path")));
            }
            Ok(OutSpec {
                kind,
                path: PathBuf::from(path),
                baseline: None,
            })
        })
        .collect()
}

/// The `--out` files of a run, with its `--baseline` (read now, so a bad one stops the
/// run before it starts).
pub fn outs_for_run(args: &RunArgs) -> Result<Vec<OutSpec>, Error> {
    with_baseline(parse_outs(&args.out)?, args.baseline.as_deref())
}

fn with_baseline(mut outs: Vec<OutSpec>, baseline: Option<&Path>) -> Result<Vec<OutSpec>, Error> {
    if let Some(path) = baseline {
        let b = Arc::new(Baseline::load(path)?);
        for o in &mut outs {
            o.baseline = Some(b.clone());
        }
    }
    Ok(outs)
}

/// Renders one output.
pub fn render<W: Write>(
    doc: &ResultDoc,
    kind: OutKind,
    baseline: Option<&Baseline>,
    w: &mut W,
) -> std::io::Result<()> {
    let comparison = baseline.map(|b| b.compare(doc));
    match kind {
        OutKind::Json => write_json(doc, w),
        OutKind::Csv => write_csv(doc, w),
        OutKind::Html => write_html(doc, w, comparison.as_ref()),
        OutKind::Hdr => write_hdr(doc, w),
        OutKind::Junit => write_junit(doc, w),
        OutKind::Md => write_markdown(doc, w, comparison.as_ref()),
        OutKind::Txt => write_summary(doc, w),
    }
}

fn write_one(doc: &ResultDoc, o: &OutSpec) -> std::io::Result<()> {
    if o.path.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        render(doc, o.kind, o.baseline.as_deref(), &mut out)?;
        return out.flush();
    }
    if let Some(dir) = o.path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut w = BufWriter::new(File::create(&o.path)?);
    render(doc, o.kind, o.baseline.as_deref(), &mut w)?;
    w.flush()
}

/// Writes every requested output; tries them all and reports the first failure.
pub fn write_all(doc: &ResultDoc, outs: &[OutSpec]) -> Result<(), Error> {
    let mut first_err = None;
    for o in outs {
        if let Err(e) = write_one(doc, o) {
            let err = Error::io(format!("cannot write {}", o.path.display()), e);
            say!("error: {err}");
            first_err.get_or_insert(err);
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// `volley report FILE --out KIND=PATH ...`: re-renders outputs from a saved document;
/// without `--out`, prints the text summary.
pub fn report_command(args: &ReportArgs) -> Result<i32, Error> {
    let doc = load_doc(&args.file).map_err(Error::Usage)?;
    let outs = with_baseline(parse_outs(&args.out)?, args.baseline.as_deref())?;
    if outs.is_empty() {
        let mut out = std::io::stdout().lock();
        let _ = write_summary(&doc, &mut out);
        let _ = out.flush();
        return Ok(exit::OK);
    }
    if outs.iter().any(|o| o.kind == OutKind::Hdr) && !has_interval_histograms(&doc) {
        say!(
            "volley: {} has no per-second histograms (they are kept only when the run writes \
             --out hdr=FILE): the HDR log has no latency intervals",
            args.file.display()
        );
    }
    write_all(&doc, &outs)?;
    for o in outs.iter().filter(|o| o.path.as_os_str() != "-") {
        say!("volley: wrote {}", o.path.display());
    }
    Ok(exit::OK)
}

/// `volley compare BASELINE CURRENT`: prints the comparison; with
/// `--fail-on-regression`, exits [`EXIT_REGRESSION`] when a gated metric got worse by
/// more than the limit.
pub fn compare_command(args: &CompareArgs) -> Result<i32, Error> {
    let base = load_doc(&args.baseline).map_err(Error::Usage)?;
    let cur = load_doc(&args.current).map_err(Error::Usage)?;
    let tolerance = compare::parse_percent(&args.tolerance)
        .map_err(|m| Error::Usage(format!("--tolerance: {m}")))?;
    let limit = args
        .fail_on_regression
        .as_deref()
        .map(compare::parse_percent)
        .transpose()
        .map_err(|m| Error::Usage(format!("--fail-on-regression: {m}")))?;
    let floor = crate::units::parse_duration(&args.latency_floor)
        .map_err(|m| Error::Usage(format!("--latency-floor: {m}")))?;
    let noise = compare::Noise {
        min_requests: args.min_requests,
        latency_floor_ms: floor.as_secs_f64() * 1000.0,
    };
    let c = Comparison::with_noise(
        (&base, &args.baseline.display().to_string()),
        (&cur, &args.current.display().to_string()),
        tolerance,
        noise,
    );
    let regressions = limit.map(|l| c.regressions(l)).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    let written = match args.format {
        CompareFormat::Text => compare::write_text(&c, &mut out),
        CompareFormat::Md => compare::write_markdown(&c, &mut out, "##"),
        CompareFormat::Json => {
            let mut v = serde_json::to_value(&c).unwrap_or_default();
            if let (Some(l), Some(obj)) = (limit, v.as_object_mut()) {
                obj.insert("fail_on_regression".into(), l.into());
                obj.insert(
                    "regressions".into(),
                    serde_json::to_value(&regressions).unwrap_or_default(),
                );
            }
            serde_json::to_writer_pretty(&mut out, &v)
                .map_err(std::io::Error::other)
                .and_then(|_| writeln!(out))
        }
    };
    let _ = out.flush();
    drop(out);
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(Error::io("cannot write the comparison", e));
        }
    }
    if let Some(l) = limit {
        let ignored = c.ignored().len();
        if ignored > 0 {
            say!(
                "volley: {} ignored as noise (too few requests, or under the {} latency floor): see the table",
                crate::units::plural(ignored as u64, "change", "changes"),
                args.latency_floor.trim()
            );
        }
        if regressions.is_empty() {
            say!(
                "volley: no regression beyond {} (p95, p99, error rate, rps)",
                compare::fmt_pct(l)
            );
        } else {
            let list: Vec<String> = regressions
                .iter()
                .map(|r| format!("{} {} {}", r.scope, r.metric.label(), r.change_text()))
                .collect();
            say!(
                "volley: {} regression{} beyond {}: {}",
                regressions.len(),
                if regressions.len() == 1 { "" } else { "s" },
                compare::fmt_pct(l),
                list.join(", ")
            );
            return Ok(EXIT_REGRESSION);
        }
    }
    Ok(exit::OK)
}
