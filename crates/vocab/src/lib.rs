//! `amlctl-vocab`: the ARM vocabulary that manifest, plan, arm and apply share, each fact once.
//!
//! * [`api_version`]: the api-versions amlctl sends;
//! * [`workspace_path`] / [`compute_path`]: the one ARM path builder (every segment
//!   percent-encoded);
//! * [`Method`]: the HTTP methods of ARM requests (plan steps, the executor, the client);
//! * [`Address`]: a compute's `alias/name` address, joined and parsed in one place;
//! * [`KeyPath`]: a dotted key path (manifest keys, ARM property paths): parsed, prefix-compared
//!   on segment boundaries, looked up, set and removed in a JSON object in one place.
//!
//! No I/O and no dependencies beyond serde and serde_json, so every crate can use it. The emulator does not: it is an
//! independent implementation of the ARM contract and keeps its own copy on purpose.

#![warn(missing_docs)]

mod keypath;
pub use keypath::KeyPath;

/// The api-versions amlctl sends.
pub mod api_version {
    /// The computes API version for every compute type but Batch.
    pub const COMPUTES: &str = "2025-12-01";
    /// The legacy SDK v1 version, the only one that serves computeType `Batch`.
    pub const BATCH: &str = "2020-02-02";
    /// The newest stable computes version (its compute-instance properties regain `enableSSO`
    /// and `idleTimeBeforeShutdown`; /work/shared/arm-spec README §8).
    pub const COMPUTES_2026_09: &str = "2026-09-01";
    /// The first GA version with the compute-instance flags `enableSSO`, `enableOSPatching`,
    /// `releaseQuotaOnStop` and `idleTimeBeforeShutdown` (arm-recordings README "Flags").
    pub const COMPUTES_2024_04: &str = "2024-04-01";
    /// The preview version azure-ai-ml sends the compute-instance flags at; the only one
    /// with `enableRootAccess` (arm-recordings README "Flags").
    pub const PREVIEW_2023_08: &str = "2023-08-01-preview";
    /// The stable computes versions amlctl may send, in order of preference: the default
    /// [`COMPUTES`] first, then newest to oldest. A manifest is sent at the first one that
    /// defines every key it writes.
    pub const STABLE_COMPUTES: &[&str] = &[COMPUTES, COMPUTES_2026_09, COMPUTES_2024_04];

    /// The api-version a plain GET of a referenced resource is sent with, by its provider and
    /// type (`Microsoft.Network/virtualNetworks/subnets`), case-insensitively; `None` for a
    /// type amlctl does not read.
    pub fn for_resource_type(resource_type: &str) -> Option<&'static str> {
        const TABLE: &[(&str, &str)] = &[
            ("Microsoft.Network/virtualNetworks/subnets", "2024-05-01"),
            (
                "Microsoft.ManagedIdentity/userAssignedIdentities",
                "2023-01-31",
            ),
            ("Microsoft.Compute/virtualMachines", "2024-07-01"),
            ("Microsoft.HDInsight/clusters", "2024-08-01-preview"),
            ("Microsoft.Databricks/workspaces", "2024-05-01"),
            ("Microsoft.DataLakeAnalytics/accounts", "2016-11-01"),
            ("Microsoft.Kubernetes/connectedClusters", "2024-01-01"),
            ("Microsoft.ContainerService/managedClusters", "2024-05-01"),
            ("Microsoft.Synapse/workspaces/bigDataPools", "2021-06-01"),
            ("Microsoft.DataFactory/factories", "2018-06-01"),
            ("Microsoft.Batch/batchAccounts", "2024-02-01"),
        ];
        TABLE
            .iter()
            .find(|(t, _)| t.eq_ignore_ascii_case(resource_type))
            .map(|(_, v)| *v)
    }
}

/// The resource type of an ARM id (`Microsoft.Compute/virtualMachines` for
/// `/subscriptions/…/providers/Microsoft.Compute/virtualMachines/vm1`); `None` when the id has
/// no `providers` segment or an odd number of type/name segments after it.
pub fn resource_type_of(id: &str) -> Option<String> {
    let segs: Vec<&str> = id.split('/').filter(|s| !s.is_empty()).collect();
    let at = segs
        .iter()
        .rposition(|s| s.eq_ignore_ascii_case("providers"))?;
    let rest = segs.get(at + 1..)?;
    if rest.len() < 3 || rest.len() % 2 == 0 {
        return None;
    }
    let mut parts = vec![rest[0]];
    parts.extend(rest[1..].iter().step_by(2));
    Some(parts.join("/"))
}

/// ARM path of a workspace:
/// `/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.MachineLearningServices/workspaces/{w}`,
/// each segment percent-encoded ([`encode_segment`]).
pub fn workspace_path(subscription_id: &str, resource_group: &str, workspace: &str) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.MachineLearningServices/workspaces/{}",
        encode_segment(subscription_id),
        encode_segment(resource_group),
        encode_segment(workspace)
    )
}

/// ARM path of the compute `name` in a workspace (`{workspace_path}/computes/{name}`).
pub fn compute_path(
    subscription_id: &str,
    resource_group: &str,
    workspace: &str,
    name: &str,
) -> String {
    format!(
        "{}/computes/{}",
        workspace_path(subscription_id, resource_group, workspace),
        encode_segment(name)
    )
}

/// Percent-encodes the characters that cannot appear raw in a path segment. ARM names are restricted
/// (letters, digits, `-_.()`), so valid names are returned unchanged.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let c = b as char;
        if c.is_ascii_alphanumeric() || "-._~()!$&'*+,;=:@".contains(c) {
            out.push(c);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An HTTP method of an ARM request. Serialised as the upper-case name (`"PUT"`), as plan files
/// and JSON output have always written it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// GET: read.
    Get,
    /// PUT: create, attach or overwrite.
    Put,
    /// PATCH: update in place.
    Patch,
    /// DELETE: delete or detach.
    Delete,
    /// POST: an action (`start`, `stop`, `listKeys`, ...).
    Post,
}

impl Method {
    /// The upper-case name: `GET`, `PUT`, `PATCH`, `DELETE` or `POST`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Post => "POST",
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Method {
    type Err = String;
    /// Parses a method name, case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "POST" => Method::Post,
            other => return Err(format!("unsupported HTTP method '{other}'")),
        })
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn resource_types_of_nested_ids() {
        let id = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/x";
        let t = crate::resource_type_of(id);
        assert_eq!(
            t.as_deref(),
            Some("Microsoft.Network/virtualNetworks/subnets")
        );
        assert!(
            crate::api_version::for_resource_type("microsoft.network/VIRTUALNETWORKS/subnets")
                .is_some()
        );
        assert_eq!(
            crate::resource_type_of("/subscriptions/s/providers/X/y"),
            None
        );
    }

    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            compute_path(
                "00000000-0000-0000-0000-000000000001",
                "rg-ml",
                "ws1",
                "gpu-cluster"
            ),
            "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws1/computes/gpu-cluster"
        );
        assert!(compute_path("s", "g", "w", "a b/c").ends_with("/computes/a%20b%2Fc"));
        assert!(workspace_path("s", "rg/../x", "w").contains("/resourceGroups/rg%2F..%2Fx/"));
    }

    #[test]
    fn methods_are_upper_case_strings() {
        for m in [
            Method::Get,
            Method::Put,
            Method::Patch,
            Method::Delete,
            Method::Post,
        ] {
            let json = serde_json::to_value(m).unwrap();
            assert_eq!(json, serde_json::Value::String(m.to_string()));
            assert_eq!(serde_json::from_value::<Method>(json).unwrap(), m);
            assert_eq!(m.as_str().to_ascii_lowercase().parse::<Method>(), Ok(m));
        }
        assert!(serde_json::from_str::<Method>("\"TRACE\"").is_err());
        assert!("TRACE".parse::<Method>().is_err());
    }
}

/// The address of one compute: workspace alias and compute name, written `alias/name` (plan
/// entries, `--target`/`--replace` values, report lines). The one place that joins and splits
/// addresses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    /// Workspace alias (a key of `workspaces:` in amlctl.yaml).
    pub workspace: String,
    /// Compute name.
    pub name: String,
}

/// Why a string is not an [`Address`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressError {
    /// The string given.
    pub given: String,
}

impl std::fmt::Display for AddressError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} is not a compute address: write ALIAS/NAME (a workspace alias of amlctl.yaml, a slash, the compute name)",
            self.given
        )
    }
}

impl std::error::Error for AddressError {}

impl Address {
    /// The address of compute `name` in workspace `workspace`.
    pub fn new(workspace: impl Into<String>, name: impl Into<String>) -> Address {
        Address {
            workspace: workspace.into(),
            name: name.into(),
        }
    }

    /// Parses `alias/name`: exactly one slash, neither side empty.
    pub fn parse(s: &str) -> Result<Address, AddressError> {
        match s.split_once('/') {
            Some((a, n)) if !a.is_empty() && !n.is_empty() && !n.contains('/') => {
                Ok(Address::new(a, n))
            }
            _ => Err(AddressError {
                given: s.to_string(),
            }),
        }
    }

    /// True when `filter` (a compute name, or an address) names this compute: the alias exactly,
    /// the name case-insensitively (as Azure compares compute names).
    pub fn is_named_by(&self, filter: &str) -> bool {
        match Address::parse(filter) {
            Ok(a) => a.workspace == self.workspace && a.name.eq_ignore_ascii_case(&self.name),
            Err(_) => filter.eq_ignore_ascii_case(&self.name),
        }
    }
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.workspace, self.name)
    }
}

impl std::str::FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Address, AddressError> {
        Address::parse(s)
    }
}

#[cfg(test)]
mod address_tests {
    use super::Address;

    #[test]
    fn addresses_display_and_parse() {
        let a = Address::new("dev", "cpu");
        assert_eq!(a.to_string(), "dev/cpu");
        assert_eq!(Address::parse("dev/cpu"), Ok(a.clone()));
        for bad in ["cpu", "/cpu", "dev/", "dev/cpu/x", ""] {
            let e = Address::parse(bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                e.contains("ALIAS/NAME") && e.contains(&format!("{bad:?}")),
                "{bad}: {e}"
            );
        }
        assert!(a.is_named_by("CPU") && a.is_named_by("dev/CPU"));
        assert!(!a.is_named_by("prod/cpu") && !a.is_named_by("dev/cpu/x") && !a.is_named_by("gpu"));
    }
}
