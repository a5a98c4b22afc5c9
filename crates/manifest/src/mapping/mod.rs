//! The ARM mapping: [`Target::to_arm`] builds the PUT body azure-ai-ml 1.35.2 would build for the
//! same YAML; [`from_arm`] reads a live resource back into canonical manifest terms.
//!
//! One file per compute type holds that type's `to_arm` and `from_arm` side by side; [`common`]
//! holds the envelope every type shares (description, location, tags, identity, `resourceId`);
//! value spellings (durations, enum case) come from [`crate::codec`].

use amlctl_vocab::KeyPath;
use serde_json::{Map, Value};

use crate::model::{ArmBody, ComputeType, LiveCompute, REDACTED, SecretSlot, Target, Workspace};

mod aks;
mod amlcompute;
mod batch;
pub mod common;
mod compute_instance;
mod data_factory;
mod data_lake_analytics;
mod databricks;
mod hdinsight;
mod kubernetes;
mod synapse_spark;
mod virtual_machine;

/// Default VM size azure-ai-ml sends when `size` is omitted.
pub const DEFAULT_VM_SIZE: &str = "STANDARD_DS3_V2";

/// Where a compute's type-specific properties sit in an ARM resource.
const P: &str = "properties.properties";

/// Reads the manifest's canonical spec while a PUT body is built, collecting secret slots.
struct Builder<'a> {
    spec: &'a Map<String, Value>,
    slots: Vec<SecretSlot>,
    target: &'a Target,
}

impl Builder<'_> {
    fn get(&self, path: &str) -> Option<&Value> {
        KeyPath::parse(path).lookup(self.spec)
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

/// Reads a live ARM resource by dotted path (`null` counts as absent).
struct Reader<'a>(&'a Value);

impl Reader<'_> {
    fn at(&self, path: &str) -> Option<&Value> {
        KeyPath::parse(path)
            .lookup_in(self.0)
            .filter(|v| !v.is_null())
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

/// Inserts `k` when `v` is `Some`.
fn put(obj: &mut Map<String, Value>, k: &str, v: Option<Value>) {
    if let Some(v) = v {
        obj.insert(k.to_string(), v);
    }
}

/// `Some(object)` unless the map is empty.
fn nonempty(m: Map<String, Value>) -> Option<Value> {
    (!m.is_empty()).then_some(Value::Object(m))
}

impl Target {
    /// The ARM PUT body for this target in workspace `ws`: secrets as [`REDACTED`] with a
    /// [`SecretSlot`] each, and the [`OWNERSHIP_TAG`](crate::model::OWNERSHIP_TAG) added to `tags`.
    pub fn to_arm(&self, ws: &Workspace) -> ArmBody {
        let mut b = Builder {
            spec: &self.spec,
            slots: Vec::new(),
            target: self,
        };
        let t = self.compute_type;
        let mut outer = common::outer_to_arm(&b, t);
        let location = b.str("location").or_else(|| ws.location.clone());
        let o = &mut outer;
        match t {
            ComputeType::AmlCompute => amlcompute::to_arm(&mut b, o),
            ComputeType::ComputeInstance => compute_instance::to_arm(&mut b, o),
            ComputeType::VirtualMachine => virtual_machine::to_arm(&mut b, o),
            ComputeType::HdInsight => hdinsight::to_arm(&mut b, o),
            ComputeType::Kubernetes => kubernetes::to_arm(&mut b, o, location.as_ref()),
            ComputeType::Databricks => databricks::to_arm(&mut b, o),
            ComputeType::DataLakeAnalytics => data_lake_analytics::to_arm(&mut b, o),
            ComputeType::Aks => aks::to_arm(&mut b, o),
            ComputeType::SynapseSpark => synapse_spark::to_arm(&mut b, o),
            ComputeType::DataFactory => data_factory::to_arm(&mut b, o),
            ComputeType::Batch => batch::to_arm(&mut b, o),
        }
        let body = common::body_to_arm(&b, outer, location);
        ArmBody {
            body,
            secrets: b.slots,
            api_version: crate::fields::api_version_for(t, &self.spec)
                .version
                .to_string(),
        }
    }
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
    common::envelope_from_arm(&r, &mut spec);
    let s = &mut spec;
    match compute_type {
        Some(ComputeType::AmlCompute) => amlcompute::from_arm(&r, s),
        Some(ComputeType::ComputeInstance) => compute_instance::from_arm(&r, s),
        Some(ComputeType::VirtualMachine) => virtual_machine::from_arm(&r, s),
        Some(ComputeType::HdInsight) => hdinsight::from_arm(&r, s),
        Some(ComputeType::Kubernetes) => kubernetes::from_arm(&r, s),
        Some(ComputeType::Databricks) => databricks::from_arm(&r, s),
        Some(ComputeType::DataLakeAnalytics) => data_lake_analytics::from_arm(&r, s),
        Some(ComputeType::Aks) => aks::from_arm(&r, s),
        Some(ComputeType::SynapseSpark) => synapse_spark::from_arm(&r, s),
        Some(ComputeType::DataFactory) => data_factory::from_arm(&r, s),
        Some(ComputeType::Batch) => batch::from_arm(&r, s),
        None => common::resource_id_from_arm(&r, s),
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
            r.at(&format!("{P}.state"))
                .and_then(Value::as_str)
                .map(str::to_string)
        } else {
            None
        },
        provisioning_errors,
        raw: resource.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
