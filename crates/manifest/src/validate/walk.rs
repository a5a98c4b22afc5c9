//! The walk of a YAML mapping against a key table: types, ranges, enum values, secrets.

use serde_json::{Map, Value};

use crate::codec::norm_enum;
use crate::diag::did_you_mean;
use crate::fields::{self, Field, Kind as FKind};
use crate::model::{LiteralSecret, REDACTED, SecretRef, SecretString};
use crate::yaml::{Kind, Node};

use super::{Ctx, join, show};

/// Walks a mapping against `fields`. Returns the canonical object (only written keys).
pub(crate) fn walk_obj(
    ctx: &mut Ctx,
    node: &Node,
    fields: &[Field],
    path: &str,
    extra_ok: &[&str],
) -> Option<Map<String, Value>> {
    let Kind::Map(entries) = &node.kind else {
        ctx.err(
            node,
            path,
            format!(
                "`{}` must be a mapping, found {}",
                if path.is_empty() { "document" } else { path },
                node.type_name()
            ),
            None,
        );
        return None;
    };
    let mut out = Map::new();
    let mut ok = true;
    for (k, v) in entries {
        let Some(key) = k.as_str() else {
            ctx.err(
                k,
                path,
                format!("keys must be strings, found {}", show(k)),
                None,
            );
            ok = false;
            continue;
        };
        if extra_ok.contains(&key) {
            continue;
        }
        let dotted = join(path, key);
        let Some(field) = fields.iter().find(|f| f.name == key) else {
            let names = fields
                .iter()
                .map(|f| f.name)
                .chain(extra_ok.iter().copied());
            let hint =
                did_you_mean(key, names).map(|s| format!("did you mean `{}`?", join(path, s)));
            let hint = hint.or_else(|| {
                Some(format!(
                    "allowed keys here: {}",
                    fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
                ))
            });
            ctx.err(k, &dotted, format!("unknown key `{dotted}`"), hint);
            ok = false;
            continue;
        };
        ctx.key_locations.insert(dotted.clone(), k.loc(ctx.file));
        if matches!(v.kind, Kind::Null) {
            continue;
        }
        match walk_value(ctx, v, field, &dotted) {
            Some(val) => {
                out.insert(key.to_string(), val);
            }
            None => ok = false,
        }
    }
    for f in fields.iter().filter(|f| f.required) {
        if !out.contains_key(f.name) && ok {
            let dotted = join(path, f.name);
            ctx.err(
                node,
                &dotted,
                format!("missing required key `{dotted}`"),
                Some(format!("`{}`: {}", f.name, f.doc)),
            );
        }
    }
    ok.then_some(out)
}

pub(super) fn expect(
    ctx: &mut Ctx,
    node: &Node,
    key: &str,
    what: &str,
    hint: Option<String>,
) -> Option<Value> {
    ctx.err(
        node,
        key,
        format!("`{key}` must be {what}, found {}", node.type_name()),
        hint,
    );
    None
}

/// One value against its field row: the kind decides which reader checks and converts it.
pub(super) fn walk_value(ctx: &mut Ctx, node: &Node, field: &Field, key: &str) -> Option<Value> {
    match field.kind {
        FKind::Str => str_value(ctx, node, key),
        FKind::Int { min, max } => int_value(ctx, node, key, min, max),
        FKind::Bool => match &node.kind {
            Kind::Bool(b) => Some(Value::Bool(*b)),
            _ => expect(ctx, node, key, "a boolean (true or false)", None),
        },
        FKind::Enum { values, camel } => enum_value(ctx, node, key, values, camel),
        FKind::Secret => parse_secret(ctx, node, key, false),
        FKind::SecretFile => parse_secret(ctx, node, key, true),
        FKind::StrMap => str_map(ctx, node, key),
        FKind::EnvMap => env_map(ctx, node, key),
        FKind::FreeMap => free_map(ctx, node, key),
        FKind::Obj(sub) => walk_obj(ctx, node, sub, key, &[]).map(Value::Object),
        FKind::ObjList(sub) => obj_list(ctx, node, key, sub),
        FKind::IntList { min, max } => int_list(ctx, node, key, min, max),
        FKind::EnumList(values) => enum_list(ctx, node, key, values),
    }
}

/// A string key: other scalars are errors with a hint to quote them.
fn str_value(ctx: &mut Ctx, node: &Node, key: &str) -> Option<Value> {
    match &node.kind {
        Kind::Str(s) => Some(Value::String(s.clone())),
        Kind::Int(_) | Kind::Bool(_) | Kind::Float(_) => expect(
            ctx,
            node,
            key,
            "a string",
            Some(format!(
                "quote it: {key}: \"{}\"",
                show(node).trim_matches('\'')
            )),
        ),
        _ => expect(ctx, node, key, "a string", None),
    }
}

/// An integer key within `min..=max`; a duration string gets a hint in the key's unit.
fn int_value(ctx: &mut Ctx, node: &Node, key: &str, min: i64, max: i64) -> Option<Value> {
    match &node.kind {
        Kind::Int(i) if (min..=max).contains(i) => Some(Value::from(*i)),
        Kind::Int(i) => {
            ctx.err(
                node,
                key,
                format!("`{key}` must be between {min} and {max}, found {i}"),
                None,
            );
            None
        }
        Kind::Float(f) if f.fract() == 0.0 => {
            ctx.err(
                node,
                key,
                format!("`{key}` must be between {min} and {max}, found {f}"),
                None,
            );
            None
        }
        Kind::Str(text) => {
            let leaf = key.rsplit('.').next().unwrap_or(key);
            let secs = crate::codec::parse_iso_duration(text);
            let hint = match secs {
                Some(s) if leaf.ends_with("_minutes") => Some(format!(
                    "the value is in minutes: write `{leaf}: {}`",
                    s / 60
                )),
                Some(s) if leaf == "idle_time_before_scale_down" => {
                    Some(format!("the value is in seconds: write `{leaf}: {s}`"))
                }
                _ => None,
            };
            let what = match leaf {
                "idle_time_before_scale_down" => "a whole number of seconds",
                l if l.ends_with("_minutes") => "a whole number of minutes",
                _ => "an integer",
            };
            expect(ctx, node, key, what, hint)
        }
        _ => expect(ctx, node, key, "an integer", None),
    }
}

/// A mapping of string to string (tags).
fn str_map(ctx: &mut Ctx, node: &Node, key: &str) -> Option<Value> {
    let Kind::Map(entries) = &node.kind else {
        return expect(ctx, node, key, "a mapping of strings", None);
    };
    let mut out = Map::new();
    let mut ok = true;
    for (k, v) in entries {
        match (&k.kind, &v.kind) {
            (Kind::Str(ks), Kind::Str(vs)) => {
                out.insert(ks.clone(), Value::String(vs.clone()));
            }
            (Kind::Str(ks), _) => {
                ctx.err(
                    v,
                    &join(key, ks),
                    format!(
                        "`{}` must be a string, found {}",
                        join(key, ks),
                        v.type_name()
                    ),
                    Some("quote the value".into()),
                );
                ok = false;
            }
            _ => {
                ctx.err(k, key, format!("keys of `{key}` must be strings"), None);
                ok = false;
            }
        }
    }
    ok.then_some(Value::Object(out))
}

/// A mapping of names to scalars, every value kept as a string (environment variables).
fn env_map(ctx: &mut Ctx, node: &Node, key: &str) -> Option<Value> {
    let Kind::Map(entries) = &node.kind else {
        return expect(ctx, node, key, "a mapping", None);
    };
    let mut out = Map::new();
    let mut ok = true;
    for (k, v) in entries {
        let val = match &v.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Int(i) => Some(i.to_string()),
            Kind::Bool(b) => Some(b.to_string()),
            Kind::Float(f) => Some(f.to_string()),
            _ => None,
        };
        match (k.as_str(), val) {
            (Some(ks), Some(vs)) => {
                out.insert(ks.to_string(), Value::String(vs));
            }
            _ => {
                ctx.err(
                    v,
                    key,
                    format!("`{key}` must map names to scalar values"),
                    None,
                );
                ok = false;
            }
        }
    }
    ok.then_some(Value::Object(out))
}

/// A mapping of names to scalars; secret-named properties are parsed as secrets.
fn free_map(ctx: &mut Ctx, node: &Node, key: &str) -> Option<Value> {
    let Kind::Map(entries) = &node.kind else {
        return expect(ctx, node, key, "a mapping", None);
    };
    let mut out = Map::new();
    let mut ok = true;
    for (k, v) in entries {
        let Some(ks) = k.as_str() else {
            ctx.err(k, key, format!("keys of `{key}` must be strings"), None);
            ok = false;
            continue;
        };
        let dotted = join(key, ks);
        ctx.key_locations.insert(dotted.clone(), k.loc(ctx.file));
        if fields::is_secret_property(ks) {
            match parse_secret(ctx, v, &dotted, false) {
                Some(val) => {
                    out.insert(ks.to_string(), val);
                }
                None => ok = false,
            }
            continue;
        }
        let val = match &v.kind {
            Kind::Str(s) => Value::String(s.clone()),
            Kind::Int(i) => Value::from(*i),
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Kind::Null => Value::Null,
            _ => {
                ctx.err(v, &dotted, format!("`{dotted}` must be a scalar"), None);
                ok = false;
                continue;
            }
        };
        out.insert(ks.to_string(), val);
    }
    ok.then_some(Value::Object(out))
}

/// A list of objects, each walked against `sub`.
fn obj_list(ctx: &mut Ctx, node: &Node, key: &str, sub: &[Field]) -> Option<Value> {
    let Kind::Seq(items) = &node.kind else {
        return expect(ctx, node, key, "a list", None);
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match walk_obj(ctx, item, sub, &format!("{key}[{i}]"), &[]) {
            Some(o) => out.push(Value::Object(o)),
            None => ok = false,
        }
    }
    ok.then_some(Value::Array(out))
}

/// A list of integers within `min..=max`.
fn int_list(ctx: &mut Ctx, node: &Node, key: &str, min: i64, max: i64) -> Option<Value> {
    let Kind::Seq(items) = &node.kind else {
        return expect(ctx, node, key, "a list of integers", None);
    };
    let mut out = Vec::new();
    let mut ok = true;
    for item in items {
        match &item.kind {
            Kind::Int(i) if (min..=max).contains(i) => out.push(Value::from(*i)),
            _ => {
                ctx.err(
                    item,
                    key,
                    format!(
                        "`{key}` items must be integers from {min} to {max}, found {}",
                        show(item)
                    ),
                    None,
                );
                ok = false;
            }
        }
    }
    ok.then_some(Value::Array(out))
}

/// A list of values of one enum.
fn enum_list(ctx: &mut Ctx, node: &Node, key: &str, values: &[&str]) -> Option<Value> {
    let Kind::Seq(items) = &node.kind else {
        return expect(ctx, node, key, "a list", None);
    };
    let mut out = Vec::new();
    let mut ok = true;
    for item in items {
        match enum_value(ctx, item, key, values, false) {
            Some(v) => out.push(v),
            None => ok = false,
        }
    }
    ok.then_some(Value::Array(out))
}

pub(super) fn enum_value(
    ctx: &mut Ctx,
    node: &Node,
    key: &str,
    values: &[&str],
    camel: bool,
) -> Option<Value> {
    let Kind::Str(s) = &node.kind else {
        return expect(
            ctx,
            node,
            key,
            &format!("one of {}", values.join(", ")),
            None,
        );
    };
    let n = norm_enum(s, camel);
    if let Some(v) = values.iter().find(|v| **v == n) {
        return Some(Value::String((*v).to_string()));
    }
    let mut hint = format!("allowed values: {}", values.join(", "));
    if let Some(m) = did_you_mean(s, values.iter().copied()) {
        hint = format!("did you mean `{m}`? {hint}");
    }
    ctx.err(
        node,
        key,
        format!("invalid value {} for `{key}`", show(node)),
        Some(hint),
    );
    None
}

/// Parses a secret field: a reference map or a literal. Returns the [`REDACTED`] placeholder.
pub(super) fn parse_secret(
    ctx: &mut Ctx,
    node: &Node,
    key: &str,
    file_path: bool,
) -> Option<Value> {
    let forms = "{ env: NAME }, { file: path } or { key_vault: https://<vault>.vault.azure.net/secrets/<name> }";
    let r = match &node.kind {
        Kind::Str(s) if file_path => SecretRef::File(ctx.base_dir.join(s)),
        Kind::Str(s) => {
            let msg = format!("literal secret in `{key}`");
            let hint = Some(format!("keep secrets out of Git: use {forms}"));
            if ctx.strict {
                ctx.err(node, key, format!("{msg} (rejected by --strict)"), hint);
            } else {
                ctx.warn(node, key, msg, hint);
            }
            SecretRef::Literal(LiteralSecret {
                location: node.loc(ctx.file),
                key: key.to_string(),
                value: SecretString::new(s.clone()),
            })
        }
        Kind::Map(entries) if entries.len() == 1 => {
            let (k, v) = &entries[0];
            let name = k.as_str().unwrap_or("");
            let Some(val) = v.as_str() else {
                ctx.err(v, key, format!("`{key}.{name}` must be a string"), None);
                return None;
            };
            match name {
                "env" => {
                    if val.is_empty() || val.contains('=') || val.contains('\0') {
                        ctx.err(
                            v,
                            key,
                            format!("`{key}.env` must be an environment variable name"),
                            None,
                        );
                        return None;
                    }
                    SecretRef::Env(val.to_string())
                }
                "file" => SecretRef::File(ctx.base_dir.join(val)),
                "key_vault" => {
                    if let Err(why) = crate::endpoints::check_key_vault_url(val) {
                        ctx.err(
                            v,
                            key,
                            format!("`{key}`: {why}"),
                            Some(
                                "write https://<vault>.vault.azure.net/secrets/<name>[/<version>] (usgov: .vault.usgovcloudapi.net, china: .vault.azure.cn); tests and emulators redirect vault requests with --key-vault-endpoint URL or AMLCTL_KEY_VAULT_ENDPOINT".into(),
                            ),
                        );
                        return None;
                    }
                    SecretRef::KeyVault(val.to_string())
                }
                other => {
                    let hint = did_you_mean(other, ["env", "file", "key_vault"])
                        .map(|m| format!("did you mean `{m}`? use {forms}"))
                        .unwrap_or_else(|| format!("use {forms}"));
                    ctx.err(
                        k,
                        key,
                        format!("unknown secret reference `{other}` in `{key}`"),
                        Some(hint),
                    );
                    return None;
                }
            }
        }
        _ => {
            ctx.err(
                node,
                key,
                format!("`{key}` must be a secret reference or a string"),
                Some(format!("use {forms}")),
            );
            return None;
        }
    };
    ctx.secrets.insert(key.to_string(), r);
    Some(Value::String(REDACTED.to_string()))
}
