//! Write routes besides PUT: PATCH (scale settings), DELETE, and start/stop/restart.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::clock::{now_ms, rfc3339};
use super::ctx::{Ctx, eq, existing_compute, open, parse_body};
use super::http::{empty_response, json_response, param};
use super::lifecycle::set_last_op;
use super::lro::{lro_headers, start_op};
use super::validate::{busy, provisioning_state};
use super::versions::SHALLOW_PATCH_VERSIONS;
use crate::compute;
use crate::error::ApiError;
use crate::state::{ComputeRec, OpKind, Outcome};

/// `PATCH …/computes/{name}`: AmlCompute scale settings only.
pub(super) fn patch(
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    ws: &str,
    name: &str,
    version: &str,
) -> Result<Response, ApiError> {
    let (mut g, _, _) = open(ctx, sub, rg, ws)?;
    let idx = existing_compute(&g.state, sub, rg, ws, name)?;
    let body = parse_body(ctx)?;
    let scale = scale_settings_of(&body, version)?;
    let rec = &g.state.computes()[idx];
    check_patchable(rec)?;
    let Value::Object(scale_new) = scale else {
        return Err(ApiError::bad_request(
            "InvalidRequestContent",
            "scaleSettings must be an object.",
        ));
    };
    let mut merged = rec.resource["properties"]["properties"]["scaleSettings"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let scale_keys_sent: Vec<String> = scale_new.keys().cloned().collect();
    for (k, v) in scale_new {
        merged.insert(k, v);
    }
    let merged = Value::Object(merged);
    compute::validate_scale_settings(&merged)?;
    let ts = rfc3339(now_ms());
    let location = rec.location.clone();
    {
        let rec = g.state.compute_mut(idx);
        if let Some(sent) = rec.sent.as_mut()
            && let Some(Value::Object(inner)) = sent.get_mut("properties")
        {
            let mut s = inner
                .get("scaleSettings")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            if let Value::Object(new) = &merged {
                for (k, v) in new {
                    if scale_keys_sent.contains(k) {
                        s.insert(k.clone(), v.clone());
                    }
                }
            }
            inner.insert("scaleSettings".into(), Value::Object(s));
        }
        rec.resource["properties"]["properties"]["scaleSettings"] = merged;
        rec.resource["properties"]["provisioningState"] = json!("Updating");
        rec.resource["properties"]["modifiedOn"] = json!(ts);
        if ctx.shared.config.quirks.policy_tags {
            super::put::add_policy_tags(&mut rec.resource);
        }
    }
    let outcome = if ctx.update_failed {
        super::put::update_failed_outcome(&g.state.computes()[idx].name)
    } else {
        ctx.lro_fault.clone().unwrap_or(Outcome::Succeeded)
    };
    let op_id = start_op(ctx, &mut g, idx, OpKind::Update, outcome, None, None);
    ctx.shared.persist(&mut g.state)?;
    let rec = &g.state.computes()[idx];
    let mut r = patch_response(ctx, rec, version);
    lro_headers(ctx, &mut r, sub, &location, &op_id, version, true);
    Ok(r)
}

/// The `scaleSettings` of a PATCH body, where `version` puts them; an error naming the expected
/// shape when they are missing.
fn scale_settings_of(body: &Map<String, Value>, version: &str) -> Result<Value, ApiError> {
    let shallow = SHALLOW_PATCH_VERSIONS.contains(&version);
    let scale = if shallow {
        body.get("properties").and_then(|p| p.get("scaleSettings"))
    } else {
        body.get("properties")
            .and_then(|p| p.get("properties"))
            .and_then(|p| p.get("scaleSettings"))
    };
    let Some(scale) = scale.cloned() else {
        let shape = if shallow {
            "{\"properties\":{\"scaleSettings\":{...}}}"
        } else {
            "{\"properties\":{\"properties\":{\"scaleSettings\":{...}}}}"
        };
        return Err(ApiError::bad_request(
            "InvalidRequestContent",
            format!(
                "Only scale settings can be updated; with api-version {version} the body is {shape}."
            ),
        ));
    };
    Ok(scale)
}

/// Only an idle, not failed AmlCompute can be patched.
fn check_patchable(rec: &ComputeRec) -> Result<(), ApiError> {
    if let Some(e) = busy(rec) {
        return Err(e);
    }
    if compute::compute_type_of(&rec.resource).as_deref() != Some("AmlCompute") {
        return Err(ApiError::bad_request(
            "UnsupportedOperation",
            "Only AmlCompute scale settings can be updated with PATCH.",
        ));
    }
    if provisioning_state(rec) == "Failed" {
        return Err(ApiError::conflict(
            "Conflict",
            format!(
                "Compute '{}' is in a failed state and cannot be updated.",
                rec.name
            ),
        ));
    }
    Ok(())
}

/// The PATCH answer: the rendered compute (lenient), else the patch view with 202 (or 200 for
/// api-versions before 2024-04-01).
fn patch_response(ctx: &Ctx, rec: &ComputeRec, version: &str) -> Response {
    if ctx.lenient() {
        json_response(
            StatusCode::OK,
            &compute::render(&rec.resource, &ctx.shared.config.quirks),
        )
    } else {
        // 202 with a body (ps-New-AzMLWorkspaceCompute [3], api-version 2024-04-01); older
        // api-versions, whose specs (and SDKs) allow only 200, get 200 (an assumption).
        let sent = rec
            .sent
            .clone()
            .unwrap_or_else(|| rec.resource["properties"].clone());
        let status = if crate::shape::since(version, "2024-04-01") {
            StatusCode::ACCEPTED
        } else {
            StatusCode::OK
        };
        json_response(
            status,
            &crate::shape::patch_view(&rec.resource, &sent, &ctx.shape(version)),
        )
    }
}

/// `DELETE …/computes/{name}?underlyingResourceAction=Delete|Detach`.
pub(super) fn delete(
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    ws: &str,
    name: &str,
    version: &str,
) -> Result<Response, ApiError> {
    let (mut g, _, _) = open(ctx, sub, rg, ws)?;
    let action = match param(ctx.params, "underlyingResourceAction") {
        None | Some("") => {
            return Err(ApiError::bad_request(
                "MissingRequiredQueryParameter",
                "The query parameter 'underlyingResourceAction' (Delete or Detach) is required.",
            )
            .target("underlyingResourceAction"));
        }
        Some(a) if eq(a, "Delete") => true,
        Some(a) if eq(a, "Detach") => false,
        Some(a) => {
            return Err(ApiError::bad_request(
                "InvalidQueryParameterValue",
                format!(
                    "'{a}' is not a valid underlyingResourceAction; expected Delete or Detach."
                ),
            )
            .target("underlyingResourceAction"));
        }
    };
    let Some(idx) = g.state.compute_index(sub, rg, ws, name) else {
        return Ok(empty_response(StatusCode::NO_CONTENT));
    };
    let rec = g.state.compute_mut(idx);
    if let Some(e) = busy(rec) {
        return Err(e);
    }
    let underlying = if action {
        rec.resource["properties"]["resourceId"]
            .as_str()
            .map(str::to_string)
    } else {
        None
    };
    rec.resource["properties"]["provisioningState"] = json!("Deleting");
    if let Some(Value::Object(inner)) = rec.resource["properties"].get_mut("properties")
        && inner.contains_key("state")
    {
        inner.insert("state".into(), json!("Deleting"));
    }
    let location = rec.location.clone();
    let outcome = ctx.lro_fault.clone().unwrap_or(Outcome::Succeeded);
    let op_id = start_op(ctx, &mut g, idx, OpKind::Delete, outcome, underlying, None);
    ctx.shared.persist(&mut g.state)?;
    let mut r = empty_response(StatusCode::ACCEPTED);
    lro_headers(ctx, &mut r, sub, &location, &op_id, version, true);
    Ok(r)
}

/// `POST …/computes/{name}/{start|stop|restart}` (compute instances).
pub(super) fn power(
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    ws: &str,
    name: &str,
    kind: OpKind,
    version: &str,
) -> Result<Response, ApiError> {
    let (mut g, _, _) = open(ctx, sub, rg, ws)?;
    let idx = existing_compute(&g.state, sub, rg, ws, name)?;
    let rec = g.state.compute_mut(idx);
    let (verb, from, transit) = match kind {
        OpKind::Start => ("start", "Stopped", "Starting"),
        OpKind::Stop => ("stop", "Running", "Stopping"),
        _ => ("restart", "Running", "Restarting"),
    };
    if compute::compute_type_of(&rec.resource).as_deref() != Some("ComputeInstance") {
        return Err(ApiError::bad_request(
            "UnsupportedOperation",
            format!("The {verb} action is only supported for compute instances."),
        ));
    }
    if let Some(e) = busy(rec) {
        return Err(e);
    }
    let state = rec.resource["properties"]["properties"]["state"]
        .as_str()
        .unwrap_or("Unknown")
        .to_string();
    if !eq(&state, from) || provisioning_state(rec) != "Succeeded" {
        return Err(ApiError::conflict(
            "Conflict",
            format!(
                "Cannot {verb} compute instance '{}' while it is in state '{state}'; {verb} requires state '{from}'.",
                rec.name
            ),
        ));
    }
    rec.resource["properties"]["properties"]["state"] = json!(transit);
    let ts = rfc3339(now_ms());
    if let Some(Value::Object(inner)) = rec.resource["properties"].get_mut("properties") {
        let op_name = match kind {
            OpKind::Start => "Start",
            OpKind::Stop => "Stop",
            _ => "Restart",
        };
        set_last_op(inner, op_name, "InProgress", &ts);
    }
    let location = rec.location.clone();
    let outcome = ctx.lro_fault.clone().unwrap_or(Outcome::Succeeded);
    let op_id = start_op(ctx, &mut g, idx, kind, outcome, None, Some(state));
    ctx.shared.persist(&mut g.state)?;
    let mut r = empty_response(StatusCode::ACCEPTED);
    lro_headers(ctx, &mut r, sub, &location, &op_id, version, true);
    Ok(r)
}
