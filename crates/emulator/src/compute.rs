//! Compute-type knowledge: names, validation, server-side defaults, secrets, quirks.

use serde_json::{Map, Value, json};

use crate::config::Quirks;
use crate::error::ApiError;

mod defaults;

pub(crate) use defaults::fill_defaults;

/// Compute types served on every api-version except 2020-02-02.
pub(crate) const COMPUTE_TYPES: [&str; 10] = [
    "AmlCompute",
    "ComputeInstance",
    "VirtualMachine",
    "HDInsight",
    "Databricks",
    "DataLakeAnalytics",
    "AKS",
    "Kubernetes",
    "SynapseSpark",
    "DataFactory",
];

/// Canonical spelling of a compute type (case-insensitive), including legacy `Batch`.
pub(crate) fn canonical_type(t: &str) -> Option<&'static str> {
    COMPUTE_TYPES
        .iter()
        .copied()
        .chain(std::iter::once("Batch"))
        .find(|c| c.eq_ignore_ascii_case(t))
}

/// Types that must name an existing underlying resource in `properties.resourceId`
/// (AmlCompute/ComputeInstance never do; AKS and DataFactory may be created without one).
pub(crate) fn requires_resource_id(t: &str) -> bool {
    !matches!(t, "AmlCompute" | "ComputeInstance" | "AKS" | "DataFactory")
}

/// Validates a compute name: 3–32 chars, letters/digits/`-`, starting with a letter, not ending
/// with `-`; compute instances: at most 24 chars and not ending in `-<digits>`.
pub(crate) fn validate_name(name: &str, compute_type: &str) -> Result<(), ApiError> {
    let bytes = name.as_bytes();
    let ok_chars = bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'-');
    let starts = bytes.first().is_some_and(|b| b.is_ascii_alphabetic());
    let ends = bytes.last().is_some_and(|b| b.is_ascii_alphanumeric());
    let mut ok = ok_chars && starts && ends && (3..=32).contains(&bytes.len());
    if compute_type == "ComputeInstance" {
        let ends_dash_digits = name
            .rsplit_once('-')
            .is_some_and(|(_, tail)| !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()));
        ok = ok && bytes.len() <= 24 && !ends_dash_digits;
    }
    if ok {
        return Ok(());
    }
    let msg = if compute_type == "ComputeInstance" {
        format!(
            "Compute name '{name}' is not available. Reason: Invalid. A name for an Azure ML Compute Instance must be between 3 and 24 characters in length and must use only numbers, letters and minus symbol (-), must start with letters. Numbers cannot be the ending of the name if the previous character is a minus symbol (-)."
        )
    } else {
        format!(
            "Compute name '{name}' is not available. Reason: Invalid. A compute name must be between 3 and 32 characters in length, use only letters, numbers and minus symbol (-), start with a letter and end with a letter or number."
        )
    };
    Err(ApiError::bad_request("InvalidComputeName", msg).target("computeName"))
}

/// Server-owned fields of `properties.properties` (read-only in the spec).
pub(crate) const SERVER_OWNED: &[&str] = &[
    "allocationState",
    "allocationStateTransitionTime",
    "errors",
    "currentNodeCount",
    "targetNodeCount",
    "nodeStateCounts",
    "osImageMetadata",
    "connectivityEndpoints",
    "applications",
    "createdBy",
    "state",
    "lastOperation",
    "containers",
    "dataDisks",
    "dataMounts",
    "versions",
    "systemServices",
];

/// Server-owned fields removed from client input (ARM ignores read-only properties).
pub(crate) fn strip_read_only(props: &mut Map<String, Value>) {
    for k in [
        "provisioningState",
        "createdOn",
        "modifiedOn",
        "provisioningErrors",
        "isAttachedCompute",
    ] {
        props.remove(k);
    }
    let Some(Value::Object(inner)) = props.get_mut("properties") else {
        return;
    };
    for k in SERVER_OWNED {
        inner.remove(*k);
    }
    if let Some(Value::Object(ssh)) = inner.get_mut("sshSettings") {
        ssh.remove("adminUserName");
        ssh.remove("sshPort");
    }
}

/// JSON pointers (relative to `properties.properties`) of secrets per compute type.
pub(crate) fn secret_paths(compute_type: &str) -> &'static [&'static [&'static str]] {
    match compute_type {
        "AmlCompute" => &[&["userAccountCredentials", "adminUserPassword"]],
        "VirtualMachine" | "HDInsight" => &[
            &["administratorAccount", "password"],
            &["administratorAccount", "privateKeyData"],
        ],
        "Databricks" => &[&["databricksAccessToken"]],
        "Kubernetes" => &[&["relayConnectionString"], &["serviceBusConnectionString"]],
        "AKS" => &[&["sslConfiguration", "cert"], &["sslConfiguration", "key"]],
        _ => &[],
    }
}

fn get_path<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |acc, k| acc.get(*k))
}

fn remove_path(v: &mut Value, path: &[&str]) {
    let Some((last, init)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for k in init {
        match cur.get_mut(*k) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Value::Object(m) = cur {
        m.remove(*last);
    }
}

/// The resource as returned by GET/list: secrets stripped, quirks applied.
pub(crate) fn render(resource: &Value, quirks: &Quirks) -> Value {
    let mut out = resource.clone();
    let ctype = compute_type_of(resource).unwrap_or_default();
    if let Some(inner) = out
        .get_mut("properties")
        .and_then(|p| p.get_mut("properties"))
    {
        for path in secret_paths(&ctype) {
            remove_path(inner, path);
        }
        if quirks.upper_vm_size {
            for key in ["vmSize", "virtualMachineSize", "agentVmSize", "nodeSize"] {
                if let Some(Value::String(s)) = inner.get_mut(key) {
                    *s = s.to_ascii_uppercase();
                }
            }
        }
        if quirks.vnet_casing {
            for path in [
                &["subnet", "id"][..],
                &["aksNetworkingConfiguration", "subnetId"][..],
            ] {
                if let Some(Value::String(s)) = get_path_mut(inner, path) {
                    *s = vnet_case(s);
                }
            }
        }
        if quirks.duration_format
            && let Some(Value::String(s)) =
                get_path_mut(inner, &["scaleSettings", "nodeIdleTimeBeforeScaleDown"])
            && let Some(n) = normalize_duration(s)
        {
            *s = n;
        }
    }
    if quirks.location_case
        && let Some(Value::String(l)) = out.get_mut("location")
    {
        *l = l.to_ascii_uppercase();
    }
    out
}

fn get_path_mut<'a>(v: &'a mut Value, path: &[&str]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |acc, k| acc.get_mut(*k))
}

/// `/virtualNetworks/` → `/VirtualNetworks/`, whatever the input case.
fn vnet_case(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    match lower.find("/virtualnetworks/") {
        Some(i) => format!(
            "{}/VirtualNetworks/{}",
            &s[..i],
            &s[i + "/virtualnetworks/".len()..]
        ),
        None => s.to_string(),
    }
}

/// Parses a simple ISO 8601 time duration (`PT#H#M#S`, also `P#D`) into seconds.
pub(crate) fn duration_seconds(s: &str) -> Option<u64> {
    let upper = s.to_ascii_uppercase();
    let rest = upper.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut total: u64 = 0;
    let mut parse = |part: &str, units: &[(char, u64)]| -> Option<()> {
        let mut num = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() {
                num.push(c);
            } else {
                let mult = units.iter().find(|(u, _)| *u == c)?.1;
                let n: u64 = num.parse().ok()?;
                total = total.checked_add(n.checked_mul(mult)?)?;
                num.clear();
            }
        }
        num.is_empty().then_some(())
    };
    parse(date, &[('D', 86_400), ('W', 604_800)])?;
    parse(time, &[('H', 3600), ('M', 60), ('S', 1)])?;
    if date.is_empty() && time.is_empty() {
        return None;
    }
    Some(total)
}

/// Re-formats a duration the way the service does: `PT120S` → `PT2M`, `PT90M` → `PT1H30M`.
pub(crate) fn normalize_duration(s: &str) -> Option<String> {
    let secs = duration_seconds(s)?;
    if secs == 0 {
        return Some("PT0S".into());
    }
    let (h, m, sec) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let mut out = String::from("PT");
    if h > 0 {
        out.push_str(&format!("{h}H"));
    }
    if m > 0 {
        out.push_str(&format!("{m}M"));
    }
    if sec > 0 {
        out.push_str(&format!("{sec}S"));
    }
    Some(out)
}

/// Rejects values outside the spec's enums (compared case-insensitively, as the enums are
/// `modelAsString`); the value is kept as sent.
pub(crate) fn validate_enums(
    compute_type: &str,
    props: &Map<String, Value>,
) -> Result<(), ApiError> {
    let rules: &[(&[&str], &[&str])] = match compute_type {
        "AmlCompute" => &[
            (&["osType"], &["Linux", "Windows"]),
            (&["vmPriority"], &["Dedicated", "LowPriority"]),
            (
                &["remoteLoginPortPublicAccess"],
                &["Enabled", "Disabled", "NotSpecified"],
            ),
        ],
        "ComputeInstance" => &[
            (&["applicationSharingPolicy"], &["Personal", "Shared"]),
            (&["computeInstanceAuthorizationType"], &["personal"]),
            (
                &["sshSettings", "sshPublicAccess"],
                &["Enabled", "Disabled"],
            ),
        ],
        "AKS" => &[
            (&["clusterPurpose"], &["FastProd", "DenseProd", "DevTest"]),
            (&["loadBalancerType"], &["PublicIp", "InternalLoadBalancer"]),
            (
                &["sslConfiguration", "status"],
                &["Disabled", "Enabled", "Auto"],
            ),
        ],
        _ => &[],
    };
    let Some(inner) = props.get("properties") else {
        return Ok(());
    };
    for (path, allowed) in rules {
        let Some(v) = get_path(inner, path) else {
            continue;
        };
        if v.is_null() {
            continue;
        }
        let ok = v
            .as_str()
            .is_some_and(|s| allowed.iter().any(|a| a.eq_ignore_ascii_case(s)));
        if !ok {
            let field = format!("properties.properties.{}", path.join("."));
            return Err(ApiError::bad_request(
                "InvalidRequestContent",
                format!(
                    "{v} is not a valid value for '{field}'. Allowed values: {}.",
                    allowed.join(", ")
                ),
            )
            .target(field));
        }
    }
    Ok(())
}

/// `properties.computeType` of a stored resource.
pub(crate) fn compute_type_of(resource: &Value) -> Option<String> {
    resource
        .get("properties")?
        .get("computeType")?
        .as_str()
        .map(str::to_string)
}

/// Checks AmlCompute scale settings (`minNodeCount <= maxNodeCount`, non-negative, duration).
pub(crate) fn validate_scale_settings(s: &Value) -> Result<(), ApiError> {
    let Some(obj) = s.as_object() else {
        return Err(ApiError::bad_request(
            "InvalidRequestContent",
            "scaleSettings must be an object.",
        ));
    };
    let int = |k: &str| -> Result<Option<i64>, ApiError> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| {
                ApiError::bad_request(
                    "InvalidRequestContent",
                    format!("scaleSettings.{k} must be an integer."),
                )
            }),
        }
    };
    let max = int("maxNodeCount")?.ok_or_else(|| {
        ApiError::bad_request(
            "InvalidRequestContent",
            "scaleSettings.maxNodeCount is required.",
        )
        .target("properties.properties.scaleSettings.maxNodeCount")
    })?;
    let min = int("minNodeCount")?.unwrap_or(0);
    if min < 0 || max < 0 {
        return Err(ApiError::bad_request(
            "InvalidScaleSettings",
            "Node counts must not be negative.",
        ));
    }
    if min > max {
        return Err(ApiError::bad_request(
            "InvalidScaleSettings",
            format!("minNodeCount ({min}) must be less than or equal to maxNodeCount ({max})."),
        )
        .target("properties.properties.scaleSettings"));
    }
    if let Some(v) = obj.get("nodeIdleTimeBeforeScaleDown")
        && !v.is_null()
        && v.as_str().and_then(duration_seconds).is_none()
    {
        return Err(ApiError::bad_request(
            "InvalidScaleSettings",
            "nodeIdleTimeBeforeScaleDown must be an ISO 8601 duration such as PT5M.",
        ));
    }
    Ok(())
}

/// `nodeStateCounts` with `n` idle nodes.
pub(crate) fn node_counts(n: i64) -> Value {
    json!({
        "idleNodeCount": n, "runningNodeCount": 0, "preparingNodeCount": 0,
        "unusableNodeCount": 0, "leavingNodeCount": 0, "preemptedNodeCount": 0
    })
}

/// A field that cannot change on an existing compute, as (path under `properties`, label).
fn immutable_paths(compute_type: &str) -> &'static [&'static [&'static str]] {
    match compute_type {
        "AmlCompute" => &[
            &["properties", "vmSize"],
            &["properties", "vmPriority"],
            &["properties", "subnet", "id"],
            &["properties", "osType"],
            &["properties", "virtualMachineImage"],
            &["properties", "isolatedNetwork"],
            &["properties", "enableNodePublicIp"],
            &["computeLocation"],
            &["disableLocalAuth"],
        ],
        _ => &[&["computeLocation"], &["disableLocalAuth"]],
    }
}

fn norm(v: Option<&Value>) -> Option<Value> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(Value::String(s.to_ascii_lowercase())),
        Some(other) => Some(other.clone()),
    }
}

/// Compares a PUT over an existing compute: returns the ARM error if an immutable field
/// changes. `old`/`new` are the `properties` objects (new already defaulted).
pub(crate) fn check_immutable(
    compute_type: &str,
    old: &Value,
    new: &Value,
) -> Result<(), ApiError> {
    let fail = |field: String| {
        Err(ApiError::bad_request(
            "ComputeFieldImmutable",
            format!(
                "The property '{field}' of an existing compute cannot be changed. Delete the compute and create it again."
            ),
        )
        .target(field))
    };
    let old_type = old
        .get("computeType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !old_type.eq_ignore_ascii_case(compute_type) {
        return fail("properties.computeType".into());
    }
    if let (Some(a), Some(b)) = (
        old.get("resourceId").and_then(Value::as_str),
        new.get("resourceId").and_then(Value::as_str),
    ) && !crate::state::same_id(a, b)
    {
        return fail("properties.resourceId".into());
    }
    for path in immutable_paths(compute_type) {
        // Fields the client did not resend keep their stored value (server defaults).
        let Some(nv) = get_path(new, path) else {
            continue;
        };
        let mut ov = norm(get_path(old, path));
        if ov.is_none() && path == &["disableLocalAuth"] {
            // The server default, which GET shows.
            ov = Some(Value::Bool(false));
        }
        if ov != norm(Some(nv)) {
            return fail(format!("properties.{}", path.join(".")));
        }
    }
    if compute_type == "ComputeInstance" {
        // Every compute-instance setting is fixed at creation.
        let mut a = old.get("properties").cloned().unwrap_or(Value::Null);
        let mut b = new.get("properties").cloned().unwrap_or(Value::Null);
        for v in [&mut a, &mut b] {
            if let Value::Object(m) = v {
                m.remove("schedules");
            }
        }
        if let (Value::Object(am), Value::Object(bm)) = (&a, &b) {
            for (k, bv) in bm {
                if k == "sshSettings" {
                    if let (Some(ao), Some(bo)) =
                        (am.get(k).and_then(Value::as_object), bv.as_object())
                    {
                        for (sk, sv) in bo {
                            if norm(ao.get(sk)) != norm(Some(sv)) {
                                return fail(format!("properties.properties.sshSettings.{sk}"));
                            }
                        }
                    }
                    continue;
                }
                if norm(am.get(k)) != norm(Some(bv)) {
                    return fail(format!("properties.properties.{k}"));
                }
            }
        }
    }
    Ok(())
}

/// The `listKeys` body for a stored compute.
pub(crate) fn list_keys(resource: &Value, name: &str) -> Value {
    let ctype = compute_type_of(resource).unwrap_or_default();
    let inner = resource
        .get("properties")
        .and_then(|p| p.get("properties"))
        .cloned()
        .unwrap_or(Value::Null);
    let pick = |path: &[&str]| get_path(&inner, path).cloned().unwrap_or(Value::Null);
    match ctype.as_str() {
        "AKS" => json!({
            "computeType": "AKS",
            "userKubeConfig": kubeconfig(name, "clusterUser"),
            "adminKubeConfig": kubeconfig(name, "clusterAdmin"),
            "imagePullSecretName": format!("{}-acr-pull", name.to_ascii_lowercase()),
        }),
        "VirtualMachine" | "HDInsight" => json!({
            "computeType": ctype,
            "administratorAccount": {
                "username": pick(&["administratorAccount", "username"]),
                "password": pick(&["administratorAccount", "password"]),
                "publicKeyData": pick(&["administratorAccount", "publicKeyData"]),
                "privateKeyData": pick(&["administratorAccount", "privateKeyData"]),
            }
        }),
        "Databricks" => {
            json!({"computeType": "Databricks", "databricksAccessToken": pick(&["databricksAccessToken"])})
        }
        "Kubernetes" => json!({
            "computeType": "Kubernetes",
            "relayConnectionString": pick(&["relayConnectionString"]),
            "serviceBusConnectionString": pick(&["serviceBusConnectionString"]),
        }),
        "AmlCompute" => json!({
            "computeType": "AmlCompute",
            "userAccountCredentials": pick(&["userAccountCredentials"]),
        }),
        other => json!({"computeType": other}),
    }
}

fn kubeconfig(name: &str, user: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster:\n    server: https://{name}.hcp.emulator.azmk8s.io:443\ncontexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {user}_{name}\ncurrent-context: {name}\nusers:\n- name: {user}_{name}\n  user:\n    token: emulated\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(normalize_duration("PT120S").as_deref(), Some("PT2M"));
        assert_eq!(normalize_duration("PT90M").as_deref(), Some("PT1H30M"));
        assert_eq!(normalize_duration("P1D").as_deref(), Some("PT24H"));
        assert_eq!(duration_seconds("PT5M"), Some(300));
        assert_eq!(duration_seconds("5 minutes"), None);
        assert_eq!(duration_seconds("P"), None);
    }

    #[test]
    fn names() {
        assert!(validate_name("cpu-cluster", "AmlCompute").is_ok());
        assert!(validate_name("ab", "AmlCompute").is_err());
        assert!(validate_name("1abc", "AmlCompute").is_err());
        assert!(validate_name("abc_d", "AmlCompute").is_err());
        assert!(validate_name("ci-dev-01", "ComputeInstance").is_err());
        assert!(validate_name("ci-dev-01", "AmlCompute").is_ok());
        assert!(validate_name("a234567890123456789012345", "ComputeInstance").is_err());
    }

    #[test]
    fn vnet_quirk() {
        assert_eq!(
            vnet_case(
                "/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/v/subnets/d"
            ),
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/VirtualNetworks/v/subnets/d"
        );
    }
}
