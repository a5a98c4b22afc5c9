//! `run_serve` through the `serve` example binary: first stdout line, loopback refusal,
//! SIGTERM shutdown with state persisted; and robustness against malformed requests.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::*;
use reqwest::Method;
use serde_json::json;

fn serve_bin() -> Option<PathBuf> {
    // Test binaries live in target/<profile>/deps; examples in target/<profile>/examples.
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.parent()?.join("examples").join("serve");
    p.exists().then_some(p)
}

#[test]
fn serve_prints_listening_line_and_persists_on_sigterm() {
    let Some(bin) = serve_bin() else {
        panic!("examples/serve not built (cargo test builds examples by default)");
    };
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("fixture.yaml");
    std::fs::write(
        &fixture,
        format!("workspaces:\n  - subscription_id: {SUB}\n    resource_group: {RG}\n    name: {WS}\n    location: eastus\nresources: []\n"),
    )
    .unwrap();
    let state = dir.path().join("state.json");
    let mut child = Command::new(&bin)
        .args(["--listen", "127.0.0.1:0", "--accepted-token", TOKEN])
        .arg("--state")
        .arg(&state)
        .arg("--fixture")
        .arg(&fixture)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let first = first.trim_end();
    let port: u16 = first
        .strip_prefix("listening on http://127.0.0.1:")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .parse()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let url = format!("{base}/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces/{WS}/computes/cpu");
        let (s, _, _) = send(Method::PUT, &url, API, Some(&aml_body("Standard_DS3_v2", 0, 1))).await;
        assert_eq!(s, 201);
    });
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(saved["computes"][0]["name"], "cpu");
}

#[test]
fn serve_refuses_non_loopback() {
    let Some(bin) = serve_bin() else {
        panic!("examples/serve not built");
    };
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(&bin)
        .args(["--listen", "0.0.0.0:0", "--state"])
        .arg(dir.path().join("s.json"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
}

#[tokio::test]
async fn malformed_requests_never_cause_server_errors() {
    let emu = start(config()).await;
    let cu = compute_url(&emu, WS, "cpu");
    let bodies = [
        json!(null),
        json!([]),
        json!({}),
        json!({"properties": 3}),
        json!({"properties": {}}),
        json!({"properties": {"computeType": 7}}),
        json!({"properties": {"computeType": "Nope"}}),
        json!({"location": 5, "properties": {"computeType": "AmlCompute", "properties": "x"}}),
        json!({"properties": {"computeType": "AmlCompute", "properties": {"scaleSettings": "x"}}}),
        json!({"properties": {"computeType": "AmlCompute", "properties": {"scaleSettings": {"maxNodeCount": "x"}}}}),
        json!({"properties": {"computeType": "AmlCompute", "properties": {"scaleSettings": {"maxNodeCount": 2, "nodeIdleTimeBeforeScaleDown": "soon"}}}}),
        json!({"properties": {"computeType": "ComputeInstance", "properties": {"sshSettings": 1, "schedules": {"computeStartStop": [1, "x"]}}}}),
        json!({"properties": {"computeType": "AKS", "resourceId": 42}}),
        json!({"identity": {"type": "UserAssigned", "userAssignedIdentities": {"/x": null}}, "properties": {"computeType": "DataFactory"}}),
    ];
    for b in &bodies {
        for m in [Method::PUT, Method::PATCH] {
            let (s, _, r) = send(m.clone(), &cu, API, Some(b)).await;
            assert!(s < 500, "{m} {b} -> {s} {r}");
        }
    }
    // Raw non-JSON body and odd paths.
    let r = client()
        .put(format!("{cu}?api-version={API}"))
        .bearer_auth(TOKEN)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    for path in [
        "/",
        "/subscriptions",
        "/subscriptions/x/resourceGroups/y/providers/Microsoft.MachineLearningServices/workspaces/z/computes/a/b/c/d",
        "/subscriptions/%ZZ/resourceGroups/%2F/providers/x",
        "/subscriptions/x/providers/Microsoft.MachineLearningServices/locations/eastus/computeOperationsStatus/nope",
    ] {
        let r = client()
            .get(format!("{}{path}?api-version={API}", emu.base_url()))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{path} -> {}", r.status());
    }
    // Still healthy.
    assert_eq!(
        send(
            Method::GET,
            &format!("{}/computes", ws_url(&emu, WS)),
            API,
            None
        )
        .await
        .0,
        200
    );
    emu.shutdown().await;
}
