//! `type: datalakeanalytics` (ARM `DataLakeAnalytics`).
//!
//! Its `to_arm` and `from_arm` sit side by side: a change to one needs the other.

use serde_json::{Map, Value};

use super::{Builder, P, Reader, common, put};

/// Fills `properties` (and `properties.properties`) of the PUT body from the manifest.
pub(super) fn to_arm(b: &mut Builder, outer: &mut Map<String, Value>) {
    let mut props = Map::new();
    common::resource_id_to_arm(b, outer);
    if let Some(n) = b.str("data_lake_store_account_name") {
        props.insert("dataLakeStoreAccountName".into(), Value::String(n));
        outer.insert("properties".into(), Value::Object(props));
    }
}

/// Reads the type's own keys of a live resource into `spec`.
pub(super) fn from_arm(r: &Reader, spec: &mut Map<String, Value>) {
    let p = P;
    common::resource_id_from_arm(r, spec);
    put(
        spec,
        "data_lake_store_account_name",
        r.str(&format!("{p}.dataLakeStoreAccountName")),
    );
}
