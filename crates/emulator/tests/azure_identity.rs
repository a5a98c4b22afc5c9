//! End to end with the real `azure_identity` managed-identity credential: it discovers the
//! emulator's `/msi/token` through `IDENTITY_ENDPOINT`/`IDENTITY_HEADER` (App Service style),
//! parses the token response, and the token is then accepted by the ARM routes.
//! (Own test binary: it sets process environment variables.)

mod common;

use amlctl_emulator::EmulatorConfig;
use azure_core::credentials::TokenCredential;
use azure_identity::ManagedIdentityCredential;
use common::*;

#[tokio::test]
async fn managed_identity_credential_gets_an_accepted_token() {
    let emu = start(EmulatorConfig {
        identity_header: "header-secret".into(),
        accepted_tokens: Vec::new(),
        ..config()
    })
    .await;
    // SAFETY: this test binary has a single test; nothing else reads the environment concurrently.
    unsafe {
        std::env::set_var("IDENTITY_ENDPOINT", format!("{}/msi/token", emu.base_url()));
        std::env::set_var("IDENTITY_HEADER", "header-secret");
    }
    let cred = ManagedIdentityCredential::new(None).unwrap();
    let tok = cred
        .get_token(&["https://management.azure.com/.default"], None)
        .await
        .unwrap();
    assert!(tok.expires_on > time::OffsetDateTime::now_utc());
    let url = format!("{}/computes?api-version={API}", ws_url(&emu, WS));
    let r = client()
        .get(&url)
        .bearer_auth(tok.token.secret())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Without the token the same request is refused (accepted_tokens is empty here).
    assert_eq!(client().get(&url).send().await.unwrap().status(), 401);
    emu.shutdown().await;
}
