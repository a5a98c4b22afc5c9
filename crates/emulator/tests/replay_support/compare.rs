//! Key-by-key comparison of a recorded response with the emulator's, after masking the values
//! that differ between any two runs (ids, GUIDs, timestamps, IP addresses, versions, principal
//! ids). A key is a path such as `@body.properties.properties.vmSize` or `@body.value[0].name`;
//! each side has it absent, `null`, or a value.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

/// One key on which the two sides differ (`None`: the key is absent on that side).
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// The key path.
    pub key: String,
    /// The recorded (real service) value.
    pub recorded: Option<Value>,
    /// The emulator's value.
    pub emulator: Option<Value>,
}

/// The comparison of one response.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Diff {
    /// Keys present on both sides with equal (masked) values.
    pub matched: usize,
    /// Keys present on either side.
    pub total: usize,
    /// Every other key.
    pub mismatches: Vec<Mismatch>,
}

/// The comparable view of a response: `@status`, the async headers present (`@headers.NAME:
/// true`), and `@body`.
pub fn response_view(status: u16, async_headers: &[&str], body: &Value) -> Value {
    let headers: Map<String, Value> = async_headers
        .iter()
        .map(|h| (h.to_string(), Value::Bool(true)))
        .collect();
    json!({"@status": status, "@headers": headers, "@body": body})
}

fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 19
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b' ')
        && b[13] == b':'
}

fn is_ip(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.parse::<u8>().is_ok())
}

/// Masks one leaf at `path` (its last key is `key`): volatile strings become a placeholder
/// naming their kind; numbers become floats (so `100` equals `100.0`). `null` stays `null`.
pub fn mask(path: &str, key: &str, v: &Value) -> Value {
    match v {
        Value::Number(n) => n.as_f64().map(|f| json!(f)).unwrap_or_else(|| v.clone()),
        Value::String(s) => {
            let lower = key.to_ascii_lowercase();
            let placeholder = if key == "id" || key.ends_with("Id") || key.ends_with("Ids") {
                Some("<id>")
            } else if is_guid(s) {
                Some("<guid>")
            } else if is_timestamp(s) {
                Some("<time>")
            } else if is_ip(s) {
                Some("<ip>")
            } else if lower.contains("version") || path.contains(".versions.") {
                Some("<version>")
            } else {
                None
            };
            placeholder.map_or_else(|| v.clone(), |p| json!(p))
        }
        _ => v.clone(),
    }
}

/// The masked leaves of `v` by key path. Empty objects and arrays are leaves (`{}` / `[]`).
pub fn flatten(v: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    walk("", "", v, &mut out);
    out
}

fn walk(path: &str, key: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, c) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk(&p, k, c, out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, c) in a.iter().enumerate() {
                walk(&format!("{path}[{i}]"), key, c, out);
            }
        }
        _ => {
            out.insert(path.to_string(), mask(path, key, v));
        }
    }
}

/// Compares two views key by key.
pub fn compare(recorded: &Value, emulator: &Value) -> Diff {
    let r = flatten(recorded);
    let e = flatten(emulator);
    let keys: BTreeSet<&String> = r.keys().chain(e.keys()).collect();
    let mut d = Diff {
        total: keys.len(),
        ..Diff::default()
    };
    for k in keys {
        let (rv, ev) = (r.get(k), e.get(k));
        if rv.is_some() && rv == ev {
            d.matched += 1;
        } else {
            d.mismatches.push(Mismatch {
                key: k.clone(),
                recorded: rv.cloned(),
                emulator: ev.cloned(),
            });
        }
    }
    d
}

/// `absent`, `null`, or the JSON text of a value (for reports).
pub fn show(v: &Option<Value>) -> String {
    match v {
        None => "absent".into(),
        Some(v) => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_volatile_values_only() {
        let m = |k: &str, v: Value| mask(k, k, &v);
        assert_eq!(
            m("name", json!("5b1d2f28-f2ff-4269-af9e-0123456789ab")),
            json!("<guid>")
        );
        assert_eq!(
            m("createdOn", json!("2023-01-25T22:55:02.345922+00:00")),
            json!("<time>")
        );
        assert_eq!(m("privateIpAddress", json!("10.0.0.4")), json!("<ip>"));
        assert_eq!(m("principalId", json!("abc")), json!("<id>"));
        assert_eq!(m("id", json!("/subscriptions/x")), json!("<id>"));
        assert_eq!(m("imageVersion", json!("22.08.19")), json!("<version>"));
        assert_eq!(
            mask("p.versions.runtime", "runtime", &json!("0.1")),
            json!("<version>")
        );
        assert_eq!(
            m("percentComplete", json!(100)),
            m("percentComplete", json!(100.0))
        );
        // Not volatile: compared as they are.
        assert_eq!(
            m("vmSize", json!("STANDARD_DS3_V2")),
            json!("STANDARD_DS3_V2")
        );
        assert_eq!(m("principalId", Value::Null), Value::Null);
        assert_eq!(m("ip", json!("10.0.0")), json!("10.0.0"));
    }

    #[test]
    fn equal_after_masking_matches() {
        let a = json!({"id": "/a", "properties": {"createdOn": "2023-01-01T00:00:00Z", "n": 1}});
        let b = json!({"id": "/b", "properties": {"createdOn": "2026-12-03T17:00:00Z", "n": 1.0}});
        let d = compare(&a, &b);
        assert_eq!((d.matched, d.total), (3, 3));
        assert!(d.mismatches.is_empty());
    }

    #[test]
    fn detects_value_null_and_absent_mismatches() {
        let rec = json!({"tags": null, "properties": {"vmSize": "STANDARD_DS2_V2", "vmPriority": null}, "only_rec": 1});
        let emu = json!({"tags": {}, "properties": {"vmSize": "Standard_DS2_v2", "vmPriority": null}, "only_emu": true});
        let d = compare(&rec, &emu);
        assert_eq!(d.total, 5);
        assert_eq!(d.matched, 1, "{d:?}");
        let by_key: BTreeMap<&str, &Mismatch> =
            d.mismatches.iter().map(|m| (m.key.as_str(), m)).collect();
        assert_eq!(by_key["tags"].recorded, Some(Value::Null));
        assert_eq!(by_key["tags"].emulator, Some(json!({})));
        assert_eq!(
            by_key["properties.vmSize"].emulator,
            Some(json!("Standard_DS2_v2"))
        );
        assert_eq!(by_key["only_rec"].emulator, None);
        assert_eq!(by_key["only_emu"].recorded, None);
        assert_eq!(show(&by_key["only_rec"].emulator), "absent");
    }

    #[test]
    fn arrays_compare_by_index_and_views_carry_status_and_headers() {
        let a = response_view(201, &["Azure-AsyncOperation"], &json!({"v": [1, 2]}));
        let b = response_view(
            200,
            &["Azure-AsyncOperation", "Location"],
            &json!({"v": [1]}),
        );
        let d = compare(&a, &b);
        let keys: Vec<&str> = d.mismatches.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(keys, ["@body.v[1]", "@headers.Location", "@status"]);
        assert_eq!(d.matched, 2);
    }
}
