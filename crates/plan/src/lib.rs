//! amlctl plan crate.
