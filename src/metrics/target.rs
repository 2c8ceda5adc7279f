//! The target's resources as the monitor (`crate::monitor`) read them, one sample a second.

/// One second of the target's figures: a value per series, `None` when it could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetSample {
    pub t: u64,
    pub values: Vec<Option<f64>>,
}

/// What the monitor read so far.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TargetSeries {
    pub source: String,
    pub names: Vec<String>,
    pub samples: Vec<TargetSample>,
    /// Failed scrapes.
    pub failures: u64,
}
