//! Which keys are secret or ignored, and the redacted forms of desired and live manifests.

use amlctl_manifest::{REDACTED, Target};
use serde_json::{Map, Value};

use crate::model::Policy;
use crate::normalize::{leaves, lookup, set_path};
use crate::policy::policy_for;

pub(super) fn covers(prefix: &str, key: &str) -> bool {
    key == prefix || (key.starts_with(prefix) && key.as_bytes().get(prefix.len()) == Some(&b'.'))
}

pub(super) fn is_secret(t: &Target, key: &str) -> bool {
    t.secrets.keys().any(|s| covers(s, key))
}

/// Where the secret at `key` comes from (see [`amlctl_manifest::SecretRef::source`]).
pub(super) fn secret_source(
    t: &Target,
    key: &str,
    root: Option<&std::path::Path>,
) -> Option<String> {
    t.secrets
        .iter()
        .find(|(s, _)| covers(s, key))
        .map(|(_, r)| r.source(root))
}

pub(super) fn effective_policy(t: &Target, key: &str, value: Option<&Value>) -> Policy {
    if is_secret(t, key) || value.and_then(Value::as_str) == Some(REDACTED) {
        Policy::WriteOnlySecret
    } else {
        policy_for(t.compute_type, key)
    }
}

pub(super) fn ignored(t: &Target, key: &str) -> bool {
    t.lifecycle.ignore_changes.iter().any(|i| covers(i, key))
}

/// The desired manifest with every secret field shown as the placeholder.
pub(super) fn redacted_spec(t: &Target) -> Map<String, Value> {
    let mut spec = t.spec.clone();
    for key in t.secrets.keys() {
        let path: Vec<&str> = key.split('.').collect();
        let segs: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        if lookup(&spec, &segs).is_some() {
            set_path(&mut spec, &path, Value::String(REDACTED.to_string()));
        }
    }
    spec
}

/// A live manifest with anything secret-looking replaced by the placeholder. ARM never returns
/// secrets, so this is defence in depth: the target's secret keys, and (outside `tags`) keys
/// named like secrets (`…password`, `…token`, `…secret`, `…key`, `…connectionString`).
pub(super) fn redacted_live(spec: &Map<String, Value>, t: Option<&Target>) -> Map<String, Value> {
    let mut out = spec.clone();
    for path in secret_looking(spec, t) {
        let segs: Vec<&str> = path.iter().map(String::as_str).collect();
        set_path(&mut out, &segs, Value::String(REDACTED.to_string()));
    }
    out
}

/// The live manifest without anything secret-looking (the base of an in-place body: a
/// placeholder there would be sent as a value).
pub(super) fn without_secrets(spec: &Map<String, Value>, t: &Target) -> Map<String, Value> {
    let mut out = spec.clone();
    for path in secret_looking(spec, Some(t)) {
        remove_path(&mut out, &path);
    }
    out
}

pub(super) fn secret_looking(spec: &Map<String, Value>, t: Option<&Target>) -> Vec<Vec<String>> {
    leaves(spec)
        .into_iter()
        .filter(|(path, v)| {
            if path.first().map(String::as_str) == Some("tags") || v.is_null() {
                return false;
            }
            let named = path
                .last()
                .is_some_and(|k| amlctl_manifest::fields::is_secret_property(k));
            named || t.is_some_and(|t| is_secret(t, &path.join(".")))
        })
        .map(|(path, _)| path)
        .collect()
}

pub(super) fn remove_path(map: &mut Map<String, Value>, path: &[String]) {
    let Some((last, init)) = path.split_last() else {
        return;
    };
    let mut cur = map;
    for seg in init {
        let Some(Value::Object(next)) = cur.get_mut(seg) else {
            return;
        };
        cur = next;
    }
    cur.remove(last);
}
