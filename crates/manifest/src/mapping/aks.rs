//! `type: aks` (ARM `AKS`): an attached AKS inference cluster.
//!
//! Its `to_arm` and `from_arm` sit side by side: a change to one needs the other.

use serde_json::{Map, Value};

use super::{Builder, P, Reader, common, nonempty, put};
use crate::codec::{pascal_to_snake, snake_to_pascal};

/// Fills `properties` (and `properties.properties`) of the PUT body from the manifest.
pub(super) fn to_arm(b: &mut Builder, outer: &mut Map<String, Value>) {
    let mut props = Map::new();
    common::resource_id_to_arm(b, outer);
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

/// Reads the type's own keys of a live resource into `spec`.
pub(super) fn from_arm(r: &Reader, spec: &mut Map<String, Value>) {
    let p = P;
    common::resource_id_from_arm(r, spec);
    put(spec, "cluster_fqdn", r.str(&format!("{p}.clusterFqdn")));
    put(spec, "agent_count", r.int(&format!("{p}.agentCount")));
    put(spec, "agent_vm_size", r.str(&format!("{p}.agentVmSize")));
    put(
        spec,
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
        put(spec, "ssl", nonempty(ssl));
    }
    put(
        spec,
        "load_balancer_type",
        r.at(&format!("{p}.loadBalancerType"))
            .and_then(Value::as_str)
            .map(|s| Value::String(pascal_to_snake(s))),
    );
    put(
        spec,
        "load_balancer_subnet",
        r.str(&format!("{p}.loadBalancerSubnet")),
    );
}
