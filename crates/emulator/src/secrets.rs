//! Write-only secrets are never kept: the emulator stores (and persists, and answers in
//! `listKeys`) a marker `sha256:<hex digest>` in their place, so a test can still check that
//! the right value was received without the value ever reaching the state file.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::compute;

/// Prefix of a stored secret marker.
pub const SECRET_MARKER_PREFIX: &str = "sha256:";

/// The marker the emulator stores for a secret value: `sha256:` and the lower-case hex SHA-256
/// of its UTF-8 bytes.
pub fn secret_marker(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    let mut out = String::with_capacity(SECRET_MARKER_PREFIX.len() + 64);
    out.push_str(SECRET_MARKER_PREFIX);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Whether `s` is already a marker (so it is not digested twice).
fn is_marker(s: &str) -> bool {
    s.strip_prefix(SECRET_MARKER_PREFIX)
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Replaces every secret of `compute_type` in `inner` (`properties.properties`) by its marker.
/// `null` stays `null`; a value that is already a marker is kept.
pub(crate) fn mask_secrets(compute_type: &str, inner: &mut Map<String, Value>) {
    for path in compute::secret_paths(compute_type) {
        let Some((last, init)) = path.split_last() else {
            continue;
        };
        let Some(cur) = descend(&mut *inner, init) else {
            continue;
        };
        let marker = match cur.get(*last) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) if is_marker(s) => continue,
            Some(Value::String(s)) => secret_marker(s),
            Some(other) => secret_marker(&other.to_string()),
        };
        cur.insert((*last).to_string(), Value::String(marker));
    }
}

/// The object at `path` below `cur`, if every step is an object.
fn descend<'a>(
    mut cur: &'a mut Map<String, Value>,
    path: &[&str],
) -> Option<&'a mut Map<String, Value>> {
    for k in path {
        cur = cur.get_mut(*k)?.as_object_mut()?;
    }
    Some(cur)
}

/// Masks the secrets of a whole stored resource (`{"properties": {"computeType", "properties"}}`).
pub(crate) fn mask_resource(resource: &mut Value) {
    let ctype = compute::compute_type_of(resource).unwrap_or_default();
    if let Some(Value::Object(inner)) = resource
        .get_mut("properties")
        .and_then(|p| p.get_mut("properties"))
    {
        mask_secrets(&ctype, inner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn marker_is_a_prefixed_sha256() {
        assert_eq!(
            secret_marker("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(is_marker(&secret_marker("x")));
        assert!(!is_marker("sha256:nothex"));
    }

    #[test]
    fn masks_each_secret_once() {
        let mut r = json!({"properties": {"computeType": "VirtualMachine", "properties": {
            "administratorAccount": {"username": "u", "password": "pw", "privateKeyData": null}}}});
        mask_resource(&mut r);
        let acct = &r["properties"]["properties"]["administratorAccount"];
        assert_eq!(acct["password"], json!(secret_marker("pw")));
        assert_eq!(acct["privateKeyData"], Value::Null);
        assert_eq!(acct["username"], "u");
        let before = r.clone();
        mask_resource(&mut r);
        assert_eq!(r, before, "a marker is not digested again");
    }
}
