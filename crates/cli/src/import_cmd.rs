//! `amlctl import NAME`: mark an existing compute as managed by writing the ownership tag.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use amlctl_apply::{ApplyOptions, Outcome, ProgressMode, SecretResolver};
use amlctl_manifest::{OWNERSHIP_TAG, OWNERSHIP_TAG_VALUE};
use amlctl_plan::{Action, PlanOptions};
use tokio::sync::watch;

use crate::args::ArmArgs;
use crate::context::{self, ProjectRef};
use crate::output;

/// Runs import; returns the exit code.
pub async fn run(path: &Path, name: &str, arm: &ArmArgs) -> u8 {
    let Some(project) = crate::commands::load(path, false) else {
        return 1;
    };
    let matches: Vec<_> = project
        .targets
        .iter()
        .filter(|t| {
            t.name.eq_ignore_ascii_case(name) || format!("{}/{}", t.workspace, t.name) == name
        })
        .collect();
    let target = match matches.as_slice() {
        [one] => *one,
        [] => {
            output::error(&format!(
                "no manifest declares {name}: write one first (`amlctl export --workspace ALIAS` writes manifests for existing computes), then import it"
            ));
            return 1;
        }
        many => {
            let addresses: Vec<String> = many
                .iter()
                .map(|t| format!("{}/{}", t.workspace, t.name))
                .collect();
            output::error(&format!(
                "{name} is declared in several workspaces ({}); name one as WORKSPACE/NAME",
                addresses.join(", ")
            ));
            return 1;
        }
    };
    let address = format!("{}/{}", target.workspace, target.name);
    let session = match context::connect(&ProjectRef::of(&project), arm).await {
        Ok(s) => s,
        Err(e) => {
            output::error(&e);
            return 1;
        }
    };
    let mut workspaces = project.config.workspaces.clone();
    let aliases = BTreeSet::from([target.workspace.clone()]);
    let live = match amlctl_apply::read_live(&session.client, &mut workspaces, &aliases).await {
        Ok(l) => l,
        Err(e) => {
            output::error(&format!("cannot read live state: {e}"));
            session.close().await;
            return 1;
        }
    };
    let Some(live_compute) = live.get(&target.workspace).and_then(|cs| {
        cs.iter()
            .find(|c| c.name.eq_ignore_ascii_case(&target.name))
    }) else {
        output::error(&format!(
            "{address} does not exist in Azure; `amlctl apply` creates it (managed from the start)"
        ));
        session.close().await;
        return 1;
    };
    let tagged = amlctl_apply::is_managed(live_compute);
    if tagged {
        output::print_stdout(&format!("{address} is already managed by amlctl."));
        session.close().await;
        return 0;
    }
    let opts = PlanOptions {
        targets: vec![address.clone()],
        root: Some(project.config.root.clone()),
        ..PlanOptions::default()
    };
    let plan = amlctl_plan::plan(&project.targets, &workspaces, &live, &opts);
    if let Some(err) = plan.errors.iter().find(|e| e.address == address) {
        output::error(&format!(
            "not imported: {address} differs from its manifest in a way that forces a replacement ({}). Importing must not destroy anything{}; align the manifest with the live compute (`amlctl export` shows it), then import.",
            err.message,
            if live_compute.compute_type == Some(amlctl_manifest::ComputeType::ComputeInstance) {
                " (a compute instance holds its user's home directory)"
            } else {
                ""
            }
        ));
        session.close().await;
        return 1;
    }
    let entry = plan.entries.iter().find(|e| e.address == address);
    if let Some(entry) = entry
        && entry.actions.iter().any(|a| *a != Action::NoOp)
    {
        let what = if entry.actions.contains(&Action::Replace) {
            "would be replaced"
        } else {
            "has pending changes"
        };
        output::error(&format!(
            "not imported: {address} {what} ({}); run `amlctl plan` and `amlctl apply` first (apply tags what it changes), or align the manifest",
            entry.reason
        ));
        session.close().await;
        return 1;
    }
    let Some(ws) = workspaces.get(&target.workspace) else {
        output::error(&format!("workspace {} is unknown", target.workspace));
        session.close().await;
        return 1;
    };
    let (_cancel_tx, cancel_rx) = watch::channel(false);
    let apply_opts = ApplyOptions {
        parallelism: 1,
        progress: ProgressMode::Quiet,
        cancel: cancel_rx,
        secrets: if arm.sandbox {
            SecretResolver::sandbox()
        } else {
            SecretResolver::new(session.key_vault())
        }
        .confined_to(Some(project.config.root.clone())),
        poll_interval: Duration::from_millis(arm.poll_interval_ms.clamp(1, 30_000)),
        wait_timeout: Duration::from_secs(arm.operation_timeout.max(1)),
        workspaces: workspaces
            .iter()
            .map(|(a, w)| (a.clone(), context::workspace_id(w)))
            .collect(),
    };
    let outcome =
        amlctl_apply::import(target, live_compute, ws, &session.client, &apply_opts).await;
    session.close().await;
    match outcome {
        Some(Outcome::Succeeded) => {
            output::print_stdout(&format!(
                "Imported {address}: it carries {OWNERSHIP_TAG}: {OWNERSHIP_TAG_VALUE} and is managed by amlctl (prune may delete it once its manifest is removed)."
            ));
            0
        }
        Some(Outcome::Failed { message }) => {
            output::error(&format!("import of {address} failed: {message}"));
            1
        }
        _ => {
            output::error(&format!("import of {address} did not run"));
            1
        }
    }
}
