//! The request gate in front of every ARM route: bearer-token auth, ARM-style rate limiting,
//! seeded fault injection, and the request log (`/_emulator/requests`).

use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use rand::Rng;

use super::clock::now_ms;
use super::http::{error_response, set_header};
use super::shared::{Bucket, RequestLog, Shared};
use crate::config::FaultKind;
use crate::error::ApiError;
use crate::state::Outcome;

/// What an injected fault does to a request that passed auth and rate limiting.
pub(super) enum Injected {
    /// Drop the connection without answering (`reset`).
    Reset,
    /// Answer with this error instead of running the route.
    Respond(Response),
    /// Run the route (no fault, `slow` after its delay, or an LRO fault).
    Pass,
}

/// Draws the next fault from the seeded RNG (one draw per ARM request, in arrival order).
pub(super) fn draw_fault(shared: &Shared) -> Option<FaultKind> {
    let draw: f64 = {
        let mut g = shared.lock();
        g.rng.random()
    };
    shared.config.faults.pick(draw)
}

/// The LRO outcome an `lro-failed`/`lro-canceled` fault imposes on an operation it starts.
pub(super) fn lro_outcome(fault: Option<FaultKind>) -> Option<Outcome> {
    match fault {
        Some(FaultKind::LroFailed) => Some(Outcome::Failed {
            code: "InternalServerError".into(),
            message: "The operation failed due to an internal error (injected fault).".into(),
        }),
        Some(FaultKind::LroCanceled) => Some(Outcome::Canceled),
        _ => None,
    }
}

/// Auth, then rate limit; returns the remaining rate-limit count for the response header.
pub(super) fn admit(
    shared: &Shared,
    headers: &HeaderMap,
    segs: &[String],
    is_read: bool,
) -> Result<Option<u64>, Box<Response>> {
    check_auth(shared, headers)?;
    rate_limit(shared, segs, is_read)
}

/// Applies a drawn fault (after auth): the error it answers with, a delay, or nothing.
pub(super) async fn injected(shared: &Shared, fault: Option<FaultKind>) -> Injected {
    let retry_after = shared.config.retry_after_s.to_string();
    match fault {
        Some(FaultKind::Reset) => Injected::Reset,
        Some(FaultKind::TooManyRequests) => {
            let mut r = error_response(&ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "The request is being throttled (injected fault).",
            ));
            set_header(&mut r, "retry-after", &retry_after);
            Injected::Respond(r)
        }
        Some(FaultKind::InternalError) => Injected::Respond(error_response(&ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "The server encountered an internal error (injected fault).",
        ))),
        Some(FaultKind::Unavailable) => {
            let mut r = error_response(&ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "The service is temporarily unavailable (injected fault).",
            ));
            set_header(&mut r, "retry-after", &retry_after);
            Injected::Respond(r)
        }
        Some(FaultKind::Slow) => {
            tokio::time::sleep(Duration::from_millis(shared.config.slow_ms)).await;
            Injected::Pass
        }
        _ => Injected::Pass,
    }
}

/// Sets the `x-ms-ratelimit-remaining-subscription-{reads|writes}` header.
pub(super) fn set_remaining(r: &mut Response, remaining: Option<u64>, is_read: bool) {
    if let Some(rem) = remaining {
        set_header(r, remaining_header(is_read), &rem.to_string());
    }
}

fn remaining_header(is_read: bool) -> &'static str {
    if is_read {
        "x-ms-ratelimit-remaining-subscription-reads"
    } else {
        "x-ms-ratelimit-remaining-subscription-writes"
    }
}

/// Appends one entry to the request log.
pub(super) fn record(shared: &Shared, method: &Method, path: &str, query: &str, status: u16) {
    let mut g = shared.lock();
    g.log.push(RequestLog {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        status,
    });
}

/// Checks the bearer token: a static accepted token or an unexpired issued one.
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
    if let Some(t) = g
        .state
        .tokens
        .iter()
        .find(|t| t.token == token && t.expires_on > now_s)
    {
        // A token issued for a Key Vault is not an ARM token (ARM checks the audience).
        return match t.audience.as_deref() {
            Some(aud) if super::vault::is_vault_audience(aud) => Err(unauthorized(
                "InvalidAuthenticationToken",
                &format!(
                    "The access token has been obtained for wrong audience or resource '{aud}'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'."
                ),
                "The access token has been obtained for wrong audience or resource.",
            )),
            _ => Ok(()),
        };
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
    let write_rate = rl.write_refill_per_s();
    b.reads = (b.reads + elapsed * rl.read_refill_per_s()).min(rl.reads as f64);
    b.writes = (b.writes + elapsed * write_rate).min(rl.writes as f64);
    let (tokens, rate) = if is_read {
        (&mut b.reads, rl.read_refill_per_s())
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
        set_header(&mut r, remaining_header(is_read), "0");
        return Err(Box::new(r));
    }
    *tokens -= 1.0;
    Ok(Some(tokens.floor() as u64))
}
