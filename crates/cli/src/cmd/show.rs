//! `amlctl show FILE`: re-render a saved plan.

use std::path::Path;

use amlctl_plan::PlanFile;

use crate::args::Format;
use crate::error::{CliError, CliResult, Exit};
use crate::output;

/// Runs show: the saved plan in the requested format on stdout.
pub fn run(file: &Path, format: Format, no_color: bool) -> CliResult<Exit> {
    let saved =
        PlanFile::load(file).map_err(|e| CliError::new(format!("{}: {e}", file.display())))?;
    output::render_plan(&saved.plan, format, no_color);
    Ok(Exit::Ok)
}
