//! Issue #14 rule 2: an absent or `null` live value equals the key's documented service default
//! (from the manifest field table); `idle_time_before_scale_down: 0` and `identity: {type:
//! none}` compare equal to what the service returns for them.

mod common;

use amlctl_manifest::ComputeType::*;
use common::*;
use serde_json::{Value, json};

fn no_changes(t: amlctl_manifest::Target, l: amlctl_manifest::LiveCompute) {
    let p = plan1(t, Some(l));
    assert!(!p.has_changes(), "expected no changes: {:#?}", p.entries);
    // Checked against the default, not skipped as unverifiable.
    assert!(
        p.entries.iter().all(|e| e.unverifiable.is_empty()),
        "{:#?}",
        p.entries
    );
}

fn changed_keys(t: amlctl_manifest::Target, l: amlctl_manifest::LiveCompute) -> Vec<String> {
    let p = plan1(allow_replace(t), Some(l));
    p.entries
        .iter()
        .flat_map(|e| e.changes.iter().map(|c| c.key.clone()))
        .collect()
}

/// A cluster GET where every defaulted key is absent or `null`.
fn bare_cluster() -> Value {
    json!({"size": "Standard_DS3_v2", "min_instances": 0, "max_instances": 2, "location": "eastus"})
}

#[test]
fn absent_cluster_values_equal_their_documented_defaults() {
    let want = json!({
        "size": "Standard_DS3_v2",
        "max_instances": 2,
        "tier": "dedicated",
        "idle_time_before_scale_down": 120,
        "enable_node_public_ip": true,
        "os_type": "linux",
        "ssh_public_access_enabled": true,
    });
    no_changes(
        target(AmlCompute, "cpu", want),
        live(AmlCompute, "cpu", bare_cluster()),
    );
}

#[test]
fn a_value_other_than_the_default_is_a_change() {
    let want = json!({"size": "Standard_DS3_v2", "max_instances": 2, "tier": "low_priority"});
    assert_eq!(
        changed_keys(
            target(AmlCompute, "cpu", want),
            live(AmlCompute, "cpu", bare_cluster())
        ),
        ["tier"]
    );
}

#[test]
fn idle_zero_equals_the_service_default_the_get_shows() {
    let want =
        json!({"size": "Standard_DS3_v2", "max_instances": 2, "idle_time_before_scale_down": 0});
    let mut l = bare_cluster();
    l["idle_time_before_scale_down"] = json!("PT2M");
    no_changes(
        target(AmlCompute, "cpu", want.clone()),
        live(AmlCompute, "cpu", l),
    );
    // `from_arm` reads a `null` idle time as 0.
    let mut l = bare_cluster();
    l["idle_time_before_scale_down"] = json!(0);
    no_changes(target(AmlCompute, "cpu", want), live(AmlCompute, "cpu", l));
}

#[test]
fn identity_none_equals_no_identity() {
    let want = json!({"size": "Standard_DS3_v2", "max_instances": 2, "identity": {"type": "none"}});
    no_changes(
        target(AmlCompute, "cpu", want.clone()),
        live(AmlCompute, "cpu", bare_cluster()),
    );
    let mut l = bare_cluster();
    l["identity"] = json!({"type": "none"});
    no_changes(target(AmlCompute, "cpu", want), live(AmlCompute, "cpu", l));
}

#[test]
fn instance_and_kubernetes_defaults() {
    let ci = json!({"size": "Standard_DS3_v2", "ssh_public_access_enabled": false});
    no_changes(
        target(ComputeInstance, "ci", ci),
        live(ComputeInstance, "ci", json!({"size": "Standard_DS3_v2"})),
    );
    let id =
        "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/k";
    no_changes(
        target(
            Kubernetes,
            "k8s",
            json!({"resource_id": id, "namespace": "default"}),
        ),
        live(Kubernetes, "k8s", json!({"resource_id": id})),
    );
    assert_eq!(
        changed_keys(
            target(
                Kubernetes,
                "k8s",
                json!({"resource_id": id, "namespace": "team-a"})
            ),
            live(Kubernetes, "k8s", json!({"resource_id": id})),
        ),
        ["namespace"]
    );
}
