//! `preflight::requests_for_creates` (what the workflow reads for targets missing from a
//! complete list, before the plan exists) asks for exactly what `preflight::requests` asks for
//! the create entries of the finished plan.

mod common;

use std::collections::BTreeMap;

use amlctl_manifest::ComputeType;
use amlctl_plan::PlanOptions;
use amlctl_plan::preflight::{requests, requests_for_creates};
use common::*;
use serde_json::json;

#[test]
fn early_requests_of_creates_match_the_plans_requests() {
    let sub = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers";
    let targets = vec![
        target(
            ComputeType::AmlCompute,
            "cpu",
            json!({"size": "Standard_DS3_v2", "max_instances": 2}),
        ),
        target(
            ComputeType::AmlCompute,
            "west",
            json!({
                "size": "Standard_DS3_v2",
                "location": "West US 2",
                "identity": {"type": "user_assigned", "user_assigned_identities": [
                    {"resource_id": format!("{sub}/Microsoft.ManagedIdentity/userAssignedIdentities/id-a")}
                ]},
                "network_settings": {"subnet": format!("{sub}/Microsoft.Network/virtualNetworks/v/subnets/s")}
            }),
        ),
        target(
            ComputeType::VirtualMachine,
            "dsvm",
            json!({"resource_id": format!("{sub}/Microsoft.Compute/virtualMachines/vm1")}),
        ),
    ];
    let wss = workspaces(&[ws("dev", false)]);
    let live = BTreeMap::from([("dev".to_string(), Vec::new())]);
    let plan = amlctl_plan::plan(&targets, &wss, &live, &PlanOptions::default());
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    let late = requests(&plan, &wss);
    let early = requests_for_creates(&targets, &wss);
    assert_eq!(early, late);
    assert_eq!(early.regions.len(), 2, "{early:?}");
    assert_eq!(early.references.len(), 3, "{early:?}");
}
