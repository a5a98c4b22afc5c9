//! ARM routing: matches the path (case-insensitively) and dispatches to the route handlers.

use axum::http::Method;
use axum::response::Response;

use super::ctx::{Ctx, check_api_version, eq, not_found_route};
use super::http::error_response;
use super::lro::operation;
use super::put::put;
use super::reads::{get, get_workspace, list, list_keys, list_nodes};
use super::regional;
use super::writes::{delete, patch, power};
use crate::error::ApiError;
use crate::state::OpKind;

/// Runs the ARM route the request names; errors become ARM error responses.
pub(super) fn arm(ctx: &Ctx) -> Response {
    match arm_inner(ctx) {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

fn arm_inner(ctx: &Ctx) -> Result<Response, ApiError> {
    let s = ctx.segs;
    let is = |i: usize, v: &str| s.get(i).is_some_and(|x| eq(x, v));
    // Operation status / result.
    if s.len() == 8
        && is(0, "subscriptions")
        && is(2, "providers")
        && is(3, "Microsoft.MachineLearningServices")
        && is(4, "locations")
        && (is(6, "computeOperationsStatus") || is(6, "computeOperationsResults"))
    {
        let version = check_api_version(ctx)?;
        if ctx.method != Method::GET {
            return Err(not_found_route(ctx));
        }
        return operation(ctx, &s[1], &s[7], is(6, "computeOperationsStatus"), version);
    }
    // Regional reads: usages and VM sizes.
    if s.len() == 7
        && is(0, "subscriptions")
        && is(2, "providers")
        && is(3, "Microsoft.MachineLearningServices")
        && is(4, "locations")
        && (is(6, "usages") || is(6, "vmSizes"))
    {
        check_api_version(ctx)?;
        if ctx.method != Method::GET {
            return Err(not_found_route(ctx));
        }
        return if is(6, "usages") {
            regional::usages(ctx, &s[1], &s[5])
        } else {
            regional::vm_sizes(ctx, &s[5])
        };
    }
    // GET of an underlying resource at its own provider's path (any api-version).
    if s.len() >= 8
        && ctx.method == Method::GET
        && is(0, "subscriptions")
        && is(2, "resourceGroups")
        && is(4, "providers")
        && !is(5, "Microsoft.MachineLearningServices")
    {
        if super::http::param(ctx.params, "api-version").is_none() {
            check_api_version(ctx)?;
        }
        return regional::resource(ctx);
    }
    let ws_prefix = s.len() >= 8
        && is(0, "subscriptions")
        && is(2, "resourceGroups")
        && is(4, "providers")
        && is(5, "Microsoft.MachineLearningServices")
        && is(6, "workspaces");
    if !ws_prefix {
        return Err(not_found_route(ctx));
    }
    let version = check_api_version(ctx)?;
    let (sub, rg, ws) = (&s[1], &s[3], &s[7]);
    let rest = &s[8..];
    let m = &ctx.method;
    match rest {
        [] if *m == Method::GET => get_workspace(ctx, sub, rg, ws),
        [c] if eq(c, "computes") && *m == Method::GET => list(ctx, sub, rg, ws, version),
        [c, name] if eq(c, "computes") => match *m {
            Method::GET => get(ctx, sub, rg, ws, name, version),
            Method::PUT => put(ctx, sub, rg, ws, name, version),
            Method::PATCH => patch(ctx, sub, rg, ws, name, version),
            Method::DELETE => delete(ctx, sub, rg, ws, name, version),
            _ => Err(not_found_route(ctx)),
        },
        [c, name, action] if eq(c, "computes") && *m == Method::POST => {
            match action.to_ascii_lowercase().as_str() {
                "start" => power(ctx, sub, rg, ws, name, OpKind::Start, version),
                "stop" => power(ctx, sub, rg, ws, name, OpKind::Stop, version),
                "restart" => power(ctx, sub, rg, ws, name, OpKind::Restart, version),
                "listkeys" => list_keys(ctx, sub, rg, ws, name),
                "listnodes" => list_nodes(ctx, sub, rg, ws, name, version),
                _ => Err(not_found_route(ctx)),
            }
        }
        _ => Err(not_found_route(ctx)),
    }
}
