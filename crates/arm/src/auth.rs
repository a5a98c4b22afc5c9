//! Credentials: the `--auth` chain built from `azure_identity` 1.x, a fixed-token credential, and the
//! shared single-flight token cache used by [`crate::ArmClient`].

use crate::{ArmError, Cloud};
use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_identity::{
    AzureCliCredential, AzureDeveloperCliCredential, ClientSecretCredential,
    ClientSecretCredentialOptions, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// Which credential source to use (`--auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuthMethod {
    /// Try, in order: client secret, workload identity, managed identity, Azure CLI, Azure Developer CLI.
    #[default]
    Auto,
    /// Service principal secret from `AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`.
    ClientSecret,
    /// Federated token file `AZURE_FEDERATED_TOKEN_FILE` (GitHub Actions OIDC, AKS workload identity).
    WorkloadIdentity,
    /// Managed identity (App Service style `IDENTITY_ENDPOINT`/`IDENTITY_HEADER`, or IMDS).
    ManagedIdentity,
    /// The account logged in to `az`.
    AzureCli,
    /// The account logged in to `azd`.
    Azd,
}

impl AuthMethod {
    /// The `--auth` spelling of this method.
    pub fn as_str(&self) -> &'static str {
        match self {
            AuthMethod::Auto => "auto",
            AuthMethod::ClientSecret => "client-secret",
            AuthMethod::WorkloadIdentity => "workload-identity",
            AuthMethod::ManagedIdentity => "managed-identity",
            AuthMethod::AzureCli => "azure-cli",
            AuthMethod::Azd => "azd",
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "auto" => AuthMethod::Auto,
            "client-secret" => AuthMethod::ClientSecret,
            "workload-identity" => AuthMethod::WorkloadIdentity,
            "managed-identity" => AuthMethod::ManagedIdentity,
            "azure-cli" | "az" => AuthMethod::AzureCli,
            "azd" => AuthMethod::Azd,
            other => {
                return Err(format!(
                    "unknown auth method '{other}': expected auto, client-secret, workload-identity, managed-identity, azure-cli or azd"
                ));
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Source registry: lets the client name the credential source behind an `Arc<dyn TokenCredential>`.

/// What the client can learn about a credential it was given.
trait SourceInfo: Send + Sync {
    /// The source that produced (or will produce) tokens, e.g. "managed identity".
    fn label(&self) -> String;
    /// What each source said on the last failed attempt (empty when none failed).
    fn failures(&self) -> Vec<(String, String)>;
}

type Registry = Mutex<Vec<(usize, Weak<dyn SourceInfo>)>>;
static REGISTRY: Registry = Mutex::new(Vec::new());

fn register(ptr: *const (), info: Weak<dyn SourceInfo>) {
    if let Ok(mut reg) = REGISTRY.lock() {
        reg.retain(|(_, w)| w.strong_count() > 0);
        reg.push((ptr as usize, info));
    }
}

fn lookup(cred: &Arc<dyn TokenCredential>) -> Option<Arc<dyn SourceInfo>> {
    let ptr = Arc::as_ptr(cred) as *const () as usize;
    let reg = REGISTRY.lock().ok()?;
    reg.iter()
        .filter(|(p, _)| *p == ptr)
        .find_map(|(_, w)| w.upgrade())
}

/// A human name for the source behind `cred` ("managed identity", "static token", …).
pub(crate) fn source_label(cred: &Arc<dyn TokenCredential>) -> String {
    lookup(cred)
        .map(|i| i.label())
        .unwrap_or_else(|| "the supplied credential".to_string())
}

/// `(source, message)` pairs describing why `cred` failed to produce a token.
pub(crate) fn failure_messages(
    cred: &Arc<dyn TokenCredential>,
    err: &azure_core::Error,
) -> Vec<(String, String)> {
    if let Some(info) = lookup(cred) {
        let f = info.failures();
        if !f.is_empty() {
            return f;
        }
        return vec![(info.label(), err.to_string())];
    }
    vec![("the supplied credential".to_string(), err.to_string())]
}

// ---------------------------------------------------------------------------------------------
// Static token

/// A fixed bearer token (for `--sandbox` and tests against the emulator). `Debug` never prints it.
pub struct StaticTokenCredential {
    token: azure_core::credentials::Secret,
    /// Tokens for particular scopes (the first scope asked for decides), before `token`.
    per_scope: Vec<(String, azure_core::credentials::Secret)>,
    calls: std::sync::atomic::AtomicU64,
}

impl StaticTokenCredential {
    /// Wraps `token`; it is valid for a day from each request.
    pub fn new(token: String) -> Arc<Self> {
        Self::scoped(token, Vec::new())
    }

    /// Like [`StaticTokenCredential::new`], answering `per_scope`'s token for its scope (e.g. a
    /// Key Vault token for `https://vault.azure.net/.default`) and `token` for any other.
    pub fn scoped(token: String, per_scope: Vec<(String, String)>) -> Arc<Self> {
        let this = Arc::new(Self {
            token: azure_core::credentials::Secret::new(token),
            per_scope: per_scope
                .into_iter()
                .map(|(scope, t)| (scope, azure_core::credentials::Secret::new(t)))
                .collect(),
            calls: std::sync::atomic::AtomicU64::new(0),
        });
        let weak: Weak<dyn SourceInfo> = Arc::downgrade(&(this.clone() as Arc<dyn SourceInfo>));
        register(Arc::as_ptr(&this) as *const (), weak);
        this
    }

    /// How many times a token was requested from this credential.
    pub fn calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl fmt::Debug for StaticTokenCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticTokenCredential")
            .field("token", &"<redacted>")
            .finish()
    }
}

impl SourceInfo for StaticTokenCredential {
    fn label(&self) -> String {
        "static token".to_string()
    }
    fn failures(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

#[async_trait::async_trait]
impl TokenCredential for StaticTokenCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let token = scopes
            .first()
            .and_then(|s| self.per_scope.iter().find(|(scope, _)| scope == s))
            .map_or(&self.token, |(_, t)| t);
        Ok(AccessToken::new(
            token.clone(),
            time::OffsetDateTime::now_utc() + time::Duration::days(1),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// The chain

/// One entry of a chain: a built credential, or the reason it could not be built.
struct Source {
    name: &'static str,
    cred: Result<Arc<dyn TokenCredential>, String>,
    /// Probe IMDS reachability before asking (auto mode on a machine outside Azure).
    probe_imds: bool,
}

/// A chain of credential sources; the first to produce a token is used from then on.
struct ChainCredential {
    sources: Vec<Source>,
    chosen: Mutex<Option<usize>>,
    last_failures: Mutex<Vec<(String, String)>>,
    method: AuthMethod,
}

impl fmt::Debug for ChainCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainCredential")
            .field("method", &self.method)
            .field(
                "sources",
                &self.sources.iter().map(|s| s.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl SourceInfo for ChainCredential {
    fn label(&self) -> String {
        let chosen = self.chosen.lock().ok().and_then(|c| *c);
        match chosen.and_then(|i| self.sources.get(i)) {
            Some(s) if self.method == AuthMethod::Auto => {
                format!("{} (chosen by --auth auto)", s.name)
            }
            Some(s) => s.name.to_string(),
            None => match self.sources.as_slice() {
                [one] => one.name.to_string(),
                _ => format!("--auth {}", self.method),
            },
        }
    }
    fn failures(&self) -> Vec<(String, String)> {
        self.last_failures
            .lock()
            .map(|f| f.clone())
            .unwrap_or_default()
    }
}

async fn imds_reachable() -> bool {
    matches!(
        tokio::time::timeout(
            Duration::from_millis(1500),
            tokio::net::TcpStream::connect("169.254.169.254:80"),
        )
        .await,
        Ok(Ok(_))
    )
}

#[async_trait::async_trait]
impl TokenCredential for ChainCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let chosen = self.chosen.lock().ok().and_then(|c| *c);
        if let Some(i) = chosen
            && let Some(Source { cred: Ok(c), .. }) = self.sources.get(i)
        {
            return c.get_token(scopes, options).await;
        }
        let mut failures = Vec::new();
        for (i, s) in self.sources.iter().enumerate() {
            let c = match &s.cred {
                Ok(c) => c,
                Err(why) => {
                    failures.push((s.name.to_string(), why.clone()));
                    continue;
                }
            };
            if s.probe_imds && !imds_reachable().await {
                failures.push((
                    s.name.to_string(),
                    "no IDENTITY_ENDPOINT/MSI_ENDPOINT set and the IMDS endpoint 169.254.169.254 did not answer (not running in Azure?)".to_string(),
                ));
                continue;
            }
            match c.get_token(scopes, options.clone()).await {
                Ok(t) => {
                    if let Ok(mut ch) = self.chosen.lock() {
                        *ch = Some(i);
                    }
                    if let Ok(mut f) = self.last_failures.lock() {
                        f.clear();
                    }
                    tracing::debug!(source = s.name, "credential source produced a token");
                    return Ok(t);
                }
                Err(e) => {
                    failures.push((s.name.to_string(), crate::error::one_line(&e.to_string())))
                }
            }
        }
        let text = failures
            .iter()
            .map(|(s, m)| format!("{s}: {m}"))
            .collect::<Vec<_>>()
            .join("; ");
        if let Ok(mut f) = self.last_failures.lock() {
            *f = failures;
        }
        Err(azure_core::Error::with_message(
            azure_core::error::ErrorKind::Credential,
            format!("no credential source produced a token: {text}"),
        ))
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn core_options(cloud: Option<Cloud>) -> azure_core::http::ClientOptions {
    use azure_core::cloud::CloudConfiguration;
    let cloud = match cloud {
        None | Some(Cloud::Public) => None,
        Some(Cloud::UsGov) => Some(Arc::new(CloudConfiguration::AzureGovernment)),
        Some(Cloud::China) => Some(Arc::new(CloudConfiguration::AzureChina)),
    };
    azure_core::http::ClientOptions {
        cloud,
        ..Default::default()
    }
}

fn client_secret_source(cloud: Option<Cloud>) -> Source {
    let name = "client secret";
    let vars = ["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"];
    let missing: Vec<&str> = vars.iter().copied().filter(|v| env(v).is_none()).collect();
    let cred = if !missing.is_empty() {
        Err(format!("{} not set", missing.join(", ")))
    } else {
        let tenant = env("AZURE_TENANT_ID").unwrap_or_default();
        let client = env("AZURE_CLIENT_ID").unwrap_or_default();
        let secret = env("AZURE_CLIENT_SECRET").unwrap_or_default();
        ClientSecretCredential::new(
            &tenant,
            client,
            secret.into(),
            Some(ClientSecretCredentialOptions {
                client_options: core_options(cloud),
            }),
        )
        .map(|c| c as Arc<dyn TokenCredential>)
        .map_err(|e| e.to_string())
    };
    Source {
        name,
        cred,
        probe_imds: false,
    }
}

fn workload_identity_source(cloud: Option<Cloud>) -> Source {
    let name = "workload identity";
    let cred = if env("AZURE_FEDERATED_TOKEN_FILE").is_none() {
        Err("AZURE_FEDERATED_TOKEN_FILE not set".to_string())
    } else {
        let mut opts = WorkloadIdentityCredentialOptions::default();
        opts.credential_options.client_options = core_options(cloud);
        WorkloadIdentityCredential::new(Some(opts))
            .map(|c| c as Arc<dyn TokenCredential>)
            .map_err(|e| e.to_string())
    };
    Source {
        name,
        cred,
        probe_imds: false,
    }
}

fn managed_identity_source(probe: bool) -> Source {
    let name = "managed identity";
    let explicit_endpoint = env("IDENTITY_ENDPOINT").is_some() || env("MSI_ENDPOINT").is_some();
    let opts = ManagedIdentityCredentialOptions {
        user_assigned_id: env("AZURE_CLIENT_ID").map(UserAssignedId::ClientId),
        ..Default::default()
    };
    let cred = ManagedIdentityCredential::new(Some(opts))
        .map(|c| c as Arc<dyn TokenCredential>)
        .map_err(|e| e.to_string());
    Source {
        name,
        cred,
        probe_imds: probe && !explicit_endpoint,
    }
}

fn azure_cli_source() -> Source {
    Source {
        name: "azure cli",
        cred: AzureCliCredential::new(None)
            .map(|c| c as Arc<dyn TokenCredential>)
            .map_err(|e| e.to_string()),
        probe_imds: false,
    }
}

fn azd_source() -> Source {
    Source {
        name: "azure developer cli",
        cred: AzureDeveloperCliCredential::new(None)
            .map(|c| c as Arc<dyn TokenCredential>)
            .map_err(|e| e.to_string()),
        probe_imds: false,
    }
}

/// Builds the credential for `method` (public cloud, or the authority in `AZURE_AUTHORITY_HOST`).
///
/// `Auto` = client secret (`AZURE_TENANT_ID`/`AZURE_CLIENT_ID`/`AZURE_CLIENT_SECRET`) → workload identity
/// (`AZURE_FEDERATED_TOKEN_FILE`) → managed identity → az CLI → azd; the first source that produces a
/// token is used from then on. A failed chain lists what each source said ([`ArmError::Auth`]).
pub fn credential(method: AuthMethod) -> Result<Arc<dyn TokenCredential>, ArmError> {
    build_credential(method, None)
}

/// Like [`credential`], but authenticates against the sign-in authority of `cloud`.
pub fn credential_for_cloud(
    method: AuthMethod,
    cloud: Cloud,
) -> Result<Arc<dyn TokenCredential>, ArmError> {
    build_credential(method, Some(cloud))
}

fn build_credential(
    method: AuthMethod,
    cloud: Option<Cloud>,
) -> Result<Arc<dyn TokenCredential>, ArmError> {
    let sources = match method {
        AuthMethod::Auto => vec![
            client_secret_source(cloud),
            workload_identity_source(cloud),
            managed_identity_source(true),
            azure_cli_source(),
            azd_source(),
        ],
        AuthMethod::ClientSecret => vec![client_secret_source(cloud)],
        AuthMethod::WorkloadIdentity => vec![workload_identity_source(cloud)],
        AuthMethod::ManagedIdentity => vec![managed_identity_source(false)],
        AuthMethod::AzureCli => vec![azure_cli_source()],
        AuthMethod::Azd => vec![azd_source()],
    };
    if method != AuthMethod::Auto
        && let Some(Source {
            name,
            cred: Err(why),
            ..
        }) = sources.first()
    {
        return Err(ArmError::Auth {
            source_messages: vec![(name.to_string(), why.clone())],
        });
    }
    let chain = Arc::new(ChainCredential {
        sources,
        chosen: Mutex::new(None),
        last_failures: Mutex::new(Vec::new()),
        method,
    });
    let weak: Weak<dyn SourceInfo> = Arc::downgrade(&(chain.clone() as Arc<dyn SourceInfo>));
    register(Arc::as_ptr(&chain) as *const (), weak);
    Ok(chain)
}

// ---------------------------------------------------------------------------------------------
// Token cache

/// Refresh tokens this long before they expire.
const REFRESH_MARGIN: time::Duration = time::Duration::minutes(5);

/// Caches one token for one scope; concurrent callers share a single refresh (single flight).
pub(crate) struct TokenCache {
    cred: Arc<dyn TokenCredential>,
    scope: String,
    slot: tokio::sync::Mutex<Option<AccessToken>>,
}

impl TokenCache {
    pub(crate) fn new(cred: Arc<dyn TokenCredential>, scope: String) -> Self {
        Self {
            cred,
            scope,
            slot: tokio::sync::Mutex::new(None),
        }
    }

    pub(crate) fn credential(&self) -> &Arc<dyn TokenCredential> {
        &self.cred
    }

    /// A valid token: the cached one, or a fresh one (only one task fetches; the rest wait for it).
    pub(crate) async fn token(&self) -> Result<(AccessToken, bool), azure_core::Error> {
        let mut slot = self.slot.lock().await;
        if let Some(t) = slot.as_ref()
            && t.expires_on - REFRESH_MARGIN > time::OffsetDateTime::now_utc()
        {
            return Ok((t.clone(), false));
        }
        let t = self.cred.get_token(&[self.scope.as_str()], None).await?;
        *slot = Some(t.clone());
        Ok((t, true))
    }

    /// Drops the cached token if it is still `used` (after ARM answered 401 to it).
    pub(crate) async fn invalidate(&self, used: &AccessToken) {
        let mut slot = self.slot.lock().await;
        if slot.as_ref().is_some_and(|t| t.token == used.token) {
            *slot = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_method_parses_cli_values() {
        for m in [
            AuthMethod::Auto,
            AuthMethod::ClientSecret,
            AuthMethod::WorkloadIdentity,
            AuthMethod::ManagedIdentity,
            AuthMethod::AzureCli,
            AuthMethod::Azd,
        ] {
            assert_eq!(m.as_str().parse::<AuthMethod>(), Ok(m));
        }
        assert!("kerberos".parse::<AuthMethod>().is_err());
    }

    #[test]
    fn static_token_debug_is_redacted_and_labelled() {
        let c = StaticTokenCredential::new("s3cr3t-token".into());
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let d: Arc<dyn TokenCredential> = c;
        assert_eq!(source_label(&d), "static token");
    }
}
