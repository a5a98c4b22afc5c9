//! Validation of one manifest document: walks the located YAML tree against the key table
//! ([`crate::fields`]) and produces the canonical spec, secrets and diagnostics.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::diag::{Diagnostic, did_you_mean};
use crate::fields::{self, ENVELOPE, LIFECYCLE};
use crate::model::{ComputeType, DesiredState, Lifecycle, SecretRef, SourceLocation, Workspace};
use crate::yaml::{Kind, Node};

mod name;
mod walk;

pub use name::check_compute_name;
pub(crate) use walk::walk_obj;
use walk::*;

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

fn int_of(spec: &Map<String, Value>, key: &str) -> Option<i64> {
    spec.get(key).and_then(Value::as_i64)
}

fn node_at<'n>(doc: &'n Node, path: &[&str]) -> &'n Node {
    let mut n = doc;
    for p in path {
        match n.get(p) {
            Some(c) => n = c,
            None => return n,
        }
    }
    n
}

/// Cross-field checks and canonicalisation that need no workspace.
fn post_checks(ctx: &mut Ctx, doc: &Node, t: ComputeType, spec: &mut Map<String, Value>) {
    match t {
        ComputeType::AmlCompute => amlcompute_checks(ctx, doc, spec),
        ComputeType::ComputeInstance => {
            idle_shutdown_check(ctx, doc, spec);
            schedule_checks(ctx, doc, spec);
            custom_application_checks(ctx, doc, spec);
        }
        ComputeType::VirtualMachine | ComputeType::HdInsight => ssh_login_checks(ctx, doc, spec),
        ComputeType::Batch => batch_legacy_warning(ctx, doc),
        _ => {}
    }
    acknowledge_legacy_check(ctx, doc, t);
}

/// `amlcompute`: min <= max instances, `resource_id` dropped with a warning, ssh needs a user.
fn amlcompute_checks(ctx: &mut Ctx, doc: &Node, spec: &mut Map<String, Value>) {
    let min = int_of(spec, "min_instances").unwrap_or(0);
    let max = int_of(spec, "max_instances");
    if min > max.unwrap_or(4) {
        let what = match max {
            Some(m) => format!("max_instances ({m})"),
            None => "max_instances (4, the default)".to_string(),
        };
        ctx.err(
            node_at(doc, &["min_instances"]),
            "min_instances",
            format!("min_instances ({min}) is greater than {what}"),
            Some("set min_instances <= max_instances".into()),
        );
    }
    if spec.remove("resource_id").is_some() {
        ctx.warn(
            node_at(doc, &["resource_id"]),
            "resource_id",
            "`resource_id` is ignored for amlcompute (azure-ai-ml does not send it)".into(),
            Some("remove it".into()),
        );
        ctx.key_locations.remove("resource_id");
    }
    if let Some(ssh) = spec.get("ssh_settings").and_then(Value::as_object)
        && !ssh.contains_key("admin_username")
    {
        ctx.err(
            node_at(doc, &["ssh_settings"]),
            "ssh_settings.admin_username",
            "`ssh_settings` needs `admin_username`".into(),
            Some("add admin_username and admin_password or ssh_key_value".into()),
        );
    }
}

/// `virtualmachine`/`hdinsight`: `ssh_settings` needs a password or a private key file.
fn ssh_login_checks(ctx: &mut Ctx, doc: &Node, spec: &Map<String, Value>) {
    if let Some(ssh) = spec.get("ssh_settings").and_then(Value::as_object)
        && !ssh.contains_key("admin_password")
        && !ssh.contains_key("ssh_private_key_file")
    {
        ctx.err(
            node_at(doc, &["ssh_settings"]),
            "ssh_settings",
            "`ssh_settings` needs `admin_password` or `ssh_private_key_file`".into(),
            None,
        );
    }
}

/// `batch`: the legacy shape warns unless `acknowledge_legacy: true`.
fn batch_legacy_warning(ctx: &mut Ctx, doc: &Node) {
    let acknowledged = matches!(
        doc.get("acknowledge_legacy").map(|n| &n.kind),
        Some(Kind::Bool(true))
    );
    if !acknowledged {
        ctx.warn(
            node_at(doc, &["type"]),
            "type",
            "`batch` uses the legacy SDK v1 shape (computeType Batch, api-version 2020-02-02); no stable ARM API lists it".into(),
            Some("the service may reject it; prefer amlcompute (add `acknowledge_legacy: true` to this manifest to silence this warning)".into()),
        );
    }
}

/// `idle_time_before_shutdown` (deprecated ISO duration): range-checked and folded into the minutes key with a warning.
fn idle_shutdown_check(ctx: &mut Ctx, doc: &Node, spec: &mut Map<String, Value>) {
    if let Some(iso) = spec.remove("idle_time_before_shutdown") {
        let n = node_at(doc, &["idle_time_before_shutdown"]);
        let secs = iso.as_str().and_then(crate::codec::parse_iso_duration);
        match secs {
            // The API: "Minimum is 15 min, maximum is 3 days", as for the minutes key.
            Some(s) if s % 60 == 0 && !(15..=4320).contains(&(s / 60)) => ctx.err(
                n,
                "idle_time_before_shutdown",
                format!(
                    "`idle_time_before_shutdown` must be between 15 minutes and 3 days, found {} minutes",
                    s / 60
                ),
                None,
            ),
            Some(s) if s % 60 == 0 && s > 0 => {
                spec.entry("idle_time_before_shutdown_minutes")
                    .or_insert(Value::from(s / 60));
                if let Some(l) = ctx.key_locations.remove("idle_time_before_shutdown") {
                    ctx.key_locations
                        .entry("idle_time_before_shutdown_minutes".into())
                        .or_insert(l);
                }
                ctx.warn(
                    n,
                    "idle_time_before_shutdown",
                    "`idle_time_before_shutdown` is deprecated".into(),
                    Some(format!("write `idle_time_before_shutdown_minutes: {}`", s / 60)),
                );
            }
            _ => ctx.err(
                n,
                "idle_time_before_shutdown",
                "`idle_time_before_shutdown` must be an ISO-8601 duration of whole minutes (e.g. PT30M)".into(),
                Some("prefer `idle_time_before_shutdown_minutes: 30`".into()),
            ),
        }
    }
}

/// Start/stop schedules: `state` defaults to enabled; each trigger needs the keys of its type.
fn schedule_checks(ctx: &mut Ctx, doc: &Node, spec: &mut Map<String, Value>) {
    if let Some(Value::Object(s)) = spec.get_mut("schedules")
        && let Some(Value::Array(list)) = s.get_mut("compute_start_stop")
    {
        for (i, item) in list.iter_mut().enumerate() {
            let Value::Object(o) = item else { continue };
            o.entry("state").or_insert(Value::from("enabled"));
            let Some(Value::Object(tr)) = o.get("trigger") else {
                continue;
            };
            let key = format!("schedules.compute_start_stop[{i}].trigger");
            let n = node_at(doc, &["schedules", "compute_start_stop"]);
            let ty = tr.get("type").and_then(Value::as_str).unwrap_or("");
            let need: &[&str] = if ty == "cron" {
                &["expression"]
            } else {
                &["frequency", "interval", "schedule"]
            };
            for k in need {
                if !tr.contains_key(*k) {
                    ctx.err(n, &key, format!("`{key}` of type {ty} needs `{k}`"), None);
                }
            }
        }
    }
}

/// Custom applications: docker defaults for the app and its image; published ports below 65535.
fn custom_application_checks(ctx: &mut Ctx, doc: &Node, spec: &mut Map<String, Value>) {
    if let Some(Value::Array(apps)) = spec.get_mut("custom_applications") {
        for app in apps.iter_mut() {
            let Value::Object(o) = app else { continue };
            o.entry("type").or_insert(Value::from("docker"));
            if let Some(Value::Object(img)) = o.get_mut("image") {
                img.entry("type").or_insert(Value::from("docker"));
            }
            if let Some(Value::Array(eps)) = o.get("endpoints") {
                for ep in eps {
                    if let Some(p) = ep.get("published").and_then(Value::as_i64)
                        && p >= 65535
                    {
                        ctx.err(
                            node_at(doc, &["custom_applications"]),
                            "custom_applications",
                            format!(
                                "published port {p} must be between 1025 and 65535 (exclusive)"
                            ),
                            None,
                        );
                    }
                }
            }
        }
    }
}

/// `acknowledge_legacy` belongs to `type: batch` only, and is a boolean.
fn acknowledge_legacy_check(ctx: &mut Ctx, doc: &Node, t: ComputeType) {
    if let Some(n) = doc.get("acknowledge_legacy") {
        if t != ComputeType::Batch {
            ctx.err(
                n,
                "acknowledge_legacy",
                "`acknowledge_legacy` applies only to `type: batch`".into(),
                Some("remove it".into()),
            );
        } else if !matches!(n.kind, Kind::Bool(_)) {
            expect(
                ctx,
                n,
                "acknowledge_legacy",
                "a boolean (true or false)",
                None,
            );
        }
    }
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
