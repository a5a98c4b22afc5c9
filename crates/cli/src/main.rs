//! amlctl CLI.
fn main() {}
