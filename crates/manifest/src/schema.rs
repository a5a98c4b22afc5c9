//! JSON Schemas (draft 2020-12) for compute manifests and `amlctl.yaml`, and the Markdown key
//! reference, all generated from the key table in [`crate::fields`] so they cannot drift from
//! the validator. The values are [`schemars::Schema`] documents returned as JSON.

use serde_json::{Map, Value, json};

use crate::fields::{self, Field, Kind, Policy};
use crate::model::ComputeType;

const NAME_PATTERN: &str = r"^[a-zA-Z](?![a-zA-Z0-9-]*-\d+$)[a-zA-Z0-9\-]{2,23}$";

fn pascal(s: &str) -> String {
    s.split(',')
        .map(|p| {
            p.split('_')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn kind_schema(k: &Kind) -> Value {
    match k {
        Kind::Str => json!({"type": "string"}),
        Kind::Int { min, max } => json!({"type": "integer", "minimum": min, "maximum": max}),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::Enum { values, camel } => {
            let mut v: Vec<String> = values.iter().map(|s| s.to_string()).collect();
            if *camel {
                v.extend(values.iter().map(|s| pascal(s)));
            } else {
                v.extend(values.iter().map(|s| {
                    let mut c = s.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                }));
            }
            v.dedup();
            json!({"type": "string", "enum": v})
        }
        Kind::Secret => json!({"$ref": "#/$defs/secret"}),
        Kind::SecretFile => json!({"$ref": "#/$defs/secretFile"}),
        Kind::StrMap => json!({"type": "object", "additionalProperties": {"type": "string"}}),
        Kind::EnvMap => {
            json!({"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}})
        }
        Kind::FreeMap => json!({"type": "object", "additionalProperties": {
            "anyOf": [{"type": ["string", "number", "boolean", "null"]}, {"$ref": "#/$defs/secretRef"}]
        }}),
        Kind::Obj(f) => obj_schema(f, &[]),
        Kind::ObjList(f) => json!({"type": "array", "items": obj_schema(f, &[])}),
        Kind::IntList { min, max } => {
            json!({"type": "array", "items": {"type": "integer", "minimum": min, "maximum": max}})
        }
        Kind::EnumList(values) => {
            json!({"type": "array", "items": {"type": "string", "enum": values}})
        }
    }
}

fn obj_schema(fields: &[Field], extra: &[(&str, Value)]) -> Value {
    let mut props = Map::new();
    for (k, v) in extra {
        props.insert((*k).to_string(), v.clone());
    }
    let mut required: Vec<&str> = Vec::new();
    for f in fields {
        let mut s = kind_schema(&f.kind);
        if let Value::Object(o) = &mut s {
            o.insert("description".into(), Value::String(f.doc.into()));
        }
        props.insert(f.name.into(), s);
        if f.required {
            required.push(f.name);
        }
    }
    let mut o = json!({"type": "object", "properties": props, "additionalProperties": false});
    if !required.is_empty()
        && let Value::Object(m) = &mut o
    {
        m.insert("required".into(), json!(required));
    }
    o
}

fn secret_defs() -> Value {
    json!({
        "secretRef": {
            "description": "Where a secret comes from; the value never sits in the manifest.",
            "oneOf": [
                {"type": "object", "properties": {"env": {"type": "string", "minLength": 1}}, "required": ["env"], "additionalProperties": false},
                {"type": "object", "properties": {"file": {"type": "string"}}, "required": ["file"], "additionalProperties": false},
                {"type": "object", "properties": {"key_vault": {"type": "string", "pattern": KEY_VAULT_PATTERN}}, "required": ["key_vault"], "additionalProperties": false}
            ]
        },
        "secret": {
            "description": "A secret reference, or a literal string (warned; rejected by --strict).",
            "anyOf": [{"$ref": "#/$defs/secretRef"}, {"type": "string"}]
        },
        "secretFile": {
            "description": "Path of a file whose contents are the secret, or a secret reference.",
            "anyOf": [{"$ref": "#/$defs/secretRef"}, {"type": "string"}]
        },
        "lifecycle": {
            "type": "object",
            "properties": {
                "prevent_destroy": {"type": "boolean", "description": "refuse plans that delete, detach or replace this target"},
                "ignore_changes": {"type": "array", "items": {"type": "string"}, "description": "dotted key paths whose drift is ignored"},
                "allow_replace": {"type": "boolean", "description": "allow replace without --replace NAME"}
            },
            "additionalProperties": false
        }
    })
}

fn type_schema(t: ComputeType) -> Value {
    let mut extra = vec![
        ("$schema", json!({"type": "string"})),
        (
            "name",
            json!({"type": "string", "pattern": NAME_PATTERN, "description": "compute name (unique per workspace)"}),
        ),
        (
            "type",
            json!({"type": "string", "enum": [t.manifest_name(), t.arm_name()], "description": "compute type"}),
        ),
        (
            "workspace",
            json!({"type": "string", "description": "workspace alias from amlctl.yaml"}),
        ),
        ("lifecycle", json!({"$ref": "#/$defs/lifecycle"})),
    ];
    if t == ComputeType::ComputeInstance {
        extra.push((
            "state",
            json!({"type": "string", "enum": ["running", "stopped", "Running", "Stopped"], "description": "desired power state"}),
        ));
    }
    if t == ComputeType::Batch {
        extra.push((
            "acknowledge_legacy",
            json!({"type": "boolean", "description": "silence the legacy-shape warning of `batch`"}),
        ));
    }
    let mut s = obj_schema(fields::fields_of(t), &extra);
    if let Value::Object(m) = &mut s {
        let mut req = vec![json!("name"), json!("type")];
        if let Some(Value::Array(r)) = m.remove("required") {
            req.extend(r);
        }
        m.insert("required".into(), Value::Array(req));
        m.insert(
            "title".into(),
            Value::String(format!("type: {}", t.manifest_name())),
        );
    }
    s
}

fn finish(v: Value) -> Value {
    // Round-trip through schemars' Schema type: it checks the value is a valid schema object.
    match schemars::Schema::try_from(v.clone()) {
        Ok(s) => s.to_value(),
        Err(_) => v,
    }
}

/// JSON Schema of a compute manifest: a `oneOf` over the compute types, discriminated by `type`.
pub fn compute_schema() -> Value {
    let one_of: Vec<Value> = ComputeType::ALL.iter().map(|t| type_schema(*t)).collect();
    finish(json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/amlctl/amlctl/schemas/compute.schema.json",
        "title": "amlctl compute manifest",
        "description": "An az ml CLI v2 compute YAML plus amlctl extension keys (workspace, lifecycle, state, secret references).",
        "oneOf": one_of,
        "$defs": secret_defs()
    }))
}

/// A Key Vault secret URL of one of the clouds (the loader also checks it is the selected cloud's).
const KEY_VAULT_PATTERN: &str = "^[Hh][Tt][Tt][Pp][Ss]://[A-Za-z][A-Za-z0-9-]{2,23}\\.[Vv][Aa][Uu][Ll][Tt]\\.(azure\\.net|usgovcloudapi\\.net|azure\\.cn)(:443)?/secrets/[A-Za-z0-9-]{1,127}(/[A-Za-z0-9]{1,64})?$";

/// JSON Schema of `amlctl.yaml`.
pub fn config_schema() -> Value {
    let mut ws = obj_schema(crate::project::workspace_fields(), &[]);
    if let Some(sub) = ws.pointer_mut("/properties/subscription_id") {
        sub["pattern"] =
            json!("^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$");
    }
    let mut defaults = obj_schema(crate::project::defaults_fields(), &[]);
    if let Some(ep) = defaults.pointer_mut("/properties/arm_endpoint") {
        ep["enum"] = json!([
            "https://management.azure.com",
            "https://management.usgovcloudapi.net",
            "https://management.chinacloudapi.cn"
        ]);
    }
    finish(json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/amlctl/amlctl/schemas/amlctl.schema.json",
        "title": "amlctl.yaml",
        "type": "object",
        "properties": {
            "$schema": {"type": "string"},
            "workspaces": {"type": "object", "description": "workspace alias → workspace", "additionalProperties": ws, "minProperties": 1},
            "default_workspace": {"type": "string", "description": "alias used when no workspace key or folder mapping applies"},
            "manifests": {"type": "array", "items": {"type": "string"}, "description": "folders or globs holding manifests, relative to amlctl.yaml (default: .)"},
            "folders": {"type": "object", "additionalProperties": {"type": "string"}, "description": "folder (relative to amlctl.yaml) → workspace alias; longest match wins"},
            "defaults": defaults
        },
        "required": ["workspaces"],
        "additionalProperties": false
    }))
}

fn kind_name(k: &Kind) -> String {
    match k {
        Kind::Str => "string".into(),
        Kind::Int { min, max } => format!("int {min}–{max}"),
        Kind::Bool => "bool".into(),
        Kind::Enum { values, .. } => values.join(" \\| "),
        Kind::Secret => "secret ref".into(),
        Kind::SecretFile => "path (secret file) or secret ref".into(),
        Kind::StrMap => "map string→string".into(),
        Kind::FreeMap => "map".into(),
        Kind::EnvMap => "map".into(),
        Kind::Obj(_) => "object".into(),
        Kind::ObjList(_) => "list of objects".into(),
        Kind::IntList { min, max } => format!("list of int {min}–{max}"),
        Kind::EnumList(v) => format!("list of {}", v.join(" \\| ")),
    }
}

/// The words of the reference's policy column (empty: as the key above, or not applicable).
fn policy_phrase(p: Policy) -> &'static str {
    match p {
        Policy::InPlacePatch => "in place (PATCH)",
        Policy::InPlacePut => "in place (PUT)",
        Policy::Replace => "replace",
        Policy::WriteOnlySecret => "write-only secret (change needs --replace)",
        Policy::CreateOnly | Policy::Ignored => "",
    }
}

fn rows(fields: &[Field], prefix: &str, inherit_policy: &str, out: &mut String) {
    for f in fields {
        let key = if prefix.is_empty() {
            f.name.to_string()
        } else {
            format!("{prefix}.{}", f.name)
        };
        let policy = f.update.map_or(inherit_policy, |u| policy_phrase(u.policy));
        let policy = if matches!(f.kind, Kind::Secret | Kind::SecretFile) {
            "write-only secret (change needs --replace)"
        } else {
            policy
        };
        out.push_str(&format!(
            "| `{key}`{} | {} | {} | {} | {} | {} |\n",
            if f.required { " *(required)*" } else { "" },
            kind_name(&f.kind),
            if f.default.is_empty() { "" } else { f.default },
            if f.arm.is_empty() { "" } else { f.arm },
            policy,
            f.doc.replace('|', "\\|"),
        ));
        match &f.kind {
            Kind::Obj(sub) => rows(sub, &key, policy, out),
            Kind::ObjList(sub) => rows(sub, &format!("{key}[]"), policy, out),
            _ => {}
        }
    }
}

/// The per-type key tables of `docs/manifest-reference.md` (generated; see the schema test).
pub fn reference_markdown() -> String {
    let mut s = String::from(
        "<!-- Generated from crates/manifest/src/fields.rs: UPDATE_SCHEMAS=1 cargo test -p amlctl-manifest schema -->\n",
    );
    for t in ComputeType::ALL {
        s.push_str(&format!(
            "\n### `type: {}` → `{}` (api-version {})\n\n",
            t.manifest_name(),
            t.arm_name(),
            t.api_version()
        ));
        let limited: Vec<String> = fields::fields_of(t)
            .iter()
            .filter_map(|f| {
                f.api_versions
                    .map(|a| format!("`{}` ({})", f.name, a.versions.join(", ")))
            })
            .collect();
        if !limited.is_empty() {
            s.push_str(&format!(
                "Keys not every api-version defines: {}. A manifest that writes one is sent at the \
newest stable api-version that defines all it writes; a key only a preview defines is a `validate` \
error.\n\n",
                limited.join("; ")
            ));
        }
        s.push_str("| key | type | default | ARM field | change policy | description |\n|---|---|---|---|---|---|\n");
        rows(fields::fields_of(t), "", "", &mut s);
    }
    s
}
