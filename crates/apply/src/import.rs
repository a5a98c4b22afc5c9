//! The import step: writing the ownership tag onto an existing compute (`amlctl import`).

use amlctl_arm::ArmClient;
use amlctl_manifest::{LiveCompute, OWNERSHIP_TAG, OWNERSHIP_TAG_VALUE, Target, Workspace};
use amlctl_plan::{Action, Plan, PlanEntry};
use amlctl_vocab::Address;

use crate::{ApplyOptions, Outcome, apply};

/// A plan with one entry: the in-place update of `live` that adds the ownership tag and changes
/// nothing else ([`amlctl_plan::import_step`]), bound to the live compute's fingerprint.
pub fn import_plan(target: &Target, live: &LiveCompute, ws: &Workspace) -> Plan {
    let address = Address::new(&target.workspace, &target.name).to_string();
    let step = amlctl_plan::import_step(target, live, ws);
    let mut plan = Plan::empty();
    plan.entries.push(PlanEntry {
        address,
        workspace: target.workspace.clone(),
        name: target.name.clone(),
        compute_type: Some(target.compute_type),
        actions: vec![Action::Update],
        reason: format!("import: write the ownership tag {OWNERSHIP_TAG}: {OWNERSHIP_TAG_VALUE}"),
        changes: Vec::new(),
        before: None,
        after: None,
        steps: vec![step],
        live_fingerprint: Some(amlctl_plan::fingerprint(live)),
        source: Some(target.source.clone()),
        unverifiable: Vec::new(),
        ignore_changes: Vec::new(),
    });
    plan
}

/// True when the live compute already carries the ownership tag.
pub fn is_managed(live: &LiveCompute) -> bool {
    live.raw
        .pointer(&format!("/tags/{OWNERSHIP_TAG}"))
        .and_then(|v| v.as_str())
        == Some(OWNERSHIP_TAG_VALUE)
}

/// Writes the ownership tag onto `live` (see [`import_plan`]); the outcome of that one target,
/// `None` when it did not run.
pub async fn import(
    target: &Target,
    live: &LiveCompute,
    ws: &Workspace,
    client: &ArmClient,
    opts: &ApplyOptions,
) -> Option<Outcome> {
    let plan = import_plan(target, live, ws);
    let report = apply(&plan, client, opts, None).await;
    report.targets.into_iter().next().map(|t| t.outcome)
}
