//! The per-request context of an ARM route and the checks every route shares: api-version,
//! workspace lookup (with lazy settling), not-found errors, paging, body parsing.

use std::sync::MutexGuard;

use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::clock::now_ms;
use super::http::param;
use super::lifecycle::settle;
use super::shared::{Inner, Shared};
use super::versions::API_VERSIONS;
use crate::error::ApiError;
use crate::state::Outcome;

/// What a route needs to know about the request.
pub(super) struct Ctx<'a> {
    pub shared: &'a Shared,
    /// `http://HOST` as the client addressed us (for LRO URLs and `nextLink`).
    pub base: String,
    pub method: Method,
    pub segs: &'a [String],
    pub params: &'a [(String, String)],
    pub body: &'a Bytes,
    /// The outcome an injected LRO fault imposes on an operation this request starts.
    pub lro_fault: Option<Outcome>,
    /// The `update-failed` fault: an update this request starts ends `Failed`.
    pub update_failed: bool,
    /// The `unknown` fault: a compute GET answers `provisioningState: "Unknown"`.
    pub unknown_state: bool,
}

impl Ctx<'_> {
    /// How responses are rendered for this request.
    pub fn shape<'v>(&'v self, version: &'v str) -> crate::shape::Shape<'v> {
        crate::shape::Shape {
            version,
            quirks: &self.shared.config.quirks,
            lenient: self.shared.config.lenient,
        }
    }

    /// Whether the emulator runs with `--lenient`.
    pub fn lenient(&self) -> bool {
        self.shared.config.lenient
    }
}

/// Case-insensitive ASCII comparison (ARM names and segments).
pub(super) fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// 404 `InvalidResourceType` for an unknown route.
pub(super) fn not_found_route(ctx: &Ctx) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "InvalidResourceType",
        format!(
            "The resource type or action for '{} /{}' could not be found in the namespace 'Microsoft.MachineLearningServices' for the requested api-version.",
            ctx.method,
            ctx.segs.join("/")
        ),
    )
}

/// The served api-version the request asked for, or the 400 ARM gives.
pub(super) fn check_api_version(ctx: &Ctx) -> Result<&'static str, ApiError> {
    let Some(v) = param(ctx.params, "api-version") else {
        return Err(ApiError::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    };
    API_VERSIONS
        .iter()
        .copied()
        .find(|x| x.eq_ignore_ascii_case(v))
        .ok_or_else(|| {
            ApiError::bad_request(
                "InvalidApiVersionParameter",
                format!(
                    "The api-version '{v}' is invalid. The supported versions are '{}'.",
                    API_VERSIONS.join(",")
                ),
            )
        })
}

/// 404 `ParentResourceNotFound`.
pub(super) fn workspace_not_found(sub: &str, rg: &str, ws: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ParentResourceNotFound",
        format!(
            "Can not perform requested operation on nested resource. Parent resource '{ws}' not found (resource group '{rg}', subscription '{sub}')."
        ),
    )
}

/// Index of an existing compute in `state`, or the 404 the service answers for a missing one.
pub(super) fn existing_compute(
    state: &crate::state::State,
    sub: &str,
    rg: &str,
    ws: &str,
    name: &str,
) -> Result<usize, ApiError> {
    state
        .compute_index(sub, rg, ws, name)
        .ok_or_else(|| compute_not_found(ws, name))
}

/// 404 `ResourceNotFound` for a compute.
pub(super) fn compute_not_found(ws: &str, name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        format!(
            "The Resource 'Microsoft.MachineLearningServices/workspaces/{ws}/computes/{name}' under the workspace was not found."
        ),
    )
}

/// Locks, settles, and checks the workspace; returns the guard and the workspace location.
pub(super) fn open<'a>(
    ctx: &'a Ctx,
    sub: &str,
    rg: &str,
    ws: &str,
) -> Result<(MutexGuard<'a, Inner>, String, String), ApiError> {
    let mut g = ctx.shared.lock();
    if settle(&mut g.state, now_ms()) {
        // Settling is re-derived from the persisted deadlines after a crash: no fsync needed.
        ctx.shared.persist_quick(&mut g.state)?;
    }
    let Some(w) = g.state.find_workspace(sub, rg, ws) else {
        return Err(workspace_not_found(sub, rg, ws));
    };
    let (loc, prefix) = (
        w.location.clone(),
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.MachineLearningServices/workspaces/{}",
            w.subscription_id, w.resource_group, w.name
        ),
    );
    Ok((g, loc, prefix))
}

/// The `$skip` page `[start, end)` of a list of `len` items.
pub(super) fn page_bounds(ctx: &Ctx, len: usize) -> (usize, usize) {
    let skip = param(ctx.params, "$skip")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(0)
        .min(len);
    let size = ctx.shared.config.page_size.max(1);
    (skip, (skip + size).min(len))
}

/// The `nextLink` after `end`, or `null` on the last page.
pub(super) fn next_link(ctx: &Ctx, version: &str, end: usize, len: usize) -> Value {
    if end >= len {
        return Value::Null;
    }
    json!(format!(
        "{}/{}?api-version={version}&$skip={end}",
        ctx.base,
        ctx.segs.join("/")
    ))
}

/// The request body as a JSON object, or 400 `InvalidRequestContent`.
pub(super) fn parse_body(ctx: &Ctx) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(ctx.body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::bad_request(
            "InvalidRequestContent",
            "The request content must be a JSON object.",
        )),
        Err(e) => Err(ApiError::bad_request(
            "InvalidRequestContent",
            format!(
                "The request content was invalid and could not be deserialized: line {}, column {}.",
                e.line(),
                e.column()
            ),
        )),
    }
}
