//! A state file written by an emulator that still stored secret values is masked when loaded:
//! the next start rewrites it with digest markers only.

mod common;

use amlctl_emulator::{EmulatorConfig, secret_marker};
use common::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn plain_secrets_in_an_old_state_file_are_masked_on_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let cfg = || EmulatorConfig {
        state_path: Some(path.clone()),
        ..config()
    };
    let emu = start(cfg()).await;
    let url = compute_url(&emu, WS, "old");
    let mut body = aml_body("Standard_DS3_v2", 0, 1);
    body["properties"]["properties"]["userAccountCredentials"] =
        json!({"adminUserName": "azureuser", "adminUserPassword": "legacy-plain-secret"});
    assert_eq!(send(Method::PUT, &url, API, Some(&body)).await.0, 201);
    emu.shutdown().await;
    // Make it look like an old state file: the value in plain text.
    let text = std::fs::read_to_string(&path).unwrap();
    let marker = secret_marker("legacy-plain-secret");
    assert!(text.contains(&marker));
    std::fs::write(&path, text.replace(&marker, "legacy-plain-secret")).unwrap();

    let emu = start(cfg()).await;
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("legacy-plain-secret"),
        "the old value survived a start"
    );
    let (s, _, k) = send(
        Method::POST,
        &format!("{}/listKeys", compute_url(&emu, WS, "old")),
        API,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        k["userAccountCredentials"]["adminUserPassword"],
        json!(marker)
    );
    emu.shutdown().await;
}
