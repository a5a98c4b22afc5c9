//! The ARM client: requests, retries, throttling, long-running operations and paging.
//!
//! Split along its seams: [`transport`] sends one request (auth header, host rules, throttling),
//! [`retry`] decides when and how long to wait, [`lro`] follows long-running operations,
//! [`redaction`] keeps secrets out of errors and logs, [`paging`] follows `nextLink`, and
//! [`computes`] is the typed computes API built on them.

mod activity;
mod computes;
mod lro;
mod paging;
mod redaction;
mod regional;
mod retry;
mod transport;

pub use activity::{ACTIVITY_LOG_API_VERSION, ActivityEvent, ActivityLookup};
pub use computes::{ArmRequest, UnderlyingResourceAction};
pub use regional::ResourceCheck;
pub use transport::{check_token_endpoint, is_loopback};

use crate::Cloud;
use crate::auth::{self, TokenCache};
use crate::error::{ArmError, one_line};
use crate::throttle::Throttle;
use azure_core::credentials::TokenCredential;
use reqwest::header::HeaderValue;
use serde::Serialize;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use url::Url;

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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_is_send_sync_clone() {
        fn check<T: Send + Sync + Clone + 'static>() {}
        check::<ArmClient>();
    }
}
