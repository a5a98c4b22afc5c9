//! Loading: the public entry points that read `amlctl.yaml` and manifests into targets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;
use crate::model::{SourceLocation, Target, Workspace};
use crate::validate::{self, Ctx, Partial};
use crate::yaml::{self, MAX_FILE_BYTES};

use super::checks::{
    api_version_errors, check_vault_cloud, location_error, refuse_outside_secrets,
};
use super::config::parse_config;
use super::discover::{display_path, locate_config, normalize};
use super::select::select;
use super::workspace::{finish, resolve_workspace};
use super::{Config, Project};

pub(super) fn read_text(file: &Path) -> Result<String, Diagnostic> {
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

/// Orders diagnostics by file and position (stable, so same-place findings keep their order).
pub(super) fn sort_diags(d: &mut [Diagnostic]) {
    d.sort_by(|a, b| a.location.cmp(&b.location));
}

pub(super) fn load_one(
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
