//! What live provisioning and instance states call for: waiting, failed creates versus failed
//! updates, starting and stopping, and the ownership tag.

use amlctl_manifest::{
    ComputeType, DesiredState, LiveCompute, OWNERSHIP_TAG, OWNERSHIP_TAG_VALUE, Target,
};
use serde_json::Value;

pub(super) fn owned(lc: &LiveCompute) -> bool {
    [lc.raw.get("tags"), lc.spec.get("tags")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .any(|m| {
            m.iter().any(|(k, v)| {
                k.eq_ignore_ascii_case(OWNERSHIP_TAG)
                    && v.as_str()
                        .is_some_and(|s| s.eq_ignore_ascii_case(OWNERSHIP_TAG_VALUE))
            })
        })
}

/// `Creating`, `Updating`, `Deleting`, and `Unknown` (issue #14 rule 7: a state the service
/// reports while it has not settled; plan again later).
pub(super) fn transitional(ps: Option<&str>) -> bool {
    ps.is_some_and(|s| {
        ["Creating", "Updating", "Deleting", "Unknown"]
            .iter()
            .any(|t| s.eq_ignore_ascii_case(t))
    })
}

pub(super) fn provisioning_errors(lc: &LiveCompute) -> String {
    let parts: Vec<String> = lc
        .provisioning_errors
        .iter()
        .map(|e| {
            let inner = e.get("error").unwrap_or(e);
            let code = inner.get("code").and_then(Value::as_str);
            let msg = inner.get("message").and_then(Value::as_str);
            match (code, msg) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (None, Some(m)) => m.to_string(),
                (Some(c), None) => c.to_string(),
                (None, None) => e.to_string(),
            }
        })
        .collect();
    if parts.is_empty() {
        "no error details".to_string()
    } else {
        parts.join("; ")
    }
}

/// Appended to the reason of a compute-instance replace.
pub(super) const HOME_WARNING: &str = " (WARNING: a compute instance holds its user's home directory; files not saved elsewhere are lost)";

/// Appended to the reason of a detach and re-attach.
pub(super) const DETACH_WARNING: &str =
    " (breaks, until attached again: jobs and online deployments that name this compute)";

/// True when GET shows that a Failed (or Canceled) compute worked before, so its state is a
/// failed *update*, not a failed create (issue #14 rule 7). What GET offers:
/// * compute instance: `properties.properties.lastOperation` names the last operation; anything
///   but a `Create` (`Start`, `Stop`, `Restart`, `Reimage`), or a `Create` whose status is
///   `Succeeded`, means it ran (arm-recordings py-aiml-ci_stop_start_restart [11], [16], [23]).
///   No `lastOperation` (it is `null` until the create settles) means it never ran.
/// * cluster: `allocationState` and `allocationStateTransitionTime` are `null` in the create
///   response and set on the first GET after the cluster was provisioned (arm-recordings
///   cli-ml-compute_aml [0] vs [2]); ASSUMPTION: a failed create leaves them `null`, so a
///   transition time means the cluster worked.
/// * attached types: nothing in GET tells; ASSUMPTION: a Failed attachment is a failed attach
///   (amlctl never updates an attachment in place), and detaching does not touch the resource.
pub(super) fn has_worked(lc: &LiveCompute) -> bool {
    let p = lc.raw.pointer("/properties/properties");
    let set = |key: &str| p.and_then(|p| p.get(key)).is_some_and(|v| !v.is_null());
    match lc.compute_type {
        Some(ComputeType::ComputeInstance) => {
            let last = p.and_then(|p| p.get("lastOperation"));
            let name = last
                .and_then(|l| l.get("operationName"))
                .and_then(Value::as_str);
            let status = last
                .and_then(|l| l.get("operationStatus"))
                .and_then(Value::as_str);
            let state = p.and_then(|p| p.get("state")).and_then(Value::as_str);
            if state.is_some_and(|s| s.eq_ignore_ascii_case("CreateFailed")) {
                return false;
            }
            match name {
                None => false,
                Some(n) if n.eq_ignore_ascii_case("Create") => {
                    status.is_some_and(|s| s.eq_ignore_ascii_case("Succeeded"))
                }
                Some(_) => true,
            }
        }
        Some(ComputeType::AmlCompute) => set("allocationStateTransitionTime"),
        _ => false,
    }
}

/// What the instance state calls for, given `state:`.
pub(super) enum InstanceMove {
    None,
    Start,
    Stop,
    Wait(String),
    Odd(String),
}

pub(super) fn instance_move(t: &Target, lc: &LiveCompute) -> InstanceMove {
    let (Some(want), Some(have)) = (t.state, lc.instance_state.as_deref()) else {
        return InstanceMove::None;
    };
    let is = |names: &[&str]| names.iter().any(|n| have.eq_ignore_ascii_case(n));
    let running = is(&["Running", "JobRunning"]);
    let stopped = is(&["Stopped"]);
    if is(&[
        "Creating",
        "Starting",
        "Stopping",
        "Restarting",
        "SettingUp",
        "UserSettingUp",
        "Deleting",
        "Resizing",
    ]) {
        return InstanceMove::Wait(have.to_string());
    }
    match want {
        DesiredState::Running if running => InstanceMove::None,
        DesiredState::Stopped if stopped => InstanceMove::None,
        DesiredState::Running if stopped => InstanceMove::Start,
        DesiredState::Stopped if running => InstanceMove::Stop,
        _ => InstanceMove::Odd(have.to_string()),
    }
}

pub(super) fn state_word(s: DesiredState) -> &'static str {
    match s {
        DesiredState::Running => "running",
        DesiredState::Stopped => "stopped",
    }
}
