//! Scenario files: the TOML model, its validation, and the typed [`Plan`] it becomes.

mod duration;
mod error;
pub mod inspect;
mod model;
mod plan;
pub mod template;
mod validate;

use std::path::Path;
use std::time::Duration;

pub use duration::{format_duration, parse_duration, HumanDuration, ThinkTime};
pub use error::{line_col, Located, ScenarioError};
pub use model::{parse_base_url, parse_method, parse_rate, parse_user_url, ClientChoice, MAX_VUS};
pub use plan::{
    header_pair, is_secret_header, join_url, ClientKind, DataMode, DataSet, Endpoint, Flow,
    HttpOptions, LoadModel, LoadPlan, Plan, RequestTemplate, Stage, StopAt, ThresholdSpec,
    UserType, DEFAULT_GRACEFUL_STOP, DEFAULT_TIMEOUT,
};

use model::ScenarioFile;

/// The largest scenario or theme file read (16 MiB): far above any real one, and a
/// bound on what a wrong path (`/dev/zero`, a log file) can make volley read.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Reads a small text file (a scenario, a theme): refuses anything that is not a regular
/// file (a device, a FIFO, a folder could block or never end) and anything above
/// [`MAX_FILE_BYTES`].
pub fn read_text_file(path: &Path) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind, Read};
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::metadata(path)?;
    let ft = meta.file_type();
    if !ft.is_file() {
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
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("not a regular file ({what})"),
        ));
    }
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
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &src)
}

/// Validates scenario text; `path` is only used in messages.
pub fn parse(path: &Path, src: &str) -> Result<Plan, ScenarioError> {
    let file: ScenarioFile =
        toml::from_str(src).map_err(|e| ScenarioError::from_toml(path, src, &e))?;
    validate::Validator { path, src }.plan(file)
}

/// Command-line values that replace the scenario's own.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub target: Option<reqwest::Url>,
    pub vus: Option<u32>,
    pub duration: Option<Duration>,
    pub iterations: Option<u64>,
    pub insecure: bool,
}

impl Overrides {
    pub fn apply(&self, plan: &mut Plan) {
        if let Some(t) = &self.target {
            plan.retarget(t);
        }
        if let Some(v) = self.vus {
            plan.load.vus = v;
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
    }
}
