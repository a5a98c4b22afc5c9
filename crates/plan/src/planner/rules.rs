//! The replace rules: what forces a replacement (a type change, a failed create, a key whose
//! policy is `replace`, `--replace`), and what may refuse one (`lifecycle.prevent_destroy`, a
//! replace that is neither allowed by `lifecycle.allow_replace` nor requested).

use amlctl_manifest::{LiveCompute, Target, Workspace};
use serde_json::Value;

use super::describe::describe_change;
use super::select::{Ctx, compute_id};
use super::state::{has_worked, provisioning_errors};
use crate::model::{Change, PlanError, Policy};
use crate::policy::replace_note;

/// Hint of a replace that is not allowed.
pub(super) fn replace_hint(address: &str) -> String {
    format!("add `lifecycle: {{allow_replace: true}}` or run with `--replace {address}`")
}

/// A refusal of target `t`, located at the manifest key `key` when given (else the document).
pub(super) fn target_error(
    t: &Target,
    address: &str,
    message: String,
    hint: Option<String>,
    key: Option<&str>,
) -> PlanError {
    PlanError {
        address: address.to_string(),
        message,
        hint,
        source: key
            .and_then(|k| t.key_locations.get(k).cloned())
            .or_else(|| Some(t.source.clone())),
    }
}

/// Why the live compute itself calls for a replacement: its type differs from the manifest's,
/// or its create failed. Refuses a live compute of a type amlctl does not manage, and a failed
/// compute that worked before (unless `--replace` names it).
pub(super) fn live_replace_reasons(
    t: &Target,
    lc: &LiveCompute,
    address: &str,
    replace_requested: bool,
) -> Result<Vec<String>, PlanError> {
    let mut why = Vec::new();
    if lc.compute_type != Some(t.compute_type) {
        let Some(live_type) = lc.compute_type else {
            let raw_type = lc
                .raw
                .pointer("/properties/computeType")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            return Err(target_error(
                t,
                address,
                format!(
                    "a compute named {} of type {raw_type}, which amlctl does not manage, already exists",
                    lc.name
                ),
                Some("rename the target, or remove the existing compute by hand".into()),
                None,
            ));
        };
        why.push(format!(
            "type {live_type} → {} forces replacement",
            t.compute_type
        ));
    }
    let ps = lc.provisioning_state.as_deref();
    let failed =
        ps.is_some_and(|s| s.eq_ignore_ascii_case("Failed") || s.eq_ignore_ascii_case("Canceled"));
    if failed {
        let state = ps.unwrap_or_default();
        if has_worked(lc) && !replace_requested {
            return Err(target_error(
                t,
                address,
                format!(
                    "live provisioningState is {state}, but {} has worked before (a failed update, not a failed create), so amlctl does not delete it; the service says: {}",
                    lc.name,
                    provisioning_errors(lc)
                ),
                Some(format!(
                    "fix the cause the service names (or revert the change that failed), then plan again; to delete and create it anyway run with `--replace {address}`"
                )),
                None,
            ));
        }
        why.push(format!(
            "live provisioningState is {state} ({}) and it never worked (a failed create); the service does not reuse a failed name, so it must be replaced",
            provisioning_errors(lc)
        ));
    }
    Ok(why)
}

/// Adds the changes whose policy forces a replacement to `why`; returns the first such key
/// (where a refusal points).
pub(super) fn change_replace_reasons(
    t: &Target,
    changes: &[Change],
    why: &mut Vec<String>,
) -> Option<String> {
    let mut first = None;
    for c in changes.iter().filter(|c| c.policy == Policy::Replace) {
        let note = replace_note(t.compute_type, &c.key);
        let mut s = format!("{} forces replacement", describe_change(c));
        if !note.is_empty() {
            s.push_str(&format!(" ({note})"));
        }
        why.push(s);
        first.get_or_insert_with(|| c.key.clone());
    }
    first
}

/// Refuses the replacement `why` describes when `lifecycle.prevent_destroy` (of this or another
/// alias of the same compute) forbids it, or when it is neither allowed nor requested.
pub(super) fn check_replace_allowed(
    cx: &Ctx<'_>,
    t: &Target,
    ws: &Workspace,
    address: &str,
    why: &str,
    replace_key: Option<&str>,
    replace_requested: bool,
) -> Result<(), PlanError> {
    if t.lifecycle.prevent_destroy || cx.protected.contains(&compute_id(ws, &t.name)) {
        return Err(target_error(
            t,
            address,
            format!("{why}, but lifecycle.prevent_destroy forbids replacing it"),
            Some(
                "revert the change, or remove `prevent_destroy` from the manifest's lifecycle block"
                    .into(),
            ),
            replace_key,
        ));
    }
    if !(t.lifecycle.allow_replace || replace_requested) {
        return Err(target_error(
            t,
            address,
            format!("{why}, but replacing is not allowed"),
            Some(replace_hint(address)),
            replace_key,
        ));
    }
    Ok(())
}
