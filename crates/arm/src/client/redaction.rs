//! Secret scrubbing: the body fields that hold secrets, masking them in `Debug` output, and
//! replacing registered secret values in every error this client returns.

use super::ArmClient;
use crate::error::ArmError;
use serde_json::Value;

/// Body fields whose values are secrets (x-ms-secret in the spec, or secret in practice).
pub(super) const SECRET_KEYS: &[&str] = &[
    "adminUserPassword",
    "adminUserSshPublicKey",
    "password",
    "privateKeyData",
    "publicKeyData",
    "cert",
    "key",
    "relayConnectionString",
    "serviceBusConnectionString",
    "databricksAccessToken",
    "userKubeConfig",
    "adminKubeConfig",
];

/// A copy of `v` with the values of secret fields replaced by `"<redacted>"`.
pub(super) fn mask_secrets(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| {
                    if SECRET_KEYS.iter().any(|s| s.eq_ignore_ascii_case(k)) && x.is_string() {
                        (k.clone(), Value::String("<redacted>".into()))
                    } else {
                        (k.clone(), mask_secrets(x))
                    }
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(mask_secrets).collect()),
        other => other.clone(),
    }
}

pub(super) fn collect_secrets(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if SECRET_KEYS.iter().any(|s| s.eq_ignore_ascii_case(k)) {
                    if let Some(s) = x.as_str()
                        && s.len() >= 4
                    {
                        out.push(s.to_string());
                    }
                } else {
                    collect_secrets(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_secrets(x, out)),
        _ => {}
    }
}

impl ArmClient {
    /// Registers a secret value: it is replaced by `<redacted>` in every error message and log this
    /// client produces (services echo request bodies in errors).
    pub fn register_secret(&self, value: &str) {
        if value.is_empty() {
            return;
        }
        if let Ok(mut s) = self.inner.secrets.write()
            && !s.iter().any(|x| x == value)
        {
            s.push(value.to_string());
            // Longest first, so a secret containing another is replaced whole.
            s.sort_by_key(|x| std::cmp::Reverse(x.len()));
        }
    }

    pub(super) fn secrets(&self) -> Vec<String> {
        self.inner
            .secrets
            .read()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    pub(super) fn redact<T>(&self, r: Result<T, ArmError>) -> Result<T, ArmError> {
        r.map_err(|e| e.redact(&self.secrets()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ArmRequest;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[test]
    fn secrets_are_found_in_bodies() {
        let mut out = Vec::new();
        collect_secrets(
            &json!({"properties":{"properties":{"userAccountCredentials":{"adminUserName":"azureuser","adminUserPassword":"P@ssw0rd!"}}}}),
            &mut out,
        );
        assert_eq!(out, vec!["P@ssw0rd!".to_string()]);
    }

    #[test]
    fn arm_request_debug_masks_secrets() {
        let r = ArmRequest {
            method: amlctl_vocab::Method::Put,
            path: "/x".into(),
            query: BTreeMap::new(),
            body: Some(
                json!({"properties":{"properties":{"administratorAccount":{"username":"u","password":"hunter22"}}}}),
            ),
        };
        let d = format!("{r:?}");
        assert!(!d.contains("hunter22") && d.contains("<redacted>"), "{d}");
    }
}
