//! The JSON renderer: typed view structs, borrowed from the plan, in the key order of format
//! [`crate::FORMAT_VERSION`].

use std::collections::BTreeMap;

use amlctl_manifest::{ComputeType, SourceLocation};
use amlctl_vocab::Method;
use serde::Serialize;
use serde_json::Value;

use crate::model::{Action, Change, Plan, PlanEntry, PlanError, Summary, Unmanaged};
use crate::preflight::Preflight;

/// The JSON form of a plan (`amlctl plan --format json`, `amlctl show --format json`).
#[derive(Debug, Serialize)]
pub struct JsonPlan<'a> {
    /// [`crate::FORMAT_VERSION`] (as the plan carries it).
    pub format_version: &'a str,
    /// Counts by kind of action.
    pub summary: Summary,
    /// True when any entry does something.
    pub has_changes: bool,
    /// One per entry.
    pub entries: Vec<JsonEntry<'a>>,
    /// Targets the plan refuses to act on.
    pub errors: &'a [PlanError],
    /// Things worth knowing.
    pub warnings: &'a [String],
    /// Live computes no manifest declares.
    pub unmanaged: &'a [Unmanaged],
    /// The pre-flight summary, when anything was checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preflight: Option<&'a Preflight>,
    /// When the plan was made, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<&'a str>,
}

/// The JSON form of one entry: the entry's keys, its steps as `request`.
#[derive(Debug, Serialize)]
pub struct JsonEntry<'a> {
    /// `alias/name`.
    pub address: &'a str,
    /// Workspace alias.
    pub workspace: &'a str,
    /// Compute name.
    pub name: &'a str,
    /// Compute type (`null` when unknown).
    pub compute_type: Option<ComputeType>,
    /// What happens, in order.
    pub actions: &'a [Action],
    /// Why, in words.
    pub reason: &'a str,
    /// Changed keys.
    pub changes: &'a [Change],
    /// Live state in manifest terms (`null`: does not exist).
    pub before: Option<&'a Value>,
    /// Desired state in manifest terms (`null`: removed).
    pub after: Option<&'a Value>,
    /// The ARM requests `apply` will send, secrets `"<redacted>"`.
    pub request: Vec<JsonRequest<'a>>,
    /// Fingerprint of the live object planned against.
    pub live_fingerprint: Option<&'a str>,
    /// Where the manifest document starts.
    pub source: Option<&'a SourceLocation>,
    /// Declared keys the service does not return (always present, possibly empty).
    pub unverifiable: &'a [String],
    /// Who changed the compute outside amlctl, when it drifted ([`crate::drift`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<&'a crate::drift::Drift>,
}

/// One ARM request of an entry (its secret slots are not shown).
#[derive(Debug, Serialize)]
pub struct JsonRequest<'a> {
    /// The action the request carries out.
    pub action: Action,
    /// HTTP method.
    pub method: Method,
    /// ARM path.
    pub path: &'a str,
    /// Query parameters.
    pub query: &'a BTreeMap<String, String>,
    /// Request body (`null`: none).
    pub body: Option<&'a Value>,
}

impl<'a> JsonEntry<'a> {
    /// The view of `e`.
    pub fn of(e: &'a PlanEntry) -> JsonEntry<'a> {
        JsonEntry {
            address: &e.address,
            workspace: &e.workspace,
            name: &e.name,
            compute_type: e.compute_type,
            actions: &e.actions,
            reason: &e.reason,
            changes: &e.changes,
            before: e.before.as_ref(),
            after: e.after.as_ref(),
            request: e
                .steps
                .iter()
                .map(|s| JsonRequest {
                    action: s.action,
                    method: s.method,
                    path: &s.path,
                    query: &s.query,
                    body: s.body.as_ref(),
                })
                .collect(),
            live_fingerprint: e.live_fingerprint.as_deref(),
            source: e.source.as_ref(),
            unverifiable: &e.unverifiable,
            drift: None,
        }
    }
}

impl<'a> JsonPlan<'a> {
    /// The view of `plan`.
    pub fn of(plan: &'a Plan) -> JsonPlan<'a> {
        JsonPlan {
            format_version: &plan.format_version,
            summary: plan.summary(),
            has_changes: plan.has_changes(),
            entries: plan
                .entries
                .iter()
                .map(|e| JsonEntry {
                    drift: plan.drift.get(&e.address),
                    ..JsonEntry::of(e)
                })
                .collect(),
            errors: &plan.errors,
            warnings: &plan.warnings,
            unmanaged: &plan.unmanaged,
            preflight: plan.preflight.as_ref(),
            created: plan.created.as_deref(),
        }
    }
}

/// The plan as JSON: `format_version`, `summary`, `entries[]` (with `request`: the ARM requests
/// `apply` will send, secrets `"<redacted>"`), `errors`, `warnings`, `unmanaged` (see
/// [`JsonPlan`]).
pub fn json(plan: &Plan) -> Value {
    // Only maps with string keys and plain values: serialising cannot fail.
    serde_json::to_value(JsonPlan::of(plan)).unwrap_or(Value::Null)
}
