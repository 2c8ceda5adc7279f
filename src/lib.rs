//! volley: a terminal load console.
pub mod demo;
pub mod engine;
pub mod metrics;
pub mod scenario;
