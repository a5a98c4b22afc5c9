//! One request on the wire: the bearer token, the host rules, the subscription limiter and the
//! retry loop around a single HTTP exchange.

use super::ArmClient;
use super::retry::{ATTEMPT_TIMEOUT, Op, backoff, is_retryable, parse_retry_after};
use crate::API_VERSION;
use crate::auth;
use crate::error::{self, ArmError, one_line};
use crate::throttle::{Bucket, SubLimiter, subscription_of};
use amlctl_vocab::Method;
use azure_core::credentials::AccessToken;
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;
use tracing::Instrument;
use url::Url;

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
pub(super) struct Resp {
    pub(super) status: u16,
    pub(super) headers: HeaderMap,
    pub(super) body: Vec<u8>,
}

impl Resp {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(super) fn json(&self) -> Result<Option<Value>, ArmError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&self.body).map(Some).map_err(|e| {
            ArmError::InvalidResponse(format!("HTTP {} body is not JSON: {e}", self.status))
        })
    }

    pub(super) fn retry_after(&self) -> Option<Duration> {
        parse_retry_after(&self.headers)
    }
}

fn ratelimit_header(h: &HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The reqwest method of an ARM request method.
fn reqwest_method(method: Method) -> reqwest::Method {
    match method {
        Method::Get => reqwest::Method::GET,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
        Method::Post => reqwest::Method::POST,
    }
}

impl ArmClient {
    /// `endpoint` + `path` + `query` (api-version added when missing).
    pub(super) fn url(
        &self,
        path: &str,
        query: &BTreeMap<String, String>,
    ) -> Result<Url, ArmError> {
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
    pub(super) fn follow_url(&self, raw: &str, what: &str) -> Result<Url, ArmError> {
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
    pub(super) async fn send(
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
            let token = self.bearer_token(op).await?;
            let rb = self.build_request(method, url, body, &token, op);
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
            let result = exchange(rb).instrument(span.clone()).await;
            drop(permit);
            let elapsed = started.elapsed();
            span.record("duration_ms", elapsed.as_millis() as u64);

            let resp = match result {
                Ok(r) => r,
                Err(e) if e.is_builder() => {
                    return Err(ArmError::Transport(format!("cannot build request: {e}")));
                }
                Err(e) => {
                    // No answer: the request is no longer in flight.
                    limiter.observe(bucket, None, None);
                    let what = describe_reqwest_error(&e);
                    // A request cut off by the operation's own deadline (its timeout is what was
                    // left of it) says nothing new: report the deadline with the last real answer.
                    if e.is_timeout() && op.remaining().is_zero() && !op.last.is_empty() {
                        return Err(op.expired());
                    }
                    span.in_scope(|| tracing::warn!(error = %what, "request failed; will retry"));
                    op.last = format!("{} {}: {what}", method.as_str(), url.path());
                    if !e.is_connect() {
                        op.lost_answer = true;
                    }
                    op.sleep(backoff(inner.opts.retry_base, attempt)).await?;
                    continue;
                }
            };
            observe_answer(&span, &resp, elapsed, &limiter, bucket);
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
                    return Err(self.token_rejected(&detail));
                }
                s if is_retryable(s) => {
                    let wait = self.retry_wait(&resp, attempt, &limiter, op);
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

    /// How long to wait before retrying a retryable answer: the backoff, never shorter than
    /// `Retry-After`. A 429 also pauses the whole subscription. Records the answer in `op.last`.
    fn retry_wait(&self, resp: &Resp, attempt: u32, limiter: &SubLimiter, op: &mut Op) -> Duration {
        let inner = &self.inner;
        let status = resp.status;
        let ra = resp.retry_after();
        if status == 429 {
            inner.counters.throttled.fetch_add(1, Ordering::Relaxed);
            limiter.pause(ra.unwrap_or_else(|| backoff(inner.opts.retry_base, attempt)));
        }
        let wait = backoff(inner.opts.retry_base, attempt).max(ra.unwrap_or_default());
        let detail = error::api_error(status, reason(status), &resp.body);
        op.last = detail.redact(&self.secrets()).to_string();
        wait
    }

    /// A token from the shared cache, within the operation's deadline (counts cache misses).
    async fn bearer_token(&self, op: &mut Op) -> Result<AccessToken, ArmError> {
        let inner = &self.inner;
        match tokio::time::timeout(op.remaining(), inner.tokens.token()).await {
            Err(_) => {
                op.last = "waiting for a token from the credential".to_string();
                Err(op.expired())
            }
            Ok(Err(e)) => Err(ArmError::Auth {
                source_messages: auth::failure_messages(inner.tokens.credential(), &e)
                    .into_iter()
                    .map(|(s, m)| (s, one_line(&m)))
                    .collect(),
            }),
            Ok(Ok((t, fresh))) => {
                if fresh {
                    inner
                        .counters
                        .token_requests
                        .fetch_add(1, Ordering::Relaxed);
                }
                Ok(t)
            }
        }
    }

    /// One attempt's request: bearer token, JSON accept, a fresh client request id, the attempt
    /// timeout, and the body (or an explicit empty one for writes).
    fn build_request(
        &self,
        method: Method,
        url: &Url,
        body: Option<&Value>,
        token: &AccessToken,
        op: &Op,
    ) -> reqwest::RequestBuilder {
        let mut rb = self
            .inner
            .http
            .request(reqwest_method(method), url.clone())
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
        rb
    }

    /// The error for a token ARM rejected twice (HTTP 401 after one re-authentication).
    fn token_rejected(&self, detail: &ArmError) -> ArmError {
        let msg = match detail {
            ArmError::Api { code, message, .. } => {
                format!(
                    "ARM rejected the token (HTTP 401 {code}: {})",
                    one_line(message)
                )
            }
            other => other.to_string(),
        };
        ArmError::Auth {
            source_messages: vec![(self.credential_source(), msg)],
        }
    }
}

/// Sends a built request and reads the whole answer.
async fn exchange(rb: reqwest::RequestBuilder) -> Result<Resp, reqwest::Error> {
    let resp = rb.send().await?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await?.to_vec();
    Ok(Resp {
        status,
        headers,
        body,
    })
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

/// Logs an answer on its request span and feeds the subscription's remaining-request headers to
/// its limiter.
fn observe_answer(
    span: &tracing::Span,
    resp: &Resp,
    elapsed: Duration,
    limiter: &SubLimiter,
    bucket: Bucket,
) {
    span.record("status", resp.status);
    span.in_scope(|| {
        tracing::info!(
            status = resp.status,
            duration_ms = elapsed.as_millis() as u64,
            "ARM answered"
        )
    });
    limiter.observe(
        bucket,
        ratelimit_header(&resp.headers, "x-ms-ratelimit-remaining-subscription-reads"),
        ratelimit_header(
            &resp.headers,
            "x-ms-ratelimit-remaining-subscription-writes",
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
