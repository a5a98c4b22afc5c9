//! The ARM client against the real emulator over HTTP on 127.0.0.1.

mod common;

use amlctl_arm::{
    ArmClient, ArmError, ArmRequest, StaticTokenCredential, UnderlyingResourceAction,
};
use amlctl_emulator::{FaultSpec, RateLimit};
use common::*;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[tokio::test]
async fn paging_follows_next_link_across_pages() {
    let emu = start(amlctl_emulator::EmulatorConfig {
        page_size: 2,
        lro_ms: 0,
        ..config()
    })
    .await;
    let c = client(&emu.base_url());
    let ws = ws();
    for i in 0..5 {
        c.create_or_update(
            &ws,
            &format!("cpu-{i:02}"),
            &aml_body("Standard_DS3_v2", 0, 2),
            None,
        )
        .await
        .unwrap();
    }
    let all = c.list_computes(&ws).await.unwrap();
    let mut names: Vec<String> = all
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["cpu-00", "cpu-01", "cpu-02", "cpu-03", "cpu-04"]);
    // Three list pages were fetched: $skip absent, 2, 4.
    let pages: Vec<_> = requests(&emu)
        .await
        .into_iter()
        .filter(|(m, p, _, _)| m == "GET" && p.ends_with("/computes"))
        .collect();
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(pages[2].2.contains("$skip=4") || pages[2].2.contains("%24skip=4"));

    // listNodes pages too (POST, item name "nodes"): minNodeCount 3 → 3 nodes, page size 2.
    c.create_or_update(&ws, "nodes3", &aml_body("Standard_DS3_v2", 3, 4), None)
        .await
        .unwrap();
    let nodes = c.list_nodes(&ws, "nodes3").await.unwrap();
    assert_eq!(nodes.len(), 3, "{nodes:?}");
    emu.shutdown().await;
}

#[tokio::test]
async fn lro_azure_async_operation_for_put_patch_delete_and_actions() {
    let emu = start(config()).await;
    let c = client(&emu.base_url());
    let ws = ws();
    let created = c
        .create_or_update(&ws, "gpu", &aml_body("Standard_NC6", 0, 2), None)
        .await
        .unwrap();
    assert_eq!(created["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        created["properties"]["properties"]["vmSize"],
        "Standard_NC6"
    );

    let patched = c
        .update_scale_settings(&ws, "gpu", &json!({"minNodeCount": 0, "maxNodeCount": 6}))
        .await
        .unwrap();
    assert_eq!(patched["properties"]["provisioningState"], "Succeeded");
    assert_eq!(
        patched["properties"]["properties"]["scaleSettings"]["maxNodeCount"],
        6
    );

    // Compute instance: created Running; stop, start, restart each wait for their operation.
    c.create_or_update(&ws, "ci-dev", &ci_body("Standard_DS3_v2"), None)
        .await
        .unwrap();
    c.stop(&ws, "ci-dev").await.unwrap();
    let ci = c.get_compute(&ws, "ci-dev").await.unwrap().unwrap();
    assert_eq!(ci["properties"]["properties"]["state"], "Stopped");
    c.start(&ws, "ci-dev").await.unwrap();
    c.restart(&ws, "ci-dev").await.unwrap();
    let ci = c.get_compute(&ws, "ci-dev").await.unwrap().unwrap();
    assert_eq!(ci["properties"]["properties"]["state"], "Running");

    c.delete(&ws, "gpu", UnderlyingResourceAction::Delete, None)
        .await
        .unwrap();
    assert!(c.get_compute(&ws, "gpu").await.unwrap().is_none());
    // Deleting what is already gone is fine.
    c.delete(&ws, "gpu", UnderlyingResourceAction::Delete, None)
        .await
        .unwrap();

    // The client actually polled the status URL.
    let log = requests(&emu).await;
    assert!(
        log.iter()
            .any(|(m, p, _, _)| m == "GET" && p.contains("/computeOperationsStatus/")),
        "{log:?}"
    );
    assert!(c.stats().polls > 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn lro_location_style_when_no_async_operation_header() {
    // The Location style needs an ARM that sends `Location`: the emulator's lenient mode does
    // (the realistic default sends only Azure-AsyncOperation, as the recorded service does).
    // This tests the client's transport, not a plan or an apply.
    let emu = start(amlctl_emulator::EmulatorConfig {
        lenient: true,
        ..config()
    })
    .await;
    let proxy = start_proxy(emu.addr(), Strip::AsyncOperation).await;
    let c = client(&format!("http://{proxy}"));
    let ws = ws();
    // PUT answers 201 without Location in the emulator, so after stripping Azure-AsyncOperation the
    // client follows provisioningState; DELETE and actions answer 202 + Location.
    c.create_or_update(&ws, "ci-loc", &ci_body("Standard_DS3_v2"), None)
        .await
        .unwrap();
    c.stop(&ws, "ci-loc").await.unwrap();
    let ci = c.get_compute(&ws, "ci-loc").await.unwrap().unwrap();
    assert_eq!(ci["properties"]["properties"]["state"], "Stopped");
    c.delete(&ws, "ci-loc", UnderlyingResourceAction::Delete, None)
        .await
        .unwrap();
    assert!(c.get_compute(&ws, "ci-loc").await.unwrap().is_none());
    let log = requests(&emu).await;
    assert!(
        log.iter().any(|(m, p, _, s)| m == "GET"
            && p.contains("/computeOperationsResults/")
            && *s == 202),
        "the Location URL was polled while running: {log:?}"
    );
    assert!(
        !log.iter()
            .any(|(_, p, _, _)| p.contains("/computeOperationsStatus/")),
        "no Azure-AsyncOperation URL was visible, none may be polled: {log:?}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn lro_provisioning_state_style_when_no_polling_headers() {
    let emu = start(amlctl_emulator::EmulatorConfig {
        lro_ms: 300,
        ..config()
    })
    .await;
    let proxy = start_proxy(emu.addr(), Strip::Both).await;
    let c = client(&format!("http://{proxy}"));
    let ws = ws();
    let r = c
        .create_or_update(&ws, "cpu-ps", &aml_body("Standard_DS3_v2", 0, 1), None)
        .await
        .unwrap();
    assert_eq!(r["properties"]["provisioningState"], "Succeeded");
    c.delete(&ws, "cpu-ps", UnderlyingResourceAction::Delete, None)
        .await
        .unwrap();
    assert!(c.get_compute(&ws, "cpu-ps").await.unwrap().is_none());
    // An action answered 202 with no headers: the client follows the instance's power state.
    c.create_or_update(&ws, "ci-ps", &ci_body("Standard_DS3_v2"), None)
        .await
        .unwrap();
    c.stop(&ws, "ci-ps").await.unwrap();
    let ci = c.get_compute(&ws, "ci-ps").await.unwrap().unwrap();
    assert_eq!(ci["properties"]["properties"]["state"], "Stopped");
    let log = requests(&emu).await;
    let resource_gets = log
        .iter()
        .filter(|(m, p, _, _)| m == "GET" && p.ends_with("/computes/cpu-ps"))
        .count();
    assert!(
        resource_gets >= 3,
        "the resource itself was polled: {log:?}"
    );
    assert!(
        !log.iter()
            .any(|(_, p, _, _)| p.contains("/computeOperations")),
        "{log:?}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn retry_after_on_429_is_honoured() {
    let seed = seed_for(0.5, 1, 6);
    let emu = start(amlctl_emulator::EmulatorConfig {
        faults: FaultSpec::parse("429=0.5").unwrap(),
        fault_seed: seed,
        retry_after_s: 1,
        lro_ms: 0,
        ..config()
    })
    .await;
    let c = client(&emu.base_url());
    let started = Instant::now();
    let ws_json = c.get_workspace(&ws()).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(ws_json["name"], WS);
    let log = requests(&emu).await;
    assert_eq!(log[0].3, 429, "{log:?}");
    assert_eq!(log[1].3, 200, "{log:?}");
    assert!(
        elapsed >= Duration::from_secs(1),
        "waited only {elapsed:?} after Retry-After: 1"
    );
    let s = c.stats();
    assert_eq!((s.throttled, s.retries), (1, 1), "{s:?}");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_429_pauses_the_whole_subscription_for_other_tasks() {
    let seed = seed_for(0.5, 1, 6);
    let emu = start(amlctl_emulator::EmulatorConfig {
        faults: FaultSpec::parse("429=0.5").unwrap(),
        fault_seed: seed,
        retry_after_s: 1,
        ..config()
    })
    .await;
    let c = client(&emu.base_url());
    let t0 = Instant::now();
    let a = {
        let c = c.clone();
        tokio::spawn(async move { c.get_workspace(&ws()).await })
    };
    // Wait until the emulator has answered task A with its 429.
    while requests(&emu).await.is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Task B targets another resource of the same subscription; its own draw is clean, so only the
    // shared pause can hold it back.
    let b = c.get_compute(&ws(), "other").await.unwrap();
    let b_done = t0.elapsed();
    assert!(b.is_none());
    a.await.unwrap().unwrap();
    let log = requests(&emu).await;
    assert_eq!(log[0].3, 429, "{log:?}");
    assert!(log[1..].iter().all(|r| r.3 != 429), "{log:?}");
    assert!(
        b_done >= Duration::from_millis(1000),
        "task B finished {b_done:?} after A's 429 with Retry-After: 1"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn service_unavailable_then_success() {
    let seed = seed_for(0.5, 2, 3);
    let emu = start(amlctl_emulator::EmulatorConfig {
        faults: FaultSpec::parse("503=0.5").unwrap(),
        fault_seed: seed,
        retry_after_s: 0,
        ..config()
    })
    .await;
    let c = client(&emu.base_url());
    let got = c.get_compute(&ws(), "absent").await.unwrap();
    assert!(got.is_none());
    let statuses: Vec<u16> = requests(&emu).await.iter().map(|r| r.3).collect();
    assert_eq!(statuses, [503, 503, 404]);
    assert_eq!(c.stats().retries, 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn dropped_connection_then_success() {
    let seed = seed_for(0.5, 1, 6);
    let emu = start(amlctl_emulator::EmulatorConfig {
        faults: FaultSpec::parse("reset=0.5").unwrap(),
        fault_seed: seed,
        lro_ms: 0,
        ..config()
    })
    .await;
    let c = client(&emu.base_url());
    // A PUT whose connection is dropped is retried (PUT is idempotent) and ends with the resource.
    let r = c
        .create_or_update(
            &ws(),
            "after-reset",
            &aml_body("Standard_DS3_v2", 0, 1),
            None,
        )
        .await
        .unwrap();
    assert_eq!(r["name"], "after-reset");
    let log = requests(&emu).await;
    assert_eq!((log[0].0.as_str(), log[0].3), ("PUT", 0), "{log:?}");
    assert_eq!(log[1].0, "PUT", "{log:?}");
    assert!(c.stats().retries >= 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn lost_answer_to_a_put_or_delete_is_recovered_by_following_the_resource() {
    for action in ["PUT", "DELETE"] {
        let emu = start(amlctl_emulator::EmulatorConfig {
            lro_ms: 400,
            ..config()
        })
        .await;
        let direct = client(&emu.base_url());
        if action == "DELETE" {
            direct
                .create_or_update(&ws(), "lossy", &aml_body("Standard_DS3_v2", 0, 1), None)
                .await
                .unwrap();
        }
        let proxy = start_proxy(emu.addr(), Strip::LoseFirstWriteAnswer).await;
        let c = client(&format!("http://{proxy}"));
        if action == "PUT" {
            let r = c
                .create_or_update(&ws(), "lossy", &aml_body("Standard_DS3_v2", 0, 1), None)
                .await
                .unwrap();
            assert_eq!(r["properties"]["provisioningState"], "Succeeded");
        } else {
            c.delete(&ws(), "lossy", UnderlyingResourceAction::Delete, None)
                .await
                .unwrap();
            assert!(direct.get_compute(&ws(), "lossy").await.unwrap().is_none());
        }
        // The emulator saw the first write succeed and the retry answered 409.
        let writes: Vec<u16> = requests(&emu)
            .await
            .into_iter()
            .filter(|r| r.0 == action && r.1.ends_with("/computes/lossy"))
            .map(|r| r.3)
            .collect();
        let first = if action == "PUT" { 201 } else { 202 };
        assert_eq!(writes, [first, 409], "{action}");
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn deadline_exceeded_is_a_clear_error() {
    let emu = start(amlctl_emulator::EmulatorConfig {
        lro_ms: 60_000,
        ..config()
    })
    .await;
    let mut o = options(&emu.base_url());
    o.deadline = Duration::from_millis(400);
    let c = ArmClient::new(o, StaticTokenCredential::new(TOKEN.into())).unwrap();
    let started = Instant::now();
    let err = c
        .create_or_update(&ws(), "slowpoke", &aml_body("Standard_DS3_v2", 0, 1), None)
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(60));
    match &err {
        ArmError::Deadline { after, last } => {
            assert_eq!(*after, Duration::from_millis(400));
            assert!(last.contains("slowpoke"), "{last}");
        }
        other => panic!("expected Deadline, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.starts_with("gave up after 400ms"), "{text}");
    assert!(text.contains("InProgress"), "{text}");
    emu.shutdown().await;
}

#[tokio::test]
async fn unauthorized_names_the_credential_source() {
    let emu = start(config()).await;
    let c = ArmClient::new(
        options(&emu.base_url()),
        StaticTokenCredential::new("not-accepted-token".into()),
    )
    .unwrap();
    let err = c.get_workspace(&ws()).await.unwrap_err();
    match &err {
        ArmError::Auth { source_messages } => {
            assert_eq!(source_messages.len(), 1);
            assert_eq!(source_messages[0].0, "static token");
            assert!(source_messages[0].1.contains("401"), "{source_messages:?}");
            assert!(
                source_messages[0].1.contains("InvalidAuthenticationToken"),
                "{source_messages:?}"
            );
        }
        other => panic!("expected Auth, got {other:?}"),
    }
    let text = format!("{err} {err:?} {}", err.summary());
    assert!(text.contains("static token"), "{text}");
    assert!(!text.contains("not-accepted-token"), "token leaked: {text}");
    // One retry with a fresh token, then the error (no retry loop until the deadline).
    let log = requests(&emu).await;
    assert_eq!(log.len(), 2, "{log:?}");
    emu.shutdown().await;
}

#[tokio::test]
async fn quota_failure_surfaces_provisioning_errors_and_one_line_summary() {
    let mut cfg = config();
    // Two Standard_NC6 nodes' worth of vCPUs of its family (`--quota Standard_NC6=2`).
    let (family, vcpus) = amlctl_emulator::parse_quota("Standard_NC6=2").unwrap();
    cfg.quota.insert(family, vcpus);
    let emu = start(cfg).await;
    let c = client(&emu.base_url());
    let err = c
        .create_or_update(&ws(), "too-big", &aml_body("Standard_NC6", 4, 4), None)
        .await
        .unwrap_err();
    match &err {
        ArmError::OperationFailed {
            status,
            code,
            message,
            provisioning_errors,
            ..
        } => {
            assert_eq!(status, "Failed");
            // The code the service gives a cluster whose minimum nodes exceed the core quota.
            assert_eq!(code, "ClusterMinNodesExceedCoreQuota");
            assert!(message.contains("quota"), "{message}");
            // The resource's provisioningErrors, verbatim.
            let resource = c.get_compute(&ws(), "too-big").await.unwrap().unwrap();
            assert_eq!(
                &serde_json::Value::Array(provisioning_errors.clone()),
                &resource["properties"]["provisioningErrors"]
            );
            assert_eq!(
                provisioning_errors[0]["error"]["code"],
                "ClusterMinNodesExceedCoreQuota"
            );
        }
        other => panic!("expected OperationFailed, got {other:?}"),
    }
    assert_eq!(
        err.summary(),
        "quota exceeded for Standard_NC6 in eastus: request a quota increase or choose another size"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn lro_failed_and_canceled_are_reported() {
    for (fault, status) in [("lro-failed", "Failed"), ("lro-canceled", "Canceled")] {
        let emu = start(amlctl_emulator::EmulatorConfig {
            faults: FaultSpec::parse(&format!("{fault}=1")).unwrap(),
            ..config()
        })
        .await;
        let c = client(&emu.base_url());
        let err = c
            .create_or_update(&ws(), "doomed", &aml_body("Standard_DS3_v2", 0, 1), None)
            .await
            .unwrap_err();
        match &err {
            ArmError::OperationFailed { status: s, .. } => assert_eq!(s, status),
            other => panic!("expected OperationFailed, got {other:?}"),
        }
        emu.shutdown().await;
    }
}

#[tokio::test]
async fn lro_failures_via_location_and_provisioning_state() {
    let emu = start(amlctl_emulator::EmulatorConfig {
        faults: FaultSpec::parse("lro-failed=1").unwrap(),
        ..config()
    })
    .await;
    let proxy = start_proxy(emu.addr(), Strip::AsyncOperation).await;
    let c = client(&format!("http://{proxy}"));
    // PUT answers 201 without Location: the failure is read from provisioningState.
    let err = c
        .create_or_update(&ws(), "fails", &ci_body("Standard_DS3_v2"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ArmError::OperationFailed { status, .. } if status == "Failed"),
        "{err:?}"
    );
    // DELETE answers 202 + Location: the failure is the Location URL's final answer.
    let err = c
        .delete(&ws(), "fails", UnderlyingResourceAction::Delete, None)
        .await
        .unwrap_err();
    match &err {
        ArmError::OperationFailed { status, code, .. } => {
            assert_eq!(
                (status.as_str(), code.as_str()),
                ("Failed", "InternalServerError")
            );
        }
        other => panic!("expected OperationFailed, got {other:?}"),
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn api_errors_fail_at_once_with_arm_code_and_message() {
    let emu = start(config()).await;
    let c = client(&emu.base_url());
    let err = c
        .create_or_update(&ws(), "bad-scale", &aml_body("Standard_DS3_v2", 5, 1), None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    match &err {
        ArmError::Api { code, .. } => assert_eq!(code, "InvalidScaleSettings"),
        other => panic!("expected Api, got {other:?}"),
    }
    assert_eq!(c.stats().retries, 0);
    assert_eq!(requests(&emu).await.len(), 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn registered_and_body_secrets_are_redacted_from_errors() {
    let emu = start(config()).await;
    let c = client(&emu.base_url());
    c.register_secret("mlw-dev");
    // A request to a workspace whose name is "secret": the emulator echoes it in its 404 message.
    let err = c.get_workspace(&ws()).await;
    assert!(err.is_ok());
    let bad_ws = amlctl_arm::WorkspaceId {
        workspace: "missing-ws-s3cr3t".into(),
        ..ws()
    };
    c.register_secret("s3cr3t");
    let err = c.list_computes(&bad_ws).await.unwrap_err();
    let text = format!("{err} {err:?} {}", err.summary());
    assert!(err.status() == Some(404), "{text}");
    assert!(!text.contains("s3cr3t"), "{text}");
    emu.shutdown().await;
}

#[tokio::test]
async fn execute_runs_planned_requests() {
    let emu = start(config()).await;
    let c = client(&emu.base_url());
    let ws = ws();
    let mut query = BTreeMap::new();
    query.insert("api-version".to_string(), "2025-12-01".to_string());
    let put = ArmRequest {
        method: amlctl_arm::Method::Put,
        path: ws.compute_path("planned"),
        query: query.clone(),
        body: Some(aml_body("Standard_DS3_v2", 0, 1)),
    };
    let r = c.execute(&put).await.unwrap().unwrap();
    assert_eq!(r["properties"]["provisioningState"], "Succeeded");
    let mut del_q = query.clone();
    del_q.insert("underlyingResourceAction".into(), "Detach".into());
    let del = ArmRequest {
        method: amlctl_arm::Method::Delete,
        path: ws.compute_path("planned"),
        query: del_q,
        body: None,
    };
    assert!(c.execute(&del).await.unwrap().is_none());
    assert!(c.get_compute(&ws, "planned").await.unwrap().is_none());
    emu.shutdown().await;
}

#[tokio::test]
async fn throttle_slows_down_before_arm_answers_429() {
    let emu = start(amlctl_emulator::EmulatorConfig {
        rate_limit: Some(RateLimit {
            reads: 30,
            writes: 30,
            refill_per_s: 20.0,
        }),
        ..config()
    })
    .await;
    let c = client(&emu.base_url());
    let mut tasks = Vec::new();
    for _ in 0..45 {
        let c = c.clone();
        tasks.push(tokio::spawn(
            async move { c.get_compute(&ws(), "none").await },
        ));
    }
    for t in tasks {
        assert!(t.await.unwrap().unwrap().is_none());
    }
    let s = c.stats();
    assert!(s.throttle_waits > 0, "{s:?}");
    let throttled = requests(&emu).await.iter().filter(|r| r.3 == 429).count();
    assert_eq!(throttled, 0, "the client paced itself; stats {s:?}");
    emu.shutdown().await;
}

#[tokio::test]
async fn plain_http_to_a_non_loopback_host_is_refused_before_any_token_is_requested() {
    let cred = StaticTokenCredential::new("never-sent".into());
    for url in [
        "http://management.example.com",
        "http://10.1.2.3:8080",
        "ftp://127.0.0.1",
    ] {
        let o = amlctl_arm::ClientOptions::for_endpoint(url::Url::parse(url).unwrap());
        let err = ArmClient::new(o, cred.clone()).unwrap_err();
        assert!(matches!(err, ArmError::Refused { .. }), "{url}: {err:?}");
        assert!(!err.summary().is_empty());
    }
    assert_eq!(cred.calls(), 0, "no token may be requested");
    // Loopback http and https are accepted.
    for url in [
        "http://127.0.0.1:1",
        "http://localhost:1",
        "https://management.azure.com",
    ] {
        let o = amlctl_arm::ClientOptions::for_endpoint(url::Url::parse(url).unwrap());
        assert!(ArmClient::new(o, cred.clone()).is_ok(), "{url}");
    }
    assert_eq!(cred.calls(), 0);
}

#[tokio::test]
async fn token_is_requested_once_for_concurrent_requests() {
    let emu = start(config()).await;
    let cred = StaticTokenCredential::new(TOKEN.into());
    let c = ArmClient::new(options(&emu.base_url()), cred.clone()).unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move { c.get_workspace(&ws()).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(cred.calls(), 1);
    assert_eq!(c.stats().token_requests, 1);
    emu.shutdown().await;
}
