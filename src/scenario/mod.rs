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
pub use model::{parse_base_url, parse_method, parse_rate, ClientChoice, MAX_VUS};
pub use plan::{
    header_pair, is_secret_header, join_url, ClientKind, DataMode, DataSet, Endpoint, Flow,
    HttpOptions, LoadModel, LoadPlan, Plan, RequestTemplate, Stage, StopAt, ThresholdSpec,
    UserType, DEFAULT_GRACEFUL_STOP, DEFAULT_TIMEOUT,
};

use model::ScenarioFile;

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Plan, ScenarioError> {
    let src = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
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
