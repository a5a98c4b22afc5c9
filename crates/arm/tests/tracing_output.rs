//! Every request gets a `tracing` span (method, path, attempt, status, duration), and nothing that
//! is logged — by this crate or by the HTTP stack beneath it, at any level — contains the token, a
//! query string or a body secret. Alone in its own binary because it installs the global subscriber.

mod common;

use amlctl_arm::{ArmClient, StaticTokenCredential};
use amlctl_emulator::FaultSpec;
use common::*;
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn spans_describe_requests_and_never_carry_secrets() {
    let buf = Buf::default();
    let writer = buf.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let seed = seed_for(0.5, 1, 6);
    let token = "tok-SUPERSECRET-123456";
    let mut cfg = config();
    cfg.accepted_tokens = vec![token.into()];
    let emu = start(amlctl_emulator::EmulatorConfig {
        faults: FaultSpec::parse("503=0.5").unwrap(),
        fault_seed: seed,
        ..cfg
    })
    .await;
    let c = ArmClient::new(
        options(&emu.base_url()),
        StaticTokenCredential::new(token.into()),
    )
    .unwrap();
    let mut body = ci_body("Standard_DS3_v2");
    body["properties"]["properties"]["sshSettings"] =
        json!({"sshPublicAccess": "Enabled", "adminPublicKey": "ssh-rsa AAAA-PUBKEY"});
    body["properties"]["description"] = json!("PASSWORD-IN-BODY-777");
    c.create_or_update(&ws(), "traced", &body, None)
        .await
        .unwrap();
    emu.shutdown().await;

    let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(out.contains("arm_request"), "{out}");
    assert!(
        out.contains("method=\"PUT\"") || out.contains("method=PUT"),
        "{out}"
    );
    assert!(out.contains("/computes/traced"), "{out}");
    assert!(
        out.contains("status=503"),
        "the retried 503 is visible: {out}"
    );
    assert!(out.contains("attempt=2"), "{out}");
    assert!(out.contains("duration_ms"), "{out}");
    for secret in [token, "PASSWORD-IN-BODY-777", "api-version"] {
        assert!(
            !out.contains(secret),
            "{secret} leaked into the log:\n{out}"
        );
    }
}
