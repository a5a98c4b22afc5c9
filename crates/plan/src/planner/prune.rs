//! Live computes no manifest declares: delete or detach them when the workspace prunes and
//! they carry the ownership tag (unless a manifest protects them), else list them as unmanaged.

use std::collections::{BTreeMap, BTreeSet};

use amlctl_manifest::{
    ComputeType, LiveCompute, OWNERSHIP_TAG, OWNERSHIP_TAG_VALUE, REDACTED, Target, Workspace,
};
use amlctl_vocab::Address;
use serde_json::Value;

use super::compare::fingerprint;
use super::secrets::redacted_live;
use super::select::{Ctx, compute_id};
use super::state::{owned, transitional};
use super::steps::delete_step;
use crate::model::{Action, Change, Plan, PlanEntry, PlanError, Unmanaged};
use crate::normalize::leaves;
use crate::policy::policy_for;

/// Plans every selected live compute that no target declares (by compute id, whatever alias
/// declares it), into `out`. Planning a folder below amlctl.yaml sees only part of the
/// manifests, so it neither prunes nor reports anything undeclared.
pub(super) fn plan_undeclared(
    cx: &mut Ctx<'_>,
    targets: &[Target],
    workspaces: &BTreeMap<String, Workspace>,
    live: &BTreeMap<String, Vec<LiveCompute>>,
    out: &mut Plan,
) {
    if let Some(scope) = &cx.opts.scope {
        let shown = if scope.ends_with(".yaml") || scope.ends_with(".yml") {
            scope.clone()
        } else {
            format!("{}/", scope.trim_end_matches('/'))
        };
        cx.warnings.push(format!(
            "planning manifests under {shown} only; run from the repository root to prune"
        ));
        return;
    }
    // Declared computes by compute id: two aliases that reach one workspace must not let prune
    // destroy what a manifest declares (#19).
    let declared: BTreeSet<String> = targets
        .iter()
        .filter_map(|t| workspaces.get(&t.workspace).map(|w| compute_id(w, &t.name)))
        .collect();
    for (alias, computes) in live {
        if !cx.ws_selected(alias) {
            continue;
        }
        let ws = workspaces.get(alias);
        let mut list: Vec<&LiveCompute> = computes
            .iter()
            .filter(|c| match ws {
                Some(w) => !declared.contains(&compute_id(w, &c.name)),
                None => !targets
                    .iter()
                    .any(|t| t.workspace == *alias && t.name.eq_ignore_ascii_case(&c.name)),
            })
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        for lc in list {
            if !cx.target_selected(alias, &lc.name) {
                continue;
            }
            cx.mark(alias, &lc.name);
            undeclared(cx, alias, ws, lc, out);
        }
    }
}

/// One undeclared live compute: a wait, a refusal, a delete or detach, or an unmanaged line.
fn undeclared(cx: &Ctx<'_>, alias: &str, ws: Option<&Workspace>, lc: &LiveCompute, out: &mut Plan) {
    let address = Address::new(alias, &lc.name).to_string();
    let type_name = lc.compute_type.map_or_else(
        || {
            lc.raw
                .pointer("/properties/computeType")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_string()
        },
        |c| c.arm_name().to_string(),
    );
    let prune = ws.is_some_and(|w| w.prune);
    let note = match (prune, owned(lc), lc.compute_type) {
        (true, true, Some(ct)) => {
            let Some(ws) = ws else { return };
            prune_owned(cx, alias, ws, lc, ct, address, out);
            return;
        }
        (true, true, None) => format!(
            "carries the ownership tag but its type {type_name} is unknown to amlctl: left alone"
        ),
        (true, false, _) => format!(
            "no manifest declares it; prune leaves it alone because it does not carry {OWNERSHIP_TAG}: {OWNERSHIP_TAG_VALUE}"
        ),
        (false, _, _) => format!(
            "no manifest declares it; left alone (workspace {alias} does not have prune: true)"
        ),
    };
    out.unmanaged.push(Unmanaged {
        address,
        compute_type: type_name,
        note,
    });
}

/// An entry for an undeclared compute, with the given actions, reason, changes and steps.
fn prune_entry(
    alias: &str,
    lc: &LiveCompute,
    ct: ComputeType,
    address: String,
    action: Action,
    reason: String,
) -> PlanEntry {
    PlanEntry {
        address,
        workspace: alias.to_string(),
        name: lc.name.clone(),
        compute_type: Some(ct),
        actions: vec![action],
        reason,
        changes: Vec::new(),
        before: Some(Value::Object(redacted_live(&lc.spec, None))),
        after: None,
        steps: Vec::new(),
        live_fingerprint: Some(fingerprint(lc)),
        source: None,
        unverifiable: Vec::new(),
        ignore_changes: Vec::new(),
    }
}

/// An owned compute in a pruning workspace: wait while it is busy, refuse when a manifest
/// protects it through another alias, else delete (or detach) it.
fn prune_owned(
    cx: &Ctx<'_>,
    alias: &str,
    ws: &Workspace,
    lc: &LiveCompute,
    ct: ComputeType,
    address: String,
    out: &mut Plan,
) {
    if transitional(lc.provisioning_state.as_deref()) {
        out.entries.push(prune_entry(
            alias,
            lc,
            ct,
            address,
            Action::Wait,
            format!(
                "no manifest declares it (prune), but its provisioningState is {}: wait, then plan again",
                lc.provisioning_state.as_deref().unwrap_or_default()
            ),
        ));
        return;
    }
    if cx.protected.contains(&compute_id(ws, &lc.name)) {
        out.errors.push(PlanError {
            address,
            message: format!(
                "{} is declared with lifecycle.prevent_destroy; prune through workspace {alias} may not remove it",
                lc.name
            ),
            hint: Some("give each workspace a single alias in amlctl.yaml".into()),
            source: None,
        });
        return;
    }
    let (action, reason) = if ct.is_attached() {
        (
            Action::Detach,
            format!(
                "no manifest declares it, it carries {OWNERSHIP_TAG}: {OWNERSHIP_TAG_VALUE} and workspace {alias} has prune: true: detach (underlyingResourceAction=Detach; the attached resource itself is kept)"
            ),
        )
    } else {
        (
            Action::Delete,
            format!(
                "no manifest declares it, it carries {OWNERSHIP_TAG}: {OWNERSHIP_TAG_VALUE} and workspace {alias} has prune: true: delete"
            ),
        )
    };
    let mut entry = prune_entry(alias, lc, ct, address, action, reason);
    entry.changes = leaves(&redacted_live(&lc.spec, None))
        .into_iter()
        .map(|(path, v)| {
            let key = path.to_string();
            Change {
                policy: policy_for(ct, &key),
                sensitive: v.as_str() == Some(REDACTED),
                source: None,
                key,
                before: Some(v),
                after: None,
            }
        })
        .collect();
    entry.steps = vec![delete_step(action, ws, &lc.name, Some(ct))];
    out.entries.push(entry);
}
