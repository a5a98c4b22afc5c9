//! Issue #14 rule 3: the api-version follows the manifest. The example compute instance writes
//! `idle_time_before_shutdown_minutes` and `enable_sso`, which api-version 2025-12-01 does not
//! define (the realistic emulator drops them, as the service does); it is sent at 2026-09-01,
//! the newest stable version defining both, and the plan JSON shows that version.

use crate::common::*;

const CI: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev/computes/alice-notebook";

#[test]
fn the_plan_sends_the_instance_at_a_version_that_defines_its_keys() {
    let project = Project::example();
    let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &[]);
    let root = project.root.to_string_lossy().to_string();
    let out = run(
        &emu.url,
        &[
            "plan",
            &root,
            "--target",
            "alice-notebook",
            "--format",
            "json",
        ],
        0,
    );
    let plan: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("plan JSON");
    let text = plan.to_string();
    let put = plan["entries"]
        .as_array()
        .and_then(|es| es.iter().find(|e| e["name"] == "alice-notebook"))
        .and_then(|e| e["request"].as_array())
        .and_then(|s| s.iter().find(|s| s["method"] == "PUT"))
        .unwrap_or_else(|| panic!("no PUT for alice-notebook: {text}"));
    assert_eq!(put["query"]["api-version"], "2026-09-01", "{put}");

    run(&emu.url, &["apply", &root, "--auto-approve"], 0);
    // Read back at the same version: the keys were kept, not dropped.
    let (status, body) = http_send(
        "GET",
        &format!("{}{CI}?api-version=2026-09-01", emu.url),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    let p = &v["properties"]["properties"];
    assert_eq!(p["idleTimeBeforeShutdown"], "PT60M", "{body}");
    assert_eq!(p["enableSSO"], true, "{body}");
}

#[test]
fn a_key_only_a_preview_defines_is_a_validate_error_naming_the_versions() {
    let project = Project::example();
    let file = manifest_with(&project, "name: alice-notebook");
    let mut text = std::fs::read_to_string(&file).expect("read");
    text.push_str("enable_root_access: false\n");
    std::fs::write(&file, text).expect("write");
    let root = project.root.to_string_lossy().to_string();
    let out = run("http://127.0.0.1:9", &["validate", &root], 1);
    let all = stdout(&out) + &stderr(&out);
    assert!(all.contains("enable_root_access"), "{all}");
    assert!(all.contains("2023-08-01-preview"), "{all}");
    assert!(all.contains("notebook-ci.yml:"), "{all}");
}
