//! Validation helpers of the write routes: the PUT request checks, and checks and lookups on
//! stored computes.

use serde_json::{Map, Value, json};

use super::ctx::{Ctx, eq, parse_body};
use super::shared::Inner;
use super::versions::PRIMARY_API_VERSION;
use crate::compute::{self, canonical_type};
use crate::error::ApiError;
use crate::state::{ComputeRec, OpKind};

/// A validated PUT body.
pub(super) struct PutRequest {
    /// The body without `properties`.
    pub body: Map<String, Value>,
    /// `properties`, read-only fields stripped, `computeType` canonical.
    pub props: Map<String, Value>,
    /// The canonical compute type.
    pub ctype: &'static str,
}

/// Parses and validates a PUT body on its own (no stored state): shape, `computeType`, the
/// spec schema, type/api-version pairing, name rules, enums and scale settings.
pub(super) fn validate_request(
    ctx: &Ctx,
    name: &str,
    version: &str,
) -> Result<PutRequest, ApiError> {
    let mut body = parse_body(ctx)?;
    let Some(Value::Object(mut props)) = body.remove("properties") else {
        return Err(ApiError::bad_request(
            "InvalidRequestContent",
            "The request content must contain a 'properties' object.",
        )
        .target("properties"));
    };
    let raw_type = props
        .get("computeType")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let Some(ctype) = canonical_type(&raw_type) else {
        return Err(ApiError::bad_request(
            "InvalidRequestContent",
            format!(
                "'{raw_type}' is not a valid computeType. Expected one of {}.",
                compute::COMPUTE_TYPES.join(", ")
            ),
        )
        .target("properties.computeType"));
    };
    props.insert("computeType".into(), json!(ctype));
    {
        let mut whole = body.clone();
        whole.insert("properties".into(), Value::Object(props.clone()));
        crate::schema::validate_put(&Value::Object(whole), ctype)?;
    }
    check_type_version(ctype, version)?;
    compute::validate_name(name, ctype)?;
    compute::strip_read_only(&mut props);
    compute::validate_enums(ctype, &props)?;
    if ctype == "AmlCompute"
        && let Some(s) = props.get("properties").and_then(|p| p.get("scaleSettings"))
    {
        compute::validate_scale_settings(s)?;
    }
    Ok(PutRequest { body, props, ctype })
}

/// Compute types that azureml-core (SDK v1, 1.61.0.post4) sends on api-version 2020-02-02, as its
/// recorded requests show (`crates/manifest/tests/golden/golden-azureml-core-1.61.0.post4/`).
pub(crate) const TYPES_ON_2020_02_02: [&str; 8] = [
    "AmlCompute",
    "ComputeInstance",
    "VirtualMachine",
    "HDInsight",
    "Batch",
    "Databricks",
    "DataLakeAnalytics",
    "Kubernetes",
];

/// `Batch` only on 2020-02-02; on 2020-02-02 only the types azureml-core sends there.
fn check_type_version(ctype: &str, version: &str) -> Result<(), ApiError> {
    if ctype == "Batch" && version != "2020-02-02" {
        return Err(ApiError::bad_request(
            "UnsupportedComputeType",
            format!(
                "Compute type 'Batch' is only supported with api-version 2020-02-02, not '{version}'."
            ),
        ));
    }
    if version == "2020-02-02" && !TYPES_ON_2020_02_02.contains(&ctype) {
        return Err(ApiError::bad_request(
            "UnsupportedComputeType",
            format!(
                "api-version 2020-02-02 does not serve compute type '{ctype}'; use api-version {PRIMARY_API_VERSION}."
            ),
        ));
    }
    Ok(())
}

/// A PUT over an existing compute: not while an operation runs, not over a `Failed` one.
pub(super) fn check_existing(g: &Inner, existing: Option<usize>) -> Result<(), ApiError> {
    let Some(i) = existing else {
        return Ok(());
    };
    let rec = &g.state.computes()[i];
    if let Some(e) = busy(rec) {
        return Err(e);
    }
    if provisioning_state(rec) == "Failed" {
        return Err(ApiError::bad_request(
            "ComputeNameInFailedState",
            format!(
                "Compute '{}' is in a failed state and its name cannot be reused. Delete it first.",
                rec.name
            ),
        ));
    }
    Ok(())
}

/// Checks `properties.resourceId` (must name a known resource; required by attach types).
/// Returns it and whether the compute counts as attached.
pub(super) fn check_attach(
    g: &Inner,
    props: &Map<String, Value>,
    ctype: &str,
    name: &str,
    lenient: bool,
) -> Result<(Option<String>, bool), ApiError> {
    let resource_id = props
        .get("resourceId")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut attached = false;
    match &resource_id {
        Some(rid) if !rid.is_empty() => {
            if !g.state.has_resource(rid) && !lenient {
                return Err(missing_resource(rid, "properties.resourceId"));
            }
            if !g.state.has_resource(rid) {
                return Err(ApiError::bad_request(
                    "UnderlyingResourceNotFound",
                    format!("The resource '{rid}' to attach as compute '{name}' was not found."),
                )
                .target("properties.resourceId"));
            }
            attached = !matches!(ctype, "AmlCompute" | "ComputeInstance");
        }
        _ => {
            if compute::requires_resource_id(ctype) {
                return Err(ApiError::bad_request(
                    "MissingResourceId",
                    format!("Compute type '{ctype}' attaches an existing resource: properties.resourceId is required."),
                )
                .target("properties.resourceId"));
            }
        }
    }
    Ok((resource_id, attached))
}

/// Compute instance names are unique per region.
pub(super) fn check_instance_name(
    g: &Inner,
    existing: Option<usize>,
    name: &str,
    location: &str,
) -> Result<(), ApiError> {
    let clash = g.state.computes().iter().enumerate().any(|(j, c)| {
        Some(j) != existing
            && eq(&c.name, name)
            && norm_loc(&c.location) == norm_loc(location)
            && compute::compute_type_of(&c.resource).as_deref() == Some("ComputeInstance")
    });
    if clash {
        return Err(ApiError::conflict(
            "ComputeNameNotAvailable",
            format!(
                "Compute name '{name}' is not available. Reason: AlreadyExists. Compute instance names must be unique within the Azure region '{location}'."
            ),
        ));
    }
    Ok(())
}

/// 409 `Conflict` when an operation on the compute is in progress.
pub(super) fn busy(rec: &ComputeRec) -> Option<ApiError> {
    let p = rec.pending.as_ref()?;
    let what = match p.kind {
        OpKind::Create => "creation",
        OpKind::Update => "update",
        OpKind::Delete => "deletion",
        OpKind::Start => "start",
        OpKind::Stop => "stop",
        OpKind::Restart => "restart",
    };
    Some(ApiError::conflict(
        "Conflict",
        format!(
            "Compute '{}' cannot be modified: an operation ({what}) is already in progress. Retry after it completes.",
            rec.name
        ),
    ))
}

/// The stored `provisioningState` (default `Succeeded`).
pub(super) fn provisioning_state(rec: &ComputeRec) -> String {
    rec.resource
        .get("properties")
        .and_then(|p| p.get("provisioningState"))
        .and_then(Value::as_str)
        .unwrap_or("Succeeded")
        .to_string()
}

/// A location normalised for comparison (`West Europe` = `westeurope`).
pub(super) fn norm_loc(l: &str) -> String {
    l.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The error for a referenced ARM resource that does not exist: 400 `UserError` naming the
/// resource the way ARM's `ResourceNotFound` does (an assumption: no attach of a missing
/// resource was recorded; see the README).
fn missing_resource(id: &str, field: &str) -> ApiError {
    let segs: Vec<&str> = id.split('/').filter(|s| !s.is_empty()).collect();
    let rg = segs
        .iter()
        .position(|s| s.eq_ignore_ascii_case("resourceGroups"))
        .and_then(|i| segs.get(i + 1))
        .copied()
        .unwrap_or("?");
    let what = segs
        .iter()
        .position(|s| s.eq_ignore_ascii_case("providers"))
        .map(|i| segs[i + 1..].join("/"))
        .unwrap_or_else(|| id.to_string());
    ApiError::bad_request(
        "UserError",
        format!(
            "The Resource '{what}' under resource group '{rg}' was not found (referenced by {field}). Create it first or correct the id."
        ),
    )
    .target(field)
}

/// Realistic checks of the ARM ids a PUT references besides `resourceId`: the subnet
/// (`properties.properties.subnet.id`) and user-assigned identities must exist.
pub(super) fn check_references(
    g: &Inner,
    body: &Map<String, Value>,
    props: &Map<String, Value>,
    region: &str,
) -> Result<(), ApiError> {
    let inner = props.get("properties");
    let subnet = inner
        .and_then(|p| p.get("subnet"))
        .and_then(|s| s.get("id"))
        .and_then(Value::as_str);
    if let Some(id) = subnet.filter(|s| !s.is_empty())
        && !g.state.has_resource(id)
    {
        let mut e = missing_resource(id, "properties.properties.subnet.id");
        e.service_region = Some(region.to_string());
        return Err(e);
    }
    if let Some(Value::Object(uai)) = body
        .get("identity")
        .and_then(|i| i.get("userAssignedIdentities"))
    {
        for id in uai.keys() {
            if !g.state.has_resource(id) {
                let mut e = missing_resource(id, "identity.userAssignedIdentities");
                e.service_region = Some(region.to_string());
                return Err(e);
            }
        }
    }
    Ok(())
}

fn norm_json(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(s.to_ascii_lowercase()),
        Value::Array(a) => Value::Array(a.iter().map(norm_json).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.to_ascii_lowercase(), norm_json(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A PUT over an existing compute instance must not change anything: the service refuses
/// compute-instance updates (issue #13: Azure support's "use UpdateSchedules API instead",
/// Terraform's ForceNew arguments, azure-ai-ml's refusal). An identical PUT is accepted.
pub(super) fn check_instance_unchanged(
    old: &ComputeRec,
    body: &Map<String, Value>,
    new_props: &Map<String, Value>,
    region: &str,
) -> Result<(), ApiError> {
    let empty = Map::new();
    let before = old
        .sent
        .as_ref()
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut changed: Vec<String> = Vec::new();
    let inner_new = new_props
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let inner_old = before
        .get("properties")
        .and_then(Value::as_object)
        .or_else(|| old.resource["properties"]["properties"].as_object())
        .unwrap_or(&empty);
    let mut keys: Vec<&String> = inner_new.keys().chain(inner_old.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        let a = inner_old.get(k).map(norm_json).unwrap_or(Value::Null);
        let b = inner_new.get(k).map(norm_json).unwrap_or(Value::Null);
        if a != b {
            changed.push(format!("properties.properties.{k}"));
        }
    }
    for k in ["description", "disableLocalAuth"] {
        let a = before.get(k).map(norm_json).unwrap_or(Value::Null);
        let b = new_props.get(k).map(norm_json).unwrap_or(Value::Null);
        if a != b {
            changed.push(format!("properties.{k}"));
        }
    }
    let id_type = |v: Option<&Value>| {
        v.and_then(|i| i.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("None")
            .to_ascii_lowercase()
    };
    if id_type(old.resource.get("identity")) != id_type(body.get("identity")) {
        changed.push("identity".into());
    }
    if changed.is_empty() {
        return Ok(());
    }
    Err(ApiError::user_error(
        format!(
            "Compute instance '{}' already exists and cannot be updated ({} would change). Use start/stop/restart for its state and the UpdateSchedules / UpdateIdleShutdownSetting APIs for schedules and idle shutdown; to change anything else, delete it and create it again.",
            old.name,
            changed.join(", ")
        ),
        region,
    )
    .target(changed[0].clone()))
}

/// The name of a compute instance deleted less than `hold_ms` ago is not available in its
/// region (issue #13; the hold time is an assumption).
pub(super) fn check_name_hold(
    g: &Inner,
    name: &str,
    region: &str,
    hold_ms: u64,
    now: i64,
) -> Result<(), ApiError> {
    let held = g.state.deleted_instances.iter().any(|d| {
        eq(&d.name, name)
            && norm_loc(&d.location) == norm_loc(region)
            && now < d.deleted_at_ms.saturating_add(hold_ms as i64)
    });
    if held {
        return Err(ApiError::user_error(
            format!(
                "Compute name '{name}' is not available. Reason: AlreadyExists. A compute instance of this name was deleted recently in '{region}'; its name is released after a while. Retry later or choose another name."
            ),
            region,
        )
        .target("computeName"));
    }
    Ok(())
}
