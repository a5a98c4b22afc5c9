//! `amlctl export`: one manifest per existing compute target of a workspace.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use amlctl_manifest::{ComputeType, Config, LiveCompute, Project};
use amlctl_vocab::KeyPath;
use serde_json::{Map, Value};

use crate::args::ArmArgs;
use crate::error::{CliError, CliResult, Exit};
use crate::output;
use crate::workflow::{self, ProjectRef};

/// Secret keys a type needs on re-creation, which ARM never returns: exported as `{ env: … }`
/// placeholders (the field table's `export_placeholder` rows).
fn secret_placeholders(t: ComputeType) -> Vec<String> {
    amlctl_manifest::fields::export_placeholders(t)
}

fn env_name(compute: &str, key: &str) -> String {
    let mut s = String::from("AMLCTL_");
    let leaf = KeyPath::parse(key);
    for c in format!("{compute}_{}", leaf.last().unwrap_or(key)).chars() {
        s.push(if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        });
    }
    s
}

/// Builds the manifest document (as JSON) and the comment lines for one live compute.
pub fn manifest_for(live: &LiveCompute, workspace_alias: &str) -> Option<(Value, Vec<String>)> {
    let t = live.compute_type?;
    let mut doc = Map::new();
    doc.insert("name".into(), Value::String(live.name.clone()));
    doc.insert("type".into(), Value::String(t.manifest_name().to_string()));
    doc.insert(
        "workspace".into(),
        Value::String(workspace_alias.to_string()),
    );
    for (k, v) in &live.spec {
        if k == "tags" {
            let mut tags = v.as_object().cloned().unwrap_or_default();
            tags.remove(amlctl_manifest::OWNERSHIP_TAG);
            if !tags.is_empty() {
                doc.insert(k.clone(), Value::Object(tags));
            }
            continue;
        }
        doc.insert(k.clone(), v.clone());
    }
    let mut comments = vec![format!(
        "Exported by amlctl from {} ({}).",
        quoted(&format!("{workspace_alias}/{}", live.name)),
        t.arm_name()
    )];
    for key in secret_placeholders(t) {
        let key = key.as_str();
        let var = env_name(&live.name, key);
        let mut reference = Map::new();
        reference.insert("env".into(), Value::String(var.clone()));
        KeyPath::parse(key).set(&mut doc, Value::Object(reference));
        comments.push(format!(
            "ARM never returns secrets: set {var} before an apply that has to send `{key}`."
        ));
    }
    Some((Value::Object(doc), comments))
}

/// A service string for a comment or a message: double-quoted, with every control character
/// (newlines included), Unicode line separator, quote and backslash escaped, so it stays on one
/// line and cannot end a YAML comment.
pub fn quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                out.extend(c.escape_unicode());
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The file name a compute is exported to: its name with every character other than ASCII
/// letters, digits, `-` and `_` replaced by `_` (so `/`, `\`, `.`, NUL, newlines and other
/// control characters cannot leave `--out` or hide the file), at most 200 characters, `.yaml`.
/// The flag says whether the name had to change.
pub fn file_name_for(name: &str) -> (String, bool) {
    let mut stem: String = name
        .chars()
        .take(200)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if stem.is_empty() {
        stem.push_str("compute");
    }
    let changed = stem != name;
    (format!("{stem}.yaml"), changed)
}

/// What `amlctl export` was asked to do.
#[derive(Debug, Clone, Copy)]
pub struct ExportOptions<'a> {
    /// `--workspace`; `None`: `default_workspace`, or the only workspace.
    pub workspace: Option<&'a str>,
    /// `--out`.
    pub out: Option<&'a Path>,
    /// `--force`: overwrite existing files.
    pub force: bool,
    /// `--include-declared`: also export computes a manifest already declares.
    pub include_declared: bool,
}

/// Runs export: one manifest file per compute of the workspace.
pub async fn run(path: &Path, opts: &ExportOptions<'_>, arm: &ArmArgs) -> CliResult<Exit> {
    let (out, force) = (opts.out, opts.force);
    let project = workflow::load(path, false)?;
    let alias = choose_workspace(&project, opts)?;
    let alias = alias.as_str();
    workflow::check_workspace(&project.config, alias)?;
    let declared: BTreeSet<String> = project
        .targets
        .iter()
        .filter(|t| t.workspace == alias)
        .map(|t| t.name.to_ascii_lowercase())
        .collect();
    let out_dir = match out {
        Some(o) => o.to_path_buf(),
        None => default_out_dir(&project.config),
    };
    let aliases = [alias.to_string()];
    let (_, live) = workflow::with_session(&ProjectRef::of(&project), arm, async |session| {
        Ok(workflow::read_live(session, &project.config, &aliases).await)
    })
    .await?;
    let live = live.map_err(|e| CliError::new(format!("cannot read live state: {e}")))?;
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| CliError::new(format!("cannot create {}: {e}", out_dir.display())))?;
    let mut written = 0;
    let mut failed = false;
    let mut skipped_declared = Vec::new();
    let mut file_names = BTreeSet::new();
    for compute in live.get(alias).into_iter().flatten() {
        if !opts.include_declared && declared.contains(&compute.name.to_ascii_lowercase()) {
            skipped_declared.push(compute.name.clone());
            continue;
        }
        let (file_name, renamed) = file_name_for(&compute.name);
        if renamed {
            output::warning(&format!(
                "{alias}/{}: the name is not a safe file name (path separators, dots or control characters); written as {file_name} (amlctl cannot manage a compute with this name)",
                quoted(&compute.name)
            ));
        }
        // Names differing only in case would overwrite each other on some file systems.
        if !file_names.insert(file_name.to_ascii_lowercase()) {
            output::warning(&format!(
                "{alias}/{}: another compute already writes {file_name}; skipped",
                quoted(&compute.name)
            ));
            continue;
        }
        let Some((doc, comments)) = manifest_for(compute, alias) else {
            output::warning(&format!(
                "{alias}/{}: compute type {} is not one amlctl manages; skipped",
                quoted(&compute.name),
                quoted(
                    compute
                        .raw
                        .pointer("/properties/computeType")
                        .and_then(|v| v.as_str())
                        .unwrap_or("unknown")
                )
            ));
            continue;
        };
        let file = out_dir.join(&file_name);
        if file.exists() && !force {
            output::error(&format!(
                "{} exists; not overwritten (use --force)",
                file.display()
            ));
            failed = true;
            continue;
        }
        let Some(text) = manifest_text(&compute.name, &doc, &comments) else {
            failed = true;
            continue;
        };
        if let Err(e) = std::fs::write(&file, text) {
            output::error(&format!("cannot write {}: {e}", file.display()));
            failed = true;
            continue;
        }
        written += 1;
        output::note(&format!("wrote {}", file.display()));
    }
    if !skipped_declared.is_empty() {
        output::note(&format!(
            "skipped {} compute{} a manifest already declares (use --include-declared to export them too): {}",
            skipped_declared.len(),
            if skipped_declared.len() == 1 { "" } else { "s" },
            skipped_declared
                .iter()
                .map(|n| quoted(n))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    output::print_stdout(&format!(
        "Exported {written} compute target{} of workspace {alias} to {}.",
        if written == 1 { "" } else { "s" },
        out_dir.display()
    ));
    if failed {
        Err(CliError::reported())
    } else {
        Ok(Exit::Ok)
    }
}

/// The workspace to export: `--workspace`, else `default_workspace`, else the only one.
fn choose_workspace(project: &Project, opts: &ExportOptions<'_>) -> CliResult<String> {
    let only = (project.config.workspaces.len() == 1)
        .then(|| project.config.workspaces.keys().next().cloned())
        .flatten();
    let Some(alias) = opts
        .workspace
        .map(str::to_string)
        .or_else(|| project.config.default_workspace.clone())
        .or(only)
    else {
        return Err(CliError::new(format!(
            "which workspace? pass --workspace ALIAS, or set default_workspace in {} (workspaces: {})",
            project.config.path.display(),
            project
                .config
                .workspaces
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    Ok(alias)
}

/// Without `--out`: the first `manifests:` entry of `amlctl.yaml`, up to its first glob segment
/// (`*.yml` → the root itself).
fn default_out_dir(config: &Config) -> PathBuf {
    // The first `manifests:` entry, up to its first glob segment (`*.yml` → the root itself).
    let first = config.manifests.first().cloned().unwrap_or_default();
    let mut dir = config.root.clone();
    for segment in first.split('/') {
        if segment.is_empty() || segment == "." {
            continue;
        }
        if segment.contains(['*', '?', '[', '{']) {
            break;
        }
        dir.push(segment);
    }
    if dir.is_file() {
        dir.pop();
    }
    dir
}

/// The manifest file's text: the schema line, the comments, then the document with every string
/// quoted. `None` (reported) when the YAML cannot be written.
fn manifest_text(name: &str, doc: &Value, comments: &[String]) -> Option<String> {
    // Every string quoted: a service value can never turn into YAML syntax.
    let yaml = match serde_saphyr::to_string_with_options(
        doc,
        serde_saphyr::ser_options! { quote_all: true },
    ) {
        Ok(y) => y,
        Err(e) => {
            output::error(&format!("{}: cannot write YAML: {e}", quoted(name)));
            return None;
        }
    };
    let mut text = String::from(
        "# yaml-language-server: $schema=https://raw.githubusercontent.com/amlctl/amlctl/main/schemas/compute.schema.json\n",
    );
    for c in comments {
        text.push_str(&format!("# {c}\n"));
    }
    text.push_str(&yaml);
    Some(text)
}
