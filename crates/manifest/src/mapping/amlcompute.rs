//! `type: amlcompute` (ARM `AmlCompute`): a compute cluster.
//!
//! Its `to_arm` and `from_arm` sit side by side: a change to one needs the other.

use serde_json::{Map, Value, json};

use super::{Builder, DEFAULT_VM_SIZE, P, Reader, nonempty, put};
use crate::codec::{parse_iso_duration, pascal_to_snake, seconds_to_iso, snake_to_pascal};

/// Fills `properties` (and `properties.properties`) of the PUT body from the manifest.
pub(super) fn to_arm(b: &mut Builder, outer: &mut Map<String, Value>) {
    let mut props = Map::new();
    props.insert(
        "vmSize".into(),
        Value::String(b.str("size").unwrap_or_else(|| DEFAULT_VM_SIZE.into())),
    );
    put(
        &mut props,
        "vmPriority",
        b.str("tier").map(|t| Value::String(snake_to_pascal(&t))),
    );
    let mut creds = Map::new();
    put(
        &mut creds,
        "adminUserName",
        b.str("ssh_settings.admin_username").map(Value::String),
    );
    put(
        &mut creds,
        "adminUserPassword",
        b.secret(
            "ssh_settings.admin_password",
            "/properties/properties/userAccountCredentials/adminUserPassword",
        ),
    );
    put(
        &mut creds,
        "adminUserSshPublicKey",
        b.str("ssh_settings.ssh_key_value").map(Value::String),
    );
    if b.get("ssh_settings").is_some() {
        props.insert("userAccountCredentials".into(), Value::Object(creds));
    }
    let mut scale = Map::new();
    scale.insert(
        "maxNodeCount".into(),
        Value::from(b.int("max_instances").unwrap_or(4)),
    );
    scale.insert(
        "minNodeCount".into(),
        Value::from(b.int("min_instances").unwrap_or(0)),
    );
    let idle = b.int("idle_time_before_scale_down").unwrap_or(120);
    if idle != 0 {
        scale.insert(
            "nodeIdleTimeBeforeScaleDown".into(),
            Value::String(seconds_to_iso(idle)),
        );
    }
    props.insert("scaleSettings".into(), Value::Object(scale));
    if let Some(s) = b.str("network_settings.subnet") {
        props.insert("subnet".into(), json!({ "id": s }));
    }
    props.insert(
        "remoteLoginPortPublicAccess".into(),
        Value::String(
            match b.bool("ssh_public_access_enabled") {
                Some(true) => "Enabled",
                Some(false) => "Disabled",
                None => "NotSpecified",
            }
            .into(),
        ),
    );
    props.insert(
        "enableNodePublicIp".into(),
        Value::Bool(b.bool("enable_node_public_ip").unwrap_or(true)),
    );
    props.insert(
        "osType".into(),
        Value::String(
            b.str("os_type")
                .map_or_else(|| "Linux".to_string(), |o| snake_to_pascal(&o)),
        ),
    );
    if let Some(id) = b.str("virtual_machine_image") {
        props.insert("virtualMachineImage".into(), json!({ "id": id }));
    }
    outer.insert("properties".into(), Value::Object(props));
    outer.insert(
        "disableLocalAuth".into(),
        Value::Bool(b.get("ssh_settings").is_none()),
    );
}

/// Reads the type's own keys of a live resource into `spec`.
pub(super) fn from_arm(r: &Reader, spec: &mut Map<String, Value>) {
    let p = P;
    put(spec, "size", r.str(&format!("{p}.vmSize")));
    put(
        spec,
        "tier",
        r.at(&format!("{p}.vmPriority"))
            .and_then(Value::as_str)
            .map(|s| Value::String(pascal_to_snake(s))),
    );
    put(
        spec,
        "min_instances",
        r.int(&format!("{p}.scaleSettings.minNodeCount")),
    );
    put(
        spec,
        "max_instances",
        r.int(&format!("{p}.scaleSettings.maxNodeCount")),
    );
    if r.at(&format!("{p}.scaleSettings")).is_some() {
        let idle = r
            .at(&format!("{p}.scaleSettings.nodeIdleTimeBeforeScaleDown"))
            .and_then(Value::as_str)
            .and_then(parse_iso_duration)
            .unwrap_or(0);
        spec.insert("idle_time_before_scale_down".into(), Value::from(idle));
    }
    match r
        .at(&format!("{p}.remoteLoginPortPublicAccess"))
        .and_then(Value::as_str)
    {
        Some(s) if s.eq_ignore_ascii_case("enabled") => {
            spec.insert("ssh_public_access_enabled".into(), Value::Bool(true));
        }
        Some(s) if s.eq_ignore_ascii_case("disabled") => {
            spec.insert("ssh_public_access_enabled".into(), Value::Bool(false));
        }
        _ => {}
    }
    let mut ssh = Map::new();
    put(
        &mut ssh,
        "admin_username",
        r.str(&format!("{p}.userAccountCredentials.adminUserName")),
    );
    put(
        &mut ssh,
        "ssh_key_value",
        r.str(&format!("{p}.userAccountCredentials.adminUserSshPublicKey")),
    );
    put(spec, "ssh_settings", nonempty(ssh));
    if let Some(id) = r.str(&format!("{p}.subnet.id")) {
        spec.insert("network_settings".into(), json!({ "subnet": id }));
    }
    put(
        spec,
        "enable_node_public_ip",
        r.bool(&format!("{p}.enableNodePublicIp")),
    );
    put(
        spec,
        "os_type",
        r.at(&format!("{p}.osType"))
            .and_then(Value::as_str)
            .map(|s| Value::String(s.to_ascii_lowercase())),
    );
    put(
        spec,
        "virtual_machine_image",
        r.str(&format!("{p}.virtualMachineImage.id")),
    );
}
