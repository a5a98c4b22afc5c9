//! `--sandbox`: the embedded ARM emulator on 127.0.0.1, its state beside `amlctl.yaml`.
//!
//! Built with the cargo feature `emulator` (on by default); without it `--sandbox` is an error.

#[cfg(feature = "emulator")]
use std::collections::BTreeSet;
#[cfg(feature = "emulator")]
use std::path::{Path, PathBuf};
#[cfg(feature = "emulator")]
use std::time::Duration;

#[cfg(feature = "emulator")]
use amlctl_arm::{ArmClient, ClientOptions, Cloud};
#[cfg(feature = "emulator")]
use amlctl_emulator::{Emulator, EmulatorConfig};
#[cfg(feature = "emulator")]
use amlctl_manifest::Target;

use super::session::{ProjectRef, Session};
use crate::args::ArmArgs;
#[cfg(feature = "emulator")]
use crate::error::CliError;
use crate::error::CliResult;
#[cfg(feature = "emulator")]
use crate::output;

/// Where the sandbox keeps its state: `.amlctl/sandbox.json` beside `amlctl.yaml`.
#[cfg(feature = "emulator")]
fn state_path(root: &Path) -> PathBuf {
    root.join(".amlctl").join("sandbox.json")
}

/// Writes `DIR/.gitignore` containing `*` unless a `.gitignore` is already there, so the
/// sandbox folder (state, tokens) is never committed with the user's repository.
#[cfg(feature = "emulator")]
fn ensure_gitignore(dir: &Path) -> CliResult<()> {
    let path = dir.join(".gitignore");
    if path.exists() {
        return Ok(());
    }
    std::fs::write(&path, "*\n").map_err(|e| {
        CliError::new(format!("cannot write {}: {e}", path.display()))
            .with_hint("check that the folder is writable")
    })
}

/// Every underlying resource id a target references: the values of the keys the field table
/// marks as ARM ids (attach `resource_id`, subnets, user-assigned identities, images) that are
/// full `/subscriptions/…` ids.
#[cfg(feature = "emulator")]
fn referenced_resources(target: &Target) -> Vec<String> {
    use amlctl_manifest::fields::{ValueKind, value_kind_at};
    fn walk<'a>(value: &'a serde_json::Value, path: &mut Vec<&'a str>, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    path.push(k);
                    walk(v, path, out);
                    path.pop();
                }
            }
            serde_json::Value::Array(items) => {
                for v in items {
                    walk(v, path, out);
                }
            }
            serde_json::Value::String(s)
                if value_kind_at(path) == ValueKind::ArmId
                    && s.to_ascii_lowercase().starts_with("/subscriptions/") =>
            {
                out.push(s.clone());
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    let spec = serde_json::Value::Object(target.spec.clone());
    walk(&spec, &mut Vec::new(), &mut out);
    out
}

/// Every `{ key_vault: URL }` reference of a target.
#[cfg(feature = "emulator")]
fn key_vault_references(target: &Target) -> Vec<String> {
    target
        .secrets
        .values()
        .filter_map(|s| match s {
            amlctl_manifest::SecretRef::KeyVault(url) => Some(url.clone()),
            _ => None,
        })
        .collect()
}

/// `(vault, secret, version)` of a public-cloud secret URL the sandbox can seed.
#[cfg(feature = "emulator")]
fn sandbox_vault_secret(url: &str) -> Option<(String, String, Option<String>)> {
    let parsed = url::Url::parse(url).ok()?;
    let vault = parsed
        .host_str()?
        .strip_suffix(Cloud::Public.key_vault_suffix())?
        .to_string();
    let mut segs = parsed.path_segments()?.filter(|s| !s.is_empty());
    if segs.next()? != "secrets" {
        return None;
    }
    let name = segs.next()?.to_string();
    let version = segs.next().map(str::to_string);
    Some((vault, name, version))
}

/// The caller the sandbox's Activity Log records for amlctl's own writes.
#[cfg(feature = "emulator")]
pub(crate) const SANDBOX_CALLER: &str = "amlctl-sandbox";

/// Starts the embedded emulator (creating the project's workspaces and attached resources in
/// it) and opens a session against it.
#[cfg(feature = "emulator")]
pub(super) async fn connect(
    project: &ProjectRef<'_>,
    arm: &ArmArgs,
    parallelism: usize,
) -> CliResult<Session> {
    let state = state_path(project.root);
    if let Some(dir) = state.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        ensure_gitignore(dir)?;
    }
    // Shaped like an Entra token naming its user, so `plan` knows the writes it made itself.
    let token = amlctl_emulator::identity::token_for_user(SANDBOX_CALLER);
    let vault_token = format!("sandbox-vault-{}", uuid_like());
    let config = EmulatorConfig {
        state_path: Some(state.clone()),
        lro_ms: 300,
        accepted_tokens: vec![token.clone()],
        accepted_vault_tokens: vec![vault_token.clone()],
        ..EmulatorConfig::default()
    };
    let listen = "127.0.0.1:0"
        .parse()
        .map_err(|e| format!("bad sandbox address: {e}"))?;
    let emulator = Emulator::start(listen, config)
        .await
        .map_err(|e| format!("cannot start the sandbox emulator: {e}"))?;
    for ws in project.workspaces.values() {
        let location = ws.location.clone().unwrap_or_else(|| "eastus".to_string());
        emulator.ensure_workspace(
            &ws.subscription_id,
            &ws.resource_group,
            &ws.workspace,
            &location,
        );
    }
    let mut seen = BTreeSet::new();
    for target in project.targets {
        for id in referenced_resources(target) {
            if seen.insert(id.to_ascii_lowercase()) {
                emulator.ensure_resource(&id);
            }
        }
    }
    // The vaults the manifests name get their secrets, with example values, so that `apply`
    // reads them from a (local) Key Vault like it would in Azure.
    for target in project.targets {
        for url in key_vault_references(target) {
            if let Some((vault, name, version)) = sandbox_vault_secret(&url) {
                let value = format!("sandbox-example-{name}");
                emulator.ensure_key_vault_secret(&vault, &name, version.as_deref(), &value);
            }
        }
    }
    let endpoint =
        url::Url::parse(&emulator.base_url()).map_err(|e| format!("sandbox emulator URL: {e}"))?;
    let mut opts = ClientOptions::for_endpoint(endpoint.clone());
    super::session::apply_timing(&mut opts, arm, parallelism);
    opts.poll_interval = Duration::from_millis(arm.poll_interval_ms.clamp(1, 100));
    let cred = amlctl_arm::StaticTokenCredential::scoped(
        token,
        vec![(Cloud::Public.key_vault_scope().to_string(), vault_token)],
    );
    let client = ArmClient::new(opts, cred.clone()).map_err(|e| e.to_string())?;
    output::note(&format!(
        "sandbox: embedded ARM emulator at {} (state {})",
        emulator.base_url(),
        state.display()
    ));
    Ok(Session {
        client,
        parallelism,
        credential: Some(cred),
        cloud: Cloud::Public,
        key_vault_endpoint: Some(endpoint),
        sandbox: Some(emulator),
    })
}

/// A random-enough identifier for the sandbox token (not a secret that protects anything but loopback).
#[cfg(feature = "emulator")]
fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{:x}-{:x}", nanos, std::process::id())
}

/// Without the `emulator` feature: `--sandbox` is an error that says so.
#[cfg(not(feature = "emulator"))]
pub(super) async fn connect(
    _project: &ProjectRef<'_>,
    _arm: &ArmArgs,
    _parallelism: usize,
) -> CliResult<Session> {
    Err(crate::error::no_emulator("--sandbox"))
}
