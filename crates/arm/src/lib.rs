//! amlctl arm crate.
