//! Read routes: the workspace, compute get/list, and the `listKeys`/`listNodes` actions.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::ctx::{Ctx, eq, existing_compute, next_link, open, page_bounds};
use super::http::json_response;
use crate::compute;
use crate::error::ApiError;
use crate::state::ComputeRec;

/// `GET …/workspaces/{ws}`.
pub(super) fn get_workspace(
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    ws: &str,
) -> Result<Response, ApiError> {
    let (g, loc, prefix) = open(ctx, sub, rg, ws)?;
    let w = g.state.find_workspace(sub, rg, ws).cloned();
    drop(g);
    let name = w.map(|w| w.name).unwrap_or_else(|| ws.to_string());
    if !ctx.lenient() {
        // The keys of a recorded workspace GET (values are stand-ins).
        let tenant = "00000000-0000-0000-0000-0000000a0002";
        return Ok(json_response(
            StatusCode::OK,
            &json!({
                "id": prefix,
                "name": name,
                "type": "Microsoft.MachineLearningServices/workspaces",
                "location": loc,
                "tags": {},
                "etag": null,
                "properties": {
                    "friendlyName": name, "description": "",
                    "hbiWorkspace": false, "tenantId": tenant, "imageBuildCompute": null,
                    "provisioningState": "Succeeded", "v1LegacyMode": false,
                    "softDeleteEnabled": false, "containerRegistry": "",
                    "storageHnsEnabled": false, "linkedModelInventoryArmId": null,
                    "privateLinkCount": 0, "publicNetworkAccess": "Enabled",
                    "discoveryUrl": format!("https://{loc}.api.azureml.ms/discovery"),
                    "sasGetterUri": "", "enableDataIsolation": false,
                    "workspaceId": "00000000-0000-0000-0000-0000000a0003",
                    "sdkTelemetryAppInsightsKey": "00000000-0000-0000-0000-0000000a0004",
                    "notebookInfo": {"resourceId": "00000000000000000000000000a00005", "fqdn": format!("ml-{name}-{loc}.{loc}.notebooks.azure.net"), "isPrivateLinkEnabled": false, "notebookPreparationError": null},
                    "mlFlowTrackingUri": format!("azureml://{loc}.api.azureml.ms/mlflow/v1.0{prefix}"),
                    "storageAccount": format!("{}/providers/Microsoft.Storage/storageAccounts/st{}", rg_prefix(&prefix), name.replace('-', "")),
                    "keyVault": format!("{}/providers/Microsoft.Keyvault/vaults/kv-{name}", rg_prefix(&prefix)),
                    "applicationInsights": format!("{}/providers/Microsoft.insights/components/appi-{name}", rg_prefix(&prefix))
                },
                "systemData": {"createdAt": "2025-01-01T00:00:00Z", "createdBy": "emulator-user", "createdByType": "User", "lastModifiedAt": "2025-01-01T00:00:00Z", "lastModifiedBy": "emulator-user", "lastModifiedByType": "User"},
                "identity": {"type": "SystemAssigned", "principalId": "00000000-0000-0000-0000-0000000a0001", "tenantId": tenant},
                "sku": {"name": "Basic", "tier": "Basic"},
            }),
        ));
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "id": prefix,
            "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces",
            "location": loc,
            "identity": {"type": "SystemAssigned", "principalId": "00000000-0000-0000-0000-0000000a0001", "tenantId": "00000000-0000-0000-0000-0000000a0002"},
            "sku": {"name": "Basic", "tier": "Basic"},
            "properties": {"provisioningState": "Succeeded", "friendlyName": name, "discoveryUrl": format!("https://{loc}.api.azureml.ms/discovery")},
        }),
    ))
}

/// `GET …/computes` (paged).
pub(super) fn list(
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    ws: &str,
    version: &str,
) -> Result<Response, ApiError> {
    let (g, _, _) = open(ctx, sub, rg, ws)?;
    let items: Vec<&ComputeRec> = g
        .state
        .computes()
        .iter()
        .filter(|c| {
            eq(&c.subscription_id, sub) && eq(&c.resource_group, rg) && eq(&c.workspace, ws)
        })
        .collect();
    let total = items.len();
    let (start, end) = page_bounds(ctx, total);
    // Copy the page out and let other requests in: rendering and serialising a page of large
    // resources is the expensive part, and needs no lock.
    let page: Vec<(Value, bool)> = items[start..end]
        .iter()
        .map(|c| (c.resource.clone(), c.raw))
        .collect();
    drop(g);
    let shape = ctx.shape(version);
    let value: Vec<Value> = page
        .iter()
        .map(|(r, raw)| crate::shape::get_view(r, &shape, *raw))
        .collect();
    let mut body = json!({"value": value});
    let link = next_link(ctx, version, end, total);
    if !link.is_null() {
        body["nextLink"] = link;
    }
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET …/computes/{name}`.
pub(super) fn get(
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    ws: &str,
    name: &str,
    version: &str,
) -> Result<Response, ApiError> {
    let (g, _, _) = open(ctx, sub, rg, ws)?;
    let idx = existing_compute(&g.state, sub, rg, ws, name)?;
    let rec = &g.state.computes()[idx];
    let mut body = crate::shape::get_view(&rec.resource, &ctx.shape(version), rec.raw);
    if ctx.unknown_state
        && let Some(Value::Object(p)) = body.get_mut("properties")
    {
        p.insert("provisioningState".into(), json!("Unknown"));
    }
    Ok(json_response(StatusCode::OK, &body))
}

/// `POST …/computes/{name}/listKeys`: the stored secrets.
pub(super) fn list_keys(
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    ws: &str,
    name: &str,
) -> Result<Response, ApiError> {
    let (g, _, _) = open(ctx, sub, rg, ws)?;
    let idx = existing_compute(&g.state, sub, rg, ws, name)?;
    let rec = &g.state.computes()[idx];
    Ok(json_response(
        StatusCode::OK,
        &compute::list_keys(&rec.resource, &rec.name),
    ))
}

/// `POST …/computes/{name}/listNodes` (AmlCompute, paged).
pub(super) fn list_nodes(
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    ws: &str,
    name: &str,
    version: &str,
) -> Result<Response, ApiError> {
    let (g, _, _) = open(ctx, sub, rg, ws)?;
    let idx = existing_compute(&g.state, sub, rg, ws, name)?;
    let rec = &g.state.computes()[idx];
    if compute::compute_type_of(&rec.resource).as_deref() != Some("AmlCompute") {
        return Err(ApiError::bad_request(
            "UnsupportedOperation",
            "listNodes is only supported for AmlCompute clusters.",
        ));
    }
    let inner = &rec.resource["properties"]["properties"];
    let count = inner["currentNodeCount"].as_u64().unwrap_or(0) as usize;
    let public = inner["enableNodePublicIp"].as_bool().unwrap_or(true);
    let (start, end) = page_bounds(ctx, count);
    let nodes: Vec<Value> = (start..end)
        .map(|i| {
            let mut n = json!({
                "nodeId": format!("tvm-{}_{}-emulated", rec.name.to_ascii_lowercase(), i + 1),
                "privateIpAddress": format!("10.0.{}.{}", i / 250, i % 250 + 4),
                "port": 50000 + i,
                "nodeState": "idle",
            });
            if public {
                n["publicIpAddress"] = json!(format!("20.1.{}.{}", i / 250, i % 250 + 4));
            }
            n
        })
        .collect();
    let mut body = if ctx.lenient() {
        json!({"nodes": nodes})
    } else {
        json!({"computeType": "AmlCompute", "nodes": nodes})
    };
    let link = next_link(ctx, version, end, count);
    if !link.is_null() {
        body["nextLink"] = link;
    }
    Ok(json_response(StatusCode::OK, &body))
}

/// The resource-group part (`/subscriptions/…/resourceGroups/…`) of a workspace id.
fn rg_prefix(workspace_id: &str) -> &str {
    match workspace_id.to_ascii_lowercase().find("/providers/") {
        Some(i) => &workspace_id[..i],
        None => workspace_id,
    }
}
