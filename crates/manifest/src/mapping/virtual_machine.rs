//! `type: virtualmachine` (ARM `VirtualMachine`): an attached VM reached over SSH.
//! `hdinsight` ([`super::hdinsight`]) has the same shape and uses these functions.
//!
//! Its `to_arm` and `from_arm` sit side by side: a change to one needs the other.

use serde_json::{Map, Value};

use super::{Builder, P, Reader, common, nonempty, put};

/// Fills `properties` (and `properties.properties`) of the PUT body from the manifest.
pub(super) fn to_arm(b: &mut Builder, outer: &mut Map<String, Value>) {
    let mut props = Map::new();
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
    common::resource_id_to_arm(b, outer);
}

/// Reads the type's own keys of a live resource into `spec`.
pub(super) fn from_arm(r: &Reader, spec: &mut Map<String, Value>) {
    let p = P;
    common::resource_id_from_arm(r, spec);
    let mut ssh = Map::new();
    put(
        &mut ssh,
        "admin_username",
        r.str(&format!("{p}.administratorAccount.username")),
    );
    put(&mut ssh, "ssh_port", r.int(&format!("{p}.sshPort")));
    put(spec, "ssh_settings", nonempty(ssh));
}
