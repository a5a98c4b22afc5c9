//! Shared helpers for the ARM client's integration tests: a real emulator on 127.0.0.1 and, for the
//! LRO styles the emulator does not offer on its own, a real HTTP proxy that forwards to it and
//! strips polling headers. No mocks: every request is real HTTP.
#![allow(dead_code)]

use amlctl_arm::{ArmClient, ClientOptions, StaticTokenCredential, WorkspaceId};
use amlctl_emulator::{Emulator, EmulatorConfig, Fixture, FixtureWorkspace};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

pub const SUB: &str = "00000000-0000-0000-0000-0000000000a1";
pub const RG: &str = "rg-ml";
pub const WS: &str = "mlw-dev";
pub const TOKEN: &str = "arm-test-token-9f8e7d";

pub fn ws() -> WorkspaceId {
    WorkspaceId {
        subscription_id: SUB.into(),
        resource_group: RG.into(),
        workspace: WS.into(),
    }
}

pub fn config() -> EmulatorConfig {
    EmulatorConfig {
        fixture: Some(Fixture {
            workspaces: vec![FixtureWorkspace {
                subscription_id: SUB.into(),
                resource_group: RG.into(),
                name: WS.into(),
                location: "eastus".into(),
            }],
            resources: vec![],
            ..Default::default()
        }),
        accepted_tokens: vec![TOKEN.into()],
        lro_ms: 150,
        retry_after_s: 0,
        ..EmulatorConfig::default()
    }
}

pub async fn start(cfg: EmulatorConfig) -> Emulator {
    Emulator::start("127.0.0.1:0".parse().unwrap(), cfg)
        .await
        .expect("emulator starts")
}

/// Fast options for tests: ms poll interval and backoff base, 30 s deadline.
pub fn options(base: &str) -> ClientOptions {
    let mut o = ClientOptions::for_endpoint(url::Url::parse(base).unwrap());
    o.poll_interval = Duration::from_millis(20);
    o.retry_base = Duration::from_millis(20);
    o.deadline = Duration::from_secs(30);
    o
}

pub fn client(base: &str) -> ArmClient {
    ArmClient::new(options(base), StaticTokenCredential::new(TOKEN.into())).unwrap()
}

pub fn aml_body(vm_size: &str, min: i64, max: i64) -> Value {
    json!({
        "location": "eastus",
        "properties": {
            "computeType": "AmlCompute",
            "properties": {
                "vmSize": vm_size,
                "vmPriority": "Dedicated",
                "scaleSettings": {"minNodeCount": min, "maxNodeCount": max}
            }
        }
    })
}

pub fn ci_body(vm_size: &str) -> Value {
    json!({
        "location": "eastus",
        "properties": {"computeType": "ComputeInstance", "properties": {"vmSize": vm_size}}
    })
}

/// The emulator's request log (`/_emulator/requests`): `(method, path, query, status)`.
pub async fn requests(emu: &Emulator) -> Vec<(String, String, String, u16)> {
    let v: Value = reqwest::get(format!("{}/_emulator/requests", emu.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap_or_default().to_string(),
                r["path"].as_str().unwrap_or_default().to_string(),
                r["query"].as_str().unwrap_or_default().to_string(),
                r["status"].as_u64().unwrap_or_default() as u16,
            )
        })
        .collect()
}

/// A seed for which the emulator's fault RNG (StdRng seeded with it, one f64 draw per ARM request)
/// picks a fault of rate `rate` (the only fault configured) for the first `faulty` requests and none
/// for the next `clean` ones. Tests also check the emulator's request log, so a change in how the
/// emulator draws shows up as a clear failure rather than a silent pass.
pub fn seed_for(rate: f64, faulty: usize, clean: usize) -> u64 {
    use rand::{Rng, SeedableRng, rngs::StdRng};
    (0..100_000u64)
        .find(|seed| {
            let mut rng = StdRng::seed_from_u64(*seed);
            (0..faulty).all(|_| rng.random::<f64>() < rate)
                && (0..clean).all(|_| rng.random::<f64>() >= rate)
        })
        .expect("a seed exists")
}

/// Which polling headers the proxy removes from the emulator's answers.
#[derive(Clone, Copy, Debug)]
pub enum Strip {
    /// Remove `Azure-AsyncOperation` only: clients must use `Location`.
    AsyncOperation,
    /// Remove `Azure-AsyncOperation` and `Location`: clients must follow `provisioningState`.
    Both,
    /// Strip nothing, but forward the first PUT/DELETE to the emulator and then drop the client's
    /// connection without an answer (the write happened; its answer was lost).
    LoseFirstWriteAnswer,
}

/// Starts a plain HTTP proxy on 127.0.0.1 that forwards every request to `upstream` (keeping the
/// `Host` header, so the emulator's URLs point back at the proxy) and removes polling headers.
pub async fn start_proxy(upstream: SocketAddr, strip: Strip) -> SocketAddr {
    use axum::body::Body;
    use axum::extract::Request;
    use axum::response::Response;

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let lost = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let handler = move |req: Request| {
        let http = http.clone();
        let lost = lost.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, 16 * 1024 * 1024)
                .await
                .unwrap_or_default();
            let pq = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "/".into());
            let mut rb = http.request(parts.method.clone(), format!("http://{upstream}{pq}"));
            for (k, v) in parts.headers.iter() {
                rb = rb.header(k, v);
            }
            let resp = match rb.body(body.to_vec()).send().await {
                Ok(r) => r,
                Err(_) => {
                    return Response::builder().status(502).body(Body::empty()).unwrap();
                }
            };
            if matches!(strip, Strip::LoseFirstWriteAnswer)
                && (parts.method == "PUT" || parts.method == "DELETE")
                && !lost.swap(true, std::sync::atomic::Ordering::SeqCst)
            {
                // Unwinding out of the handler makes the server drop this connection with no
                // answer (resume_unwind skips the panic hook, so nothing is printed).
                std::panic::resume_unwind(Box::new("drop the connection"));
            }
            let mut out = Response::builder().status(resp.status().as_u16());
            for (k, v) in resp.headers() {
                let name = k.as_str().to_ascii_lowercase();
                let drop = match strip {
                    Strip::AsyncOperation => name == "azure-asyncoperation",
                    Strip::Both => name == "azure-asyncoperation" || name == "location",
                    Strip::LoseFirstWriteAnswer => false,
                };
                if !drop && name != "content-length" && name != "transfer-encoding" {
                    out = out.header(k, v);
                }
            }
            let bytes = resp.bytes().await.unwrap_or_default();
            out.body(Body::from(bytes)).unwrap()
        }
    };
    let app = axum::Router::new().fallback(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}
