//! The built-in demo target (being written).
