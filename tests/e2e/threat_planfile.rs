//! Threat tests (issue #19): a saved plan is an artifact the pull request's own workflow
//! uploaded, so `apply PLANFILE` must treat it as written by an attacker. The real binary against
//! `amlctl emulator serve` (and stand-in servers) on 127.0.0.1.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::common::*;
use serde_json::{Value, json};

const WS_PATH: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev/computes";

/// `plan ROOT --out plan.json` (exit `code`); returns the file and its JSON.
fn save_plan(project: &Project, url: &str, extra: &[&str], code: i32) -> (PathBuf, Value) {
    let pf = project.dir.path().join("plan.json");
    let r = project.root.to_string_lossy().to_string();
    let p = pf.to_string_lossy().to_string();
    let mut args = vec!["plan", r.as_str(), "--out", p.as_str()];
    args.extend_from_slice(extra);
    run(url, &args, code);
    let v = serde_json::from_str(&std::fs::read_to_string(&pf).expect("read plan")).expect("json");
    (pf, v)
}

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).expect("json")).expect("write");
}

fn entry_mut<'a>(plan: &'a mut Value, address: &str) -> &'a mut Value {
    plan["entries"]
        .as_array_mut()
        .expect("entries")
        .iter_mut()
        .find(|e| e["address"] == address)
        .unwrap_or_else(|| panic!("no entry {address}"))
}

fn compute_exists(emu: &EmulatorProcess, name: &str) -> bool {
    let (status, _) = http_send(
        "GET",
        &format!("{}{WS_PATH}/{name}?api-version=2025-12-01", emu.url),
        None,
    );
    status == 200
}

/// (a) A no-op entry rewritten into a DELETE of a prevent_destroy compute, in its own workspace
/// and in another subscription: refused, nothing deleted, exit 1.
#[test]
fn edited_plan_deleting_a_protected_compute_is_refused() {
    let (project, emu) = applied_example(&[]);
    let (pf, plan) = save_plan(&project, &emu.url, &[], 0);
    let other_sub = WS_PATH.replace(
        "00000000-0000-0000-0000-000000000000",
        "11111111-1111-1111-1111-111111111111",
    );
    for path in [WS_PATH.to_string(), other_sub] {
        let mut edited = plan.clone();
        let e = entry_mut(&mut edited, "dev/gpu-lowpri");
        e["actions"] = json!(["delete"]);
        e["steps"] = json!([{
            "action": "delete",
            "method": "DELETE",
            "path": format!("{path}/gpu-lowpri"),
            "query": {"api-version": "2025-12-01", "underlyingResourceAction": "Delete"},
            "body": null,
            "secrets": []
        }]);
        write_json(&pf, &edited);
        let p = pf.to_string_lossy().to_string();
        let out = run_in(
            &project.root,
            &emu.url,
            &["apply", &p, "--auto-approve", "--partial"],
            1,
        );
        let err = stderr(&out);
        assert!(
            err.contains("stale plan: dev/gpu-lowpri") || err.contains("fails the plan check"),
            "{err}"
        );
        assert_eq!(emu.count("DELETE", "/computes/"), 0, "nothing deleted");
        assert!(compute_exists(&emu, "gpu-lowpri"));
    }
}

/// (b) A secret slot moved onto a tag (with the placeholder put there, so the body looks
/// redacted): refused; the secret reaches no compute.
#[test]
fn secret_slot_moved_onto_a_tag_is_refused() {
    let project = Project::example();
    let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &[]);
    let (pf, mut plan) = save_plan(&project, &emu.url, &[], 0);
    let secret = SECRET_ENV
        .iter()
        .find(|(k, _)| *k == "DSVM_ADMIN_PASSWORD")
        .map(|(_, v)| *v)
        .expect("secret");
    let mut moved = None;
    for e in plan["entries"].as_array_mut().expect("entries") {
        let name = e["name"].as_str().map(str::to_string);
        for s in e["steps"].as_array_mut().expect("steps") {
            let has = s["secrets"].as_array().is_some_and(|slots| {
                slots
                    .iter()
                    .any(|slot| slot["secret"]["env"] == "DSVM_ADMIN_PASSWORD")
            });
            if !has {
                continue;
            }
            for slot in s["secrets"].as_array_mut().expect("slots") {
                if slot["secret"]["env"] == "DSVM_ADMIN_PASSWORD" {
                    slot["pointer"] = json!("/tags/x");
                }
            }
            s["body"]["tags"]["x"] = json!("<redacted>");
            moved = name.clone();
        }
    }
    let vm = moved.expect("a step with the DSVM_ADMIN_PASSWORD slot");
    write_json(&pf, &plan);
    let p = pf.to_string_lossy().to_string();
    let out = run_in(
        &project.root,
        &emu.url,
        &["apply", &p, "--auto-approve", "--partial"],
        1,
    );
    assert!(
        stderr(&out).contains(&format!("stale plan: dev/{vm}")),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        emu.count("PUT", &format!("/computes/{vm}")),
        0,
        "no PUT of {vm}"
    );
    assert!(
        emu.count("PUT", "/computes/") > 0,
        "--partial applied the others"
    );
    let (status, list) = http_send(
        "GET",
        &format!("{}{WS_PATH}?api-version=2025-12-01", emu.url),
        None,
    );
    assert_eq!(status, 200);
    assert!(!list.contains(secret), "the secret is readable: {list}");
    let state = std::fs::read_to_string(&emu.state).unwrap_or_default();
    assert!(
        !state.contains(secret),
        "the secret reached the emulator state"
    );
}

/// (c) `root` pointed at a folder whose amlctl.yaml names a stand-in endpoint: the stand-in
/// receives nothing (the repository comes from the current directory).
#[test]
fn rewritten_root_never_locates_the_config() {
    let project = Project::example();
    let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &[]);
    let config = project.path("amlctl.yaml");
    let text = std::fs::read_to_string(&config).expect("read");
    let standin = LoopbackServer::start(Arc::new(|_m: &str, _t: &str, _b: &str| {
        (200u16, "{\"value\": []}".to_string())
    }));
    // The folder the edited `root` points at holds an amlctl.yaml that names the stand-in (a
    // non-cloud `defaults.arm_endpoint` is refused anyway, see threat_endpoints) and one more
    // workspace alias: read as the config, it would change what is planned or fail the load.
    let evil = project.dir.path().join("evil");
    std::fs::create_dir_all(&evil).expect("mkdir");
    std::fs::write(
        evil.join("amlctl.yaml"),
        text.replace(
            "defaults:\n",
            &format!("defaults:\n  arm_endpoint: {}\n", standin.url),
        ),
    )
    .expect("write");
    let pf = project.dir.path().join("plan.json");
    let (r, p) = (
        project.root.to_string_lossy().to_string(),
        pf.to_string_lossy().to_string(),
    );
    let no_env = |args: &[&str]| {
        let mut c = cmd(&emu.url, args);
        c.current_dir(&project.root);
        c.output().expect("run")
    };
    let o = no_env(&["plan", &r, "--out", &p]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut plan: Value =
        serde_json::from_str(&std::fs::read_to_string(&pf).expect("read")).expect("json");
    plan["root"] = json!(evil);
    write_json(&pf, &plan);
    let o = no_env(&["apply", &p, "--auto-approve"]);
    assert!(
        standin.received().is_empty(),
        "stand-in got {:?}",
        standin.received()
    );
    assert_eq!(
        standin
            .connections
            .load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        emu.count("PUT", "/computes/") > 0,
        "applied against the repository's endpoint"
    );
}

/// (d) A manifest edited after the plan: refused as made from a different repository state.
#[test]
fn plan_from_another_repository_state_is_refused() {
    let project = Project::example();
    let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &[]);
    let (pf, _) = save_plan(&project, &emu.url, &[], 0);
    let file = project.path("cpu-cluster.yml");
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(&file, format!("{text}\n# edited after the plan\n")).expect("write");
    let p = pf.to_string_lossy().to_string();
    let out = run_in(&project.root, &emu.url, &["apply", &p, "--auto-approve"], 1);
    assert!(
        stderr(&out).contains("this plan was made from a different state of the repository"),
        "{}",
        stderr(&out)
    );
    assert_eq!(emu.count("PUT", "/computes/"), 0);

    // A plan file of the old format (no digest) is refused with a hint to plan again.
    std::fs::write(&file, text).expect("write");
    let mut plan: Value =
        serde_json::from_str(&std::fs::read_to_string(&pf).expect("read")).expect("json");
    plan.as_object_mut().expect("object").remove("repo_digest");
    write_json(&pf, &plan);
    let out = run_in(&project.root, &emu.url, &["apply", &p, "--auto-approve"], 1);
    assert!(
        stderr(&out).contains("run `amlctl plan --out"),
        "{}",
        stderr(&out)
    );
    assert_eq!(emu.count("PUT", "/computes/"), 0);
}

/// (e) `--target` with a plan file applies only that target; a filter matching no entry exits 1.
#[test]
fn filters_with_a_plan_file_select_or_fail() {
    let project = Project::example();
    let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &[]);
    let (pf, _) = save_plan(&project, &emu.url, &[], 0);
    let p = pf.to_string_lossy().to_string();
    let out = run_in(
        &project.root,
        &emu.url,
        &["apply", &p, "--auto-approve", "--target", "no-such"],
        1,
    );
    assert!(
        stderr(&out).contains("--target no-such"),
        "{}",
        stderr(&out)
    );
    run_in(
        &project.root,
        &emu.url,
        &[
            "apply",
            &p,
            "--auto-approve",
            "--target",
            "cpu-cluster",
            "--workspace",
            "prod",
        ],
        1,
    );
    assert_eq!(emu.count("PUT", "/computes/"), 0);
    run_in(
        &project.root,
        &emu.url,
        &["apply", &p, "--auto-approve", "--target", "cpu-cluster"],
        0,
    );
    assert_eq!(emu.count("PUT", "/computes/"), 1);
    assert_eq!(emu.count("PUT", "/computes/cpu-cluster"), 1);
}

/// (f) `--out amlctl.yaml` is refused and leaves the file alone; a full disk is an error; a
/// closed pipe is not.
#[test]
fn plan_output_errors_are_reported() {
    let project = Project::example();
    let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &[]);
    let r = project.root.to_string_lossy().to_string();
    let config = project.path("amlctl.yaml");
    let before = std::fs::read(&config).expect("read");
    let c = config.to_string_lossy().to_string();
    let out = run(&emu.url, &["plan", &r, "--out", &c], 1);
    assert!(
        stderr(&out).contains("not an amlctl plan file"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(&config).expect("read"),
        before,
        "amlctl.yaml untouched"
    );

    let out = run(&emu.url, &["plan", &r, "--out", "/dev/full"], 1);
    assert!(
        stderr(&out).contains("cannot save the plan"),
        "{}",
        stderr(&out)
    );
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = cmd(&emu.url, &["plan", &r])
        .stdout(full)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot write to standard output"),
        "{}",
        stderr(&out)
    );

    // `amlctl plan | head`: the reader goes away; no error, no failure exit.
    let mut child = cmd(&emu.url, &["plan", &r])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("error"), "{}", stderr(&out));
}

/// (g) `plan --sandbox --out` names every flag apply needs; the sandbox plan applies from inside
/// the repository and is a clear error from outside it.
#[test]
fn sandbox_plan_file_hint_and_apply() {
    let project = Project::example();
    let r = project.root.to_string_lossy().to_string();
    let pf = project.dir.path().join("plan.json");
    let p = pf.to_string_lossy().to_string();
    let out = run(
        "http://127.0.0.1:9",
        &["plan", &r, "--sandbox", "--out", &p],
        0,
    );
    assert!(
        stderr(&out).contains(&format!("Apply it with: amlctl apply {p} --sandbox")),
        "{}",
        stderr(&out)
    );
    let outside = tempfile::tempdir().expect("tempdir");
    let out = run_in(
        outside.path(),
        "http://127.0.0.1:9",
        &["apply", &p, "--sandbox", "--auto-approve"],
        1,
    );
    assert!(
        stderr(&out).contains("inside the repository"),
        "{}",
        stderr(&out)
    );
    assert!(
        !outside.path().join(".amlctl").exists(),
        "no new sandbox state outside"
    );
    run_in(
        &project.root,
        "http://127.0.0.1:9",
        &["apply", &p, "--sandbox", "--auto-approve"],
        0,
    );
    run(
        "http://127.0.0.1:9",
        &["plan", &r, "--sandbox", "--detailed-exitcode"],
        0,
    );
    let out = run(
        "http://127.0.0.1:9",
        &["plan", &r, "--sandbox", "--out", &p],
        0,
    );
    assert!(!stderr(&out).contains("Apply it with"), "{}", stderr(&out));
}

/// A plan file cannot grant a replacement: `--replace` names recorded in it (by `plan --replace`,
/// or added by whoever edited the artifact) must be given again on the apply command line.
#[test]
fn a_plan_file_cannot_grant_a_replacement() {
    let (project, emu) = applied_example(&[]);
    // An untouched no-change plan whose recorded options were edited to ask for a replacement of
    // a compute (with the entry rewritten to match what such a plan would hold is not needed: the
    // options alone are refused before anything is planned again).
    let (pf, mut plan) = save_plan(&project, &emu.url, &[], 0);
    plan["options"]["replace"] = json!(["cpu-cluster"]);
    write_json(&pf, &plan);
    let p = pf.to_string_lossy().to_string();
    let out = run_in(&project.root, &emu.url, &["apply", &p, "--auto-approve"], 1);
    let err = stderr(&out);
    assert!(
        err.contains("cannot grant a replacement") && err.contains("--replace cpu-cluster"),
        "{err}"
    );
    assert_eq!(emu.count("DELETE", "/computes/"), 0, "nothing deleted");

    // A real `plan --replace` is applied only with the same flag on the apply command line.
    let (pf, _) = save_plan(&project, &emu.url, &["--replace", "cpu-cluster"], 0);
    let p = pf.to_string_lossy().to_string();
    let out = run_in(&project.root, &emu.url, &["apply", &p, "--auto-approve"], 1);
    assert!(
        stderr(&out).contains("cannot grant a replacement"),
        "{}",
        stderr(&out)
    );
    assert_eq!(emu.count("DELETE", "/computes/cpu-cluster"), 0);
    run_in(
        &project.root,
        &emu.url,
        &["apply", &p, "--auto-approve", "--replace", "cpu-cluster"],
        0,
    );
    assert_eq!(
        emu.count("DELETE", "/computes/cpu-cluster"),
        1,
        "replaced once"
    );
}
