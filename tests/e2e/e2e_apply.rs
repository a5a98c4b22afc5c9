//! End-to-end: `amlctl apply` against `amlctl emulator serve` over HTTP (issue: `amlctl apply`).

use std::time::Duration;

use crate::common::*;

fn root(project: &Project) -> String {
    project.root.to_string_lossy().to_string()
}

#[test]
fn fresh_apply_then_second_apply_is_a_noop_and_plan_is_clean() {
    let project = Project::example();
    let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &["--lro-ms", "50"]);
    let r = root(&project);

    let out = run(&emu.url, &["apply", &r, "--auto-approve"], 0);
    let text = stdout(&out);
    assert!(text.contains("Apply complete:"), "{text}");
    assert!(
        !text.contains(" 0 added"),
        "the first apply must create things: {text}"
    );

    // Every compute type of the example landed.
    let state = emu.get_json("/_emulator/state");
    let state_text = state.to_string();
    for t in [
        "AmlCompute",
        "ComputeInstance",
        "VirtualMachine",
        "HDInsight",
        "Databricks",
        "DataLakeAnalytics",
        "Kubernetes",
        "SynapseSpark",
        "AKS",
        "DataFactory",
        "Batch",
    ] {
        assert!(
            state_text.contains(&format!("\"computeType\":\"{t}\"")),
            "{t} missing from emulator state"
        );
    }

    let puts_after_first = emu.count("PUT", "/computes/");
    let out = run(&emu.url, &["apply", &r, "--auto-approve"], 0);
    assert!(
        stdout(&out).contains("Apply complete: 0 added, 0 changed, 0 destroyed."),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        emu.count("PUT", "/computes/"),
        puts_after_first,
        "no PUT on a no-op apply"
    );
    run(&emu.url, &["plan", &r, "--detailed-exitcode"], 0);
}

#[test]
fn scale_change_is_applied_in_place_by_patch() {
    let (project, emu) = applied_example(&[]);
    let r = root(&project);

    let file = manifest_with(&project, "name: cpu-cluster");
    let text = std::fs::read_to_string(&file).expect("read");
    let name = yaml_value(&text, "name");
    let old: i64 = yaml_value(&text, "max_instances").parse().expect("int");
    let changed = text.replace(
        &format!("max_instances: {old}"),
        &format!("max_instances: {}", old + 3),
    );
    std::fs::write(&file, changed).expect("write");

    let out = run(&emu.url, &["plan", &r, "--detailed-exitcode"], 2);
    let plan = stdout(&out);
    assert!(plan.contains(&name), "{plan}");
    assert!(
        plan.contains(&format!("{old} → {}", old + 3))
            || plan.contains(&format!("{old} -> {}", old + 3)),
        "{plan}"
    );
    let puts = emu.count("PUT", "/computes/");
    run(&emu.url, &["apply", &r, "--auto-approve"], 0);
    assert_eq!(
        emu.count("PATCH", &format!("/computes/{name}")),
        1,
        "one PATCH"
    );
    assert_eq!(
        emu.count("PUT", "/computes/"),
        puts,
        "no PUT for a scale change"
    );
    run(&emu.url, &["plan", &r, "--detailed-exitcode"], 0);
}

#[test]
fn replace_is_gated_then_allowed_with_replace_flag() {
    let (project, emu) = applied_example(&[]);
    let r = root(&project);

    let file = manifest_with(&project, "name: cpu-cluster");
    let text = std::fs::read_to_string(&file).expect("read");
    let name = yaml_value(&text, "name");
    let size = yaml_value(&text, "size");
    std::fs::write(
        &file,
        text.replace(&format!("size: {size}"), "size: Standard_NC24ads_A100_v4"),
    )
    .expect("write");

    let out = run(&emu.url, &["plan", &r, "--detailed-exitcode"], 1);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains("allow_replace") && all.contains("--replace"),
        "{all}"
    );
    let deletes = emu.count("DELETE", "/computes/");
    let out = run(&emu.url, &["apply", &r, "--auto-approve"], 1);
    assert_eq!(
        emu.count("DELETE", "/computes/"),
        deletes,
        "nothing deleted when gated: {}",
        stderr(&out)
    );

    run(
        &emu.url,
        &["apply", &r, "--auto-approve", "--replace", &name],
        0,
    );
    assert_eq!(emu.count("DELETE", &format!("/computes/{name}")), 1);
    let live = emu.get_json("/_emulator/state").to_string();
    assert!(live.contains("Standard_NC24ads_A100_v4"), "new size live");
    run(&emu.url, &["plan", &r, "--detailed-exitcode"], 0);
}

#[test]
fn saved_plan_is_refused_when_live_state_changed() {
    let (project, emu) = applied_example(&[]);
    let r = root(&project);

    let file = manifest_with(&project, "name: cpu-cluster");
    let text = std::fs::read_to_string(&file).expect("read");
    let name = yaml_value(&text, "name");
    let old: i64 = yaml_value(&text, "max_instances").parse().expect("int");
    std::fs::write(
        &file,
        text.replace(
            &format!("max_instances: {old}"),
            &format!("max_instances: {}", old + 1),
        ),
    )
    .expect("write");
    let plan_file = project.dir.path().join("plan.json");
    let pf = plan_file.to_string_lossy().to_string();
    run(
        &emu.url,
        &["plan", &r, "--out", &pf, "--detailed-exitcode"],
        2,
    );

    // Someone changes the same cluster behind our back (from another checkout); the
    // manifests here are back as they were when the plan was made, so only live state moved.
    let planned = std::fs::read_to_string(&file).expect("read");
    std::fs::write(
        &file,
        text.replace(
            &format!("max_instances: {old}"),
            &format!("max_instances: {}", old + 2),
        ),
    )
    .expect("write");
    run(&emu.url, &["apply", &r, "--auto-approve"], 0);
    std::fs::write(&file, planned).expect("write");

    let patches = emu.count("PATCH", "/computes/");
    let out = run_in(
        &project.root,
        &emu.url,
        &["apply", &pf, "--auto-approve"],
        1,
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "stale plan: dev/{name} differs from what the manifests and live state give now; run plan again"
        )),
        "{err}"
    );
    assert_eq!(emu.count("PATCH", "/computes/"), patches, "nothing applied");
}

#[test]
fn saved_plan_applies_when_nothing_changed() {
    let project = Project::example();
    let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &[]);
    let r = root(&project);
    let plan_file = project.dir.path().join("plan.json");
    let pf = plan_file.to_string_lossy().to_string();
    run(&emu.url, &["plan", &r, "--out", &pf], 0);
    run(&emu.url, &["show", &pf], 0);
    run_in(
        &project.root,
        &emu.url,
        &["apply", &pf, "--auto-approve"],
        0,
    );
    run(&emu.url, &["plan", &r, "--detailed-exitcode"], 0);
}

#[test]
fn apply_without_terminal_refuses_without_auto_approve() {
    let project = Project::example();
    let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &[]);
    let out = run(&emu.url, &["apply", &root(&project)], 1);
    assert!(stderr(&out).contains("--auto-approve"), "{}", stderr(&out));
    assert_eq!(emu.count("PUT", "/computes/"), 0);
}

#[test]
fn sigkill_during_lro_then_rerun_converges_without_duplicate_puts() {
    let project = Project::example();
    let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &["--lro-ms", "1500"]);
    let r = root(&project);
    let mut child = cmd(&emu.url, &["apply", &r, "--auto-approve"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn apply");
    assert!(
        eventually(Duration::from_secs(30), || emu.count("PUT", "/computes/")
            >= 3),
        "apply never sent its PUTs"
    );
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let puts_in_flight = emu.count("PUT", "/computes/");

    run(&emu.url, &["apply", &r, "--auto-approve"], 0);
    run(&emu.url, &["plan", &r, "--detailed-exitcode"], 0);

    // Each compute got at most one PUT: the rerun waited for the ones in flight instead of re-creating.
    let reqs = emu.get_json("/_emulator/requests");
    let mut per_path = std::collections::BTreeMap::<String, usize>::new();
    for r in reqs.as_array().expect("array") {
        if r["method"] == "PUT" && r["status"].as_u64().is_some_and(|s| s < 300) {
            *per_path
                .entry(r["path"].as_str().unwrap_or("").to_lowercase())
                .or_default() += 1;
        }
    }
    let dupes: Vec<_> = per_path.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        dupes.is_empty(),
        "duplicate PUTs: {dupes:?} (in flight at kill: {puts_in_flight})"
    );
}

#[test]
fn faults_at_twenty_percent_still_converge() {
    let project = Project::example();
    let emu = EmulatorProcess::start(
        project.dir.path(),
        &project.fixture,
        &[
            "--faults",
            "429=0.07,503=0.07,reset=0.06",
            "--fault-seed",
            "7",
            "--retry-after",
            "0",
        ],
    );
    let r = root(&project);
    run(&emu.url, &["apply", &r, "--auto-approve"], 0);
    run(&emu.url, &["plan", &r, "--detailed-exitcode"], 0);
    let stats = emu.get_json("/_emulator/stats");
    let faults: u64 = ["429", "503"]
        .iter()
        .filter_map(|s| stats["by_status"][*s].as_u64())
        .sum();
    assert!(faults > 0, "faults were injected: {stats}");
}

#[test]
fn prune_deletes_only_tagged_computes_and_detaches_attached_ones() {
    let (project, emu) = applied_example(&[]);
    let r = root(&project);

    // A cluster someone made by hand (no ownership tag) in the same workspace.
    let ws_path = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev";
    let (status, body) = http_send(
        "PUT",
        &format!(
            "{}{ws_path}/computes/handmade?api-version=2025-12-01",
            emu.url
        ),
        Some(&serde_json::json!({
            "location": "eastus",
            "properties": {"computeType": "AmlCompute", "properties": {"vmSize": "Standard_DS3_v2",
                "scaleSettings": {"maxNodeCount": 1, "minNodeCount": 0}}}
        })),
    );
    assert!(status < 300, "{status} {body}");

    // Remove one created cluster and one attached target from the manifests, and turn prune on.
    let cluster = manifest_with(&project, "name: cpu-cluster");
    let cluster_name = yaml_value(&std::fs::read_to_string(&cluster).expect("read"), "name");
    let attached = manifest_with(&project, "type: datalakeanalytics");
    let attached_name = yaml_value(&std::fs::read_to_string(&attached).expect("read"), "name");
    std::fs::remove_file(&cluster).expect("rm");
    std::fs::remove_file(&attached).expect("rm");
    let config = std::fs::read_to_string(project.path("amlctl.yaml")).expect("read");
    let pruned = config.replacen(
        "workspace: mlw-dev",
        "workspace: mlw-dev\n    prune: true",
        1,
    );
    assert_ne!(config, pruned, "amlctl.yaml names mlw-dev");
    std::fs::write(project.path("amlctl.yaml"), pruned).expect("write");

    let out = run(&emu.url, &["plan", &r, "--detailed-exitcode"], 2);
    assert!(
        stdout(&out).contains("handmade"),
        "unmanaged compute is reported: {}",
        stdout(&out)
    );
    run(&emu.url, &["apply", &r, "--auto-approve"], 0);

    let reqs = emu.get_json("/_emulator/requests");
    let deletes: Vec<(String, String)> = reqs
        .as_array()
        .expect("array")
        .iter()
        .filter(|q| q["method"] == "DELETE")
        .map(|q| {
            (
                q["path"].as_str().unwrap_or("").to_string(),
                q["query"]
                    .as_str()
                    .unwrap_or("")
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("underlyingResourceAction="))
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    assert!(
        deletes
            .iter()
            .any(|(p, a)| p.ends_with(&format!("/computes/{cluster_name}")) && a == "Delete"),
        "{deletes:?}"
    );
    assert!(
        deletes
            .iter()
            .any(|(p, a)| p.ends_with(&format!("/computes/{attached_name}")) && a == "Detach"),
        "{deletes:?}"
    );
    assert!(
        !deletes
            .iter()
            .any(|(p, _)| p.ends_with("/computes/handmade")),
        "{deletes:?}"
    );
    let state = emu.get_json("/_emulator/state").to_string();
    assert!(state.contains("handmade"));
    run(&emu.url, &["plan", &r, "--detailed-exitcode"], 0);
}

#[test]
fn quota_failure_on_one_target_leaves_the_others_applied() {
    let project = Project::example();
    // gpu-lowpri holds one low-priority Standard_NC6s_v3 node; the subscription has no
    // low-priority quota. The pre-flight would stop the plan (see preflight_concurrency.rs);
    // skipped here so the create is refused at apply time.
    let file = manifest_with(&project, "name: gpu-lowpri");
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(
        &file,
        text.replacen("min_instances: 0", "min_instances: 1", 1),
    )
    .expect("write");
    let emu = EmulatorProcess::start(
        project.dir.path(),
        &project.fixture,
        &["--quota", "lowPriority=0"],
    );
    let r = root(&project);
    let out = run(
        &emu.url,
        &["apply", &r, "--auto-approve", "--no-preflight"],
        1,
    );
    let text = stdout(&out);
    assert!(text.contains("dev/gpu-lowpri: FAILED"), "{text}");
    assert!(text.to_lowercase().contains("quota"), "{text}");
    assert!(text.contains("dev/cpu-cluster: ok"), "{text}");
    assert!(text.contains("prod/prod-cluster: ok"), "{text}");
    let state = emu.get_json("/_emulator/state").to_string();
    assert!(state.contains("cpu-cluster") && state.contains("alice-notebook"));
}

#[test]
fn sigterm_starts_nothing_new_and_lets_running_operations_finish() {
    let project = Project::example();
    let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &["--lro-ms", "1500"]);
    let r = root(&project);
    let child = cmd(
        &emu.url,
        &["apply", &r, "--auto-approve", "--parallelism", "1"],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("spawn apply");
    assert!(
        eventually(Duration::from_secs(30), || emu.count("PUT", "/computes/")
            >= 1),
        "apply never sent a PUT"
    );
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{text}\n{err}");
    assert!(
        err.contains("Stopping: no new operation will start"),
        "{err}"
    );
    assert!(text.contains("not started"), "{text}");
    // The one running create was waited for: it finished, it was not abandoned mid-flight.
    let oks = text
        .lines()
        .filter(|l| l.trim_end().ends_with(": ok"))
        .count();
    assert_eq!(oks, 1, "{text}");
    assert_eq!(
        emu.count("PUT", "/computes/"),
        1,
        "no new PUT after the signal"
    );
}

#[test]
fn replace_is_verified_by_reading_the_result_back() {
    let project = Project::example();
    // The service bug this guards against: a re-created compute keeps the deleted one's VM size.
    let emu = EmulatorProcess::start(
        project.dir.path(),
        &project.fixture,
        &["--quirks", "stale-size-on-recreate"],
    );
    let r = root(&project);
    run(&emu.url, &["apply", &r, "--auto-approve"], 0);
    let file = manifest_with(&project, "name: cpu-cluster");
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(
        &file,
        text.replace("size: Standard_DS3_v2", "size: Standard_E8s_v3"),
    )
    .expect("write");
    let out = run(
        &emu.url,
        &["apply", &r, "--auto-approve", "--replace", "cpu-cluster"],
        1,
    );
    let text = stdout(&out);
    assert!(
        text.contains("dev/cpu-cluster: FAILED") && text.contains("does not match the manifest"),
        "{text}"
    );
    assert!(text.contains("size"), "{text}");
    // The next plan still shows the difference instead of hiding it.
    let out = run(&emu.url, &["plan", &r, "--detailed-exitcode"], 1);
    assert!(stdout(&out).contains("Standard_E8s_v3") || stderr(&out).contains("Standard_E8s_v3"));
}

#[test]
fn apply_json_emits_one_json_event_per_line() {
    let project = Project::example();
    let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &[]);
    let out = run(
        &emu.url,
        &[
            "apply",
            &root(&project),
            "--auto-approve",
            "--format",
            "json",
        ],
        0,
    );
    let text = stdout(&out);
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert_eq!(
        events.first().map(|e| e["type"].clone()),
        Some("plan".into())
    );
    assert_eq!(
        events.last().map(|e| e["type"].clone()),
        Some("summary".into())
    );
    let summary = events.last().expect("summary");
    assert_eq!(summary["added"], 13);
    assert_eq!(summary["failed"], false);
    let succeeded = events
        .iter()
        .filter(|e| e["type"] == "progress" && e["event"] == "succeeded")
        .count();
    assert_eq!(succeeded, 13, "{text}");
}
