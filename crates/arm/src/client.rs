//! The ARM client: requests, retries, throttling, long-running operations and paging.

use crate::auth::{self, TokenCache};
use crate::error::{self, ArmError, format_duration, one_line};
use crate::throttle::{Bucket, Throttle, subscription_of};
use crate::{API_VERSION, Cloud, WorkspaceId};
use azure_core::credentials::TokenCredential;
use reqwest::header::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::time::Instant;
use tracing::Instrument;
use url::Url;

/// Longest single backoff sleep (before `Retry-After`, which may ask for longer).
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Longest a single HTTP attempt may take before it is abandoned and retried.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(120);
/// Compute-instance states that an action passes through before it ends.
const TRANSITIONAL_STATES: &[&str] = &[
    "Creating",
    "Deleting",
    "Starting",
    "Stopping",
    "Restarting",
    "SettingUp",
    "UserSettingUp",
    "Resizing",
];
/// Upper bound on pages followed by one list call (guards against nextLink loops).
const MAX_PAGES: usize = 10_000;
/// Body fields whose values are secrets (x-ms-secret in the spec, or secret in practice).
const SECRET_KEYS: &[&str] = &[
    "adminUserPassword",
    "adminUserSshPublicKey",
    "password",
    "privateKeyData",
    "publicKeyData",
    "cert",
    "key",
    "relayConnectionString",
    "serviceBusConnectionString",
    "databricksAccessToken",
    "userKubeConfig",
    "adminKubeConfig",
];

/// How to build an [`ArmClient`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// ARM endpoint, e.g. `https://management.azure.com` or the emulator's `http://127.0.0.1:PORT`.
    pub endpoint: Url,
    /// OAuth scope of the tokens to request, e.g. `https://management.azure.com/.default`.
    pub scope: String,
    /// Concurrent requests per subscription (default 8).
    pub parallelism: usize,
    /// Time budget of one operation, retries and LRO polling included (default 10 minutes).
    pub deadline: Duration,
    /// Interval between LRO polls when ARM sends no `Retry-After` (default 5 s).
    pub poll_interval: Duration,
    /// Base of the exponential backoff between retries (default 1 s).
    pub retry_base: Duration,
    /// `User-Agent` header.
    pub user_agent: String,
}

impl ClientOptions {
    /// Defaults for a named cloud.
    pub fn for_cloud(cloud: Cloud) -> Self {
        #[allow(clippy::expect_used)]
        let endpoint =
            Url::parse(cloud.endpoint()).expect("cloud endpoints are valid URL constants");
        Self::with(endpoint, cloud.scope().to_string())
    }

    /// Defaults for an explicit endpoint (`--arm-endpoint`). The token scope is never derived from
    /// a configurable host: it is that of the cloud whose endpoint this is, else the public cloud's
    /// (callers that know the selected cloud set [`ClientOptions::scope`] from [`Cloud::scope`]).
    pub fn for_endpoint(url: Url) -> Self {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let scope = [Cloud::Public, Cloud::UsGov, Cloud::China]
            .into_iter()
            .find(|c| {
                Url::parse(c.endpoint())
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_string))
                    .is_some_and(|h| h == host)
            })
            .unwrap_or(Cloud::Public)
            .scope()
            .to_string();
        Self::with(url, scope)
    }

    fn with(endpoint: Url, scope: String) -> Self {
        Self {
            endpoint,
            scope,
            parallelism: 8,
            deadline: Duration::from_secs(600),
            poll_interval: Duration::from_secs(5),
            retry_base: Duration::from_secs(1),
            user_agent: format!("amlctl/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// A planned ARM request (what `apply` executes). `path` is relative to the endpoint and `query`
/// includes `api-version` (added when missing). `Debug` masks secret-looking body fields.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmRequest {
    /// HTTP method: GET, PUT, PATCH, DELETE or POST.
    pub method: String,
    /// Path, e.g. `/subscriptions/…/computes/cpu`.
    pub path: String,
    /// Query parameters, e.g. `api-version`, `underlyingResourceAction`.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// JSON body, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

impl fmt::Debug for ArmRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArmRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("body", &self.body.as_ref().map(mask_secrets))
            .finish()
    }
}

/// A copy of `v` with the values of secret fields replaced by `"<redacted>"`.
fn mask_secrets(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| {
                    if SECRET_KEYS.iter().any(|s| s.eq_ignore_ascii_case(k)) && x.is_string() {
                        (k.clone(), Value::String("<redacted>".into()))
                    } else {
                        (k.clone(), mask_secrets(x))
                    }
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(mask_secrets).collect()),
        other => other.clone(),
    }
}

/// What DELETE does to the underlying Azure resource (`underlyingResourceAction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnderlyingResourceAction {
    /// Delete the underlying compute.
    Delete,
    /// Detach the compute from the workspace, keeping the underlying resource.
    Detach,
}

impl UnderlyingResourceAction {
    /// The query value: `Delete` or `Detach`.
    pub fn as_str(&self) -> &'static str {
        match self {
            UnderlyingResourceAction::Delete => "Delete",
            UnderlyingResourceAction::Detach => "Detach",
        }
    }
}

/// Counters of one client (and its clones).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ClientStats {
    /// HTTP requests sent (attempts, polls included).
    pub requests: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// Requests delayed by the subscription limiter (spacing or a 429 pause).
    pub throttle_waits: u64,
    /// 429 answers received.
    pub throttled: u64,
    /// LRO status polls sent.
    pub polls: u64,
    /// Tokens obtained from the credential (cache misses).
    pub token_requests: u64,
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    throttle_waits: AtomicU64,
    throttled: AtomicU64,
    polls: AtomicU64,
    token_requests: AtomicU64,
}

struct Inner {
    http: reqwest::Client,
    opts: ClientOptions,
    tokens: TokenCache,
    throttle: Throttle,
    secrets: RwLock<Vec<String>>,
    counters: Counters,
}

/// The ARM client. Cheap to clone; clones share the token cache, limiters and counters.
#[derive(Clone)]
pub struct ArmClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for ArmClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArmClient")
            .field("endpoint", &self.inner.opts.endpoint.as_str())
            .field("parallelism", &self.inner.opts.parallelism)
            .field("deadline", &self.inner.opts.deadline)
            .finish_non_exhaustive()
    }
}

/// True when the URL's host is a literal loopback address (127.0.0.0/8, `[::1]`) or exactly
/// `localhost`. Never a name that would need a DNS lookup (`*.localhost`, `localhost.`, others).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Checks that a bearer token may be sent to `url`: https, or plain http only to a literal
/// loopback address (see [`is_loopback`]); a host is required. Looks nothing up.
pub fn check_token_endpoint(url: &Url) -> Result<(), String> {
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(url) => {}
        "http" => {
            return Err(format!(
                "refusing to send a bearer token over plain http to {}: use https, or http only to a literal loopback address (127.0.0.1, [::1], localhost) such as the emulator",
                url.host_str().unwrap_or("(no host)")
            ));
        }
        other => return Err(format!("unsupported endpoint scheme '{other}': use https")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("endpoint {url} has no host"));
    }
    Ok(())
}

/// One HTTP answer, body read.
struct Resp {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Result<Option<Value>, ArmError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&self.body).map(Some).map_err(|e| {
            ArmError::InvalidResponse(format!("HTTP {} body is not JSON: {e}", self.status))
        })
    }

    fn retry_after(&self) -> Option<Duration> {
        parse_retry_after(&self.headers)
    }
}

/// `retry-after-ms` / `x-ms-retry-after-ms` (milliseconds), else `Retry-After` (seconds or HTTP date).
fn parse_retry_after(h: &HeaderMap) -> Option<Duration> {
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).map(str::trim);
    for n in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(ms) = get(n).and_then(|v| v.parse::<f64>().ok())
            && ms.is_finite()
            && ms >= 0.0
        {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    let v = get("retry-after")?;
    if let Ok(s) = v.parse::<f64>() {
        if s.is_finite() && s >= 0.0 {
            return Some(Duration::from_secs_f64(s.min(86_400.0)));
        }
        return None;
    }
    let date =
        time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc2822).ok()?;
    let secs = (date - time::OffsetDateTime::now_utc()).as_seconds_f64();
    Some(Duration::from_secs_f64(secs.clamp(0.0, 86_400.0)))
}

fn ratelimit_header(h: &HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Per-operation state: the deadline and the last thing that happened (for `Deadline` errors).
struct Op {
    deadline: Instant,
    budget: Duration,
    last: String,
    /// A connection error happened after the request may have reached ARM (the write may have been
    /// applied even though no answer came back).
    lost_answer: bool,
}

impl Op {
    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    fn expired(&self) -> ArmError {
        ArmError::Deadline {
            after: self.budget,
            last: if self.last.is_empty() {
                "no answer yet".to_string()
            } else {
                self.last.clone()
            },
        }
    }

    /// Sleeps `d`, or fails at once when `d` would overrun the deadline.
    async fn sleep(&self, d: Duration) -> Result<(), ArmError> {
        if d >= self.remaining() {
            return Err(self.expired());
        }
        tokio::time::sleep(d).await;
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Put,
    Patch,
    Delete,
    Post,
}

impl Method {
    fn parse(s: &str) -> Result<Self, ArmError> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "POST" => Method::Post,
            other => {
                return Err(ArmError::Refused {
                    reason: format!("unsupported HTTP method '{other}'"),
                });
            }
        })
    }

    fn as_str(&self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Post => "POST",
        }
    }

    fn reqwest(&self) -> reqwest::Method {
        match self {
            Method::Get => reqwest::Method::GET,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
            Method::Post => reqwest::Method::POST,
        }
    }
}

fn provisioning_state(v: &Value) -> Option<&str> {
    v.pointer("/properties/provisioningState")
        .and_then(Value::as_str)
}

fn is_terminal(state: Option<&str>) -> bool {
    match state {
        None => true, // ARM: a missing provisioningState means Succeeded
        Some(s) => ["succeeded", "failed", "canceled", "cancelled"]
            .contains(&s.to_ascii_lowercase().as_str()),
    }
}

fn is_failed(state: Option<&str>) -> Option<&'static str> {
    match state.map(str::to_ascii_lowercase).as_deref() {
        Some("failed") => Some("Failed"),
        Some("canceled") | Some("cancelled") => Some("Canceled"),
        _ => None,
    }
}

fn collect_secrets(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if SECRET_KEYS.iter().any(|s| s.eq_ignore_ascii_case(k)) {
                    if let Some(s) = x.as_str()
                        && s.len() >= 4
                    {
                        out.push(s.to_string());
                    }
                } else {
                    collect_secrets(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_secrets(x, out)),
        _ => {}
    }
}

fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let cap = exp.min(MAX_BACKOFF);
    let ms = cap.as_millis() as u64;
    Duration::from_millis(rand::random_range(0..=ms.max(1)))
}

impl ArmClient {
    /// Builds a client. Refuses (before any token is requested) to send a bearer token over plain
    /// http unless the endpoint's host is loopback.
    pub fn new(opts: ClientOptions, cred: Arc<dyn TokenCredential>) -> Result<Self, ArmError> {
        check_token_endpoint(&opts.endpoint).map_err(|reason| ArmError::Refused { reason })?;
        let ua = HeaderValue::from_str(&opts.user_agent)
            .unwrap_or_else(|_| HeaderValue::from_static("amlctl"));
        let http = reqwest::Client::builder()
            .user_agent(ua)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(30))
            .pool_idle_timeout(Duration::from_secs(50))
            .build()
            .map_err(|e| ArmError::Transport(format!("cannot build the HTTP client: {e}")))?;
        let throttle = Throttle::new(opts.parallelism);
        let tokens = TokenCache::new(cred, opts.scope.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                opts,
                tokens,
                throttle,
                secrets: RwLock::new(Vec::new()),
                counters: Counters::default(),
            }),
        })
    }

    /// Registers a secret value: it is replaced by `<redacted>` in every error message and log this
    /// client produces (services echo request bodies in errors).
    pub fn register_secret(&self, value: &str) {
        if value.is_empty() {
            return;
        }
        if let Ok(mut s) = self.inner.secrets.write()
            && !s.iter().any(|x| x == value)
        {
            s.push(value.to_string());
            // Longest first, so a secret containing another is replaced whole.
            s.sort_by_key(|x| std::cmp::Reverse(x.len()));
        }
    }

    /// The options this client was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.opts
    }

    /// Gets (and caches) a token before any request, so a missing credential is reported once,
    /// with one `(source, what it said)` pair per credential source tried ([`ArmError::Auth`]),
    /// instead of once per request. Bounded by the client's operation deadline.
    pub async fn authenticate(&self) -> Result<(), ArmError> {
        let inner = &self.inner;
        match tokio::time::timeout(inner.opts.deadline, inner.tokens.token()).await {
            Err(_) => Err(ArmError::Auth {
                source_messages: vec![(
                    auth::source_label(inner.tokens.credential()),
                    format!(
                        "no token within {}",
                        crate::error::format_duration(inner.opts.deadline)
                    ),
                )],
            }),
            Ok(Err(e)) => Err(ArmError::Auth {
                source_messages: auth::failure_messages(inner.tokens.credential(), &e)
                    .into_iter()
                    .map(|(s, m)| (s, one_line(&m)))
                    .collect(),
            }),
            Ok(Ok((_, fresh))) => {
                if fresh {
                    inner
                        .counters
                        .token_requests
                        .fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }
        }
    }

    /// A human name for the credential source in use ("managed identity", "static token", …).
    pub fn credential_source(&self) -> String {
        auth::source_label(self.inner.tokens.credential())
    }

    /// Counters of this client and its clones.
    pub fn stats(&self) -> ClientStats {
        let c = &self.inner.counters;
        ClientStats {
            requests: c.requests.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            throttle_waits: c.throttle_waits.load(Ordering::Relaxed),
            throttled: c.throttled.load(Ordering::Relaxed),
            polls: c.polls.load(Ordering::Relaxed),
            token_requests: c.token_requests.load(Ordering::Relaxed),
        }
    }

    fn secrets(&self) -> Vec<String> {
        self.inner
            .secrets
            .read()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    fn redact<T>(&self, r: Result<T, ArmError>) -> Result<T, ArmError> {
        r.map_err(|e| e.redact(&self.secrets()))
    }

    fn op(&self) -> Op {
        let budget = self.inner.opts.deadline;
        Op {
            deadline: Instant::now() + budget,
            budget,
            last: String::new(),
            lost_answer: false,
        }
    }

    /// `endpoint` + `path` + `query` (api-version added when missing).
    fn url(&self, path: &str, query: &BTreeMap<String, String>) -> Result<Url, ArmError> {
        let base = self.inner.opts.endpoint.as_str().trim_end_matches('/');
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        let mut url = Url::parse(&format!("{base}{path}")).map_err(|e| ArmError::Refused {
            reason: format!("invalid request path '{path}': {e}"),
        })?;
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in query {
                q.append_pair(k, v);
            }
            if !query.contains_key("api-version") {
                q.append_pair("api-version", API_VERSION);
            }
        }
        Ok(url)
    }

    /// Resolves a URL ARM handed back (polling URL, nextLink) and checks it points at the endpoint's
    /// origin, so the token is never sent elsewhere.
    fn follow_url(&self, raw: &str, what: &str) -> Result<Url, ArmError> {
        let ep = &self.inner.opts.endpoint;
        let url = ep
            .join(raw.trim())
            .map_err(|e| ArmError::InvalidResponse(format!("{what} is not a valid URL: {e}")))?;
        if url.origin() != ep.origin() {
            return Err(ArmError::Refused {
                reason: format!(
                    "ARM returned a {what} on another host ({}); refusing to send the token there",
                    url.host_str().unwrap_or("?")
                ),
            });
        }
        Ok(url)
    }

    /// Sends one request with retries, throttling and authentication. Returns any status other than
    /// the retryable ones and 401; non-2xx answers become errors except 404 when `allow_404`.
    async fn send(
        &self,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        op: &mut Op,
        allow_404: bool,
    ) -> Result<Resp, ArmError> {
        let inner = &self.inner;
        let limiter = inner
            .throttle
            .for_subscription(&subscription_of(url.path()));
        let bucket = if method == Method::Get {
            Bucket::Reads
        } else {
            Bucket::Writes
        };
        let mut attempt: u32 = 0;
        let mut reauthenticated = false;
        loop {
            attempt += 1;
            if op.remaining().is_zero() {
                return Err(op.expired());
            }
            let (permit, waited) =
                match tokio::time::timeout(op.remaining(), limiter.acquire(bucket)).await {
                    Ok(p) => p,
                    Err(_) => return Err(op.expired()),
                };
            if waited {
                inner
                    .counters
                    .throttle_waits
                    .fetch_add(1, Ordering::Relaxed);
            }
            let token = match tokio::time::timeout(op.remaining(), inner.tokens.token()).await {
                Err(_) => {
                    op.last = "waiting for a token from the credential".to_string();
                    return Err(op.expired());
                }
                Ok(Err(e)) => {
                    return Err(ArmError::Auth {
                        source_messages: auth::failure_messages(inner.tokens.credential(), &e)
                            .into_iter()
                            .map(|(s, m)| (s, one_line(&m)))
                            .collect(),
                    });
                }
                Ok(Ok((t, fresh))) => {
                    if fresh {
                        inner
                            .counters
                            .token_requests
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    t
                }
            };
            let mut rb = inner
                .http
                .request(method.reqwest(), url.clone())
                .bearer_auth(token.token.secret())
                .header("accept", "application/json")
                .header(
                    "x-ms-client-request-id",
                    format!("{:032x}", rand::random::<u128>()),
                )
                .timeout(op.remaining().min(ATTEMPT_TIMEOUT));
            if let Some(b) = body {
                rb = rb.json(b);
            } else if matches!(method, Method::Post | Method::Put | Method::Patch) {
                rb = rb.header("content-length", "0");
            }
            let span = tracing::info_span!(
                "arm_request",
                method = method.as_str(),
                path = url.path(),
                attempt,
                status = tracing::field::Empty,
                duration_ms = tracing::field::Empty,
            );
            let started = Instant::now();
            inner.counters.requests.fetch_add(1, Ordering::Relaxed);
            if attempt > 1 {
                inner.counters.retries.fetch_add(1, Ordering::Relaxed);
            }
            let result = async {
                let resp = rb.send().await?;
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                let body = resp.bytes().await?.to_vec();
                Ok::<_, reqwest::Error>(Resp {
                    status,
                    headers,
                    body,
                })
            }
            .instrument(span.clone())
            .await;
            drop(permit);
            let elapsed = started.elapsed();
            span.record("duration_ms", elapsed.as_millis() as u64);

            let resp = match result {
                Ok(r) => r,
                Err(e) if e.is_builder() => {
                    return Err(ArmError::Transport(format!("cannot build request: {e}")));
                }
                Err(e) => {
                    let what = describe_reqwest_error(&e);
                    span.in_scope(|| tracing::warn!(error = %what, "request failed; will retry"));
                    op.last = format!("{} {}: {what}", method.as_str(), url.path());
                    if !e.is_connect() {
                        op.lost_answer = true;
                    }
                    op.sleep(backoff(inner.opts.retry_base, attempt)).await?;
                    continue;
                }
            };
            span.record("status", resp.status);
            span.in_scope(|| {
                tracing::info!(
                    status = resp.status,
                    duration_ms = elapsed.as_millis() as u64,
                    "ARM answered"
                )
            });
            limiter.observe(
                ratelimit_header(&resp.headers, "x-ms-ratelimit-remaining-subscription-reads"),
                ratelimit_header(
                    &resp.headers,
                    "x-ms-ratelimit-remaining-subscription-writes",
                ),
            );
            let status = resp.status;
            match status {
                200..=299 => return Ok(resp),
                404 if allow_404 => return Ok(resp),
                401 => {
                    let detail = error::api_error(401, "Unauthorized", &resp.body);
                    if !reauthenticated {
                        // The token may have been revoked or expired early: get a new one, once.
                        reauthenticated = true;
                        inner.tokens.invalidate(&token).await;
                        op.last = detail.to_string();
                        continue;
                    }
                    let msg = match &detail {
                        ArmError::Api { code, message, .. } => {
                            format!(
                                "ARM rejected the token (HTTP 401 {code}: {})",
                                one_line(message)
                            )
                        }
                        other => other.to_string(),
                    };
                    return Err(ArmError::Auth {
                        source_messages: vec![(self.credential_source(), msg)],
                    });
                }
                408 | 429 | 500 | 502 | 503 | 504 => {
                    let ra = resp.retry_after();
                    if status == 429 {
                        inner.counters.throttled.fetch_add(1, Ordering::Relaxed);
                        limiter
                            .pause(ra.unwrap_or_else(|| backoff(inner.opts.retry_base, attempt)));
                    }
                    let wait = backoff(inner.opts.retry_base, attempt).max(ra.unwrap_or_default());
                    let detail = error::api_error(status, reason(status), &resp.body);
                    op.last = detail.redact(&self.secrets()).to_string();
                    span.in_scope(|| {
                        tracing::warn!(
                            status,
                            wait_ms = wait.as_millis() as u64,
                            "retryable answer; backing off"
                        )
                    });
                    op.sleep(wait).await?;
                    continue;
                }
                _ => {
                    return Err(error::api_error(status, reason(status), &resp.body));
                }
            }
        }
    }

    /// Runs one request to completion: waits for its LRO, follows the LRO protocol of ARM.
    async fn run(
        &self,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        op: &mut Op,
    ) -> Result<Option<Value>, ArmError> {
        let resp = match self
            .send(method, url, body, op, method == Method::Delete)
            .await
        {
            Ok(r) => r,
            Err(e) if e.is_conflict() && op.lost_answer && method != Method::Post => {
                // The first attempt reached ARM but its answer was lost; the retry then found the
                // operation it had started still running. Follow the resource instead.
                tracing::info!(
                    path = url.path(),
                    "retry after a lost answer hit 409; following the resource"
                );
                return self.follow_after_lost_answer(method, url, body, op).await;
            }
            Err(e) => return Err(e),
        };
        match method {
            Method::Get => resp.json(),
            Method::Delete => {
                if resp.status == 404 || resp.status == 204 {
                    return Ok(None);
                }
                self.wait_lro(method, url, resp, body, op).await?;
                Ok(None)
            }
            Method::Put | Method::Patch => {
                self.wait_lro(method, url, resp, body, op).await.map(Some)
            }
            Method::Post => {
                if resp.status == 202 {
                    self.wait_lro(method, url, resp, body, op).await?;
                    Ok(None)
                } else {
                    resp.json()
                }
            }
        }
    }

    /// After a lost answer and a 409 on retry: wait for the resource to settle (PUT/PATCH) or to
    /// disappear (DELETE).
    async fn follow_after_lost_answer(
        &self,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        op: &mut Op,
    ) -> Result<Option<Value>, ArmError> {
        let resource_url = Self::resource_url(method, url);
        if method == Method::Delete {
            loop {
                match self.get_resource(&resource_url, op).await? {
                    None => return Ok(None),
                    Some(r) => {
                        if let Some(term) = is_failed(provisioning_state(&r)) {
                            return Err(error::operation_failed(
                                term,
                                &Value::Null,
                                Some(&r),
                                body,
                            ));
                        }
                        op.last = format!("{} still exists", url.path());
                    }
                }
                op.sleep(self.inner.opts.poll_interval).await?;
                self.inner.counters.polls.fetch_add(1, Ordering::Relaxed);
            }
        }
        let r = self.final_resource(&resource_url, None, body, op).await?;
        Ok(Some(r))
    }

    /// Interval before the next poll: `max(Retry-After, poll_interval)`, or `poll_interval`.
    fn poll_delay(&self, retry_after: Option<Duration>) -> Duration {
        let pi = self.inner.opts.poll_interval;
        retry_after.map_or(pi, |ra| ra.max(pi))
    }

    /// The URL of the resource a request acts on (for POST actions: without the action segment).
    fn resource_url(method: Method, url: &Url) -> Url {
        let mut u = url.clone();
        if method == Method::Post
            && let Ok(mut segs) = u.path_segments_mut()
        {
            segs.pop();
        }
        u
    }

    async fn get_resource(&self, url: &Url, op: &mut Op) -> Result<Option<Value>, ArmError> {
        let r = self.send(Method::Get, url, None, op, true).await?;
        if r.status == 404 {
            return Ok(None);
        }
        r.json()
    }

    /// Waits for a long-running operation started by `initial`. Returns the final resource for
    /// PUT/PATCH (`Null` for other methods).
    async fn wait_lro(
        &self,
        method: Method,
        url: &Url,
        initial: Resp,
        request: Option<&Value>,
        op: &mut Op,
    ) -> Result<Value, ArmError> {
        let resource_url = Self::resource_url(method, url);
        let wants_resource = matches!(method, Method::Put | Method::Patch);
        op.last = format!(
            "{} {} accepted (HTTP {}); the operation had not finished",
            method.as_str(),
            url.path(),
            initial.status
        );

        if let Some(ao) = initial.header("azure-asyncoperation").map(str::to_string) {
            let status_url = self.follow_url(&ao, "Azure-AsyncOperation URL")?;
            let mut delay = self.poll_delay(initial.retry_after());
            loop {
                op.sleep(delay).await?;
                self.inner.counters.polls.fetch_add(1, Ordering::Relaxed);
                let r = self.send(Method::Get, &status_url, None, op, false).await?;
                let body = r.json()?.unwrap_or(Value::Null);
                let status = body
                    .get("status")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                match status.to_ascii_lowercase().as_str() {
                    "succeeded" => break,
                    "failed" | "canceled" | "cancelled" => {
                        let term = if status.eq_ignore_ascii_case("failed") {
                            "Failed"
                        } else {
                            "Canceled"
                        };
                        let resource = self.get_resource(&resource_url, op).await.ok().flatten();
                        return Err(error::operation_failed(
                            term,
                            body.get("error").unwrap_or(&Value::Null),
                            resource.as_ref(),
                            request,
                        ));
                    }
                    "" => {
                        return Err(ArmError::InvalidResponse(
                            "Azure-AsyncOperation status body has no 'status'".to_string(),
                        ));
                    }
                    _ => {
                        op.last = format!(
                            "{} {} still {status} after {}",
                            method.as_str(),
                            url.path(),
                            format_duration(op.budget.saturating_sub(op.remaining()))
                        );
                        delay = self.poll_delay(r.retry_after());
                    }
                }
            }
            if !wants_resource {
                return Ok(Value::Null);
            }
            return self.final_resource(&resource_url, None, request, op).await;
        }

        let initial_done = initial.status == 200
            && initial
                .json()
                .ok()
                .flatten()
                .is_some_and(|b| is_terminal(provisioning_state(&b)));
        if !initial_done && let Some(loc) = initial.header("location").map(str::to_string) {
            let loc_url = self.follow_url(&loc, "Location URL")?;
            let mut delay = self.poll_delay(initial.retry_after());
            let done = loop {
                op.sleep(delay).await?;
                self.inner.counters.polls.fetch_add(1, Ordering::Relaxed);
                let r = match self
                    .send(Method::Get, &loc_url, None, op, method == Method::Delete)
                    .await
                {
                    Ok(r) => r,
                    // The Location URL answers like the synchronous call would have: an error
                    // answer there is the operation's failure.
                    Err(ArmError::Api {
                        code,
                        message,
                        status,
                        ..
                    }) if status != 404 => {
                        let term = if code.to_ascii_lowercase().contains("cancel") {
                            "Canceled"
                        } else {
                            "Failed"
                        };
                        let resource = if wants_resource {
                            self.get_resource(&resource_url, op).await.ok().flatten()
                        } else {
                            None
                        };
                        return Err(error::operation_failed(
                            term,
                            &json!({"code": code, "message": message}),
                            resource.as_ref(),
                            request,
                        ));
                    }
                    Err(e) => return Err(e),
                };
                if r.status != 202 {
                    break r;
                }
                op.last = format!(
                    "{} {} still running after {}",
                    method.as_str(),
                    url.path(),
                    format_duration(op.budget.saturating_sub(op.remaining()))
                );
                delay = self.poll_delay(r.retry_after());
            };
            if !wants_resource {
                return Ok(done.json().ok().flatten().unwrap_or(Value::Null));
            }
            let body = done.json()?;
            let body = body.filter(|b| b.get("properties").is_some());
            return self.final_resource(&resource_url, body, request, op).await;
        }

        // No polling header: follow the resource itself.
        match method {
            Method::Put | Method::Patch => {
                let body = initial.json()?;
                self.final_resource(&resource_url, body, request, op).await
            }
            Method::Delete if initial.status == 202 => loop {
                op.sleep(self.poll_delay(initial.retry_after())).await?;
                self.inner.counters.polls.fetch_add(1, Ordering::Relaxed);
                match self.get_resource(&resource_url, op).await? {
                    None => return Ok(Value::Null),
                    Some(r) => {
                        if let Some(term) = is_failed(provisioning_state(&r)) {
                            return Err(error::operation_failed(
                                term,
                                &Value::Null,
                                Some(&r),
                                request,
                            ));
                        }
                        op.last = format!("{} still exists", url.path());
                    }
                }
            },
            Method::Post if initial.status == 202 => {
                // An action without polling headers: follow the resource until its provisioning
                // state is terminal and it has left the transitional power states.
                let delay = self.poll_delay(initial.retry_after());
                loop {
                    op.sleep(delay).await?;
                    self.inner.counters.polls.fetch_add(1, Ordering::Relaxed);
                    let Some(r) = self.get_resource(&resource_url, op).await? else {
                        return Ok(Value::Null);
                    };
                    let state = r
                        .pointer("/properties/properties/state")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    if is_terminal(provisioning_state(&r)) && !TRANSITIONAL_STATES.contains(&state)
                    {
                        return Ok(Value::Null);
                    }
                    op.last = format!("{} still {state}", resource_url.path());
                }
            }
            _ => Ok(Value::Null),
        }
    }

    /// GETs the resource until its provisioningState is terminal (starting from `known`, if given).
    async fn final_resource(
        &self,
        resource_url: &Url,
        known: Option<Value>,
        request: Option<&Value>,
        op: &mut Op,
    ) -> Result<Value, ArmError> {
        let mut current = known;
        loop {
            let r = match current.take() {
                Some(r) => r,
                None => self.get_resource(resource_url, op).await?.ok_or_else(|| {
                    ArmError::InvalidResponse(format!(
                        "{} is gone after its operation succeeded",
                        resource_url.path()
                    ))
                })?,
            };
            let state = provisioning_state(&r);
            if let Some(term) = is_failed(state) {
                let err = r
                    .pointer("/properties/provisioningErrors/0/error")
                    .cloned()
                    .unwrap_or(Value::Null);
                return Err(error::operation_failed(term, &err, Some(&r), request));
            }
            if is_terminal(state) {
                return Ok(r);
            }
            op.last = format!("{} still {}", resource_url.path(), state.unwrap_or("?"));
            op.sleep(self.inner.opts.poll_interval).await?;
            self.inner.counters.polls.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Follows `nextLink` from `first`, collecting `item_name` arrays.
    async fn paged(
        &self,
        method: Method,
        first: Url,
        item_name: &str,
        op: &mut Op,
    ) -> Result<Vec<Value>, ArmError> {
        let mut items = Vec::new();
        let mut url = first;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..MAX_PAGES {
            seen.insert(url.to_string());
            let page = self
                .send(method, &url, None, op, false)
                .await?
                .json()?
                .unwrap_or(Value::Null);
            match page.get(item_name) {
                Some(Value::Array(a)) => items.extend(a.iter().cloned()),
                None | Some(Value::Null) => {}
                Some(_) => {
                    return Err(ArmError::InvalidResponse(format!(
                        "'{item_name}' of a list page is not an array"
                    )));
                }
            }
            match page.get("nextLink").and_then(Value::as_str) {
                Some(next) if !next.trim().is_empty() => {
                    let mut next = self.follow_url(next, "nextLink")?;
                    if !next.query_pairs().any(|(k, _)| k == "api-version") {
                        next.query_pairs_mut()
                            .append_pair("api-version", API_VERSION);
                    }
                    if seen.contains(next.as_str()) {
                        return Err(ArmError::InvalidResponse(format!(
                            "nextLink loops back to an earlier page ({})",
                            next.path()
                        )));
                    }
                    url = next;
                }
                _ => return Ok(items),
            }
        }
        Err(ArmError::InvalidResponse(format!(
            "more than {MAX_PAGES} pages"
        )))
    }

    // -----------------------------------------------------------------------------------------
    // Public operations

    /// Generic, LRO-aware execution of a planned request (path relative to the endpoint; query
    /// includes api-version). Returns the final resource for PUT/PATCH, the body for GET/POST (if
    /// any), `None` for DELETE (204/404 count as already gone).
    pub async fn execute(&self, req: &ArmRequest) -> Result<Option<Value>, ArmError> {
        let r = async {
            let method = Method::parse(&req.method)?;
            let url = self.url(&req.path, &req.query)?;
            if let Some(b) = &req.body {
                let mut found = Vec::new();
                collect_secrets(b, &mut found);
                for s in found {
                    self.register_secret(&s);
                }
            }
            let mut op = self.op();
            self.run(method, &url, req.body.as_ref(), &mut op).await
        }
        .await;
        self.redact(r)
    }

    fn compute_req(
        ws: &WorkspaceId,
        name: &str,
        suffix: &str,
        method: &str,
        api_version: Option<&str>,
        body: Option<Value>,
    ) -> ArmRequest {
        let mut query = BTreeMap::new();
        query.insert(
            "api-version".to_string(),
            api_version.unwrap_or(API_VERSION).to_string(),
        );
        ArmRequest {
            method: method.to_string(),
            path: format!("{}{suffix}", ws.compute_path(name)),
            query,
            body,
        }
    }

    /// GET the workspace resource.
    pub async fn get_workspace(&self, ws: &WorkspaceId) -> Result<Value, ArmError> {
        let r = async {
            let url = self.url(&ws.path(), &BTreeMap::new())?;
            let mut op = self.op();
            self.send(Method::Get, &url, None, &mut op, false)
                .await?
                .json()?
                .ok_or_else(|| ArmError::InvalidResponse("empty workspace body".into()))
        }
        .await;
        self.redact(r)
    }

    /// Lists every compute of the workspace, following `nextLink`.
    pub async fn list_computes(&self, ws: &WorkspaceId) -> Result<Vec<Value>, ArmError> {
        let r = async {
            let url = self.url(&format!("{}/computes", ws.path()), &BTreeMap::new())?;
            let mut op = self.op();
            self.paged(Method::Get, url, "value", &mut op).await
        }
        .await;
        self.redact(r)
    }

    /// GET one compute; `None` when it does not exist (404).
    pub async fn get_compute(
        &self,
        ws: &WorkspaceId,
        name: &str,
    ) -> Result<Option<Value>, ArmError> {
        let r = async {
            let url = self.url(&ws.compute_path(name), &BTreeMap::new())?;
            let mut op = self.op();
            self.get_resource(&url, &mut op).await
        }
        .await;
        self.redact(r)
    }

    /// PUT (create, attach or overwrite) a compute; waits for the LRO and returns the final resource.
    pub async fn create_or_update(
        &self,
        ws: &WorkspaceId,
        name: &str,
        body: &Value,
        api_version: Option<&str>,
    ) -> Result<Value, ArmError> {
        let req = Self::compute_req(ws, name, "", "PUT", api_version, Some(body.clone()));
        let r = self.execute(&req).await?;
        r.ok_or_else(|| ArmError::InvalidResponse("PUT returned no resource".into()))
    }

    /// PATCH the scale settings of an AmlCompute
    /// (`{"properties":{"properties":{"scaleSettings":…}}}`); returns the final resource.
    pub async fn update_scale_settings(
        &self,
        ws: &WorkspaceId,
        name: &str,
        scale_settings: &Value,
    ) -> Result<Value, ArmError> {
        let body = json!({"properties": {"properties": {"scaleSettings": scale_settings}}});
        let req = Self::compute_req(ws, name, "", "PATCH", None, Some(body));
        let r = self.execute(&req).await?;
        r.ok_or_else(|| ArmError::InvalidResponse("PATCH returned no resource".into()))
    }

    /// DELETE (or detach) a compute and wait until it is gone; 204/404 (already gone) is `Ok`.
    pub async fn delete(
        &self,
        ws: &WorkspaceId,
        name: &str,
        action: UnderlyingResourceAction,
        api_version: Option<&str>,
    ) -> Result<(), ArmError> {
        let mut req = Self::compute_req(ws, name, "", "DELETE", api_version, None);
        req.query.insert(
            "underlyingResourceAction".to_string(),
            action.as_str().to_string(),
        );
        self.execute(&req).await.map(|_| ())
    }

    async fn action(&self, ws: &WorkspaceId, name: &str, action: &str) -> Result<(), ArmError> {
        let req = Self::compute_req(ws, name, &format!("/{action}"), "POST", None, None);
        self.execute(&req).await.map(|_| ())
    }

    /// Start a compute instance and wait for the operation to end.
    pub async fn start(&self, ws: &WorkspaceId, name: &str) -> Result<(), ArmError> {
        self.action(ws, name, "start").await
    }

    /// Stop a compute instance and wait for the operation to end.
    pub async fn stop(&self, ws: &WorkspaceId, name: &str) -> Result<(), ArmError> {
        self.action(ws, name, "stop").await
    }

    /// Restart a compute instance and wait for the operation to end.
    pub async fn restart(&self, ws: &WorkspaceId, name: &str) -> Result<(), ArmError> {
        self.action(ws, name, "restart").await
    }

    /// POST listKeys: the compute's secrets. The values are registered as secrets of this client.
    pub async fn list_keys(&self, ws: &WorkspaceId, name: &str) -> Result<Value, ArmError> {
        let req = Self::compute_req(ws, name, "/listKeys", "POST", None, None);
        let v = self.execute(&req).await?.unwrap_or(Value::Null);
        let mut found = Vec::new();
        collect_secrets(&v, &mut found);
        for s in found {
            self.register_secret(&s);
        }
        Ok(v)
    }

    /// POST listNodes: the nodes of an AmlCompute, following `nextLink` (continuation pages are
    /// POSTed too, as the operation is a POST).
    pub async fn list_nodes(&self, ws: &WorkspaceId, name: &str) -> Result<Vec<Value>, ArmError> {
        let r = async {
            let url = self.url(
                &format!("{}/listNodes", ws.compute_path(name)),
                &BTreeMap::new(),
            )?;
            let mut op = self.op();
            self.paged(Method::Post, url, "nodes", &mut op).await
        }
        .await;
        self.redact(r)
    }
}

fn reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("HTTP error")
}

/// A one-line description of a transport error, with its innermost cause.
fn describe_reqwest_error(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "connection lost while reading the answer"
    } else {
        "connection error"
    };
    let mut cause: Option<&dyn std::error::Error> = e.source();
    let mut last = None;
    while let Some(c) = cause {
        last = Some(c.to_string());
        cause = c.source();
    }
    match last {
        Some(c) => format!("{kind} ({c})"),
        None => kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(3)));
        let future = time::OffsetDateTime::now_utc() + time::Duration::seconds(30);
        let date = future
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap_or_default();
        h.insert("retry-after", HeaderValue::from_str(&date).unwrap());
        let d = parse_retry_after(&h).unwrap_or_default();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert(
            "retry-after",
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(parse_retry_after(&h), Some(Duration::ZERO));
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_millis(250)));
    }

    #[test]
    fn loopback_detection() {
        for (u, l) in [
            ("http://127.0.0.1:8080", true),
            ("http://[::1]:1", true),
            ("http://localhost:3000", true),
            ("http://LOCALHOST:3000", true),
            ("http://evil.localhost:3000", false),
            ("http://localhost.:3000", false),
            ("http://127.1.2.3:3000", true),
            ("http://[::2]:1", false),
            ("http://10.0.0.1", false),
            ("http://example.com", false),
        ] {
            assert_eq!(is_loopback(&Url::parse(u).unwrap()), l, "{u}");
        }
    }

    #[test]
    fn secrets_are_found_in_bodies() {
        let mut out = Vec::new();
        collect_secrets(
            &json!({"properties":{"properties":{"userAccountCredentials":{"adminUserName":"azureuser","adminUserPassword":"P@ssw0rd!"}}}}),
            &mut out,
        );
        assert_eq!(out, vec!["P@ssw0rd!".to_string()]);
    }

    #[test]
    fn arm_request_debug_masks_secrets() {
        let r = ArmRequest {
            method: "PUT".into(),
            path: "/x".into(),
            query: BTreeMap::new(),
            body: Some(
                json!({"properties":{"properties":{"administratorAccount":{"username":"u","password":"hunter22"}}}}),
            ),
        };
        let d = format!("{r:?}");
        assert!(!d.contains("hunter22") && d.contains("<redacted>"), "{d}");
    }

    #[test]
    fn client_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<ArmClient>();
    }

    #[test]
    fn backoff_is_bounded() {
        for attempt in 1..40 {
            assert!(backoff(Duration::from_millis(10), attempt) <= MAX_BACKOFF);
        }
    }
}
