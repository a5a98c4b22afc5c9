//! LRO bookkeeping: registering operations, their `Azure-AsyncOperation`/`Location` headers,
//! and the operation status/result routes.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::clock::{now_ms, rfc3339};
use super::ctx::{Ctx, eq};
use super::http::{empty_response, json_response, set_header};
use super::lifecycle::settle;
use super::shared::Inner;
use crate::error::ApiError;
use crate::state::{OpKind, OpRec, Outcome, Pending, same_id};

/// The status and result URLs of an operation.
fn lro_urls(ctx: &Ctx, sub: &str, loc: &str, op_id: &str, version: &str) -> (String, String) {
    let base = format!(
        "{}/subscriptions/{sub}/providers/Microsoft.MachineLearningServices/locations/{loc}",
        ctx.base
    );
    (
        format!("{base}/computeOperationsStatus/{op_id}?api-version={version}"),
        format!("{base}/computeOperationsResults/{op_id}?api-version={version}"),
    )
}

/// Registers an operation and its pending transition; returns the operation id.
pub(super) fn start_op(
    ctx: &Ctx,
    g: &mut Inner,
    idx: usize,
    kind: OpKind,
    outcome: Outcome,
    delete_underlying: Option<String>,
    prev_state: Option<String>,
) -> String {
    let now = now_ms();
    let op_id = uuid::Uuid::new_v4().to_string();
    let ends = now + ctx.shared.config.lro_ms as i64;
    let rec = g.state.compute_mut(idx);
    rec.pending = Some(Pending {
        op_id: op_id.clone(),
        kind,
        ends_at_ms: ends,
        outcome: outcome.clone(),
        delete_underlying,
        prev_state,
    });
    let resource_path = rec
        .resource
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let op = OpRec {
        id: op_id.clone(),
        subscription_id: rec.subscription_id.clone(),
        location: rec.location.clone(),
        kind,
        started_at_ms: now,
        ends_at_ms: ends,
        outcome,
        resource_path,
    };
    g.state.push_op(op);
    op_id
}

/// Sets `Azure-AsyncOperation` (and `Location` when asked) and `Retry-After`.
pub(super) fn lro_headers(
    ctx: &Ctx,
    r: &mut Response,
    sub: &str,
    loc: &str,
    op_id: &str,
    version: &str,
    with_location: bool,
) {
    let (status, result) = lro_urls(ctx, sub, loc, op_id, version);
    set_header(r, "azure-asyncoperation", &status);
    if !ctx.lenient() {
        // The service sends only Azure-AsyncOperation (recordings README).
        return;
    }
    if with_location {
        set_header(r, "location", &result);
    }
    set_header(
        r,
        "retry-after",
        &ctx.shared.config.retry_after_s.to_string(),
    );
}

/// `GET …/computeOperationsStatus/{id}` (`is_status`) or `…/computeOperationsResults/{id}`.
pub(super) fn operation(
    ctx: &Ctx,
    sub: &str,
    id: &str,
    is_status: bool,
    version: &str,
) -> Result<Response, ApiError> {
    let mut g = ctx.shared.lock();
    if settle(&mut g.state, now_ms()) {
        // Settling is re-derived from the persisted deadlines after a crash: no fsync needed.
        ctx.shared.persist_quick(&mut g.state)?;
    }
    let op = g
        .state
        .operations
        .iter()
        .find(|o| o.id.eq_ignore_ascii_case(id) && eq(&o.subscription_id, sub))
        .cloned()
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "ResourceNotFound",
                format!("Operation '{id}' was not found."),
            )
        })?;
    let now = now_ms();
    let done = now >= op.ends_at_ms;
    if is_status && !ctx.lenient() {
        // Exactly the recorded bodies.
        let body = if !done {
            json!({"status": "InProgress"})
        } else {
            match &op.outcome {
                Outcome::Succeeded => json!({"status": "Succeeded", "percentComplete": 100.0}),
                Outcome::Failed { code, message } => {
                    json!({"status": "Failed", "error": {"code": code, "message": message}})
                }
                Outcome::Canceled => {
                    json!({"status": "Canceled", "error": {"code": "OperationCanceled", "message": "The operation was canceled."}})
                }
            }
        };
        return Ok(json_response(StatusCode::OK, &body));
    }
    if is_status {
        let mut body = json!({
            "id": format!("/subscriptions/{}/providers/Microsoft.MachineLearningServices/locations/{}/computeOperationsStatus/{}", op.subscription_id, op.location, op.id),
            "name": op.id,
            "startTime": rfc3339(op.started_at_ms),
        });
        if !done {
            let total = (op.ends_at_ms - op.started_at_ms).max(1) as f64;
            let pct = ((now - op.started_at_ms) as f64 / total * 100.0).clamp(0.0, 99.0);
            body["status"] = json!("InProgress");
            body["percentComplete"] = json!(pct.floor());
        } else {
            body["endTime"] = json!(rfc3339(op.ends_at_ms));
            match &op.outcome {
                Outcome::Succeeded => {
                    body["status"] = json!("Succeeded");
                    body["percentComplete"] = json!(100.0);
                }
                Outcome::Failed { code, message } => {
                    body["status"] = json!("Failed");
                    body["error"] = json!({"code": code, "message": message});
                }
                Outcome::Canceled => {
                    body["status"] = json!("Canceled");
                    body["error"] = json!({"code": "OperationCanceled", "message": "The operation was canceled."});
                }
            }
        }
        return Ok(json_response(StatusCode::OK, &body));
    }
    // Location (result) URL.
    if !done {
        let mut r = empty_response(StatusCode::ACCEPTED);
        let (_, result) = lro_urls(ctx, sub, &op.location, &op.id, version);
        set_header(&mut r, "location", &result);
        set_header(
            &mut r,
            "retry-after",
            &ctx.shared.config.retry_after_s.to_string(),
        );
        return Ok(r);
    }
    match &op.outcome {
        Outcome::Failed { code, message } => Err(ApiError::bad_request(code, message.clone())),
        Outcome::Canceled => Err(ApiError::bad_request(
            "OperationCanceled",
            "The operation was canceled.",
        )),
        Outcome::Succeeded => match op.kind {
            OpKind::Delete => Ok(empty_response(StatusCode::NO_CONTENT)),
            OpKind::Start | OpKind::Stop | OpKind::Restart => Ok(empty_response(StatusCode::OK)),
            OpKind::Create | OpKind::Update => {
                let found = g.state.computes().iter().find(|c| {
                    c.resource
                        .get("id")
                        .and_then(Value::as_str)
                        .is_some_and(|i| same_id(i, &op.resource_path))
                });
                match found {
                    Some(c) => Ok(json_response(
                        StatusCode::OK,
                        &crate::shape::get_view(&c.resource, &ctx.shape(version), c.raw),
                    )),
                    None => Ok(empty_response(StatusCode::NO_CONTENT)),
                }
            }
        },
    }
}
