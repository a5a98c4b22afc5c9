//! Resolving secret references at apply time: environment, files, literals and Azure Key Vault.

use std::collections::BTreeMap;
use std::sync::Arc;

use amlctl_manifest::{SecretRef, SecretSlot, SecretString};
use amlctl_plan::Plan;
use azure_core::credentials::TokenCredential;

/// Reads Key Vault secrets with the same credential as ARM.
#[derive(Clone)]
pub struct KeyVaultClient {
    credential: Arc<dyn TokenCredential>,
    http: reqwest::Client,
}

impl KeyVaultClient {
    /// A client that asks `credential` for Key Vault tokens.
    pub fn new(credential: Arc<dyn TokenCredential>) -> Self {
        KeyVaultClient {
            credential,
            http: reqwest::Client::new(),
        }
    }

    /// Fetches `https://<vault>.vault.azure.net/secrets/<name>[/<version>]`.
    pub async fn get(&self, url: &str) -> Result<SecretString, String> {
        let parsed =
            url::Url::parse(url).map_err(|e| format!("key_vault URL is not a URL: {e}"))?;
        if parsed.scheme() != "https" {
            return Err("key_vault URL must use https".to_string());
        }
        let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
        let scope = if host.ends_with(".vault.usgovcloudapi.net") {
            "https://vault.usgovcloudapi.net/.default"
        } else if host.ends_with(".vault.azure.cn") {
            "https://vault.azure.cn/.default"
        } else {
            "https://vault.azure.net/.default"
        };
        let token = self
            .credential
            .get_token(&[scope], None)
            .await
            .map_err(|e| format!("no token for Key Vault: {e}"))?;
        let mut request_url = parsed.clone();
        request_url.set_query(Some("api-version=7.4"));
        let response = self
            .http
            .get(request_url)
            .bearer_auth(token.token.secret())
            .send()
            .await
            .map_err(|e| format!("Key Vault request failed: {}", e.without_url()))?;
        let status = response.status();
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|_| format!("Key Vault answered {status} with a body that is not JSON"))?;
        if !status.is_success() {
            let code = body
                .pointer("/error/code")
                .and_then(|c| c.as_str())
                .unwrap_or("unknown");
            return Err(format!("Key Vault answered {status} ({code}) for {url}"));
        }
        body.get("value")
            .and_then(|v| v.as_str())
            .map(SecretString::new)
            .ok_or_else(|| format!("Key Vault secret {url} has no value"))
    }
}

/// Turns [`SecretRef`]s into values. [`SecretResolver::prepare`] resolves every reference a plan
/// needs before the first write; the values are then held in memory only, never printed.
#[derive(Clone, Default)]
pub struct SecretResolver {
    key_vault: Option<KeyVaultClient>,
    sandbox: bool,
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
            sandbox: false,
            confine_to: None,
            resolved: Arc::default(),
        }
    }

    /// A resolver for `--sandbox`: there is no real Key Vault, so `key_vault` references send a
    /// fixed placeholder to the local emulator (environment and file references are still read).
    pub fn sandbox() -> Self {
        SecretResolver {
            key_vault: None,
            sandbox: true,
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
            sandbox: self.sandbox,
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
            SecretRef::KeyVault(_) if self.sandbox => {
                Ok(SecretString::new("sandbox-placeholder-for-key-vault"))
            }
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
