//! Every compute type the emulator serves, created with typical (and secret) properties, reads
//! back as a body valid against the spec's schemas; so do lists, listKeys, listNodes,
//! operation statuses and error bodies produced along the way.

mod common;

use amlctl_emulator::EmulatorConfig;
use common::*;
use reqwest::Method;
use serde_json::{Value, json};

fn rid(provider: &str, name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{RG}/providers/{provider}/{name}")
}

#[tokio::test]
async fn all_compute_types_validate_against_the_spec() {
    let schemas = Schemas::load();
    let resources = [
        rid("Microsoft.Compute/virtualMachines", "vm1"),
        rid("Microsoft.HDInsight/clusters", "hdi1"),
        rid("Microsoft.Databricks/workspaces", "dbx1"),
        rid("Microsoft.DataLakeAnalytics/accounts", "adla1"),
        rid("Microsoft.ContainerService/managedClusters", "aks1"),
        rid("Microsoft.Kubernetes/connectedClusters", "arc1"),
        rid("Microsoft.Synapse/workspaces", "syn1/bigDataPools/pool1"),
    ];
    let subnet = format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/virtualNetworks/v/subnets/s"
    );
    let uai = format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
    );
    let mut cfg = config();
    // The subnet and identity the bodies reference must exist (the emulator refuses others).
    let fixture = cfg.fixture.as_mut().unwrap();
    fixture.resources.extend(resources.iter().cloned());
    fixture.resources.extend([subnet.clone(), uai.clone()]);
    let emu = start(EmulatorConfig {
        page_size: 3,
        ..cfg
    })
    .await;
    let bodies: Vec<(&str, Value)> = vec![
        (
            "amlcluster",
            json!({"location": "eastus", "tags": {"a": "b"},
            "identity": {"type": "SystemAssigned,UserAssigned", "userAssignedIdentities": {uai.clone(): {}}},
            "properties": {"computeType": "AmlCompute", "description": "d", "disableLocalAuth": true,
            "properties": {"vmSize": "Standard_DS3_v2", "vmPriority": "LowPriority", "subnet": {"id": subnet},
                "scaleSettings": {"maxNodeCount": 3, "minNodeCount": 1, "nodeIdleTimeBeforeScaleDown": "PT5M"},
                "userAccountCredentials": {"adminUserName": "u", "adminUserSshPublicKey": "ssh-rsa AAA", "adminUserPassword": "p-secret"},
                "remoteLoginPortPublicAccess": "NotSpecified", "enableNodePublicIp": false, "propertyBag": {"x": 1}}}}),
        ),
        (
            "instance1",
            json!({"location": "eastus", "properties": {"computeType": "ComputeInstance",
            "properties": {"vmSize": "Standard_DS3_v2", "subnet": {"id": subnet}, "sshSettings": {"sshPublicAccess": "Enabled", "adminPublicKey": "ssh-rsa AAA"},
                "applicationSharingPolicy": "Personal", "computeInstanceAuthorizationType": "personal",
                "personalComputeInstanceSettings": {"assignedUser": {"objectId": "00000000-0000-0000-0000-000000000001", "tenantId": "00000000-0000-0000-0000-000000000002"}},
                "setupScripts": {"scripts": {"creationScript": {"scriptSource": "workspaceStorage", "scriptData": "setup.sh", "timeout": "5m"}}},
                "schedules": {"computeStartStop": [{"status": "Enabled", "action": "Stop", "triggerType": "Cron", "cron": {"expression": "0 18 * * *", "timeZone": "UTC"}}]}}}}),
        ),
        (
            "vm1",
            json!({"location": "eastus", "properties": {"computeType": "VirtualMachine", "resourceId": resources[0],
            "properties": {"virtualMachineSize": "Standard_DS3_v2", "sshPort": 22, "address": "10.0.0.4",
                "administratorAccount": {"username": "u", "password": "vm-secret", "privateKeyData": "k-secret", "publicKeyData": "pub"}}}}),
        ),
        (
            "hdi1",
            json!({"location": "eastus", "properties": {"computeType": "HDInsight", "resourceId": resources[1],
            "properties": {"address": "hdi.example", "administratorAccount": {"username": "u", "password": "hdi-secret"}}}}),
        ),
        (
            "dbx1",
            json!({"location": "eastus", "properties": {"computeType": "Databricks", "resourceId": resources[2],
            "properties": {"databricksAccessToken": "dapi-secret", "workspaceUrl": "https://adb-1.azuredatabricks.net"}}}),
        ),
        (
            "adla1",
            json!({"location": "eastus", "properties": {"computeType": "DataLakeAnalytics", "resourceId": resources[3],
            "properties": {"dataLakeStoreAccountName": "store"}}}),
        ),
        (
            "aks1",
            json!({"location": "eastus", "properties": {"computeType": "AKS", "resourceId": resources[4],
            "properties": {"agentCount": 3, "agentVmSize": "Standard_D3_v2", "clusterFqdn": "aks.example",
                "sslConfiguration": {"status": "Enabled", "cert": "CERT-secret", "key": "KEY-secret", "cname": "c"}}}}),
        ),
        (
            "arc1",
            json!({"location": "eastus", "properties": {"computeType": "Kubernetes", "resourceId": resources[5],
            "properties": {"namespace": "ml", "relayConnectionString": "relay-secret", "serviceBusConnectionString": "sb-secret"}}}),
        ),
        (
            "syn1",
            json!({"location": "eastus", "properties": {"computeType": "SynapseSpark", "resourceId": resources[6]}}),
        ),
        (
            "adf1",
            json!({"location": "eastus", "properties": {"computeType": "DataFactory"}}),
        ),
    ];
    let mut failures = Vec::new();
    for (name, body) in &bodies {
        let url = compute_url(&emu, WS, name);
        let (s, h, b) = send(Method::PUT, &url, API, Some(body)).await;
        assert_eq!(s, 201, "{name}: {b}");
        failures.extend(
            schemas
                .compute_errors(&b)
                .into_iter()
                .map(|e| format!("{name} PUT: {e}")),
        );
        let op = h["azure-asyncoperation"].to_str().unwrap().to_string();
        let g = wait_terminal(&url).await;
        assert_eq!(g["properties"]["provisioningState"], "Succeeded", "{name}");
        failures.extend(
            schemas
                .compute_errors(&g)
                .into_iter()
                .map(|e| format!("{name} GET: {e}")),
        );
        for secret in [
            "p-secret",
            "vm-secret",
            "k-secret",
            "hdi-secret",
            "dapi-secret",
            "CERT-secret",
            "KEY-secret",
            "relay-secret",
            "sb-secret",
        ] {
            assert!(!g.to_string().contains(secret), "{name} leaks {secret}");
        }
        let st: Value = client()
            .get(&op)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        failures.extend(
            schemas
                .errors("OperationStatusResult", &st)
                .into_iter()
                .map(|e| format!("{name} op: {e}")),
        );
    }
    // Lists (crossing pages).
    let mut next = Some(format!("{}/computes?api-version={API}", ws_url(&emu, WS)));
    let mut seen = 0;
    while let Some(u) = next {
        let b: Value = client()
            .get(&u)
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        failures.extend(schemas.errors("PaginatedComputeResourcesList", &b));
        for item in b["value"].as_array().unwrap() {
            seen += 1;
            failures.extend(schemas.compute_errors(item));
        }
        next = b["nextLink"].as_str().map(str::to_string);
    }
    assert_eq!(seen, bodies.len());
    // listKeys for the types that have a ComputeSecrets shape in the spec.
    for (name, def, secret) in [
        ("aks1", "AksComputeSecrets", None),
        ("vm1", "VirtualMachineSecrets", Some("vm-secret")),
        ("dbx1", "DatabricksComputeSecrets", Some("dapi-secret")),
    ] {
        let (s, _, k) = send(
            Method::POST,
            &format!("{}/listKeys", compute_url(&emu, WS, name)),
            API,
            None,
        )
        .await;
        assert_eq!(s, 200);
        failures.extend(
            schemas
                .errors(def, &k)
                .into_iter()
                .map(|e| format!("{name} listKeys: {e}")),
        );
        if let Some(secret) = secret {
            assert!(
                k.to_string()
                    .contains(&amlctl_emulator::secret_marker(secret)),
                "{name} listKeys lacks its secret"
            );
        }
    }
    let (s, _, n) = send(
        Method::POST,
        &format!("{}/listNodes", compute_url(&emu, WS, "amlcluster")),
        API,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(n["nodes"].as_array().unwrap().len(), 1);
    failures.extend(schemas.errors("AmlComputeNodesInformation", &n));
    // Error bodies.
    for (m, u) in [
        (Method::GET, compute_url(&emu, WS, "absent")),
        (Method::GET, compute_url(&emu, "no-ws", "absent")),
        (
            Method::POST,
            format!("{}/start", compute_url(&emu, WS, "instance1")),
        ),
    ] {
        let (s, _, e) = send(m, &u, API, None).await;
        assert!(s >= 400);
        failures.extend(schemas.errors("ErrorResponse", &e));
    }
    emu.shutdown().await;
    assert!(
        failures.is_empty(),
        "schema failures:\n{}",
        failures.join("\n")
    );
}
