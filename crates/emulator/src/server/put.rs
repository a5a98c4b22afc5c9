//! `PUT …/computes/{name}`: create or overwrite a compute. Request validation lives in
//! `validate`; this module merges the request with the stored compute, builds the resource
//! and starts the LRO.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::clock::{now_ms, rfc3339};
use super::ctx::{Ctx, open};
use super::http::json_response;
use super::lro::{lro_headers, start_op};
use super::shared::Inner;
use super::validate::{
    PutRequest, check_attach, check_existing, check_instance_name, check_instance_unchanged,
    check_name_hold, check_references, provisioning_state, validate_request,
};
use super::versions::COMPUTE_RESOURCE_TYPE;
use crate::compute;
use crate::error::ApiError;
use crate::state::{ComputeRec, OpKind, Outcome};

/// Where a PUT lands: the compute's ARM coordinates and the workspace's id prefix.
struct Target<'a> {
    sub: &'a str,
    rg: &'a str,
    ws: &'a str,
    name: &'a str,
    prefix: String,
    location: String,
    ts: String,
}

/// `PUT …/computes/{name}`.
pub(super) fn put(
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    ws: &str,
    name: &str,
    version: &str,
) -> Result<Response, ApiError> {
    let (mut g, ws_loc, prefix) = open(ctx, sub, rg, ws)?;
    let PutRequest {
        body,
        mut props,
        ctype,
    } = validate_request(ctx, name, version)?;
    if let Some(Value::Object(inner)) = props.get_mut("properties") {
        crate::secrets::mask_secrets(ctype, inner);
    }
    let sent = Value::Object(props.clone());
    let lenient = ctx.lenient();
    let location = body
        .get("location")
        .and_then(Value::as_str)
        .filter(|l| !l.is_empty())
        .unwrap_or(&ws_loc)
        .to_string();
    let t = Target {
        sub,
        rg,
        ws,
        name,
        prefix,
        location,
        ts: rfc3339(now_ms()),
    };

    let existing = g.state.compute_index(sub, rg, ws, name);
    check_existing(&g, existing)?;
    let old = existing.map(|i| g.state.computes()[i].clone());
    let overwrite = old
        .as_ref()
        .is_some_and(|o| provisioning_state(o) != "Canceled");
    let (resource_id, attached) = check_attach(&g, &props, ctype, name, lenient)?;
    if !lenient {
        check_references(&g, &body, &props, &t.location)?;
        check_node_public_ip(&g, &props, ctype, ws, &ws_loc)?;
    }
    if let Some(o) = &old
        && overwrite
    {
        check_overwrite(o, &body, &props, ctype, &t.location, lenient)?;
    }
    if ctype == "ComputeInstance" {
        check_instance_create(ctx, &g, existing, &t, overwrite)?;
    }

    merge_props(
        &mut props,
        old.filter(|_| overwrite).as_ref(),
        &t,
        ctype,
        overwrite,
        attached,
        lenient,
    );
    if !overwrite && ctype == "AKS" && resource_id.as_deref().is_none_or(str::is_empty) {
        new_aks_cluster(&mut g, &t, &mut props);
    }
    let display_name = existing
        .map(|i| g.state.computes()[i].name.clone())
        .unwrap_or_else(|| name.to_string());
    let old_identity =
        existing.and_then(|i| g.state.computes()[i].resource.get("identity").cloned());
    if !overwrite && ctx.shared.config.quirks.stale_size_on_recreate {
        stale_size(&g, &t, &mut props);
    }
    let mut resource = envelope(body, props, &t, &display_name, old_identity.as_ref());
    if !lenient && let Value::Object(m) = &mut resource {
        m.remove("systemData");
    }
    if ctx.shared.config.quirks.policy_tags {
        add_policy_tags(&mut resource);
    }
    let outcome = match ctx.lro_fault.clone() {
        Some(o) => o,
        None if overwrite && ctx.update_failed => update_failed_outcome(&display_name),
        None => quota_outcome(ctx, &g, existing, &t, &resource),
    };
    store(
        ctx,
        &mut g,
        &t,
        display_name,
        resource,
        outcome,
        overwrite,
        version,
        sent,
    )
}

/// A compute instance without a node public IP needs a workspace with a private endpoint.
fn check_node_public_ip(
    g: &Inner,
    props: &Map<String, Value>,
    ctype: &str,
    ws: &str,
    ws_loc: &str,
) -> Result<(), ApiError> {
    let no_public_ip = props
        .get("properties")
        .and_then(|p| p.get("enableNodePublicIp"))
        .and_then(Value::as_bool)
        == Some(false);
    let private_link = g
        .state
        .private_link_workspaces
        .iter()
        .any(|w| w.eq_ignore_ascii_case(ws));
    if ctype == "ComputeInstance" && no_public_ip && !private_link {
        // cli-ml-compute_instance_no_public_ip_400 [1].
        return Err(ApiError::user_error(
            "Provided EnableNodePublicIp 'False' requires workspace private endpoint.",
            ws_loc,
        ));
    }
    Ok(())
}

/// An overwriting PUT must not change what cannot change on the stored compute `o`.
fn check_overwrite(
    o: &ComputeRec,
    body: &Map<String, Value>,
    props: &Map<String, Value>,
    ctype: &str,
    location: &str,
    lenient: bool,
) -> Result<(), ApiError> {
    let mut with_type = props.clone();
    with_type.insert("computeType".into(), json!(ctype));
    let was_instance = compute::compute_type_of(&o.resource).as_deref() == Some("ComputeInstance");
    if !lenient && ctype == "ComputeInstance" && was_instance {
        check_instance_unchanged(o, body, &with_type, location)?;
    } else {
        compute::check_immutable(ctype, &o.resource["properties"], &Value::Object(with_type))?;
    }
    Ok(())
}

/// A compute instance's name must be free in the region (and, on create, not held after a
/// recent delete).
fn check_instance_create(
    ctx: &Ctx,
    g: &Inner,
    existing: Option<usize>,
    t: &Target,
    overwrite: bool,
) -> Result<(), ApiError> {
    let lenient = ctx.lenient();
    check_instance_name(g, existing, t.name, &t.location)?;
    if !lenient && !overwrite {
        check_name_hold(
            g,
            t.name,
            &t.location,
            ctx.shared.config.name_hold_ms,
            now_ms(),
        )?;
    }
    Ok(())
}

/// On overwrite (`old` is the stored compute), keeps create-time fields the client did not
/// resend (and secrets), fills defaults, then restores server-owned state.
fn merge_props(
    props: &mut Map<String, Value>,
    old: Option<&ComputeRec>,
    t: &Target,
    ctype: &str,
    overwrite: bool,
    attached: bool,
    lenient: bool,
) {
    let old_inner = old.and_then(|o| o.resource["properties"]["properties"].as_object().cloned());
    if let Some(o) = old {
        keep_previous(
            props,
            &o.resource["properties"],
            old_inner.as_ref(),
            ctype,
            lenient,
        );
    }
    server_fields(props, t, ctype, overwrite, attached);
    if let Some(old_inner) = &old_inner {
        restore_server_owned(props, old_inner);
    }
}

/// A new AKS cluster provisioned by the service: creates its resource and sets `resourceId`.
fn new_aks_cluster(g: &mut Inner, t: &Target, props: &mut Map<String, Value>) {
    let (sub, rg, name) = (t.sub, t.rg, t.name);
    let rid = format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    g.state.ensure_resource(&rid);
    props.insert("resourceId".into(), json!(rid));
}

/// The outcome of the `update-failed` fault: the update ends `Failed`, the compute keeps its
/// nodes (an assumption about how a failed cluster update looks; see the README).
pub(super) fn update_failed_outcome(name: &str) -> Outcome {
    Outcome::Failed {
        code: "ClusterUpdateFailed".into(),
        message: format!(
            "The update of compute '{name}' failed (injected fault update-failed); the cluster keeps its nodes and is in state Failed. Delete and re-create it, or retry the update."
        ),
    }
}

/// The `policy-tags` quirk: adds [`crate::config::POLICY_TAGS`] to the resource's tags.
pub(super) fn add_policy_tags(resource: &mut Value) {
    let Value::Object(m) = resource else {
        return;
    };
    let tags = m.entry("tags").or_insert_with(|| json!({}));
    if !tags.is_object() {
        *tags = json!({});
    }
    if let Value::Object(t) = tags {
        for (k, v) in crate::config::POLICY_TAGS {
            t.insert((*k).into(), json!(v));
        }
    }
}

/// Copies fields of the stored compute the overwriting PUT did not resend (create-time fields
/// and secrets).
fn keep_previous(
    props: &mut Map<String, Value>,
    old_props: &Value,
    old_inner: Option<&Map<String, Value>>,
    ctype: &str,
    lenient: bool,
) {
    for k in [
        "computeLocation",
        "disableLocalAuth",
        "resourceId",
        "createdOn",
    ] {
        if props.get(k).is_none_or(Value::is_null)
            && let Some(v) = old_props.get(k)
        {
            props.insert(k.into(), v.clone());
        }
    }
    if let (Some(old_inner), Value::Object(inner)) = (
        old_inner,
        props.entry("properties").or_insert_with(|| json!({})),
    ) {
        for (k, v) in old_inner {
            // Realistic: PUT replaces; only fields that can never change (and secrets, below)
            // survive a PUT that omits them.
            let keep_if_absent = matches!(
                k.as_str(),
                "vmSize"
                    | "vmPriority"
                    | "subnet"
                    | "osType"
                    | "virtualMachineImage"
                    | "isolatedNetwork"
                    | "enableNodePublicIp"
            ) || (lenient
                && matches!(
                    k.as_str(),
                    "remoteLoginPortPublicAccess" | "userAccountCredentials"
                ));
            if keep_if_absent && !inner.contains_key(k) {
                inner.insert(k.clone(), v.clone());
            }
        }
        for path in compute::secret_paths(ctype) {
            restore_secret(inner, old_inner, path);
        }
    }
}

/// Sets the server-owned top-level properties and fills defaults.
fn server_fields(
    props: &mut Map<String, Value>,
    t: &Target,
    ctype: &str,
    overwrite: bool,
    attached: bool,
) {
    if !props.contains_key("createdOn") {
        props.insert("createdOn".into(), json!(t.ts));
    }
    props.insert("modifiedOn".into(), json!(t.ts));
    props.insert(
        "provisioningState".into(),
        json!(if overwrite { "Updating" } else { "Creating" }),
    );
    props.insert("provisioningErrors".into(), Value::Null);
    props.insert("isAttachedCompute".into(), json!(attached));
    if props.get("computeLocation").is_none_or(Value::is_null) {
        props.insert("computeLocation".into(), json!(t.location));
    }
    compute::fill_defaults(ctype, props, t.name, &t.location, &t.ts);
}

/// Restores server-owned inner properties (and the SSH user/port) of the stored compute.
fn restore_server_owned(props: &mut Map<String, Value>, old_inner: &Map<String, Value>) {
    let Some(Value::Object(inner)) = props.get_mut("properties") else {
        return;
    };
    for (k, v) in old_inner {
        if compute::SERVER_OWNED.contains(&k.as_str()) {
            inner.insert(k.clone(), v.clone());
        }
    }
    if let (Some(Value::Object(ssh)), Some(Value::Object(old_ssh))) =
        (inner.get_mut("sshSettings"), old_inner.get("sshSettings"))
    {
        for k in ["adminUserName", "sshPort"] {
            if let Some(v) = old_ssh.get(k) {
                ssh.insert(k.into(), v.clone());
            }
        }
    }
}

/// The `stale_size_on_recreate` quirk: a re-created compute gets the VM size of the one deleted
/// under its name.
fn stale_size(g: &Inner, t: &Target, props: &mut Map<String, Value>) {
    let key = format!(
        "/subscriptions/{}/resourcegroups/{}/workspaces/{}/computes/{}",
        t.sub, t.rg, t.ws, t.name
    )
    .to_ascii_lowercase();
    if let Some(old_size) = g.state.deleted_sizes.get(&key)
        && let Some(Value::Object(inner)) = props.get_mut("properties")
        && inner.contains_key("vmSize")
    {
        inner.insert("vmSize".into(), json!(old_size));
    }
}

/// The resource envelope: keeps every top-level field the client sent besides the ARM ones.
fn envelope(
    body: Map<String, Value>,
    props: Map<String, Value>,
    t: &Target,
    display_name: &str,
    old_identity: Option<&Value>,
) -> Value {
    let mut resource = Map::new();
    resource.insert(
        "id".into(),
        json!(format!("{}/computes/{display_name}", t.prefix)),
    );
    resource.insert("name".into(), json!(display_name));
    resource.insert("type".into(), json!(COMPUTE_RESOURCE_TYPE));
    resource.insert("location".into(), json!(t.location));
    for (k, v) in body {
        if !matches!(
            k.as_str(),
            "id" | "name" | "type" | "location" | "systemData"
        ) {
            resource.insert(k, v);
        }
    }
    if let Some(Value::Object(identity)) = resource.get_mut("identity") {
        fill_identity(identity, old_identity);
    }
    resource.insert(
        "systemData".into(),
        json!({
            "createdBy": "emulator-user", "createdByType": "User",
            "createdAt": props.get("createdOn").cloned().unwrap_or(json!(t.ts)),
            "lastModifiedBy": "emulator-user", "lastModifiedByType": "User", "lastModifiedAt": t.ts
        }),
    );
    resource.insert("properties".into(), Value::Object(props));
    Value::Object(resource)
}

/// The outcome of a create or update against the vCPU quotas ([`vcpu_quota_outcome`]).
fn quota_outcome(
    ctx: &Ctx,
    g: &Inner,
    existing: Option<usize>,
    t: &Target,
    resource: &Value,
) -> Outcome {
    vcpu_quota_outcome(ctx, g, existing, t, resource).unwrap_or(Outcome::Succeeded)
}

/// `Failed` with `ClusterMinNodesExceedCoreQuota` when the compute's nodes in use (minimum
/// nodes of a cluster, one for an instance) exceed the region's vCPU quota of the fixture
/// (`locations[].quotas`: the family, `lowPriority` or `total`; `--quota` for every region), as
/// the service fails a create.
fn vcpu_quota_outcome(
    ctx: &Ctx,
    g: &Inner,
    existing: Option<usize>,
    t: &Target,
    resource: &Value,
) -> Option<Outcome> {
    let fixture = super::regional::fixture_location(ctx, &t.location);
    let quota = &ctx.shared.config.quota;
    if fixture.is_none() && quota.is_empty() {
        return None;
    }
    let (size, nodes, low) = super::regional::nodes_of(&resource["properties"]);
    let size = crate::sizes::find(&size?)?;
    let (family, low_used, total) =
        super::regional::in_use(g.state.computes(), t.sub, &t.location, existing);
    let want = nodes * size.vcpus;
    let (key, used) = if low {
        ("lowPriority", low_used)
    } else {
        let f = family.get(size.family).copied().unwrap_or(0);
        let key_limit = super::regional::limit(quota, fixture, size.family);
        let total_limit = super::regional::limit(quota, fixture, "total");
        if f + want > key_limit || total + want <= total_limit {
            (size.family, f)
        } else {
            ("total", total)
        }
    };
    let limit = super::regional::limit(quota, fixture, key);
    if used + want <= limit {
        return None;
    }
    Some(Outcome::Failed {
        code: "ClusterMinNodesExceedCoreQuota".into(),
        message: format!(
            "The specified subscription has a {key} vCPU quota of {limit} and is less than the requested compute nodes minimum of {nodes} which maps to {want} vCPUs (in use: {used}). Request a quota increase for {key} in region {}.",
            t.location
        ),
    })
}

/// Stores the compute, starts its LRO, persists, and answers 201 (create) or 200 (overwrite).
#[allow(clippy::too_many_arguments)]
fn store(
    ctx: &Ctx,
    g: &mut Inner,
    t: &Target,
    display_name: String,
    resource: Value,
    outcome: Outcome,
    overwrite: bool,
    version: &str,
    sent: Value,
) -> Result<Response, ApiError> {
    let rec = ComputeRec {
        subscription_id: t.sub.to_string(),
        resource_group: t.rg.to_string(),
        workspace: t.ws.to_string(),
        name: display_name,
        location: t.location.clone(),
        resource,
        pending: None,
        sent: Some(sent.clone()),
        raw: false,
    };
    // Same key as `existing` (the lookup was case-insensitive): replaced in place, or appended.
    let idx = g.state.upsert_compute(rec);
    let kind = if overwrite {
        OpKind::Update
    } else {
        OpKind::Create
    };
    let op_id = start_op(ctx, g, idx, kind, outcome, None, None);
    ctx.shared.persist(&mut g.state)?;
    // The service answers every PUT 201 "Creating", even an update (recordings README).
    let status = if overwrite && ctx.lenient() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut r = json_response(
        status,
        &crate::shape::put_view(
            &g.state.computes()[idx].resource,
            &sent,
            overwrite,
            &ctx.shape(version),
        ),
    );
    lro_headers(ctx, &mut r, t.sub, &t.location, &op_id, version, false);
    Ok(r)
}

/// Puts back a secret at `path` that the overwriting PUT omitted (or sent as `null`).
fn restore_secret(inner: &mut Map<String, Value>, old: &Map<String, Value>, path: &[&str]) {
    let Some((last, init)) = path.split_last() else {
        return;
    };
    let mut o: Option<&Value> = None;
    let mut cur_old: &Map<String, Value> = old;
    for k in init {
        match cur_old.get(*k).and_then(Value::as_object) {
            Some(m) => cur_old = m,
            None => return,
        }
    }
    if let Some(v) = cur_old.get(*last) {
        o = Some(v);
    }
    let Some(old_value) = o else {
        return;
    };
    let mut cur: &mut Map<String, Value> = inner;
    for k in init {
        match cur.get_mut(*k).and_then(Value::as_object_mut) {
            Some(m) => cur = m,
            None => return,
        }
    }
    if cur.get(*last).is_none_or(Value::is_null) {
        cur.insert((*last).to_string(), old_value.clone());
    }
}

/// Fills the server-assigned ids of a managed identity (keeping the previous principal).
fn fill_identity(identity: &mut Map<String, Value>, old: Option<&Value>) {
    let kind = identity
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("None")
        .to_ascii_lowercase();
    if kind.contains("systemassigned") {
        let old_pid = old.and_then(|o| o.get("principalId")).cloned();
        identity.insert(
            "principalId".into(),
            old_pid.unwrap_or_else(|| json!(uuid::Uuid::new_v4().to_string())),
        );
        identity.insert(
            "tenantId".into(),
            json!("00000000-0000-0000-0000-0000000a0002"),
        );
    }
    if let Some(Value::Object(uai)) = identity.get_mut("userAssignedIdentities") {
        for (_, v) in uai.iter_mut() {
            let mut m = v.as_object().cloned().unwrap_or_default();
            m.entry("principalId")
                .or_insert_with(|| json!(uuid::Uuid::new_v4().to_string()));
            m.entry("clientId")
                .or_insert_with(|| json!(uuid::Uuid::new_v4().to_string()));
            *v = Value::Object(m);
        }
    }
}
