//! `type: kubernetes` (ARM `Kubernetes`): an attached cluster with free-form properties.
//!
//! Its `to_arm` and `from_arm` sit side by side: a change to one needs the other.

use serde_json::{Map, Value};

use super::{Builder, P, Reader, common, nonempty, put};

/// Fills `properties` (and `properties.properties`) of the PUT body from the manifest.
pub(super) fn to_arm(b: &mut Builder, outer: &mut Map<String, Value>, location: Option<&String>) {
    let mut props = Map::new();
    common::resource_id_to_arm(b, outer);
    if let Some(l) = location {
        outer.insert("computeLocation".into(), Value::String(l.clone()));
    }
    if let Some(Value::Object(extra)) = b.get("properties").cloned() {
        for (k, v) in extra {
            let val = if b.target.secrets.contains_key(&format!("properties.{k}")) {
                let ptr = format!(
                    "/properties/properties/{}",
                    k.replace('~', "~0").replace('/', "~1")
                );
                b.secret(&format!("properties.{k}"), &ptr).unwrap_or(v)
            } else {
                v
            };
            props.insert(k, val);
        }
    }
    props.insert(
        "namespace".into(),
        Value::String(b.str("namespace").unwrap_or_else(|| "default".into())),
    );
    outer.insert("properties".into(), Value::Object(props));
}

/// Reads the type's own keys of a live resource into `spec`.
pub(super) fn from_arm(r: &Reader, spec: &mut Map<String, Value>) {
    let p = P;
    common::resource_id_from_arm(r, spec);
    put(spec, "namespace", r.str(&format!("{p}.namespace")));
    if let Some(extra) = r.at(p).and_then(Value::as_object) {
        let m: Map<String, Value> = extra
            .iter()
            .filter(|(k, v)| {
                k.as_str() != "namespace" && !v.is_null() && !v.is_object() && !v.is_array()
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        put(spec, "properties", nonempty(m));
    }
}
