//! `amlctl validate [PATH]`: check `amlctl.yaml` and every manifest.

use std::collections::BTreeSet;
use std::path::Path;

use amlctl_manifest::LoadOptions;

use crate::error::{CliResult, Exit};
use crate::output::{self, plural};
use crate::workflow;

/// Runs validate: every diagnostic on stderr, a one-line summary on stdout when valid.
pub fn run(path: &Path, opts: &LoadOptions) -> CliResult<Exit> {
    let project = workflow::load_with(path, opts)?;
    let workspaces: BTreeSet<&str> = project
        .targets
        .iter()
        .map(|t| t.workspace.as_str())
        .collect();
    let warnings = project.diagnostics.len();
    output::print_stdout(&format!(
        "valid: {} compute target{} in {} workspace{} ({} warning{})",
        project.targets.len(),
        plural(project.targets.len()),
        workspaces.len(),
        plural(workspaces.len()),
        warnings,
        plural(warnings)
    ));
    Ok(Exit::Ok)
}
