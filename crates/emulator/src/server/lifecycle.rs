//! Lazy LRO transitions: a compute's pending operation is applied once its deadline passed.

use serde_json::{Map, Value, json};

use super::clock::rfc3339;
use crate::compute;
use crate::state::{DeletedName, OpKind, Outcome, Pending, State};

/// Applies every pending transition whose deadline has passed. Returns whether anything changed.
pub(super) fn settle(state: &mut State, now: i64) -> bool {
    let mut changed = false;
    let mut remove = Vec::new();
    let mut remove_resources = Vec::new();
    let mut deleted_sizes = Vec::new();
    let mut deleted_instances = Vec::new();
    let due: Vec<usize> = state
        .computes()
        .iter()
        .enumerate()
        .filter(|(_, c)| c.pending.as_ref().is_some_and(|p| p.ends_at_ms <= now))
        .map(|(i, _)| i)
        .collect();
    for i in due {
        let rec = state.compute_mut(i);
        let Some(p) = rec.pending.clone() else {
            continue;
        };
        changed = true;
        rec.pending = None;
        let ts = rfc3339(p.ends_at_ms);
        let ctype = compute::compute_type_of(&rec.resource).unwrap_or_default();
        let Some(props) = rec
            .resource
            .get_mut("properties")
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        props.insert("modifiedOn".into(), json!(ts));
        match (&p.kind, &p.outcome) {
            (OpKind::Delete, Outcome::Succeeded) => {
                remove.push(i);
                if ctype == "ComputeInstance" {
                    deleted_instances.push(crate::state::DeletedName {
                        name: rec.name.clone(),
                        location: rec.location.clone(),
                        deleted_at_ms: p.ends_at_ms,
                    });
                }
                if let Some(size) = props
                    .get("properties")
                    .and_then(|p| p.get("vmSize"))
                    .and_then(Value::as_str)
                {
                    deleted_sizes.push((
                        format!(
                            "/subscriptions/{}/resourcegroups/{}/workspaces/{}/computes/{}",
                            rec.subscription_id, rec.resource_group, rec.workspace, rec.name
                        )
                        .to_ascii_lowercase(),
                        size.to_string(),
                    ));
                }
                if let Some(r) = &p.delete_underlying {
                    remove_resources.push(r.clone());
                }
            }
            (OpKind::Delete, Outcome::Canceled) => {
                props.insert("provisioningState".into(), json!("Succeeded"));
            }
            (OpKind::Create | OpKind::Update, Outcome::Succeeded) => {
                settle_written(props, &ctype, &p, &ts);
            }
            (OpKind::Start | OpKind::Stop | OpKind::Restart, outcome) => {
                settle_power(props, &p, outcome, &ts);
            }
            (_, Outcome::Failed { code, message }) => {
                settle_failed(props, &ctype, &p, code, message, &ts);
            }
            (_, Outcome::Canceled) => {
                props.insert("provisioningState".into(), json!("Canceled"));
            }
        }
    }
    apply_removals(
        state,
        remove,
        deleted_sizes,
        deleted_instances,
        remove_resources,
    );
    let expired = state.expire_tokens(now / 1000);
    changed || expired
}

/// A create or update succeeded: the compute is `Succeeded`, a cluster sits at its minimum
/// node count, a new compute instance is `Running`.
fn settle_written(props: &mut Map<String, Value>, ctype: &str, p: &Pending, ts: &str) {
    props.insert("provisioningState".into(), json!("Succeeded"));
    props.insert("provisioningErrors".into(), Value::Null);
    if let Some(Value::Object(inner)) = props.get_mut("properties") {
        if ctype == "AmlCompute" {
            let min = inner
                .get("scaleSettings")
                .and_then(|s| s.get("minNodeCount"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            inner.insert("currentNodeCount".into(), json!(min));
            inner.insert("targetNodeCount".into(), json!(min));
            inner.insert("nodeStateCounts".into(), compute::node_counts(min));
            inner.insert("allocationState".into(), json!("Steady"));
            inner.insert("allocationStateTransitionTime".into(), json!(ts));
        }
        if ctype == "ComputeInstance" && p.kind == OpKind::Create {
            inner.insert("state".into(), json!("Running"));
            set_last_op(inner, "Create", "Succeeded", ts);
        }
    }
}

/// A start, stop or restart ended: the instance reaches its target state, or goes back to the
/// one it had if the operation failed.
fn settle_power(props: &mut Map<String, Value>, p: &Pending, outcome: &Outcome, ts: &str) {
    let (name, target) = match p.kind {
        OpKind::Start => ("Start", "Running"),
        OpKind::Stop => ("Stop", "Stopped"),
        _ => ("Restart", "Running"),
    };
    if let Some(Value::Object(inner)) = props.get_mut("properties") {
        if *outcome == Outcome::Succeeded {
            inner.insert("state".into(), json!(target));
            set_last_op(inner, name, "Succeeded", ts);
        } else {
            let prev = p.prev_state.clone().unwrap_or_else(|| "Running".into());
            inner.insert("state".into(), json!(prev));
            set_last_op(inner, name, &format!("{name}Failed"), ts);
        }
    }
}

/// An operation failed: the compute is `Failed` with the error; a compute instance whose
/// create failed is `CreateFailed`.
fn settle_failed(
    props: &mut Map<String, Value>,
    ctype: &str,
    p: &Pending,
    code: &str,
    message: &str,
    ts: &str,
) {
    props.insert("provisioningState".into(), json!("Failed"));
    props.insert(
        "provisioningErrors".into(),
        json!([{"error": {"code": code, "message": message}}]),
    );
    if ctype == "ComputeInstance"
        && p.kind == OpKind::Create
        && let Some(Value::Object(inner)) = props.get_mut("properties")
    {
        inner.insert("state".into(), json!("CreateFailed"));
        set_last_op(inner, "Create", "CreateFailed", ts);
    }
}

/// Carries out the deletes that settled: removes the computes (`remove`, ascending indexes),
/// remembers their sizes and instance names, and removes deleted underlying resources.
fn apply_removals(
    state: &mut State,
    remove: Vec<usize>,
    deleted_sizes: Vec<(String, String)>,
    deleted_instances: Vec<DeletedName>,
    remove_resources: Vec<String>,
) {
    for i in remove.into_iter().rev() {
        state.remove_compute(i);
    }
    for (k, v) in deleted_sizes {
        state.add_deleted_size(k, v);
    }
    // The hold list stays bounded (`add_deleted_instance`).
    for d in deleted_instances {
        state.add_deleted_instance(d);
    }
    for r in remove_resources {
        state.remove_resource(&r);
    }
}

/// Sets a compute instance's `lastOperation`.
pub(super) fn set_last_op(inner: &mut Map<String, Value>, name: &str, status: &str, ts: &str) {
    inner.insert(
        "lastOperation".into(),
        json!({"operationName": name, "operationTime": ts, "operationStatus": status, "operationTrigger": "User"}),
    );
}
