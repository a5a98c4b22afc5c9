//! The ARM requests of a plan entry: create/overwrite bodies (secrets forced to the
//! placeholder), in-place bodies laid over live values, and the PUT, PATCH, DELETE and POST steps.

use std::collections::BTreeMap;

use amlctl_manifest::fields::CREATE_ONLY_ARM_PROPERTIES;
use amlctl_manifest::{ArmBody, ComputeType, LiveCompute, REDACTED, Target, Workspace};
use amlctl_vocab::Method;
use serde_json::{Map, Value, json};

use super::secrets::without_secrets;
use crate::model::{Action, Step};

/// The ARM body a target is created (or overwritten) with: `Target::to_arm`, with every secret
/// slot forced to the placeholder (defence in depth: bodies end up in outputs and plan files).
pub(super) fn arm_body(t: &Target, ws: &Workspace) -> ArmBody {
    let mut arm = t.to_arm(ws);
    for slot in &arm.secrets {
        if let Some(v) = arm.body.pointer_mut(&slot.pointer) {
            *v = Value::String(REDACTED.to_string());
        }
    }
    arm
}

/// Deep merge for in-place bodies: `over` (what the user wrote) wins; objects merge key by key,
/// except `tags` (a whole map, as the diff treats it) and `identity` (one unit: a written
/// `type: system_assigned` must not inherit the live user-assigned list); arrays and scalars are
/// replaced.
pub(super) fn merge(
    base: &Map<String, Value>,
    over: &Map<String, Value>,
    top: bool,
) -> Map<String, Value> {
    let mut out = base.clone();
    for (k, v) in over {
        let merged = match (out.get(k), v) {
            (Some(Value::Object(b)), Value::Object(o))
                if !(top && (k == "tags" || k == "identity")) =>
            {
                Value::Object(merge(b, o, false))
            }
            _ => v.clone(),
        };
        out.insert(k.clone(), merged);
    }
    out
}

/// The body of an in-place update: `to_arm` of the manifest laid over the live object's manifest
/// form, so keys the user did not write keep their live values instead of the SDK defaults
/// (`to_arm` fills those for creation; sent to an existing compute, a default such as the VM
/// size of an adopted cluster would be a change the service refuses).
pub(super) fn update_body(t: &Target, lc: &LiveCompute, ws: &Workspace) -> ArmBody {
    let mut over = t.clone();
    over.spec = merge(&without_secrets(&lc.spec, t), &t.spec, true);
    let mut arm = arm_body(&over, ws);
    // Create-only properties (`x-ms-mutability: [read, create]` in the spec) keep their live
    // value: `to_arm` derives them for a creation, and the service refuses to change them.
    for (key, _source) in CREATE_ONLY_ARM_PROPERTIES {
        let live = lc.raw.pointer(&format!("/properties/{key}")).cloned();
        if let Some(props) = arm
            .body
            .get_mut("properties")
            .and_then(Value::as_object_mut)
        {
            match live {
                Some(v) if !v.is_null() => {
                    props.insert((*key).to_string(), v);
                }
                _ => {
                    props.remove(*key);
                }
            }
        }
    }
    arm
}

/// The PUT that writes the ownership tag onto an existing compute without changing anything else
/// (`amlctl import`): the in-place body (live values, the manifest's keys on top, the tag added).
pub fn import_step(t: &Target, live: &LiveCompute, ws: &Workspace) -> Step {
    put_step(Action::Update, ws, &t.name, &update_body(t, live, ws))
}

pub(super) fn query(api_version: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("api-version".to_string(), api_version.to_string())])
}

pub(super) fn put_step(action: Action, ws: &Workspace, name: &str, arm: &ArmBody) -> Step {
    Step {
        action,
        method: Method::Put,
        path: ws.compute_path(name),
        query: query(&arm.api_version),
        body: Some(arm.body.clone()),
        secrets: arm.secrets.clone(),
    }
}

pub(super) fn delete_step(
    action: Action,
    ws: &Workspace,
    name: &str,
    ct: Option<ComputeType>,
) -> Step {
    let api = ct.map_or(
        ComputeType::AmlCompute.api_version(),
        ComputeType::api_version,
    );
    let mut q = query(api);
    let underlying = if ct.is_some_and(ComputeType::is_attached) {
        "Detach"
    } else {
        "Delete"
    };
    q.insert("underlyingResourceAction".into(), underlying.into());
    Step {
        action,
        method: Method::Delete,
        path: ws.compute_path(name),
        query: q,
        body: None,
        secrets: Vec::new(),
    }
}

pub(super) fn post_step(
    action: Action,
    ws: &Workspace,
    name: &str,
    ct: ComputeType,
    verb: &str,
) -> Step {
    Step {
        action,
        method: Method::Post,
        path: format!("{}/{verb}", ws.compute_path(name)),
        query: query(ct.api_version()),
        body: None,
        secrets: Vec::new(),
    }
}

/// PATCH with the full desired scale settings (`ClusterUpdateParameters`).
pub(super) fn patch_step(ws: &Workspace, name: &str, arm: &ArmBody, t: &Target) -> Step {
    let scale = arm
        .body
        .pointer("/properties/properties/scaleSettings")
        .cloned()
        .unwrap_or_else(|| {
            // Built from the manifest when the body has none (it always should).
            let mut s = Map::new();
            if let Some(v) = t.spec.get("max_instances") {
                s.insert("maxNodeCount".into(), v.clone());
            }
            if let Some(v) = t.spec.get("min_instances") {
                s.insert("minNodeCount".into(), v.clone());
            }
            if let Some(secs) = t
                .spec
                .get("idle_time_before_scale_down")
                .and_then(Value::as_u64)
            {
                s.insert(
                    "nodeIdleTimeBeforeScaleDown".into(),
                    Value::String(format!("PT{secs}S")),
                );
            }
            Value::Object(s)
        });
    Step {
        action: Action::Update,
        method: Method::Patch,
        path: ws.compute_path(name),
        query: query(&arm.api_version),
        body: Some(json!({"properties": {"properties": {"scaleSettings": scale}}})),
        secrets: Vec::new(),
    }
}
