//! amlctl manifest crate.
