//! Behaviour tests over real HTTP on 127.0.0.1.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use amlctl_emulator::{
    Emulator, EmulatorConfig, EmulatorError, FaultSpec, Quirks, RateLimit, secret_marker,
};
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

async fn get(url: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    send(Method::GET, url, API, None).await
}

async fn put(url: &str, body: &Value) -> (u16, reqwest::header::HeaderMap, Value) {
    send(Method::PUT, url, API, Some(body)).await
}

async fn status_of(op_url: &str) -> Value {
    let r = client()
        .get(op_url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn paging_follows_next_link_across_pages() {
    let emu = start(EmulatorConfig {
        page_size: 2,
        ..config()
    })
    .await;
    for i in 0..5 {
        let (s, _, b) = put(
            &compute_url(&emu, WS, &format!("cluster{i}")),
            &aml_body("Standard_DS3_v2", 0, 2),
        )
        .await;
        assert_eq!(s, 201, "{b}");
    }
    let mut names = Vec::new();
    let mut url = format!("{}/computes?api-version={API}", ws_url(&emu, WS));
    let mut pages = 0;
    loop {
        let r = client().get(&url).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let b: Value = r.json().await.unwrap();
        pages += 1;
        for v in b["value"].as_array().unwrap() {
            names.push(v["name"].as_str().unwrap().to_string());
        }
        match b["nextLink"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&emu.base_url()), "{next}");
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        names,
        (0..5).map(|i| format!("cluster{i}")).collect::<Vec<_>>()
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn lro_goes_creating_then_succeeded() {
    let emu = start(EmulatorConfig {
        lro_ms: 400,
        retry_after_s: 0,
        ..config()
    })
    .await;
    let url = compute_url(&emu, WS, "cpu");
    let t0 = Instant::now();
    let (s, h, b) = put(&url, &aml_body("Standard_DS3_v2", 1, 2)).await;
    assert_eq!(s, 201);
    assert_eq!(b["properties"]["provisioningState"], "Creating");
    // The service sends only Azure-AsyncOperation on a PUT (recordings README).
    assert!(!h.contains_key("retry-after") && !h.contains_key("location"));
    let op = h["azure-asyncoperation"].to_str().unwrap().to_string();
    assert!(op.starts_with(&emu.base_url()));
    let (_, _, g) = get(&url).await;
    if t0.elapsed() < Duration::from_millis(400) {
        assert_eq!(g["properties"]["provisioningState"], "Creating");
        assert_eq!(status_of(&op).await["status"], "InProgress");
    }
    let done = wait_terminal(&url).await;
    assert!(t0.elapsed() >= Duration::from_millis(400));
    assert_eq!(done["properties"]["provisioningState"], "Succeeded");
    assert_eq!(done["properties"]["properties"]["currentNodeCount"], 1);
    let st = status_of(&op).await;
    // Exactly the recorded status body.
    assert_eq!(st, json!({"status": "Succeeded", "percentComplete": 100.0}));

    // DELETE: 202 with Azure-AsyncOperation only (as the service); the result URL beside it
    // answers 202 then 204.
    let (s, h, _) = send(
        Method::DELETE,
        &format!("{url}?underlyingResourceAction=Delete"),
        API,
        None,
    )
    .await;
    assert_eq!(s, 202);
    assert!(!h.contains_key("location"));
    let loc = h["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .replace("computeOperationsStatus", "computeOperationsResults");
    // The delete takes the configured LRO time, so the first poll right after the 202 must see
    // the operation still running (202), and a later one its end (204); bounded, never open-ended.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut answers = Vec::new();
    loop {
        let r = client().get(&loc).bearer_auth(TOKEN).send().await.unwrap();
        let code = r.status().as_u16();
        answers.push(code);
        match code {
            202 => {}
            204 => break,
            other => panic!("location answered {other}"),
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the delete never finished: {answers:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(answers.first(), Some(&202), "answers: {answers:?}");
    assert_eq!(answers.last(), Some(&204), "answers: {answers:?}");
    assert_eq!(get(&url).await.0, 404);
    // A second delete of an absent compute: 204.
    assert_eq!(
        send(
            Method::DELETE,
            &format!("{url}?underlyingResourceAction=Delete"),
            API,
            None
        )
        .await
        .0,
        204
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn unauthenticated_requests_get_401() {
    let emu = start(config()).await;
    let url = format!("{}?api-version={API}", compute_url(&emu, WS, "x1"));
    let r = client().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "AuthenticationFailed");
    let r = client()
        .get(&url)
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "InvalidAuthenticationToken");
    let r = client()
        .get(&url)
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    emu.shutdown().await;
}

#[tokio::test]
async fn msi_token_flow() {
    let emu = start(EmulatorConfig {
        identity_header: "s3cret".into(),
        ..config()
    })
    .await;
    let tok_url = format!(
        "{}/msi/token?api-version=2019-08-01&resource=https://management.azure.com",
        emu.base_url()
    );
    let r = client().get(&tok_url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = client()
        .get(&tok_url)
        .header("X-IDENTITY-HEADER", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client()
        .get(&tok_url)
        .header("X-IDENTITY-HEADER", "s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    let token = b["access_token"].as_str().unwrap().to_string();
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["resource"], "https://management.azure.com");
    let exp: i64 = b["expires_on"].as_str().unwrap().parse().unwrap();
    assert!(exp > time::OffsetDateTime::now_utc().unix_timestamp());
    let url = format!("{}/computes?api-version={API}", ws_url(&emu, WS));
    let r = client().get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Missing resource → 400.
    let r = client()
        .get(format!(
            "{}/msi/token?api-version=2019-08-01",
            emu.base_url()
        ))
        .header("X-IDENTITY-HEADER", "s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    emu.shutdown().await;
}

#[tokio::test]
async fn put_rejects_immutable_changes_and_allows_mutable_ones() {
    let emu = start(config()).await;
    let url = compute_url(&emu, WS, "cpu");
    assert_eq!(put(&url, &aml_body("Standard_DS3_v2", 0, 2)).await.0, 201);
    wait_terminal(&url).await;
    let (s, _, b) = put(&url, &aml_body("Standard_NC6", 0, 2)).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"]["code"], "ComputeFieldImmutable");
    assert!(b["error"]["target"].as_str().unwrap().contains("vmSize"));
    let mut low = aml_body("Standard_DS3_v2", 0, 2);
    low["properties"]["properties"]["vmPriority"] = json!("LowPriority");
    let (s, _, b) = put(&url, &low).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("ComputeFieldImmutable"))
    );
    // Different computeType.
    let (s, _, b) = put(&url, &ci_body("Standard_DS3_v2")).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("ComputeFieldImmutable"))
    );
    // Same immutable fields, new tags/description/scale: an update, answered 201 "Creating"
    // as the service does.
    let mut ok = aml_body("standard_ds3_v2", 1, 3);
    ok["tags"] = json!({"team": "ml"});
    ok["properties"]["description"] = json!("changed");
    let (s, _, b) = put(&url, &ok).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["properties"]["provisioningState"], "Creating");
    let done = wait_terminal(&url).await;
    assert_eq!(done["tags"]["team"], "ml");
    assert_eq!(
        done["properties"]["properties"]["scaleSettings"]["maxNodeCount"],
        3
    );
    // Compute instance settings are all immutable.
    let ci = compute_url(&emu, WS, "ci-one");
    assert_eq!(put(&ci, &ci_body("Standard_DS3_v2")).await.0, 201);
    wait_terminal(&ci).await;
    let mut changed = ci_body("Standard_DS3_v2");
    changed["properties"]["properties"]["applicationSharingPolicy"] = json!("Personal");
    let (s, _, b) = put(&ci, &changed).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("UserError")));
    emu.shutdown().await;
}

#[tokio::test]
async fn validation_rejections() {
    let emu = start(EmulatorConfig {
        lro_ms: 60_000,
        ..config()
    })
    .await;
    let (s, _, b) = put(
        &compute_url(&emu, WS, "cpu"),
        &aml_body("Standard_DS3_v2", 3, 2),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("InvalidScaleSettings"))
    );
    let (s, _, b) = put(
        &compute_url(&emu, WS, "1bad_name"),
        &aml_body("Standard_DS3_v2", 0, 2),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("InvalidComputeName"))
    );
    let (s, _, b) = put(
        &compute_url(&emu, WS, "ci-dev-01"),
        &ci_body("Standard_DS3_v2"),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("InvalidComputeName"))
    );
    let (s, _, b) = get(&compute_url(&emu, "no-such-ws", "cpu")).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (404, Some("ParentResourceNotFound"))
    );
    let (s, _, b) = get(&compute_url(&emu, WS, "absent")).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (404, Some("ResourceNotFound"))
    );
    let (s, _, _) = send(
        Method::PUT,
        &compute_url(&emu, WS, "cpu"),
        API,
        Some(&json!("nope")),
    )
    .await;
    assert_eq!(s, 400);
    let mut bad_enum = aml_body("Standard_DS3_v2", 0, 2);
    bad_enum["properties"]["properties"]["vmPriority"] = json!("Sometimes");
    let (s, _, b) = put(&compute_url(&emu, WS, "enumbad"), &bad_enum).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("InvalidRequestContent"))
    );
    assert!(
        b["error"]["target"]
            .as_str()
            .unwrap()
            .ends_with("vmPriority")
    );
    bad_enum["properties"]["properties"]["vmPriority"] = json!("lowpriority");
    assert_eq!(
        put(&compute_url(&emu, WS, "enumok"), &bad_enum).await.0,
        201
    );
    // Schema violations (wrong JSON types) are rejected without echoing the value.
    let mut wrong = aml_body("Standard_DS3_v2", 0, 2);
    wrong["properties"]["properties"]["vmSize"] = json!(12345);
    let (s, _, b) = put(&compute_url(&emu, WS, "wrongtype"), &wrong).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("InvalidRequestContent"))
    );
    assert!(
        b["error"]["target"].as_str().unwrap().ends_with("vmSize"),
        "{b}"
    );
    assert!(!b.to_string().contains("12345"));
    // PUT while Creating → 409 Conflict.
    let url = compute_url(&emu, WS, "slowone");
    assert_eq!(put(&url, &aml_body("Standard_DS3_v2", 0, 2)).await.0, 201);
    let (s, _, b) = put(&url, &aml_body("Standard_DS3_v2", 0, 2)).await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("Conflict")));
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already in progress")
    );
    // DELETE needs underlyingResourceAction.
    assert_eq!(send(Method::DELETE, &url, API, None).await.0, 400);
    emu.shutdown().await;
}

#[tokio::test]
async fn failed_compute_name_cannot_be_reused() {
    // 12 vCPUs of standardNCFamily in every region (`--quota standardNCFamily=12`, or the
    // older spelling `--quota Standard_NC6=2`: two 6-vCPU nodes); 4 nodes need 24.
    let mut quota = BTreeMap::new();
    quota.insert("standardNCFamily".to_string(), 12u64);
    let emu = start(EmulatorConfig { quota, ..config() }).await;
    let url = compute_url(&emu, WS, "gpu");
    let (s, h, _) = put(&url, &aml_body("Standard_NC6", 4, 4)).await;
    assert_eq!(s, 201);
    let op = h["azure-asyncoperation"].to_str().unwrap().to_string();
    let done = wait_terminal(&url).await;
    assert_eq!(done["properties"]["provisioningState"], "Failed");
    let err = &done["properties"]["provisioningErrors"][0]["error"];
    assert_eq!(err["code"], "ClusterMinNodesExceedCoreQuota");
    let msg = err["message"].as_str().unwrap();
    assert!(
        msg.contains("standardNCFamily") && msg.contains("eastus"),
        "{msg}"
    );
    let st = status_of(&op).await;
    assert_eq!(st["status"], "Failed");
    assert_eq!(st["error"]["code"], "ClusterMinNodesExceedCoreQuota");
    let (s, _, b) = put(&url, &aml_body("Standard_NC6", 0, 2)).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("ComputeNameInFailedState"))
    );
    // Within quota under another name works; after deleting the failed one the name is free.
    assert_eq!(
        put(
            &compute_url(&emu, WS, "gpu2"),
            &aml_body("Standard_NC6", 0, 2)
        )
        .await
        .0,
        201
    );
    assert_eq!(
        send(
            Method::DELETE,
            &format!("{url}?underlyingResourceAction=Delete"),
            API,
            None
        )
        .await
        .0,
        202
    );
    wait_terminal(&url).await;
    assert_eq!(put(&url, &aml_body("Standard_DS3_v2", 0, 2)).await.0, 201);
    emu.shutdown().await;
}

#[tokio::test]
async fn compute_instance_names_are_unique_per_region() {
    let emu = start(config()).await;
    assert_eq!(
        put(
            &compute_url(&emu, WS, "ci-dev"),
            &ci_body("Standard_DS3_v2")
        )
        .await
        .0,
        201
    );
    let (s, _, b) = put(
        &compute_url(&emu, "mlw-other", "CI-DEV"),
        &ci_body("Standard_DS3_v2"),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("ComputeNameNotAvailable"))
    );
    let mut west = ci_body("Standard_DS3_v2");
    west["location"] = json!("westus");
    assert_eq!(
        put(&compute_url(&emu, "mlw-west", "ci-dev"), &west).await.0,
        201
    );
    // Clusters are not subject to the rule.
    assert_eq!(
        put(
            &compute_url(&emu, "mlw-other", "ci-dev"),
            &aml_body("Standard_DS3_v2", 0, 1)
        )
        .await
        .0,
        201
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn start_stop_state_machine() {
    let emu = start(EmulatorConfig {
        lro_ms: 300,
        ..config()
    })
    .await;
    let url = compute_url(&emu, WS, "ci-sm");
    let post = |action: &'static str| {
        let u = format!("{url}/{action}");
        async move { send(Method::POST, &u, API, None).await }
    };
    assert_eq!(put(&url, &ci_body("Standard_DS3_v2")).await.0, 201);
    // While Creating: 409.
    assert_eq!(post("stop").await.0, 409);
    let b = wait_terminal(&url).await;
    assert_eq!(b["properties"]["properties"]["state"], "Running");
    assert_eq!(post("start").await.0, 409);
    let (s, h, _) = post("stop").await;
    assert_eq!(s, 202);
    assert!(h.contains_key("azure-asyncoperation") && !h.contains_key("location"));
    let (_, _, g) = get(&url).await;
    let st = g["properties"]["properties"]["state"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(st == "Stopping" || st == "Stopped", "{st}");
    if st == "Stopping" {
        assert_eq!(post("stop").await.0, 409);
    }
    let b = wait_terminal(&url).await;
    assert_eq!(b["properties"]["properties"]["state"], "Stopped");
    assert_eq!(post("stop").await.0, 409);
    assert_eq!(post("restart").await.0, 409);
    assert_eq!(post("start").await.0, 202);
    let b = wait_terminal(&url).await;
    assert_eq!(b["properties"]["properties"]["state"], "Running");
    assert_eq!(post("restart").await.0, 202);
    let b = wait_terminal(&url).await;
    assert_eq!(b["properties"]["properties"]["state"], "Running");
    // Not a compute instance: 400.
    let cl = compute_url(&emu, WS, "cluster1");
    put(&cl, &aml_body("Standard_DS3_v2", 0, 1)).await;
    assert_eq!(
        send(Method::POST, &format!("{cl}/stop"), API, None).await.0,
        400
    );
    emu.shutdown().await;
}

fn faulty(spec: &str) -> EmulatorConfig {
    EmulatorConfig {
        faults: FaultSpec::parse(spec).unwrap(),
        retry_after_s: 7,
        slow_ms: 300,
        ..config()
    }
}

#[tokio::test]
async fn fault_429_500_503() {
    for (spec, code) in [("429=1", 429u16), ("500=1", 500), ("503=1", 503)] {
        let emu = start(faulty(spec)).await;
        let (s, h, b) = get(&format!("{}/computes", ws_url(&emu, WS))).await;
        assert_eq!(s, code, "{b}");
        assert!(b["error"]["code"].is_string());
        if code != 500 {
            assert_eq!(h["retry-after"], "7");
        }
        // Exempt endpoints.
        let r = client()
            .get(format!("{}/_emulator/stats", emu.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = client()
            .get(format!(
                "{}/msi/token?api-version=2019-08-01&resource=x",
                emu.base_url()
            ))
            .header("X-IDENTITY-HEADER", "amlctl-emulator")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn fault_reset_drops_the_connection() {
    let emu = start(faulty("reset=1")).await;
    let r = client()
        .get(format!("{}/computes?api-version={API}", ws_url(&emu, WS)))
        .bearer_auth(TOKEN)
        .send()
        .await;
    let err = r.expect_err("connection should be dropped");
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    let log: Value = client()
        .get(format!("{}/_emulator/requests", emu.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log[0]["status"], 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn fault_slow_delays_responses() {
    let emu = start(faulty("slow=1")).await;
    let t0 = Instant::now();
    let (s, _, _) = get(&format!("{}/computes", ws_url(&emu, WS))).await;
    assert_eq!(s, 200);
    assert!(t0.elapsed() >= Duration::from_millis(300));
    emu.shutdown().await;
}

#[tokio::test]
async fn fault_lro_failed_and_canceled() {
    for (spec, want) in [("lro-failed=1", "Failed"), ("lro-canceled=1", "Canceled")] {
        let emu = start(faulty(spec)).await;
        let url = compute_url(&emu, WS, "cpu");
        let (s, h, _) = put(&url, &aml_body("Standard_DS3_v2", 0, 1)).await;
        assert_eq!(s, 201);
        let op = h["azure-asyncoperation"].to_str().unwrap().to_string();
        let b = wait_terminal(&url).await;
        assert_eq!(b["properties"]["provisioningState"], want);
        if want == "Failed" {
            assert!(b["properties"]["provisioningErrors"][0]["error"]["code"].is_string());
        }
        let st = status_of(&op).await;
        assert_eq!(st["status"], want);
        assert!(st["error"]["code"].is_string());
        emu.shutdown().await;
    }
}

async fn fault_sequence(seed: u64) -> Vec<u16> {
    let emu = start(EmulatorConfig {
        faults: FaultSpec::parse("500=0.3,503=0.2").unwrap(),
        fault_seed: seed,
        ..config()
    })
    .await;
    let mut out = Vec::new();
    for _ in 0..40 {
        out.push(get(&format!("{}/computes", ws_url(&emu, WS))).await.0);
    }
    emu.shutdown().await;
    out
}

#[tokio::test]
async fn faults_are_deterministic_by_seed() {
    let a = fault_sequence(42).await;
    let b = fault_sequence(42).await;
    let c = fault_sequence(43).await;
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(
        a.contains(&200) && a.contains(&500) && a.contains(&503),
        "{a:?}"
    );
}

#[tokio::test]
async fn quirks_on_and_off() {
    let subnet = format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default"
    );
    let mut body = aml_body("Standard_DS3_v2", 0, 2);
    body["properties"]["properties"]["subnet"] = json!({"id": subnet});
    for (quirks, vm, loc, dur, vnet) in [
        (
            Quirks::default(),
            "Standard_DS3_v2",
            "eastus",
            "PT120S",
            "/virtualNetworks/",
        ),
        (
            Quirks::all(),
            "STANDARD_DS3_V2",
            "EASTUS",
            "PT2M",
            "/VirtualNetworks/",
        ),
    ] {
        let mut cfg = config();
        if let Some(f) = cfg.fixture.as_mut() {
            // The subnet must exist (the emulator refuses references to missing resources).
            f.resources.push(subnet.clone());
        }
        let emu = start(EmulatorConfig { quirks, ..cfg }).await;
        let url = compute_url(&emu, WS, "quirky");
        put(&url, &body).await;
        let (_, _, b) = get(&url).await;
        let p = &b["properties"]["properties"];
        assert_eq!(p["vmSize"], vm);
        assert_eq!(b["location"], loc);
        assert_eq!(p["scaleSettings"]["nodeIdleTimeBeforeScaleDown"], dur);
        assert!(p["subnet"]["id"].as_str().unwrap().contains(vnet));
        emu.shutdown().await;
    }
    let q = Quirks::parse("upper-vm-size").unwrap();
    assert!(q.upper_vm_size && !q.location_case);
}

#[tokio::test]
async fn api_version_handling() {
    let emu = start(config()).await;
    let list = format!("{}/computes", ws_url(&emu, WS));
    let (s, _, b) = send(Method::GET, &list, "2019-05-01", None).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("InvalidApiVersionParameter"))
    );
    let (s, _, b) = send(Method::GET, &list, "", None).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("MissingApiVersionParameter"))
    );
    for v in [
        "2020-08-01",
        "2022-05-01",
        "2024-01-01-preview",
        "2025-07-01-preview",
        "2025-12-01",
    ] {
        assert_eq!(send(Method::GET, &list, v, None).await.0, 200, "{v}");
    }
    let url = compute_url(&emu, WS, "cpu");
    put(&url, &aml_body("Standard_DS3_v2", 0, 2)).await;
    wait_terminal(&url).await;
    // 2020-08-01: shallow PATCH body.
    let shallow = json!({"properties": {"scaleSettings": {"maxNodeCount": 5, "minNodeCount": 0}}});
    let deep = json!({"properties": {"properties": {"scaleSettings": {"maxNodeCount": 6, "minNodeCount": 0}}}});
    // 200 at api-versions before 2024-04-01, 202 from then on (see the README).
    let (s, _, b) = send(Method::PATCH, &url, "2020-08-01", Some(&shallow)).await;
    assert_eq!(s, 200, "{b}");
    wait_terminal(&url).await;
    assert_eq!(
        get(&url).await.2["properties"]["properties"]["scaleSettings"]["maxNodeCount"],
        5
    );
    assert_eq!(
        send(Method::PATCH, &url, "2020-08-01", Some(&deep)).await.0,
        400
    );
    assert_eq!(send(Method::PATCH, &url, API, Some(&shallow)).await.0, 400);
    let (s, h, _) = send(Method::PATCH, &url, API, Some(&deep)).await;
    assert_eq!(s, 202);
    assert!(h.contains_key("azure-asyncoperation"));
    wait_terminal(&url).await;
    assert_eq!(
        get(&url).await.2["properties"]["properties"]["scaleSettings"]["maxNodeCount"],
        6
    );
    let bad = json!({"properties": {"properties": {"scaleSettings": {"maxNodeCount": 1, "minNodeCount": 2}}}});
    assert_eq!(send(Method::PATCH, &url, API, Some(&bad)).await.0, 400);
    // 2020-02-02 serves the legacy Batch shape, and the types azureml-core sends there (see
    // azureml_core_api_version.rs), not the others.
    let batch_id = format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Batch/batchAccounts/legacy"
    );
    emu.ensure_resource(&batch_id);
    let batch = json!({"location": "eastus", "properties": {"computeType": "Batch", "resourceId": batch_id}});
    let b_url = compute_url(&emu, WS, "legacy");
    assert_eq!(send(Method::PUT, &b_url, API, Some(&batch)).await.0, 400);
    let (s, _, b) = send(Method::PUT, &b_url, "2020-02-02", Some(&batch)).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["properties"]["isAttachedCompute"], true);
    let (s, _, b) = send(
        Method::PUT,
        &compute_url(&emu, WS, "adf"),
        "2020-02-02",
        Some(&json!({"location": "eastus", "properties": {"computeType": "DataFactory"}})),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"]["code"], "UnsupportedComputeType", "{b}");
    emu.shutdown().await;
}

#[tokio::test]
async fn state_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let cfg = |lro_ms| EmulatorConfig {
        state_path: Some(path.clone()),
        lro_ms,
        ..config()
    };
    let emu = start(cfg(0)).await;
    let url = compute_url(&emu, WS, "keep");
    let mut body = aml_body("Standard_DS3_v2", 0, 2);
    body["properties"]["properties"]["userAccountCredentials"] =
        json!({"adminUserName": "azureuser", "adminUserPassword": "hunter2-secret"});
    assert_eq!(put(&url, &body).await.0, 201);
    // A slow LRO: its deadline is wall-clock and must survive the restart.
    emu.shutdown().await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "state file holds secrets: {mode:o}");
    }
    // The secret itself is never persisted: only its digest marker.
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("hunter2-secret"),
        "state file holds a secret value"
    );
    assert!(text.contains(&secret_marker("hunter2-secret")), "{text}");
    // The state file and its journal (owner-only too), no temp files.
    let mut leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        // The Activity Log sidecar (`state.json.activity.jsonl`) is kept on purpose.
        .filter(|n| !n.ends_with(".activity.jsonl"))
        .collect();
    leftovers.sort();
    assert_eq!(
        leftovers,
        ["state.json", "state.json.journal"],
        "temp files left behind"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let journal = dir.path().join("state.json.journal");
        let mode = std::fs::metadata(&journal).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the journal holds what the state does: {mode:o}"
        );
    }
    let emu = start(EmulatorConfig {
        fixture: None,
        ..cfg(2_000)
    })
    .await;
    let slow = compute_url(&emu, WS, "slow");
    let t_put = Instant::now();
    assert_eq!(put(&slow, &aml_body("Standard_DS3_v2", 0, 1)).await.0, 201);
    emu.shutdown().await;
    let emu = Emulator::start(
        "127.0.0.1:0".parse().unwrap(),
        EmulatorConfig {
            state_path: Some(path.clone()),
            accepted_tokens: vec![TOKEN.into()],
            ..EmulatorConfig::default()
        },
    )
    .await
    .unwrap();
    let (s, _, b) = get(&compute_url(&emu, WS, "keep")).await;
    assert_eq!(s, 200);
    assert_eq!(b["properties"]["provisioningState"], "Succeeded");
    assert!(
        b["properties"]["properties"]["userAccountCredentials"]
            .get("adminUserPassword")
            .is_none_or(Value::is_null)
    );
    let (_, _, k) = send(
        Method::POST,
        &format!("{}/listKeys", compute_url(&emu, WS, "keep")),
        API,
        None,
    )
    .await;
    assert_eq!(
        k["userAccountCredentials"]["adminUserPassword"],
        secret_marker("hunter2-secret")
    );
    let slow = compute_url(&emu, WS, "slow");
    let (_, _, b) = get(&slow).await;
    if t_put.elapsed() < Duration::from_millis(1900) {
        assert_eq!(b["properties"]["provisioningState"], "Creating");
    }
    let b = wait_terminal(&slow).await;
    assert_eq!(b["properties"]["provisioningState"], "Succeeded");
    assert!(t_put.elapsed() >= Duration::from_millis(2000));
    emu.shutdown().await;
}

#[tokio::test]
async fn refuses_non_loopback_listen_addresses() {
    for addr in ["0.0.0.0:0", "10.1.2.3:0", "[::]:0"] {
        let r = Emulator::start(addr.parse().unwrap(), config()).await;
        assert!(matches!(r, Err(EmulatorError::NotLoopback(_))), "{addr}");
    }
}

#[tokio::test]
async fn rate_limit_buckets() {
    let emu = start(EmulatorConfig {
        rate_limit: Some(RateLimit {
            reads: 3,
            writes: 1,
            refill_per_s: 0.001,
        }),
        ..config()
    })
    .await;
    let list = format!("{}/computes", ws_url(&emu, WS));
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let (s, h, _) = get(&list).await;
        assert_eq!(s, 200);
        remaining.push(
            h["x-ms-ratelimit-remaining-subscription-reads"]
                .to_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    let (s, h, b) = get(&list).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (429, Some("SubscriptionRequestsThrottled"))
    );
    assert!(h.contains_key("retry-after"));
    let (s, h, _) = put(
        &compute_url(&emu, WS, "writer1"),
        &aml_body("Standard_DS3_v2", 0, 1),
    )
    .await;
    assert_eq!(s, 201);
    assert_eq!(h["x-ms-ratelimit-remaining-subscription-writes"], "0");
    assert_eq!(
        put(
            &compute_url(&emu, WS, "writer2"),
            &aml_body("Standard_DS3_v2", 0, 1)
        )
        .await
        .0,
        429
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn attach_detach_and_secrets() {
    let emu = start(config()).await;
    let vm = json!({"location": "eastus", "properties": {"computeType": "VirtualMachine", "resourceId": vm_id("dsvm"),
        "properties": {"virtualMachineSize": "Standard_DS3_v2", "administratorAccount": {"username": "azureuser", "password": "pw-secret-1", "privateKeyData": "KEY-secret"}}}});
    let url = compute_url(&emu, WS, "dsvm");
    let (s, _, b) = put(&url, &vm).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["properties"]["isAttachedCompute"], true);
    assert!(!b.to_string().contains("pw-secret-1") && !b.to_string().contains("KEY-secret"));
    let (_, _, g) = get(&url).await;
    assert!(!g.to_string().contains("pw-secret-1"));
    let (s, _, k) = send(Method::POST, &format!("{url}/listKeys"), API, None).await;
    assert_eq!(s, 200);
    assert_eq!(k["computeType"], "VirtualMachine");
    assert_eq!(
        k["administratorAccount"]["password"],
        secret_marker("pw-secret-1")
    );
    assert_eq!(
        k["administratorAccount"]["privateKeyData"],
        secret_marker("KEY-secret")
    );
    // Unknown resource and missing resourceId: 400.
    let mut missing = vm.clone();
    missing["properties"]["resourceId"] = json!(vm_id("ghost"));
    let (s, _, b) = put(&compute_url(&emu, WS, "ghost"), &missing).await;
    // The service's missing-resource answer: 400 UserError naming the resource.
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("UserError")));
    assert!(b["error"]["message"].as_str().unwrap().contains("ghost"));
    missing["properties"]
        .as_object_mut()
        .unwrap()
        .remove("resourceId");
    let (s, _, b) = put(&compute_url(&emu, WS, "ghost"), &missing).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("MissingResourceId"))
    );
    // Detach keeps the underlying resource, Delete removes it.
    let aks = json!({"location": "eastus", "properties": {"computeType": "AKS", "resourceId": aks_id("aks1")}});
    let aks_url = compute_url(&emu, WS, "aks1");
    assert_eq!(put(&aks_url, &aks).await.0, 201);
    wait_terminal(&aks_url).await;
    send(
        Method::DELETE,
        &format!("{aks_url}?underlyingResourceAction=Detach"),
        API,
        None,
    )
    .await;
    wait_terminal(&url).await;
    send(
        Method::DELETE,
        &format!("{url}?underlyingResourceAction=Delete"),
        API,
        None,
    )
    .await;
    let state: Value = client()
        .get(format!("{}/_emulator/state", emu.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res: Vec<String> = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_lowercase())
        .collect();
    assert!(res.contains(&aks_id("aks1").to_lowercase()));
    assert!(!res.contains(&vm_id("dsvm").to_lowercase()));
    assert!(state["computes"].as_array().unwrap().is_empty());
    assert!(!state.to_string().contains("pw-secret-1"));
    emu.shutdown().await;
}

#[tokio::test]
async fn request_log_and_stats() {
    let emu = start(config()).await;
    let url = compute_url(&emu, WS, "cpu");
    put(&url, &aml_body("Standard_DS3_v2", 0, 1)).await;
    get(&url).await;
    get(&compute_url(&emu, WS, "nope")).await;
    let log: Value = client()
        .get(format!("{}/_emulator/requests", emu.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0]["method"], "PUT");
    assert_eq!(log[0]["status"], 201);
    assert_eq!(log[0]["query"], format!("api-version={API}"));
    assert!(log[0]["path"].as_str().unwrap().ends_with("/computes/cpu"));
    assert_eq!(log[0].as_object().unwrap().len(), 4);
    let stats: Value = client()
        .get(format!("{}/_emulator/stats", emu.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["total"], 3);
    assert_eq!(stats["by_method"]["GET"], 2);
    assert_eq!(stats["by_status"]["404"], 1);
    assert_eq!(stats["by_method_status"]["PUT 201"], 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn workspace_get_and_sandbox_helpers() {
    let emu = start(EmulatorConfig {
        fixture: None,
        ..config()
    })
    .await;
    let (s, _, _) = get(&ws_url(&emu, WS)).await;
    assert_eq!(s, 404);
    emu.ensure_workspace(SUB, RG, WS, "westeurope");
    let (s, _, b) = get(&ws_url(&emu, WS)).await;
    assert_eq!(s, 200);
    assert_eq!(b["location"], "westeurope");
    // Case-insensitive fixed segments and names.
    let url = format!(
        "{}/SUBSCRIPTIONS/{SUB}/resourcegroups/RG-ML/PROVIDERS/microsoft.machinelearningservices/WORKSPACES/MLW-DEV/Computes",
        emu.base_url()
    );
    assert_eq!(send(Method::GET, &url, API, None).await.0, 200);
    emu.shutdown().await;
}

#[tokio::test]
async fn latency_applies_to_arm_routes() {
    let emu = start(EmulatorConfig {
        latency_ms: 250,
        ..config()
    })
    .await;
    let t0 = Instant::now();
    assert_eq!(get(&format!("{}/computes", ws_url(&emu, WS))).await.0, 200);
    assert!(t0.elapsed() >= Duration::from_millis(250));
    emu.shutdown().await;
}

#[tokio::test]
async fn lro_faults_only_touch_operations_that_start_an_lro() {
    // With every request drawing `lro-failed`, plain reads still succeed.
    let emu = start(faulty("lro-failed=1")).await;
    assert_eq!(get(&format!("{}/computes", ws_url(&emu, WS))).await.0, 200);
    assert_eq!(get(&ws_url(&emu, WS)).await.0, 200);
    emu.shutdown().await;
}
