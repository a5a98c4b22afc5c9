//! End-to-end: the plan's pre-flight reads run concurrently with the compute lists (issue #15),
//! and `amlctl emulator serve --quota` feeds the same quota the pre-flight reads.

use crate::common::*;

const SUB: &str = "00000000-0000-0000-0000-000000000000";

/// A project of two workspaces: `small` (one new cluster to create) and `big` (`big_n`
/// clusters), and the emulator fixture declaring both. Returns (root, fixture).
fn two_workspaces(dir: &std::path::Path, big_n: usize) -> (std::path::PathBuf, std::path::PathBuf) {
    let root = dir.join("repo");
    std::fs::create_dir_all(root.join("small")).expect("mkdir");
    std::fs::create_dir_all(root.join("big")).expect("mkdir");
    std::fs::write(
        root.join("amlctl.yaml"),
        format!(
            "workspaces:\n  small: {{ subscription_id: {SUB}, resource_group: rg-ml, workspace: ws-small, location: eastus }}\n  big: {{ subscription_id: {SUB}, resource_group: rg-ml, workspace: ws-big, location: eastus }}\nfolders:\n  small: small\n  big: big\n"
        ),
    )
    .expect("amlctl.yaml");
    let cluster = |name: &str| {
        format!(
            "name: {name}\ntype: amlcompute\nsize: Standard_DS3_v2\nmin_instances: 0\nmax_instances: 2\n"
        )
    };
    std::fs::write(root.join("small/new-cluster.yml"), cluster("new-cluster")).expect("write");
    for i in 0..big_n {
        let name = format!("big{i:02}c");
        std::fs::write(root.join(format!("big/{name}.yml")), cluster(&name)).expect("write");
    }
    let fixture = dir.join("fixture.yaml");
    std::fs::write(
        &fixture,
        format!(
            "workspaces:\n  - {{ subscription_id: {SUB}, resource_group: rg-ml, name: ws-small, location: eastus }}\n  - {{ subscription_id: {SUB}, resource_group: rg-ml, name: ws-big, location: eastus }}\nresources: []\n"
        ),
    )
    .expect("fixture");
    (root, fixture)
}

/// The emulator's request log (answered requests, in the order they were answered) from index `from`.
fn requests_since(emu: &EmulatorProcess, from: usize) -> Vec<(String, String)> {
    let log = emu.get_json("/_emulator/requests");
    log.as_array()
        .expect("array")
        .iter()
        .skip(from)
        .map(|r| {
            (
                r["method"].as_str().unwrap_or("").to_string(),
                r["path"].as_str().unwrap_or("").to_lowercase(),
            )
        })
        .collect()
}

#[test]
fn usages_are_read_while_the_other_workspaces_are_still_listed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (root, fixture) = two_workspaces(dir.path(), 30);
    // 30 computes in pages of 5: six list pages for `big`, 40 ms each.
    let emu = EmulatorProcess::start(
        dir.path(),
        &fixture,
        &["--latency-ms", "40", "--page-size", "5"],
    );
    let r = root.to_string_lossy().to_string();
    run(
        &emu.url,
        &["apply", &r, "--auto-approve", "--workspace", "big"],
        0,
    );
    let before = emu
        .get_json("/_emulator/requests")
        .as_array()
        .map_or(0, Vec::len);
    let out = run(&emu.url, &["plan", &r, "--detailed-exitcode"], 2);
    let text = stdout(&out);
    assert!(text.contains("small/new-cluster"), "{text}");
    assert!(text.contains("Pre-flight:"), "{text}");
    let log = requests_since(&emu, before);
    let big_pages: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|(_, (m, p))| m == "GET" && p.ends_with("/workspaces/ws-big/computes"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(big_pages.len(), 6, "{log:?}");
    let usages = log
        .iter()
        .position(|(_, p)| p.ends_with("/locations/eastus/usages"))
        .unwrap_or_else(|| panic!("no usages request: {log:?}"));
    let sizes = log
        .iter()
        .position(|(_, p)| p.ends_with("/locations/eastus/vmsizes"))
        .unwrap_or_else(|| panic!("no vmSizes request: {log:?}"));
    let last_page = big_pages[big_pages.len() - 1];
    assert!(
        usages < last_page && sizes < last_page,
        "the pre-flight reads (usages #{usages}, vmSizes #{sizes}) were answered after the last list page (#{last_page}): {log:?}"
    );
    // Each read once.
    assert_eq!(
        log.iter().filter(|(_, p)| p.ends_with("/usages")).count(),
        1,
        "{log:?}"
    );
}

#[test]
fn a_plan_without_changes_still_sends_no_preflight_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (root, fixture) = two_workspaces(dir.path(), 3);
    let emu = EmulatorProcess::start(dir.path(), &fixture, &["--page-size", "2"]);
    let r = root.to_string_lossy().to_string();
    run(&emu.url, &["apply", &r, "--auto-approve"], 0);
    let before = emu
        .get_json("/_emulator/requests")
        .as_array()
        .map_or(0, Vec::len);
    run(&emu.url, &["plan", &r, "--detailed-exitcode"], 0);
    let log = requests_since(&emu, before);
    assert!(
        log.iter()
            .all(|(m, p)| m == "GET" && p.contains("/computes")),
        "only list pages expected: {log:?}"
    );
}

fn edit(path: &std::path::Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).expect("write");
}

#[test]
fn serve_quota_is_the_quota_plan_checks() {
    // prod-cluster holds 3 × 4 vCPUs and alice-notebook 4: 16 vCPUs of standardDSv2Family.
    // `--quota` in both spellings: the family's vCPUs, and the older VM size in nodes
    // (2 × Standard_DS3_v2 = 8 vCPUs of standardDSv2Family).
    for flag in ["standardDSv2Family=8", "Standard_DS3_v2=2"] {
        let project = Project::example();
        edit(
            &manifest_with(&project, "name: prod-cluster"),
            "max_instances: 8",
            "min_instances: 3\nmax_instances: 8",
        );
        let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &["--quota", flag]);
        let r = project.root.to_string_lossy().to_string();
        let out = run(&emu.url, &["plan", &r], 1);
        let text = format!("{}\n{}", stdout(&out), stderr(&out));
        assert!(
            text.contains("not enough standardDSv2Family quota"),
            "{flag}: {text}"
        );
        assert!(text.contains("8 are free"), "{flag}: {text}");
        assert!(text.contains("standardDSv2Family: 8 →"), "{flag}: {text}");
        assert_eq!(emu.count("PUT", "/computes/"), 0, "{flag}");
    }
}
