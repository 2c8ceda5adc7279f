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
/// run before it starts). Every path is checked now too ([`check_writable`]): an hour's
/// run must not end in "cannot write".
pub fn outs_for_run(args: &RunArgs) -> Result<Vec<OutSpec>, Error> {
    let outs = parse_outs(&args.out)?;
    for o in &outs {
        check_writable(&o.path)
            .map_err(|why| Error::Usage(format!("--out {}: {why}", o.path.display())))?;
    }
    with_baseline(outs, args.baseline.as_deref())
}

/// Checks, before a run, that its result could be written to `path`: not a folder, its
/// folder (or the nearest one that exists: missing ones are created when writing) is a
/// folder, and a file can be created there. Leaves nothing behind.
pub fn check_writable(path: &Path) -> Result<(), String> {
    if path.as_os_str() == "-" {
        return Ok(());
    }
    if path.is_dir() {
        return Err("is a folder, not a file".into());
    }
    if path.exists() && !path.is_file() {
        // /dev/null, /dev/stdout, a FIFO, a `>(...)` process substitution: opening one
        // now could block, or end what its reader reads.
        return Ok(());
    }
    let parent = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut dir = parent;
    while !dir.exists() {
        match dir.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(up) => dir = up,
            None => {
                dir = Path::new(".");
                break;
            }
        }
    }
    if !dir.is_dir() {
        return Err(format!("'{}' is not a folder", dir.display()));
    }
    if dir == parent {
        let existed = path.exists();
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| format!("cannot create the file: {e}"))?;
        if !existed {
            let _ = std::fs::remove_file(path);
        }
    } else {
        // The file's own folder does not exist yet: can the nearest existing one hold
        // what will be created in it?
        let probe = dir.join(format!(".volley-probe-{}", std::process::id()));
        File::create(&probe)
            .map_err(|e| format!("cannot create folders in '{}': {e}", dir.display()))?;
        let _ = std::fs::remove_file(&probe);
    }
    Ok(())
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
        let written =
            render(doc, o.kind, o.baseline.as_deref(), &mut out).and_then(|_| out.flush());
        // A reader that stopped reading (`| head -1`) is not an error.
        return match written {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            r => r,
        };
    }
    if let Some(dir) = o.path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut w = BufWriter::new(File::create(&o.path)?);
    render(doc, o.kind, o.baseline.as_deref(), &mut w)?;
    w.flush()
}

/// Writes every requested output, each on its own (one failure does not stop the
/// others), and says on stderr which files it wrote; returns the first failure.
pub fn write_all(doc: &ResultDoc, outs: &[OutSpec]) -> Result<(), Error> {
    write_each(doc, outs).0.map_or(Ok(()), Err)
}

/// [`write_all`]'s work: the first failure, and whether a JSON file was written.
fn write_each(doc: &ResultDoc, outs: &[OutSpec]) -> (Option<Error>, bool) {
    let mut first_err = None;
    let mut json_file = false;
    for o in outs {
        let to_file = o.path.as_os_str() != "-";
        match write_one(doc, o) {
            Ok(()) if to_file => {
                json_file |= o.kind == OutKind::Json;
                say!("volley: wrote {}", o.path.display());
            }
            Ok(()) => {}
            Err(e) => {
                let err = Error::io(format!("cannot write {}", o.path.display()), e);
                say!("error: {err}");
                first_err.get_or_insert(err);
            }
        }
    }
    (first_err, json_file)
}

/// A run's results when a requested file could not be written: unless some JSON output
/// was written, the result document goes to `volley-results-<unix time>.json` in the
/// first of `dirs` that takes it (the run uses the working folder, then the temp
/// folder). Returns where it went.
pub fn save_fallback(doc: &ResultDoc, dirs: &[PathBuf]) -> Option<PathBuf> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    dirs.iter().find_map(|dir| {
        let path = dir.join(format!(
            "volley-results-{stamp}-{}.json",
            std::process::id()
        ));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .ok()?;
        let mut w = BufWriter::new(file);
        match write_json(doc, &mut w).and_then(|_| w.flush()) {
            Ok(()) => Some(path),
            Err(_) => {
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    })
}

/// Writes a run's outputs; when one fails and no JSON file holds the results, saves
/// them in a fallback file ([`save_fallback`]) and says where.
pub fn write_run_outputs(doc: &ResultDoc, outs: &[OutSpec]) -> Result<(), Error> {
    let (failed, json_file) = write_each(doc, outs);
    if failed.is_some() && !json_file {
        let dirs = [
            std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            std::env::temp_dir(),
        ];
        match save_fallback(doc, &dirs) {
            Some(p) => say!(
                "volley: the results are saved in {} instead (volley report {} --out KIND=PATH renders any output from it)",
                p.display(),
                p.display()
            ),
            None => say!(
                "volley: the results could not be saved anywhere (working folder and temp folder refused); the summary above is all that is left"
            ),
        }
    }
    failed.map_or(Ok(()), Err)
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
