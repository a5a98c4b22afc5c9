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

/// Workspaces and underlying resources (ARM ids) that exist. Unknown keys are ignored.
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
