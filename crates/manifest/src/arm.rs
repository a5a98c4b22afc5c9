//! The ARM mapping: [`Target::to_arm`] builds the PUT body azure-ai-ml 1.35.2 would build for the
//! same YAML; [`from_arm`] reads a live resource back into canonical manifest terms.

use serde_json::{Map, Value, json};

use crate::codec::{parse_iso_duration, pascal_to_snake, seconds_to_iso, snake_to_pascal};
use crate::model::{
    ArmBody, ComputeType, LiveCompute, OWNERSHIP_TAG, OWNERSHIP_TAG_VALUE, REDACTED, SecretSlot,
    Target, Workspace,
};

/// Default VM size azure-ai-ml sends when `size` is omitted.
pub const DEFAULT_VM_SIZE: &str = "STANDARD_DS3_V2";

struct Builder<'a> {
    spec: &'a Map<String, Value>,
    slots: Vec<SecretSlot>,
    target: &'a Target,
}

impl Builder<'_> {
    fn get(&self, path: &str) -> Option<&Value> {
        let mut cur: Option<&Value> = None;
        for (i, p) in path.split('.').enumerate() {
            cur = if i == 0 {
                self.spec.get(p)
            } else {
                cur?.get(p)
            };
        }
        cur
    }
    fn str(&self, path: &str) -> Option<String> {
        self.get(path).and_then(Value::as_str).map(str::to_string)
    }
    fn int(&self, path: &str) -> Option<i64> {
        self.get(path).and_then(Value::as_i64)
    }
    fn bool(&self, path: &str) -> Option<bool> {
        self.get(path).and_then(Value::as_bool)
    }
    /// A secret placeholder, recording where its value goes.
    fn secret(&mut self, key: &str, pointer: &str) -> Option<Value> {
        let r = self.target.secrets.get(key)?;
        self.slots.push(SecretSlot {
            pointer: pointer.to_string(),
            secret: r.clone(),
            key: Some(key.to_string()),
            location: self.target.key_locations.get(key).cloned(),
        });
        Some(Value::String(REDACTED.into()))
    }
}

fn put(obj: &mut Map<String, Value>, k: &str, v: Option<Value>) {
    if let Some(v) = v {
        obj.insert(k.to_string(), v);
    }
}

fn identity_to_arm(id: &Value) -> Value {
    let mut out = Map::new();
    let ty = id.get("type").and_then(Value::as_str).unwrap_or("none");
    out.insert("type".into(), Value::String(snake_to_pascal(ty)));
    if let Some(list) = id.get("user_assigned_identities").and_then(Value::as_array) {
        let mut m = Map::new();
        for u in list {
            if let Some(r) = u.get("resource_id").and_then(Value::as_str) {
                m.insert(r.to_string(), json!({}));
            }
        }
        out.insert("userAssignedIdentities".into(), Value::Object(m));
    }
    Value::Object(out)
}

impl Target {
    /// The ARM PUT body for this target in workspace `ws`: secrets as [`REDACTED`] with a
    /// [`SecretSlot`] each, and the [`OWNERSHIP_TAG`] added to `tags`.
    pub fn to_arm(&self, ws: &Workspace) -> ArmBody {
        let mut b = Builder {
            spec: &self.spec,
            slots: Vec::new(),
            target: self,
        };
        let t = self.compute_type;
        let mut props = Map::new(); // properties.properties
        let mut outer = Map::new(); // properties
        outer.insert("computeType".into(), Value::String(t.arm_name().into()));
        put(
            &mut outer,
            "description",
            b.str("description").map(Value::String),
        );
        let location = b.str("location").or_else(|| ws.location.clone());
        match t {
            ComputeType::AmlCompute => {
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
            ComputeType::ComputeInstance => {
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
            ComputeType::VirtualMachine | ComputeType::HdInsight => {
                props.insert(
                    "sshPort".into(),
                    Value::from(b.int("ssh_settings.ssh_port").unwrap_or(22)),
                );
                let mut acct = Map::new();
                put(
                    &mut acct,
                    "username",
                    b.str("ssh_settings.admin_username").map(Value::String),
                );
                put(
                    &mut acct,
                    "password",
                    b.secret(
                        "ssh_settings.admin_password",
                        "/properties/properties/administratorAccount/password",
                    ),
                );
                put(
                    &mut acct,
                    "privateKeyData",
                    b.secret(
                        "ssh_settings.ssh_private_key_file",
                        "/properties/properties/administratorAccount/privateKeyData",
                    ),
                );
                props.insert("administratorAccount".into(), Value::Object(acct));
                outer.insert("properties".into(), Value::Object(props));
                put(
                    &mut outer,
                    "resourceId",
                    b.str("resource_id").map(Value::String),
                );
            }
            ComputeType::Kubernetes => {
                put(
                    &mut outer,
                    "resourceId",
                    b.str("resource_id").map(Value::String),
                );
                if let Some(l) = &location {
                    outer.insert("computeLocation".into(), Value::String(l.clone()));
                }
                if let Some(Value::Object(extra)) = b.get("properties").cloned() {
                    for (k, v) in extra {
                        let val = if b.target.secrets.contains_key(&format!("properties.{k}")) {
                            let ptr = format!(
                                "/properties/properties/{}",
                                k.replace('~', "~0").replace('/', "~1")
                            );
                            b.secret(&format!("properties.{k}"), &ptr).unwrap_or(v)
                        } else {
                            v
                        };
                        props.insert(k, val);
                    }
                }
                props.insert(
                    "namespace".into(),
                    Value::String(b.str("namespace").unwrap_or_else(|| "default".into())),
                );
                outer.insert("properties".into(), Value::Object(props));
            }
            ComputeType::Databricks => {
                put(
                    &mut outer,
                    "resourceId",
                    b.str("resource_id").map(Value::String),
                );
                put(
                    &mut props,
                    "databricksAccessToken",
                    b.secret(
                        "access_token",
                        "/properties/properties/databricksAccessToken",
                    ),
                );
                put(
                    &mut props,
                    "workspaceUrl",
                    b.str("workspace_url").map(Value::String),
                );
                outer.insert("properties".into(), Value::Object(props));
            }
            ComputeType::DataLakeAnalytics => {
                put(
                    &mut outer,
                    "resourceId",
                    b.str("resource_id").map(Value::String),
                );
                if let Some(n) = b.str("data_lake_store_account_name") {
                    props.insert("dataLakeStoreAccountName".into(), Value::String(n));
                    outer.insert("properties".into(), Value::Object(props));
                }
            }
            ComputeType::Aks => {
                put(
                    &mut outer,
                    "resourceId",
                    b.str("resource_id").map(Value::String),
                );
                put(
                    &mut props,
                    "clusterFqdn",
                    b.str("cluster_fqdn").map(Value::String),
                );
                put(
                    &mut props,
                    "agentCount",
                    b.int("agent_count").map(Value::from),
                );
                put(
                    &mut props,
                    "agentVmSize",
                    b.str("agent_vm_size").map(Value::String),
                );
                put(
                    &mut props,
                    "clusterPurpose",
                    b.str("cluster_purpose")
                        .map(|s| Value::String(snake_to_pascal(&s))),
                );
                if b.get("ssl").is_some() {
                    let mut ssl = Map::new();
                    put(
                        &mut ssl,
                        "status",
                        b.str("ssl.status")
                            .map(|s| Value::String(snake_to_pascal(&s))),
                    );
                    put(
                        &mut ssl,
                        "cert",
                        b.secret("ssl.cert", "/properties/properties/sslConfiguration/cert"),
                    );
                    put(
                        &mut ssl,
                        "key",
                        b.secret("ssl.key", "/properties/properties/sslConfiguration/key"),
                    );
                    put(&mut ssl, "cname", b.str("ssl.cname").map(Value::String));
                    put(
                        &mut ssl,
                        "leafDomainLabel",
                        b.str("ssl.leaf_domain_label").map(Value::String),
                    );
                    put(
                        &mut ssl,
                        "overwriteExistingDomain",
                        b.bool("ssl.overwrite_existing_domain").map(Value::Bool),
                    );
                    props.insert("sslConfiguration".into(), Value::Object(ssl));
                }
                put(
                    &mut props,
                    "loadBalancerType",
                    b.str("load_balancer_type")
                        .map(|s| Value::String(snake_to_pascal(&s))),
                );
                put(
                    &mut props,
                    "loadBalancerSubnet",
                    b.str("load_balancer_subnet").map(Value::String),
                );
                if !props.is_empty() {
                    outer.insert("properties".into(), Value::Object(props));
                }
            }
            ComputeType::SynapseSpark | ComputeType::DataFactory | ComputeType::Batch => {
                put(
                    &mut outer,
                    "resourceId",
                    b.str("resource_id").map(Value::String),
                );
            }
        }
        let mut body = Map::new();
        if let Some(l) = location {
            body.insert("location".into(), Value::String(l));
        }
        body.insert("properties".into(), Value::Object(outer));
        if let Some(id) = b.get("identity") {
            body.insert("identity".into(), identity_to_arm(id));
        }
        let mut tags = b
            .get("tags")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        tags.insert(
            OWNERSHIP_TAG.into(),
            Value::String(OWNERSHIP_TAG_VALUE.into()),
        );
        body.insert("tags".into(), Value::Object(tags));
        ArmBody {
            body: Value::Object(body),
            secrets: b.slots,
            api_version: crate::fields::api_version_for(t, &self.spec)
                .version
                .to_string(),
        }
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

// ---------------------------------------------------------------------------------------------
// from_arm

struct Reader<'a>(&'a Value);

impl Reader<'_> {
    fn at(&self, path: &str) -> Option<&Value> {
        let mut cur = self.0;
        for p in path.split('.') {
            cur = cur.get(p)?;
        }
        (!cur.is_null()).then_some(cur)
    }
    fn str(&self, path: &str) -> Option<Value> {
        self.at(path)
            .and_then(Value::as_str)
            .map(|s| Value::String(s.to_string()))
    }
    fn int(&self, path: &str) -> Option<Value> {
        let v = self.at(path)?;
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .map(Value::from)
    }
    fn bool(&self, path: &str) -> Option<Value> {
        self.at(path).and_then(Value::as_bool).map(Value::Bool)
    }
}

fn nonempty(m: Map<String, Value>) -> Option<Value> {
    (!m.is_empty()).then_some(Value::Object(m))
}

/// Reads a live ARM compute resource into canonical manifest terms. Never panics, whatever the
/// JSON; `Err` only when the value is not a compute resource at all.
pub fn from_arm(resource: &Value) -> Result<LiveCompute, String> {
    let Some(obj) = resource.as_object() else {
        return Err("ARM compute resource is not a JSON object".into());
    };
    let name = obj
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| {
            obj.get("id")
                .and_then(Value::as_str)
                .and_then(|id| id.rsplit('/').next())
                .map(str::to_string)
        })
        .ok_or("ARM compute resource has neither name nor id")?;
    let r = Reader(resource);
    let ct_raw = r.at("properties.computeType").and_then(Value::as_str);
    let compute_type = ct_raw.and_then(ComputeType::from_arm);
    let mut spec = Map::new();
    put(&mut spec, "description", r.str("properties.description"));
    put(&mut spec, "location", r.str("location"));
    if let Some(tags) = r.at("tags").and_then(Value::as_object) {
        let mut t: Map<String, Value> = tags
            .iter()
            .filter(|(k, _)| k.as_str() != OWNERSHIP_TAG)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        t.sort_keys();
        spec.insert("tags".into(), Value::Object(t));
    }
    if let Some(id) = r.at("identity")
        && let Some(ty) = id.get("type").and_then(Value::as_str)
    {
        let mut o = Map::new();
        o.insert("type".into(), Value::String(pascal_to_snake(ty)));
        if let Some(u) = id.get("userAssignedIdentities").and_then(Value::as_object) {
            let list: Vec<Value> = u.keys().map(|k| json!({"resource_id": k})).collect();
            o.insert("user_assigned_identities".into(), Value::Array(list));
        }
        spec.insert("identity".into(), Value::Object(o));
    }
    let p = "properties.properties";
    match compute_type {
        Some(ComputeType::AmlCompute) => {
            put(&mut spec, "size", r.str(&format!("{p}.vmSize")));
            put(
                &mut spec,
                "tier",
                r.at(&format!("{p}.vmPriority"))
                    .and_then(Value::as_str)
                    .map(|s| Value::String(pascal_to_snake(s))),
            );
            put(
                &mut spec,
                "min_instances",
                r.int(&format!("{p}.scaleSettings.minNodeCount")),
            );
            put(
                &mut spec,
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
            put(&mut spec, "ssh_settings", nonempty(ssh));
            if let Some(id) = r.str(&format!("{p}.subnet.id")) {
                spec.insert("network_settings".into(), json!({ "subnet": id }));
            }
            put(
                &mut spec,
                "enable_node_public_ip",
                r.bool(&format!("{p}.enableNodePublicIp")),
            );
            put(
                &mut spec,
                "os_type",
                r.at(&format!("{p}.osType"))
                    .and_then(Value::as_str)
                    .map(|s| Value::String(s.to_ascii_lowercase())),
            );
            put(
                &mut spec,
                "virtual_machine_image",
                r.str(&format!("{p}.virtualMachineImage.id")),
            );
        }
        Some(ComputeType::ComputeInstance) => {
            put(&mut spec, "size", r.str(&format!("{p}.vmSize")));
            if let Some(id) = r.str(&format!("{p}.subnet.id")) {
                spec.insert("network_settings".into(), json!({ "subnet": id }));
            }
            let au = format!("{p}.personalComputeInstanceSettings.assignedUser");
            if r.at(&au).is_some() {
                let mut o = Map::new();
                put(&mut o, "user_tenant_id", r.str(&format!("{au}.tenantId")));
                put(&mut o, "user_object_id", r.str(&format!("{au}.objectId")));
                put(&mut spec, "create_on_behalf_of", nonempty(o));
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
                put(&mut spec, "setup_scripts", nonempty(o));
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
                put(&mut spec, y, r.bool(&format!("{p}.{a}")));
            }
        }
        Some(ComputeType::VirtualMachine | ComputeType::HdInsight) => {
            put(&mut spec, "resource_id", r.str("properties.resourceId"));
            let mut ssh = Map::new();
            put(
                &mut ssh,
                "admin_username",
                r.str(&format!("{p}.administratorAccount.username")),
            );
            put(&mut ssh, "ssh_port", r.int(&format!("{p}.sshPort")));
            put(&mut spec, "ssh_settings", nonempty(ssh));
        }
        Some(ComputeType::Kubernetes) => {
            put(&mut spec, "resource_id", r.str("properties.resourceId"));
            put(&mut spec, "namespace", r.str(&format!("{p}.namespace")));
            if let Some(extra) = r.at(p).and_then(Value::as_object) {
                let m: Map<String, Value> = extra
                    .iter()
                    .filter(|(k, v)| {
                        k.as_str() != "namespace" && !v.is_null() && !v.is_object() && !v.is_array()
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                put(&mut spec, "properties", nonempty(m));
            }
        }
        Some(ComputeType::Databricks) => {
            put(&mut spec, "resource_id", r.str("properties.resourceId"));
            put(
                &mut spec,
                "workspace_url",
                r.str(&format!("{p}.workspaceUrl")),
            );
        }
        Some(ComputeType::DataLakeAnalytics) => {
            put(&mut spec, "resource_id", r.str("properties.resourceId"));
            put(
                &mut spec,
                "data_lake_store_account_name",
                r.str(&format!("{p}.dataLakeStoreAccountName")),
            );
        }
        Some(ComputeType::Aks) => {
            put(&mut spec, "resource_id", r.str("properties.resourceId"));
            put(
                &mut spec,
                "cluster_fqdn",
                r.str(&format!("{p}.clusterFqdn")),
            );
            put(&mut spec, "agent_count", r.int(&format!("{p}.agentCount")));
            put(
                &mut spec,
                "agent_vm_size",
                r.str(&format!("{p}.agentVmSize")),
            );
            put(
                &mut spec,
                "cluster_purpose",
                r.at(&format!("{p}.clusterPurpose"))
                    .and_then(Value::as_str)
                    .map(|s| Value::String(pascal_to_snake(s))),
            );
            let sp = format!("{p}.sslConfiguration");
            if r.at(&sp).is_some() {
                let mut ssl = Map::new();
                put(
                    &mut ssl,
                    "status",
                    r.at(&format!("{sp}.status"))
                        .and_then(Value::as_str)
                        .map(|s| Value::String(s.to_lowercase())),
                );
                put(&mut ssl, "cname", r.str(&format!("{sp}.cname")));
                put(
                    &mut ssl,
                    "leaf_domain_label",
                    r.str(&format!("{sp}.leafDomainLabel")),
                );
                put(
                    &mut ssl,
                    "overwrite_existing_domain",
                    r.bool(&format!("{sp}.overwriteExistingDomain")),
                );
                put(&mut spec, "ssl", nonempty(ssl));
            }
            put(
                &mut spec,
                "load_balancer_type",
                r.at(&format!("{p}.loadBalancerType"))
                    .and_then(Value::as_str)
                    .map(|s| Value::String(pascal_to_snake(s))),
            );
            put(
                &mut spec,
                "load_balancer_subnet",
                r.str(&format!("{p}.loadBalancerSubnet")),
            );
        }
        Some(ComputeType::SynapseSpark | ComputeType::DataFactory | ComputeType::Batch) | None => {
            put(&mut spec, "resource_id", r.str("properties.resourceId"));
        }
    }
    let provisioning_errors = r
        .at("properties.provisioningErrors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Ok(LiveCompute {
        name,
        compute_type,
        spec,
        provisioning_state: r
            .at("properties.provisioningState")
            .and_then(Value::as_str)
            .map(str::to_string),
        instance_state: if compute_type == Some(ComputeType::ComputeInstance) {
            r.at(&format!("{p}.state"))
                .and_then(Value::as_str)
                .map(str::to_string)
        } else {
            None
        },
        provisioning_errors,
        raw: resource.clone(),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_arm_odd_json() {
        for v in [json!(null), json!(1), json!([]), json!({})] {
            assert!(from_arm(&v).is_err());
        }
        let odd = json!({"name": "x", "properties": {"computeType": "AmlCompute", "properties": {"scaleSettings": 5, "vmSize": 3}}});
        let l = from_arm(&odd).unwrap();
        assert_eq!(l.compute_type, Some(ComputeType::AmlCompute));
        let unknown = json!({"name": "x", "properties": {"computeType": "Quantum"}});
        assert_eq!(from_arm(&unknown).unwrap().compute_type, None);
    }
}
