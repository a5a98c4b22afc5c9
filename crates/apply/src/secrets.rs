//! Resolving secret references at apply time: environment, files, literals and Azure Key Vault.

use std::collections::BTreeMap;
use std::sync::Arc;

use amlctl_arm::Cloud;
use amlctl_manifest::{SecretRef, SecretSlot, SecretString};
use amlctl_plan::Plan;
use azure_core::credentials::TokenCredential;

/// Reads Key Vault secrets with the same credential as ARM. Only vaults of the selected cloud are
/// asked, with that cloud's token scope; `--key-vault-endpoint` redirects every request (tests,
/// emulators). Redirects are never followed, so a token cannot be forwarded elsewhere.
#[derive(Clone)]
pub struct KeyVaultClient {
    credential: Arc<dyn TokenCredential>,
    http: reqwest::Client,
    cloud: Cloud,
    endpoint: Option<url::Url>,
}

impl KeyVaultClient {
    /// A client for the public cloud that asks `credential` for Key Vault tokens.
    pub fn new(credential: Arc<dyn TokenCredential>) -> Self {
        Self::for_cloud(credential, Cloud::Public, None)
    }

    /// A client for `cloud`; with `endpoint`, requests go to that base URL (which the caller has
    /// checked with [`amlctl_arm::check_token_endpoint`]) instead of the vault's host.
    pub fn for_cloud(
        credential: Arc<dyn TokenCredential>,
        cloud: Cloud,
        endpoint: Option<url::Url>,
    ) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        KeyVaultClient {
            credential,
            http,
            cloud,
            endpoint,
        }
    }

    /// Fetches `https://<vault>.vault.azure.net/secrets/<name>[/<version>]` (or the same path
    /// below the override endpoint). Refused before any token request when the URL is not a
    /// vault of the selected cloud.
    pub async fn get(&self, url: &str) -> Result<SecretString, String> {
        let cloud = amlctl_manifest::check_key_vault_url(url)?;
        if cloud.vault_suffix() != self.cloud.key_vault_suffix() {
            return Err(format!(
                "{url} is not a Key Vault of the {} cloud (its vaults end in {})",
                self.cloud,
                self.cloud.key_vault_suffix()
            ));
        }
        let parsed =
            url::Url::parse(url).map_err(|e| format!("key_vault URL is not a URL: {e}"))?;
        let vault_host = parsed.host_str().unwrap_or_default().to_string();
        let mut request_url = match &self.endpoint {
            Some(base) => base
                .join(parsed.path().trim_start_matches('/'))
                .map_err(|e| format!("--key-vault-endpoint cannot take {url}: {e}"))?,
            None => parsed.clone(),
        };
        amlctl_arm::check_token_endpoint(&request_url)?;
        let token = self
            .credential
            .get_token(&[self.cloud.key_vault_scope()], None)
            .await
            .map_err(|e| format!("no token for Key Vault: {e}"))?;
        request_url.set_query(Some("api-version=7.4"));
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let mut request = self
                .http
                .get(request_url.clone())
                .bearer_auth(token.token.secret());
            if self.endpoint.is_some() {
                // The stand-in learns which vault is meant from the vault's own host, as a
                // vault would see it on the wire.
                request = request.header(reqwest::header::HOST, vault_host.as_str());
            }
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) if attempt < KV_MAX_ATTEMPTS => {
                    tracing::debug!("Key Vault request failed ({}), retrying", e.without_url());
                    tokio::time::sleep(kv_backoff(attempt, None)).await;
                    continue;
                }
                Err(e) => {
                    return Err(format!(
                        "Key Vault request for {url} failed: {}",
                        e.without_url()
                    ));
                }
            };
            let status = response.status();
            if KV_RETRY_STATUSES.contains(&status.as_u16()) && attempt < KV_MAX_ATTEMPTS {
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                tracing::debug!(
                    "Key Vault answered {status} for {url}; retrying (attempt {attempt})"
                );
                tokio::time::sleep(kv_backoff(attempt, retry_after)).await;
                continue;
            }
            let body: serde_json::Value = response.json().await.map_err(|_| {
                format!("Key Vault answered {status} for {url} with a body that is not JSON")
            })?;
            if !status.is_success() {
                return Err(kv_failure(url, status, &body));
            }
            return body
                .get("value")
                .and_then(|v| v.as_str())
                .map(SecretString::new)
                .ok_or_else(|| format!("Key Vault secret {url} has no value"));
        }
    }
}

/// Tries per secret (the first and up to three retries), as the Azure SDKs' default policy.
const KV_MAX_ATTEMPTS: u32 = 4;
/// Statuses the Azure SDKs retry for Key Vault.
const KV_RETRY_STATUSES: [u16; 6] = [408, 429, 500, 502, 503, 504];

/// The wait before retry `attempt`: `Retry-After` when the vault sent one (at most 60 s), else
/// exponential from 800 ms.
fn kv_backoff(attempt: u32, retry_after_s: Option<u64>) -> std::time::Duration {
    match retry_after_s {
        Some(s) => std::time::Duration::from_secs(s.min(60)),
        None => std::time::Duration::from_millis(800u64 << attempt.saturating_sub(1).min(6)),
    }
}

/// One line for a vault's error answer: status, code (inner code), and what to do. The vault's
/// message is not repeated (it never holds the value, but it is not ours to vouch for).
fn kv_failure(url: &str, status: reqwest::StatusCode, body: &serde_json::Value) -> String {
    let code = body
        .pointer("/error/code")
        .and_then(|c| c.as_str())
        .unwrap_or("unknown");
    let inner = body
        .pointer("/error/innererror/code")
        .or_else(|| body.pointer("/error/innerError/code"))
        .and_then(|c| c.as_str());
    let codes = match inner {
        Some(i) => format!("{code}/{i}"),
        None => code.to_string(),
    };
    let hint = match (status.as_u16(), inner) {
        (404, _) => {
            "the secret (or that version) does not exist in the vault: check the name and version"
        }
        (403, Some("SecretDisabled")) => {
            "the secret is disabled: enable it, or name an enabled version"
        }
        (403, _) => {
            "the apply identity may not read this secret: give it the Key Vault Secrets User role on the vault or the secret (or a Get access policy)"
        }
        (401, _) => "the vault refused the token: check that the identity's tenant owns the vault",
        (429, _) => "the vault kept throttling; try again later",
        _ => "check the vault and try again",
    };
    format!("Key Vault answered {status} ({codes}) for {url}: {hint}")
}

/// Turns [`SecretRef`]s into values. [`SecretResolver::prepare`] resolves every reference a plan
/// needs before the first write; the values are then held in memory only, never printed.
#[derive(Clone, Default)]
pub struct SecretResolver {
    key_vault: Option<KeyVaultClient>,
    /// `{ file: … }` references must resolve inside this folder (the repository root).
    confine_to: Option<std::path::PathBuf>,
    /// Values resolved by [`SecretResolver::prepare`], by [`cache_key`].
    resolved: Arc<BTreeMap<String, SecretString>>,
}

/// A stable key for a reference (its serialised form: never holds a value).
fn cache_key(secret: &SecretRef) -> String {
    serde_json::to_string(secret).unwrap_or_default()
}

impl SecretResolver {
    /// A resolver; without a Key Vault client, `key_vault` references fail with a clear message.
    pub fn new(key_vault: Option<KeyVaultClient>) -> Self {
        SecretResolver {
            key_vault,
            confine_to: None,
            resolved: Arc::default(),
        }
    }

    /// Refuses `{ file: … }` references (and key files) that resolve, symlinks followed, outside
    /// `root`, before opening them; `None` reads any file (`--allow-outside-repo`).
    pub fn confined_to(mut self, root: Option<std::path::PathBuf>) -> Self {
        self.confine_to = root;
        self
    }

    /// Resolves every secret reference that the actionable entries of `plan` (only those in
    /// `only`, when given) need, concurrently (Key Vault fetches overlap), before anything is
    /// written. Returns a resolver holding the values, or one line per failing reference naming
    /// the manifest and key (`databricks.yml:7: access_token: …`), never a value.
    pub async fn prepare(&self, plan: &Plan, only: Option<&[String]>) -> Result<Self, Vec<String>> {
        let mut slots: BTreeMap<String, Vec<SecretSlot>> = BTreeMap::new();
        for entry in crate::actionable(plan) {
            if only.is_some_and(|o| !o.iter().any(|a| a == &entry.address)) {
                continue;
            }
            for step in &entry.steps {
                for slot in &step.secrets {
                    slots
                        .entry(cache_key(&slot.secret))
                        .or_default()
                        .push(slot.clone());
                }
            }
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (key, uses) in slots {
            let resolver = self.clone();
            tasks.spawn(async move {
                let secret = uses[0].secret.clone();
                (key, uses, resolver.resolve(&secret).await)
            });
        }
        let mut resolved = BTreeMap::new();
        let mut errors = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((key, _, Ok(value))) => {
                    resolved.insert(key, value);
                }
                Ok((_, uses, Err(reason))) => {
                    let mut named: Vec<String> = uses.iter().map(SecretSlot::describe).collect();
                    named.sort();
                    named.dedup();
                    for n in named {
                        errors.push(format!("{n}: {reason}"));
                    }
                }
                Err(e) => errors.push(format!("a secret task failed: {e}")),
            }
        }
        if !errors.is_empty() {
            errors.sort();
            return Err(errors);
        }
        Ok(SecretResolver {
            key_vault: self.key_vault.clone(),
            confine_to: self.confine_to.clone(),
            resolved: Arc::new(resolved),
        })
    }

    /// Resolves one reference (from the values [`SecretResolver::prepare`] resolved, when there).
    pub async fn resolve(&self, secret: &SecretRef) -> Result<SecretString, String> {
        if let Some(value) = self.resolved.get(&cache_key(secret)) {
            return Ok(value.clone());
        }
        match secret {
            SecretRef::KeyVault(url) => match &self.key_vault {
                Some(kv) => kv.get(url).await,
                None => Err(format!(
                    "{url} is a Key Vault reference, and no Key Vault credential is available here"
                )),
            },
            other => amlctl_manifest::resolve_secret_in(other, self.confine_to.as_deref())
                .map_err(|e| e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn foreign_vaults_are_refused_before_any_token_request() {
        let cred = amlctl_arm::StaticTokenCredential::new("t".to_string());
        let public = KeyVaultClient::for_cloud(cred.clone(), Cloud::Public, None);
        for url in [
            "https://kv1.vault.azure.cn/secrets/a",
            "http://kv1.vault.azure.net/secrets/a",
            "https://127.0.0.1:9/secrets/a",
            "https://kv1.vault.azure.net.evil.example/secrets/a",
        ] {
            assert!(public.get(url).await.is_err(), "{url}");
        }
        // An override that is plain http to a non-loopback name is refused too.
        let evil = url::Url::parse("http://evil.localhost:9").unwrap();
        let redirected = KeyVaultClient::for_cloud(cred.clone(), Cloud::Public, Some(evil));
        let e = redirected
            .get("https://kv1.vault.azure.net/secrets/a")
            .await
            .unwrap_err();
        assert!(e.contains("plain http"), "{e}");
        assert_eq!(cred.calls(), 0, "no token was requested");
    }
}
