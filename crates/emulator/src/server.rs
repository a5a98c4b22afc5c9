//! The HTTP front: routing, auth, faults, rate limits, and the ARM operations.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State as AxState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::EmulatorConfig;
use crate::compute::{self, canonical_type};
use crate::config::FaultKind;
use crate::error::ApiError;
use crate::net::ConnHandle;
use crate::state::{ComputeRec, IssuedToken, OpKind, OpRec, Outcome, Pending, State, same_id};

/// Primary api-version.
pub const PRIMARY_API_VERSION: &str = "2025-12-01";

/// The api-versions served (stable and preview, 2020-08-01 … 2025-12-01, plus 2020-02-02 for
/// the legacy `Batch` shape).
pub const API_VERSIONS: &[&str] = &[
    "2020-02-02",
    "2020-08-01",
    "2020-09-01-preview",
    "2021-01-01",
    "2021-03-01-preview",
    "2021-04-01",
    "2021-07-01",
    "2022-01-01-preview",
    "2022-02-01-preview",
    "2022-05-01",
    "2022-06-01-preview",
    "2022-10-01",
    "2022-10-01-preview",
    "2022-12-01-preview",
    "2023-02-01-preview",
    "2023-04-01",
    "2023-04-01-preview",
    "2023-06-01-preview",
    "2023-08-01-preview",
    "2023-10-01",
    "2024-01-01-preview",
    "2024-04-01",
    "2024-04-01-preview",
    "2024-07-01-preview",
    "2024-10-01",
    "2024-10-01-preview",
    "2025-01-01-preview",
    "2025-04-01",
    "2025-04-01-preview",
    "2025-06-01",
    "2025-07-01-preview",
    "2025-09-01",
    "2025-10-01-preview",
    "2025-12-01",
];

/// Versions whose PATCH body is `{"properties":{"scaleSettings":…}}` (one level shallower).
const SHALLOW_PATCH_VERSIONS: &[&str] = &["2020-08-01"];

const COMPUTE_RESOURCE_TYPE: &str = "Microsoft.MachineLearningServices/workspaces/computes";

/// One entry of `/_emulator/requests`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RequestLog {
    method: String,
    path: String,
    query: String,
    /// HTTP status sent; 0 when the connection was dropped (`reset` fault).
    status: u16,
}

struct Bucket {
    reads: f64,
    writes: f64,
    last_ms: i64,
}

pub(crate) struct Inner {
    pub state: State,
    rng: StdRng,
    log: Vec<RequestLog>,
    buckets: HashMap<String, Bucket>,
}

/// State shared by all handlers.
pub(crate) struct Shared {
    pub config: EmulatorConfig,
    pub inner: Mutex<Inner>,
}

impl Shared {
    pub fn new(config: EmulatorConfig, state: State) -> Shared {
        let rng = StdRng::seed_from_u64(config.fault_seed);
        Shared {
            config,
            inner: Mutex::new(Inner {
                state,
                rng,
                log: Vec::new(),
                buckets: HashMap::new(),
            }),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Persists the state if a state file is configured.
    pub fn persist(&self, state: &State) -> Result<(), ApiError> {
        self.persist_with(state, true)
    }

    /// Persists without fsync: still atomic against a killed process (temp file + rename), but
    /// not against power loss. For issued tokens, which a client can always ask for again.
    pub fn persist_quick(&self, state: &State) -> Result<(), ApiError> {
        self.persist_with(state, false)
    }

    fn persist_with(&self, state: &State, durable: bool) -> Result<(), ApiError> {
        if let Some(path) = &self.config.state_path {
            state.save(path, durable).map_err(|e| {
                tracing::error!("persisting state failed: {e}");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalServerError",
                    "The emulator could not persist its state.",
                )
            })?;
        }
        Ok(())
    }
}

pub(crate) fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

fn rfc3339(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Applies every pending transition whose deadline has passed. Returns whether anything changed.
pub(crate) fn settle(state: &mut State, now: i64) -> bool {
    let mut changed = false;
    let mut remove = Vec::new();
    let mut remove_resources = Vec::new();
    let mut deleted_sizes = Vec::new();
    for (i, rec) in state.computes.iter_mut().enumerate() {
        let Some(p) = rec.pending.clone() else {
            continue;
        };
        if p.ends_at_ms > now {
            continue;
        }
        changed = true;
        rec.pending = None;
        let ts = rfc3339(p.ends_at_ms);
        let ctype = compute::compute_type_of(&rec.resource).unwrap_or_default();
        let Some(props) = rec
            .resource
            .get_mut("properties")
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        props.insert("modifiedOn".into(), json!(ts));
        match (&p.kind, &p.outcome) {
            (OpKind::Delete, Outcome::Succeeded) => {
                remove.push(i);
                if let Some(size) = props
                    .get("properties")
                    .and_then(|p| p.get("vmSize"))
                    .and_then(Value::as_str)
                {
                    deleted_sizes.push((
                        format!(
                            "/subscriptions/{}/resourcegroups/{}/workspaces/{}/computes/{}",
                            rec.subscription_id, rec.resource_group, rec.workspace, rec.name
                        )
                        .to_ascii_lowercase(),
                        size.to_string(),
                    ));
                }
                if let Some(r) = &p.delete_underlying {
                    remove_resources.push(r.clone());
                }
            }
            (OpKind::Delete, Outcome::Canceled) => {
                props.insert("provisioningState".into(), json!("Succeeded"));
            }
            (OpKind::Create | OpKind::Update, Outcome::Succeeded) => {
                props.insert("provisioningState".into(), json!("Succeeded"));
                props.insert("provisioningErrors".into(), Value::Null);
                if let Some(Value::Object(inner)) = props.get_mut("properties") {
                    if ctype == "AmlCompute" {
                        let min = inner
                            .get("scaleSettings")
                            .and_then(|s| s.get("minNodeCount"))
                            .and_then(Value::as_i64)
                            .unwrap_or(0);
                        inner.insert("currentNodeCount".into(), json!(min));
                        inner.insert("targetNodeCount".into(), json!(min));
                        inner.insert("nodeStateCounts".into(), compute::node_counts(min));
                        inner.insert("allocationState".into(), json!("Steady"));
                        inner.insert("allocationStateTransitionTime".into(), json!(ts));
                    }
                    if ctype == "ComputeInstance" && p.kind == OpKind::Create {
                        inner.insert("state".into(), json!("Running"));
                        set_last_op(inner, "Create", "Succeeded", &ts);
                    }
                }
            }
            (OpKind::Start | OpKind::Stop | OpKind::Restart, outcome) => {
                let (name, target) = match p.kind {
                    OpKind::Start => ("Start", "Running"),
                    OpKind::Stop => ("Stop", "Stopped"),
                    _ => ("Restart", "Running"),
                };
                if let Some(Value::Object(inner)) = props.get_mut("properties") {
                    if *outcome == Outcome::Succeeded {
                        inner.insert("state".into(), json!(target));
                        set_last_op(inner, name, "Succeeded", &ts);
                    } else {
                        let prev = p.prev_state.clone().unwrap_or_else(|| "Running".into());
                        inner.insert("state".into(), json!(prev));
                        set_last_op(inner, name, &format!("{name}Failed"), &ts);
                    }
                }
            }
            (_, Outcome::Failed { code, message }) => {
                props.insert("provisioningState".into(), json!("Failed"));
                props.insert(
                    "provisioningErrors".into(),
                    json!([{"error": {"code": code, "message": message}}]),
                );
                if ctype == "ComputeInstance"
                    && p.kind == OpKind::Create
                    && let Some(Value::Object(inner)) = props.get_mut("properties")
                {
                    inner.insert("state".into(), json!("CreateFailed"));
                    set_last_op(inner, "Create", "CreateFailed", &ts);
                }
            }
            (_, Outcome::Canceled) => {
                props.insert("provisioningState".into(), json!("Canceled"));
            }
        }
    }
    for i in remove.into_iter().rev() {
        state.computes.remove(i);
    }
    state.deleted_sizes.extend(deleted_sizes);
    for r in remove_resources {
        state.resources.retain(|x| !same_id(x, &r));
    }
    let before = state.tokens.len();
    let now_s = now / 1000;
    state.tokens.retain(|t| t.expires_on > now_s);
    changed || before != state.tokens.len()
}

fn set_last_op(inner: &mut Map<String, Value>, name: &str, status: &str, ts: &str) {
    inner.insert(
        "lastOperation".into(),
        json!({"operationName": name, "operationTime": ts, "operationStatus": status, "operationTrigger": "User"}),
    );
}

// ---------------------------------------------------------------- responses

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

fn empty_response(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

fn error_response(e: &ApiError) -> Response {
    json_response(e.status, &e.body())
}

fn set_header(r: &mut Response, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

// ---------------------------------------------------------------- query parsing

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_params(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

// ---------------------------------------------------------------- entry point

/// The single handler behind the router (routing is done by hand, case-insensitively).
pub(crate) async fn handle(
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
        .map(percent_decode)
        .collect();
    let params = query_params(&query);

    if segs.first().is_some_and(|s| s == "_emulator") {
        return emulator_endpoint(&shared, &method, &segs);
    }
    if segs.len() == 2
        && segs[0].eq_ignore_ascii_case("msi")
        && segs[1].eq_ignore_ascii_case("token")
    {
        return msi_token(&shared, &method, &headers, &params);
    }

    let body = match axum::body::to_bytes(req.into_body(), 8 * 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => Bytes::new(),
    };

    if shared.config.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(shared.config.latency_ms)).await;
    }

    let draw: f64 = {
        let mut g = shared.lock();
        g.rng.random()
    };
    let fault = shared.config.faults.pick(draw);

    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_string();
    let ctx = Ctx {
        shared: &shared,
        base: format!("http://{host}"),
        method: method.clone(),
        segs: &segs,
        params: &params,
        body: &body,
        lro_fault: match fault {
            Some(FaultKind::LroFailed) => Some(Outcome::Failed {
                code: "InternalServerError".into(),
                message: "The operation failed due to an internal error (injected fault).".into(),
            }),
            Some(FaultKind::LroCanceled) => Some(Outcome::Canceled),
            _ => None,
        },
    };

    let is_read = method == Method::GET || method == Method::HEAD;
    let mut response = match check_auth(&shared, &headers) {
        Err(r) => *r,
        Ok(()) => match rate_limit(&shared, &segs, is_read) {
            Err(r) => *r,
            Ok(remaining) => {
                let mut r = match fault {
                    Some(FaultKind::Reset) => {
                        conn.kill();
                        record(&shared, &method, &path, &query, 0);
                        return empty_response(StatusCode::INTERNAL_SERVER_ERROR);
                    }
                    Some(FaultKind::TooManyRequests) => {
                        let mut r = error_response(&ApiError::new(
                            StatusCode::TOO_MANY_REQUESTS,
                            "TooManyRequests",
                            "The request is being throttled (injected fault).",
                        ));
                        set_header(
                            &mut r,
                            "retry-after",
                            &shared.config.retry_after_s.to_string(),
                        );
                        r
                    }
                    Some(FaultKind::InternalError) => error_response(&ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "InternalServerError",
                        "The server encountered an internal error (injected fault).",
                    )),
                    Some(FaultKind::Unavailable) => {
                        let mut r = error_response(&ApiError::new(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "ServiceUnavailable",
                            "The service is temporarily unavailable (injected fault).",
                        ));
                        set_header(
                            &mut r,
                            "retry-after",
                            &shared.config.retry_after_s.to_string(),
                        );
                        r
                    }
                    Some(FaultKind::Slow) => {
                        tokio::time::sleep(Duration::from_millis(shared.config.slow_ms)).await;
                        arm(&ctx)
                    }
                    _ => arm(&ctx),
                };
                if let Some(rem) = remaining {
                    let name = if is_read {
                        "x-ms-ratelimit-remaining-subscription-reads"
                    } else {
                        "x-ms-ratelimit-remaining-subscription-writes"
                    };
                    set_header(&mut r, name, &rem.to_string());
                }
                r
            }
        },
    };
    set_header(
        &mut response,
        "x-ms-request-id",
        &uuid::Uuid::new_v4().to_string(),
    );
    record(&shared, &method, &path, &query, response.status().as_u16());
    response
}

fn record(shared: &Shared, method: &Method, path: &str, query: &str, status: u16) {
    let mut g = shared.lock();
    g.log.push(RequestLog {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        status,
    });
}

fn check_auth(shared: &Shared, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let unauthorized = |code: &str, msg: &str, desc: &str| {
        let mut r = error_response(&ApiError::new(StatusCode::UNAUTHORIZED, code, msg));
        set_header(
            &mut r,
            "www-authenticate",
            &format!(
                "Bearer authorization_uri=\"https://login.microsoftonline.com/common\", error=\"invalid_token\", error_description=\"{desc}\""
            ),
        );
        Box::new(r)
    };
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(unauthorized(
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
            "The authentication failed because of missing 'Authorization' header.",
        ));
    };
    let value = value.to_str().unwrap_or("");
    let token = match value.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => {
            t.trim()
        }
        _ => {
            return Err(unauthorized(
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is provided in an invalid format.",
                "The authentication failed because of an invalid 'Authorization' header format.",
            ));
        }
    };
    if shared.config.accepted_tokens.iter().any(|t| t == token) {
        return Ok(());
    }
    let now_s = now_ms() / 1000;
    let g = shared.lock();
    if g.state
        .tokens
        .iter()
        .any(|t| t.token == token && t.expires_on > now_s)
    {
        return Ok(());
    }
    Err(unauthorized(
        "InvalidAuthenticationToken",
        "The access token is invalid.",
        "The access token is invalid or has expired.",
    ))
}

/// Token-bucket rate limit; returns the remaining count for the header.
fn rate_limit(
    shared: &Shared,
    segs: &[String],
    is_read: bool,
) -> Result<Option<u64>, Box<Response>> {
    let Some(rl) = shared.config.rate_limit else {
        return Ok(Some(if is_read { 11999 } else { 1199 }));
    };
    let sub = match segs {
        [s, sub, ..] if s.eq_ignore_ascii_case("subscriptions") => sub.to_ascii_lowercase(),
        _ => String::new(),
    };
    let now = now_ms();
    let mut g = shared.lock();
    let b = g.buckets.entry(sub).or_insert(Bucket {
        reads: rl.reads as f64,
        writes: rl.writes as f64,
        last_ms: now,
    });
    let elapsed = (now - b.last_ms).max(0) as f64 / 1000.0;
    b.last_ms = now;
    let write_rate = if rl.reads > 0 {
        rl.refill_per_s * rl.writes as f64 / rl.reads as f64
    } else {
        rl.refill_per_s
    };
    b.reads = (b.reads + elapsed * rl.refill_per_s).min(rl.reads as f64);
    b.writes = (b.writes + elapsed * write_rate).min(rl.writes as f64);
    let (tokens, rate) = if is_read {
        (&mut b.reads, rl.refill_per_s)
    } else {
        (&mut b.writes, write_rate)
    };
    if *tokens < 1.0 {
        let wait = if rate > 0.0 {
            ((1.0 - *tokens) / rate).ceil().max(1.0) as u64
        } else {
            shared.config.retry_after_s.max(1)
        };
        let mut r = error_response(&ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "SubscriptionRequestsThrottled",
            format!(
                "Number of {} requests for subscription exceeded the limit. Please try again after {wait} seconds.",
                if is_read { "read" } else { "write" }
            ),
        ));
        set_header(&mut r, "retry-after", &wait.to_string());
        let name = if is_read {
            "x-ms-ratelimit-remaining-subscription-reads"
        } else {
            "x-ms-ratelimit-remaining-subscription-writes"
        };
        set_header(&mut r, name, "0");
        return Err(Box::new(r));
    }
    *tokens -= 1.0;
    Ok(Some(tokens.floor() as u64))
}

// ---------------------------------------------------------------- /_emulator and /msi

fn emulator_endpoint(shared: &Shared, method: &Method, segs: &[String]) -> Response {
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
                let _ = shared.persist(&g.state);
            }
            let computes: Vec<Value> = g
                .state
                .computes
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

fn msi_token(
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
    let token = format!("emu-{}", uuid::Uuid::new_v4().simple());
    let expires_on = now_ms() / 1000 + 3600;
    let mut g = shared.lock();
    g.state.tokens.push(IssuedToken {
        token: token.clone(),
        expires_on,
    });
    if let Err(e) = shared.persist_quick(&g.state) {
        return error_response(&e);
    }
    json_response(
        StatusCode::OK,
        &json!({
            "access_token": token,
            "expires_on": expires_on.to_string(),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": "00000000-0000-0000-0000-0000000e0001",
        }),
    )
}

// ---------------------------------------------------------------- ARM routes

struct Ctx<'a> {
    shared: &'a Shared,
    base: String,
    method: Method,
    segs: &'a [String],
    params: &'a [(String, String)],
    body: &'a Bytes,
    lro_fault: Option<Outcome>,
}

fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn not_found_route(ctx: &Ctx) -> ApiError {
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

fn arm(ctx: &Ctx) -> Response {
    match arm_inner(ctx) {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

fn check_api_version(ctx: &Ctx) -> Result<&'static str, ApiError> {
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
            Method::GET => get(ctx, sub, rg, ws, name),
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

fn workspace_not_found(sub: &str, rg: &str, ws: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ParentResourceNotFound",
        format!(
            "Can not perform requested operation on nested resource. Parent resource '{ws}' not found (resource group '{rg}', subscription '{sub}')."
        ),
    )
}

fn compute_not_found(ws: &str, name: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        format!(
            "The Resource 'Microsoft.MachineLearningServices/workspaces/{ws}/computes/{name}' under the workspace was not found."
        ),
    )
}

/// Locks, settles, and checks the workspace; returns the guard and the workspace location.
fn open<'a>(
    ctx: &'a Ctx,
    sub: &str,
    rg: &str,
    ws: &str,
) -> Result<(MutexGuard<'a, Inner>, String, String), ApiError> {
    let mut g = ctx.shared.lock();
    if settle(&mut g.state, now_ms()) {
        ctx.shared.persist(&g.state)?;
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

fn get_workspace(ctx: &Ctx, sub: &str, rg: &str, ws: &str) -> Result<Response, ApiError> {
    let (g, loc, prefix) = open(ctx, sub, rg, ws)?;
    let w = g.state.find_workspace(sub, rg, ws).cloned();
    drop(g);
    let name = w.map(|w| w.name).unwrap_or_else(|| ws.to_string());
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

fn page_bounds(ctx: &Ctx, len: usize) -> (usize, usize) {
    let skip = param(ctx.params, "$skip")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(0)
        .min(len);
    let size = ctx.shared.config.page_size.max(1);
    (skip, (skip + size).min(len))
}

fn next_link(ctx: &Ctx, version: &str, end: usize, len: usize) -> Value {
    if end >= len {
        return Value::Null;
    }
    json!(format!(
        "{}/{}?api-version={version}&$skip={end}",
        ctx.base,
        ctx.segs.join("/")
    ))
}

fn list(ctx: &Ctx, sub: &str, rg: &str, ws: &str, version: &str) -> Result<Response, ApiError> {
    let (g, _, _) = open(ctx, sub, rg, ws)?;
    let items: Vec<&ComputeRec> = g
        .state
        .computes
        .iter()
        .filter(|c| {
            eq(&c.subscription_id, sub) && eq(&c.resource_group, rg) && eq(&c.workspace, ws)
        })
        .collect();
    let total = items.len();
    let (start, end) = page_bounds(ctx, total);
    // Copy the page out and let other requests in: rendering and serialising a page of large
    // resources is the expensive part, and needs no lock.
    let page: Vec<Value> = items[start..end]
        .iter()
        .map(|c| c.resource.clone())
        .collect();
    drop(g);
    let value: Vec<Value> = page
        .iter()
        .map(|r| compute::render(r, &ctx.shared.config.quirks))
        .collect();
    let mut body = json!({"value": value});
    let link = next_link(ctx, version, end, total);
    if !link.is_null() {
        body["nextLink"] = link;
    }
    Ok(json_response(StatusCode::OK, &body))
}

fn get(ctx: &Ctx, sub: &str, rg: &str, ws: &str, name: &str) -> Result<Response, ApiError> {
    let (g, _, _) = open(ctx, sub, rg, ws)?;
    let idx = g
        .state
        .compute_index(sub, rg, ws, name)
        .ok_or_else(|| compute_not_found(ws, name))?;
    Ok(json_response(
        StatusCode::OK,
        &compute::render(&g.state.computes[idx].resource, &ctx.shared.config.quirks),
    ))
}

fn parse_body(ctx: &Ctx) -> Result<Map<String, Value>, ApiError> {
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
fn start_op(
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
    let rec = &mut g.state.computes[idx];
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
    g.state.operations.push(op);
    // Keep the operation log bounded.
    if g.state.operations.len() > 10_000 {
        let excess = g.state.operations.len() - 10_000;
        g.state.operations.drain(..excess);
    }
    op_id
}

fn lro_headers(
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
    if with_location {
        set_header(r, "location", &result);
    }
    set_header(
        r,
        "retry-after",
        &ctx.shared.config.retry_after_s.to_string(),
    );
}

fn busy(rec: &ComputeRec) -> Option<ApiError> {
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

fn provisioning_state(rec: &ComputeRec) -> String {
    rec.resource
        .get("properties")
        .and_then(|p| p.get("provisioningState"))
        .and_then(Value::as_str)
        .unwrap_or("Succeeded")
        .to_string()
}

fn norm_loc(l: &str) -> String {
    l.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

fn vm_size(resource_props: &Value) -> Option<String> {
    resource_props
        .get("properties")
        .and_then(|p| p.get("vmSize"))
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
}

fn quota_units(props: &Value) -> u64 {
    match props.get("computeType").and_then(Value::as_str) {
        Some("AmlCompute") => props
            .get("properties")
            .and_then(|p| p.get("scaleSettings"))
            .and_then(|s| s.get("maxNodeCount"))
            .and_then(Value::as_u64)
            .unwrap_or(0),
        Some("ComputeInstance") => 1,
        _ => 0,
    }
}

fn put(
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    ws: &str,
    name: &str,
    version: &str,
) -> Result<Response, ApiError> {
    let (mut g, ws_loc, prefix) = open(ctx, sub, rg, ws)?;
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
    if ctype == "Batch" && version != "2020-02-02" {
        return Err(ApiError::bad_request(
            "UnsupportedComputeType",
            format!(
                "Compute type 'Batch' is only supported with api-version 2020-02-02, not '{version}'."
            ),
        ));
    }
    if ctype != "Batch" && version == "2020-02-02" {
        return Err(ApiError::bad_request(
            "UnsupportedComputeType",
            format!(
                "api-version 2020-02-02 only serves the legacy compute type 'Batch'; use api-version {PRIMARY_API_VERSION} for '{ctype}'."
            ),
        ));
    }
    compute::validate_name(name, ctype)?;
    compute::strip_read_only(&mut props);
    compute::validate_enums(ctype, &props)?;
    if ctype == "AmlCompute"
        && let Some(s) = props.get("properties").and_then(|p| p.get("scaleSettings"))
    {
        compute::validate_scale_settings(s)?;
    }
    let location = body
        .get("location")
        .and_then(Value::as_str)
        .filter(|l| !l.is_empty())
        .unwrap_or(&ws_loc)
        .to_string();
    let now = now_ms();
    let ts = rfc3339(now);

    let existing = g.state.compute_index(sub, rg, ws, name);
    if let Some(i) = existing {
        let rec = &g.state.computes[i];
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
    }
    let old = existing.map(|i| g.state.computes[i].clone());
    let overwrite = old
        .as_ref()
        .is_some_and(|o| provisioning_state(o) != "Canceled");

    // Attached resource.
    let resource_id = props
        .get("resourceId")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut attached = false;
    match &resource_id {
        Some(rid) if !rid.is_empty() => {
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

    if let Some(o) = &old
        && overwrite
    {
        let mut with_type = props.clone();
        with_type.insert("computeType".into(), json!(ctype));
        compute::check_immutable(ctype, &o.resource["properties"], &Value::Object(with_type))?;
    }

    // Compute instance names are unique per region.
    if ctype == "ComputeInstance" {
        let clash = g.state.computes.iter().enumerate().any(|(j, c)| {
            Some(j) != existing
                && eq(&c.name, name)
                && norm_loc(&c.location) == norm_loc(&location)
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
    }

    // Build the stored properties: on overwrite, keep create-time fields the client did not
    // resend (and secrets), fill defaults, then restore server-owned state.
    let old_inner = old
        .as_ref()
        .filter(|_| overwrite)
        .and_then(|o| o.resource["properties"]["properties"].as_object().cloned());
    if let Some(o) = &old
        && overwrite
    {
        let old_props = &o.resource["properties"];
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
            &old_inner,
            props.entry("properties").or_insert_with(|| json!({})),
        ) {
            for (k, v) in old_inner {
                let keep_if_absent = matches!(
                    k.as_str(),
                    "vmSize"
                        | "vmPriority"
                        | "subnet"
                        | "osType"
                        | "virtualMachineImage"
                        | "isolatedNetwork"
                        | "enableNodePublicIp"
                        | "remoteLoginPortPublicAccess"
                        | "userAccountCredentials"
                );
                if keep_if_absent && !inner.contains_key(k) {
                    inner.insert(k.clone(), v.clone());
                }
            }
            for path in compute::secret_paths(ctype) {
                restore_secret(inner, old_inner, path);
            }
        }
    }
    if !props.contains_key("createdOn") {
        props.insert("createdOn".into(), json!(ts));
    }
    props.insert("modifiedOn".into(), json!(ts));
    props.insert(
        "provisioningState".into(),
        json!(if overwrite { "Updating" } else { "Creating" }),
    );
    props.insert("provisioningErrors".into(), Value::Null);
    props.insert("isAttachedCompute".into(), json!(attached));
    if props.get("computeLocation").is_none_or(Value::is_null) {
        props.insert("computeLocation".into(), json!(location));
    }
    compute::fill_defaults(ctype, &mut props, name, &location, &ts);
    if let (Some(old_inner), Some(Value::Object(inner))) = (&old_inner, props.get_mut("properties"))
    {
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
    if !overwrite && ctype == "AKS" && resource_id.as_deref().is_none_or(str::is_empty) {
        // A new AKS cluster provisioned by the service.
        let rid = format!(
            "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        g.state.ensure_resource(&rid);
        props.insert("resourceId".into(), json!(rid));
    }

    // Resource envelope: keep every top-level field the client sent.
    let display_name = old
        .as_ref()
        .map(|o| o.name.clone())
        .unwrap_or_else(|| name.to_string());
    let mut resource = Map::new();
    resource.insert(
        "id".into(),
        json!(format!("{prefix}/computes/{display_name}")),
    );
    resource.insert("name".into(), json!(display_name));
    resource.insert("type".into(), json!(COMPUTE_RESOURCE_TYPE));
    resource.insert("location".into(), json!(location));
    for (k, v) in body {
        if !matches!(
            k.as_str(),
            "id" | "name" | "type" | "location" | "systemData"
        ) {
            resource.insert(k, v);
        }
    }
    if let Some(Value::Object(identity)) = resource.get_mut("identity") {
        fill_identity(
            identity,
            old.as_ref().and_then(|o| o.resource.get("identity")),
        );
    }
    resource.insert(
        "systemData".into(),
        json!({
            "createdBy": "emulator-user", "createdByType": "User",
            "createdAt": props.get("createdOn").cloned().unwrap_or(json!(ts)),
            "lastModifiedBy": "emulator-user", "lastModifiedByType": "User", "lastModifiedAt": ts
        }),
    );
    if !overwrite
        && ctx.shared.config.quirks.stale_size_on_recreate
        && let Some(old_size) = g.state.deleted_sizes.get(
            &format!("/subscriptions/{sub}/resourcegroups/{rg}/workspaces/{ws}/computes/{name}")
                .to_ascii_lowercase(),
        )
        && let Some(Value::Object(inner)) = props.get_mut("properties")
        && inner.contains_key("vmSize")
    {
        inner.insert("vmSize".into(), json!(old_size));
    }
    resource.insert("properties".into(), Value::Object(props));
    let resource = Value::Object(resource);

    // Outcome: injected fault, then quota.
    let mut outcome = ctx.lro_fault.clone().unwrap_or(Outcome::Succeeded);
    if outcome == Outcome::Succeeded
        && let Some(size) = vm_size(&resource["properties"])
        && let Some((_, limit)) = ctx
            .shared
            .config
            .quota
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&size))
    {
        let used: u64 = g
            .state
            .computes
            .iter()
            .enumerate()
            .filter(|(j, c)| {
                Some(*j) != existing
                    && eq(&c.subscription_id, sub)
                    && norm_loc(&c.location) == norm_loc(&location)
                    && vm_size(&c.resource["properties"]).as_deref() == Some(size.as_str())
            })
            .map(|(_, c)| quota_units(&c.resource["properties"]))
            .sum();
        let want = quota_units(&resource["properties"]);
        if used + want > u64::from(*limit) {
            let shown = resource["properties"]["properties"]["vmSize"]
                .as_str()
                .unwrap_or(&size)
                .to_string();
            outcome = Outcome::Failed {
                code: "QuotaExceeded".into(),
                message: format!(
                    "Operation could not be completed as it results in exceeding approved quota for VM size {shown} in region {location}. Current usage: {used}, additional required: {want}, limit: {limit}."
                ),
            };
        }
    }

    let rec = ComputeRec {
        subscription_id: sub.to_string(),
        resource_group: rg.to_string(),
        workspace: ws.to_string(),
        name: display_name,
        location: location.clone(),
        resource,
        pending: None,
    };
    let idx = match existing {
        Some(i) => {
            g.state.computes[i] = rec;
            i
        }
        None => {
            g.state.computes.push(rec);
            g.state.computes.len() - 1
        }
    };
    let kind = if overwrite {
        OpKind::Update
    } else {
        OpKind::Create
    };
    let op_id = start_op(ctx, &mut g, idx, kind, outcome, None, None);
    ctx.shared.persist(&g.state)?;
    let status = if overwrite {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut r = json_response(
        status,
        &compute::render(&g.state.computes[idx].resource, &ctx.shared.config.quirks),
    );
    lro_headers(ctx, &mut r, sub, &location, &op_id, version, false);
    Ok(r)
}

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

fn patch(
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    ws: &str,
    name: &str,
    version: &str,
) -> Result<Response, ApiError> {
    let (mut g, _, _) = open(ctx, sub, rg, ws)?;
    let idx = g
        .state
        .compute_index(sub, rg, ws, name)
        .ok_or_else(|| compute_not_found(ws, name))?;
    let body = parse_body(ctx)?;
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
    let rec = &g.state.computes[idx];
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
    for (k, v) in scale_new {
        merged.insert(k, v);
    }
    let merged = Value::Object(merged);
    compute::validate_scale_settings(&merged)?;
    let ts = rfc3339(now_ms());
    let location = rec.location.clone();
    {
        let rec = &mut g.state.computes[idx];
        rec.resource["properties"]["properties"]["scaleSettings"] = merged;
        rec.resource["properties"]["provisioningState"] = json!("Updating");
        rec.resource["properties"]["modifiedOn"] = json!(ts);
    }
    let outcome = ctx.lro_fault.clone().unwrap_or(Outcome::Succeeded);
    let op_id = start_op(ctx, &mut g, idx, OpKind::Update, outcome, None, None);
    ctx.shared.persist(&g.state)?;
    let mut r = json_response(
        StatusCode::OK,
        &compute::render(&g.state.computes[idx].resource, &ctx.shared.config.quirks),
    );
    lro_headers(ctx, &mut r, sub, &location, &op_id, version, true);
    Ok(r)
}

fn delete(
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
    let rec = &mut g.state.computes[idx];
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
    ctx.shared.persist(&g.state)?;
    let mut r = empty_response(StatusCode::ACCEPTED);
    lro_headers(ctx, &mut r, sub, &location, &op_id, version, true);
    Ok(r)
}

fn power(
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    ws: &str,
    name: &str,
    kind: OpKind,
    version: &str,
) -> Result<Response, ApiError> {
    let (mut g, _, _) = open(ctx, sub, rg, ws)?;
    let idx = g
        .state
        .compute_index(sub, rg, ws, name)
        .ok_or_else(|| compute_not_found(ws, name))?;
    let rec = &mut g.state.computes[idx];
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
    ctx.shared.persist(&g.state)?;
    let mut r = empty_response(StatusCode::ACCEPTED);
    lro_headers(ctx, &mut r, sub, &location, &op_id, version, true);
    Ok(r)
}

fn list_keys(ctx: &Ctx, sub: &str, rg: &str, ws: &str, name: &str) -> Result<Response, ApiError> {
    let (g, _, _) = open(ctx, sub, rg, ws)?;
    let idx = g
        .state
        .compute_index(sub, rg, ws, name)
        .ok_or_else(|| compute_not_found(ws, name))?;
    let rec = &g.state.computes[idx];
    Ok(json_response(
        StatusCode::OK,
        &compute::list_keys(&rec.resource, &rec.name),
    ))
}

fn list_nodes(
    ctx: &Ctx,
    sub: &str,
    rg: &str,
    ws: &str,
    name: &str,
    version: &str,
) -> Result<Response, ApiError> {
    let (g, _, _) = open(ctx, sub, rg, ws)?;
    let idx = g
        .state
        .compute_index(sub, rg, ws, name)
        .ok_or_else(|| compute_not_found(ws, name))?;
    let rec = &g.state.computes[idx];
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
    let mut body = json!({"nodes": nodes});
    let link = next_link(ctx, version, end, count);
    if !link.is_null() {
        body["nextLink"] = link;
    }
    Ok(json_response(StatusCode::OK, &body))
}

fn operation(
    ctx: &Ctx,
    sub: &str,
    id: &str,
    is_status: bool,
    version: &str,
) -> Result<Response, ApiError> {
    let mut g = ctx.shared.lock();
    if settle(&mut g.state, now_ms()) {
        ctx.shared.persist(&g.state)?;
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
                let found = g.state.computes.iter().find(|c| {
                    c.resource
                        .get("id")
                        .and_then(Value::as_str)
                        .is_some_and(|i| same_id(i, &op.resource_path))
                });
                match found {
                    Some(c) => Ok(json_response(
                        StatusCode::OK,
                        &compute::render(&c.resource, &ctx.shared.config.quirks),
                    )),
                    None => Ok(empty_response(StatusCode::NO_CONTENT)),
                }
            }
        },
    }
}
