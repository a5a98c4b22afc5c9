//! Request validation against the spec's JSON schemas (2025-12-01 `ComputeResource` and the
//! `Compute` subtype named by `computeType`), compiled once from the embedded spec files.

use std::collections::HashMap;
use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::{Map, Value, json};

use crate::error::ApiError;

const SPEC: &str = include_str!("../spec/2025-12-01/machineLearningServices.json");
const TYPES: &str = include_str!("../spec/common-types/resource-management/v3/types.json");
const IDENTITY: &str =
    include_str!("../spec/common-types/resource-management/v3/managedidentity.json");

struct Schemas {
    resource: Validator,
    subtypes: HashMap<String, Validator>,
}

static SCHEMAS: OnceLock<Option<Schemas>> = OnceLock::new();

/// Rewrites cross-file `$ref`s to local ones and Swagger `x-nullable` to "or null", and drops
/// `enum` (every enum here is `modelAsString`, compared case-insensitively by
/// `compute::validate_enums` where the service enforces it).
fn rewrite(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.get("enum").is_some_and(Value::is_array) {
                m.remove("enum");
            }
            if let Some(Value::String(r)) = m.get_mut("$ref")
                && let Some(i) = r.find("#/definitions/")
            {
                *r = r[i..].to_string();
            }
            for child in m.values_mut() {
                rewrite(child);
            }
            if m.get("x-nullable") == Some(&Value::Bool(true)) {
                let mut inner = m.clone();
                inner.remove("x-nullable");
                m.clear();
                m.insert(
                    "anyOf".into(),
                    json!([{"type": "null"}, Value::Object(inner)]),
                );
            }
        }
        Value::Array(a) => a.iter_mut().for_each(rewrite),
        _ => {}
    }
}

fn build() -> Option<Schemas> {
    let mut defs = Map::new();
    for text in [SPEC, TYPES, IDENTITY] {
        let v: Value = serde_json::from_str(text).ok()?;
        for (k, d) in v.get("definitions")?.as_object()? {
            defs.insert(k.clone(), d.clone());
        }
    }
    let mut all = Value::Object(defs);
    rewrite(&mut all);
    let compile = |def: &str| {
        let schema =
            json!({"definitions": all, "allOf": [{"$ref": format!("#/definitions/{def}")}]});
        jsonschema::draft4::new(&schema).ok()
    };
    let resource = compile("ComputeResource")?;
    let mut subtypes = HashMap::new();
    for (name, d) in all.as_object()? {
        let is_compute = d["allOf"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["$ref"] == "#/definitions/Compute"));
        if is_compute {
            let disc = d["x-ms-discriminator-value"]
                .as_str()
                .unwrap_or(name)
                .to_string();
            subtypes.insert(disc, compile(name)?);
        }
    }
    Some(Schemas { resource, subtypes })
}

/// Removes `null` members (clients send them for "unset"; the schemas do not allow them).
fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, c)| !c.is_null())
                .map(|(k, c)| (k.clone(), without_nulls(c)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// Validates a PUT body. Error messages name the location only, never the offending value
/// (it may be a secret).
pub(crate) fn validate_put(body: &Value, compute_type: &str) -> Result<(), ApiError> {
    if compute_type == "Batch" {
        // The legacy 2020-02-02 shape is not in the 2025-12-01 spec.
        return Ok(());
    }
    let Some(schemas) = SCHEMAS.get_or_init(build) else {
        tracing::warn!("spec schemas unavailable; request validation skipped");
        return Ok(());
    };
    let body = without_nulls(body);
    let mut errors: Vec<String> = schemas
        .resource
        .iter_errors(&body)
        .map(|e| e.instance_path().to_string())
        .collect();
    if let Some(v) = schemas.subtypes.get(compute_type) {
        errors.extend(
            v.iter_errors(&body["properties"])
                .map(|e| format!("/properties{}", e.instance_path())),
        );
    }
    match errors.first() {
        None => Ok(()),
        Some(path) => {
            let target = path.trim_start_matches('/').replace('/', ".");
            Err(ApiError::bad_request(
                "InvalidRequestContent",
                format!(
                    "The request content is invalid: the value at '{}' does not match the schema of ComputeResource ({} problem(s)).",
                    if target.is_empty() { "(root)" } else { &target },
                    errors.len()
                ),
            )
            .target(target))
        }
    }
}

/// The names the 2025-12-01 spec defines for `properties.properties` of a compute type
/// (`None` when the spec has no such definition). Realistic responses drop other names.
pub(crate) fn known_properties(compute_type: &str) -> Option<Vec<String>> {
    static KNOWN: OnceLock<HashMap<String, Vec<String>>> = OnceLock::new();
    KNOWN
        .get_or_init(|| {
            let mut out = HashMap::new();
            let Ok(spec) = serde_json::from_str::<Value>(SPEC) else {
                return out;
            };
            let defs = &spec["definitions"];
            let resolve = |v: &Value| -> Value {
                match v.get("$ref").and_then(Value::as_str) {
                    Some(r) => r
                        .rsplit('/')
                        .next()
                        .map(|name| defs[name].clone())
                        .unwrap_or(Value::Null),
                    None => v.clone(),
                }
            };
            for t in crate::compute::COMPUTE_TYPES {
                let schema = if t == "SynapseSpark" {
                    defs[t].clone()
                } else {
                    defs[format!("{t}Schema").as_str()].clone()
                };
                let inner = resolve(&schema["properties"]["properties"]);
                if let Some(m) = inner["properties"].as_object() {
                    out.insert(t.to_string(), m.keys().cloned().collect());
                }
            }
            out
        })
        .get(compute_type)
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_types_without_echoing_values() {
        let ok = json!({"location": "eastus", "properties": {"computeType": "AmlCompute", "properties": {"vmSize": "x", "scaleSettings": {"maxNodeCount": 2}, "subnet": null}}});
        assert!(validate_put(&ok, "AmlCompute").is_ok());
        let bad = json!({"location": "eastus", "properties": {"computeType": "AmlCompute", "properties": {"userAccountCredentials": {"adminUserName": "u", "adminUserPassword": 12345678}}}});
        let e = validate_put(&bad, "AmlCompute").unwrap_err();
        assert!(
            e.message.contains("userAccountCredentials"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("12345678"));
        let bad_env = json!({"location": 3, "properties": {"computeType": "DataFactory"}});
        assert!(validate_put(&bad_env, "DataFactory").is_err());
    }
}
