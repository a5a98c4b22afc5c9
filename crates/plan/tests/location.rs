//! Issue #14 rule 6: a cluster may live outside its workspace's region; it is compared against
//! its own `location` as the service returns it.

mod common;

use amlctl_manifest::ComputeType::*;
use common::*;
use serde_json::json;

#[test]
fn a_cluster_in_another_region_compares_against_its_own_location() {
    // Workspace `dev` is in eastus (common::ws); the cluster lives in centralus
    // (arm-recordings cli-ml-compute_aml [8]).
    let spec = json!({"size": "Standard_DS3_v2", "max_instances": 2, "location": "centralus"});
    let live_spec = json!({"size": "STANDARD_DS3_V2", "max_instances": 2, "location": "centralus"});
    let p = plan1(
        target(AmlCompute, "cpu", spec.clone()),
        Some(live(AmlCompute, "cpu", live_spec.clone())),
    );
    assert!(!p.has_changes(), "{:#?}", p.entries);
    let mut moved = live_spec;
    moved["location"] = json!("eastus");
    let p = plan1(
        allow_replace(target(AmlCompute, "cpu", spec)),
        Some(live(AmlCompute, "cpu", moved)),
    );
    assert!(
        p.entries
            .iter()
            .any(|e| e.changes.iter().any(|c| c.key == "location")),
        "{:#?}",
        p.entries
    );
}
