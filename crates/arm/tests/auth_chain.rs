//! `--auth auto` with nothing configured: the error lists what every source said, in chain order.
//!
//! The chain reads `AZURE_*`/`IDENTITY_*` variables from the process environment, so this test
//! lives alone in its own test binary (its own process) and clears them before anything else runs.

mod common;

use amlctl_arm::{ArmClient, ArmError, AuthMethod, credential};
use common::*;

#[tokio::test]
async fn failed_auto_chain_lists_every_source() {
    // SAFETY: the only test in this binary; nothing else reads the environment concurrently.
    unsafe {
        for v in [
            "AZURE_TENANT_ID",
            "AZURE_CLIENT_ID",
            "AZURE_CLIENT_SECRET",
            "AZURE_FEDERATED_TOKEN_FILE",
            "IDENTITY_ENDPOINT",
            "IDENTITY_HEADER",
            "MSI_ENDPOINT",
            "MSI_SECRET",
        ] {
            std::env::remove_var(v);
        }
        // Developer tools must not be found (nor a logged-in account used).
        std::env::set_var("PATH", "/nonexistent");
    }
    let emu = start(config()).await;
    let c = ArmClient::new(
        options(&emu.base_url()),
        credential(AuthMethod::Auto).unwrap(),
    )
    .unwrap();
    let err = c.get_workspace(&ws()).await.unwrap_err();
    let ArmError::Auth { source_messages } = &err else {
        panic!("expected Auth, got {err:?}");
    };
    let names: Vec<&str> = source_messages.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "client secret",
            "workload identity",
            "managed identity",
            "azure cli",
            "azure developer cli"
        ]
    );
    assert!(
        source_messages[0].1.contains("AZURE_CLIENT_SECRET"),
        "{source_messages:?}"
    );
    assert!(
        source_messages[1].1.contains("AZURE_FEDERATED_TOKEN_FILE"),
        "{source_messages:?}"
    );
    assert!(err.summary().contains("--auth"), "{}", err.summary());
    // No request reached ARM without a token.
    assert!(requests(&emu).await.is_empty());

    // An explicit method that is not configured fails when the credential is built.
    let e = credential(AuthMethod::ClientSecret).unwrap_err();
    assert!(e.to_string().contains("client secret"), "{e}");
    emu.shutdown().await;
}
