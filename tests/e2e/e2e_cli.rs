//! End-to-end: the commands that need no Azure (`validate`, `render`, `schema`, `completions`,
//! `man`), run as the real binary.

use std::path::Path;
use std::process::Command;

use crate::common::*;
use serde_json::Value;

fn amlctl_out(args: &[&str]) -> std::process::Output {
    Command::new(amlctl())
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run amlctl")
}

#[test]
fn validate_accepts_the_example_repository() {
    let out = amlctl_out(&["validate", &repo_root().join("manifests").to_string_lossy()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("valid: 13 compute targets in 2 workspaces"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn validate_rejects_each_bad_manifest_with_a_located_message() {
    let dir = repo_root().join("tests/bad-manifests");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus").flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "yml") {
            continue;
        }
        // Each corpus file stands alone: give it a one-workspace amlctl.yaml in a temp repo.
        let tmp = tempfile::tempdir().expect("tmp");
        std::fs::write(
            tmp.path().join("amlctl.yaml"),
            "workspaces:\n  dev:\n    subscription_id: 00000000-0000-0000-0000-000000000000\n    resource_group: rg\n    workspace: ws\n",
        )
        .expect("config");
        let file_name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        std::fs::copy(&path, tmp.path().join(&file_name)).expect("copy");
        let mut args = vec![
            "validate".to_string(),
            tmp.path().to_string_lossy().to_string(),
        ];
        if file_name.contains("strict") {
            args.push("--strict".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = amlctl_out(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{file_name}: {err}");
        let located = err
            .lines()
            .any(|l| l.contains(&format!("{file_name}:")) && l.contains(": error:"));
        assert!(located, "{file_name}: no file:line:col error in\n{err}");
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} corpus files");
}

/// Removes what amlctl adds on purpose (documented in docs/compatibility.md): `location` and
/// the ownership tag (and then an empty `tags`).
fn strip_amlctl_additions(body: &mut Value) {
    if let Some(obj) = body.as_object_mut() {
        obj.remove("location");
        if let Some(tags) = obj.get_mut("tags").and_then(Value::as_object_mut) {
            tags.remove(amlctl_manifest_tag());
            if tags.is_empty() {
                obj.remove("tags");
            }
        }
    }
}

/// Replaces the value of every secret-bearing ARM key with the placeholder render prints.
fn redact(v: &mut Value) {
    const SECRET_KEYS: &[&str] = &[
        "password",
        "adminUserPassword",
        "privateKeyData",
        "databricksAccessToken",
    ];
    match v {
        Value::Object(map) => {
            for (k, inner) in map.iter_mut() {
                if SECRET_KEYS.contains(&k.as_str()) && inner.is_string() {
                    *inner = Value::String("<redacted>".into());
                } else {
                    redact(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

fn amlctl_manifest_tag() -> &'static str {
    "managed-by"
}

#[test]
fn render_matches_azure_ai_ml_bodies_for_the_published_examples() {
    let golden = repo_root().join("crates/manifest/tests/golden");
    let examples = golden.join("azureml-examples/cli-resources-compute");
    let mut compared = 0;
    for entry in std::fs::read_dir(&examples).expect("examples").flatten() {
        let yml = entry.path();
        let stem = yml.file_stem().expect("stem").to_string_lossy().to_string();
        let rest = golden.join(format!(
            "golden-azure-ai-ml-1.35.2/azureml-examples/cli-resources-compute/{stem}.rest.json"
        ));
        // Every published example has its azure-ai-ml golden: a missing one is a broken corpus,
        // not an example to skip.
        let text = std::fs::read_to_string(&rest)
            .unwrap_or_else(|e| panic!("{stem}: no golden at {}: {e}", rest.display()));
        let want: Value = serde_json::from_str(&text).expect("golden JSON");
        let Some(want_body) = want.get("rest_body") else {
            continue; // the SDK rejects this one; the manifest crate's tests cover the rejection
        };
        // Example files may reference others relative to their folder (ssh keys): run there.
        let out = Command::new(amlctl())
            .current_dir(yml.parent().unwrap_or(Path::new(".")))
            .args([
                "render",
                &yml.to_string_lossy(),
                "--resource-group",
                "my-rg",
            ])
            .output()
            .expect("render");
        if out.status.code() != Some(0) {
            // Names the service would reject are renamed by the manifest crate's golden test.
            assert!(stderr(&out).contains("name"), "{stem}: {}", stderr(&out));
            continue;
        }
        let rendered: Value = serde_json::from_slice(&out.stdout).expect("render JSON");
        let mut body = rendered[0]["body"].clone();
        strip_amlctl_additions(&mut body);
        let mut want_body = want_body.clone();
        strip_amlctl_additions(&mut want_body);
        // Secrets are redacted in render output.
        redact(&mut want_body);
        assert_eq!(body, want_body, "{stem}");
        assert_eq!(rendered[0]["method"], "PUT");
        assert!(
            rendered[0]["path"]
                .as_str()
                .is_some_and(|p| p.contains("/resourceGroups/my-rg/")),
            "{stem}"
        );
        compared += 1;
    }
    assert!(compared >= 10, "only {compared} examples compared");
}

#[test]
fn schema_command_prints_the_checked_in_schemas() {
    for (args, file) in [
        (vec!["schema"], "schemas/compute.schema.json"),
        (vec!["schema", "--config"], "schemas/amlctl.schema.json"),
    ] {
        let out = amlctl_out(&args);
        assert_eq!(out.status.code(), Some(0));
        let printed: Value = serde_json::from_slice(&out.stdout).expect("schema JSON");
        let checked_in: Value =
            serde_json::from_str(&std::fs::read_to_string(repo_root().join(file)).expect("read"))
                .expect("json");
        assert_eq!(printed, checked_in, "{file} is stale");
    }
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = amlctl_out(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        assert!(
            stdout(&out).contains("plan"),
            "{shell} completion names the plan command"
        );
    }
    let out = amlctl_out(&["man"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains(".TH amlctl"), "roff header");
}

#[test]
fn local_is_not_a_compute_target() {
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("local.yml");
    std::fs::write(&file, "name: local-run\ntype: local\n").expect("write");
    let out = amlctl_out(&["render", &file.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("local is not a compute target"),
        "{}",
        stderr(&out)
    );
}

/// The README's first command, on a copy of the example: a real plan against the embedded emulator.
#[test]
fn sandbox_plan_apply_plan() {
    let project = Project::example();
    let r = project.root.to_string_lossy().to_string();
    let sandbox = |args: &[&str]| {
        let mut c = Command::new(amlctl());
        c.args(args)
            .arg("--sandbox")
            .env("NO_COLOR", "1")
            .env_remove("AMLCTL_ARM_ENDPOINT")
            .env_remove("GITHUB_STEP_SUMMARY");
        for (k, v) in SECRET_ENV {
            c.env(k, v);
        }
        c.output().expect("run")
    };
    let out = sandbox(&["plan", &r, "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stdout(&out).contains("Plan: 13 to add, 0 to change, 0 to destroy."));
    assert!(stderr(&out).contains("sandbox: embedded ARM emulator"));
    let out = sandbox(&["apply", &r, "--auto-approve"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(project.root.join(".amlctl/sandbox.json").is_file());
    let out = sandbox(&["plan", &r, "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}
