//! The diff: declared keys compared with live values after normalisation, what an absent live
//! value means, tags, the live fingerprint and the executor's read-back check.

use std::collections::{BTreeMap, BTreeSet};

use amlctl_manifest::fields::{OnGet, field_at, fields_of};
use amlctl_manifest::{ComputeType, LiveCompute, OWNERSHIP_TAG, REDACTED, Target};
use amlctl_vocab::KeyPath;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::secrets::{effective_policy, ignored};
use crate::model::{Change, Policy};
use crate::normalize::{canon, canon_sorted, leaves, same};
use crate::policy::policy_for;

pub(super) fn tags_of(v: Option<&Value>) -> BTreeMap<String, (String, Value)> {
    let mut out = BTreeMap::new();
    if let Some(Value::Object(m)) = v {
        for (k, val) in m {
            if k.eq_ignore_ascii_case(OWNERSHIP_TAG) {
                continue;
            }
            // Tag names are case-insensitive in Azure; values are not.
            out.insert(k.to_ascii_lowercase(), (k.clone(), val.clone()));
        }
    }
    out
}

pub(super) fn live_tags(lc: &LiveCompute) -> Option<&Value> {
    lc.spec.get("tags").or_else(|| lc.raw.get("tags"))
}

/// What a live value that is absent or `null` means for a declared key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Absent {
    /// The service does not return the key (at some api-versions, or ever): the declared value
    /// cannot be checked after creation. Never a diff, never a replace.
    Unverifiable,
    /// The service returns the key whenever it is set, so absence means this value (`None`:
    /// unset); compared like any other live value.
    Means(Option<Value>),
}

/// Decides what an absent or `null` live value of a declared key means: the one place where a
/// key's documented service default plugs in, read from the manifest field table
/// (`amlctl_manifest::fields`):
/// * a key GET never returns (at every api-version) is unverifiable;
/// * a key with a documented default means that default (`vmPriority` `Dedicated`, …);
/// * a key (or the object above it) that GET returns whenever set means unset;
/// * anything else is unverifiable (issue #14 rule 1: compute-instance flags missing at some
///   api-versions, `adminPublicKey: null` although a key was sent, passwords always `null`).
pub(crate) fn when_absent(compute_type: ComputeType, key: &str) -> Absent {
    let fields = fields_of(compute_type);
    let key = KeyPath::parse(key);
    let segs = key.segment_strs();
    if let Some(f) = field_at(fields, &segs) {
        if matches!(f.on_get, OnGet::Never(_)) {
            return Absent::Unverifiable;
        }
        if let Some(v) = f
            .service_default
            .and_then(|d| serde_json::from_str::<Value>(d.value).ok())
        {
            return Absent::Means(Some(v));
        }
    }
    for n in (1..=segs.len()).rev() {
        match field_at(fields, &segs[..n]).map(|f| f.on_get) {
            Some(OnGet::Always(_) | OnGet::WhenSet(_)) => return Absent::Means(None),
            Some(OnGet::Never(_)) => return Absent::Unverifiable,
            Some(OnGet::Unknown) | None => {}
        }
    }
    Absent::Unverifiable
}

/// A value that means "not sent, the service default applies" (`idle_time_before_scale_down:
/// 0`, which `to_arm` leaves out) is compared as that default, on either side.
pub(super) fn unset_as_default<'a>(
    compute_type: ComputeType,
    path: &[&str],
    v: Option<std::borrow::Cow<'a, Value>>,
) -> Option<std::borrow::Cow<'a, Value>> {
    let Some(d) = field_at(fields_of(compute_type), path).and_then(|f| f.service_default) else {
        return v;
    };
    let (Some(unset), Some(value)) = (
        d.unset.and_then(|u| serde_json::from_str::<Value>(u).ok()),
        serde_json::from_str::<Value>(d.value).ok(),
    ) else {
        return v;
    };
    match v {
        Some(x) if same(path, &unset, Some(&x)) => Some(std::borrow::Cow::Owned(value)),
        other => other,
    }
}

/// The live value to compare a declared key with: `Ok(value)`, or `Err(())` when the key is
/// unverifiable (see [`when_absent`]).
pub(super) fn live_value<'a>(
    compute_type: ComputeType,
    key: &str,
    live: Option<&'a Value>,
) -> Result<Option<std::borrow::Cow<'a, Value>>, ()> {
    match live {
        Some(v) if !v.is_null() => Ok(Some(std::borrow::Cow::Borrowed(v))),
        _ => match when_absent(compute_type, key) {
            Absent::Unverifiable => Err(()),
            Absent::Means(v) => Ok(v.map(std::borrow::Cow::Owned)),
        },
    }
}

/// Differences between a target and its live compute, in manifest terms; the keys whose drift
/// `ignore_changes` hides, and the declared keys the service does not return, are returned
/// apart.
pub(super) fn diff(t: &Target, lc: &LiveCompute) -> (Vec<Change>, Vec<String>, Vec<String>) {
    let mut changes = Vec::new();
    let mut hidden = Vec::new();
    let mut unverifiable = Vec::new();
    let mut push = |key: String, before: Option<Value>, after: Option<Value>, policy: Policy| {
        if ignored(t, &key) {
            hidden.push(key);
        } else {
            changes.push(Change {
                key,
                before,
                after,
                policy,
                sensitive: false,
                source: None,
            });
        }
    };
    for (path, desired) in leaves(&t.spec) {
        if path.first() == Some("tags") {
            continue;
        }
        if matches!(&desired, Value::Object(m) if m.is_empty()) {
            continue;
        }
        let key = path.to_string();
        let policy = effective_policy(t, &key, Some(&desired));
        if !policy.is_compared() {
            continue;
        }
        let Ok(live) = live_value(t.compute_type, &key, path.lookup(&lc.spec)) else {
            unverifiable.push(key);
            continue;
        };
        let segs = path.segment_strs();
        let want = unset_as_default(
            t.compute_type,
            &segs,
            Some(std::borrow::Cow::Borrowed(&desired)),
        );
        let have = unset_as_default(t.compute_type, &segs, live.clone());
        if let Some(want) = want.as_deref()
            && same(&segs, want, have.as_deref())
        {
            continue;
        }
        push(key, live.map(|v| v.into_owned()), Some(desired), policy);
    }
    if let Some(want) = t.spec.get("tags") {
        let want = tags_of(Some(want));
        let have = tags_of(live_tags(lc));
        let names: BTreeSet<&String> = want.keys().chain(have.keys()).collect();
        for n in names {
            let w = want.get(n);
            let h = have.get(n);
            if w.map(|x| &x.1) == h.map(|x| &x.1) {
                continue;
            }
            let shown = w.or(h).map_or(n.clone(), |x| x.0.clone());
            let key = format!("tags.{shown}");
            let policy = policy_for(t.compute_type, &key);
            push(key, h.map(|x| x.1.clone()), w.map(|x| x.1.clone()), policy);
        }
    }
    (changes, hidden, unverifiable)
}

/// Fingerprint of the normalised live object: sha256 (hex) of a canonical JSON of the
/// normalised spec, provisioningState, instance state and tags. `apply` compares it to refuse
/// a target that changed since the plan.
pub fn fingerprint(live: &LiveCompute) -> String {
    let spec = canon(&[], &Value::Object(live.spec.clone()));
    let doc = json!({
        "spec": spec,
        "provisioning_state": live.provisioning_state,
        "instance_state": live.instance_state,
        "tags": live.raw.get("tags").cloned().unwrap_or(Value::Null),
    });
    let text = canon_sorted(&doc).to_string();
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The dotted keys of a desired manifest (`PlanEntry::after`) that a live manifest does not
/// satisfy, compared exactly as [`plan`] compares them (same normalisation, same field
/// policies; secrets, create-only, ignored and unverifiable keys skipped; tags without the
/// ownership tag).
/// For the executor's read-back after a replace or update.
pub fn unmet_keys(
    compute_type: ComputeType,
    after: &Map<String, Value>,
    live: &Map<String, Value>,
) -> Vec<String> {
    check_keys(compute_type, after, live).0
}

/// [`unmet_keys`], and the compared keys skipped because the service does not return them
/// (unverifiable): `(unmet, unverifiable)`.
pub fn check_keys(
    compute_type: ComputeType,
    after: &Map<String, Value>,
    live: &Map<String, Value>,
) -> (Vec<String>, Vec<String>) {
    let mut out = Vec::new();
    let mut unverifiable = Vec::new();
    for (path, desired) in leaves(after) {
        if path.first() == Some("tags") {
            continue;
        }
        if matches!(&desired, Value::Object(m) if m.is_empty()) {
            continue;
        }
        let key = path.to_string();
        if desired.as_str() == Some(REDACTED) || !policy_for(compute_type, &key).is_compared() {
            continue;
        }
        let Ok(have) = live_value(compute_type, &key, path.lookup(live)) else {
            // The service does not return it: nothing to check (issue #14 rule 1).
            unverifiable.push(key);
            continue;
        };
        let segs = path.segment_strs();
        let want = unset_as_default(
            compute_type,
            &segs,
            Some(std::borrow::Cow::Borrowed(&desired)),
        );
        let have = unset_as_default(compute_type, &segs, have);
        if !want.is_some_and(|w| same(&segs, &w, have.as_deref())) {
            out.push(key);
        }
    }
    if let Some(want) = after.get("tags") {
        let want = tags_of(Some(want));
        let have = tags_of(live.get("tags"));
        for (n, (shown, v)) in &want {
            if have.get(n).map(|x| &x.1) != Some(v) {
                out.push(format!("tags.{shown}"));
            }
        }
    }
    (out, unverifiable)
}
