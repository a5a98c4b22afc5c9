//! Which keys are secret or ignored, and the redacted forms of desired and live manifests.

use amlctl_manifest::{REDACTED, Target};
use amlctl_vocab::KeyPath;
use serde_json::{Map, Value};

use crate::model::Policy;
use crate::normalize::leaves;
use crate::policy::policy_for;

/// True when the dotted key `prefix` (a secret or `ignore_changes` entry) is `key` or above it.
fn covers(prefix: &str, key: &KeyPath) -> bool {
    KeyPath::parse(prefix).covers(key)
}

pub(super) fn is_secret(t: &Target, key: &str) -> bool {
    let key = KeyPath::parse(key);
    t.secrets.keys().any(|s| covers(s, &key))
}

/// Where the secret at `key` comes from (see [`amlctl_manifest::SecretRef::source`]).
pub(super) fn secret_source(
    t: &Target,
    key: &str,
    root: Option<&std::path::Path>,
) -> Option<String> {
    let key = KeyPath::parse(key);
    t.secrets
        .iter()
        .find(|(s, _)| covers(s, &key))
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
    let key = KeyPath::parse(key);
    t.lifecycle.ignore_changes.iter().any(|i| covers(i, &key))
}

/// The desired manifest with every secret field shown as the placeholder.
pub(super) fn redacted_spec(t: &Target) -> Map<String, Value> {
    let mut spec = t.spec.clone();
    for key in t.secrets.keys() {
        let path = KeyPath::parse(key);
        if path.lookup(&spec).is_some() {
            path.set(&mut spec, Value::String(REDACTED.to_string()));
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
        path.set(&mut out, Value::String(REDACTED.to_string()));
    }
    out
}

/// The live manifest without anything secret-looking (the base of an in-place body: a
/// placeholder there would be sent as a value).
pub(super) fn without_secrets(spec: &Map<String, Value>, t: &Target) -> Map<String, Value> {
    let mut out = spec.clone();
    for path in secret_looking(spec, Some(t)) {
        path.remove(&mut out);
    }
    out
}

pub(super) fn secret_looking(spec: &Map<String, Value>, t: Option<&Target>) -> Vec<KeyPath> {
    leaves(spec)
        .into_iter()
        .filter(|(path, v)| {
            if path.first() == Some("tags") || v.is_null() {
                return false;
            }
            let named = path
                .last()
                .is_some_and(amlctl_manifest::fields::is_secret_property);
            named || t.is_some_and(|t| is_secret(t, &path.to_string()))
        })
        .map(|(path, _)| path)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::covers;
    use amlctl_vocab::KeyPath;

    #[test]
    fn covers_on_segment_boundaries() {
        let k = KeyPath::parse("scale_settings.max_instances");
        assert!(covers("scale_settings", &k));
        assert!(covers("scale_settings.max_instances", &k));
        assert!(!covers("scale", &k));
        assert!(!covers("scale_settings.max", &k));
        assert!(!covers("scale_settings.max_instances.x", &k));
        // A key is compared as its dotted string, as ignore_changes always has (a tag named
        // `app.version` is under `tags.app`).
        assert!(covers("tags.app", &KeyPath::parse("tags.app.version")));
    }
}
