//! Small builders for planner tests: targets, live computes and workspaces as struct literals,
//! so the tests do not depend on the YAML loader.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use amlctl_manifest::{
    ComputeType, DesiredState, Lifecycle, LiveCompute, OWNERSHIP_TAG, OWNERSHIP_TAG_VALUE,
    SecretRef, SourceLocation, Target, Workspace,
};
use amlctl_plan::{Plan, PlanOptions};
use serde_json::{Map, Value, json};

pub fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

pub fn ws(alias: &str, prune: bool) -> Workspace {
    Workspace {
        alias: alias.to_string(),
        subscription_id: "00000000-0000-0000-0000-000000000000".to_string(),
        resource_group: "rg-ml".to_string(),
        workspace: format!("mlw-{alias}"),
        location: Some("eastus".to_string()),
        prune,
    }
}

pub fn workspaces(list: &[Workspace]) -> BTreeMap<String, Workspace> {
    list.iter().map(|w| (w.alias.clone(), w.clone())).collect()
}

pub fn src(name: &str) -> SourceLocation {
    SourceLocation {
        file: PathBuf::from(format!("manifests/{name}.yaml")),
        line: 1,
        column: 1,
    }
}

pub fn target(ct: ComputeType, name: &str, spec: Value) -> Target {
    Target {
        name: name.to_string(),
        compute_type: ct,
        workspace: "dev".to_string(),
        spec: obj(spec),
        secrets: BTreeMap::new(),
        lifecycle: Lifecycle::default(),
        state: None,
        source: src(name),
        key_locations: BTreeMap::new(),
    }
}

pub fn with_secret(mut t: Target, key: &str, env: &str) -> Target {
    t.secrets
        .insert(key.to_string(), SecretRef::Env(env.to_string()));
    t
}

pub fn allow_replace(mut t: Target) -> Target {
    t.lifecycle.allow_replace = true;
    t
}

pub fn with_state(mut t: Target, s: DesiredState) -> Target {
    t.state = Some(s);
    t
}

/// A live compute in canonical terms, Succeeded, carrying the ownership tag in `raw`.
pub fn live(ct: ComputeType, name: &str, spec: Value) -> LiveCompute {
    LiveCompute {
        name: name.to_string(),
        compute_type: Some(ct),
        spec: obj(spec),
        provisioning_state: Some("Succeeded".to_string()),
        instance_state: None,
        provisioning_errors: Vec::new(),
        raw: json!({
            "name": name,
            "tags": { OWNERSHIP_TAG: OWNERSHIP_TAG_VALUE },
            "properties": { "computeType": ct.arm_name(), "provisioningState": "Succeeded" }
        }),
    }
}

pub fn unowned(mut l: LiveCompute) -> LiveCompute {
    l.raw["tags"] = json!({});
    l
}

pub fn in_state(mut l: LiveCompute, ps: &str) -> LiveCompute {
    l.provisioning_state = Some(ps.to_string());
    l
}

pub fn instance(mut l: LiveCompute, s: &str) -> LiveCompute {
    l.instance_state = Some(s.to_string());
    l
}

pub fn live_map(list: Vec<LiveCompute>) -> BTreeMap<String, Vec<LiveCompute>> {
    BTreeMap::from([("dev".to_string(), list)])
}

/// Plans targets against live computes, all in workspace `dev` (prune as given).
pub fn run(targets: &[Target], live: Vec<LiveCompute>, prune: bool, opts: &PlanOptions) -> Plan {
    amlctl_plan::plan(
        targets,
        &workspaces(&[ws("dev", prune)]),
        &live_map(live),
        opts,
    )
}

pub fn plan1(t: Target, l: Option<LiveCompute>) -> Plan {
    run(
        &[t],
        l.into_iter().collect(),
        false,
        &PlanOptions::default(),
    )
}

pub const SUBNET: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/default";
pub const VM_ID: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.Compute/virtualMachines/dsvm1";

pub fn aml_spec() -> Value {
    json!({
        "size": "Standard_DS3_v2",
        "tier": "low_priority",
        "min_instances": 0,
        "max_instances": 2,
        "idle_time_before_scale_down": 120,
        "network_settings": {"subnet": SUBNET},
        "location": "eastus",
        "tags": {"team": "ml"},
        "description": "GPU cluster",
    })
}

pub fn ci_spec() -> Value {
    json!({
        "size": "Standard_DS3_v2",
        "create_on_behalf_of": {"user_tenant_id": "t", "user_object_id": "o"},
        "schedules": {"compute_start_stop": [{"action": "stop", "trigger": {"type": "cron", "expression": "0 18 * * *"}}]},
    })
}

pub fn vm_spec() -> Value {
    json!({
        "resource_id": VM_ID,
        "ssh_settings": {"admin_username": "azureuser", "admin_password": "<redacted>", "ssh_port": 22},
    })
}

pub fn vm_live_spec() -> Value {
    json!({
        "resource_id": VM_ID,
        "ssh_settings": {"admin_username": "azureuser", "ssh_port": 22},
    })
}
