//! Issue #14, the proof: plans against real recorded state. For each recording in
//! `crates/emulator/tests/recordings/` that ends with a `Succeeded` GET, the manifest of
//! `tests/recorded-state/` (the YAML the recording's test sent, reconstructed from its PUT body;
//! see the README there) is planned against that GET, served verbatim by the emulator's
//! `raw_computes` seeding: "No changes", exit 0 with `--detailed-exitcode`. After a recorded
//! update, the updated YAML against the later GET shows no changes, and the scale change alone
//! against the earlier GET is a PATCH and nothing else.

use std::path::Path;

use crate::common::*;
use serde_json::Value;

const SUB: &str = "00000000-0000-0000-0000-000000000000";

/// The response body of entry `index` of a recording.
fn recorded_get(file: &str, index: usize) -> Value {
    let path = repo_root()
        .join("crates/emulator/tests/recordings")
        .join(file);
    let text = std::fs::read_to_string(&path).expect("recording");
    let doc: Value = serde_json::from_str(&text).expect("recording JSON");
    let entry = &doc["entries"][index];
    assert_eq!(entry["method"], "GET", "{file} [{index}]");
    let body = entry["response_body"].clone();
    assert_eq!(
        body["properties"]["provisioningState"], "Succeeded",
        "{file} [{index}] is not a Succeeded GET"
    );
    body
}

/// A repository with one manifest (`tests/recorded-state/{manifest}`) in workspace `mlw-dev`
/// (in the compute's region), and an emulator serving the recorded GET body as that workspace's
/// compute.
fn setup(manifest: &str, file: &str, index: usize) -> (tempfile::TempDir, String, EmulatorProcess) {
    let mut body = recorded_get(file, index);
    let location = body["location"].as_str().expect("location").to_string();
    let name = body["name"].as_str().expect("name").to_string();
    // The recorders sanitised the ids; put the compute in the fixture's workspace.
    body["id"] = Value::String(format!(
        "/subscriptions/{SUB}/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev/computes/{name}"
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("repo");
    std::fs::create_dir_all(root.join("manifests")).expect("mkdir");
    std::fs::write(
        root.join("amlctl.yaml"),
        format!(
            "workspaces:\n  dev:\n    subscription_id: {SUB}\n    resource_group: rg-ml\n    workspace: mlw-dev\n    location: {location}\ndefault_workspace: dev\nmanifests: [manifests]\n"
        ),
    )
    .expect("amlctl.yaml");
    let src = repo_root().join("tests/recorded-state").join(manifest);
    std::fs::copy(&src, root.join("manifests").join(manifest)).expect("copy manifest");
    let fixture = dir.path().join("fixture.yaml");
    let raw = serde_json::json!({"workspace": "mlw-dev", "name": name, "body": body});
    std::fs::write(
        &fixture,
        format!(
            "workspaces:\n  - {{subscription_id: {SUB}, resource_group: rg-ml, name: mlw-dev, location: {location}}}\nraw_computes:\n  - {raw}\n"
        ),
    )
    .expect("fixture");
    let emu = EmulatorProcess::start(dir.path(), &fixture, &[]);
    (dir, root.to_string_lossy().to_string(), emu)
}

fn plan(root: &str, emu: &EmulatorProcess, code: i32) -> (String, Value) {
    let out = run(&emu.url, &["plan", root, "--detailed-exitcode"], code);
    let text = stdout(&out) + &stderr(&out);
    let json = run(
        &emu.url,
        &["plan", root, "--format", "json", "--detailed-exitcode"],
        code,
    );
    let v: Value = serde_json::from_str(&stdout(&json)).expect("plan JSON");
    (text, v)
}

fn assert_no_changes(manifest: &str, file: &str, index: usize) {
    let (_dir, root, emu) = setup(manifest, file, index);
    let (text, _) = plan(&root, &emu, 0);
    assert!(
        text.contains("No changes"),
        "{manifest} against {file} [{index}]:\n{text}"
    );
}

#[test]
fn every_recorded_succeeded_get_plans_no_changes_against_its_yaml() {
    let cases: &[(&str, &str, usize)] = &[
        ("cli-aml-create.yml", "cli-ml-compute_aml-2023-01.json", 2),
        ("cli-aml-updated.yml", "cli-ml-compute_aml-2023-01.json", 7),
        (
            "cli-aml-no-location.yml",
            "cli-ml-compute_aml_no_location-2023-01.json",
            4,
        ),
        (
            "cli-list-nodes.yml",
            "cli-ml-compute_list_nodes-2023-01.json",
            3,
        ),
        ("ps-new.yml", "ps-New-AzMLWorkspaceCompute-2025-11.json", 2),
        ("ps-new.yml", "ps-New-AzMLWorkspaceCompute-2025-11.json", 5),
        (
            "py-aml-2022-08-idle100.yml",
            "py-aiml-aml_compute_create_and_delete-2022-08.json",
            3,
        ),
        (
            "py-aml-2022-08-idle200.yml",
            "py-aiml-aml_compute_create_and_delete-2022-08.json",
            7,
        ),
        (
            "py-aml-2023-10-idle100.yml",
            "py-aiml-aml_compute_create_and_delete-2023-10.json",
            3,
        ),
        (
            "py-aml-2023-10-idle200.yml",
            "py-aiml-aml_compute_create_and_delete-2023-10.json",
            8,
        ),
        (
            "cli-ci-schedules.yml",
            "cli-ml-compute_instance_with_schedules-2023-01.json",
            7,
        ),
        (
            "py-ci.yml",
            "py-aiml-ci_stop_start_restart-2022-10.json",
            11,
        ),
        (
            "py-ci.yml",
            "py-aiml-ci_stop_start_restart-2022-10.json",
            16,
        ),
        (
            "py-ci.yml",
            "py-aiml-ci_stop_start_restart-2022-10.json",
            23,
        ),
    ];
    for (manifest, file, index) in cases {
        assert_no_changes(manifest, file, *index);
    }
}

/// The PATCH-only plan of `manifest` against entry `index` of `file`, with the changed keys.
fn patch_only(manifest: &str, file: &str, index: usize, keys: &[&str]) {
    let (_dir, root, emu) = setup(manifest, file, index);
    let (text, v) = plan(&root, &emu, 2);
    let entries = v["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{text}");
    let e = &entries[0];
    assert_eq!(e["actions"], serde_json::json!(["update"]), "{text}");
    let methods: Vec<&str> = e["request"]
        .as_array()
        .expect("request")
        .iter()
        .filter_map(|s| s["method"].as_str())
        .collect();
    assert_eq!(methods, ["PATCH"], "{text}");
    let mut changed: Vec<&str> = e["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["key"].as_str())
        .collect();
    changed.sort_unstable();
    assert_eq!(changed, keys, "{text}");
}

#[test]
fn a_recorded_scale_change_alone_is_a_patch_and_nothing_else() {
    patch_only(
        "cli-aml-scaled.yml",
        "cli-ml-compute_aml-2023-01.json",
        2,
        &[
            "idle_time_before_scale_down",
            "max_instances",
            "min_instances",
        ],
    );
    patch_only(
        "py-aml-2023-10-idle200.yml",
        "py-aiml-aml_compute_create_and_delete-2023-10.json",
        3,
        &["idle_time_before_scale_down"],
    );
}

#[test]
fn the_manifests_name_their_recordings() {
    let dir = repo_root().join("tests/recorded-state");
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("README");
    for entry in std::fs::read_dir(&dir).expect("dir").flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if Path::new(&name).extension().is_some_and(|e| e == "yml") {
            assert!(readme.contains(&name), "README.md does not name {name}");
        }
    }
}
