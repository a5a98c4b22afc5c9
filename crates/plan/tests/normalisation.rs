//! Normalisation: spellings the service returns differently from what users write never show as
//! a change. Table-driven over canonical specs, then end to end through the manifest loader,
//! `to_arm`, a server imitation with every quirk on, and `from_arm`.

mod common;

use std::path::Path;

use amlctl_manifest::ComputeType::*;
use amlctl_manifest::{
    LiveCompute, LoadOptions, OWNERSHIP_TAG, Target, Workspace, from_arm, load_str,
};
use amlctl_plan::{Action, PlanOptions};
use common::*;
use serde_json::{Value, json};

/// (what, target spec, live spec): each must plan as a no-op.
fn same_cases() -> Vec<(&'static str, Value, Value)> {
    let base = aml_spec();
    let with = |k: &str, v: Value| {
        let mut s = base.clone();
        s[k] = v;
        s
    };
    vec![
        (
            "VM size case",
            base.clone(),
            with("size", json!("STANDARD_DS3_V2")),
        ),
        (
            "enum case (tier)",
            base.clone(),
            with("tier", json!("LowPriority")),
        ),
        (
            "duration PT2M vs 120",
            base.clone(),
            with("idle_time_before_scale_down", json!("PT2M")),
        ),
        (
            "duration PT120S vs 120",
            base.clone(),
            with("idle_time_before_scale_down", json!("PT120S")),
        ),
        (
            "duration PT120S vs PT2M",
            with("idle_time_before_scale_down", json!("PT120S")),
            with("idle_time_before_scale_down", json!("PT2M")),
        ),
        (
            "virtualNetworks vs VirtualNetworks",
            base.clone(),
            with(
                "network_settings",
                json!({"subnet": SUBNET.replace("virtualNetworks", "VirtualNetworks")}),
            ),
        ),
        (
            "resourceGroups vs resourcegroups",
            base.clone(),
            with(
                "network_settings",
                json!({"subnet": SUBNET.replace("resourceGroups", "resourcegroups")}),
            ),
        ),
        (
            "East US vs eastus",
            with("location", json!("East US")),
            base.clone(),
        ),
        (
            "EASTUS vs eastus",
            base.clone(),
            with("location", json!("EASTUS")),
        ),
        (
            "keys the user did not write",
            json!({"max_instances": 2}),
            with("enable_node_public_ip", json!(true)),
        ),
        (
            "the ownership tag",
            base.clone(),
            with("tags", json!({"team": "ml", OWNERSHIP_TAG: "amlctl"})),
        ),
        (
            "tag name case",
            base.clone(),
            with("tags", json!({"Team": "ml"})),
        ),
        (
            "identity type and identity order",
            with(
                "identity",
                json!({"type": "user_assigned", "user_assigned_identities": [{"resource_id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/A"}, {"resource_id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/b"}]}),
            ),
            with(
                "identity",
                json!({"type": "UserAssigned", "user_assigned_identities": [{"resource_id": "/subscriptions/0/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/B"}, {"resource_id": "/subscriptions/0/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/a"}]}),
            ),
        ),
        (
            "numbers by value",
            base.clone(),
            with("max_instances", json!(2.0)),
        ),
    ]
}

#[test]
fn equivalent_spellings_are_no_ops() {
    for (what, desired, actual) in same_cases() {
        let plan = plan1(
            target(AmlCompute, "cpu", desired),
            Some(live(AmlCompute, "cpu", actual)),
        );
        assert!(plan.errors.is_empty(), "{what}: {:?}", plan.errors);
        assert_eq!(
            plan.entries[0].actions,
            [Action::NoOp],
            "{what}: {}",
            plan.entries[0].reason
        );
        assert!(plan.entries[0].changes.is_empty(), "{what}");
    }
}

#[test]
fn secrets_are_no_ops() {
    let t = with_secret(
        target(
            AmlCompute,
            "cpu",
            json!({"ssh_settings": {"admin_username": "u", "admin_password": "<redacted>"}}),
        ),
        "ssh_settings.admin_password",
        "PW",
    );
    let plan = plan1(
        t,
        Some(live(
            AmlCompute,
            "cpu",
            json!({"ssh_settings": {"admin_username": "u"}}),
        )),
    );
    assert_eq!(
        plan.entries[0].actions,
        [Action::NoOp],
        "{}",
        plan.entries[0].reason
    );
}

/// What a server returns for a PUT body: secrets dropped, read-only fields and defaults added,
/// and (with `quirks`) every spelling quirk the emulator can imitate.
fn served(t: &Target, ws: &Workspace, quirks: bool) -> LiveCompute {
    let arm = t.to_arm(ws);
    serve_body(arm.body, &arm.secrets, &t.name, ws, quirks)
}

/// What a server returns after a PUT of `body`.
fn serve_body(
    mut body: Value,
    secrets: &[amlctl_manifest::SecretSlot],
    name: &str,
    ws: &Workspace,
    quirks: bool,
) -> LiveCompute {
    for slot in secrets {
        let (parent, leaf) = slot.pointer.rsplit_once('/').expect("pointer");
        if let Some(Value::Object(m)) = body.pointer_mut(parent) {
            m.remove(leaf);
        }
    }
    assert!(
        !body.to_string().contains("<redacted>"),
        "a placeholder without a slot: {body}"
    );
    body["name"] = json!(name);
    body["id"] = json!(ws.compute_path(name));
    body["type"] = json!("Microsoft.MachineLearningServices/workspaces/computes");
    body["properties"]["provisioningState"] = json!("Succeeded");
    body["properties"]["createdOn"] = json!("2026-01-01T00:00:00Z");
    if let Some(Value::Object(p)) = body.pointer_mut("/properties/properties") {
        p.entry("allocationState").or_insert(json!("Steady"));
    }
    if quirks {
        for ptr in ["/properties/properties/vmSize"] {
            if let Some(Value::String(s)) = body.pointer_mut(ptr) {
                *s = s.to_ascii_uppercase();
            }
        }
        if let Some(Value::String(s)) = body.pointer_mut("/properties/properties/subnet/id") {
            *s = s.replace("/virtualNetworks/", "/VirtualNetworks/");
        }
        if let Some(Value::String(s)) =
            body.pointer_mut("/properties/properties/scaleSettings/nodeIdleTimeBeforeScaleDown")
        {
            let secs = amlctl_manifest::parse_iso_duration(s).expect("duration");
            *s = format!("PT{secs}S");
        }
        if let Some(Value::String(s)) = body.pointer_mut("/location") {
            *s = s.to_ascii_uppercase();
        }
    }
    from_arm(&body).expect("from_arm")
}

const MANIFESTS: &str = r#"
name: cpu-cluster
type: amlcompute
size: Standard_DS3_v2
tier: low_priority
min_instances: 0
max_instances: 4
idle_time_before_scale_down: 100
location: East US
description: CPU cluster
tags: {team: ml}
identity:
  type: user_assigned
  user_assigned_identities:
    - resource_id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai1
network_settings:
  vnet_name: vnet1
  subnet: default
ssh_settings:
  admin_username: azureuser
  admin_password: {env: CLUSTER_PW}
---
name: minimal
type: amlcompute
---
name: ci-alice
type: computeinstance
size: Standard_DS3_v2
create_on_behalf_of:
  user_tenant_id: 00000000-0000-0000-0000-000000000001
  user_object_id: 00000000-0000-0000-0000-000000000002
ssh_public_access_enabled: false
idle_time_before_shutdown: PT30M
schedules:
  compute_start_stop:
    - action: stop
      trigger:
        type: cron
        expression: "0 18 * * *"
        start_time: "2026-01-01T00:00:00"
        time_zone: UTC
setup_scripts:
  creation_script:
    path: setup.sh
    command: --fast
    timeout_minutes: 10
---
name: dsvm
type: virtualmachine
resource_id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.Compute/virtualMachines/dsvm1
ssh_settings:
  admin_username: azureuser
  admin_password: {env: VM_PW}
  ssh_port: 22
---
name: k8s
type: kubernetes
resource_id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.Kubernetes/connectedClusters/arc1
namespace: ml
description: team cluster
identity: {type: system_assigned}
---
name: spark
type: synapsespark
resource_id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.Synapse/workspaces/syn/bigDataPools/pool1
---
name: hdi
type: hdinsight
resource_id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.HDInsight/clusters/hdi1
ssh_settings:
  admin_username: sshuser
  admin_password: {env: HDI_PW}
---
name: dbx
type: databricks
resource_id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.Databricks/workspaces/dbx1
access_token: {env: DBX_TOKEN}
---
name: adla
type: datalakeanalytics
resource_id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.DataLakeAnalytics/accounts/adla1
---
name: aks
type: aks
resource_id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.ContainerService/managedClusters/aks1
agent_count: 3
cluster_purpose: dev_test
---
name: adf
type: datafactory
resource_id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.DataFactory/factories/adf1
---
name: batch
type: batch
resource_id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.Batch/batchAccounts/batch1
"#;

fn loaded() -> Vec<Target> {
    let (targets, _warnings) = load_str(
        Path::new("manifests/all.yaml"),
        MANIFESTS,
        &ws("dev", false),
        &LoadOptions::default(),
    )
    .unwrap_or_else(|d| panic!("manifests do not load: {d:?}"));
    assert_eq!(targets.len(), 12, "one target per document");
    targets
}

#[test]
fn round_trip_through_arm_is_a_no_op_for_every_type() {
    let w = ws("dev", true);
    let targets = loaded();
    let mut types: Vec<_> = targets.iter().map(|t| t.compute_type).collect();
    types.sort();
    types.dedup();
    assert_eq!(types.len(), 11, "every compute type is covered");
    for quirks in [false, true] {
        let live: Vec<LiveCompute> = targets.iter().map(|t| served(t, &w, quirks)).collect();
        let plan = run(&targets, live, true, &PlanOptions::default());
        assert!(plan.errors.is_empty(), "quirks {quirks}: {:?}", plan.errors);
        assert!(plan.unmanaged.is_empty());
        for e in &plan.entries {
            assert_eq!(
                e.actions,
                [Action::NoOp],
                "quirks {quirks}: {}: {} {:?}",
                e.address,
                e.reason,
                e.changes
            );
        }
        assert!(!plan.has_changes());
    }
}

#[test]
fn round_trip_sees_one_changed_key_per_policy_class() {
    let w = ws("dev", false);
    let targets = loaded();
    let live: Vec<LiveCompute> = targets.iter().map(|t| served(t, &w, true)).collect();
    // (target, key path, new value, expected action, expected method of the first step)
    let cases: Vec<(&str, &[&str], Value, Action, &str)> = vec![
        (
            "cpu-cluster",
            &["max_instances"],
            json!(8),
            Action::Update,
            "PATCH",
        ),
        (
            "cpu-cluster",
            &["min_instances"],
            json!(1),
            Action::Update,
            "PATCH",
        ),
        (
            "cpu-cluster",
            &["idle_time_before_scale_down"],
            json!(300),
            Action::Update,
            "PATCH",
        ),
        (
            "cpu-cluster",
            &["description"],
            json!("new words"),
            Action::Update,
            "PUT",
        ),
        (
            "cpu-cluster",
            &["tags", "team"],
            json!("research"),
            Action::Update,
            "PUT",
        ),
        (
            "cpu-cluster",
            &["size"],
            json!("Standard_NC6"),
            Action::Replace,
            "DELETE",
        ),
        (
            "ci-alice",
            &["size"],
            json!("Standard_NC6"),
            Action::Replace,
            "DELETE",
        ),
        (
            "dsvm",
            &["ssh_settings", "ssh_port"],
            json!(2222),
            Action::Replace,
            "DELETE",
        ),
        (
            "k8s",
            &["namespace"],
            json!("other"),
            Action::Replace,
            "DELETE",
        ),
        (
            "k8s",
            &["description"],
            json!("shared"),
            // Issue #14 rule 5: an attachment changes by detach and re-attach (was a PUT).
            Action::Replace,
            "DELETE",
        ),
        (
            "ci-alice",
            &["schedules"],
            json!({"compute_start_stop": [{"action": "start", "trigger": {"type": "cron", "expression": "0 8 * * *"}}]}),
            // Issue #14 rule 4: a compute instance is not updated by PUT (was a PUT).
            Action::Replace,
            "DELETE",
        ),
        (
            "cpu-cluster",
            &["identity"],
            json!({"type": "system_assigned"}),
            Action::Update,
            "PUT",
        ),
        (
            "dsvm",
            &["resource_id"],
            json!(
                "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.Compute/virtualMachines/dsvm2"
            ),
            Action::Replace,
            "DELETE",
        ),
        ("aks", &["agent_count"], json!(5), Action::Replace, "DELETE"),
    ];
    for (name, path, value, action, method) in cases {
        let mut changed = targets.clone();
        let t = changed.iter_mut().find(|t| t.name == name).expect("target");
        t.lifecycle.allow_replace = true;
        let mut cur = t.spec.get_mut(path[0]).expect("key written");
        for seg in &path[1..] {
            cur = cur.get_mut(*seg).expect("key written");
        }
        *cur = value;
        let plan = run(&changed, live.clone(), false, &PlanOptions::default());
        let key = path.join(".");
        let mut after_apply = live.clone();
        for e in &plan.entries {
            if e.name == name {
                assert_eq!(e.actions, [action], "{name} {key}: {}", e.reason);
                assert_eq!(e.steps[0].method.as_str(), method, "{name} {key}");
                assert_eq!(e.changes.len(), 1, "{name} {key}: {:?}", e.changes);
                assert!(
                    e.changes[0].key.starts_with(&key),
                    "{name}: {}",
                    e.changes[0].key
                );
                if method == "DELETE" {
                    let attached = e.compute_type.is_some_and(|c| c.is_attached());
                    let want = if attached { "Detach" } else { "Delete" };
                    assert_eq!(
                        e.steps[0]
                            .query
                            .get("underlyingResourceAction")
                            .map(String::as_str),
                        Some(want)
                    );
                }
                if key == "identity" {
                    let body = e.steps[0].body.as_ref().expect("body");
                    assert_eq!(
                        body["identity"],
                        json!({"type": "SystemAssigned"}),
                        "identity is one unit"
                    );
                }
                // Carry the steps out against the imitation, then plan again: converged.
                let i = after_apply
                    .iter()
                    .position(|l| l.name == name)
                    .expect("live");
                for step in &e.steps {
                    match step.method.as_str() {
                        "PUT" => {
                            let body = step.body.clone().expect("body");
                            after_apply[i] = serve_body(body, &step.secrets, name, &w, true);
                        }
                        "PATCH" => {
                            let mut raw = after_apply[i].raw.clone();
                            let scale = step.body.as_ref().expect("body")["properties"]["properties"]
                                ["scaleSettings"]
                                .clone();
                            raw["properties"]["properties"]["scaleSettings"] = scale;
                            after_apply[i] = from_arm(&raw).expect("from_arm");
                        }
                        _ => {}
                    }
                }
            } else {
                assert_eq!(
                    e.actions,
                    [Action::NoOp],
                    "{} changed with {name} {key}",
                    e.address
                );
            }
        }
        let again = run(&changed, after_apply, false, &PlanOptions::default());
        assert!(
            !again.has_changes(),
            "{name} {key}: not converged: {:?}",
            again.entries
        );
    }
}
