//! `amlctl.yaml` and the manifest tree: discovery, workspace resolution, duplicate detection.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::diag::{Diagnostic, did_you_mean};
use crate::endpoints::{CloudKind, check_config_arm_endpoint};
use crate::fields::{Field, Kind as FKind};
use crate::model::{ComputeType, SourceLocation, Target, Workspace};
use crate::validate::{self, Ctx, Partial};
use crate::yaml::{self, Kind, MAX_FILE_BYTES, Node};

/// File name of the project configuration.
pub const CONFIG_FILE: &str = "amlctl.yaml";

/// Loader options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Literal secrets are errors instead of warnings (`--strict`).
    pub strict: bool,
    /// `{ file: … }` secrets and key files may resolve outside the repository (the folder of
    /// `amlctl.yaml`); only from the command line (`--allow-outside-repo`), never from a file.
    pub allow_outside_repo: bool,
}

/// `defaults:` of `amlctl.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Defaults {
    /// ARM endpoint; only the selected cloud's Resource Manager is accepted here (other endpoints,
    /// such as the emulator, come from `--arm-endpoint` / `AMLCTL_ARM_ENDPOINT`).
    pub arm_endpoint: Option<String>,
    /// Cloud name (`public`/`AzureCloud`, `usgov`/`AzureUSGovernment`, `china`/`AzureChinaCloud`).
    pub cloud: Option<String>,
    /// Maximum concurrent ARM operations during apply.
    pub parallelism: Option<usize>,
}

/// `amlctl.yaml`: workspaces, default workspace, manifest locations, folder mapping, defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Path of `amlctl.yaml` as found.
    pub path: PathBuf,
    /// Folder holding `amlctl.yaml`; manifest paths are relative to it.
    pub root: PathBuf,
    /// Workspaces by alias.
    pub workspaces: BTreeMap<String, Workspace>,
    /// Alias used when a manifest names none and no folder mapping applies.
    pub default_workspace: Option<String>,
    /// Folders or globs (relative to `root`) holding manifests; default `["."]`.
    pub manifests: Vec<String>,
    /// `folders:` folder (relative to `root`) → workspace alias; the longest matching folder wins.
    pub folders: BTreeMap<String, String>,
    /// `defaults:`.
    pub defaults: Defaults,
}

/// A loaded project: config, validated targets, and warnings.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    /// The configuration.
    pub config: Config,
    /// Every target in scope, in file order (every target of the repository when PATH was the
    /// root or amlctl.yaml).
    pub targets: Vec<Target>,
    /// When PATH was a folder (or manifest file) below `amlctl.yaml`: that path relative to the
    /// root, `/`-separated. Every manifest is still loaded and validated, but only those under it
    /// are in [`Project::targets`]; the rest are in [`Project::outside_scope`].
    pub scope: Option<String>,
    /// Targets declared outside [`Project::scope`] (empty without a scope).
    pub outside_scope: Vec<Target>,
    /// Warnings (only warnings when loading succeeded).
    pub diagnostics: Vec<Diagnostic>,
    /// Every manifest file read, relative to `config.root` (`/` separated), in load order.
    pub files: Vec<String>,
}

const WORKSPACE_FIELDS: &[Field] = &[
    Field {
        name: "subscription_id",
        kind: FKind::Str,
        required: true,
        doc: "Azure subscription id (a GUID)",
        default: "",
        arm: "",
        update: None,
        below: &[],
        value: crate::fields::ValueKind::Text,
        service_default: None,
        on_get: crate::fields::OnGet::Unknown,
        api_versions: None,
        export_placeholder: false,
    },
    Field {
        name: "resource_group",
        kind: FKind::Str,
        required: true,
        doc: "resource group of the workspace",
        default: "",
        arm: "",
        update: None,
        below: &[],
        value: crate::fields::ValueKind::Text,
        service_default: None,
        on_get: crate::fields::OnGet::Unknown,
        api_versions: None,
        export_placeholder: false,
    },
    Field {
        name: "workspace",
        kind: FKind::Str,
        required: true,
        doc: "workspace name",
        default: "",
        arm: "",
        update: None,
        below: &[],
        value: crate::fields::ValueKind::Text,
        service_default: None,
        on_get: crate::fields::OnGet::Unknown,
        api_versions: None,
        export_placeholder: false,
    },
    Field {
        name: "location",
        kind: FKind::Str,
        required: false,
        doc: "workspace region",
        default: "",
        arm: "",
        update: None,
        below: &[],
        value: crate::fields::ValueKind::Text,
        service_default: None,
        on_get: crate::fields::OnGet::Unknown,
        api_versions: None,
        export_placeholder: false,
    },
    Field {
        name: "prune",
        kind: FKind::Bool,
        required: false,
        doc: "delete amlctl-owned computes no manifest declares",
        default: "false",
        arm: "",
        update: None,
        below: &[],
        value: crate::fields::ValueKind::Text,
        service_default: None,
        on_get: crate::fields::OnGet::Unknown,
        api_versions: None,
        export_placeholder: false,
    },
];

const DEFAULTS_FIELDS: &[Field] = &[
    Field {
        name: "arm_endpoint",
        kind: FKind::Str,
        required: false,
        doc: "the cloud's Resource Manager URL only; other endpoints need --arm-endpoint / AMLCTL_ARM_ENDPOINT",
        default: "https://management.azure.com",
        arm: "",
        update: None,
        below: &[],
        value: crate::fields::ValueKind::Text,
        service_default: None,
        on_get: crate::fields::OnGet::Unknown,
        api_versions: None,
        export_placeholder: false,
    },
    Field {
        name: "cloud",
        kind: FKind::Str,
        required: false,
        doc: "public, usgov or china (also AzureCloud, AzureUSGovernment, AzureChinaCloud)",
        default: "AzureCloud",
        arm: "",
        update: None,
        below: &[],
        value: crate::fields::ValueKind::Text,
        service_default: None,
        on_get: crate::fields::OnGet::Unknown,
        api_versions: None,
        export_placeholder: false,
    },
    Field {
        name: "parallelism",
        kind: FKind::Int { min: 1, max: 256 },
        required: false,
        doc: "concurrent operations (1-256)",
        default: "",
        arm: "",
        update: None,
        below: &[],
        value: crate::fields::ValueKind::Text,
        service_default: None,
        on_get: crate::fields::OnGet::Unknown,
        api_versions: None,
        export_placeholder: false,
    },
];

/// Top-level keys of `amlctl.yaml`.
pub(crate) const CONFIG_KEYS: &[&str] = &[
    "$schema",
    "workspaces",
    "default_workspace",
    "manifests",
    "folders",
    "defaults",
];

pub(crate) fn workspace_fields() -> &'static [Field] {
    WORKSPACE_FIELDS
}
pub(crate) fn defaults_fields() -> &'static [Field] {
    DEFAULTS_FIELDS
}

fn read_text(file: &Path) -> Result<String, Diagnostic> {
    let loc = SourceLocation {
        file: file.to_path_buf(),
        line: 1,
        column: 1,
    };
    let meta = std::fs::metadata(file).map_err(|e| {
        Diagnostic::error(
            Some(loc.clone()),
            None,
            format!("cannot read file: {}", e.kind()),
        )
    })?;
    if meta.len() > MAX_FILE_BYTES as u64 {
        return Err(Diagnostic::error(
            Some(loc),
            None,
            format!(
                "file is {} bytes, larger than the {MAX_FILE_BYTES} byte limit",
                meta.len()
            ),
        ));
    }
    let bytes = std::fs::read(file).map_err(|e| {
        Diagnostic::error(Some(loc), None, format!("cannot read file: {}", e.kind()))
    })?;
    yaml::decode(file, &bytes)
}

fn parse_config(path: &Path, text: &str) -> Result<Config, Vec<Diagnostic>> {
    let root = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let docs = yaml::parse_documents(path, text).map_err(|d| vec![d])?;
    let mut ctx = Ctx::new(path, false);
    let doc = match docs.as_slice() {
        [d] => d.clone(),
        [] => {
            return Err(vec![
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
            ]);
        }
        [_, second, ..] => {
            ctx.err(
                second,
                "",
                "amlctl.yaml must hold a single YAML document".into(),
                None,
            );
            return Err(ctx.diags);
        }
    };
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
    let mut default_node = None;
    let mut folder_nodes = Vec::new();
    for (k, v) in entries {
        let key = k.as_str().unwrap_or("");
        if matches!(v.kind, Kind::Null) && key != "workspaces" {
            continue;
        }
        match key {
            "$schema" => {}
            "workspaces" => match &v.kind {
                Kind::Map(ws) => {
                    for (ak, av) in ws {
                        let Some(alias) = ak.as_str() else {
                            ctx.err(ak, "workspaces", "workspace aliases must be strings".into(), None);
                            continue;
                        };
                        let path = format!("workspaces.{alias}");
                        if let Some(obj) = validate::walk_obj(&mut ctx, av, WORKSPACE_FIELDS, &path, &[]) {
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
                }
                _ => ctx.err(
                    v,
                    "workspaces",
                    format!("`workspaces` must be a mapping of alias to workspace, found {}", v.type_name()),
                    Some("workspaces:\n      dev: { subscription_id: …, resource_group: …, workspace: … }".into()),
                ),
            },
            "default_workspace" => match v.as_str() {
                Some(s) => {
                    cfg.default_workspace = Some(s.to_string());
                    default_node = Some(v.clone());
                }
                None => ctx.err(v, key, "`default_workspace` must be a workspace alias".into(), None),
            },
            "manifests" => match &v.kind {
                Kind::Seq(items) => {
                    for it in items {
                        match it.as_str() {
                            Some(s) => cfg.manifests.push(s.to_string()),
                            None => ctx.err(it, key, "`manifests` entries must be folders or globs (strings)".into(), None),
                        }
                    }
                }
                Kind::Str(s) => cfg.manifests.push(s.clone()),
                _ => ctx.err(v, key, "`manifests` must be a list of folders or globs".into(), None),
            },
            "folders" => match &v.kind {
                Kind::Map(fs) => {
                    for (fk, fv) in fs {
                        match (fk.as_str(), fv.as_str()) {
                            (Some(f), Some(a)) => {
                                cfg.folders.insert(norm_rel(f), a.to_string());
                                folder_nodes.push((a.to_string(), fv.clone()));
                            }
                            _ => ctx.err(fv, key, "`folders` maps a folder (string) to a workspace alias (string)".into(), None),
                        }
                    }
                }
                _ => ctx.err(v, key, "`folders` must be a mapping of folder to workspace alias".into(), None),
            },
            "defaults" => {
                if let Some(obj) = validate::walk_obj(&mut ctx, v, DEFAULTS_FIELDS, "defaults", &[]) {
                    check_defaults(&mut ctx, v, &obj);
                    cfg.defaults = Defaults {
                        arm_endpoint: obj.get("arm_endpoint").and_then(Value::as_str).map(str::to_string),
                        cloud: obj.get("cloud").and_then(Value::as_str).map(str::to_string),
                        parallelism: obj
                            .get("parallelism")
                            .and_then(Value::as_i64)
                            .and_then(|p| usize::try_from(p).ok()),
                    };
                }
            }
            _ => {
                let hint = did_you_mean(key, CONFIG_KEYS.iter().copied())
                    .map(|m| format!("did you mean `{m}`?"))
                    .unwrap_or_else(|| format!("allowed keys: {}", CONFIG_KEYS.join(", ")));
                ctx.err(k, key, format!("unknown key `{key}` in amlctl.yaml"), Some(hint));
            }
        }
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
    if let (Some(d), Some(n)) = (cfg.default_workspace.clone(), default_node) {
        check_alias(&mut ctx, &d, &n, "default_workspace");
    }
    for (a, n) in folder_nodes {
        check_alias(&mut ctx, &a, &n, "folders");
    }
    if cfg.manifests.is_empty() {
        cfg.manifests.push(".".into());
    }
    if ctx.has_errors() {
        Err(ctx.diags)
    } else {
        Ok(cfg)
    }
}

/// `defaults.cloud` must be a known cloud, and `defaults.arm_endpoint` only that cloud's Resource
/// Manager: a pull request must not be able to send a token anywhere else (#19).
fn check_defaults(ctx: &mut Ctx, node: &Node, obj: &serde_json::Map<String, Value>) {
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

/// A `key_vault` reference must name a vault of the cloud `amlctl.yaml` selects (`defaults.cloud`).
fn check_vault_cloud(config: &Config, t: &Target, diags: &mut Vec<Diagnostic>) {
    let cloud = config
        .defaults
        .cloud
        .as_deref()
        .and_then(CloudKind::parse)
        .unwrap_or_default();
    for (key, secret) in &t.secrets {
        let crate::model::SecretRef::KeyVault(url) = secret else {
            continue;
        };
        match crate::endpoints::check_key_vault_url(url) {
            Ok(c) if c == cloud => {}
            _ => diags.push(
                Diagnostic::error(
                    Some(t.key_locations.get(key).cloned().unwrap_or_else(|| t.source.clone())),
                    Some(key.clone()),
                    format!(
                        "`{key}.key_vault` names a vault outside the {} cloud (vaults there end in {})",
                        cloud.as_str(),
                        cloud.vault_suffix()
                    ),
                )
                .with_hint("use a vault of the selected cloud, or select the vault's cloud with `defaults.cloud`"),
            ),
        }
    }
}

/// Issue #14 rule 6: every compute type but `amlcompute` lives in its workspace's region, so a
/// manifest `location` naming another region is an error (the service would refuse it or put
/// the compute where the workspace is). Regions compare without case, spaces, `-` and `_`
/// (`East US` == `eastus`). Nothing to check when `amlctl.yaml` gives the workspace no location.
pub fn location_error(ws: &Workspace, t: &Target) -> Option<Diagnostic> {
    if t.compute_type == ComputeType::AmlCompute {
        return None;
    }
    let want = t.spec.get("location")?.as_str()?;
    let region = ws.location.as_deref()?;
    let fold = |s: &str| -> String {
        s.chars()
            .filter(|c| !matches!(c, ' ' | '-' | '_'))
            .flat_map(char::to_lowercase)
            .collect()
    };
    if fold(want) == fold(region) {
        return None;
    }
    Some(
        Diagnostic::error(
            Some(
                t.key_locations
                    .get("location")
                    .cloned()
                    .unwrap_or_else(|| t.source.clone()),
            ),
            Some("location".into()),
            format!(
                "a {} compute lives in its workspace's region: `location: {want}` differs from workspace `{}` ({region})",
                t.compute_type.manifest_name(),
                ws.alias
            ),
        )
        .with_hint(format!(
            "remove `location` (the workspace's region is used) or write `location: {region}`; only `amlcompute` clusters may live in another region"
        )),
    )
}

/// Issue #14 rule 3: a key that no stable api-version defines (e.g. `enable_root_access`,
/// only at 2023-08-01-preview) is an error naming the versions that have it.
pub fn api_version_errors(t: &Target, diags: &mut Vec<Diagnostic>) {
    let choice = crate::fields::api_version_for(t.compute_type, &t.spec);
    for (key, versions) in choice.unavailable {
        diags.push(
            Diagnostic::error(
                Some(
                    t.key_locations
                        .get(key)
                        .cloned()
                        .unwrap_or_else(|| t.source.clone()),
                ),
                Some(key.to_string()),
                format!(
                    "no stable api-version amlctl sends ({}) defines `{key}` together with the other keys of this manifest; `{key}` is defined at {}",
                    amlctl_vocab::api_version::STABLE_COMPUTES.join(", "),
                    versions.join(", ")
                ),
            )
            .with_hint(format!(
                "remove `{key}` (the service default applies); amlctl does not send preview api-versions"
            )),
        );
    }
}

/// True for a GUID: 8-4-4-4-12 hexadecimal digits.
fn is_guid(s: &str) -> bool {
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
fn check_workspaces(ctx: &mut Ctx, doc: &Node) {
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

fn alias_hint(alias: &str, aliases: &[String]) -> String {
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

/// `./a/b/` → `a/b`; `.` → ``.
fn norm_rel(s: &str) -> String {
    let p = Path::new(s);
    let parts: Vec<String> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    parts.join("/")
}

/// Glob match on `/`-separated paths: `**` spans folders, `*` and `?` stay within one.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let p: Vec<&str> = pattern
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let s: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    fn segs(p: &[&str], s: &[&str]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((&"**", rest)) => (0..=s.len()).any(|i| segs(rest, &s[i..])),
            Some((first, rest)) => {
                !s.is_empty() && seg(first.as_bytes(), s[0].as_bytes()) && segs(rest, &s[1..])
            }
        }
    }
    fn seg(p: &[u8], s: &[u8]) -> bool {
        // Iterative wildcard match with backtracking to the last '*'.
        let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
        while si < s.len() {
            if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
                pi += 1;
                si += 1;
            } else if pi < p.len() && p[pi] == b'*' {
                star = Some(pi);
                mark = si;
                pi += 1;
            } else if let Some(st) = star {
                pi = st + 1;
                mark += 1;
                si = mark;
            } else {
                return false;
            }
        }
        while pi < p.len() && p[pi] == b'*' {
            pi += 1;
        }
        pi == p.len()
    }
    segs(&p, &s)
}

/// Every `.yml`/`.yaml` file below `root` (relative, `/`-separated, sorted), skipping hidden
/// folders, `target`, `node_modules`, symlinked folders and `amlctl.yaml` itself; and, second,
/// every other (non-hidden) symlink met on the way (symlinked folders, which are not walked).
fn walk(root: &Path) -> (Vec<String>, Vec<String>) {
    let mut out = Vec::new();
    let mut links = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new(), 0usize)];
    while let Some((dir, rel, depth)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(ft) = e.file_type() else { continue };
            let r = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if ft.is_dir() {
                if !name.starts_with('.')
                    && name != "target"
                    && name != "node_modules"
                    && depth < 32
                {
                    stack.push((e.path(), r, depth + 1));
                }
            } else if (ft.is_file() || ft.is_symlink())
                && (name.ends_with(".yml") || name.ends_with(".yaml"))
                && name != CONFIG_FILE
                && name != "amlctl.yml"
            {
                out.push(r);
            } else if ft.is_symlink() && !name.starts_with('.') {
                links.push(r);
            }
        }
    }
    out.sort();
    links.sort();
    (out, links)
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Manifest files selected by `config.manifests` (relative paths).
fn select(config: &Config, diags: &mut Vec<Diagnostic>) -> Vec<String> {
    let (all, links) = walk(&config.root);
    refuse_outside_links(config, &all, &links, diags);
    let mut chosen = Vec::new();
    for entry in &config.manifests {
        let before = chosen.len();
        for f in &all {
            let hit = if has_glob(entry) {
                glob_match(entry, f)
            } else {
                let e = norm_rel(entry);
                e.is_empty() || f == &e || f.starts_with(&format!("{e}/"))
            };
            if hit && !chosen.contains(f) {
                chosen.push(f.clone());
            }
        }
        if chosen.len() == before
            && !all
                .iter()
                .any(|f| chosen.contains(f) && glob_or_prefix(entry, f))
        {
            diags.push(Diagnostic::warning(
                Some(SourceLocation {
                    file: config.path.clone(),
                    line: 1,
                    column: 1,
                }),
                Some("manifests".into()),
                format!("`manifests` entry '{entry}' matches no .yml/.yaml file"),
            ));
        }
    }
    chosen.sort();
    chosen
}

/// A manifest file, or a folder on the `manifests` path, that is a symlink resolving outside the
/// repository is an error naming the link; the target is never opened.
fn refuse_outside_links(
    config: &Config,
    files: &[String],
    links: &[String],
    diags: &mut Vec<Diagnostic>,
) {
    let on_path = |rel: &str| {
        config.manifests.iter().any(|entry| {
            let e = norm_rel(entry);
            glob_or_prefix(entry, rel)
                || e == rel
                || e.starts_with(&format!("{rel}/"))
                || (has_glob(entry) && glob_match(entry, &format!("{rel}/x.yml")))
        })
    };
    let candidates = files
        .iter()
        .filter(|f| {
            std::fs::symlink_metadata(config.root.join(f)).is_ok_and(|m| m.file_type().is_symlink())
        })
        .chain(links.iter().filter(|l| on_path(l)));
    for rel in candidates {
        let link = display_path(config.root.join(rel));
        if let Err(reason) = crate::secret::confine(&config.root, &link) {
            diags.push(
                Diagnostic::error(
                    Some(SourceLocation {
                        file: link.clone(),
                        line: 1,
                        column: 1,
                    }),
                    None,
                    format!(
                        "{} is a symlink that {reason}; it was not read",
                        link.display()
                    ),
                )
                .with_hint(
                    "manifests must live inside the repository (the folder of amlctl.yaml): replace the link with the file",
                ),
            );
        }
    }
}

fn glob_or_prefix(entry: &str, f: &str) -> bool {
    if has_glob(entry) {
        glob_match(entry, f)
    } else {
        let e = norm_rel(entry);
        e.is_empty() || f == e || f.starts_with(&format!("{e}/"))
    }
}

fn display_path(p: PathBuf) -> PathBuf {
    p.strip_prefix(".").map(Path::to_path_buf).unwrap_or(p)
}

/// Finds the `amlctl.yaml` that `path` belongs to: the file itself, the one in the folder, or the
/// nearest one above (then `path` is the scope: only manifests below it are loaded).
fn locate_config(path: &Path) -> Result<(PathBuf, Option<PathBuf>), Vec<Diagnostic>> {
    let nowhere = |msg: String| {
        vec![Diagnostic::error(
            Some(SourceLocation {
                file: path.to_path_buf(),
                line: 1,
                column: 1,
            }),
            None,
            msg,
        )]
    };
    let meta = std::fs::metadata(path)
        .map_err(|e| nowhere(format!("cannot read {}: {}", path.display(), e.kind())))?;
    if meta.is_file()
        && path
            .file_name()
            .is_some_and(|n| n == CONFIG_FILE || n == "amlctl.yml")
    {
        Ok((path.to_path_buf(), None))
    } else if meta.is_dir() && path.join(CONFIG_FILE).is_file() {
        Ok((path.join(CONFIG_FILE), None))
    } else {
        let start = if meta.is_dir() {
            path.to_path_buf()
        } else {
            path.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        let abs = std::fs::canonicalize(if start.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &start
        })
        .map_err(|e| nowhere(format!("cannot resolve {}: {}", path.display(), e.kind())))?;
        let mut found = None;
        let mut rel_up = PathBuf::new();
        for dir in abs.ancestors() {
            if dir.join(CONFIG_FILE).is_file() {
                found = Some(start.join(&rel_up).join(CONFIG_FILE));
                break;
            }
            rel_up.push("..");
        }
        match found {
            Some(c) => Ok((c, Some(path.to_path_buf()))),
            None => Err(nowhere(format!(
                "no {CONFIG_FILE} in {} or any parent folder",
                path.display()
            ))
            .into_iter()
            .map(|d| {
                d.with_hint(
                    "create amlctl.yaml with `workspaces:` at the root of your manifests repo",
                )
            })
            .collect()),
        }
    }
}

/// Reads and checks only `amlctl.yaml` (for callers that start network reads while the manifests
/// load). PATH is interpreted as by [`load_project`].
pub fn load_config(path: &Path) -> Result<Config, Vec<Diagnostic>> {
    let (config_path, _) = locate_config(path)?;
    let config_path = display_path(normalize(&config_path));
    let text = read_text(&config_path).map_err(|d| vec![d])?;
    parse_config(&config_path, &text)
}

/// Loads `amlctl.yaml` and every manifest it selects. `path` may be a folder holding
/// `amlctl.yaml`, the file itself, or a folder (or manifest file) below one (searched upward);
/// then every manifest is still loaded and validated (so nothing declared elsewhere looks
/// undeclared), and only those under that folder (or that file) are in [`Project::targets`].
/// Every error of every file is reported at once; `Err` when there is at least one error.
pub fn load_project(path: &Path, opts: &crate::LoadOptions) -> Result<Project, Vec<Diagnostic>> {
    let (config_path, scope) = locate_config(path)?;
    let config_path = display_path(normalize(&config_path));
    let text = read_text(&config_path).map_err(|d| vec![d])?;
    let config = parse_config(&config_path, &text)?;
    let mut diags = Vec::new();
    let files = select(&config, &mut diags);
    let mut scope_rel = None;
    if let Some(scope) = scope {
        let root_abs = std::fs::canonicalize(if config.root.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &config.root
        });
        let scope_abs = std::fs::canonicalize(&scope);
        if let (Ok(r), Ok(s)) = (root_abs, scope_abs)
            && let Ok(rel) = s.strip_prefix(&r)
        {
            let rel = rel.to_string_lossy().replace('\\', "/");
            if !rel.is_empty() {
                scope_rel = Some(rel);
            }
        }
    }
    let refused: Vec<PathBuf> = diags
        .iter()
        .filter(|d| d.is_error())
        .filter_map(|d| d.location.as_ref().map(|l| l.file.clone()))
        .collect();
    let in_scope = |rel: Option<&str>| match (&scope_rel, rel) {
        (None, _) => true,
        (Some(s), Some(f)) => f == s || f.starts_with(&format!("{s}/")),
        (Some(_), None) => false,
    };
    let mut partials = Vec::new();
    for rel in &files {
        let file = display_path(config.root.join(rel));
        if refused.contains(&file) {
            continue;
        }
        load_one(&file, opts, &mut diags, &mut partials, Some(rel));
    }
    let mut targets = Vec::new();
    let mut outside_scope = Vec::new();
    let mut seen: BTreeMap<(String, String), SourceLocation> = BTreeMap::new();
    for (p, rel) in partials {
        let inside = in_scope(rel.as_deref());
        let alias = match resolve_workspace(&config, &p, rel.as_deref()) {
            Ok(a) => a,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        let Some(ws) = config.workspaces.get(&alias) else {
            continue;
        };
        if let Some(t) = finish(p, ws, opts, &mut diags, &mut seen) {
            check_vault_cloud(&config, &t, &mut diags);
            if let Some(d) = location_error(ws, &t) {
                diags.push(d);
            }
            api_version_errors(&t, &mut diags);
            if inside {
                targets.push(t);
            } else {
                outside_scope.push(t);
            }
        }
    }
    if !opts.allow_outside_repo {
        for t in targets.iter().chain(&outside_scope) {
            refuse_outside_secrets(&config.root, t, &mut diags);
        }
    }
    sort_diags(&mut diags);
    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    Ok(Project {
        config,
        targets,
        scope: scope_rel,
        outside_scope,
        diagnostics: diags,
        files,
    })
}

/// `{ file: … }` secrets and key files of `t` that resolve outside `root`: one located error each
/// (the file is not opened).
fn refuse_outside_secrets(root: &Path, t: &Target, diags: &mut Vec<Diagnostic>) {
    for (key, r) in &t.secrets {
        let crate::model::SecretRef::File(path) = r else {
            continue;
        };
        if let Err(reason) = crate::secret::confine(root, path) {
            let at = t
                .key_locations
                .get(key)
                .cloned()
                .unwrap_or_else(|| t.source.clone());
            diags.push(
                Diagnostic::error(
                    Some(at),
                    Some(key.clone()),
                    format!(
                        "`{key}`: secret file {} {reason}; it was not read",
                        path.display()
                    ),
                )
                .with_hint(
                    "keep secret files inside the repository (the folder of amlctl.yaml), use { env: NAME } or { key_vault: URL }, or run with --allow-outside-repo",
                ),
            );
        }
    }
}

/// Orders diagnostics by file and position (stable, so same-place findings keep their order).
fn sort_diags(d: &mut [Diagnostic]) {
    d.sort_by(|a, b| a.location.cmp(&b.location));
}

/// Lexically removes `.` components (keeps `..`).
fn normalize(p: &Path) -> PathBuf {
    p.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect::<PathBuf>()
}

fn load_one(
    file: &Path,
    opts: &crate::LoadOptions,
    diags: &mut Vec<Diagnostic>,
    out: &mut Vec<(Partial, Option<String>)>,
    rel: Option<&String>,
) {
    let text = match read_text(file) {
        Ok(t) => t,
        Err(d) => {
            diags.push(d);
            return;
        }
    };
    for p in parse_text(file, &text, opts, diags) {
        out.push((p, rel.cloned()));
    }
}

/// Parses and validates every document of one manifest file's text.
pub(crate) fn parse_text(
    file: &Path,
    text: &str,
    opts: &crate::LoadOptions,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Partial> {
    let docs = match yaml::parse_documents(file, text) {
        Ok(d) => d,
        Err(d) => {
            diags.push(d);
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for doc in &docs {
        let mut ctx = Ctx::new(file, opts.strict);
        let p = validate::document(&mut ctx, doc);
        diags.append(&mut ctx.diags);
        if let Some(p) = p {
            out.push(p);
        }
    }
    out
}

fn resolve_workspace(
    config: &Config,
    p: &Partial,
    rel: Option<&str>,
) -> Result<String, Diagnostic> {
    let aliases: Vec<String> = config.workspaces.keys().cloned().collect();
    if let Some((alias, node)) = &p.workspace {
        if config.workspaces.contains_key(alias) {
            return Ok(alias.clone());
        }
        return Err(Diagnostic::error(
            Some(node.loc(&p.source.file)),
            Some("workspace".into()),
            format!("undefined workspace `{alias}`"),
        )
        .with_hint(alias_hint(alias, &aliases)));
    }
    if let Some(rel) = rel {
        let folder = rel.rsplit_once('/').map_or("", |(d, _)| d);
        let best = config
            .folders
            .iter()
            .filter(|(f, _)| {
                f.is_empty() || folder == f.as_str() || folder.starts_with(&format!("{f}/"))
            })
            .max_by_key(|(f, _)| f.len());
        if let Some((_, a)) = best {
            return Ok(a.clone());
        }
    }
    if let Some(d) = &config.default_workspace {
        return Ok(d.clone());
    }
    if aliases.len() == 1 {
        return Ok(aliases[0].clone());
    }
    Err(Diagnostic::error(
        Some(p.source.clone()),
        Some("workspace".into()),
        "cannot tell which workspace this compute belongs to".into(),
    )
    .with_hint(format!(
        "add `workspace: <alias>`, a `folders:` mapping or `default_workspace:` to amlctl.yaml ({})",
        aliases.join(", ")
    )))
}

/// Workspace-dependent canonicalisation, duplicate check, and the final [`Target`].
fn finish(
    mut p: Partial,
    ws: &Workspace,
    opts: &crate::LoadOptions,
    diags: &mut Vec<Diagnostic>,
    seen: &mut BTreeMap<(String, String), SourceLocation>,
) -> Option<Target> {
    let file = p.source.file.clone();
    let mut ctx = Ctx::new(&file, opts.strict);
    validate::fold_subnet(&mut ctx, &mut p.spec, ws, &p.source, &p.key_locations);
    if let Some(Value::Object(id)) = p.spec.get_mut("identity")
        && let Some(Value::Array(list)) = id.get_mut("user_assigned_identities")
    {
        list.sort_by(|a, b| {
            let k = |v: &Value| {
                v.get("resource_id")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_ascii_lowercase()
            };
            k(a).cmp(&k(b))
        });
    }
    let failed = ctx.has_errors();
    diags.append(&mut ctx.diags);
    let key = (ws.alias.clone(), p.name.to_ascii_lowercase());
    let here = p.name_node.loc(&file);
    if let Some(first) = seen.get(&key) {
        diags.push(
            Diagnostic::error(
                Some(here),
                Some("name".into()),
                format!(
                    "compute name `{}` is declared twice in workspace `{}`: here and at {first}",
                    p.name, ws.alias
                ),
            )
            .with_hint(format!(
                "rename one of them ({} and {first})",
                file.display()
            )),
        );
        return None;
    }
    seen.insert(key, here);
    if failed {
        return None;
    }
    Some(Target {
        name: p.name,
        compute_type: p.compute_type,
        workspace: ws.alias.clone(),
        spec: p.spec,
        secrets: p.secrets,
        lifecycle: p.lifecycle,
        state: p.state,
        source: p.source,
        key_locations: p.key_locations,
    })
}

/// For `amlctl render FILE...`: loads manifests without `amlctl.yaml`; `ws` is used for every
/// target (alias `default`; a manifest's `workspace:` key is ignored).
pub fn load_files(
    files: &[PathBuf],
    ws: &Workspace,
    opts: &crate::LoadOptions,
) -> Result<(Vec<Target>, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut partials = Vec::new();
    for f in files {
        load_one(f, opts, &mut diags, &mut partials, None);
    }
    let ws = Workspace {
        alias: "default".into(),
        ..ws.clone()
    };
    let mut seen = BTreeMap::new();
    let mut targets = Vec::new();
    for (p, _) in partials {
        if let Some(t) = finish(p, &ws, opts, &mut diags, &mut seen) {
            targets.push(t);
        }
    }
    sort_diags(&mut diags);
    if diags.iter().any(Diagnostic::is_error) {
        Err(diags)
    } else {
        Ok((targets, diags))
    }
}

/// Loads manifest documents from text (no file system access except `{file:}` path joining);
/// the workspace `ws` is used for every target. Used by tests and fuzzing; never panics.
pub fn load_str(
    file: &Path,
    text: &str,
    ws: &Workspace,
    opts: &crate::LoadOptions,
) -> Result<(Vec<Target>, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let partials = parse_text(file, text, opts, &mut diags);
    let mut seen = BTreeMap::new();
    let mut targets = Vec::new();
    for p in partials {
        if let Some(t) = finish(p, ws, opts, &mut diags, &mut seen) {
            targets.push(t);
        }
    }
    sort_diags(&mut diags);
    if diags.iter().any(Diagnostic::is_error) {
        Err(diags)
    } else {
        Ok((targets, diags))
    }
}

/// [`load_str`] on raw bytes (size limit, UTF-8 check first).
pub fn load_bytes(
    file: &Path,
    bytes: &[u8],
    ws: &Workspace,
    opts: &crate::LoadOptions,
) -> Result<(Vec<Target>, Vec<Diagnostic>), Vec<Diagnostic>> {
    let text = yaml::decode(file, bytes).map_err(|d| vec![d])?;
    load_str(file, &text, ws, opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*.yml", "a.yml"));
        assert!(!glob_match("*.yml", "d/a.yml"));
        assert!(glob_match("**/*.yml", "d/e/a.yml"));
        assert!(glob_match("**/*.yml", "a.yml"));
        assert!(glob_match("d/**", "d/e/a.yml"));
        assert!(glob_match("d/?.yaml", "d/a.yaml"));
        assert!(!glob_match("d/?.yaml", "d/ab.yaml"));
        assert!(glob_match("./prod/*", "prod/x.yml"));
    }

    #[test]
    fn norm() {
        assert_eq!(norm_rel("./a/b/"), "a/b");
        assert_eq!(norm_rel("."), "");
    }
}
