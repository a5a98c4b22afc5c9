//! `type: computeinstance` (ARM `ComputeInstance`), with its schedules and custom applications.
//!
//! Its `to_arm` and `from_arm` sit side by side: a change to one needs the other.

use serde_json::{Map, Value, json};

use super::{Builder, DEFAULT_VM_SIZE, P, Reader, nonempty, put};
use crate::codec::{parse_iso_duration, snake_to_pascal};

/// Fills `properties` (and `properties.properties`) of the PUT body from the manifest.
pub(super) fn to_arm(b: &mut Builder, outer: &mut Map<String, Value>) {
    let mut props = Map::new();
    props.insert(
        "vmSize".into(),
        Value::String(b.str("size").unwrap_or_else(|| DEFAULT_VM_SIZE.into())),
    );
    if let Some(s) = b.str("network_settings.subnet") {
        props.insert("subnet".into(), json!({ "id": s }));
    }
    if let Some(u) = b.get("create_on_behalf_of") {
        props.insert(
            "personalComputeInstanceSettings".into(),
            json!({"assignedUser": {
                "objectId": u.get("user_object_id").cloned().unwrap_or(Value::Null),
                "tenantId": u.get("user_tenant_id").cloned().unwrap_or(Value::Null),
            }}),
        );
    }
    let public = b.bool("ssh_public_access_enabled");
    let has_ssh = public.is_some() || b.get("ssh_settings").is_some();
    if has_ssh {
        let mut ssh = Map::new();
        ssh.insert(
            "sshPublicAccess".into(),
            Value::String(
                if public == Some(true) {
                    "Enabled"
                } else {
                    "Disabled"
                }
                .into(),
            ),
        );
        put(
            &mut ssh,
            "adminPublicKey",
            b.str("ssh_settings.ssh_key_value").map(Value::String),
        );
        props.insert("sshSettings".into(), Value::Object(ssh));
    }
    if let Some(m) = b.int("idle_time_before_shutdown_minutes") {
        props.insert(
            "idleTimeBeforeShutdown".into(),
            Value::String(format!("PT{m}M")),
        );
    }
    if let Some(list) = b
        .get("schedules.compute_start_stop")
        .and_then(Value::as_array)
    {
        let out: Vec<Value> = list.iter().map(schedule_to_arm).collect();
        props.insert("schedules".into(), json!({ "computeStartStop": out }));
    }
    if let Some(ss) = b.get("setup_scripts") {
        let mut scripts = Map::new();
        for (y, a) in [
            ("creation_script", "creationScript"),
            ("startup_script", "startupScript"),
        ] {
            if let Some(s) = ss.get(y) {
                let mut o = Map::new();
                o.insert(
                    "scriptSource".into(),
                    Value::String("workspaceStorage".into()),
                );
                put(&mut o, "scriptData", s.get("path").cloned());
                put(&mut o, "scriptArguments", s.get("command").cloned());
                put(
                    &mut o,
                    "timeout",
                    s.get("timeout_minutes")
                        .and_then(Value::as_i64)
                        .map(|m| Value::String(format!("{m}m"))),
                );
                scripts.insert(a.into(), Value::Object(o));
            }
        }
        props.insert("setupScripts".into(), json!({ "scripts": scripts }));
    }
    if let Some(apps) = b.get("custom_applications").and_then(Value::as_array) {
        let out: Vec<Value> = apps.iter().map(app_to_arm).collect();
        props.insert("customServices".into(), Value::Array(out));
    }
    props.insert(
        "enableNodePublicIp".into(),
        Value::Bool(b.bool("enable_node_public_ip").unwrap_or(true)),
    );
    props.insert(
        "enableSSO".into(),
        Value::Bool(b.bool("enable_sso").unwrap_or(true)),
    );
    props.insert(
        "enableRootAccess".into(),
        Value::Bool(b.bool("enable_root_access").unwrap_or(true)),
    );
    props.insert(
        "releaseQuotaOnStop".into(),
        Value::Bool(b.bool("release_quota_on_stop").unwrap_or(false)),
    );
    props.insert(
        "enableOSPatching".into(),
        Value::Bool(b.bool("enable_os_patching").unwrap_or(false)),
    );
    props.insert(
        "applicationSharingPolicy".into(),
        Value::String("Shared".into()),
    );
    props.insert(
        "computeInstanceAuthorizationType".into(),
        Value::String("personal".into()),
    );
    outer.insert("properties".into(), Value::Object(props));
    outer.insert(
        "disableLocalAuth".into(),
        Value::Bool(if has_ssh { public != Some(true) } else { true }),
    );
}

/// Reads the type's own keys of a live resource into `spec`.
pub(super) fn from_arm(r: &Reader, spec: &mut Map<String, Value>) {
    let p = P;
    put(spec, "size", r.str(&format!("{p}.vmSize")));
    if let Some(id) = r.str(&format!("{p}.subnet.id")) {
        spec.insert("network_settings".into(), json!({ "subnet": id }));
    }
    let au = format!("{p}.personalComputeInstanceSettings.assignedUser");
    if r.at(&au).is_some() {
        let mut o = Map::new();
        put(&mut o, "user_tenant_id", r.str(&format!("{au}.tenantId")));
        put(&mut o, "user_object_id", r.str(&format!("{au}.objectId")));
        put(spec, "create_on_behalf_of", nonempty(o));
    }
    if let Some(s) = r
        .at(&format!("{p}.sshSettings.sshPublicAccess"))
        .and_then(Value::as_str)
    {
        spec.insert(
            "ssh_public_access_enabled".into(),
            Value::Bool(s.eq_ignore_ascii_case("enabled")),
        );
    }
    if let Some(k) = r.str(&format!("{p}.sshSettings.adminPublicKey")) {
        spec.insert("ssh_settings".into(), json!({ "ssh_key_value": k }));
    }
    if let Some(secs) = r
        .at(&format!("{p}.idleTimeBeforeShutdown"))
        .and_then(Value::as_str)
        .and_then(parse_iso_duration)
    {
        spec.insert(
            "idle_time_before_shutdown_minutes".into(),
            Value::from(secs / 60),
        );
    }
    if let Some(list) = r
        .at(&format!("{p}.schedules.computeStartStop"))
        .and_then(Value::as_array)
    {
        let v: Vec<Value> = list.iter().map(schedule_from_arm).collect();
        spec.insert("schedules".into(), json!({ "compute_start_stop": v }));
    }
    if let Some(sc) = r
        .at(&format!("{p}.setupScripts.scripts"))
        .and_then(Value::as_object)
    {
        let mut o = Map::new();
        for (a, y) in [
            ("creationScript", "creation_script"),
            ("startupScript", "startup_script"),
        ] {
            if let Some(s) = sc.get(a).filter(|v| v.is_object()) {
                let mut so = Map::new();
                put(
                    &mut so,
                    "path",
                    s.get("scriptData").filter(|v| v.is_string()).cloned(),
                );
                put(
                    &mut so,
                    "command",
                    s.get("scriptArguments").filter(|v| v.is_string()).cloned(),
                );
                put(
                    &mut so,
                    "timeout_minutes",
                    s.get("timeout")
                        .and_then(Value::as_str)
                        .and_then(|t| t.trim_end_matches('m').parse::<i64>().ok())
                        .map(Value::from),
                );
                o.insert(y.into(), Value::Object(so));
            }
        }
        put(spec, "setup_scripts", nonempty(o));
    }
    if let Some(apps) = r
        .at(&format!("{p}.customServices"))
        .and_then(Value::as_array)
    {
        let v: Vec<Value> = apps.iter().map(app_from_arm).collect();
        spec.insert("custom_applications".into(), Value::Array(v));
    }
    for (a, y) in [
        ("enableNodePublicIp", "enable_node_public_ip"),
        ("enableSSO", "enable_sso"),
        ("enableRootAccess", "enable_root_access"),
        ("releaseQuotaOnStop", "release_quota_on_stop"),
        ("enableOSPatching", "enable_os_patching"),
    ] {
        put(spec, y, r.bool(&format!("{p}.{a}")));
    }
}

fn schedule_to_arm(s: &Value) -> Value {
    let mut o = Map::new();
    put(&mut o, "action", s.get("action").cloned());
    let state = s.get("state").and_then(Value::as_str).unwrap_or("enabled");
    o.insert("status".into(), Value::String(snake_to_pascal(state)));
    let tr = s.get("trigger").cloned().unwrap_or(Value::Null);
    let ty = tr.get("type").and_then(Value::as_str).unwrap_or("cron");
    let trig_type = if ty == "recurrence" {
        "Recurrence"
    } else {
        "Cron"
    };
    o.insert("triggerType".into(), Value::String(trig_type.into()));
    let mut t = Map::new();
    if ty == "recurrence" {
        put(&mut t, "frequency", tr.get("frequency").cloned());
        put(&mut t, "interval", tr.get("interval").cloned());
        if let Some(p) = tr.get("schedule") {
            let mut sch = Map::new();
            put(&mut sch, "hours", p.get("hours").cloned());
            put(&mut sch, "minutes", p.get("minutes").cloned());
            put(&mut sch, "weekDays", p.get("week_days").cloned());
            t.insert("schedule".into(), Value::Object(sch));
        }
    } else {
        put(&mut t, "expression", tr.get("expression").cloned());
    }
    put(&mut t, "startTime", tr.get("start_time").cloned());
    put(&mut t, "timeZone", tr.get("time_zone").cloned());
    t.insert("triggerType".into(), Value::String(trig_type.into()));
    o.insert(
        if ty == "recurrence" {
            "recurrence"
        } else {
            "cron"
        }
        .into(),
        Value::Object(t),
    );
    Value::Object(o)
}

fn app_to_arm(a: &Value) -> Value {
    let mut o = Map::new();
    put(&mut o, "name", a.get("name").cloned());
    o.insert("type".into(), Value::String("docker".into()));
    if let Some(r) = a.get("image").and_then(|i| i.get("reference")) {
        o.insert("image".into(), json!({"type": "docker", "reference": r}));
    }
    if let Some(eps) = a.get("endpoints").and_then(Value::as_array) {
        let v: Vec<Value> = eps
            .iter()
            .map(|e| {
                json!({"name": "connect", "target": e.get("target"), "published": e.get("published"), "protocol": "http"})
            })
            .collect();
        o.insert("endpoints".into(), Value::Array(v));
    }
    if let Some(env) = a.get("environment_variables").and_then(Value::as_object) {
        let m: Map<String, Value> = env
            .iter()
            .map(|(k, v)| (k.clone(), json!({"type": "local", "value": v})))
            .collect();
        o.insert("environmentVariables".into(), Value::Object(m));
    }
    if let Some(bm) = a.get("bind_mounts").and_then(Value::as_array) {
        let v: Vec<Value> = bm
            .iter()
            .map(|m| json!({"type": "bind", "readOnly": false, "source": m.get("source"), "target": m.get("target")}))
            .collect();
        o.insert("volumes".into(), Value::Array(v));
    }
    o.insert("docker".into(), json!({"privileged": true}));
    Value::Object(o)
}

fn lower(v: Option<&Value>) -> Option<Value> {
    v.and_then(Value::as_str)
        .map(|s| Value::String(s.to_lowercase()))
}

fn schedule_from_arm(s: &Value) -> Value {
    let mut o = Map::new();
    put(&mut o, "action", lower(s.get("action")));
    o.insert(
        "state".into(),
        lower(s.get("status")).unwrap_or_else(|| Value::String("enabled".into())),
    );
    let tt = s
        .get("triggerType")
        .and_then(Value::as_str)
        .unwrap_or("Cron");
    let mut tr = Map::new();
    if tt.eq_ignore_ascii_case("recurrence") {
        tr.insert("type".into(), Value::String("recurrence".into()));
        let rc = s.get("recurrence").cloned().unwrap_or(Value::Null);
        put(&mut tr, "frequency", lower(rc.get("frequency")));
        put(
            &mut tr,
            "interval",
            rc.get("interval").filter(|v| v.is_i64()).cloned(),
        );
        if let Some(p) = rc.get("schedule").filter(|v| v.is_object()) {
            let mut sch = Map::new();
            put(
                &mut sch,
                "hours",
                p.get("hours").filter(|v| v.is_array()).cloned(),
            );
            put(
                &mut sch,
                "minutes",
                p.get("minutes").filter(|v| v.is_array()).cloned(),
            );
            if let Some(wd) = p.get("weekDays").and_then(Value::as_array) {
                let v: Vec<Value> = wd.iter().filter_map(|d| lower(Some(d))).collect();
                sch.insert("week_days".into(), Value::Array(v));
            }
            tr.insert("schedule".into(), Value::Object(sch));
        }
        put(
            &mut tr,
            "start_time",
            rc.get("startTime").filter(|v| v.is_string()).cloned(),
        );
        put(
            &mut tr,
            "time_zone",
            rc.get("timeZone").filter(|v| v.is_string()).cloned(),
        );
    } else {
        tr.insert("type".into(), Value::String("cron".into()));
        let c = s.get("cron").cloned().unwrap_or(Value::Null);
        put(
            &mut tr,
            "expression",
            c.get("expression").filter(|v| v.is_string()).cloned(),
        );
        put(
            &mut tr,
            "start_time",
            c.get("startTime").filter(|v| v.is_string()).cloned(),
        );
        put(
            &mut tr,
            "time_zone",
            c.get("timeZone").filter(|v| v.is_string()).cloned(),
        );
    }
    o.insert("trigger".into(), Value::Object(tr));
    Value::Object(o)
}

fn app_from_arm(a: &Value) -> Value {
    let mut o = Map::new();
    put(
        &mut o,
        "name",
        a.get("name").filter(|v| v.is_string()).cloned(),
    );
    o.insert(
        "type".into(),
        lower(a.get("type")).unwrap_or_else(|| Value::String("docker".into())),
    );
    if let Some(r) = a
        .get("image")
        .and_then(|i| i.get("reference"))
        .filter(|v| v.is_string())
    {
        o.insert("image".into(), json!({"type": "docker", "reference": r}));
    }
    if let Some(eps) = a.get("endpoints").and_then(Value::as_array) {
        let v: Vec<Value> = eps
            .iter()
            .map(|e| {
                let mut m = Map::new();
                put(
                    &mut m,
                    "target",
                    e.get("target").filter(|v| v.is_i64()).cloned(),
                );
                put(
                    &mut m,
                    "published",
                    e.get("published").filter(|v| v.is_i64()).cloned(),
                );
                Value::Object(m)
            })
            .collect();
        o.insert("endpoints".into(), Value::Array(v));
    }
    if let Some(env) = a.get("environmentVariables").and_then(Value::as_object) {
        let m: Map<String, Value> = env
            .iter()
            .filter_map(|(k, v)| {
                v.get("value")
                    .filter(|x| x.is_string())
                    .map(|x| (k.clone(), x.clone()))
            })
            .collect();
        o.insert("environment_variables".into(), Value::Object(m));
    }
    if let Some(vols) = a.get("volumes").and_then(Value::as_array) {
        let v: Vec<Value> = vols
            .iter()
            .map(|m| {
                let mut b = Map::new();
                put(
                    &mut b,
                    "source",
                    m.get("source").filter(|v| v.is_string()).cloned(),
                );
                put(
                    &mut b,
                    "target",
                    m.get("target").filter(|v| v.is_string()).cloned(),
                );
                Value::Object(b)
            })
            .collect();
        o.insert("bind_mounts".into(), Value::Array(v));
    }
    Value::Object(o)
}
