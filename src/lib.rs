//! volley: a terminal load console.
pub mod metrics;
pub mod scenario;
