//! The shared model: what the loader produces and what the planner and executor consume.
//!
//! A [`Target`] holds a compute manifest in *canonical manifest terms*: the `az ml` CLI v2 keys
//! the user wrote (and only those), with values canonicalised so that two spellings of the same
//! thing compare equal (see [`Target::spec`]). [`LiveCompute`] is the same shape read back from
//! an ARM resource by [`crate::from_arm`], so the planner diffs like with like.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Tag `amlctl` writes on every compute it creates; `prune` only deletes computes carrying it.
pub const OWNERSHIP_TAG: &str = "managed-by";
/// Value of [`OWNERSHIP_TAG`].
pub const OWNERSHIP_TAG_VALUE: &str = "amlctl";
/// Placeholder printed wherever a secret value would otherwise appear.
pub const REDACTED: &str = "<redacted>";

/// Every compute type `amlctl` manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComputeType {
    /// Compute cluster (`AmlCompute`), created.
    AmlCompute,
    /// Compute instance (`ComputeInstance`), created.
    ComputeInstance,
    /// Attached remote VM (`VirtualMachine`).
    VirtualMachine,
    /// Attached Arc or AKS cluster (`Kubernetes`).
    Kubernetes,
    /// Attached Synapse Spark pool (`SynapseSpark`).
    SynapseSpark,
    /// Attached HDInsight cluster (`HDInsight`).
    HdInsight,
    /// Attached Databricks workspace (`Databricks`).
    Databricks,
    /// Attached Data Lake Analytics account (`DataLakeAnalytics`).
    DataLakeAnalytics,
    /// Attached AKS cluster, legacy inference shape (`AKS`).
    Aks,
    /// Attached Data Factory (`DataFactory`).
    DataFactory,
    /// Attached Batch account, legacy SDK v1 shape (`Batch`, api-version 2020-02-02).
    Batch,
}

impl ComputeType {
    /// All types, in manifest-name order of the documentation.
    pub const ALL: [ComputeType; 11] = [
        ComputeType::AmlCompute,
        ComputeType::ComputeInstance,
        ComputeType::VirtualMachine,
        ComputeType::Kubernetes,
        ComputeType::SynapseSpark,
        ComputeType::HdInsight,
        ComputeType::Databricks,
        ComputeType::DataLakeAnalytics,
        ComputeType::Aks,
        ComputeType::DataFactory,
        ComputeType::Batch,
    ];

    /// The manifest `type:` value (`amlcompute`, `hdinsight`, ...).
    pub fn manifest_name(self) -> &'static str {
        match self {
            ComputeType::AmlCompute => "amlcompute",
            ComputeType::ComputeInstance => "computeinstance",
            ComputeType::VirtualMachine => "virtualmachine",
            ComputeType::Kubernetes => "kubernetes",
            ComputeType::SynapseSpark => "synapsespark",
            ComputeType::HdInsight => "hdinsight",
            ComputeType::Databricks => "databricks",
            ComputeType::DataLakeAnalytics => "datalakeanalytics",
            ComputeType::Aks => "aks",
            ComputeType::DataFactory => "datafactory",
            ComputeType::Batch => "batch",
        }
    }

    /// The ARM `properties.computeType` value.
    pub fn arm_name(self) -> &'static str {
        match self {
            ComputeType::AmlCompute => "AmlCompute",
            ComputeType::ComputeInstance => "ComputeInstance",
            ComputeType::VirtualMachine => "VirtualMachine",
            ComputeType::Kubernetes => "Kubernetes",
            ComputeType::SynapseSpark => "SynapseSpark",
            ComputeType::HdInsight => "HDInsight",
            ComputeType::Databricks => "Databricks",
            ComputeType::DataLakeAnalytics => "DataLakeAnalytics",
            ComputeType::Aks => "AKS",
            ComputeType::DataFactory => "DataFactory",
            ComputeType::Batch => "Batch",
        }
    }

    /// Parses a manifest `type:` value, case-insensitively.
    pub fn from_manifest(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.manifest_name().eq_ignore_ascii_case(s))
    }

    /// Parses an ARM `computeType`, case-insensitively.
    pub fn from_arm(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.arm_name().eq_ignore_ascii_case(s))
    }

    /// True for types that attach an existing resource (detached, never deleted, by `amlctl`).
    pub fn is_attached(self) -> bool {
        !matches!(self, ComputeType::AmlCompute | ComputeType::ComputeInstance)
    }

    /// The ARM api-version used for this type's requests.
    pub fn api_version(self) -> &'static str {
        match self {
            ComputeType::Batch => amlctl_vocab::api_version::BATCH,
            _ => amlctl_vocab::api_version::COMPUTES,
        }
    }
}

impl fmt::Display for ComputeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.manifest_name())
    }
}

/// A workspace named in `amlctl.yaml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    /// The alias (key under `workspaces:`).
    pub alias: String,
    /// Azure subscription id.
    pub subscription_id: String,
    /// Resource group of the workspace.
    pub resource_group: String,
    /// Workspace name.
    pub workspace: String,
    /// Workspace region, when known (from `amlctl.yaml` or read from ARM by the CLI).
    pub location: Option<String>,
    /// Delete live computes that no manifest declares (only those carrying [`OWNERSHIP_TAG`]).
    pub prune: bool,
}

impl Workspace {
    /// ARM path of the workspace: `/subscriptions/…/workspaces/{name}`, segments percent-encoded
    /// ([`amlctl_vocab::workspace_path`]).
    pub fn arm_path(&self) -> String {
        amlctl_vocab::workspace_path(&self.subscription_id, &self.resource_group, &self.workspace)
    }

    /// ARM path of one compute in the workspace ([`amlctl_vocab::compute_path`]).
    pub fn compute_path(&self, name: &str) -> String {
        amlctl_vocab::compute_path(
            &self.subscription_id,
            &self.resource_group,
            &self.workspace,
            name,
        )
    }
}

/// A position in a source file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SourceLocation {
    /// The file, as given or found (relative to the current directory when possible).
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Where a secret value comes from. The value itself is never stored in a [`Target`] except for
/// the literal case, which is kept in a [`SecretString`] that never prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretRef {
    /// `{ env: NAME }`: read from the environment at apply time.
    Env(String),
    /// `{ file: path }`: file contents (trailing newline trimmed), path resolved against the manifest's folder.
    File(PathBuf),
    /// `{ key_vault: https://<vault>.vault.azure.net/secrets/<name>[/<version>] }`.
    KeyVault(String),
    /// A literal value in the manifest (CLI v2 compatibility; warned, rejected under `--strict`).
    /// Serialised (e.g. into a plan file) without the value: only where to find it again.
    Literal(LiteralSecret),
}

impl SecretRef {
    /// Where the value comes from, for plans and messages, never the value: `env NAME`,
    /// `file PATH` (relative to `root`, the repository folder, when it is inside), `key_vault URL`
    /// or `literal at FILE:LINE:COL`. Control characters and backticks are escaped, so the text
    /// is one line that cannot close a Markdown code block. Opens no file.
    pub fn source(&self, root: Option<&std::path::Path>) -> String {
        let text = match self {
            SecretRef::Env(name) => format!("env {name}"),
            SecretRef::File(path) => format!("file {}", repo_relative(path, root)),
            SecretRef::KeyVault(url) => format!("key_vault {url}"),
            SecretRef::Literal(l) => format!(
                "literal at {}:{}:{}",
                repo_relative(&l.location.file, root),
                l.location.line,
                l.location.column
            ),
        };
        text.chars()
            .flat_map(|c| {
                if c.is_control() || c == '`' {
                    c.escape_unicode().collect::<Vec<_>>()
                } else {
                    vec![c]
                }
            })
            .collect()
    }
}

/// `path` relative to `root` (both made absolute and `.`/`..` removed lexically), `/`-separated;
/// `path` as given when it is not below `root`.
fn repo_relative(path: &std::path::Path, root: Option<&std::path::Path>) -> String {
    use std::path::{Component, Path};
    fn lexical(p: &Path) -> PathBuf {
        let abs = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        };
        let mut out = PathBuf::new();
        for c in abs.components() {
            match c {
                Component::ParentDir => {
                    out.pop();
                }
                Component::CurDir => {}
                other => out.push(other.as_os_str()),
            }
        }
        out
    }
    let shown = |p: &Path| {
        p.components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/")
    };
    if let Some(root) = root {
        let root = if root.as_os_str().is_empty() {
            Path::new(".")
        } else {
            root
        };
        if let Ok(rel) = lexical(path).strip_prefix(lexical(root)) {
            return shown(rel);
        }
    }
    path.display().to_string()
}

/// A literal secret written in a manifest: the value (never printed or serialised) and where it was written.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiteralSecret {
    /// The manifest file and position of the value.
    pub location: SourceLocation,
    /// Dotted manifest key path (`ssh_settings.admin_password`).
    pub key: String,
    /// The value; skipped when serialising, so a plan file never holds it.
    #[serde(skip)]
    pub value: SecretString,
}

impl fmt::Debug for LiteralSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiteralSecret")
            .field("location", &self.location)
            .field("key", &self.key)
            .field("value", &REDACTED)
            .finish()
    }
}

/// A string that never shows its value in `Debug`, `Display` or serialisation.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        SecretString(value.into())
    }
    /// The value, for the one place that sends it (the executor's request body).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for SecretString {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A serialised SecretString only ever holds the placeholder: never trust it as a value.
        let _ = String::deserialize(d)?;
        Ok(SecretString::default())
    }
}

/// A secret that goes into an ARM request body at `pointer` (RFC 6901), resolved only by the executor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretSlot {
    /// JSON pointer into the ARM body (`/properties/properties/administratorAccount/password`).
    pub pointer: String,
    /// Where the value comes from.
    pub secret: SecretRef,
    /// Dotted manifest key the secret was written at (`access_token`), for error messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Where that key is in its manifest, for error messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<SourceLocation>,
}

impl SecretSlot {
    /// Names the slot for people: `file:line: key` when known, else the ARM JSON pointer.
    pub fn describe(&self) -> String {
        match (&self.location, &self.key) {
            (Some(loc), Some(key)) => format!("{}:{}: {key}", loc.file.display(), loc.line),
            (None, Some(key)) => key.clone(),
            _ => format!("the secret at {}", self.pointer),
        }
    }
}

/// `lifecycle:` extension block.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    /// Refuse any plan that deletes, detaches or replaces this target.
    pub prevent_destroy: bool,
    /// Dotted manifest key paths whose drift is ignored.
    pub ignore_changes: Vec<String>,
    /// Allow a replace (delete + create) without `--replace NAME`.
    pub allow_replace: bool,
}

/// `state:` extension for compute instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DesiredState {
    /// The instance should be running.
    Running,
    /// The instance should be stopped.
    Stopped,
}

/// One compute target declared by a manifest, validated and canonicalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// Compute name (unique per workspace).
    pub name: String,
    /// Compute type.
    pub compute_type: ComputeType,
    /// Workspace alias from `amlctl.yaml` (resolved: explicit key, folder mapping, or default).
    pub workspace: String,
    /// The manifest in canonical manifest terms: only the keys the user wrote, without `name`, `type`,
    /// `$schema` and the extension keys (`workspace`, `lifecycle`, `state`). Canonical forms:
    /// enums lower snake case as azure-ai-ml spells them (`tier: low_priority`, `identity.type:
    /// system_assigned`), durations in whole seconds (`idle_time_before_scale_down`), subnets as full
    /// ARM ids (`network_settings.subnet`, `vnet_name` folded in), secret fields present with the value
    /// [`REDACTED`] (their source is in [`Target::secrets`]).
    pub spec: Map<String, Value>,
    /// Secret fields by dotted manifest key path.
    pub secrets: BTreeMap<String, SecretRef>,
    /// `lifecycle:` block.
    pub lifecycle: Lifecycle,
    /// `state:` (compute instances only).
    pub state: Option<DesiredState>,
    /// Where the document starts.
    pub source: SourceLocation,
    /// Where each written key is, by dotted manifest key path (for located planner errors).
    pub key_locations: BTreeMap<String, SourceLocation>,
}

/// An ARM request body built from a target, with secrets left as [`REDACTED`] placeholders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmBody {
    /// The body; every secret value is [`REDACTED`].
    pub body: Value,
    /// Where the executor puts each secret's resolved value.
    pub secrets: Vec<SecretSlot>,
    /// api-version for this body (`2020-02-02` for Batch).
    pub api_version: String,
}

/// A live compute read back from ARM, in the same canonical manifest terms as [`Target::spec`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveCompute {
    /// Compute name.
    pub name: String,
    /// Compute type; `None` for a `computeType` `amlctl` does not know (kept, reported, never touched).
    pub compute_type: Option<ComputeType>,
    /// Every field [`crate::from_arm`] could map, in canonical manifest terms (secrets absent: ARM never returns them).
    pub spec: Map<String, Value>,
    /// `properties.provisioningState` (`Succeeded`, `Creating`, `Failed`, ...).
    pub provisioning_state: Option<String>,
    /// Compute instance `properties.properties.state` (`Running`, `Stopped`, ...).
    pub instance_state: Option<String>,
    /// `properties.provisioningErrors`, verbatim.
    pub provisioning_errors: Vec<Value>,
    /// The raw ARM resource as read (for fingerprints and in-place PUT bodies).
    pub raw: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_paths_are_percent_encoded() {
        let ws = Workspace {
            alias: "dev".into(),
            subscription_id: "00000000-0000-0000-0000-000000000001".into(),
            resource_group: "rg/../other".into(),
            workspace: "ws 1".into(),
            location: None,
            prune: false,
        };
        assert_eq!(
            ws.compute_path("cpu"),
            "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg%2F..%2Fother/providers/Microsoft.MachineLearningServices/workspaces/ws%201/computes/cpu"
        );
        assert_eq!(ComputeType::Batch.api_version(), "2020-02-02");
        assert_eq!(ComputeType::AmlCompute.api_version(), "2025-12-01");
    }
}
