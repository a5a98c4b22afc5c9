//! The plan file ([`PlanFile`]): the pure [`Plan`] wrapped with what binds it to the run that
//! made it (repository folder and digest, workspaces, options), saved and loaded in the plan
//! format [`FORMAT_VERSION`], and checked before it is saved or acted on.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use amlctl_manifest::Workspace;
use amlctl_vocab::{Address, Method};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::action::Action;
use super::entry::{PlanEntry, PlanError, Unmanaged};
use super::plan::{FORMAT_VERSION, Plan, PlanOptions};
use super::preflight::Preflight;

/// A saved plan: the plan as [`crate::plan`] made it (never changed afterwards) and the file's
/// metadata. On disk one JSON object: the plan's keys with the metadata keys among them, in the
/// order of format 1.0.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanFile {
    /// The plan.
    pub plan: Plan,
    /// Folder of the `amlctl.yaml` the plan was made from (informational: `apply PLANFILE`
    /// finds the repository from the current directory).
    pub root: Option<PathBuf>,
    /// The workspaces the plan read, by alias (informational, like `root`).
    pub workspaces: BTreeMap<String, Workspace>,
    /// The options the plan was made with; `apply PLANFILE` plans again with them.
    pub options: Option<SavedOptions>,
    /// [`repo_digest`] of `amlctl.yaml` and every manifest the plan read; `apply PLANFILE`
    /// refuses the file when the repository no longer gives the same digest.
    pub repo_digest: Option<String>,
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

/// The plan file as written: the keys of format 1.0 in their order.
#[derive(Serialize)]
struct WireOut<'a> {
    format_version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<&'a String>,
    entries: &'a [PlanEntry],
    errors: &'a [PlanError],
    warnings: &'a [String],
    unmanaged: &'a [Unmanaged],
    #[serde(skip_serializing_if = "Option::is_none")]
    root: Option<&'a PathBuf>,
    #[serde(skip_serializing_if = "no_workspaces")]
    workspaces: &'a BTreeMap<String, Workspace>,
    #[serde(skip_serializing_if = "Option::is_none")]
    options: Option<&'a SavedOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repo_digest: Option<&'a String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    preflight: Option<&'a Preflight>,
}

fn no_workspaces(w: &&BTreeMap<String, Workspace>) -> bool {
    w.is_empty()
}

/// The plan file as read (the metadata keys are optional, as in format 1.0).
#[derive(Deserialize)]
struct WireIn {
    format_version: String,
    #[serde(default)]
    created: Option<String>,
    entries: Vec<PlanEntry>,
    errors: Vec<PlanError>,
    warnings: Vec<String>,
    unmanaged: Vec<Unmanaged>,
    #[serde(default)]
    root: Option<PathBuf>,
    #[serde(default)]
    workspaces: BTreeMap<String, Workspace>,
    #[serde(default)]
    options: Option<SavedOptions>,
    #[serde(default)]
    repo_digest: Option<String>,
    #[serde(default)]
    preflight: Option<Preflight>,
}

impl PlanFile {
    /// A plan file for `plan` with no metadata yet.
    pub fn new(plan: Plan) -> PlanFile {
        PlanFile {
            plan,
            root: None,
            workspaces: BTreeMap::new(),
            options: None,
            repo_digest: None,
        }
    }

    /// The plan file as JSON text (pretty, newline-terminated). It holds no secret value:
    /// bodies carry `"<redacted>"` and secret slots carry references only.
    pub fn to_json(&self) -> serde_json::Result<String> {
        let p = &self.plan;
        let wire = WireOut {
            format_version: &p.format_version,
            created: p.created.as_ref(),
            entries: &p.entries,
            errors: &p.errors,
            warnings: &p.warnings,
            unmanaged: &p.unmanaged,
            root: self.root.as_ref(),
            workspaces: &self.workspaces,
            options: self.options.as_ref(),
            repo_digest: self.repo_digest.as_ref(),
            preflight: p.preflight.as_ref(),
        };
        let mut text = serde_json::to_string_pretty(&wire)?;
        text.push('\n');
        Ok(text)
    }

    /// Writes the plan file ([`PlanFile::to_json`]).
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let text = self.to_json().map_err(io::Error::other)?;
        std::fs::write(path, text)
    }

    /// Reads a plan file written by [`PlanFile::save`]; refuses another major format version.
    pub fn load(path: &Path) -> Result<PlanFile, PlanFileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PlanFileError::Io {
            path: shown.clone(),
            source,
        })?;
        PlanFile::from_json(&text).map_err(|e| match e {
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

    /// Parses a plan file from JSON text (what [`PlanFile::load`] does after reading the file).
    pub fn from_json(text: &str) -> Result<PlanFile, PlanFileError> {
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
        let w: WireIn = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
        Ok(PlanFile {
            plan: Plan {
                format_version: w.format_version,
                created: w.created,
                entries: w.entries,
                errors: w.errors,
                warnings: w.warnings,
                unmanaged: w.unmanaged,
                preflight: w.preflight,
                drift: std::collections::BTreeMap::new(),
            },
            root: w.root,
            workspaces: w.workspaces,
            options: w.options,
            repo_digest: w.repo_digest,
        })
    }

    /// Checks that the plan is safe to save or to act on: every request path lies under its
    /// entry's workspace (as `workspaces` defines it: the repository's, never the file's), every
    /// actionable entry (other than a wait) has requests, and no body holds anything but the
    /// redaction placeholder at a secret slot. Returns one message per problem (empty: the plan
    /// passes).
    pub fn check(&self, workspaces: &BTreeMap<String, Workspace>) -> Vec<String> {
        let mut problems = Vec::new();
        for e in &self.plan.entries {
            let expected_address = Address::new(&e.workspace, &e.name).to_string();
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

/// True when `path` is `compute` or below it, with no dot segments, query or escapes below it.
/// `compute` comes from [`amlctl_manifest::Workspace::compute_path`], whose segments are
/// percent-encoded: escapes are only refused in the part of `path` that follows it.
pub(super) fn path_is_under(path: &str, compute: &str) -> bool {
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

pub(super) fn major(version: &str) -> &str {
    version.split('.').next().unwrap_or(version)
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
