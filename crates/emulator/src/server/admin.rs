//! Routes outside the gate: `/_emulator/{state,requests,stats}` and the managed-identity
//! token endpoint `/msi/token`.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::clock::now_ms;
use super::http::{error_response, json_response, param};
use super::lifecycle::settle;
use super::shared::Shared;
use crate::compute;
use crate::error::ApiError;
use crate::state::IssuedToken;

/// `GET /_emulator/{state,requests,stats}`.
pub(super) fn emulator_endpoint(shared: &Shared, method: &Method, segs: &[String]) -> Response {
    if method != Method::GET {
        return error_response(&ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "Only GET is supported here.",
        ));
    }
    let mut g = shared.lock();
    match segs.get(1).map(String::as_str) {
        Some("requests") => json_response(StatusCode::OK, &json!(g.log)),
        Some("stats") => {
            let mut by_method: BTreeMap<String, u64> = BTreeMap::new();
            let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
            let mut by_ms: BTreeMap<String, u64> = BTreeMap::new();
            for r in &g.log {
                *by_method.entry(r.method.clone()).or_default() += 1;
                *by_status.entry(r.status.to_string()).or_default() += 1;
                *by_ms
                    .entry(format!("{} {}", r.method, r.status))
                    .or_default() += 1;
            }
            json_response(
                StatusCode::OK,
                &json!({"total": g.log.len(), "by_method": by_method, "by_status": by_status, "by_method_status": by_ms}),
            )
        }
        Some("state") => {
            if settle(&mut g.state, now_ms()) {
                // Settling is re-derived from the persisted deadlines after a crash: no fsync.
                let _ = shared.persist_quick(&mut g.state);
            }
            let computes: Vec<Value> = g
                .state
                .computes()
                .iter()
                .map(|c| {
                    json!({
                        "subscription_id": c.subscription_id,
                        "resource_group": c.resource_group,
                        "workspace": c.workspace,
                        "name": c.name,
                        "resource": compute::render(&c.resource, &Default::default()),
                    })
                })
                .collect();
            json_response(
                StatusCode::OK,
                &json!({"workspaces": g.state.workspaces, "resources": g.state.resources, "computes": computes}),
            )
        }
        _ => error_response(&ApiError::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            "Unknown emulator endpoint.",
        )),
    }
}

/// `GET /msi/token`: issues a bearer token (App Service managed identity protocol), bound to
/// the audience asked for: a Key Vault token is refused by ARM, an ARM token by the vaults.
pub(super) fn msi_token(
    shared: &Shared,
    method: &Method,
    headers: &HeaderMap,
    params: &[(String, String)],
) -> Response {
    let bad = |status: StatusCode, msg: &str| {
        json_response(
            status,
            &json!({"statusCode": status.as_u16(), "message": msg}),
        )
    };
    if method != Method::GET {
        return bad(StatusCode::METHOD_NOT_ALLOWED, "Only GET is supported.");
    }
    let secret_ok = headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == shared.config.identity_header);
    if !secret_ok {
        return bad(
            StatusCode::UNAUTHORIZED,
            "The X-IDENTITY-HEADER header is missing or wrong.",
        );
    }
    if param(params, "api-version") != Some("2019-08-01") {
        return bad(StatusCode::BAD_REQUEST, "api-version must be 2019-08-01.");
    }
    let Some(resource) = param(params, "resource").filter(|r| !r.is_empty()) else {
        return bad(
            StatusCode::BAD_REQUEST,
            "The 'resource' query parameter is required.",
        );
    };
    let expires_on = now_ms() / 1000 + 3600;
    // Shaped like an Entra token, so clients can read who they are (`oid`, `appid`) and the
    // Activity Log can name the caller.
    let mut claims = serde_json::Map::new();
    claims.insert(
        "oid".into(),
        json!(crate::identity::MANAGED_IDENTITY_PRINCIPAL_ID),
    );
    claims.insert(
        "appid".into(),
        json!(crate::identity::MANAGED_IDENTITY_CLIENT_ID),
    );
    claims.insert("aud".into(), json!(resource));
    claims.insert("exp".into(), json!(expires_on));
    let token = crate::identity::token_with_claims(&claims);
    let mut g = shared.lock();
    g.state.push_token(IssuedToken {
        token: token.clone(),
        expires_on,
        audience: Some(super::vault::audience_of(resource)),
    });
    if let Err(e) = shared.persist_quick(&mut g.state) {
        return error_response(&e);
    }
    json_response(
        StatusCode::OK,
        &json!({
            "access_token": token,
            "expires_on": expires_on.to_string(),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": crate::identity::MANAGED_IDENTITY_CLIENT_ID,
        }),
    )
}
