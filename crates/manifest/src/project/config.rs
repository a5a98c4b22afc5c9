//! Parsing and checking `amlctl.yaml` into a [`Config`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::diag::{Diagnostic, did_you_mean};
use crate::endpoints::{CloudKind, check_config_arm_endpoint};
use crate::model::{SourceLocation, Workspace};
use crate::validate::{self, Ctx};
use crate::yaml::{self, Kind, Node};

use super::keys::{CONFIG_KEYS, DEFAULTS_FIELDS, WORKSPACE_FIELDS};
use super::select::norm_rel;
use super::{Config, Defaults};

/// Parses and checks `amlctl.yaml`: one mapping document, each top-level key in turn, then the
/// checks across keys (workspaces, aliases named by `default_workspace` and `folders`).
pub(super) fn parse_config(path: &Path, text: &str) -> Result<Config, Vec<Diagnostic>> {
    let root = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut ctx = Ctx::new(path, false);
    let doc = single_document(&mut ctx, path, text)?;
    let mut cfg = Config {
        path: path.to_path_buf(),
        root,
        workspaces: BTreeMap::new(),
        default_workspace: None,
        manifests: Vec::new(),
        folders: BTreeMap::new(),
        defaults: Defaults::default(),
    };
    let Kind::Map(entries) = &doc.kind else {
        ctx.err(
            &doc,
            "",
            format!("amlctl.yaml must be a mapping, found {}", doc.type_name()),
            None,
        );
        return Err(ctx.diags);
    };
    let mut refs = AliasRefs::default();
    for (k, v) in entries {
        parse_key(&mut ctx, &mut cfg, &mut refs, k, v);
    }
    if doc.get("workspaces").is_none() {
        ctx.err(
            &doc,
            "workspaces",
            "amlctl.yaml needs `workspaces`".into(),
            None,
        );
    }
    check_workspaces(&mut ctx, &doc);
    check_alias_refs(&mut ctx, &cfg, refs);
    if cfg.manifests.is_empty() {
        cfg.manifests.push(".".into());
    }
    if ctx.has_errors() {
        Err(ctx.diags)
    } else {
        Ok(cfg)
    }
}

/// Where `amlctl.yaml` names workspace aliases outside `workspaces:`, kept to check them once
/// every workspace is known.
#[derive(Default)]
struct AliasRefs {
    /// The `default_workspace` value node.
    default: Option<Node>,
    /// Each `folders:` alias with its value node.
    folders: Vec<(String, Node)>,
}

/// The one YAML document of `amlctl.yaml`; an empty file or a second document is an error.
fn single_document(ctx: &mut Ctx, path: &Path, text: &str) -> Result<Node, Vec<Diagnostic>> {
    let docs = yaml::parse_documents(path, text).map_err(|d| vec![d])?;
    match docs.as_slice() {
        [d] => Ok(d.clone()),
        [] => Err(vec![
            Diagnostic::error(
                Some(SourceLocation {
                    file: path.to_path_buf(),
                    line: 1,
                    column: 1,
                }),
                None,
                "amlctl.yaml is empty".into(),
            )
            .with_hint("add `workspaces:` (see docs/manifest-reference.md)"),
        ]),
        [_, second, ..] => {
            ctx.err(
                second,
                "",
                "amlctl.yaml must hold a single YAML document".into(),
                None,
            );
            Err(std::mem::take(&mut ctx.diags))
        }
    }
}

/// One top-level key of `amlctl.yaml` into `cfg` (a null value is skipped, except for
/// `workspaces`).
fn parse_key(ctx: &mut Ctx, cfg: &mut Config, refs: &mut AliasRefs, k: &Node, v: &Node) {
    let key = k.as_str().unwrap_or("");
    if matches!(v.kind, Kind::Null) && key != "workspaces" {
        return;
    }
    match key {
        "$schema" => {}
        "workspaces" => parse_workspaces(ctx, cfg, v),
        "default_workspace" => match v.as_str() {
            Some(s) => {
                cfg.default_workspace = Some(s.to_string());
                refs.default = Some(v.clone());
            }
            None => ctx.err(
                v,
                key,
                "`default_workspace` must be a workspace alias".into(),
                None,
            ),
        },
        "manifests" => parse_manifests(ctx, cfg, v),
        "folders" => parse_folders(ctx, cfg, refs, v),
        "defaults" => parse_defaults(ctx, cfg, v),
        _ => {
            let hint = did_you_mean(key, CONFIG_KEYS.iter().copied())
                .map(|m| format!("did you mean `{m}`?"))
                .unwrap_or_else(|| format!("allowed keys: {}", CONFIG_KEYS.join(", ")));
            ctx.err(
                k,
                key,
                format!("unknown key `{key}` in amlctl.yaml"),
                Some(hint),
            );
        }
    }
}

/// `workspaces:`: each alias walked against the workspace keys; complete ones go into `cfg`.
fn parse_workspaces(ctx: &mut Ctx, cfg: &mut Config, v: &Node) {
    let Kind::Map(ws) = &v.kind else {
        ctx.err(
            v,
            "workspaces",
            format!(
                "`workspaces` must be a mapping of alias to workspace, found {}",
                v.type_name()
            ),
            Some(
                "workspaces:\n      dev: { subscription_id: …, resource_group: …, workspace: … }"
                    .into(),
            ),
        );
        return;
    };
    for (ak, av) in ws {
        let Some(alias) = ak.as_str() else {
            ctx.err(
                ak,
                "workspaces",
                "workspace aliases must be strings".into(),
                None,
            );
            continue;
        };
        let path = format!("workspaces.{alias}");
        let Some(obj) = validate::walk_obj(ctx, av, WORKSPACE_FIELDS, &path, &[]) else {
            continue;
        };
        let s = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
        if let (Some(sub), Some(rg), Some(w)) =
            (s("subscription_id"), s("resource_group"), s("workspace"))
        {
            cfg.workspaces.insert(
                alias.to_string(),
                Workspace {
                    alias: alias.to_string(),
                    subscription_id: sub,
                    resource_group: rg,
                    workspace: w,
                    location: s("location"),
                    prune: obj.get("prune").and_then(Value::as_bool).unwrap_or(false),
                },
            );
        }
    }
}

/// `manifests:`: a list of folders or globs, or a single one.
fn parse_manifests(ctx: &mut Ctx, cfg: &mut Config, v: &Node) {
    let key = "manifests";
    match &v.kind {
        Kind::Seq(items) => {
            for it in items {
                match it.as_str() {
                    Some(s) => cfg.manifests.push(s.to_string()),
                    None => ctx.err(
                        it,
                        key,
                        "`manifests` entries must be folders or globs (strings)".into(),
                        None,
                    ),
                }
            }
        }
        Kind::Str(s) => cfg.manifests.push(s.clone()),
        _ => ctx.err(
            v,
            key,
            "`manifests` must be a list of folders or globs".into(),
            None,
        ),
    }
}

/// `folders:`: folder → workspace alias (the aliases are checked once all workspaces are known).
fn parse_folders(ctx: &mut Ctx, cfg: &mut Config, refs: &mut AliasRefs, v: &Node) {
    let key = "folders";
    let Kind::Map(fs) = &v.kind else {
        ctx.err(
            v,
            key,
            "`folders` must be a mapping of folder to workspace alias".into(),
            None,
        );
        return;
    };
    for (fk, fv) in fs {
        match (fk.as_str(), fv.as_str()) {
            (Some(f), Some(a)) => {
                cfg.folders.insert(norm_rel(f), a.to_string());
                refs.folders.push((a.to_string(), fv.clone()));
            }
            _ => ctx.err(
                fv,
                key,
                "`folders` maps a folder (string) to a workspace alias (string)".into(),
                None,
            ),
        }
    }
}

/// `defaults:`: walked against its keys, checked (cloud, endpoint), then into `cfg`.
fn parse_defaults(ctx: &mut Ctx, cfg: &mut Config, v: &Node) {
    if let Some(obj) = validate::walk_obj(ctx, v, DEFAULTS_FIELDS, "defaults", &[]) {
        check_defaults(ctx, v, &obj);
        cfg.defaults = Defaults {
            arm_endpoint: obj
                .get("arm_endpoint")
                .and_then(Value::as_str)
                .map(str::to_string),
            cloud: obj.get("cloud").and_then(Value::as_str).map(str::to_string),
            parallelism: obj
                .get("parallelism")
                .and_then(Value::as_i64)
                .and_then(|p| usize::try_from(p).ok()),
        };
    }
}

/// `default_workspace` and every `folders:` alias must name a workspace (reported only when
/// nothing else failed, so a broken workspace does not also show up as undefined).
fn check_alias_refs(ctx: &mut Ctx, cfg: &Config, refs: AliasRefs) {
    let aliases: Vec<String> = cfg.workspaces.keys().cloned().collect();
    let check_alias = |ctx: &mut Ctx, alias: &str, node: &Node, key: &str| {
        if !cfg.workspaces.contains_key(alias) && !ctx.has_errors() {
            ctx.err(
                node,
                key,
                format!("undefined workspace `{alias}`"),
                Some(alias_hint(alias, &aliases)),
            );
        }
    };
    if let (Some(d), Some(n)) = (cfg.default_workspace.clone(), refs.default) {
        check_alias(ctx, &d, &n, "default_workspace");
    }
    for (a, n) in refs.folders {
        check_alias(ctx, &a, &n, "folders");
    }
}

/// `defaults.cloud` must be a known cloud, and `defaults.arm_endpoint` only that cloud's Resource
/// Manager: a pull request must not be able to send a token anywhere else (#19).
pub(super) fn check_defaults(ctx: &mut Ctx, node: &Node, obj: &serde_json::Map<String, Value>) {
    let mut cloud = CloudKind::Public;
    if let (Some(name), Some(n)) = (obj.get("cloud").and_then(Value::as_str), node.get("cloud")) {
        match CloudKind::parse(name) {
            Some(c) => cloud = c,
            None => ctx.err(
                n,
                "defaults.cloud",
                format!("unknown cloud `{name}`"),
                Some(
                    "use public (AzureCloud), usgov (AzureUSGovernment) or china (AzureChinaCloud)"
                        .into(),
                ),
            ),
        }
    }
    if let (Some(url), Some(n)) = (
        obj.get("arm_endpoint").and_then(Value::as_str),
        node.get("arm_endpoint"),
    ) && let Err(why) = check_config_arm_endpoint(url, cloud)
    {
        ctx.err(
            n,
            "defaults.arm_endpoint",
            why,
            Some(format!(
                "remove `arm_endpoint` (the {} cloud's endpoint is the default) or choose the cloud with `defaults.cloud`",
                cloud.as_str()
            )),
        );
    }
}

/// True for a GUID: 8-4-4-4-12 hexadecimal digits.
pub(super) fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Per-workspace checks on the located tree: `subscription_id` is a GUID, and no two aliases name
/// the same workspace (subscription, resource group and name, case-insensitive): `prevent_destroy`
/// and `prune` must not be escapable through a second alias (#19).
pub(super) fn check_workspaces(ctx: &mut Ctx, doc: &Node) {
    let Some(Kind::Map(ws)) = doc.get("workspaces").map(|w| &w.kind) else {
        return;
    };
    let mut seen: BTreeMap<(String, String, String), (String, SourceLocation)> = BTreeMap::new();
    for (ak, av) in ws {
        let Some(alias) = ak.as_str() else { continue };
        let field = |k: &str| av.get(k).and_then(|n| n.as_str().map(|s| (s, n)));
        if let Some((sub, n)) = field("subscription_id")
            && !is_guid(sub)
        {
            ctx.err(
                n,
                &format!("workspaces.{alias}.subscription_id"),
                format!("`subscription_id` of workspace `{alias}` is not a GUID"),
                Some("write the subscription id as shown by `az account show --query id`, e.g. 00000000-0000-0000-0000-000000000000".into()),
            );
        }
        let (Some((sub, _)), Some((rg, _)), Some((name, _))) = (
            field("subscription_id"),
            field("resource_group"),
            field("workspace"),
        ) else {
            continue;
        };
        let key = (
            sub.to_ascii_lowercase(),
            rg.to_ascii_lowercase(),
            name.to_ascii_lowercase(),
        );
        let here = ak.loc(ctx.file);
        if let Some((first, at)) = seen.get(&key) {
            ctx.err(
                ak,
                &format!("workspaces.{alias}"),
                format!(
                    "workspaces `{first}` ({at}) and `{alias}` ({here}) are the same workspace ({sub}/{rg}/{name}); one workspace may have only one alias"
                ),
                Some(format!("remove `{alias}` and use `{first}` everywhere")),
            );
        } else {
            seen.insert(key, (alias.to_string(), here));
        }
    }
}

pub(super) fn alias_hint(alias: &str, aliases: &[String]) -> String {
    let list = if aliases.is_empty() {
        "none defined".to_string()
    } else {
        aliases.join(", ")
    };
    match did_you_mean(alias, aliases.iter().map(String::as_str)) {
        Some(m) => format!("did you mean `{m}`? workspaces in amlctl.yaml: {list}"),
        None => format!("workspaces in amlctl.yaml: {list}"),
    }
}
