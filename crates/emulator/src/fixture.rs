//! Fixtures: the workspaces and underlying resources that exist before any request.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::EmulatorError;

/// A workspace the emulator serves computes under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixtureWorkspace {
    /// Subscription id.
    pub subscription_id: String,
    /// Resource group name.
    pub resource_group: String,
    /// Workspace name.
    pub name: String,
    /// Azure region, e.g. `eastus`.
    pub location: String,
}

/// Workspaces, underlying resources (ARM ids), raw computes and Key Vaults that exist. Unknown
/// keys are ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Fixture {
    /// Workspaces.
    #[serde(default)]
    pub workspaces: Vec<FixtureWorkspace>,
    /// ARM ids of underlying resources (VMs, clusters, subnets, identities, ...).
    #[serde(default)]
    pub resources: Vec<String>,
    /// Raw ARM compute bodies (any shape, e.g. a recorded GET body) served exactly as given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub raw_computes: Vec<RawCompute>,
    /// Names of workspaces that have a private endpoint (a compute instance without a public
    /// IP is refused in the others, as the service does).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub private_link_workspaces: Vec<String>,
    /// Key Vaults whose secrets the emulator serves (held in memory only, never persisted).
    #[serde(default)]
    pub key_vaults: Vec<FixtureVault>,
    /// Regions: the VM sizes they offer and the vCPU quotas (served by the `usages` and
    /// `vmSizes` routes). A region not listed offers the built-in sizes with ample quota.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<FixtureLocation>,
    /// ARM ids of resources that exist but that the caller may not read: their GET answers 403
    /// `AuthorizationFailed` (they still count as existing for PUT references).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forbidden_resources: Vec<String>,
}

/// A region of the fixture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixtureLocation {
    /// Region name, e.g. `eastus` (compared without case and spaces).
    pub name: String,
    /// Offered VM sizes (names from the built-in table, any case); default: the whole table.
    #[serde(default)]
    pub vm_sizes: Option<Vec<String>>,
    /// vCPU limits: a VM family (`standardDSv2Family`), `lowPriority` or `total`. A family not
    /// listed has no quota limit worth checking (see [`crate::sizes::DEFAULT_LIMIT`]).
    #[serde(default)]
    pub quotas: std::collections::BTreeMap<String, u64>,
}

/// A compute seeded as a raw ARM body: GET, list and the write routes see it as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawCompute {
    /// Name of a fixture workspace (case-insensitive).
    pub workspace: String,
    /// The compute's name.
    pub name: String,
    /// The ARM body (`properties.computeType` should be set; `id`/`name`/`type` are filled
    /// in when absent).
    pub body: serde_json::Value,
}

/// A Key Vault of the fixture: `https://<name>.vault.azure.net`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixtureVault {
    /// The vault name (the first label of its host), e.g. `kv-ml`.
    pub name: String,
    /// `true`: every secret GET answers 403 `Forbidden` (`ForbiddenByRbac`), as for an identity
    /// without the *Key Vault Secrets User* role.
    #[serde(default)]
    pub deny_get: bool,
    /// The first N secret GETs of this vault answer 429 with `Retry-After: 1`.
    #[serde(default)]
    pub throttle: u32,
    /// The secrets.
    #[serde(default)]
    pub secrets: Vec<FixtureSecret>,
}

/// A secret: its current version (`value`, `enabled`, `version`) and older `versions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixtureSecret {
    /// Secret name.
    pub name: String,
    /// Value of the current version; without it, the last of `versions` is current.
    #[serde(default)]
    pub value: Option<String>,
    /// Whether the current version is enabled (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Version id of the current version (default: derived from the vault, name and value).
    #[serde(default)]
    pub version: Option<String>,
    /// Older versions (or all of them, when `value` is absent).
    #[serde(default)]
    pub versions: Vec<FixtureSecretVersion>,
}

/// One version of a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixtureSecretVersion {
    /// Version id (32 hex characters in Azure; any path segment here).
    pub version: String,
    /// The value.
    pub value: String,
    /// Whether this version is enabled (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl Fixture {
    /// Parses a YAML (or JSON) fixture.
    pub fn from_yaml_str(text: &str) -> Result<Fixture, EmulatorError> {
        serde_saphyr::from_str(text).map_err(|e| EmulatorError::Fixture(e.to_string()))
    }

    /// Reads and parses a fixture file.
    pub fn from_file(path: &Path) -> Result<Fixture, EmulatorError> {
        let text = std::fs::read_to_string(path).map_err(|e| EmulatorError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        Fixture::from_yaml_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_issue_shape() {
        let f = Fixture::from_yaml_str(
            "workspaces:\n  - subscription_id: 00000000-0000-0000-0000-000000000000\n    resource_group: rg-ml\n    name: mlw-dev\n    location: eastus\n    extra: 1\nresources:   # ids\n  - /subscriptions/0/resourceGroups/rg-ml/providers/Microsoft.Compute/virtualMachines/dsvm\n",
        )
        .unwrap();
        assert_eq!(f.workspaces.len(), 1);
        assert_eq!(f.workspaces[0].location, "eastus");
        assert_eq!(f.resources.len(), 1);
        assert!(Fixture::from_yaml_str("workspaces: 3").is_err());
        let f = Fixture::from_yaml_str(
            "key_vaults:\n  - name: kv-ml\n    secrets:\n      - name: pw\n        value: v2\n        versions:\n          - version: 0001\n            value: v1\n            enabled: false\n",
        )
        .unwrap();
        let s = &f.key_vaults[0].secrets[0];
        assert!(s.enabled && !s.versions[0].enabled && !f.key_vaults[0].deny_get);
    }

    #[test]
    fn parses_raw_computes() {
        let f = Fixture::from_yaml_str(
            "raw_computes:\n  - workspace: mlw-dev\n    name: old\n    body: {location: eastus, properties: {computeType: AmlCompute, provisioningState: Succeeded}}\n",
        )
        .unwrap();
        assert_eq!(f.raw_computes.len(), 1);
        assert_eq!(
            f.raw_computes[0].body["properties"]["computeType"],
            "AmlCompute"
        );
    }
}
