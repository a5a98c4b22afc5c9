//! `amlctl-arm`: the only code in amlctl that talks to Azure Resource Manager.
//!
//! It is a small, typed client for the Azure ML computes API (api-version [`API_VERSION`]) that behaves
//! like the best Azure SDKs:
//!
//! * credentials from `azure_identity` 1.x, composed into the `--auth` chain ([`credential`]), with a
//!   token cache shared by all concurrent requests (single-flight refresh, renewed ~5 minutes early);
//! * bearer tokens only over https, or plain http to a literal loopback address (the emulator), and
//!   token scopes only from the selected cloud, never from a configurable host;
//! * retries on 408/429/500/502/503/504 and connection errors with exponential backoff and full jitter,
//!   never shorter than `Retry-After`, bounded by a per-operation deadline rather than a count;
//! * one rate limiter per subscription (shared by every clone of the client) that reads
//!   `x-ms-ratelimit-remaining-subscription-*` and slows down before ARM answers 429, and pauses the whole
//!   subscription when it does;
//! * long-running operations via `Azure-AsyncOperation`, else `Location`, else `provisioningState`;
//!   `Failed`/`Canceled` surface `error` and `provisioningErrors` verbatim plus a one-line summary;
//! * `nextLink` paging; a `tracing` span per request (method, path, attempt, status, duration; never
//!   bodies, query strings or tokens).
//!
//! ```no_run
//! # async fn demo() -> Result<(), amlctl_arm::ArmError> {
//! use amlctl_arm::{ArmClient, AuthMethod, ClientOptions, Cloud, WorkspaceId, credential};
//! let client = ArmClient::new(ClientOptions::for_cloud(Cloud::Public), credential(AuthMethod::Auto)?)?;
//! let ws = WorkspaceId { subscription_id: "sub".into(), resource_group: "rg".into(), workspace: "ws".into() };
//! for compute in client.list_computes(&ws).await? {
//!     println!("{}", compute["name"]);
//! }
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod auth;
mod client;
mod error;
mod throttle;

pub use amlctl_vocab::Method;
pub use auth::{AuthMethod, StaticTokenCredential, credential, credential_for_cloud};
pub use client::{
    ACTIVITY_LOG_API_VERSION, ActivityEvent, ActivityLookup, ArmClient, ArmRequest, ClientOptions,
    ClientStats, ResourceCheck, UnderlyingResourceAction, check_token_endpoint, is_loopback,
};
pub use error::ArmError;

use std::fmt;
use std::str::FromStr;

/// The computes API version this client speaks ([`amlctl_vocab::api_version::COMPUTES`]).
pub const API_VERSION: &str = amlctl_vocab::api_version::COMPUTES;

/// Identifies an Azure ML workspace.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct WorkspaceId {
    /// Subscription id (a GUID).
    pub subscription_id: String,
    /// Resource group name.
    pub resource_group: String,
    /// Workspace name.
    pub workspace: String,
}

impl WorkspaceId {
    /// ARM path of the workspace:
    /// `/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.MachineLearningServices/workspaces/{w}`.
    pub fn path(&self) -> String {
        amlctl_vocab::workspace_path(&self.subscription_id, &self.resource_group, &self.workspace)
    }

    /// ARM path of the compute `name` in this workspace (`{path}/computes/{name}`).
    pub fn compute_path(&self, name: &str) -> String {
        amlctl_vocab::compute_path(
            &self.subscription_id,
            &self.resource_group,
            &self.workspace,
            name,
        )
    }
}

impl fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            self.subscription_id, self.resource_group, self.workspace
        )
    }
}

/// An Azure cloud: decides the ARM endpoint, the token scope and the sign-in authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cloud {
    /// Azure public cloud (`https://management.azure.com`).
    #[default]
    Public,
    /// Azure US Government (`https://management.usgovcloudapi.net`).
    UsGov,
    /// Azure China, operated by 21Vianet (`https://management.chinacloudapi.cn`).
    China,
}

impl Cloud {
    /// The ARM endpoint of this cloud.
    pub fn endpoint(&self) -> &'static str {
        match self {
            Cloud::Public => "https://management.azure.com",
            Cloud::UsGov => "https://management.usgovcloudapi.net",
            Cloud::China => "https://management.chinacloudapi.cn",
        }
    }

    /// The OAuth scope for ARM tokens in this cloud.
    pub fn scope(&self) -> &'static str {
        match self {
            Cloud::Public => "https://management.azure.com/.default",
            Cloud::UsGov => "https://management.core.usgovcloudapi.net/.default",
            Cloud::China => "https://management.core.chinacloudapi.cn/.default",
        }
    }

    /// The OAuth scope for Key Vault tokens in this cloud.
    pub fn key_vault_scope(&self) -> &'static str {
        match self {
            Cloud::Public => "https://vault.azure.net/.default",
            Cloud::UsGov => "https://vault.usgovcloudapi.net/.default",
            Cloud::China => "https://vault.azure.cn/.default",
        }
    }

    /// The host suffix of this cloud's Key Vaults (`.vault.azure.net`, …).
    pub fn key_vault_suffix(&self) -> &'static str {
        match self {
            Cloud::Public => ".vault.azure.net",
            Cloud::UsGov => ".vault.usgovcloudapi.net",
            Cloud::China => ".vault.azure.cn",
        }
    }

    /// The `--cloud` spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Cloud::Public => "public",
            Cloud::UsGov => "usgov",
            Cloud::China => "china",
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Cloud {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "public" | "azurecloud" => Ok(Cloud::Public),
            "usgov" | "azureusgovernment" => Ok(Cloud::UsGov),
            "china" | "azurechinacloud" => Ok(Cloud::China),
            other => Err(format!(
                "unknown cloud '{other}': expected public, usgov or china"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let ws = WorkspaceId {
            subscription_id: "00000000-0000-0000-0000-000000000001".into(),
            resource_group: "rg-ml".into(),
            workspace: "ws1".into(),
        };
        assert_eq!(
            ws.compute_path("gpu-cluster"),
            "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws1/computes/gpu-cluster"
        );
        assert!(ws.compute_path("a b/c").ends_with("/computes/a%20b%2Fc"));
    }

    #[test]
    fn clouds_parse() {
        assert_eq!("USGov".parse::<Cloud>(), Ok(Cloud::UsGov));
        assert_eq!(
            "china".parse::<Cloud>().map(|c| c.endpoint()),
            Ok("https://management.chinacloudapi.cn")
        );
        assert!("mars".parse::<Cloud>().is_err());
    }
}
