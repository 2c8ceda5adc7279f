//! Top-level errors and exit codes.

use crate::scenario::ScenarioError;

/// Exit codes, as documented in the README.
pub mod exit {
    /// The run completed (thresholds, when defined, passed).
    pub const OK: i32 = 0;
    /// Something failed at run time (could not bind, could not write a result file).
    pub const FAILURE: i32 = 1;
    /// Not a single request got a response (every one refused, reset or timed out; an
    /// HTTP error status is a response): the target is down or unreachable.
    pub const NO_RESPONSE: i32 = 1;
    /// Bad input: scenario, theme or command-line value.
    pub const BAD_INPUT: i32 = 2;
    /// A threshold failed (as k6).
    pub const THRESHOLDS_FAILED: i32 = 99;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    /// A bad command-line value.
    #[error("{0}")]
    Usage(String),
    /// Results could not be written, a socket could not be bound, ...
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Scenario(_) | Error::Usage(_) => exit::BAD_INPUT,
            Error::Io { .. } => exit::FAILURE,
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
