//! Validation of one manifest document: walks the located YAML tree against the key table
//! ([`crate::fields`]) and produces the canonical spec, secrets and diagnostics.
//!
//! Here: the envelope (`name`, `type`, `workspace`, `state`, `lifecycle`) and the workspace fold
//! of `network_settings`; `walk` reads keys against the table (one reader per key kind, secrets);
//! `post` holds the cross-field checks of each compute type; `name` the compute name rule.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::diag::{Diagnostic, did_you_mean};
use crate::fields::{self, ENVELOPE, LIFECYCLE};
use crate::model::{ComputeType, DesiredState, Lifecycle, SecretRef, SourceLocation, Workspace};
use crate::yaml::{Kind, Node};

mod name;
mod post;
mod walk;

pub use name::check_compute_name;
use post::post_checks;
pub(crate) use walk::walk_obj;

/// Walk state for one document.
pub(crate) struct Ctx<'a> {
    pub file: &'a Path,
    /// Folder relative paths (`{file: …}`, `ssh_private_key_file`) are resolved against.
    pub base_dir: PathBuf,
    pub strict: bool,
    pub diags: Vec<Diagnostic>,
    pub secrets: BTreeMap<String, SecretRef>,
    pub key_locations: BTreeMap<String, SourceLocation>,
}

impl<'a> Ctx<'a> {
    pub fn new(file: &'a Path, strict: bool) -> Self {
        let base_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        Ctx {
            file,
            base_dir,
            strict,
            diags: Vec::new(),
            secrets: BTreeMap::new(),
            key_locations: BTreeMap::new(),
        }
    }

    pub fn err(&mut self, node: &Node, key: &str, msg: String, hint: Option<String>) {
        let mut d = Diagnostic::error(Some(node.loc(self.file)), opt_key(key), msg);
        d.hint = hint;
        self.diags.push(d);
    }

    pub fn warn(&mut self, node: &Node, key: &str, msg: String, hint: Option<String>) {
        let mut d = Diagnostic::warning(Some(node.loc(self.file)), opt_key(key), msg);
        d.hint = hint;
        self.diags.push(d);
    }

    pub fn has_errors(&self) -> bool {
        self.diags.iter().any(Diagnostic::is_error)
    }
}

fn opt_key(k: &str) -> Option<String> {
    (!k.is_empty()).then(|| k.to_string())
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Short, secret-free rendering of a scalar for messages (never used on secret fields).
fn show(node: &Node) -> String {
    match &node.kind {
        Kind::Str(s) => {
            let t: String = s.chars().take(60).collect();
            format!("'{t}'")
        }
        Kind::Int(i) => i.to_string(),
        Kind::Bool(b) => b.to_string(),
        Kind::Float(f) => f.to_string(),
        Kind::Null => "null".into(),
        Kind::Seq(_) => "a list".into(),
        Kind::Map(_) => "a mapping".into(),
    }
}

/// A document after validation, before its workspace is known.
pub(crate) struct Partial {
    pub name: String,
    pub name_node: Node,
    pub compute_type: ComputeType,
    pub workspace: Option<(String, Node)>,
    pub spec: Map<String, Value>,
    pub secrets: BTreeMap<String, SecretRef>,
    pub lifecycle: Lifecycle,
    pub state: Option<DesiredState>,
    pub source: SourceLocation,
    pub key_locations: BTreeMap<String, SourceLocation>,
}

/// Validates one document. Diagnostics go to `ctx`; `None` when it has errors.
pub(crate) fn document(ctx: &mut Ctx, doc: &Node) -> Option<Partial> {
    let Kind::Map(_) = &doc.kind else {
        ctx.err(
            doc,
            "",
            format!(
                "a compute manifest must be a mapping, found {}",
                doc.type_name()
            ),
            Some("start with `name:` and `type:`".into()),
        );
        return None;
    };
    let errors_before = ctx.diags.iter().filter(|d| d.is_error()).count();
    let compute_type = compute_type_of(ctx, doc)?;
    let name = name_of(ctx, doc);
    let workspace = workspace_of(ctx, doc);
    let lifecycle = doc
        .get("lifecycle")
        .map(|n| lifecycle(ctx, n, compute_type))
        .unwrap_or_default();
    let state = state_of(ctx, doc, compute_type);
    let compute_type = compute_type?;
    let spec = walk_obj(ctx, doc, fields::fields_of(compute_type), "", ENVELOPE);
    for k in ENVELOPE {
        if let Some((kn, _)) = doc_entry(doc, k) {
            ctx.key_locations.insert((*k).to_string(), kn.loc(ctx.file));
        }
    }
    let mut spec = spec?;
    post_checks(ctx, doc, compute_type, &mut spec);
    let errors_after = ctx.diags.iter().filter(|d| d.is_error()).count();
    let (name, name_node) = name?;
    if errors_after > errors_before {
        return None;
    }
    Some(Partial {
        name,
        name_node,
        compute_type,
        workspace,
        spec,
        secrets: std::mem::take(&mut ctx.secrets),
        lifecycle,
        state,
        source: doc.loc(ctx.file),
        key_locations: std::mem::take(&mut ctx.key_locations),
    })
}

/// The `type:` key. `None` stops validating the document (`type: local` is no compute target);
/// `Some(None)` when the type is missing or unknown (reported to `ctx`).
fn compute_type_of(ctx: &mut Ctx, doc: &Node) -> Option<Option<ComputeType>> {
    let type_node = doc.get("type");
    let compute_type = match type_node {
        None => {
            ctx.err(
                doc,
                "type",
                "missing required key `type`".into(),
                Some(type_list()),
            );
            None
        }
        Some(n) => match n.as_str() {
            Some(s) if s.eq_ignore_ascii_case("local") => {
                ctx.err(
                n,
                "type",
                "local is not a compute target: jobs run on your machine with no ARM object; delete this manifest".into(),
                None,
            );
                return None;
            }
            Some(s) => match ComputeType::from_manifest(s).or_else(|| ComputeType::from_arm(s)) {
                Some(t) => Some(t),
                None => {
                    let mut hint = type_list();
                    if let Some(m) =
                        did_you_mean(s, ComputeType::ALL.iter().map(|t| t.manifest_name()))
                    {
                        hint = format!("did you mean `{m}`? {hint}");
                    }
                    ctx.err(
                        n,
                        "type",
                        format!("unknown compute type {}", show(n)),
                        Some(hint),
                    );
                    None
                }
            },
            None => {
                ctx.err(
                    n,
                    "type",
                    format!("`type` must be a string, found {}", n.type_name()),
                    Some(type_list()),
                );
                None
            }
        },
    };
    Some(compute_type)
}

/// The `name:` key with its node; a name the service would refuse to create is a warning (an
/// error with `--strict`).
fn name_of(ctx: &mut Ctx, doc: &Node) -> Option<(String, Node)> {
    match doc.get("name") {
        None => {
            ctx.err(doc, "name", "missing required key `name`".into(), None);
            None
        }
        Some(n) => match &n.kind {
            Kind::Str(s) => {
                // The service rule binds creates only: a compute that already exists under
                // another name shape (older rules, the portal) is managed as it is, so this is a
                // warning here (an error with --strict) and the planner refuses only a create.
                if let Err(why) = check_compute_name(s) {
                    let msg = format!(
                        "invalid compute name {} for a new compute: {why}; the service refuses to create it (an existing compute of this name is managed as it is)",
                        show(n)
                    );
                    let hint = Some(
                    "a new compute's name is 3 to 24 letters, digits and hyphens, starts with a letter, and does not end in a hyphen followed only by digits (e.g. gpu-cluster, cpu-v2)"
                        .into(),
                );
                    if ctx.strict {
                        ctx.err(n, "name", msg, hint);
                    } else {
                        ctx.warn(n, "name", msg, hint);
                    }
                }
                Some((s.clone(), n.clone()))
            }
            _ => {
                ctx.err(
                    n,
                    "name",
                    format!("`name` must be a string, found {}", n.type_name()),
                    None,
                );
                None
            }
        },
    }
}

/// The optional `workspace:` alias with its node.
fn workspace_of(ctx: &mut Ctx, doc: &Node) -> Option<(String, Node)> {
    match doc.get("workspace") {
        None
        | Some(Node {
            kind: Kind::Null, ..
        }) => None,
        Some(n) => match n.as_str() {
            Some(s) => Some((s.to_string(), n.clone())),
            None => {
                ctx.err(
                    n,
                    "workspace",
                    "`workspace` must be a workspace alias (a string)".into(),
                    None,
                );
                None
            }
        },
    }
}

/// The optional `state:` (running or stopped), valid only for a compute instance.
fn state_of(ctx: &mut Ctx, doc: &Node, compute_type: Option<ComputeType>) -> Option<DesiredState> {
    match doc.get("state") {
        None
        | Some(Node {
            kind: Kind::Null, ..
        }) => None,
        Some(n) => {
            if compute_type.is_some_and(|t| t != ComputeType::ComputeInstance) {
                ctx.err(
                    n,
                    "state",
                    "`state` is only valid for computeinstance".into(),
                    None,
                );
                None
            } else {
                match n.as_str().map(str::to_ascii_lowercase).as_deref() {
                    Some("running") => Some(DesiredState::Running),
                    Some("stopped") => Some(DesiredState::Stopped),
                    _ => {
                        ctx.err(
                            n,
                            "state",
                            format!("invalid value {} for `state`", show(n)),
                            Some("allowed values: running, stopped".into()),
                        );
                        None
                    }
                }
            }
        }
    }
}

fn doc_entry<'n>(doc: &'n Node, key: &str) -> Option<(&'n Node, &'n Node)> {
    match &doc.kind {
        Kind::Map(e) => e
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(k, v)| (k, v)),
        _ => None,
    }
}

fn type_list() -> String {
    format!(
        "allowed types: {}",
        ComputeType::ALL
            .iter()
            .map(|t| t.manifest_name())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn lifecycle(ctx: &mut Ctx, node: &Node, t: Option<ComputeType>) -> Lifecycle {
    let mut lc = Lifecycle::default();
    let Kind::Map(entries) = &node.kind else {
        if !matches!(node.kind, Kind::Null) {
            ctx.err(
                node,
                "lifecycle",
                format!("`lifecycle` must be a mapping, found {}", node.type_name()),
                None,
            );
        }
        return lc;
    };
    for (k, v) in entries {
        let key = k.as_str().unwrap_or("");
        let dotted = format!("lifecycle.{key}");
        match (key, &v.kind) {
            ("prevent_destroy", Kind::Bool(b)) => lc.prevent_destroy = *b,
            ("allow_replace", Kind::Bool(b)) => lc.allow_replace = *b,
            ("prevent_destroy" | "allow_replace", _) => {
                ctx.err(
                    v,
                    &dotted,
                    format!("`{dotted}` must be a boolean, found {}", v.type_name()),
                    None,
                );
            }
            ("ignore_changes", Kind::Seq(items)) => {
                for it in items {
                    match it.as_str() {
                        Some(s) => {
                            let top = s.split(['.', '[']).next().unwrap_or("");
                            if let Some(t) = t {
                                let names = fields::fields_of(t).iter().map(|f| f.name);
                                if !fields::fields_of(t).iter().any(|f| f.name == top) {
                                    let hint = did_you_mean(top, names)
                                        .map(|m| format!("did you mean `{m}`?"))
                                        .or_else(|| {
                                            Some(format!("`{top}` is not a key of type {t}"))
                                        });
                                    ctx.err(
                                        it,
                                        &dotted,
                                        format!(
                                            "`lifecycle.ignore_changes` names unknown key `{s}`"
                                        ),
                                        hint,
                                    );
                                }
                            }
                            lc.ignore_changes.push(s.to_string());
                        }
                        None => ctx.err(
                            it,
                            &dotted,
                            "`lifecycle.ignore_changes` items must be key paths (strings)".into(),
                            None,
                        ),
                    }
                }
            }
            ("ignore_changes", _) => {
                ctx.err(
                    v,
                    &dotted,
                    "`lifecycle.ignore_changes` must be a list of key paths".into(),
                    None,
                );
            }
            _ => {
                let hint = did_you_mean(key, LIFECYCLE.iter().copied())
                    .map(|m| format!("did you mean `lifecycle.{m}`?"))
                    .or_else(|| Some(format!("allowed keys here: {}", LIFECYCLE.join(", "))));
                ctx.err(k, &dotted, format!("unknown key `{dotted}`"), hint);
            }
        }
    }
    lc
}

/// Folds `network_settings` into a full subnet id using the workspace's subscription and group.
pub(crate) fn fold_subnet(
    ctx: &mut Ctx,
    spec: &mut Map<String, Value>,
    ws: &Workspace,
    doc_loc: &SourceLocation,
    key_locations: &BTreeMap<String, SourceLocation>,
) {
    let Some(Value::Object(ns)) = spec.get_mut("network_settings") else {
        return;
    };
    let loc = key_locations
        .get("network_settings")
        .cloned()
        .unwrap_or_else(|| doc_loc.clone());
    let vnet = ns
        .get("vnet_name")
        .and_then(Value::as_str)
        .map(str::to_string);
    let subnet = ns.get("subnet").and_then(Value::as_str).map(str::to_string);
    let err = |ctx: &mut Ctx, msg: &str| {
        ctx.diags.push(
            Diagnostic::error(Some(loc.clone()), Some("network_settings".into()), msg.into())
                .with_hint("write `subnet: <name>` with `vnet_name: <vnet>`, or `subnet: /subscriptions/…/subnets/<name>`"),
        );
    };
    match (vnet, subnet) {
        (_, Some(s)) if s.to_ascii_lowercase().starts_with("/subscriptions/") => {
            ns.remove("vnet_name");
            ns.insert("subnet".into(), Value::String(s));
        }
        (Some(v), Some(s)) => {
            let id = format!(
                "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/virtualNetworks/{}/subnets/{}",
                ws.subscription_id, ws.resource_group, v, s
            );
            ns.remove("vnet_name");
            ns.insert("subnet".into(), Value::String(id));
        }
        (None, Some(_)) => err(
            ctx,
            "`network_settings.subnet` is a name but `vnet_name` is missing",
        ),
        (Some(_), None) => err(ctx, "`network_settings.vnet_name` needs `subnet`"),
        (None, None) => {
            spec.remove("network_settings");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rule() {
        for ok in [
            "abc",
            "cpu-cluster",
            "a1-b",
            "gpu-x1",
            "A23456789012345678901234",
        ] {
            assert!(check_compute_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "1abc",
            "abc_d",
            "cluster-1",
            "a-12",
            "A234567890123456789012345",
            "<x>",
        ] {
            assert!(check_compute_name(bad).is_err(), "{bad}");
        }
        // A trailing '-' alone is allowed by the regex (the lookahead needs \d+).
        assert!(check_compute_name("abc-").is_ok());
    }
}
