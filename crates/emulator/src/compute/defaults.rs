//! Server-side defaults of a newly created compute, per compute type.

use serde_json::{Map, Value, json};

use super::node_counts;

/// Fills server-side defaults of `properties.properties` for a newly created compute.
pub(crate) fn fill_defaults(
    compute_type: &str,
    props: &mut Map<String, Value>,
    name: &str,
    location: &str,
    now: &str,
) {
    let inner_missing = !props.get("properties").is_some_and(Value::is_object);
    match compute_type {
        "AmlCompute" => {
            aml_compute_defaults(props, inner_missing);
        }
        "ComputeInstance" => {
            compute_instance_defaults(props, inner_missing, name, location, now);
        }
        "Kubernetes" => {
            if let Some(Value::Object(p)) = props.get_mut("properties") {
                default(p, "namespace", json!("default"));
                default(p, "extensionInstanceReleaseTrain", json!("stable"));
            }
        }
        "AKS" => {
            if let Some(Value::Object(p)) = props.get_mut("properties") {
                default(p, "clusterPurpose", json!("FastProd"));
                default(p, "loadBalancerType", json!("PublicIp"));
            }
        }
        "VirtualMachine" | "HDInsight" => {
            if let Some(Value::Object(p)) = props.get_mut("properties") {
                default(p, "sshPort", json!(22));
            }
        }
        _ => {}
    }
}

/// Defaults of an `AmlCompute`: VM settings, scale settings, SSH access, and no nodes yet.
fn aml_compute_defaults(props: &mut Map<String, Value>, inner_missing: bool) {
    if inner_missing {
        props.insert("properties".into(), json!({}));
    }
    let Some(Value::Object(p)) = props.get_mut("properties") else {
        return;
    };
    default(p, "osType", json!("Linux"));
    default(p, "vmSize", json!("STANDARD_DS3_V2"));
    default(p, "vmPriority", json!("Dedicated"));
    default(p, "isolatedNetwork", json!(false));
    default(p, "enableNodePublicIp", json!(true));
    default(p, "scaleSettings", json!({"maxNodeCount": 4}));
    if let Some(Value::Object(s)) = p.get_mut("scaleSettings") {
        default(s, "minNodeCount", json!(0));
        default(s, "nodeIdleTimeBeforeScaleDown", json!("PT2M"));
    }
    let has_subnet = p.get("subnet").is_some_and(|s| !s.is_null());
    let access = p
        .get("remoteLoginPortPublicAccess")
        .and_then(Value::as_str)
        .unwrap_or("NotSpecified");
    if access.eq_ignore_ascii_case("NotSpecified") {
        let resolved = if has_subnet { "Disabled" } else { "Enabled" };
        p.insert("remoteLoginPortPublicAccess".into(), json!(resolved));
    }
    // Unset until the create succeeds (the real create-PUT response has them `null`:
    // arm-recordings cli-ml-compute_aml [0]; left out here, since the spec does not
    // allow `null`); the planner reads a set transition time as "this cluster worked", so
    // a Failed one is a failed update, not a failed create.
    p.remove("allocationState");
    p.remove("allocationStateTransitionTime");
    p.insert("currentNodeCount".into(), json!(0));
    p.insert("targetNodeCount".into(), json!(0));
    p.insert("nodeStateCounts".into(), node_counts(0));
}

/// Defaults of a `ComputeInstance`: SSH settings, schedule ids, endpoints, and the `Creating`
/// state.
fn compute_instance_defaults(
    props: &mut Map<String, Value>,
    inner_missing: bool,
    name: &str,
    location: &str,
    now: &str,
) {
    if inner_missing {
        props.insert("properties".into(), json!({}));
    }
    let Some(Value::Object(p)) = props.get_mut("properties") else {
        return;
    };
    default(p, "applicationSharingPolicy", json!("Shared"));
    default(p, "computeInstanceAuthorizationType", json!("personal"));
    default(p, "enableNodePublicIp", json!(true));
    default(p, "sshSettings", json!({}));
    if let Some(Value::Object(ssh)) = p.get_mut("sshSettings") {
        default(ssh, "sshPublicAccess", json!("Disabled"));
        ssh.insert("adminUserName".into(), json!("azureuser"));
        ssh.insert("sshPort".into(), json!(4000));
    }
    if let Some(Value::Array(list)) = p
        .get_mut("schedules")
        .and_then(|s| s.get_mut("computeStartStop"))
    {
        for sched in list.iter_mut().filter_map(Value::as_object_mut) {
            default(sched, "id", json!(uuid::Uuid::new_v4().to_string()));
            sched.insert("provisioningStatus".into(), json!("Completed"));
        }
    }
    let host = format!(
        "{}.{}.instances.azureml.ms",
        name.to_ascii_lowercase(),
        location
    );
    p.insert(
        "osImageMetadata".into(),
        json!({"currentImageVersion": "25.10.01", "latestImageVersion": "25.10.01", "isLatestOsImageVersion": true}),
    );
    p.insert(
        "connectivityEndpoints".into(),
        json!({"publicIpAddress": "10.0.0.4", "privateIpAddress": "10.0.0.4"}),
    );
    p.insert(
        "applications".into(),
        json!([
            {"displayName": "Jupyter", "endpointUri": format!("https://{host}/tree/")},
            {"displayName": "Jupyter Lab", "endpointUri": format!("https://{host}/lab")}
        ]),
    );
    p.insert(
        "createdBy".into(),
        json!({"userName": "emulator-user", "userOrgId": "00000000-0000-0000-0000-000000000000", "userId": "00000000-0000-0000-0000-000000000000"}),
    );
    p.insert("state".into(), json!("Creating"));
    p.insert(
        "lastOperation".into(),
        json!({"operationName": "Create", "operationTime": now, "operationStatus": "InProgress", "operationTrigger": "User"}),
    );
    p.insert("versions".into(), json!({"runtime": "2.0.0"}));
    p.insert("dataDisks".into(), json!([]));
    p.insert("dataMounts".into(), json!([]));
}

fn default(m: &mut Map<String, Value>, k: &str, v: Value) {
    if m.get(k).is_none_or(Value::is_null) {
        m.insert(k.to_string(), v);
    }
}
