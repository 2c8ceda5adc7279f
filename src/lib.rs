//! volley: a terminal load console.
pub mod engine;
pub mod metrics;
pub mod scenario;
