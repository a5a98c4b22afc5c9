//! One entry of a plan: the changed keys, the ARM requests, refusals and unmanaged computes.

use std::collections::BTreeMap;

use amlctl_manifest::{ComputeType, SecretSlot, SourceLocation};
use amlctl_vocab::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::action::{Action, Policy};

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
