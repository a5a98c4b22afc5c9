//! `amlctl import NAME`: mark an existing compute as managed by writing the ownership tag.

use std::path::Path;
use std::time::Duration;

use amlctl_apply::{ApplyOptions, Outcome, ProgressMode};
use amlctl_manifest::{OWNERSHIP_TAG, OWNERSHIP_TAG_VALUE};
use amlctl_plan::{Action, PlanOptions};
use tokio::sync::watch;

use crate::args::ArmArgs;
use crate::error::{CliError, CliResult, Exit};
use crate::output;
use crate::workflow::{self, ProjectRef, Session};

/// Runs import: writes the ownership tag when the live compute matches its manifest.
pub async fn run(path: &Path, name: &str, arm: &ArmArgs) -> CliResult<Exit> {
    let project = workflow::load(path, false)?;
    let matches: Vec<_> = project
        .targets
        .iter()
        .filter(|t| {
            t.name.eq_ignore_ascii_case(name)
                || amlctl_vocab::Address::new(&t.workspace, &t.name).to_string() == name
        })
        .collect();
    let target = match matches.as_slice() {
        [one] => *one,
        [] => {
            return Err(CliError::new(format!(
                "no manifest declares {name}: write one first (`amlctl export --workspace ALIAS` writes manifests for existing computes), then import it"
            )));
        }
        many => {
            let addresses: Vec<String> = many
                .iter()
                .map(|t| amlctl_vocab::Address::new(&t.workspace, &t.name).to_string())
                .collect();
            return Err(CliError::new(format!(
                "{name} is declared in several workspaces ({}); name one as WORKSPACE/NAME",
                addresses.join(", ")
            )));
        }
    };
    let address = amlctl_vocab::Address::new(&target.workspace, &target.name).to_string();
    workflow::with_session(&ProjectRef::of(&project), arm, async |session: &Session| {
    let aliases = [target.workspace.clone()];
    let (workspaces, live) = workflow::read_live(session, &project.config, &aliases).await;
    let live = live.map_err(|e| CliError::new(format!("cannot read live state: {e}")))?;
    let Some(live_compute) = live.get(&target.workspace).and_then(|cs| {
        cs.iter()
            .find(|c| c.name.eq_ignore_ascii_case(&target.name))
    }) else {
        return Err(CliError::new(format!(
            "{address} does not exist in Azure; `amlctl apply` creates it (managed from the start)"
        )));
    };
    let tagged = amlctl_apply::is_managed(live_compute);
    if tagged {
        output::print_stdout(&format!("{address} is already managed by amlctl."));
        return Ok(Exit::Ok);
    }
    // A compute instance is not updated by PUT (issue #14 rule 4): the ownership tag can only
    // be written when amlctl creates it. Nothing is sent.
    if live_compute.compute_type == Some(amlctl_manifest::ComputeType::ComputeInstance) {
        return Err(CliError::new(format!(
            "not imported: {address} is a compute instance, and the service does not let an existing instance be changed (its tags included), so the ownership tag `{OWNERSHIP_TAG}: {OWNERSHIP_TAG_VALUE}` cannot be added. Its manifest still manages it (`amlctl plan`/`apply`: start, stop, gated replace); only `prune` leaves it alone, since prune deletes instances that amlctl created (they carry the tag from their creation). To hand it to prune, recreate it with `amlctl apply --replace {address}` (the instance holds its user's home directory: save it first)."
        )));
    }
    let opts = PlanOptions {
        targets: vec![address.clone()],
        root: Some(project.config.root.clone()),
        ..PlanOptions::default()
    };
    let plan = amlctl_plan::plan(&project.targets, &workspaces, &live, &opts);
    if let Some(err) = plan.errors.iter().find(|e| e.address == address) {
        return Err(CliError::new(format!(
            "not imported: {address} differs from its manifest in a way that forces a replacement ({}). Importing must not destroy anything{}; align the manifest with the live compute (`amlctl export` shows it), then import.",
            err.message,
            if live_compute.compute_type == Some(amlctl_manifest::ComputeType::ComputeInstance) {
                " (a compute instance holds its user's home directory)"
            } else {
                ""
            }
        )));
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
        return Err(CliError::new(format!(
            "not imported: {address} {what} ({}); run `amlctl plan` and `amlctl apply` first (apply tags what it changes), or align the manifest",
            entry.reason
        )));
    }
    let Some(ws) = workspaces.get(&target.workspace) else {
        return Err(CliError::new(format!("workspace {} is unknown", target.workspace)));
    };
    let (_cancel_tx, cancel_rx) = watch::channel(false);
    let apply_opts = ApplyOptions {
        parallelism: 1,
        progress: ProgressMode::Quiet,
        cancel: cancel_rx,
        secrets: workflow::secret_resolver(arm, session, Some(project.config.root.clone())),
        poll_interval: Duration::from_millis(arm.poll_interval_ms.clamp(1, 30_000)),
        wait_timeout: Duration::from_secs(arm.operation_timeout.max(1)),
        workspaces: workflow::workspace_ids(&workspaces),
    };
    let outcome =
        amlctl_apply::import(target, live_compute, ws, &session.client, &apply_opts).await;
    match outcome {
        Some(Outcome::Succeeded) => {
            output::print_stdout(&format!(
                "Imported {address}: it carries {OWNERSHIP_TAG}: {OWNERSHIP_TAG_VALUE} and is managed by amlctl (prune may delete it once its manifest is removed)."
            ));
            Ok(Exit::Ok)
        }
        Some(Outcome::Failed { message }) => Err(CliError::new(format!(
            "import of {address} failed: {message}"
        ))),
        _ => Err(CliError::new(format!("import of {address} did not run"))),
    }
    })
    .await
}
