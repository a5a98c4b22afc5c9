//! Managed-identity authentication through the emulator's App Service style `/msi/token`.
//!
//! `azure_identity`'s `ManagedIdentityCredential` reads `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`
//! from the process environment (when it is built), and offers no other way to point it at an
//! endpoint. Setting process environment variables is only sound while no other thread reads the
//! environment, so this test lives alone in its own test binary (its own process) and sets them
//! first thing, before any other thread of the test is started.

mod common;

use amlctl_arm::{ArmClient, AuthMethod, credential};
use common::*;

#[tokio::test]
async fn managed_identity_token_from_the_emulator_msi_endpoint() {
    let mut cfg = config();
    cfg.accepted_tokens.clear(); // only tokens issued by /msi/token are accepted
    cfg.identity_header = "msi-header-secret-42".into();
    let emu = start(cfg).await;
    // SAFETY: the only test in this binary; the emulator's server task does not read the environment.
    unsafe {
        std::env::set_var("IDENTITY_ENDPOINT", format!("{}/msi/token", emu.base_url()));
        std::env::set_var("IDENTITY_HEADER", "msi-header-secret-42");
        std::env::remove_var("AZURE_CLIENT_ID");
    }
    let cred = credential(AuthMethod::ManagedIdentity).expect("managed identity credential");
    let c = ArmClient::new(options(&emu.base_url()), cred).unwrap();
    assert_eq!(c.credential_source(), "managed identity");
    let ws_json = c
        .get_workspace(&ws())
        .await
        .expect("authenticated through /msi/token");
    assert_eq!(ws_json["name"], WS);
    // A second call reuses the cached token.
    c.list_computes(&ws()).await.unwrap();
    assert_eq!(c.stats().token_requests, 1);

    // The auto chain finds the same managed identity (no client secret / federated token set).
    unsafe {
        for v in ["AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE"] {
            std::env::remove_var(v);
        }
    }
    let auto = ArmClient::new(
        options(&emu.base_url()),
        credential(AuthMethod::Auto).unwrap(),
    )
    .unwrap();
    auto.get_workspace(&ws())
        .await
        .expect("auto chain reaches managed identity");
    assert_eq!(
        auto.credential_source(),
        "managed identity (chosen by --auth auto)"
    );

    // A wrong identity header: the chain reports what managed identity said.
    unsafe {
        std::env::set_var("IDENTITY_HEADER", "wrong");
    }
    let bad = ArmClient::new(
        options(&emu.base_url()),
        credential(AuthMethod::ManagedIdentity).unwrap(),
    )
    .unwrap();
    let err = bad.get_workspace(&ws()).await.unwrap_err();
    match &err {
        amlctl_arm::ArmError::Auth { source_messages } => {
            assert_eq!(
                source_messages[0].0, "managed identity",
                "{source_messages:?}"
            );
        }
        other => panic!("expected Auth, got {other:?}"),
    }
    assert!(!err.to_string().contains("msi-header-secret-42"));
    emu.shutdown().await;
}
