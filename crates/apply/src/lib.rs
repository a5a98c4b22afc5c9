//! amlctl apply crate.
