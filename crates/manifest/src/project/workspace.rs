//! Which workspace a manifest belongs to, and the workspace-dependent finish of a target.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::diag::Diagnostic;
use crate::model::{SourceLocation, Target, Workspace};
use crate::validate::{self, Ctx, Partial};

use super::Config;
use super::config::alias_hint;

pub(super) fn resolve_workspace(
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
pub(super) fn finish(
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
