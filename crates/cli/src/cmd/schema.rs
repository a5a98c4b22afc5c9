//! `amlctl schema [--config]`: the JSON Schema of a compute manifest or of `amlctl.yaml`.

use crate::error::{CliResult, Exit};
use crate::output;

/// Runs schema: the schema on stdout.
pub fn run(config: bool) -> CliResult<Exit> {
    let schema = if config {
        amlctl_manifest::config_schema()
    } else {
        amlctl_manifest::compute_schema()
    };
    output::print_json(&schema);
    Ok(Exit::Ok)
}
