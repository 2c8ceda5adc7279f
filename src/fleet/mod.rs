//! Running one test over several workers: how the work is split and how the results merge.

pub mod segment;
