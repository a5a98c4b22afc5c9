//! The envelope every compute type shares: `computeType` and `description` under
//! `properties`, `location`, `identity` and `tags` (with the ownership tag) at the top, and the
//! `resourceId` of an attachment.

use serde_json::{Map, Value, json};

use super::{Builder, Reader, put};
use crate::codec::{pascal_to_snake, snake_to_pascal};
use crate::model::{ComputeType, OWNERSHIP_TAG, OWNERSHIP_TAG_VALUE};

/// `properties` with what every type sends: `computeType` and `description`.
pub(super) fn outer_to_arm(b: &Builder, t: ComputeType) -> Map<String, Value> {
    let mut outer = Map::new();
    outer.insert("computeType".into(), Value::String(t.arm_name().into()));
    put(
        &mut outer,
        "description",
        b.str("description").map(Value::String),
    );
    outer
}

/// The whole body: `location`, `properties`, `identity`, and `tags` with the ownership tag.
pub(super) fn body_to_arm(
    b: &Builder,
    outer: Map<String, Value>,
    location: Option<String>,
) -> Value {
    let mut body = Map::new();
    if let Some(l) = location {
        body.insert("location".into(), Value::String(l));
    }
    body.insert("properties".into(), Value::Object(outer));
    if let Some(id) = b.get("identity") {
        body.insert("identity".into(), identity_to_arm(id));
    }
    let mut tags = b
        .get("tags")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    tags.insert(
        OWNERSHIP_TAG.into(),
        Value::String(OWNERSHIP_TAG_VALUE.into()),
    );
    body.insert("tags".into(), Value::Object(tags));
    Value::Object(body)
}

fn identity_to_arm(id: &Value) -> Value {
    let mut out = Map::new();
    let ty = id.get("type").and_then(Value::as_str).unwrap_or("none");
    out.insert("type".into(), Value::String(snake_to_pascal(ty)));
    if let Some(list) = id.get("user_assigned_identities").and_then(Value::as_array) {
        let mut m = Map::new();
        for u in list {
            if let Some(r) = u.get("resource_id").and_then(Value::as_str) {
                m.insert(r.to_string(), json!({}));
            }
        }
        out.insert("userAssignedIdentities".into(), Value::Object(m));
    }
    Value::Object(out)
}

/// `description`, `location`, `tags` (without the ownership tag) and `identity` of a live resource.
pub(super) fn envelope_from_arm(r: &Reader, spec: &mut Map<String, Value>) {
    put(spec, "description", r.str("properties.description"));
    put(spec, "location", r.str("location"));
    if let Some(tags) = r.at("tags").and_then(Value::as_object) {
        let mut t: Map<String, Value> = tags
            .iter()
            .filter(|(k, _)| k.as_str() != OWNERSHIP_TAG)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        t.sort_keys();
        spec.insert("tags".into(), Value::Object(t));
    }
    if let Some(id) = r.at("identity")
        && let Some(ty) = id.get("type").and_then(Value::as_str)
    {
        let mut o = Map::new();
        o.insert("type".into(), Value::String(pascal_to_snake(ty)));
        if let Some(u) = id.get("userAssignedIdentities").and_then(Value::as_object) {
            let list: Vec<Value> = u.keys().map(|k| json!({"resource_id": k})).collect();
            o.insert("user_assigned_identities".into(), Value::Array(list));
        }
        spec.insert("identity".into(), Value::Object(o));
    }
}

/// `properties.resourceId` of an attachment, from `resource_id`.
pub(super) fn resource_id_to_arm(b: &Builder, outer: &mut Map<String, Value>) {
    put(outer, "resourceId", b.str("resource_id").map(Value::String));
}

/// `resource_id` of an attachment (or of a compute of an unknown type).
pub(super) fn resource_id_from_arm(r: &Reader, spec: &mut Map<String, Value>) {
    put(spec, "resource_id", r.str("properties.resourceId"));
}
