//! Drift you can explain, changes you can trust (issue #16), through the real binary against
//! `amlctl emulator serve`: a compute changed by someone else is attributed to them from the
//! Activity Log, `plan --drift` lists only drifted targets, and `apply` reads every change back
//! and fails on a key the service accepted but did not apply (`--drop-on-put`).

use std::io::{Read, Write};
use std::time::Duration;

use crate::common::*;

const SUB: &str = "00000000-0000-0000-0000-000000000000";
const ALICE_TOKEN: &str = "alice-token";
const ALICE: &str = "alice@example.com";

fn root(p: &Project) -> String {
    p.root.to_string_lossy().to_string()
}

fn cpu_cluster_url(emu: &EmulatorProcess) -> String {
    format!(
        "{}/subscriptions/{SUB}/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev/computes/cpu-cluster?api-version=2025-12-01",
        emu.url
    )
}

/// `method url` with `token` as the bearer (another client than amlctl); returns the status.
fn send_as(token: &str, method: &str, url: &str, body: &serde_json::Value) -> u16 {
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_once('/').expect("path");
    let mut stream = std::net::TcpStream::connect(host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let payload = body.to_string();
    write!(
        stream,
        "{method} /{path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    )
    .expect("write");
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).expect("read");
    String::from_utf8_lossy(&buf)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Alice scales `dev/cpu-cluster` to 9 nodes with her own token.
fn alice_scales_cpu_cluster(emu: &EmulatorProcess) {
    let status = send_as(
        ALICE_TOKEN,
        "PATCH",
        &cpu_cluster_url(emu),
        &serde_json::json!({"properties": {"properties": {"scaleSettings": {"maxNodeCount": 9}}}}),
    );
    assert!((200..300).contains(&status), "PATCH as alice: {status}");
}

/// Replaces `from` by `to` in the manifest holding `needle`.
fn edit(project: &Project, needle: &str, from: &str, to: &str) {
    let path = manifest_with(project, needle);
    let text = std::fs::read_to_string(&path).expect("manifest");
    assert!(text.contains(from), "{from:?} not in {}", path.display());
    std::fs::write(&path, text.replace(from, to)).expect("write manifest");
}

fn append_fixture(project: &Project, extra: &str) {
    let mut text = std::fs::read_to_string(&project.fixture).expect("fixture");
    text.push_str(extra);
    std::fs::write(&project.fixture, text).expect("fixture");
}

#[test]
fn a_change_by_someone_else_is_attributed_and_drift_mode_lists_only_it() {
    let project = Project::example();
    let accepted = format!("{ALICE_TOKEN}={ALICE}");
    let emu = EmulatorProcess::start(
        project.dir.path(),
        &project.fixture,
        &["--accepted-token", &accepted],
    );
    let r = root(&project);
    run(&emu.url, &["apply", &r, "--auto-approve"], 0);
    run(&emu.url, &["plan", &r, "--drift"], 0);

    alice_scales_cpu_cluster(&emu);
    // A manifest change is a change, not drift.
    edit(
        &project,
        "name: gpu-lowpri",
        "max_instances: 2",
        "max_instances: 3",
    );

    let text = stdout(&run(&emu.url, &["plan", &r, "--detailed-exitcode"], 2));
    assert!(
        text.contains(&format!("changed outside amlctl by {ALICE} at ")),
        "{text}"
    );
    assert!(
        text.contains("(Microsoft.MachineLearningServices/workspaces/computes/write)"),
        "{text}"
    );
    assert_eq!(text.matches("changed outside amlctl").count(), 1, "{text}");
    assert!(text.contains("dev/gpu-lowpri"), "{text}");

    let md = stdout(&run(&emu.url, &["plan", &r, "--format", "markdown"], 0));
    assert!(
        md.contains(&format!(
            "#           changed outside amlctl by {ALICE} at "
        )),
        "{md}"
    );

    let json: serde_json::Value = serde_json::from_str(&stdout(&run(
        &emu.url,
        &["plan", &r, "--format", "json"],
        0,
    )))
    .expect("json plan");
    let entries = json["entries"].as_array().expect("entries");
    let cpu = entries
        .iter()
        .find(|e| e["address"] == "dev/cpu-cluster")
        .expect("cpu-cluster entry");
    assert_eq!(cpu["drift"]["caller"], ALICE, "{cpu}");
    assert!(cpu["drift"]["time"].is_string(), "{cpu}");
    let gpu = entries
        .iter()
        .find(|e| e["address"] == "dev/gpu-lowpri")
        .expect("gpu-lowpri entry");
    assert!(gpu.get("drift").is_none(), "{gpu}");

    let drift = stdout(&run(&emu.url, &["plan", &r, "--drift"], 2));
    assert!(drift.contains("dev/cpu-cluster"), "{drift}");
    assert!(drift.contains(ALICE), "{drift}");
    assert!(!drift.contains("gpu-lowpri"), "{drift}");
    let drift_json: serde_json::Value = serde_json::from_str(&stdout(&run(
        &emu.url,
        &["plan", &r, "--drift", "--format", "json"],
        2,
    )))
    .expect("json");
    assert_eq!(drift_json["entries"].as_array().map(Vec::len), Some(1));

    run(&emu.url, &["apply", &r, "--auto-approve"], 0);
    run(&emu.url, &["plan", &r, "--drift"], 0);
    run(&emu.url, &["plan", &r, "--detailed-exitcode"], 0);
}

#[test]
fn no_access_to_the_activity_log_is_caller_unknown() {
    let project = Project::example();
    append_fixture(
        &project,
        &format!("forbidden_resources:\n  - /subscriptions/{SUB}/providers/Microsoft.Insights\n"),
    );
    let accepted = format!("{ALICE_TOKEN}={ALICE}");
    let emu = EmulatorProcess::start(
        project.dir.path(),
        &project.fixture,
        &["--accepted-token", &accepted],
    );
    let r = root(&project);
    run(&emu.url, &["apply", &r, "--auto-approve"], 0);
    alice_scales_cpu_cluster(&emu);
    let text = stdout(&run(&emu.url, &["plan", &r, "--drift"], 2));
    assert!(
        text.contains("changed outside amlctl (caller unknown"),
        "{text}"
    );
    assert!(!text.contains(ALICE), "{text}");
    assert!(emu.count("GET", "/providers/Microsoft.Insights/eventtypes") >= 1);
}

#[test]
fn a_key_accepted_but_not_applied_fails_the_apply() {
    let project = Project::example();
    let mut emu = EmulatorProcess::start(project.dir.path(), &project.fixture, &[]);
    let r = root(&project);
    run(&emu.url, &["apply", &r, "--auto-approve"], 0);
    edit(
        &project,
        "name: cpu-cluster",
        "max_instances: 4",
        "max_instances: 6",
    );

    let state = emu.state.clone();
    emu.kill();
    let mut emu = EmulatorProcess::restart_from_state(
        &state,
        &[
            "--drop-on-put".to_string(),
            "/properties/properties/scaleSettings/maxNodeCount".to_string(),
        ],
    );
    let out = run(&emu.url, &["apply", &r, "--auto-approve"], 1);
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        all.contains("accepted but not applied: max_instances (sent 6, service has 4)"),
        "{all}"
    );

    emu.kill();
    let emu = EmulatorProcess::restart_from_state(&state, &[]);
    run(&emu.url, &["apply", &r, "--auto-approve"], 0);
    run(&emu.url, &["plan", &r, "--detailed-exitcode"], 0);
}
