//! Realistic response bodies: what the real service answers, per api-version, as the
//! recordings in `tests/recordings/` show (see the emulator README's rules). The stored
//! resource is the emulator's model (server defaults filled); these functions turn it into
//! the GET/list body, the PUT response (built from what the PUT sent, unsent fields `null`)
//! and the PATCH response.

use serde_json::{Map, Value, json};

use crate::compute;
use crate::config::Quirks;

/// How a response is rendered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape<'a> {
    /// The api-version of the request.
    pub version: &'a str,
    /// Quirks to apply.
    pub quirks: &'a Quirks,
    /// The old, lenient rendering (every stored property echoed).
    pub lenient: bool,
}

/// The `YYYY-MM-DD` part of an api-version.
fn date(version: &str) -> &str {
    version.get(..10).unwrap_or(version)
}

/// Whether `version` is at or after `day` (`YYYY-MM-DD`).
pub(crate) fn since(version: &str, day: &str) -> bool {
    date(version) >= day
}

/// The compute-instance flags each api-version returns (recordings README; 2025-12-01 and
/// 2026-09-01 from their specs).
fn ci_flags(version: &str) -> &'static [&'static str] {
    if since(version, "2026-09-01") {
        &["enableSSO"]
    } else if since(version, "2025-12-01") {
        &[]
    } else if since(version, "2024-04-01") {
        &["enableSSO", "enableOSPatching", "releaseQuotaOnStop"]
    } else if since(version, "2023-08-01") {
        &[
            "enableSSO",
            "enableRootAccess",
            "enableOSPatching",
            "releaseQuotaOnStop",
        ]
    } else {
        &[]
    }
}

/// Spec defaults of the compute-instance flags.
fn ci_flag_default(flag: &str) -> Value {
    json!(matches!(flag, "enableSSO" | "enableRootAccess"))
}

/// Whether `provisioningWarnings` and AmlCompute's `enableBatchPrivateLink` are returned: at
/// api-versions from 2023 (recorded at 2024-04-01; absent from every 2022-api-version
/// recording but one made in late 2023, see the README).
fn has_warnings(version: &str) -> bool {
    since(version, "2023-01-01")
}

/// Whether `idleTimeBeforeShutdown` exists at `version`.
fn has_idle_shutdown(version: &str) -> bool {
    (since(version, "2022-10-01") && !since(version, "2025-12-01")) || since(version, "2026-09-01")
}

fn get(m: &Map<String, Value>, k: &str) -> Value {
    m.get(k).cloned().unwrap_or(Value::Null)
}

fn or(v: Value, d: Value) -> Value {
    if v.is_null() { d } else { v }
}

fn upper(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(s.to_ascii_uppercase()),
        other => other,
    }
}

/// GET and list body of a stored compute.
pub(crate) fn get_view(resource: &Value, sh: &Shape, raw: bool) -> Value {
    if raw {
        return resource.clone();
    }
    let rendered = compute::render(resource, sh.quirks);
    if sh.lenient {
        return rendered;
    }
    let ctype = compute::compute_type_of(resource).unwrap_or_default();
    let empty = Map::new();
    let props = rendered["properties"].as_object().unwrap_or(&empty);
    let inner = props
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut p = envelope_props(props, &ctype, &rendered, false);
    p.insert(
        "computeLocation".into(),
        or(get(props, "computeLocation"), rendered["location"].clone()),
    );
    p.insert("provisioningState".into(), get(props, "provisioningState"));
    p.insert(
        "provisioningErrors".into(),
        get(props, "provisioningErrors"),
    );
    if has_warnings(sh.version) {
        p.insert("provisioningWarnings".into(), json!({}));
    }
    p.insert(
        "isAttachedCompute".into(),
        or(get(props, "isAttachedCompute"), json!(false)),
    );
    let inner = match ctype.as_str() {
        "AmlCompute" => aml_get(inner, sh),
        "ComputeInstance" => ci_get(inner, sh),
        _ => known_only(&ctype, inner),
    };
    p.insert("properties".into(), Value::Object(inner));
    top(&rendered, json!(p), or(rendered["tags"].clone(), json!({})))
}

/// The id, name, type, location, tags, identity (and sku) of a resource, with `properties`.
fn top(resource: &Value, props: Value, tags: Value) -> Value {
    let mut out = Map::new();
    for k in ["id", "name", "type", "location"] {
        out.insert(k.into(), resource[k].clone());
    }
    out.insert("tags".into(), tags);
    for k in ["identity", "sku"] {
        if let Some(v) = resource.get(k).filter(|v| !v.is_null()) {
            out.insert(k.into(), v.clone());
        }
    }
    out.insert("properties".into(), props);
    Value::Object(out)
}

/// The envelope properties every view starts with.
fn envelope_props(
    props: &Map<String, Value>,
    ctype: &str,
    resource: &Value,
    batch_ai_id: bool,
) -> Map<String, Value> {
    let mut p = Map::new();
    p.insert("createdOn".into(), get(props, "createdOn"));
    p.insert("modifiedOn".into(), get(props, "modifiedOn"));
    p.insert(
        "disableLocalAuth".into(),
        or(get(props, "disableLocalAuth"), json!(false)),
    );
    p.insert("description".into(), get(props, "description"));
    let rid = if matches!(ctype, "AmlCompute" | "ComputeInstance") {
        if batch_ai_id && ctype == "AmlCompute" {
            json!(batch_ai_cluster_id(
                resource["id"].as_str().unwrap_or_default()
            ))
        } else {
            Value::Null
        }
    } else {
        get(props, "resourceId")
    };
    p.insert("resourceId".into(), rid);
    p.insert("computeType".into(), json!(ctype));
    p
}

/// The internal BatchAI cluster id update responses carry for an AmlCompute.
fn batch_ai_cluster_id(id: &str) -> String {
    let lower = id.to_ascii_lowercase();
    match (
        lower.find("/providers/microsoft.machinelearningservices/workspaces/"),
        lower.rfind("/computes/"),
    ) {
        (Some(i), Some(j)) if j > i => {
            let ws_start = i + "/providers/microsoft.machinelearningservices/workspaces/".len();
            format!(
                "{}/providers/Microsoft.BatchAI/workspaces/{}/clusters/{}",
                &id[..i],
                &id[ws_start..j],
                &id[j + "/computes/".len()..]
            )
        }
        _ => String::new(),
    }
}

/// AmlCompute GET properties: server defaults filled, recorded key set.
fn aml_get(inner: &Map<String, Value>, sh: &Shape) -> Map<String, Value> {
    let mut o = Map::new();
    let size = get(inner, "vmSize");
    let size = if sh.quirks.upper_vm_size || !since(sh.version, "2023-10-01") {
        upper(size)
    } else {
        size
    };
    o.insert("vmSize".into(), size);
    o.insert("vmPriority".into(), get(inner, "vmPriority"));
    o.insert("scaleSettings".into(), get(inner, "scaleSettings"));
    if let Some(Value::Object(c)) = inner.get("userAccountCredentials") {
        let mut c = c.clone();
        c.insert("adminUserPassword".into(), Value::Null);
        o.insert("userAccountCredentials".into(), Value::Object(c));
    }
    for k in [
        "subnet",
        "currentNodeCount",
        "targetNodeCount",
        "nodeStateCounts",
        "allocationState",
        "allocationStateTransitionTime",
        "errors",
        "remoteLoginPortPublicAccess",
        "osType",
        "virtualMachineImage",
        "isolatedNetwork",
        "enableNodePublicIp",
    ] {
        o.insert(k.into(), get(inner, k));
    }
    if has_warnings(sh.version) {
        o.insert(
            "enableBatchPrivateLink".into(),
            or(get(inner, "enableBatchPrivateLink"), json!(false)),
        );
    }
    o.insert(
        "propertyBag".into(),
        or(get(inner, "propertyBag"), json!({})),
    );
    o
}

/// Compute-instance GET properties, per api-version.
fn ci_get(inner: &Map<String, Value>, sh: &Shape) -> Map<String, Value> {
    let v = sh.version;
    let mut o = Map::new();
    let size = get(inner, "vmSize");
    let size = if sh.quirks.upper_vm_size || !since(v, "2023-10-01") {
        upper(size)
    } else {
        size
    };
    o.insert("vmSize".into(), size);
    o.insert("subnet".into(), get(inner, "subnet"));
    let mut ssh = inner
        .get("sshSettings")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let key = if since(v, "2023-01-01") {
        get(&ssh, "adminPublicKey")
    } else {
        Value::Null
    };
    ssh.insert("adminPublicKey".into(), key);
    o.insert("sshSettings".into(), Value::Object(ssh));
    o.insert("autologgerSettings".into(), Value::Null);
    o.insert("errors".into(), or(get(inner, "errors"), json!([])));
    for k in [
        "connectivityEndpoints",
        "applications",
        "state",
        "lastOperation",
    ] {
        o.insert(k.into(), get(inner, k));
    }
    o.insert("createdBy".into(), created_by(inner));
    o.insert(
        "applicationSharingPolicy".into(),
        get(inner, "applicationSharingPolicy"),
    );
    let auth = if since(v, "2024-04-01") && !since(v, "2025-12-01") {
        Value::Null
    } else {
        get(inner, "computeInstanceAuthorizationType")
    };
    o.insert("computeInstanceAuthorizationType".into(), auth);
    for f in ci_flags(v) {
        o.insert((*f).into(), or(get(inner, f), ci_flag_default(f)));
    }
    o.insert(
        "personalComputeInstanceSettings".into(),
        get(inner, "personalComputeInstanceSettings"),
    );
    o.insert("setupScripts".into(), get(inner, "setupScripts"));
    if has_idle_shutdown(v)
        && inner
            .get("idleTimeBeforeShutdown")
            .is_some_and(|x| !x.is_null())
    {
        o.insert(
            "idleTimeBeforeShutdown".into(),
            get(inner, "idleTimeBeforeShutdown"),
        );
    }
    let creating = inner.get("state").and_then(Value::as_str) == Some("Creating");
    if !creating {
        o.insert("schedules".into(), schedules_view(inner.get("schedules")));
    }
    if since(v, "2023-01-01") {
        o.insert(
            "enableNodePublicIp".into(),
            get(inner, "enableNodePublicIp"),
        );
    }
    for k in ["dataMounts", "dataDisks"] {
        let val = get(inner, k);
        let empty = val.as_array().is_some_and(Vec::is_empty);
        o.insert(k.into(), if empty { Value::Null } else { val });
    }
    o.insert("containers".into(), Value::Null);
    o.insert("updateStatus".into(), Value::Null);
    o.insert("versions".into(), get(inner, "versions"));
    o.insert(
        "customServices".into(),
        or(get(inner, "customServices"), json!([])),
    );
    o.insert("osImageMetadata".into(), get(inner, "osImageMetadata"));
    o
}

/// `createdBy` as the service shows it (`userOrgId`, `userId`).
fn created_by(inner: &Map<String, Value>) -> Value {
    match inner.get("createdBy") {
        Some(Value::Object(c)) => {
            // `userName` is in the spec's example but in no recording.
            let mut o = Map::new();
            for k in ["userOrgId", "userId"] {
                if let Some(v) = c.get(k) {
                    o.insert(k.into(), v.clone());
                }
            }
            Value::Object(o)
        }
        _ => Value::Null,
    }
}

/// Upper-cases the first letter (`stop` → `Stop`).
fn pascal(v: &Value) -> Value {
    match v.as_str() {
        Some(s) => {
            let mut c = s.chars();
            match c.next() {
                Some(f) => json!(format!("{}{}", f.to_ascii_uppercase(), c.as_str())),
                None => v.clone(),
            }
        }
        None => v.clone(),
    }
}

/// Schedules as the service returns them: PascalCased enums, the unused trigger `null`.
fn schedules_view(s: Option<&Value>) -> Value {
    let list = s
        .and_then(|s| s.get("computeStartStop"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // The service reorders: Start schedules before Stop ones (cli-ml-compute_instance_with_schedules
    // [1] → [7]; an assumption that the order is by action).
    let mut list = list;
    list.sort_by_key(|s| {
        s.get("action")
            .and_then(Value::as_str)
            .is_some_and(|a| a.eq_ignore_ascii_case("stop"))
    });
    let items: Vec<Value> = list
        .iter()
        .map(|item| {
            let Some(m) = item.as_object() else {
                return item.clone();
            };
            let mut o = m.clone();
            for k in ["action", "triggerType"] {
                if let Some(v) = m.get(k) {
                    o.insert(k.into(), pascal(v));
                }
            }
            if let Some(Value::Object(r)) = o.get_mut("recurrence") {
                if let Some(f) = r.get("frequency").cloned() {
                    r.insert("frequency".into(), pascal(&f));
                }
                if let Some(Value::Object(sch)) = r.get_mut("schedule")
                    && let Some(Value::Array(days)) = sch.get_mut("weekDays")
                {
                    for d in days.iter_mut() {
                        *d = pascal(d);
                    }
                }
            }
            for k in ["cron", "recurrence"] {
                o.entry(k).or_insert(Value::Null);
            }
            Value::Object(o)
        })
        .collect();
    json!({ "computeStartStop": items })
}

/// The stored properties the spec defines for the type (others dropped).
fn known_only(ctype: &str, inner: &Map<String, Value>) -> Map<String, Value> {
    match crate::schema::known_properties(ctype) {
        Some(known) => inner
            .iter()
            .filter(|(k, _)| known.iter().any(|n| n == *k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        None => inner.clone(),
    }
}

/// The answer to a PUT: the sent properties over the recorded key set, unsent fields `null`,
/// `provisioningState: "Creating"` (also for an update), no credentials; `computeLocation` and
/// `tags: {}` only for an update. `sent` is `properties` as the PUT sent them.
pub(crate) fn put_view(resource: &Value, sent: &Value, update: bool, sh: &Shape) -> Value {
    let rendered = compute::render(resource, sh.quirks);
    if sh.lenient {
        return rendered;
    }
    write_view(&rendered, sent, update, "Creating", Value::Null, sh)
}

/// The answer to a PATCH: like an update PUT's, `provisioningState: "Updating"`.
pub(crate) fn patch_view(resource: &Value, sent: &Value, sh: &Shape) -> Value {
    let rendered = compute::render(resource, sh.quirks);
    if sh.lenient {
        return rendered;
    }
    write_view(&rendered, sent, true, "Updating", json!({}), sh)
}

fn write_view(
    rendered: &Value,
    sent: &Value,
    update: bool,
    state: &str,
    warnings: Value,
    sh: &Shape,
) -> Value {
    let ctype = compute::compute_type_of(rendered).unwrap_or_default();
    let empty = Map::new();
    let props = rendered["properties"].as_object().unwrap_or(&empty);
    let sent_props = sent.as_object().unwrap_or(&empty);
    let stored_inner = props
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let s = sent_props
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut p = envelope_props(props, &ctype, rendered, update);
    p.insert("description".into(), get(sent_props, "description"));
    if update {
        p.insert(
            "computeLocation".into(),
            or(get(props, "computeLocation"), rendered["location"].clone()),
        );
    }
    p.insert("provisioningState".into(), json!(state));
    p.insert("provisioningErrors".into(), Value::Null);
    if has_warnings(sh.version) {
        p.insert("provisioningWarnings".into(), warnings);
    }
    p.insert(
        "isAttachedCompute".into(),
        or(get(props, "isAttachedCompute"), json!(false)),
    );
    let inner = match ctype.as_str() {
        "AmlCompute" => aml_put(s, stored_inner, update, sh),
        "ComputeInstance" => ci_put(s, stored_inner, sh),
        // No recording of other types: the stored properties (server defaults filled,
        // secrets removed by `render`) the spec defines.
        _ => known_only(&ctype, stored_inner),
    };
    p.insert("properties".into(), Value::Object(inner));
    let tags = match rendered.get("tags") {
        Some(t) if !t.is_null() => t.clone(),
        _ if update => json!({}),
        _ => Value::Null,
    };
    top(rendered, Value::Object(p), tags)
}

/// AmlCompute PUT/PATCH response properties.
fn aml_put(
    s: &Map<String, Value>,
    stored: &Map<String, Value>,
    update: bool,
    sh: &Shape,
) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("vmSize".into(), upper(get(s, "vmSize")));
    // An update answer shows the stored priority when the request did not send one (ps-New [3]).
    let priority = if update {
        or(get(s, "vmPriority"), get(stored, "vmPriority"))
    } else {
        get(s, "vmPriority")
    };
    o.insert("vmPriority".into(), priority);
    let scale = match s.get("scaleSettings") {
        Some(Value::Object(sc)) => json!({
            "maxNodeCount": get(sc, "maxNodeCount"),
            "minNodeCount": or(get(sc, "minNodeCount"), json!(0)),
            "nodeIdleTimeBeforeScaleDown": get(sc, "nodeIdleTimeBeforeScaleDown"),
        }),
        _ => Value::Null,
    };
    o.insert("scaleSettings".into(), scale);
    o.insert("subnet".into(), get(s, "subnet"));
    for k in [
        "currentNodeCount",
        "targetNodeCount",
        "nodeStateCounts",
        "allocationState",
        "errors",
    ] {
        o.insert(k.into(), Value::Null);
    }
    o.insert(
        "remoteLoginPortPublicAccess".into(),
        or(get(s, "remoteLoginPortPublicAccess"), json!("NotSpecified")),
    );
    o.insert("osType".into(), or(get(s, "osType"), json!("Linux")));
    o.insert("virtualMachineImage".into(), get(s, "virtualMachineImage"));
    o.insert(
        "isolatedNetwork".into(),
        or(get(s, "isolatedNetwork"), json!(false)),
    );
    o.insert(
        "enableNodePublicIp".into(),
        or(get(s, "enableNodePublicIp"), json!(true)),
    );
    if has_warnings(sh.version) {
        o.insert("enableBatchPrivateLink".into(), json!(false));
    }
    o
}

/// Compute-instance PUT response properties.
fn ci_put(s: &Map<String, Value>, stored: &Map<String, Value>, sh: &Shape) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("vmSize".into(), upper(get(s, "vmSize")));
    o.insert("subnet".into(), get(s, "subnet"));
    for k in [
        "sshSettings",
        "autologgerSettings",
        "errors",
        "connectivityEndpoints",
        "applications",
        "state",
        "lastOperation",
    ] {
        o.insert(k.into(), Value::Null);
    }
    o.insert("createdBy".into(), created_by(stored));
    o.insert("applicationSharingPolicy".into(), Value::Null);
    o.insert(
        "computeInstanceAuthorizationType".into(),
        or(
            get(s, "computeInstanceAuthorizationType"),
            json!("personal"),
        ),
    );
    for f in ci_flags(sh.version) {
        o.insert((*f).into(), or(get(s, f), ci_flag_default(f)));
    }
    o.insert(
        "personalComputeInstanceSettings".into(),
        get(s, "personalComputeInstanceSettings"),
    );
    o.insert("setupScripts".into(), get(s, "setupScripts"));
    // Echoed only when sent (py-aiml-ci_stop_start_restart [1] vs
    // cli-ml-compute_instance_with_schedules [1]).
    if let Some(v) = s.get("enableNodePublicIp") {
        o.insert("enableNodePublicIp".into(), v.clone());
    }
    for k in [
        "dataMounts",
        "dataDisks",
        "containers",
        "updateStatus",
        "versions",
    ] {
        o.insert(k.into(), Value::Null);
    }
    o.insert("customServices".into(), get(s, "customServices"));
    o.insert("osImageMetadata".into(), Value::Null);
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_ids() {
        assert!(since("2024-04-01-preview", "2024-04-01"));
        assert!(!since("2022-10-01-preview", "2023-01-01"));
        assert_eq!(ci_flags("2022-10-01-preview").len(), 0);
        assert_eq!(ci_flags("2023-08-01-preview").len(), 4);
        assert!(!ci_flags("2024-04-01").contains(&"enableRootAccess"));
        assert_eq!(
            batch_ai_cluster_id(
                "/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w/computes/c"
            ),
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.BatchAI/workspaces/w/clusters/c"
        );
    }
}
