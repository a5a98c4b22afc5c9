//! The rules, response shapes, faults and quirks that make the emulator answer like the real
//! service by default (issue #13; README "Rules"), each through real HTTP on 127.0.0.1, and the
//! `lenient` switch that brings the old behaviour back.

mod common;

use std::time::Duration;

use amlctl_emulator::{EmulatorConfig, FaultSpec, POLICY_TAGS, Quirks, RawCompute};
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

async fn put(url: &str, body: &Value) -> (u16, reqwest::header::HeaderMap, Value) {
    send(Method::PUT, url, API, Some(body)).await
}

async fn get_at(url: &str, api: &str) -> Value {
    let (s, _, b) = send(Method::GET, url, api, None).await;
    assert_eq!(s, 200, "{b}");
    b
}

async fn delete(url: &str) -> u16 {
    send(
        Method::DELETE,
        &format!("{url}?underlyingResourceAction=Delete"),
        API,
        None,
    )
    .await
    .0
}

/// Waits until GET answers 404.
async fn wait_gone(url: &str) {
    for _ in 0..400 {
        if send(Method::GET, url, API, None).await.0 == 404 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{url} was never deleted");
}

fn subnet_id() -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default"
    )
}

fn identity_id() -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai"
    )
}

#[tokio::test]
async fn put_replaces_the_stored_properties() {
    let emu = start(config()).await;
    let url = compute_url(&emu, WS, "cpu");
    let mut first = aml_body("Standard_DS3_v2", 0, 2);
    first["properties"]["description"] = json!("first");
    first["properties"]["properties"]["remoteLoginPortPublicAccess"] = json!("Disabled");
    first["properties"]["properties"]["scaleSettings"]["nodeIdleTimeBeforeScaleDown"] =
        json!("PT5M");
    assert_eq!(put(&url, &first).await.0, 201);
    wait_terminal(&url).await;
    // The second PUT omits the description, the idle time and the remote-login setting.
    let second = json!({"location": "eastus", "properties": {"computeType": "AmlCompute",
        "properties": {"vmSize": "Standard_DS3_v2", "scaleSettings": {"maxNodeCount": 3}}}});
    let (s, _, b) = put(&url, &second).await;
    assert_eq!(s, 201, "{b}");
    let g = wait_terminal(&url).await;
    let p = &g["properties"];
    assert_eq!(p["description"], Value::Null, "{g}");
    assert_eq!(p["properties"]["scaleSettings"]["maxNodeCount"], 3);
    assert_eq!(
        p["properties"]["scaleSettings"]["nodeIdleTimeBeforeScaleDown"],
        "PT2M"
    );
    assert_eq!(p["properties"]["remoteLoginPortPublicAccess"], "Enabled");
    // Never-changing fields the PUT did not resend stay.
    assert_eq!(p["properties"]["vmPriority"], "Dedicated");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_put_that_changes_a_compute_instance_is_refused() {
    let emu = start(config()).await;
    let url = compute_url(&emu, WS, "ci-dev");
    let body = ci_body("Standard_DS3_v2");
    assert_eq!(put(&url, &body).await.0, 201);
    wait_terminal(&url).await;
    for change in [
        json!({"vmSize": "Standard_DS11_v2"}),
        json!({"idleTimeBeforeShutdown": "PT30M"}),
        json!({"schedules": {"computeStartStop": [{"action": "Stop", "triggerType": "Cron",
            "cron": {"expression": "0 18 * * *", "timeZone": "UTC"}, "status": "Enabled"}]}}),
    ] {
        let mut changed = body.clone();
        for (k, v) in change.as_object().unwrap() {
            changed["properties"]["properties"][k] = v.clone();
        }
        let (s, h, b) = put(&url, &changed).await;
        assert_eq!(s, 400, "{change}: {b}");
        assert!(!h.contains_key("azure-asyncoperation"));
        // The recorded UserError envelope.
        assert_eq!(b["error"]["code"], "UserError");
        assert_eq!(b["componentName"], "machinelearningcompute");
        assert_eq!(b["environment"], "eastus");
        assert!(b["error"]["message"].as_str().unwrap().contains("ci-dev"));
    }
    // An identical PUT changes nothing and is accepted.
    assert_eq!(put(&url, &body).await.0, 201);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_deleted_compute_instance_name_is_held() {
    let emu = start(EmulatorConfig {
        name_hold_ms: 600,
        ..config()
    })
    .await;
    let url = compute_url(&emu, WS, "ci-held");
    assert_eq!(put(&url, &ci_body("Standard_DS3_v2")).await.0, 201);
    wait_terminal(&url).await;
    assert_eq!(delete(&url).await, 202);
    wait_gone(&url).await;
    let (s, _, b) = put(&url, &ci_body("Standard_DS3_v2")).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"]["code"], "UserError");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Compute name 'ci-held' is not available"),
        "{b}"
    );
    // Held in the region, for any workspace there.
    let other = compute_url(&emu, "mlw-other", "ci-held");
    assert_eq!(put(&other, &ci_body("Standard_DS3_v2")).await.0, 400);
    // Released after the hold.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(put(&url, &ci_body("Standard_DS3_v2")).await.0, 201);
    emu.shutdown().await;
}

#[tokio::test]
async fn references_to_missing_resources_are_refused() {
    let emu = start(config()).await;
    // Attach target.
    let vm = json!({"location": "eastus", "properties": {"computeType": "VirtualMachine",
        "resourceId": vm_id("ghost"), "properties": {"virtualMachineSize": "Standard_D2_v2"}}});
    let (s, _, b) = put(&compute_url(&emu, WS, "ghost"), &vm).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("UserError")));
    assert!(b["error"]["message"].as_str().unwrap().contains("ghost"));
    // Subnet.
    let mut sub = aml_body("Standard_DS3_v2", 0, 2);
    sub["properties"]["properties"]["subnet"] = json!({"id": subnet_id()});
    let (s, _, b) = put(&compute_url(&emu, WS, "in-vnet"), &sub).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("UserError")));
    assert_eq!(b["error"]["target"], "properties.properties.subnet.id");
    // User-assigned identity.
    let mut uai = aml_body("Standard_DS3_v2", 0, 2);
    uai["identity"] =
        json!({"type": "UserAssigned", "userAssignedIdentities": {identity_id(): {}}});
    let (s, _, b) = put(&compute_url(&emu, WS, "with-uai"), &uai).await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("UserError")));
    assert_eq!(b["error"]["target"], "identity.userAssignedIdentities");
    emu.shutdown().await;

    // Declared in the fixture: accepted.
    let mut cfg = config();
    if let Some(f) = cfg.fixture.as_mut() {
        f.resources.push(subnet_id());
        f.resources.push(identity_id());
    }
    let emu = start(cfg).await;
    assert_eq!(put(&compute_url(&emu, WS, "in-vnet"), &sub).await.0, 201);
    assert_eq!(put(&compute_url(&emu, WS, "with-uai"), &uai).await.0, 201);
    emu.shutdown().await;
}

#[tokio::test]
async fn properties_are_returned_only_at_api_versions_that_define_them() {
    let emu = start(config()).await;
    let url = compute_url(&emu, WS, "ci-flags");
    let mut body = ci_body("Standard_DS3_v2");
    let p = &mut body["properties"]["properties"];
    for f in [
        "enableSSO",
        "enableRootAccess",
        "enableOSPatching",
        "releaseQuotaOnStop",
    ] {
        p[f] = json!(false);
    }
    p["idleTimeBeforeShutdown"] = json!("PT30M");
    p["madeUpFlag"] = json!(true);
    let (s, _, b) = put(&url, &body).await;
    assert_eq!(s, 201, "{b}");
    wait_terminal(&url).await;
    let keys = |b: &Value| -> Vec<String> {
        let p = &b["properties"]["properties"];
        [
            "enableSSO",
            "enableRootAccess",
            "enableOSPatching",
            "releaseQuotaOnStop",
            "idleTimeBeforeShutdown",
            "enableNodePublicIp",
            "madeUpFlag",
        ]
        .iter()
        .filter(|k| p.get(**k).is_some())
        .map(|k| k.to_string())
        .collect()
    };
    let want: &[(&str, &[&str])] = &[
        ("2022-10-01-preview", &["idleTimeBeforeShutdown"]),
        (
            "2023-08-01-preview",
            &[
                "enableSSO",
                "enableRootAccess",
                "enableOSPatching",
                "releaseQuotaOnStop",
                "idleTimeBeforeShutdown",
                "enableNodePublicIp",
            ],
        ),
        (
            "2024-04-01",
            &[
                "enableSSO",
                "enableOSPatching",
                "releaseQuotaOnStop",
                "idleTimeBeforeShutdown",
                "enableNodePublicIp",
            ],
        ),
        ("2025-12-01", &["enableNodePublicIp"]),
        (
            "2026-09-01",
            &["enableSSO", "idleTimeBeforeShutdown", "enableNodePublicIp"],
        ),
    ];
    for (api, expected) in want {
        let g = get_at(&url, api).await;
        assert_eq!(keys(&g), expected.to_vec(), "{api}: {g}");
    }
    // The 2023-08-01-preview values are what was sent (false), not the defaults.
    let g = get_at(&url, "2023-08-01-preview").await;
    assert_eq!(g["properties"]["properties"]["enableSSO"], false);
    emu.shutdown().await;
}

#[tokio::test]
async fn responses_have_the_recorded_shapes() {
    let emu = start(config()).await;
    let url = compute_url(&emu, WS, "shaped");
    let mut body = aml_body("Standard_ds3_v2", 0, 2);
    body["properties"]["properties"]["userAccountCredentials"] =
        json!({"adminUserName": "azureuser", "adminUserPassword": "pw-secret-9"});
    // Create: 201, only Azure-AsyncOperation, unsent fields null, no computeLocation, tags
    // null, no credentials, vmSize upper-cased.
    let (s, h, b) = put(&url, &body).await;
    assert_eq!(s, 201);
    assert!(h.contains_key("azure-asyncoperation"));
    assert!(!h.contains_key("location") && !h.contains_key("retry-after"));
    assert_eq!(b["tags"], Value::Null);
    assert!(b.get("systemData").is_none());
    let p = &b["properties"];
    assert!(p.get("computeLocation").is_none(), "{b}");
    assert_eq!(p["provisioningState"], "Creating");
    assert_eq!(p["properties"]["vmSize"], "STANDARD_DS3_V2");
    assert_eq!(p["properties"]["allocationState"], Value::Null);
    assert!(p["properties"].get("userAccountCredentials").is_none());
    assert!(!b.to_string().contains("pw-secret-9"));
    let op = h["azure-asyncoperation"].to_str().unwrap().to_string();
    let (_, _, st) = send(Method::GET, &op, "", None).await;
    assert_eq!(st, json!({"status": "Succeeded", "percentComplete": 100.0}));
    // GET: defaults, tags {}, computeLocation, the password as null.
    let g = wait_terminal(&url).await;
    assert_eq!(g["tags"], json!({}));
    assert_eq!(g["properties"]["computeLocation"], "eastus");
    let gp = &g["properties"]["properties"];
    assert_eq!(gp["allocationState"], "Steady");
    assert_eq!(gp["propertyBag"], json!({}));
    assert_eq!(
        gp["userAccountCredentials"],
        json!({"adminUserName": "azureuser", "adminUserPassword": null})
    );
    // PATCH: 202 with a body.
    let patch = json!({"properties": {"properties": {"scaleSettings": {"maxNodeCount": 4}}}});
    let (s, h, b) = send(Method::PATCH, &url, API, Some(&patch)).await;
    assert_eq!(s, 202, "{b}");
    assert_eq!(b["properties"]["provisioningState"], "Updating");
    assert!(h.contains_key("azure-asyncoperation") && !h.contains_key("location"));
    wait_terminal(&url).await;
    // listNodes carries computeType; a one-page list has no nextLink key.
    let (_, _, n) = send(Method::POST, &format!("{url}/listNodes"), API, None).await;
    assert_eq!(n["computeType"], "AmlCompute");
    assert!(n.get("nextLink").is_none());
    let (_, _, l) = send(
        Method::GET,
        &format!("{}/computes", ws_url(&emu, WS)),
        API,
        None,
    )
    .await;
    assert!(l.get("nextLink").is_none());
    // DELETE: 202, empty body, only Azure-AsyncOperation.
    let (s, h, b) = send(
        Method::DELETE,
        &format!("{url}?underlyingResourceAction=Delete"),
        API,
        None,
    )
    .await;
    assert_eq!((s, b), (202, Value::Null));
    assert!(h.contains_key("azure-asyncoperation") && !h.contains_key("location"));
    emu.shutdown().await;
}

#[tokio::test]
async fn update_failed_leaves_the_cluster_failed_with_its_nodes() {
    let emu = start(EmulatorConfig {
        faults: FaultSpec::parse("update-failed=1").unwrap(),
        ..config()
    })
    .await;
    let url = compute_url(&emu, WS, "cpu");
    // A create is not an update: it succeeds.
    assert_eq!(put(&url, &aml_body("Standard_DS3_v2", 2, 4)).await.0, 201);
    let g = wait_terminal(&url).await;
    assert_eq!(g["properties"]["provisioningState"], "Succeeded");
    assert_eq!(g["properties"]["properties"]["currentNodeCount"], 2);
    let (s, h, _) = put(&url, &aml_body("Standard_DS3_v2", 2, 6)).await;
    assert_eq!(s, 201);
    let op = h["azure-asyncoperation"].to_str().unwrap().to_string();
    let g = wait_terminal(&url).await;
    assert_eq!(g["properties"]["provisioningState"], "Failed", "{g}");
    assert_eq!(g["properties"]["properties"]["currentNodeCount"], 2);
    let (_, _, st) = send(Method::GET, &op, "", None).await;
    assert_eq!(st["status"], "Failed");
    emu.shutdown().await;
}

#[tokio::test]
async fn unknown_fault_answers_provisioning_state_unknown() {
    let emu = start(EmulatorConfig {
        faults: FaultSpec::parse("unknown=1").unwrap(),
        ..config()
    })
    .await;
    let url = compute_url(&emu, WS, "cpu");
    assert_eq!(put(&url, &aml_body("Standard_DS3_v2", 0, 2)).await.0, 201);
    let g = get_at(&url, API).await;
    assert_eq!(g["properties"]["provisioningState"], "Unknown");
    emu.shutdown().await;
}

#[tokio::test]
async fn policy_tags_are_added_on_every_write() {
    let emu = start(EmulatorConfig {
        quirks: Quirks::parse("policy-tags").unwrap(),
        ..config()
    })
    .await;
    let url = compute_url(&emu, WS, "cpu");
    let mut body = aml_body("Standard_DS3_v2", 0, 2);
    body["tags"] = json!({"team": "ml"});
    assert_eq!(put(&url, &body).await.0, 201);
    let g = wait_terminal(&url).await;
    assert_eq!(g["tags"]["team"], "ml");
    for (k, v) in POLICY_TAGS {
        assert_eq!(g["tags"][*k], *v, "{g}");
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn raw_computes_are_served_as_given() {
    let recorded = json!({
        "id": format!("/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces/{WS}/computes/old-cluster"),
        "name": "old-cluster", "type": "Microsoft.MachineLearningServices/workspaces/computes",
        "location": "centralus", "tags": {},
        "properties": {"computeType": "AmlCompute", "provisioningState": "Succeeded",
            "description": "some_desc_ci", "resourceId": null,
            "properties": {"vmSize": "STANDARD_DS2_V2", "scaleSettings": {"maxNodeCount": 2,
                "minNodeCount": 0, "nodeIdleTimeBeforeScaleDown": "PT2M"}}}
    });
    let mut cfg = config();
    if let Some(f) = cfg.fixture.as_mut() {
        f.raw_computes.push(RawCompute {
            workspace: WS.into(),
            name: "old-cluster".into(),
            body: recorded.clone(),
        });
    }
    let emu = start(cfg).await;
    let g = get_at(&compute_url(&emu, WS, "old-cluster"), API).await;
    assert_eq!(g, recorded);
    let (_, _, l) = send(
        Method::GET,
        &format!("{}/computes", ws_url(&emu, WS)),
        API,
        None,
    )
    .await;
    assert_eq!(l["value"][0], recorded);
    emu.shutdown().await;
}

#[tokio::test]
async fn lenient_brings_the_old_behaviour_back() {
    let emu = start(EmulatorConfig {
        lenient: true,
        ..config()
    })
    .await;
    let url = compute_url(&emu, WS, "ci-dev");
    assert_eq!(put(&url, &ci_body("Standard_DS3_v2")).await.0, 201);
    wait_terminal(&url).await;
    // A schedule change on an existing instance is accepted (200), not refused.
    let mut changed = ci_body("Standard_DS3_v2");
    changed["properties"]["properties"]["schedules"] = json!({"computeStartStop": []});
    let (s, h, b) = put(&url, &changed).await;
    assert_eq!(s, 200, "{b}");
    assert!(h.contains_key("retry-after"));
    assert!(b.get("systemData").is_some());
    emu.shutdown().await;
}

#[tokio::test]
async fn a_put_of_what_get_shows_is_accepted() {
    // `amlctl import` writes a tag by PUTting back what GET shows, server defaults included
    // (`disableLocalAuth: false` of a compute created without it).
    let emu = start(config()).await;
    let url = compute_url(&emu, WS, "cpu");
    assert_eq!(put(&url, &aml_body("Standard_DS3_v2", 0, 2)).await.0, 201);
    let g = wait_terminal(&url).await;
    assert_eq!(g["properties"]["disableLocalAuth"], false);
    let mut back = json!({"location": g["location"], "tags": {"managed-by": "amlctl"},
        "properties": g["properties"].clone()});
    back["properties"]
        .as_object_mut()
        .unwrap()
        .remove("provisioningState");
    let (s, _, b) = put(&url, &back).await;
    assert_eq!(s, 201, "{b}");
    emu.shutdown().await;
}
