//! `amlctl render FILE...`: the ARM PUT each manifest would be created with.

use std::path::PathBuf;

use amlctl_manifest::{LoadOptions, Workspace};

use crate::error::{CliError, CliResult, Exit};
use crate::output::{self, plural, print_diagnostics};

/// Runs render: one JSON array of requests on stdout (secrets redacted).
pub fn run(files: &[PathBuf], ws: &Workspace, strict: bool) -> CliResult<Exit> {
    let targets = match amlctl_manifest::load_files(
        files,
        ws,
        &LoadOptions {
            strict,
            ..Default::default()
        },
    ) {
        Ok((targets, warnings)) => {
            print_diagnostics(&warnings);
            targets
        }
        Err(diags) => {
            let n = print_diagnostics(&diags);
            return Err(CliError::new(format!(
                "{n} error{} in the manifests",
                plural(n)
            )));
        }
    };
    let requests: Vec<serde_json::Value> = targets
        .iter()
        .map(|t| {
            let arm = t.to_arm(ws);
            serde_json::json!({
                "method": "PUT",
                "path": ws.compute_path(&t.name),
                "query": { "api-version": arm.api_version },
                "body": arm.body,
            })
        })
        .collect();
    output::print_json(&serde_json::Value::Array(requests));
    Ok(Exit::Ok)
}
