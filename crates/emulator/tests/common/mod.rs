//! Shared helpers for the emulator's HTTP tests (real HTTP on 127.0.0.1, no mocks).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use amlctl_emulator::{Emulator, EmulatorConfig, Fixture, FixtureWorkspace};
use serde_json::{Map, Value, json};

pub const SUB: &str = "00000000-0000-0000-0000-000000000000";
pub const RG: &str = "rg-ml";
pub const WS: &str = "mlw-dev";
pub const TOKEN: &str = "test-token";
pub const API: &str = "2025-12-01";

pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture with one workspace in eastus, one in westus, and a few underlying resources.
pub fn fixture() -> Fixture {
    Fixture {
        workspaces: vec![
            FixtureWorkspace {
                subscription_id: SUB.into(),
                resource_group: RG.into(),
                name: WS.into(),
                location: "eastus".into(),
            },
            FixtureWorkspace {
                subscription_id: SUB.into(),
                resource_group: RG.into(),
                name: "mlw-other".into(),
                location: "eastus".into(),
            },
            FixtureWorkspace {
                subscription_id: SUB.into(),
                resource_group: RG.into(),
                name: "mlw-west".into(),
                location: "westus".into(),
            },
        ],
        resources: vec![vm_id("dsvm"), aks_id("aks1")],
        ..Default::default()
    }
}

pub fn vm_id(name: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/virtualMachines/{name}"
    )
}

pub fn aks_id(name: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.ContainerService/managedClusters/{name}"
    )
}

pub fn config() -> EmulatorConfig {
    EmulatorConfig {
        fixture: Some(fixture()),
        accepted_tokens: vec![TOKEN.into()],
        ..EmulatorConfig::default()
    }
}

pub async fn start(config: EmulatorConfig) -> Emulator {
    Emulator::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn ws_url(emu: &Emulator, ws: &str) -> String {
    format!(
        "{}/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces/{ws}",
        emu.base_url()
    )
}

pub fn compute_url(emu: &Emulator, ws: &str, name: &str) -> String {
    format!("{}/computes/{name}", ws_url(emu, ws))
}

/// Sends a request with the test token; returns status, headers and JSON body (Null if empty).
pub async fn send(
    method: reqwest::Method,
    url: &str,
    api: &str,
    body: Option<&Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let sep = if url.contains('?') { '&' } else { '?' };
    let url = if api.is_empty() {
        url.to_string()
    } else {
        format!("{url}{sep}api-version={api}")
    };
    let mut rb = client().request(method, url).bearer_auth(TOKEN);
    if let Some(b) = body {
        rb = rb.json(b);
    }
    let resp = rb.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, headers, json)
}

pub fn aml_body(vm_size: &str, min: i64, max: i64) -> Value {
    json!({
        "location": "eastus",
        "properties": {
            "computeType": "AmlCompute",
            "properties": {
                "vmSize": vm_size,
                "vmPriority": "Dedicated",
                "scaleSettings": {"minNodeCount": min, "maxNodeCount": max, "nodeIdleTimeBeforeScaleDown": "PT120S"}
            }
        }
    })
}

pub fn ci_body(vm_size: &str) -> Value {
    json!({
        "location": "eastus",
        "properties": {"computeType": "ComputeInstance", "properties": {"vmSize": vm_size}}
    })
}

/// Polls GET until `properties.provisioningState` is terminal.
pub async fn wait_terminal(url: &str) -> Value {
    for _ in 0..400 {
        let (s, _, b) = send(reqwest::Method::GET, url, API, None).await;
        let ps = b["properties"]["provisioningState"].as_str().unwrap_or("");
        if s != 200 || matches!(ps, "Succeeded" | "Failed" | "Canceled") {
            if let Some(state) = b["properties"]["properties"]["state"].as_str()
                && matches!(state, "Starting" | "Stopping" | "Restarting")
            {
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
                continue;
            }
            return b;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{url} never reached a terminal state");
}

// ------------------------------------------------------------------ schemas

/// The spec's definitions (plus common types) as one JSON Schema document (draft 4).
pub struct Schemas {
    defs: Map<String, Value>,
}

fn rewrite(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get_mut("$ref")
                && let Some(i) = r.find("#/definitions/")
            {
                *r = r[i..].to_string();
            }
            for child in m.values_mut() {
                rewrite(child);
            }
            // Swagger's x-nullable: allow null besides the declared schema.
            if m.get("x-nullable") == Some(&Value::Bool(true)) {
                let mut inner = m.clone();
                inner.remove("x-nullable");
                m.clear();
                m.insert(
                    "anyOf".into(),
                    json!([{"type": "null"}, Value::Object(inner)]),
                );
            }
        }
        Value::Array(a) => a.iter_mut().for_each(rewrite),
        _ => {}
    }
}

impl Schemas {
    pub fn load() -> Schemas {
        let spec = crate_dir().join("spec");
        let mut defs = Map::new();
        for f in [
            "2025-12-01/machineLearningServices.json",
            "common-types/resource-management/v3/types.json",
            "common-types/resource-management/v3/managedidentity.json",
        ] {
            let v: Value =
                serde_json::from_str(&std::fs::read_to_string(spec.join(f)).unwrap()).unwrap();
            for (k, d) in v["definitions"].as_object().unwrap() {
                assert!(!defs.contains_key(k), "definition {k} defined twice");
                defs.insert(k.clone(), d.clone());
            }
        }
        let mut all = Value::Object(defs);
        rewrite(&mut all);
        Schemas {
            defs: all.as_object().unwrap().clone(),
        }
    }

    pub fn has(&self, def: &str) -> bool {
        self.defs.contains_key(def)
    }

    /// Validation errors of `instance` against `#/definitions/{def}`.
    pub fn errors(&self, def: &str, instance: &Value) -> Vec<String> {
        assert!(self.has(def), "no definition {def}");
        let schema =
            json!({"definitions": self.defs, "allOf": [{"$ref": format!("#/definitions/{def}")}]});
        let v = jsonschema::draft4::new(&schema).unwrap();
        v.iter_errors(instance)
            .map(|e| format!("{def} at {}: {e}", e.instance_path()))
            .collect()
    }

    /// Subtype definition for a discriminator value under `base` (e.g. Compute/ComputeSecrets).
    pub fn subtype(&self, base: &str, value: &str) -> Option<String> {
        let base_ref = format!("#/definitions/{base}");
        self.defs.iter().find_map(|(k, d)| {
            let is_sub = d["allOf"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x["$ref"] == base_ref.as_str()));
            let disc = d["x-ms-discriminator-value"].as_str().unwrap_or(k);
            (is_sub && disc == value).then(|| k.clone())
        })
    }

    /// Validates a compute resource: envelope + the `computeType` subtype of `properties`.
    pub fn compute_errors(&self, resource: &Value) -> Vec<String> {
        let mut errs = self.errors("ComputeResource", resource);
        let ctype = resource["properties"]["computeType"]
            .as_str()
            .unwrap_or_default();
        match self.subtype("Compute", ctype) {
            Some(sub) => errs.extend(self.errors(&sub, &resource["properties"])),
            None => errs.push(format!("no Compute subtype for computeType {ctype}")),
        }
        errs
    }
}

// ------------------------------------------------------------------ example comparison

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks that `actual` carries every field of `example` with the same JSON type.
/// `null` in the example matches anything (including absence); arrays: every example element
/// must match at least one actual element. Paths in `skip` (JSON pointers) are not compared.
pub fn shape_mismatches(
    example: &Value,
    actual: &Value,
    path: &str,
    skip: &[&str],
    out: &mut Vec<String>,
) {
    if skip.contains(&path) || example.is_null() {
        return;
    }
    if type_name(example) != type_name(actual) {
        out.push(format!(
            "{path}: example has {} but response has {}",
            type_name(example),
            type_name(actual)
        ));
        return;
    }
    match (example, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = format!("{path}/{k}");
                match a.get(k) {
                    Some(av) => shape_mismatches(ev, av, &p, skip, out),
                    None if ev.is_null() || skip.contains(&p.as_str()) => {}
                    None => out.push(format!("{p}: missing from response")),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            for (i, ev) in e.iter().enumerate() {
                let p = format!("{path}/{i}");
                let best = a
                    .iter()
                    .map(|av| {
                        let mut o = Vec::new();
                        shape_mismatches(ev, av, &p, skip, &mut o);
                        o
                    })
                    .min_by_key(Vec::len);
                match best {
                    Some(o) => out.extend(o),
                    None => out.push(format!("{p}: response array is empty")),
                }
            }
        }
        _ => {}
    }
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}
