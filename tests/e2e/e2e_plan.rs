//! End-to-end: `amlctl plan` against `amlctl emulator serve` with every service quirk on
//! (issue: `amlctl plan`). State is created through the emulator by `amlctl apply`, then one key
//! per policy class is changed and the plan must show exactly that change with the right action.

use crate::common::*;
use serde_json::Value;

fn root(project: &Project) -> String {
    project.root.to_string_lossy().to_string()
}

/// `plan --format json` parsed.
fn plan_json(url: &str, args: &[&str], code: i32) -> Value {
    let mut all = vec!["plan"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json", "--detailed-exitcode"]);
    let out = run(url, &all, code);
    serde_json::from_slice(&out.stdout).expect("plan JSON")
}

/// The entry for `address`.
fn entry<'a>(plan: &'a Value, address: &str) -> &'a Value {
    plan["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["address"] == address)
        .unwrap_or_else(|| panic!("no entry {address} in {plan}"))
}

/// Addresses of entries whose actions are not just no-op.
fn changed(plan: &Value) -> Vec<String> {
    plan["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["actions"] != serde_json::json!(["no_op"]))
        .map(|e| e["address"].as_str().unwrap_or("").to_string())
        .collect()
}

fn edit(project: &Project, needle: &str, from: &str, to: &str) {
    let file = manifest_with(project, needle);
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(text.contains(from), "{} has no {from:?}", file.display());
    std::fs::write(&file, text.replacen(from, to, 1)).expect("write");
}

#[test]
fn quirks_all_on_produce_no_noise() {
    let (project, emu) = applied_example(&["--quirks", "all"]);
    let gets_before = emu.count("GET", "/computes/");
    let lists_before = emu.count("GET", "/computes");
    let plan = plan_json(&emu.url, &[&root(&project)], 0);
    assert!(changed(&plan).is_empty(), "{plan}");
    // One list per workspace, no GET per target.
    let gets = emu.count("GET", "/computes/") - gets_before;
    let lists = emu.count("GET", "/computes") - lists_before - gets;
    assert_eq!(gets, 0, "no GET of single computes during plan: {gets}");
    assert_eq!(lists, 2, "one list per workspace");
    assert_eq!(plan["has_changes"], false);
    // The quirks really were on: the service upper-cased a VM size.
    let ws_path = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev";
    let (status, body) = http_send(
        "GET",
        &format!(
            "{}{ws_path}/computes/cpu-cluster?api-version=2025-12-01",
            emu.url
        ),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("STANDARD_DS3_V2"),
        "quirk upper-vm-size active: {body}"
    );
}

#[test]
fn in_place_patch_for_scale_settings() {
    let (project, emu) = applied_example(&["--quirks", "all"]);
    edit(
        &project,
        "name: cpu-cluster",
        "max_instances: 4",
        "max_instances: 6",
    );
    edit(
        &project,
        "name: cpu-cluster",
        "idle_time_before_scale_down: 120",
        "idle_time_before_scale_down: 300",
    );
    let plan = plan_json(&emu.url, &[&root(&project)], 2);
    assert_eq!(changed(&plan), vec!["dev/cpu-cluster".to_string()]);
    let e = entry(&plan, "dev/cpu-cluster");
    assert_eq!(e["actions"], serde_json::json!(["update"]));
    let keys: Vec<&str> = e["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| c["key"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        keys,
        vec!["max_instances", "idle_time_before_scale_down"],
        "{e}"
    );
    assert_eq!(e["request"][0]["method"], "PATCH");
    assert_eq!(
        e["request"][0]["body"]["properties"]["properties"]["scaleSettings"]["nodeIdleTimeBeforeScaleDown"],
        "PT5M"
    );
}

#[test]
fn in_place_put_for_tags_and_description() {
    let (project, emu) = applied_example(&["--quirks", "all"]);
    edit(
        &project,
        "name: cpu-cluster",
        "team: ml-platform",
        "team: research",
    );
    edit(
        &project,
        "name: cpu-cluster",
        "description: CPU training cluster",
        "description: CPU cluster",
    );
    let plan = plan_json(&emu.url, &[&root(&project)], 2);
    assert_eq!(changed(&plan), vec!["dev/cpu-cluster".to_string()]);
    let e = entry(&plan, "dev/cpu-cluster");
    assert_eq!(e["actions"], serde_json::json!(["update"]));
    assert_eq!(e["request"][0]["method"], "PUT");
    run(&emu.url, &["apply", &root(&project), "--auto-approve"], 0);
    plan_json(&emu.url, &[&root(&project)], 0);
}

#[test]
fn replace_for_vm_size_is_gated_and_explained() {
    let (project, emu) = applied_example(&["--quirks", "all"]);
    edit(
        &project,
        "name: alice-notebook",
        "size: Standard_DS3_v2",
        "size: Standard_E4s_v3",
    );
    let plan = plan_json(&emu.url, &[&root(&project)], 1);
    let errors = plan["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{plan}");
    assert_eq!(errors[0]["address"], "dev/alice-notebook");
    let msg = errors[0].to_string();
    assert!(
        msg.contains("allow_replace") && msg.contains("--replace"),
        "{msg}"
    );

    let plan = plan_json(
        &emu.url,
        &[&root(&project), "--replace", "alice-notebook"],
        2,
    );
    let e = entry(&plan, "dev/alice-notebook");
    assert_eq!(e["actions"], serde_json::json!(["replace"]));
    let methods: Vec<&str> = e["request"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["method"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(methods[..2], ["DELETE", "PUT"]);
}

#[test]
fn secrets_and_ignored_keys_never_show_as_changes() {
    let (project, emu) = applied_example(&["--quirks", "all"]);
    // A different secret value: write-only, never diffable.
    let mut c = cmd(
        &emu.url,
        &[
            "plan",
            &root(&project),
            "--detailed-exitcode",
            "--format",
            "json",
        ],
    );
    c.env("DSVM_ADMIN_PASSWORD", "an-entirely-different-value");
    let out = c.output().expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The notebook ignores changes to its schedules.
    edit(
        &project,
        "name: alice-notebook",
        "expression: 0 19 * * *",
        "expression: 0 20 * * *",
    );
    plan_json(&emu.url, &[&root(&project)], 0);
}

#[test]
fn compute_instance_state_drives_start_and_stop() {
    let (project, emu) = applied_example(&["--quirks", "all"]);
    edit(
        &project,
        "name: alice-notebook",
        "state: running",
        "state: stopped",
    );
    let plan = plan_json(&emu.url, &[&root(&project)], 2);
    let e = entry(&plan, "dev/alice-notebook");
    assert_eq!(e["actions"], serde_json::json!(["stop"]));
    assert!(
        e["request"][0]["path"]
            .as_str()
            .unwrap_or("")
            .ends_with("/stop")
    );
    run(&emu.url, &["apply", &root(&project), "--auto-approve"], 0);
    plan_json(&emu.url, &[&root(&project)], 0);
    edit(
        &project,
        "name: alice-notebook",
        "state: stopped",
        "state: running",
    );
    let plan = plan_json(&emu.url, &[&root(&project)], 2);
    assert_eq!(
        entry(&plan, "dev/alice-notebook")["actions"],
        serde_json::json!(["start"])
    );
}

#[test]
fn busy_compute_is_waited_for() {
    let project = Project::example();
    let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &["--lro-ms", "60000"]);
    let r = root(&project);
    // Create one cluster directly; it stays Creating for a minute.
    let ws_path = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev";
    let (status, body) = http_send(
        "PUT",
        &format!(
            "{}{ws_path}/computes/cpu-cluster?api-version=2025-12-01",
            emu.url
        ),
        Some(
            &serde_json::json!({"location": "eastus", "properties": {"computeType": "AmlCompute",
            "properties": {"vmSize": "Standard_DS3_v2", "scaleSettings": {"maxNodeCount": 4, "minNodeCount": 0}}}}),
        ),
    );
    assert!(status < 300, "{status} {body}");
    let plan = plan_json(&emu.url, &[&r, "--target", "cpu-cluster"], 2);
    let e = entry(&plan, "dev/cpu-cluster");
    assert_eq!(e["actions"], serde_json::json!(["wait"]));
    assert!(
        e["reason"].as_str().unwrap_or("").contains("Creating"),
        "{e}"
    );
    assert!(e["request"].as_array().is_none_or(|s| s.is_empty()));
}

#[test]
fn filters_select_targets_and_workspaces() {
    let project = Project::example();
    let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &[]);
    let r = root(&project);
    let plan = plan_json(&emu.url, &[&r, "--target", "cpu-cluster"], 2);
    assert_eq!(changed(&plan), vec!["dev/cpu-cluster".to_string()]);
    let plan = plan_json(&emu.url, &[&r, "--workspace", "prod"], 2);
    assert!(
        changed(&plan).iter().all(|a| a.starts_with("prod/")),
        "{plan}"
    );
    assert!(!changed(&plan).is_empty());
    let out = run(&emu.url, &["plan", &r, "--workspace", "nope"], 1);
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
}

#[test]
fn markdown_and_step_summary() {
    let project = Project::example();
    let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &[]);
    let summary = project.dir.path().join("summary.md");
    let mut c = cmd(&emu.url, &["plan", &root(&project), "--format", "markdown"]);
    c.env("GITHUB_STEP_SUMMARY", &summary);
    let out = c.output().expect("run");
    assert_eq!(out.status.code(), Some(0));
    let md = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(md.contains("<details>"), "{md}");
    let appended = std::fs::read_to_string(&summary).expect("summary written");
    assert!(appended.contains("to add"), "{appended}");
}
