//! The plan model: what [`crate::plan`] produces, what the renderers print, what `apply` executes
//! and what a plan file holds.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::path::Path;

use amlctl_manifest::{ComputeType, SecretSlot, SourceLocation};
use amlctl_vocab::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Version of the plan format (JSON output and plan files). A plan file whose major version
/// differs is refused by [`Plan::load`].
pub const FORMAT_VERSION: &str = "1.0";

/// Options of one planning run (from the command line).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Names or addresses (`alias/name`) given with `--replace`: replace these even when nothing
    /// drifted (the way to push a changed secret), and allow a replace the diff calls for.
    pub replace: BTreeSet<String>,
    /// `--target` filters (names or addresses); empty means every target.
    pub targets: Vec<String>,
    /// `--workspace` filters (aliases); empty means every workspace.
    pub workspaces: Vec<String>,
    /// The repository folder (of amlctl.yaml): secret file sources are shown relative to it.
    pub root: Option<std::path::PathBuf>,
    /// The folder (relative to `amlctl.yaml`) the run was limited to, when PATH was below it.
    /// The targets given are then only those under it: live computes none of them declares are
    /// neither pruned nor listed as unmanaged, and the plan says so in one warning.
    pub scope: Option<String>,
}

/// What the plan does to one compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Live state matches the manifest.
    NoOp,
    /// Create a compute (AmlCompute, ComputeInstance).
    Create,
    /// Attach an existing resource (every other type).
    Attach,
    /// Update in place (PATCH or PUT, see the entry's steps).
    Update,
    /// Delete (or detach) then create (or attach) again.
    Replace,
    /// Delete a created compute that no manifest declares (prune).
    Delete,
    /// Detach an attached compute that no manifest declares (prune); the resource itself is kept.
    Detach,
    /// Start a stopped compute instance.
    Start,
    /// Stop a running compute instance.
    Stop,
    /// The live object is Creating/Updating/Deleting: nothing to do now, plan again later.
    Wait,
}

impl Action {
    /// The word used in summaries (`create`, `no-op`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::NoOp => "no-op",
            Action::Create => "create",
            Action::Attach => "attach",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Detach => "detach",
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Wait => "wait",
        }
    }
}

impl Action {
    /// The kind of change this action is: the one classification that summaries, the renderers
    /// and the executor's report use.
    pub fn kind(self) -> ActionKind {
        match self {
            Action::Create | Action::Attach => ActionKind::Add,
            Action::Update => ActionKind::Change,
            Action::Replace => ActionKind::Replace,
            Action::Delete | Action::Detach => ActionKind::Remove,
            Action::Start => ActionKind::Start,
            Action::Stop => ActionKind::Stop,
            Action::Wait => ActionKind::Wait,
            Action::NoOp => ActionKind::NoOp,
        }
    }

    /// The symbol rendered plans draw for this action (`+`, `~`, `-/+`, `-`, `>`, `…`, ` `).
    pub fn symbol(self) -> &'static str {
        self.kind().symbol()
    }
}

/// The kind of change an [`Action`] is (see [`Action::kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionKind {
    /// Creates or attaches a compute.
    Add,
    /// Updates a compute in place.
    Change,
    /// Deletes (or detaches) and creates (or attaches) again: counts as an add and a destroy.
    Replace,
    /// Deletes or detaches a compute.
    Remove,
    /// Starts a compute instance.
    Start,
    /// Stops a compute instance.
    Stop,
    /// Waits for a running operation.
    Wait,
    /// Nothing to do.
    NoOp,
}

impl ActionKind {
    /// The symbol rendered plans draw: `+`, `~`, `-/+`, `-`, `>` (start and stop), `…`, ` `.
    pub fn symbol(self) -> &'static str {
        match self {
            ActionKind::Add => "+",
            ActionKind::Change => "~",
            ActionKind::Replace => "-/+",
            ActionKind::Remove => "-",
            ActionKind::Start | ActionKind::Stop => ">",
            ActionKind::Wait => "…",
            ActionKind::NoOp => " ",
        }
    }

    /// True when a compute is created or attached (a replace included).
    pub fn adds(self) -> bool {
        matches!(self, ActionKind::Add | ActionKind::Replace)
    }

    /// True when a compute is deleted or detached (a replace included).
    pub fn destroys(self) -> bool {
        matches!(self, ActionKind::Remove | ActionKind::Replace)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a change to one manifest key can be carried out (see [`crate::policy_for`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// In place with a PATCH (`ClusterUpdateParameters`: AmlCompute scale settings only).
    InPlacePatch,
    /// In place with a PUT of the whole body (the service overwrites an existing compute).
    InPlacePut,
    /// Only by deleting (or detaching) and creating (or attaching) again.
    Replace,
    /// Sent at creation only and not read back: never compared; a change needs `--replace`.
    CreateOnly,
    /// A secret: write-only, never read back, never shown; a change needs `--replace`.
    WriteOnlySecret,
    /// Accepted in the manifest but never sent nor compared.
    Ignored,
}

impl Policy {
    /// Short words for this policy (`in place (PATCH)`, `forces replacement`, ...).
    pub fn describe(self) -> &'static str {
        match self {
            Policy::InPlacePatch => "in place (PATCH)",
            Policy::InPlacePut => "in place (PUT)",
            Policy::Replace => "forces replacement",
            Policy::CreateOnly => "create-only (not compared)",
            Policy::WriteOnlySecret => "write-only secret (not compared)",
            Policy::Ignored => "ignored",
        }
    }

    /// True when a difference under this policy is never computed.
    pub fn is_compared(self) -> bool {
        matches!(
            self,
            Policy::InPlacePatch | Policy::InPlacePut | Policy::Replace
        )
    }
}

/// One changed manifest key, in manifest terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Dotted manifest key (`max_instances`, `ssh_settings.admin_username`, `tags.team`).
    pub key: String,
    /// Live value (`None`: absent).
    pub before: Option<Value>,
    /// Desired value (`None`: absent); a secret shows as `"<redacted>"`.
    pub after: Option<Value>,
    /// The key's field policy.
    pub policy: Policy,
    /// True for a secret: the values are redacted placeholders.
    pub sensitive: bool,
    /// For a secret the manifest declares: where its value comes from (`env NAME`,
    /// `file repo/relative/path`, `key_vault URL`, `literal at FILE:LINE:COL`), never the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// One ARM request `apply` will send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// The action this request carries out.
    pub action: Action,
    /// HTTP method (`PUT`, `PATCH`, `DELETE`, `POST`; serialised upper-case).
    pub method: Method,
    /// ARM path (no host), e.g. `/subscriptions/…/computes/NAME` or `…/computes/NAME/start`.
    pub path: String,
    /// Query parameters (`api-version`, `underlyingResourceAction`).
    pub query: BTreeMap<String, String>,
    /// Request body; every secret value is `"<redacted>"`.
    pub body: Option<Value>,
    /// Where the executor puts each resolved secret in `body` (references only, never values).
    pub secrets: Vec<SecretSlot>,
}

/// The plan for one compute (declared by a manifest, or pruned).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanEntry {
    /// `{workspace alias}/{name}`.
    pub address: String,
    /// Workspace alias.
    pub workspace: String,
    /// Compute name.
    pub name: String,
    /// Compute type (desired type; for a prune, the live type).
    pub compute_type: Option<ComputeType>,
    /// What happens, in order (e.g. `[update, start]`, `[create, stop]`, `[no_op]`).
    pub actions: Vec<Action>,
    /// Why, in words, with the affected keys old → new.
    pub reason: String,
    /// Changed keys (for create/attach and delete/detach: every key written or read).
    pub changes: Vec<Change>,
    /// Live state in manifest terms (`None`: does not exist).
    pub before: Option<Value>,
    /// Desired state in manifest terms, secrets redacted (`None`: removed).
    pub after: Option<Value>,
    /// The ARM requests `apply` will send, in order.
    pub steps: Vec<Step>,
    /// [`crate::fingerprint`] of the live object this entry was planned against.
    pub live_fingerprint: Option<String>,
    /// Where the manifest document starts.
    pub source: Option<SourceLocation>,
    /// Declared keys the service does not return (absent or `null` on GET, no documented
    /// default): never a diff, never a replace; the plan names them once per target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unverifiable: Vec<String>,
    /// The target's `lifecycle.ignore_changes` keys: never compared, also not by the read-back
    /// after a replace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_changes: Vec<String>,
}

impl PlanEntry {
    /// True unless the entry is a no-op.
    pub fn has_changes(&self) -> bool {
        self.actions.iter().any(|a| *a != Action::NoOp)
    }
}

/// A target the plan refuses to act on (e.g. a replace that is not allowed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanError {
    /// `{workspace alias}/{name}` (or the filter/workspace concerned).
    pub address: String,
    /// What is wrong, in words.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
    /// The manifest position concerned, when there is one.
    pub source: Option<SourceLocation>,
}

/// A live compute no manifest declares, left alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmanaged {
    /// `{workspace alias}/{name}`.
    pub address: String,
    /// ARM `computeType` as read (`AmlCompute`, or an unknown type verbatim).
    pub compute_type: String,
    /// Why it is left alone.
    pub note: String,
}

/// Counts of a plan, by kind of action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Entries that create or attach (a replace counts here and in `destroy`).
    pub add: usize,
    /// Entries updated in place.
    pub change: usize,
    /// Entries deleted or detached (a replace counts here and in `add`).
    pub destroy: usize,
    /// Compute instances started.
    pub start: usize,
    /// Compute instances stopped.
    pub stop: usize,
    /// Entries waiting for a running operation.
    pub wait: usize,
}

impl Summary {
    /// `Plan: X to add, Y to change, Z to destroy.`, followed by the non-zero starts, stops and
    /// waits in the same sentence (`Plan: 0 to add, 0 to change, 0 to destroy, 1 to stop.`).
    pub fn line(&self) -> String {
        let mut s = format!(
            "Plan: {} to add, {} to change, {} to destroy",
            self.add, self.change, self.destroy
        );
        if let Some(extra) = self.extra() {
            s.push_str(", ");
            s.push_str(&extra);
        }
        s.push('.');
        s
    }

    /// `1 to start, 1 to stop, 1 waiting` (only the non-zero parts), or `None`.
    pub fn extra(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.start > 0 {
            parts.push(format!("{} to start", self.start));
        }
        if self.stop > 0 {
            parts.push(format!("{} to stop", self.stop));
        }
        if self.wait > 0 {
            parts.push(format!("{} waiting on a running operation", self.wait));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// The result of planning: one entry per target, plus refusals, warnings and unmanaged computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// [`FORMAT_VERSION`].
    pub format_version: String,
    /// When the plan was made (RFC 3339); set by the caller, `None` from [`crate::plan`] (pure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// One entry per target (and per pruned compute), sorted by address.
    pub entries: Vec<PlanEntry>,
    /// Targets the plan refuses to act on; a plan with errors must not be applied.
    pub errors: Vec<PlanError>,
    /// Things worth knowing that do not stop the plan.
    pub warnings: Vec<String>,
    /// Live computes no manifest declares, left alone.
    pub unmanaged: Vec<Unmanaged>,
    /// Folder of the `amlctl.yaml` the plan was made from; set by the caller (for `apply PLANFILE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<std::path::PathBuf>,
    /// The workspaces the plan read, by alias; set by the caller so a saved plan can be re-checked
    /// against the same live state.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub workspaces: BTreeMap<String, amlctl_manifest::Workspace>,
    /// The options the plan was made with; `apply PLANFILE` plans again with them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<SavedOptions>,
    /// [`repo_digest`] of `amlctl.yaml` and every manifest the plan read; `apply PLANFILE`
    /// refuses the file when the repository no longer gives the same digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo_digest: Option<String>,
    /// The pre-flight summary ([`crate::preflight`]); `None` when nothing was checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<crate::preflight::Preflight>,
    /// Drifted targets by address: who changed them outside amlctl ([`crate::drift`]); set by
    /// the caller after planning (empty: not looked up, or nothing drifted).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub drift: BTreeMap<String, crate::drift::Drift>,
}

/// The command-line options of a saved plan (what `apply PLANFILE` plans again with).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedOptions {
    /// `--replace` names.
    #[serde(default)]
    pub replace: Vec<String>,
    /// `--target` filters.
    #[serde(default)]
    pub targets: Vec<String>,
    /// `--workspace` filters.
    #[serde(default)]
    pub workspaces: Vec<String>,
    /// The folder below `amlctl.yaml` the plan was limited to (repository-relative, `/`
    /// separated; empty: the whole repository).
    #[serde(default)]
    pub scope: String,
    /// `--strict`.
    #[serde(default)]
    pub strict: bool,
}

impl SavedOptions {
    /// The planner options these stand for.
    pub fn plan_options(&self) -> PlanOptions {
        PlanOptions {
            replace: self.replace.iter().cloned().collect(),
            targets: self.targets.clone(),
            workspaces: self.workspaces.clone(),
            root: None,
            scope: (!self.scope.is_empty()).then(|| self.scope.clone()),
        }
    }
}

/// SHA-256 (hex) over `(repository-relative path, content)` pairs, sorted by path: binds a plan
/// file to the state of the repository it was made from.
pub fn repo_digest(files: &[(String, Vec<u8>)]) -> String {
    use sha2::{Digest, Sha256};
    let mut sorted: Vec<&(String, Vec<u8>)> = files.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut h = Sha256::new();
    for (path, content) in sorted {
        // Length-prefixed, so no two different file sets hash the same stream.
        h.update((path.len() as u64).to_le_bytes());
        h.update(path.as_bytes());
        h.update((content.len() as u64).to_le_bytes());
        h.update(content);
    }
    h.finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>()
}

impl PlanEntry {
    /// True when `other` would do exactly what `self` does: same address, actions, requests
    /// (method, path, query, redacted body, secret slots), changes and live fingerprint.
    pub fn same_effect(&self, other: &PlanEntry) -> bool {
        self.address == other.address
            && self.workspace == other.workspace
            && self.name == other.name
            && self.compute_type == other.compute_type
            && self.actions == other.actions
            && self.steps.len() == other.steps.len()
            && self
                .steps
                .iter()
                .zip(&other.steps)
                .all(|(a, b)| a.same_request(b))
            && self.changes == other.changes
            && self.live_fingerprint == other.live_fingerprint
    }
}

impl Step {
    /// True when `other` sends the same request: method, path, query, redacted body, and the
    /// same secret slots (pointer and kind of source; environment variable names and Key Vault
    /// URLs must match, file and literal sources are compared by kind and key only, as their
    /// recorded locations depend on the current directory).
    pub fn same_request(&self, other: &Step) -> bool {
        use amlctl_manifest::SecretRef;
        let same_source = |a: &SecretRef, b: &SecretRef| match (a, b) {
            (SecretRef::Env(x), SecretRef::Env(y)) => x == y,
            (SecretRef::KeyVault(x), SecretRef::KeyVault(y)) => x == y,
            (SecretRef::File(_), SecretRef::File(_)) => true,
            (SecretRef::Literal(x), SecretRef::Literal(y)) => x.key == y.key,
            _ => false,
        };
        self.action == other.action
            && self.method == other.method
            && self.path == other.path
            && self.query == other.query
            && self.body == other.body
            && self.secrets.len() == other.secrets.len()
            && self
                .secrets
                .iter()
                .zip(&other.secrets)
                .all(|(a, b)| a.pointer == b.pointer && same_source(&a.secret, &b.secret))
    }
}

impl Plan {
    /// Checks that a plan is safe to save or to act on: every request path lies under its
    /// entry's workspace (as `workspaces` defines it), every actionable entry (other than a
    /// wait) has requests, and no body holds anything but the redaction placeholder at a secret
    /// slot. Returns one message per problem (empty: the plan passes).
    pub fn check(&self, workspaces: &BTreeMap<String, amlctl_manifest::Workspace>) -> Vec<String> {
        let mut problems = Vec::new();
        for e in &self.entries {
            let expected_address = format!("{}/{}", e.workspace, e.name);
            if e.address != expected_address {
                problems.push(format!(
                    "entry {}: address does not match workspace {:?} and name {:?}",
                    e.address, e.workspace, e.name
                ));
            }
            let only_waits = e
                .actions
                .iter()
                .all(|a| matches!(a, Action::NoOp | Action::Wait));
            if !only_waits && e.steps.is_empty() {
                problems.push(format!("entry {}: has actions but no requests", e.address));
            }
            if e.steps.is_empty() {
                continue;
            }
            let Some(ws) = workspaces.get(&e.workspace) else {
                problems.push(format!(
                    "entry {}: workspace {:?} is not in amlctl.yaml",
                    e.address, e.workspace
                ));
                continue;
            };
            let compute = ws.compute_path(&e.name);
            for s in &e.steps {
                if !path_is_under(&s.path, &compute) {
                    problems.push(format!(
                        "entry {}: request path {} is not under {}",
                        e.address, s.path, compute
                    ));
                }
                if !matches!(
                    s.method,
                    Method::Put | Method::Patch | Method::Delete | Method::Post
                ) {
                    problems.push(format!(
                        "entry {}: request method {:?} is not one amlctl sends",
                        e.address,
                        s.method.as_str()
                    ));
                }
                for slot in &s.secrets {
                    let at = s.body.as_ref().and_then(|b| b.pointer(&slot.pointer));
                    if at != Some(&Value::String(amlctl_manifest::REDACTED.to_string())) {
                        problems.push(format!(
                            "entry {}: the body holds something other than the redaction placeholder at secret slot {}",
                            e.address, slot.pointer
                        ));
                    }
                }
            }
        }
        problems
    }
}

/// True when `path` is `compute` or below it, with no dot segments, query or escapes below it.
/// `compute` comes from [`amlctl_manifest::Workspace::compute_path`], whose segments are
/// percent-encoded: escapes are only refused in the part of `path` that follows it.
fn path_is_under(path: &str, compute: &str) -> bool {
    if path.split('/').any(|seg| seg == ".." || seg == ".") {
        return false;
    }
    let (p, c) = (path.to_ascii_lowercase(), compute.to_ascii_lowercase());
    let Some(rest) = p.strip_prefix(&c) else {
        return false;
    };
    (rest.is_empty() || rest.starts_with('/')) && !rest.contains(['?', '#', '%', '\\'])
}

/// Why a plan file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    /// The file could not be read.
    #[error("cannot read plan file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: io::Error,
    },
    /// The file is not a plan (bad JSON or wrong shape).
    #[error("{path} is not an amlctl plan file: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The file was written by an incompatible amlctl.
    #[error(
        "{path} has plan format version {found}, this amlctl reads version {supported}.x: run `amlctl plan --out` again with this version"
    )]
    UnsupportedVersion {
        /// The file.
        path: String,
        /// The version in the file.
        found: String,
        /// [`FORMAT_VERSION`].
        supported: String,
    },
}

fn major(version: &str) -> &str {
    version.split('.').next().unwrap_or(version)
}

impl Plan {
    /// An empty plan of the current format.
    pub fn empty() -> Plan {
        Plan {
            format_version: FORMAT_VERSION.to_string(),
            created: None,
            entries: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            unmanaged: Vec::new(),
            root: None,
            workspaces: BTreeMap::new(),
            options: None,
            repo_digest: None,
            preflight: None,
            drift: BTreeMap::new(),
        }
    }

    /// True when any entry does something (including waiting on a running operation).
    pub fn has_changes(&self) -> bool {
        self.entries.iter().any(PlanEntry::has_changes)
    }

    /// Counts by kind of action.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for e in &self.entries {
            let kinds: Vec<ActionKind> = e.actions.iter().map(|a| a.kind()).collect();
            let has = |k: ActionKind| usize::from(kinds.contains(&k));
            s.add += usize::from(kinds.iter().any(|k| k.adds()));
            s.change += has(ActionKind::Change);
            s.destroy += usize::from(kinds.iter().any(|k| k.destroys()));
            s.start += has(ActionKind::Start);
            s.stop += has(ActionKind::Stop);
            s.wait += has(ActionKind::Wait);
        }
        s
    }

    /// Writes the plan as pretty JSON. The file holds no secret value: bodies carry
    /// `"<redacted>"` and secret slots carry references only.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let mut text = serde_json::to_string_pretty(self).map_err(io::Error::other)?;
        text.push('\n');
        std::fs::write(path, text)
    }

    /// Reads a plan file written by [`Plan::save`]; refuses another major format version.
    pub fn load(path: &Path) -> Result<Plan, PlanFileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PlanFileError::Io {
            path: shown.clone(),
            source,
        })?;
        Plan::from_json(&text).map_err(|e| match e {
            PlanFileError::Invalid { message, .. } => PlanFileError::Invalid {
                path: shown.clone(),
                message,
            },
            PlanFileError::UnsupportedVersion {
                found, supported, ..
            } => PlanFileError::UnsupportedVersion {
                path: shown.clone(),
                found,
                supported,
            },
            other => other,
        })
    }

    /// Parses a plan from JSON text (what [`Plan::load`] does after reading the file).
    pub fn from_json(text: &str) -> Result<Plan, PlanFileError> {
        let invalid = |message: String| PlanFileError::Invalid {
            path: "input".to_string(),
            message,
        };
        let value: Value = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let found = value
            .get("format_version")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("no \"format_version\" string".to_string()))?;
        if major(found) != major(FORMAT_VERSION) {
            return Err(PlanFileError::UnsupportedVersion {
                path: "input".to_string(),
                found: found.to_string(),
                supported: major(FORMAT_VERSION).to_string(),
            });
        }
        serde_json::from_value(value).map_err(|e| invalid(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::path_is_under;

    #[test]
    fn paths_under_an_encoded_compute_path() {
        let ws = amlctl_manifest::Workspace {
            alias: "dev".into(),
            subscription_id: "00000000-0000-0000-0000-000000000001".into(),
            resource_group: "rg ml-é".into(),
            workspace: "ws1".into(),
            location: None,
            prune: false,
        };
        let compute = ws.compute_path("cpu");
        assert!(
            compute.contains("/resourceGroups/rg%20ml-%C3%A9/"),
            "{compute}"
        );
        assert!(path_is_under(&compute, &compute));
        assert!(path_is_under(&format!("{compute}/start"), &compute));
        for bad in [
            format!("{compute}2"),
            format!("{compute}/%2e%2e/x"),
            format!("{compute}/../x"),
            format!("{compute}/start?x=1"),
            format!("{compute}\\x"),
            "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg ml-é/providers/Microsoft.MachineLearningServices/workspaces/ws1/computes/cpu".to_string(),
        ] {
            assert!(!path_is_under(&bad, &compute), "{bad}");
        }
    }
}

#[cfg(test)]
mod method_tests {
    use super::*;

    #[test]
    fn step_methods_keep_their_upper_case_shape() {
        let step = Step {
            action: Action::Update,
            method: Method::Patch,
            path: "/x".into(),
            query: BTreeMap::new(),
            body: None,
            secrets: Vec::new(),
        };
        let v = serde_json::to_value(&step).unwrap_or_default();
        assert_eq!(v["method"], "PATCH");
        let mut edited = v.clone();
        edited["method"] = "TRACE".into();
        assert!(serde_json::from_value::<Step>(edited).is_err());
        edited = v;
        edited["method"] = "GET".into();
        let get: Step = serde_json::from_value(edited).unwrap_or(step);
        assert_eq!(get.method, Method::Get);
    }
}

#[cfg(test)]
mod action_kind_tests {
    use super::*;

    #[test]
    fn one_classification_gives_symbols_and_counts() {
        let expect = [
            (Action::Create, "+", true, false),
            (Action::Attach, "+", true, false),
            (Action::Update, "~", false, false),
            (Action::Replace, "-/+", true, true),
            (Action::Delete, "-", false, true),
            (Action::Detach, "-", false, true),
            (Action::Start, ">", false, false),
            (Action::Stop, ">", false, false),
            (Action::Wait, "…", false, false),
            (Action::NoOp, " ", false, false),
        ];
        for (a, symbol, adds, destroys) in expect {
            assert_eq!(a.symbol(), symbol, "{a}");
            assert_eq!(a.kind().adds(), adds, "{a}");
            assert_eq!(a.kind().destroys(), destroys, "{a}");
        }
    }
}
