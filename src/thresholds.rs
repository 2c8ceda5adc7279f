//! Placeholder until the threshold module lands.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ThresholdError {
    pub message: String,
    pub column: usize,
}

pub fn parse(text: &str) -> Result<Threshold, ThresholdError> {
    Ok(Threshold { text: text.into() })
}
