//! The HTTP front of the emulator, split along its seams (see the crate docs for the layout).
//!
//! Imports point one way: [`handle`] → `gate`/`admin`/`router` → the route modules
//! (`reads`, `put`, `writes`, `lro`) → `validate`/`ctx` → `lifecycle`/`shared`/`http`/`clock`/
//! `versions`. No module imports one that imports it back.

mod activity;
mod activity_log;
mod admin;
mod clock;
mod ctx;
mod gate;
mod http;
mod lifecycle;
mod lro;
mod put;
mod reads;
mod regional;
mod router;
mod shared;
mod validate;
mod vault;
mod versions;
mod writes;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State as AxState};
use axum::http::{Method, StatusCode, header};
use axum::response::Response;

use crate::net::ConnHandle;

pub(crate) use shared::Shared;

/// The current time as RFC 3339 (for error bodies).
pub(crate) fn now_rfc3339() -> String {
    clock::rfc3339(clock::now_ms())
}
pub use versions::{API_VERSIONS, PRIMARY_API_VERSION};

/// The axum app: a single fallback handler (routing is done by hand, case-insensitively).
pub(crate) fn app(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// The single handler behind the router: admin routes bypass the gate; ARM routes pass the
/// gate (auth, rate limit, faults) and are recorded in the request log.
async fn handle(
    AxState(shared): AxState<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    req: Request,
) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let headers = req.headers().clone();
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(http::percent_decode)
        .collect();
    let params = http::query_params(&query);

    if segs.first().is_some_and(|s| s == "_emulator") {
        return admin::emulator_endpoint(&shared, &method, &segs);
    }
    if segs.len() == 2
        && segs[0].eq_ignore_ascii_case("msi")
        && segs[1].eq_ignore_ascii_case("token")
    {
        return admin::msi_token(&shared, &method, &headers, &params);
    }

    let host_header = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if let Some(vault) = vault::vault_of_host(host_header) {
        let r = vault::handle(&shared, &method, &headers, &vault, &segs, &params);
        gate::record(&shared, &method, &path, &query, r.status().as_u16());
        return r;
    }

    let body = match axum::body::to_bytes(req.into_body(), 8 * 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => Bytes::new(),
    };

    if shared.config.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(shared.config.latency_ms)).await;
    }

    let fault = gate::draw_fault(&shared);
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let ctx = ctx::Ctx {
        shared: &shared,
        base: format!("http://{host}"),
        method: method.clone(),
        segs: &segs,
        params: &params,
        body: &body,
        lro_fault: gate::lro_outcome(fault),
        update_failed: fault == Some(crate::config::FaultKind::UpdateFailed),
        unknown_state: fault == Some(crate::config::FaultKind::Unknown),
    };

    let is_read = method == Method::GET || method == Method::HEAD;
    let mut response = match gate::admit(&shared, &headers, &segs, is_read) {
        Err(r) => *r,
        Ok(remaining) => {
            let mut r = match gate::injected(&shared, fault).await {
                gate::Injected::Reset => {
                    conn.kill();
                    gate::record(&shared, &method, &path, &query, 0);
                    return http::empty_response(StatusCode::INTERNAL_SERVER_ERROR);
                }
                gate::Injected::Respond(r) => r,
                gate::Injected::Pass if activity::is_route(&segs) => {
                    activity::serve(&shared, &method, &segs, &params)
                }
                gate::Injected::Pass => {
                    let before = activity::before_write(&shared, &method, &segs);
                    let r = router::arm(&ctx);
                    activity::after_write(&shared, &method, &segs, &headers, before, r.status());
                    // Acknowledge a write only once it is durable (one fsync shared by the
                    // writes that arrived meanwhile; the state lock is not held here).
                    match shared.sync_journal() {
                        Ok(()) => r,
                        Err(e) => http::error_response(&e),
                    }
                }
            };
            gate::set_remaining(&mut r, remaining, is_read);
            r
        }
    };
    http::set_header(
        &mut response,
        "x-ms-request-id",
        &uuid::Uuid::new_v4().to_string(),
    );
    gate::record(&shared, &method, &path, &query, response.status().as_u16());
    response
}
