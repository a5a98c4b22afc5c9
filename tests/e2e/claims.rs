//! Claims of the README and docs/ that no other test checked (issue #22): `import` refuses a
//! compute that would need a replacement; `apply PLANFILE --partial` applies the targets that did
//! not change and nothing else; plan reads no secret (only apply does).

use crate::common::*;

const WS: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev/computes";

fn root(p: &Project) -> String {
    p.root.to_string_lossy().to_string()
}

fn text(o: &std::process::Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

/// Writes requests (PUT/PATCH/DELETE/POST) the emulator accepted for `name`'s path.
fn writes_to(emu: &EmulatorProcess, name: &str) -> usize {
    emu.get_json("/_emulator/requests")
        .as_array()
        .expect("array")
        .iter()
        .filter(|r| {
            r["method"] != "GET"
                && r["path"]
                    .as_str()
                    .is_some_and(|p| p.to_lowercase().contains(&format!("/computes/{name}")))
        })
        .count()
}

/// maxNodeCount of a cluster, from the emulator's state.
fn max_nodes(emu: &EmulatorProcess, name: &str) -> u64 {
    let (status, body) = http_send(
        "GET",
        &format!("{}{WS}/{name}?api-version=2025-12-01", emu.url),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    v.pointer("/properties/properties/scaleSettings/maxNodeCount")
        .and_then(|n| n.as_u64())
        .unwrap_or_else(|| panic!("no maxNodeCount in {body}"))
}

/// README: `import` "refuses when the compute differs from its manifest at all: a replacement or
/// pending in-place changes". An existing, untagged cluster whose size differs from the manifest
/// (a create-only key: a replacement) is not imported and gets no write.
#[test]
fn import_refuses_a_compute_that_needs_a_replacement() {
    let p = Project::example();
    let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &[]);
    let r = root(&p);
    let (status, body) = http_send(
        "PUT",
        &format!("{}{WS}/cpu-cluster?api-version=2025-12-01", emu.url),
        Some(&serde_json::json!({"location": "eastus", "properties": {
            "computeType": "AmlCompute",
            "properties": {"vmSize": "Standard_DS4_v2",
                "scaleSettings": {"maxNodeCount": 4, "minNodeCount": 0,
                    "nodeIdleTimeBeforeScaleDown": "PT120S"}}}})),
    );
    assert!(status < 300, "{status} {body}");
    let before = writes_to(&emu, "cpu-cluster");
    let out = run(&emu.url, &["import", "cpu-cluster", &r], 1);
    let t = text(&out);
    assert!(
        t.contains("not imported") && t.contains("replace"),
        "import names the replacement it refuses: {t}"
    );
    assert_eq!(
        writes_to(&emu, "cpu-cluster"),
        before,
        "import sent nothing to the compute"
    );
    let state = emu.get_json("/_emulator/state").to_string();
    assert!(
        !state.contains("managed-by"),
        "no ownership tag was written: {state}"
    );
}

/// docs/ci.md: with a stale target, `apply PLANFILE` applies nothing (exit 1); with `--partial` it
/// applies the targets that did not change, leaves the stale one alone, and still exits 1.
#[test]
fn apply_partial_applies_only_the_targets_that_did_not_change() {
    let (p, emu) = applied_example(&[]);
    let r = root(&p);
    for (file, from, to) in [
        ("cpu-cluster.yml", "max_instances: 4", "max_instances: 6"),
        ("gpu-lowpri.yml", "max_instances: 2", "max_instances: 5"),
    ] {
        let path = p.path(file);
        let t = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, t.replacen(from, to, 1)).expect("write");
    }
    let pf = p.dir.path().join("plan.json").to_string_lossy().to_string();
    run(&emu.url, &["plan", &r, "--out", &pf], 0);
    // Someone scales cpu-cluster in the studio: its saved entry is stale now.
    let (status, body) = http_send(
        "PATCH",
        &format!("{}{WS}/cpu-cluster?api-version=2025-12-01", emu.url),
        Some(
            &serde_json::json!({"properties": {"properties": {"scaleSettings":
            {"maxNodeCount": 3, "minNodeCount": 0}}}}),
        ),
    );
    assert!(status < 300, "{status} {body}");

    let out = run_in(&p.root, &emu.url, &["apply", &pf, "--auto-approve"], 1);
    assert!(
        text(&out).contains("stale plan: dev/cpu-cluster"),
        "{}",
        text(&out)
    );
    assert_eq!(
        max_nodes(&emu, "gpu-lowpri"),
        2,
        "without --partial nothing is applied"
    );
    assert_eq!(max_nodes(&emu, "cpu-cluster"), 3);

    let out = run_in(
        &p.root,
        &emu.url,
        &["apply", &pf, "--auto-approve", "--partial"],
        1,
    );
    let t = text(&out);
    assert!(t.contains("stale plan: dev/cpu-cluster"), "{t}");
    assert_eq!(
        max_nodes(&emu, "gpu-lowpri"),
        5,
        "--partial applied the unchanged target: {t}"
    );
    assert_eq!(
        max_nodes(&emu, "cpu-cluster"),
        3,
        "--partial left the stale target alone: {t}"
    );
}

/// README/docs: secrets are read only by apply, never by plan. With every secret variable unset
/// and a `{ file: }` secret pointing at a missing file, plan succeeds (and shows the creates);
/// apply then stops on the missing secret before any write.
#[test]
fn plan_reads_no_secret() {
    let p = Project::example();
    std::fs::write(
        p.path("vm-file.yml"),
        "name: vm-file\ntype: virtualmachine\nresource_id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.Compute/virtualMachines/vm02\nssh_settings:\n  admin_username: azureuser\n  admin_password: { file: secrets/does-not-exist.txt }\n  ssh_port: 22\n",
    )
    .expect("write");
    let mut p = p;
    p.write_fixture(&[]);
    let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &[]);
    let r = root(&p);
    let unset = |args: &[&str]| {
        let mut c = cmd(&emu.url, args);
        for (k, _) in SECRET_ENV {
            c.env_remove(k);
        }
        c.output().expect("run amlctl")
    };
    let out = unset(&["plan", &r, "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "plan needs no secret:\n{}",
        text(&out)
    );
    let plan: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("plan json");
    let s = plan.to_string();
    assert!(s.contains("vm-file") && s.contains("dsvm"), "{s}");

    let out = unset(&["apply", &r, "--auto-approve"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "apply reads the secrets:\n{t}");
    assert!(
        t.contains("does-not-exist.txt"),
        "apply names the missing file: {t}"
    );
    let writes = emu
        .get_json("/_emulator/requests")
        .as_array()
        .expect("array")
        .iter()
        .filter(|r| r["method"] == "PUT" || r["method"] == "PATCH")
        .count();
    assert_eq!(writes, 0, "apply stopped before the first write");
}

/// Renders one manifest in a scratch project; returns (exit code, stdout + stderr).
fn render(name: &str, yaml: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("amlctl.yaml"),
        "workspaces:\n  dev:\n    subscription_id: 00000000-0000-0000-0000-000000000000\n    resource_group: rg-ml\n    workspace: mlw-dev\n    location: eastus\nmanifests: [\"*.yml\"]\n",
    )
    .expect("config");
    let file = dir.path().join(name);
    std::fs::write(&file, yaml).expect("manifest");
    let out = std::process::Command::new(amlctl())
        .arg("render")
        .arg(&file)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("run amlctl");
    (out.status.code(), text(&out))
}

/// docs/compatibility.md D4: the deprecated `idle_time_before_shutdown` ISO string is converted to
/// whole minutes (`PT1H` is sent as `PT60M`) with a deprecation warning; non-whole minutes are an
/// error.
#[test]
fn compatibility_d4_idle_time_before_shutdown_is_converted_to_minutes() {
    let (code, t) = render(
        "d4.yml",
        "name: ci-d4\ntype: computeinstance\nsize: Standard_DS3_v2\nidle_time_before_shutdown: PT1H\n",
    );
    assert_eq!(code, Some(0), "{t}");
    assert!(t.contains("\"idleTimeBeforeShutdown\": \"PT60M\""), "{t}");
    assert!(
        t.contains("d4.yml:4:28: warning: `idle_time_before_shutdown` is deprecated"),
        "{t}"
    );
    let (code, t) = render(
        "d4.yml",
        "name: ci-d4\ntype: computeinstance\nsize: Standard_DS3_v2\nidle_time_before_shutdown: PT90S\n",
    );
    assert_eq!(code, Some(1), "non-whole minutes are an error: {t}");
    assert!(
        t.contains("d4.yml:4:28: error:") && t.contains("whole minutes"),
        "located: {t}"
    );
}

/// docs/compatibility.md D10: `tier: LowPriority` is rejected with the hint "did you mean
/// `low_priority`?".
#[test]
fn compatibility_d10_tier_low_priority_is_rejected_with_a_hint() {
    let (code, t) = render(
        "d10.yml",
        "name: cl-d10\ntype: amlcompute\nsize: Standard_DS3_v2\ntier: LowPriority\nmax_instances: 2\n",
    );
    assert_eq!(code, Some(1), "{t}");
    assert!(
        t.contains("d10.yml:4:7: error: invalid value 'LowPriority' for `tier`")
            && t.contains("did you mean `low_priority`?"),
        "{t}"
    );
}
