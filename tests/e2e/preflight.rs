//! End-to-end: the plan's pre-flight (issue #15) through the real binary against
//! `amlctl emulator serve`: vCPU quota, VM sizes and referenced resources are found at plan
//! time, with the manifest position, before anything is applied.

use crate::common::*;

fn root(project: &Project) -> String {
    project.root.to_string_lossy().to_string()
}

/// Appends YAML to the fixture (after [`Project::write_fixture`]).
fn append_fixture(project: &Project, yaml: &str) {
    let mut text = std::fs::read_to_string(&project.fixture).expect("fixture");
    text.push_str(yaml);
    std::fs::write(&project.fixture, text).expect("fixture");
}

/// Drops the fixture lines that contain `needle` (a resource that does not exist).
fn drop_fixture_lines(project: &Project, needle: &str) {
    let text = std::fs::read_to_string(&project.fixture).expect("fixture");
    assert!(text.contains(needle), "fixture has no {needle}");
    let kept: Vec<&str> = text.lines().filter(|l| !l.contains(needle)).collect();
    std::fs::write(&project.fixture, kept.join("\n") + "\n").expect("fixture");
}

fn edit(project: &Project, needle: &str, from: &str, to: &str) {
    let file = manifest_with(project, needle);
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(text.contains(from), "{} has no {from:?}", file.display());
    std::fs::write(&file, text.replacen(from, to, 1)).expect("write");
}

/// stdout and stderr of `plan ROOT ARGS…`, asserting the exit code.
fn plan(url: &str, project: &Project, args: &[&str], code: i32) -> String {
    let r = root(project);
    let mut all = vec!["plan", r.as_str()];
    all.extend_from_slice(args);
    let out = run(url, &all, code);
    format!("{}\n{}", stdout(&out), stderr(&out))
}

const EASTUS_DSV2: &str = "locations:\n  - name: eastus\n    quotas: { standardDSv2Family: LIMIT, lowPriority: 100, total: 200 }\n";

#[test]
fn plan_over_quota_exits_1_naming_family_and_numbers() {
    let project = Project::example();
    // prod-cluster holds 3 × 4 vCPUs, alice-notebook 4: 16 vCPUs of standardDSv2Family, 8 free.
    edit(
        &project,
        "name: prod-cluster",
        "max_instances: 8",
        "min_instances: 3\nmax_instances: 8",
    );
    append_fixture(&project, &EASTUS_DSV2.replace("LIMIT", "8"));
    let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &[]);
    let text = plan(&emu.url, &project, &[], 1);
    assert!(text.contains("standardDSv2Family"), "{text}");
    assert!(text.contains("needs 16 vCPUs"), "{text}");
    assert!(text.contains("8 are free"), "{text}");
    assert!(text.contains("request more"), "{text}");
    assert!(text.contains("aks.yml:"), "manifest position: {text}");
    assert!(text.contains("Pre-flight:"), "{text}");
    assert!(text.contains("standardDSv2Family: 8 → -8"), "{text}");
    // Nothing was written.
    assert_eq!(emu.count("PUT", "/computes/"), 0);
}

#[test]
fn max_instances_beyond_free_quota_is_a_warning() {
    let project = Project::example();
    // prod-cluster may reach 8 × 4 = 32 vCPUs; 20 - 4 (alice-notebook) = 16 are left.
    append_fixture(&project, &EASTUS_DSV2.replace("LIMIT", "20"));
    let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &[]);
    let text = plan(&emu.url, &project, &["--detailed-exitcode"], 2);
    assert!(text.contains("cannot scale that far"), "{text}");
    assert!(text.contains("prod/prod-cluster"), "{text}");
}

#[test]
fn size_not_offered_exits_1_with_suggestions() {
    let project = Project::example();
    edit(
        &project,
        "name: cpu-cluster",
        "Standard_DS3_v2",
        "Standard_DS13_v2",
    );
    // Sizes compare case-insensitively; an AmlCompute-only size refuses a compute instance.
    edit(
        &project,
        "name: alice-notebook",
        "Standard_DS3_v2",
        "Standard_ND40rs_v2",
    );
    edit(
        &project,
        "name: prod-cluster",
        "Standard_DS3_v2",
        "STANDARD_ds3_V2",
    );
    append_fixture(
        &project,
        "locations:\n  - name: eastus\n    vm_sizes: [Standard_DS3_v2, Standard_DS4_v2, Standard_NC6s_v3, Standard_ND40rs_v2]\n",
    );
    let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &[]);
    let text = plan(&emu.url, &project, &[], 1);
    assert!(
        text.contains("size Standard_DS13_v2 is not offered in eastus"),
        "{text}"
    );
    assert!(text.contains("e.g. Standard_DS3_v2"), "{text}");
    assert!(text.contains("cpu-cluster.yml:6:"), "{text}");
    assert!(
        text.contains("Standard_ND40rs_v2 does not support ComputeInstance"),
        "{text}"
    );
    assert!(!text.contains("STANDARD_ds3_V2 is not offered"), "{text}");
    assert!(text.contains("2 errors"), "{text}");
}

#[test]
fn missing_attach_target_subnet_and_identity_exit_1_at_plan_time() {
    let project = Project::example();
    drop_fixture_lines(&project, "virtualMachines/dsvm01");
    drop_fixture_lines(&project, "userAssignedIdentities/id-ml-training");
    drop_fixture_lines(&project, "subnets/snet-training");
    let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &[]);
    let text = plan(&emu.url, &project, &[], 1);
    assert!(
        text.contains("resource_id: attach target does not exist"),
        "{text}"
    );
    assert!(text.contains("dsvm.yml:5:"), "{text}");
    assert!(text.contains("subnet does not exist"), "{text}");
    assert!(
        text.contains("user-assigned identity does not exist"),
        "{text}"
    );
    assert!(text.contains("gpu-lowpri.yml:"), "{text}");
    assert!(text.contains("3 errors"), "{text}");
    // One GET per distinct referenced id, at its provider's api-version.
    assert_eq!(emu.count("GET", "/virtualMachines/dsvm01"), 1);
    let log = emu.get_json("/_emulator/requests").to_string();
    assert!(log.contains("api-version=2024-07-01"), "{log}");
}

#[test]
fn forbidden_reference_is_a_warning() {
    let project = Project::example();
    append_fixture(
        &project,
        "forbidden_resources:\n  - /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.Compute/virtualMachines/dsvm01\n",
    );
    let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &[]);
    let text = plan(&emu.url, &project, &["--detailed-exitcode"], 2);
    assert!(text.contains("cannot verify"), "{text}");
    assert!(text.contains("no read access"), "{text}");
    assert!(text.contains("Warning:"), "{text}");
}

#[test]
fn delete_and_create_in_the_same_family_counts_the_freed_quota() {
    let project = Project::example();
    // alice-notebook (4) + prod-cluster at 2 × 4 = 12 vCPUs: the whole family quota.
    edit(
        &project,
        "name: prod-cluster",
        "max_instances: 8",
        "min_instances: 2\nmax_instances: 8",
    );
    append_fixture(&project, &EASTUS_DSV2.replace("LIMIT", "12"));
    let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &[]);
    run(&emu.url, &["apply", &root(&project), "--auto-approve"], 0);
    // The emulator's usages count the nodes in use × vCPUs; vmSizes has the table's shape.
    let base = "/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.MachineLearningServices/locations/eastus";
    let (status, body) = http_send(
        "GET",
        &format!("{}{base}/usages?api-version=2025-12-01", emu.url),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let usages: serde_json::Value = serde_json::from_str(&body).expect("usages JSON");
    let dsv2 = usages["value"]
        .as_array()
        .expect("value")
        .iter()
        .find(|u| u["name"]["value"] == "standardDSv2Family")
        .unwrap_or_else(|| panic!("no standardDSv2Family usage: {body}"));
    assert_eq!(dsv2["currentValue"], 12, "{body}");
    assert_eq!(dsv2["limit"], 12, "{body}");
    let (status, body) = http_send(
        "GET",
        &format!("{}{base}/vmSizes?api-version=2025-12-01", emu.url),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(r#""name":"Standard_DS3_v2","family":"standardDSv2Family","vCPUs":4"#)
            || body.contains(r#""vCPUs":4"#),
        "{body}"
    );
    // Rename: prod prunes prod-cluster and creates prod-cluster2 (same family, same nodes).
    edit(
        &project,
        "name: prod-cluster",
        "name: prod-cluster",
        "name: prod-cluster2",
    );
    let text = plan(&emu.url, &project, &["--detailed-exitcode"], 2);
    assert!(text.contains("standardDSv2Family: 0 → 0"), "{text}");
    assert!(!text.contains("Error:"), "{text}");
    // A new cluster without the delete does not fit.
    let extra = project.path("prod/extra.yml");
    std::fs::write(
        &extra,
        "name: extra-cluster\ntype: amlcompute\nsize: Standard_DS3_v2\nmin_instances: 1\nmax_instances: 2\n",
    )
    .expect("write");
    let text = plan(&emu.url, &project, &[], 1);
    assert!(text.contains("standardDSv2Family"), "{text}");
    assert!(text.contains("0 are free"), "{text}");
}

#[test]
fn no_change_plan_adds_no_request_and_no_preflight_skips() {
    let (project, emu) = applied_example(&[]);
    let before = emu
        .get_json("/_emulator/requests")
        .as_array()
        .map_or(0, Vec::len);
    plan(&emu.url, &project, &["--detailed-exitcode"], 0);
    let reqs = emu.get_json("/_emulator/requests");
    let new: Vec<&serde_json::Value> = reqs.as_array().expect("array")[before..].iter().collect();
    assert!(
        new.iter().all(|r| r["path"]
            .as_str()
            .is_some_and(|p| p.to_lowercase().contains("/computes"))),
        "only the compute lists: {new:?}"
    );
    // --no-preflight: a missing attach target is not looked up at plan time.
    let extra = project.path("prod/vm2.yml");
    std::fs::write(
        &extra,
        "name: vm2\ntype: virtualmachine\nresource_id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.Compute/virtualMachines/nope\nssh_settings:\n  admin_username: azureuser\n  admin_password: { env: DSVM_ADMIN_PASSWORD }\n",
    )
    .expect("write");
    plan(&emu.url, &project, &["--detailed-exitcode"], 1);
    let text = plan(
        &emu.url,
        &project,
        &["--detailed-exitcode", "--no-preflight"],
        2,
    );
    assert!(!text.contains("Pre-flight"), "{text}");
}

#[test]
fn emulator_create_over_vcpu_quota_fails_like_the_service() {
    let project = Project::example();
    edit(
        &project,
        "name: prod-cluster",
        "max_instances: 8",
        "min_instances: 3\nmax_instances: 8",
    );
    append_fixture(&project, &EASTUS_DSV2.replace("LIMIT", "8"));
    let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &[]);
    // Past the pre-flight (--no-preflight), the create itself fails in the service's words.
    let out = run(
        &emu.url,
        &["apply", &root(&project), "--auto-approve", "--no-preflight"],
        1,
    );
    let text = format!("{}\n{}", stdout(&out), stderr(&out));
    assert!(
        text.contains("prod/prod-cluster: FAILED") && text.contains("quota exceeded"),
        "{text}"
    );
}
