//! `amlctl export`: one manifest per existing compute target of a workspace.

use std::collections::BTreeSet;
use std::path::Path;

use amlctl_manifest::{ComputeType, LiveCompute};
use serde_json::{Map, Value};

use crate::args::ArmArgs;
use crate::context::{self, ProjectRef};
use crate::output;

/// Secret keys a type needs on re-creation, which ARM never returns: exported as `{ env: … }` placeholders.
fn secret_placeholders(t: ComputeType) -> &'static [&'static str] {
    match t {
        ComputeType::VirtualMachine | ComputeType::HdInsight => &["ssh_settings.admin_password"],
        ComputeType::Databricks => &["access_token"],
        _ => &[],
    }
}

fn env_name(compute: &str, key: &str) -> String {
    let mut s = String::from("AMLCTL_");
    for c in format!("{compute}_{}", key.rsplit('.').next().unwrap_or(key)).chars() {
        s.push(if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        });
    }
    s
}

/// Sets `doc[a][b]… = value` for the dotted `key`, creating objects on the way.
fn insert_path(doc: &mut Map<String, Value>, key: &str, value: Value) {
    match key.split_once('.') {
        None => {
            doc.insert(key.to_string(), value);
        }
        Some((head, rest)) => {
            let entry = doc
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(inner) = entry {
                insert_path(inner, rest, value);
            }
        }
    }
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
        "Exported by amlctl from {}/{} ({}).",
        workspace_alias,
        live.name,
        t.arm_name()
    )];
    for key in secret_placeholders(t) {
        let var = env_name(&live.name, key);
        let mut reference = Map::new();
        reference.insert("env".into(), Value::String(var.clone()));
        insert_path(&mut doc, key, Value::Object(reference));
        comments.push(format!(
            "ARM never returns secrets: set {var} before an apply that has to send `{key}`."
        ));
    }
    Some((Value::Object(doc), comments))
}

/// Runs export; returns the exit code.
pub async fn run(path: &Path, alias: &str, out: Option<&Path>, force: bool, arm: &ArmArgs) -> u8 {
    let Some(project) = crate::commands::load(path, false) else {
        return 1;
    };
    if !crate::commands::check_workspace(&project.config, alias) {
        return 1;
    }
    let out_dir = match out {
        Some(o) => o.to_path_buf(),
        None => {
            // The first `manifests:` entry, up to its first glob segment (`*.yml` → the root itself).
            let first = project
                .config
                .manifests
                .first()
                .cloned()
                .unwrap_or_default();
            let mut dir = project.config.root.clone();
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
    };
    let session = match context::connect(&ProjectRef::of(&project), arm).await {
        Ok(s) => s,
        Err(e) => {
            output::error(&e);
            return 1;
        }
    };
    let mut workspaces = project.config.workspaces.clone();
    let aliases = BTreeSet::from([alias.to_string()]);
    let live = context::read_live(&session, &mut workspaces, &aliases).await;
    session.close().await;
    let live = match live {
        Ok(l) => l,
        Err(e) => {
            output::error(&format!("cannot read live state: {e}"));
            return 1;
        }
    };
    if let Err(e) = std::fs::create_dir_all(&out_dir) {
        output::error(&format!("cannot create {}: {e}", out_dir.display()));
        return 1;
    }
    let mut written = 0;
    let mut failed = false;
    for compute in live.get(alias).into_iter().flatten() {
        let Some((doc, comments)) = manifest_for(compute, alias) else {
            output::warning(&format!(
                "{}/{}: compute type {} is not one amlctl manages; skipped",
                alias,
                compute.name,
                compute
                    .raw
                    .pointer("/properties/computeType")
                    .and_then(|v| v.as_str())
                    .unwrap_or("unknown")
            ));
            continue;
        };
        let file = out_dir.join(format!("{}.yaml", compute.name));
        if file.exists() && !force {
            output::error(&format!(
                "{} exists; not overwritten (use --force)",
                file.display()
            ));
            failed = true;
            continue;
        }
        let yaml = match serde_saphyr::to_string(&doc) {
            Ok(y) => y,
            Err(e) => {
                output::error(&format!("{}: cannot write YAML: {e}", compute.name));
                failed = true;
                continue;
            }
        };
        let mut text = String::from(
            "# yaml-language-server: $schema=https://raw.githubusercontent.com/amlctl/amlctl/main/schemas/compute.schema.json\n",
        );
        for c in comments {
            text.push_str(&format!("# {c}\n"));
        }
        text.push_str(&yaml);
        if let Err(e) = std::fs::write(&file, text) {
            output::error(&format!("cannot write {}: {e}", file.display()));
            failed = true;
            continue;
        }
        written += 1;
        output::note(&format!("wrote {}", file.display()));
    }
    output::print_stdout(&format!(
        "Exported {written} compute target{} of workspace {alias} to {}.",
        if written == 1 { "" } else { "s" },
        out_dir.display()
    ));
    if failed { 1 } else { 0 }
}
