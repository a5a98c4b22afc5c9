//! Connecting to ARM (or the embedded sandbox emulator): the session every networked command uses.
//!
//! A session is opened by [`connect`] and closed only by `workflow::finish`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use amlctl_arm::{ArmClient, AuthMethod, ClientOptions, Cloud};
use amlctl_manifest::{Project, Target, Workspace};

use crate::args::ArmArgs;
use crate::error::{CliError, CliResult};

/// A connection to ARM: the client, its credential, and the sandbox emulator when used.
pub struct Session {
    /// The ARM client.
    pub client: ArmClient,
    /// Concurrency per subscription.
    pub parallelism: usize,
    /// The credential (for Key Vault secrets); in the sandbox, tokens of the embedded emulator.
    pub credential: Option<std::sync::Arc<dyn azure_core::credentials::TokenCredential>>,
    /// The selected cloud (Key Vault hosts and token scopes derive from it).
    pub cloud: Cloud,
    /// `--key-vault-endpoint`: every Key Vault request goes to this base URL instead.
    pub key_vault_endpoint: Option<url::Url>,
    /// Kept alive for the session's lifetime when `--sandbox` is used.
    #[cfg(feature = "emulator")]
    pub(super) sandbox: Option<amlctl_emulator::Emulator>,
}

impl Session {
    /// A Key Vault client for this session (in the sandbox: the embedded emulator's vaults).
    pub fn key_vault(&self) -> Option<amlctl_apply::KeyVaultClient> {
        self.credential.clone().map(|cred| {
            amlctl_apply::KeyVaultClient::for_cloud(
                cred,
                self.cloud,
                self.key_vault_endpoint.clone(),
            )
        })
    }

    /// Stops the sandbox emulator, if any, so its state file is final. Called only by
    /// `workflow::finish`.
    pub(super) async fn close(self) {
        #[cfg(feature = "emulator")]
        if let Some(emulator) = self.sandbox {
            emulator.shutdown().await;
        }
    }
}

/// What a session needs to know about the project.
// Only the sandbox reads the root, workspaces and targets.
#[cfg_attr(not(feature = "emulator"), allow(dead_code))]
pub struct ProjectRef<'a> {
    /// Folder of `amlctl.yaml` (the sandbox keeps its state below it).
    pub root: &'a Path,
    /// `defaults.arm_endpoint` of amlctl.yaml (accepted only when it is the cloud's own endpoint).
    pub arm_endpoint: Option<String>,
    /// `defaults.parallelism` of amlctl.yaml.
    pub parallelism: Option<usize>,
    /// `defaults.cloud` of amlctl.yaml.
    pub cloud: Option<String>,
    /// Workspaces (the sandbox creates them).
    pub workspaces: &'a BTreeMap<String, Workspace>,
    /// Targets (the sandbox creates the underlying resources they attach).
    pub targets: &'a [Target],
}

impl<'a> ProjectRef<'a> {
    /// The view of a loaded project.
    pub fn of(project: &'a Project) -> Self {
        ProjectRef {
            root: &project.config.root,
            arm_endpoint: project.config.defaults.arm_endpoint.clone(),
            parallelism: project.config.defaults.parallelism,
            cloud: project.config.defaults.cloud.clone(),
            workspaces: &project.config.workspaces,
            targets: &project.targets,
        }
    }
}

/// Opens a session against the configured ARM endpoint with the credential chain (the
/// `--sandbox` session is [`super::sandbox`]'s).
pub(super) async fn connect_arm(
    project: &ProjectRef<'_>,
    arm: &ArmArgs,
    parallelism: usize,
) -> CliResult<Session> {
    let cloud_name = arm
        .cloud
        .clone()
        .or_else(|| project.cloud.clone())
        .unwrap_or_else(|| "public".to_string());
    let cloud: Cloud = cloud_name
        .parse()
        .map_err(|e| format!("cloud {cloud_name}: {e}"))?;
    // amlctl.yaml may only name the selected cloud's own Resource Manager (a pull request can
    // change it); any other endpoint must come from the flag or the environment (#19).
    if arm.arm_endpoint.is_none()
        && let Some(url) = &project.arm_endpoint
    {
        let kind = amlctl_manifest::CloudKind::parse(cloud.as_str()).unwrap_or_default();
        amlctl_manifest::check_config_arm_endpoint(url, kind)?;
    }
    let key_vault_endpoint = match &arm.key_vault_endpoint {
        Some(raw) => {
            let url = url::Url::parse(raw)
                .map_err(|e| format!("--key-vault-endpoint {raw:?} is not a URL ({e})"))?;
            amlctl_arm::check_token_endpoint(&url)
                .map_err(|e| format!("--key-vault-endpoint: {e}"))?;
            Some(url)
        }
        None => None,
    };
    let endpoint = arm.arm_endpoint.clone();
    let mut opts = match endpoint {
        Some(url) => {
            let url = url::Url::parse(&url).map_err(|e| {
                format!(
                    "ARM endpoint {url:?} is not a URL ({e}); use e.g. https://management.azure.com"
                )
            })?;
            let mut o = ClientOptions::for_endpoint(url);
            o.scope = ClientOptions::for_cloud(cloud).scope;
            o
        }
        None => ClientOptions::for_cloud(cloud),
    };
    apply_timing(&mut opts, arm, parallelism);
    let method: AuthMethod = arm
        .auth
        .parse()
        .map_err(|e| format!("--auth {}: {e}", arm.auth))?;
    // Building a credential asks for no token; ArmClient::new refuses an insecure endpoint first.
    let cred = amlctl_arm::credential_for_cloud(method, cloud).map_err(|e| e.to_string())?;
    let client = ArmClient::new(opts, cred.clone()).map_err(|e| e.to_string())?;
    // One token up front: without a credential, say so once (not once per workspace).
    if let Err(e) = client.authenticate().await {
        return Err(CliError::new(match e {
            amlctl_arm::ArmError::Auth { source_messages } => no_credential(&source_messages),
            other => other.to_string(),
        }));
    }
    Ok(Session {
        client,
        parallelism,
        credential: Some(cred),
        cloud,
        key_vault_endpoint,
        #[cfg(feature = "emulator")]
        sandbox: None,
    })
}

/// The "no credential" error: one line per credential source tried, then what to do next.
fn no_credential(sources: &[(String, String)]) -> String {
    const MAX: usize = 200;
    let mut text = String::from("no Azure credential produced a token. Tried:");
    for (source, message) in sources {
        let mut message: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
        if message.chars().count() > MAX {
            message = message.chars().take(MAX).collect::<String>() + "…";
        }
        text.push_str(&format!("\n  {source}: {message}"));
    }
    text.push_str(
        "\nNext: sign in with `az login` (or `azd auth login`), or choose a credential with \
         --auth client-secret|workload-identity|managed-identity|azure-cli|azd; \
         to try amlctl without Azure, add --sandbox.",
    );
    text
}

/// Applies the timing flags and the parallelism to the client options.
pub(super) fn apply_timing(opts: &mut ClientOptions, arm: &ArmArgs, parallelism: usize) {
    opts.parallelism = parallelism;
    opts.deadline = Duration::from_secs(arm.operation_timeout.max(1));
    opts.poll_interval = Duration::from_millis(arm.poll_interval_ms.max(1));
    opts.retry_base = Duration::from_millis(arm.retry_base_ms.max(1));
}
