//! amlctl emulator crate.
