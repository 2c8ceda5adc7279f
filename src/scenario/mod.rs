//! Scenario files: the TOML model, its validation, and the typed [`Plan`] it becomes.

mod duration;
mod error;
pub mod inspect;
mod locate;
mod model;
mod plan;
pub mod template;
mod validate;
pub mod wsscript;

use std::path::Path;
use std::time::Duration;

pub use duration::{format_duration, parse_duration, HumanDuration, ThinkTime};
pub use error::{line_col, Located, ScenarioError};
pub use model::{
    parse_base_url, parse_method, parse_rate, parse_user_url, ClientChoice, HttpVersion,
    RetryPolicy, MAX_VUS,
};
pub use plan::{
    header_pair, is_secret_header, join_url, ClientKind, DataMode, DataSet, Endpoint, Flow,
    H2Sharing, HttpOptions, LoadModel, LoadPlan, Plan, RequestTemplate, Stage, Step, StopAt,
    StreamOpts, UserType, WsMatch, WsPlan, WsStep, DEFAULT_GRACEFUL_STOP, DEFAULT_STREAM_IDLE,
    DEFAULT_TIMEOUT, DEFAULT_WS_MAX_MESSAGE,
};

use model::ScenarioFile;

/// The largest scenario or theme file read (16 MiB): far above any real one, and a
/// bound on what a wrong path (`/dev/zero`, a log file) can make volley read.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The metadata of `path` when it is a regular file; otherwise an error that says what
/// it is (a device, a FIFO, a folder could block or never end).
pub fn regular_file(path: &Path) -> std::io::Result<std::fs::Metadata> {
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::metadata(path)?;
    let ft = meta.file_type();
    if ft.is_file() {
        return Ok(meta);
    }
    let what = if ft.is_dir() {
        "a folder"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_fifo() {
        "a named pipe"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "a special file"
    };
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("not a regular file ({what})"),
    ))
}

/// Reads a small text file (a scenario, a theme): refuses anything that is not a regular
/// file (a device, a FIFO, a folder could block or never end) and anything above
/// [`MAX_FILE_BYTES`].
pub fn read_text_file(path: &Path) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind, Read};
    let meta = regular_file(path)?;
    let too_big = || {
        Error::new(
            ErrorKind::InvalidInput,
            format!(
                "larger than the {} MB limit for this kind of file",
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        )
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_big());
    }
    let mut text = String::new();
    // The file may grow after the size check: read at most one byte past the limit.
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big());
    }
    Ok(text)
}

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Plan, ScenarioError> {
    let src = read_text_file(path).map_err(|source| ScenarioError::Read {
        what: "scenario",
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &src)
}

/// Validates scenario text; `path` is only used in messages.
pub fn parse(path: &Path, src: &str) -> Result<Plan, ScenarioError> {
    let file: ScenarioFile =
        toml::from_str(src).map_err(|e| ScenarioError::from_toml(path, src, &e))?;
    validate::Validator {
        path,
        src,
        env_optional: false,
    }
    .plan(file)
}

/// Validates scenario text as `volley check` does, except that `{{env.NAME}}` may name a
/// variable that is not set: for scenarios volley writes (import, init) before their user
/// has set the secrets they need.
pub fn validate_generated(path: &Path, src: &str) -> Result<Plan, ScenarioError> {
    let file: ScenarioFile =
        toml::from_str(src).map_err(|e| ScenarioError::from_toml(path, src, &e))?;
    validate::Validator {
        path,
        src,
        env_optional: true,
    }
    .plan(file)
}

/// The JSON Schema of scenario files, generated from the types that read them.
pub fn json_schema() -> schemars::Schema {
    schemars::schema_for!(ScenarioFile)
}

impl Overrides {
    /// The options as they are shown in reports: `--vus 50`, `--duration 10s`.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(t) = &self.target {
            out.push(format!("--target {t}"));
        }
        if let Some(v) = self.vus {
            out.push(format!("--vus {v}"));
        }
        if let Some(d) = self.duration {
            out.push(format!("--duration {}", format_duration(d)));
        }
        if let Some(n) = self.iterations {
            out.push(format!("--iterations {n}"));
        }
        if self.insecure {
            out.push("--insecure".into());
        }
        if self.cut {
            out.push("--cut".into());
        }
        if self.no_retry {
            out.push("--no-retry".into());
        }
        out
    }
}

/// Command-line values that replace the scenario's own.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub target: Option<reqwest::Url>,
    pub vus: Option<u32>,
    /// With stages, they are scaled to last exactly this long (unless `cut`).
    pub duration: Option<Duration>,
    pub iterations: Option<u64>,
    pub insecure: bool,
    /// `--cut`: keep the stages as they are and stop at `duration`.
    pub cut: bool,
    /// `--no-retry`: `[http] retry = "never"`.
    pub no_retry: bool,
}

impl Overrides {
    /// Applies the overrides; returns a note for the user when it reshaped the plan
    /// (stages scaled to fit `--duration`).
    pub fn apply(&self, plan: &mut Plan) -> Option<String> {
        if let Some(t) = &self.target {
            plan.retarget(t);
        }
        // For reports: what replaced the scenario's values.
        plan.overrides.extend(self.describe());
        if let Some(v) = self.vus {
            plan.load.vus = v;
        }
        let mut note = None;
        if let (Some(d), false) = (self.duration, self.cut) {
            let staged: Duration = plan.load.stages.iter().map(|s| s.duration).sum();
            if !staged.is_zero() && staged != d {
                plan.load.stages = scale_stages(&plan.load.stages, d);
                note = Some(format!(
                    "stages scaled by {:.3} to fit --duration {} (they last {}; --cut keeps them and stops at {})",
                    d.as_secs_f64() / staged.as_secs_f64(),
                    format_duration(d),
                    format_duration(staged),
                    format_duration(d),
                ));
            }
        }
        if self.duration.is_some() || self.iterations.is_some() {
            plan.load.stop = StopAt {
                duration: self.duration,
                iterations: self.iterations,
            };
        }
        if self.insecure {
            plan.http.insecure = true;
        }
        if self.no_retry {
            plan.http.retry = RetryPolicy::Never;
        }
        note
    }
}

/// Stages stretched or shrunk in proportion so that together they last exactly `total`.
///
/// Stage boundaries are placed at their proportional point and rounded (to the
/// millisecond when `total` is a whole number of them, else to the nanosecond); each
/// stage lasts from its start boundary to its end boundary. The last boundary is `total`
/// itself, so the durations always add up to `total` with no rounding left over, and a
/// stage of zero length (a jump) stays zero.
pub fn scale_stages(stages: &[Stage], total: Duration) -> Vec<Stage> {
    let sum: u128 = stages.iter().map(|s| s.duration.as_nanos()).sum();
    if sum == 0 {
        return stages.to_vec();
    }
    let total_ns = total.as_nanos();
    let grain: u128 = if total_ns.is_multiple_of(1_000_000) {
        1_000_000
    } else {
        1
    };
    let mut cum = 0u128;
    let mut prev = 0u128;
    stages
        .iter()
        .map(|s| {
            cum += s.duration.as_nanos();
            // The nearest grain to cum/sum of the total; the total itself at the end.
            let edge = if cum == sum {
                total_ns
            } else {
                let ns = (cum * total_ns + sum / 2) / sum;
                ((ns + grain / 2) / grain * grain).min(total_ns)
            };
            let d = edge - prev;
            prev = edge;
            Stage {
                duration: Duration::from_nanos(d as u64),
                target: s.target,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stages(secs: &[f64]) -> Vec<Stage> {
        secs.iter()
            .enumerate()
            .map(|(i, s)| Stage {
                duration: Duration::from_secs_f64(*s),
                target: i as f64,
            })
            .collect()
    }

    fn sum(st: &[Stage]) -> Duration {
        st.iter().map(|s| s.duration).sum()
    }

    #[test]
    fn scaled_stages_add_up_exactly_and_keep_their_shape() {
        let spike = stages(&[30.0, 10.0, 60.0, 10.0, 60.0]);
        let s = scale_stages(&spike, Duration::from_secs(10));
        let ms: Vec<u128> = s.iter().map(|s| s.duration.as_millis()).collect();
        assert_eq!(ms, [1765, 588, 3529, 589, 3529]);
        assert_eq!(sum(&s), Duration::from_secs(10));
        // Targets and order unchanged.
        assert!(s.iter().zip(&spike).all(|(a, b)| a.target == b.target));
        // Thirds, sevenths, odd totals, a zero-length jump, growing as well as shrinking.
        for (shape, total) in [
            (vec![1.0, 1.0, 1.0], Duration::from_secs(1)),
            (vec![1.0; 7], Duration::from_millis(1000)),
            (vec![3.0, 0.0, 5.0, 0.001], Duration::from_micros(7_777_777)),
            (vec![0.5, 0.25], Duration::from_secs(3600)),
            (vec![10.0, 20.0, 30.0], Duration::from_nanos(1)),
        ] {
            let st = stages(&shape);
            let scaled = scale_stages(&st, total);
            assert_eq!(sum(&scaled), total, "{shape:?} into {total:?}");
            for (a, b) in scaled.iter().zip(&st) {
                if b.duration.is_zero() {
                    assert!(a.duration.is_zero(), "a jump stays a jump");
                }
            }
        }
        let thirds = scale_stages(&stages(&[1.0, 1.0, 1.0]), Duration::from_secs(1));
        let ms: Vec<u128> = thirds.iter().map(|s| s.duration.as_millis()).collect();
        assert_eq!(ms, [333, 334, 333]);
    }

    fn staged_plan() -> Plan {
        parse(
            Path::new("s.toml"),
            "name = \"s\"\nbase_url = \"http://127.0.0.1:1\"\n[load]\nstages = [\n  { duration = \"30s\", target = 1 },\n  { duration = \"10s\", target = 50 },\n  { duration = \"20s\", target = 0 },\n]\n[[request]]\npath = \"/\"\n",
        )
        .unwrap()
    }

    /// Applies a 6 s `--duration` (with or without `--cut`) to a 30s/10s/20s staged plan:
    /// the note, the stage lengths in seconds and the stop duration.
    fn six_seconds(cut: bool) -> (Option<String>, Vec<u64>, Option<Duration>) {
        let mut plan = staged_plan();
        let note = Overrides {
            duration: Some(Duration::from_secs(6)),
            cut,
            ..Overrides::default()
        }
        .apply(&mut plan);
        let secs = plan
            .load
            .stages
            .iter()
            .map(|s| s.duration.as_secs())
            .collect();
        (note, secs, plan.load.stop.duration)
    }

    #[test]
    fn duration_scales_stages_and_cut_keeps_them() {
        let six = Some(Duration::from_secs(6));
        let (note, secs, stop) = six_seconds(false);
        let note = note.expect("a note");
        assert!(
            note.contains("scaled by 0.100 to fit --duration 6s"),
            "{note}"
        );
        assert_eq!((secs, stop), (vec![3, 1, 2], six));
        assert_eq!(six_seconds(true), (None, vec![30, 10, 20], six));
    }
}
