//! The plan file: saved options, the repository digest, load errors and the path check.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use amlctl_vocab::Method;
use serde_json::Value;

use super::action::Action;
use super::plan::{FORMAT_VERSION, Plan};

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

impl Plan {
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
