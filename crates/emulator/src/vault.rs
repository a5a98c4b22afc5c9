//! The Key Vault secrets the emulator serves: loaded from the fixture's `key_vaults:` (or added by
//! `--sandbox`), held in memory only (never persisted, never in `/_emulator/state`).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::fixture::FixtureVault;

/// One version of a secret.
#[derive(Debug, Clone)]
pub(crate) struct SecretVersion {
    pub id: String,
    pub value: String,
    pub enabled: bool,
}

/// A secret: its versions, the current one last.
#[derive(Debug, Clone, Default)]
pub(crate) struct VaultSecret {
    pub name: String,
    pub versions: Vec<SecretVersion>,
}

/// One vault.
#[derive(Debug, Clone, Default)]
pub(crate) struct Vault {
    pub name: String,
    pub deny_get: bool,
    /// Secret GETs still to be answered 429.
    pub throttle_left: u32,
    /// Secrets by lower-cased name (Key Vault names are case-insensitive).
    pub secrets: BTreeMap<String, VaultSecret>,
}

/// Every vault, by lower-cased name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Vaults {
    pub by_name: BTreeMap<String, Vault>,
}

/// A version id derived from what it holds (32 hex characters, like Azure's).
fn derived_version(vault: &str, name: &str, value: &str) -> String {
    let digest = Sha256::digest(format!("{vault}\n{name}\n{value}").as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

impl Vaults {
    /// The vaults of a fixture.
    pub fn from_fixture(vaults: &[FixtureVault]) -> Vaults {
        let mut out = Vaults::default();
        for v in vaults {
            let vault = out.vault_mut(&v.name);
            vault.deny_get = v.deny_get;
            vault.throttle_left = v.throttle;
            for s in &v.secrets {
                let mut versions: Vec<SecretVersion> = s
                    .versions
                    .iter()
                    .map(|x| SecretVersion {
                        id: x.version.clone(),
                        value: x.value.clone(),
                        enabled: x.enabled,
                    })
                    .collect();
                if let Some(value) = &s.value {
                    versions.push(SecretVersion {
                        id: s
                            .version
                            .clone()
                            .unwrap_or_else(|| derived_version(&v.name, &s.name, value)),
                        value: value.clone(),
                        enabled: s.enabled,
                    });
                }
                vault.secrets.insert(
                    s.name.to_ascii_lowercase(),
                    VaultSecret {
                        name: s.name.clone(),
                        versions,
                    },
                );
            }
        }
        out
    }

    fn vault_mut(&mut self, name: &str) -> &mut Vault {
        self.by_name
            .entry(name.to_ascii_lowercase())
            .or_insert_with(|| Vault {
                name: name.to_string(),
                ..Vault::default()
            })
    }

    /// Adds `value` as a version of `vault/name` unless that secret (that version, when given)
    /// exists; without `version`, it becomes the current version.
    pub fn ensure_secret(&mut self, vault: &str, name: &str, version: Option<&str>, value: &str) {
        let v = self.vault_mut(vault);
        let s = v
            .secrets
            .entry(name.to_ascii_lowercase())
            .or_insert_with(|| VaultSecret {
                name: name.to_string(),
                versions: Vec::new(),
            });
        let exists = match version {
            Some(id) => s.versions.iter().any(|x| x.id.eq_ignore_ascii_case(id)),
            None => !s.versions.is_empty(),
        };
        if exists {
            return;
        }
        let entry = SecretVersion {
            id: version
                .map(str::to_string)
                .unwrap_or_else(|| derived_version(vault, name, value)),
            value: value.to_string(),
            enabled: true,
        };
        if version.is_some() {
            s.versions.insert(0, entry);
        } else {
            s.versions.push(entry);
        }
    }
}
