//! Normalisation: two spellings of the same value compare equal.
//!
//! * VM sizes, enum values and locations: case-insensitively, ignoring `_`, `-` and spaces
//!   (`STANDARD_DS3_V2` == `Standard_DS3_v2`, `low_priority` == `LowPriority`, `East US` == `eastus`).
//! * Durations by value: whole seconds, ISO-8601 (`PT120S` == `PT2M` == `120`).
//! * ARM resource ids case-insensitively (`virtualNetworks` == `VirtualNetworks`).
//! * Numbers by value (`4` == `4.0`); sets (user-assigned identities) without order.
//! * Objects: only the keys the desired side wrote are compared.

use amlctl_vocab::KeyPath;
use serde_json::{Map, Number, Value};

use amlctl_manifest::fields::{ValueKind, value_kind_at};

/// How a key's values compare: the manifest field table decides (nothing is guessed from a
/// key's name).
fn kind(path: &[&str]) -> ValueKind {
    value_kind_at(path)
}

/// Folds an enum, size or location: lower case without `_`, `-` and spaces.
pub(crate) fn fold(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

fn looks_like_arm_id(s: &str) -> bool {
    s.get(..15)
        .is_some_and(|p| p.eq_ignore_ascii_case("/subscriptions/"))
}

/// A GUID (`8-4-4-4-12` hex digits): tenant, object and subscription ids compare without case.
fn looks_like_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn canon_id(s: &str) -> String {
    s.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// Parses an ISO-8601 duration into whole seconds, as the manifest crate does for both sides
/// (one parser for the project; Azure ML durations are whole seconds).
pub(crate) fn parse_iso_duration(s: &str) -> Option<f64> {
    amlctl_manifest::parse_iso_duration(s).map(|secs| secs as f64)
}

fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::Number(Number::from(f as i64))
    } else {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

/// The canonical form of a value at a manifest key path (segments).
pub(crate) fn canon(path: &[&str], v: &Value) -> Value {
    let k = kind(path);
    match v {
        Value::Null | Value::Bool(_) => v.clone(),
        Value::Number(n) => match (k, n.as_f64()) {
            (ValueKind::Duration { minutes: true }, Some(f)) => number(f * 60.0),
            (_, Some(f)) => number(f),
            (_, None) => v.clone(),
        },
        Value::String(s) => match k {
            ValueKind::Duration { minutes } => {
                if let Some(secs) = parse_iso_duration(s) {
                    number(secs)
                } else if let Ok(f) = s.trim().parse::<f64>() {
                    number(if minutes { f * 60.0 } else { f })
                } else {
                    v.clone()
                }
            }
            ValueKind::Word if s.contains(',') => {
                // identity.type `system_assigned,user_assigned`: a set of enums.
                let mut parts: Vec<String> = s.split(',').map(fold).collect();
                parts.sort();
                Value::String(parts.join(","))
            }
            ValueKind::Word => Value::String(fold(s)),
            ValueKind::ArmId => Value::String(canon_id(s)),
            ValueKind::Text
            | ValueKind::Free
            | ValueKind::Secret
            | ValueKind::ArmIdSet
            | ValueKind::Set
                if looks_like_arm_id(s) || looks_like_guid(s) =>
            {
                Value::String(canon_id(s))
            }
            ValueKind::Text
            | ValueKind::Free
            | ValueKind::Secret
            | ValueKind::ArmIdSet
            | ValueKind::Set => v.clone(),
        },
        Value::Array(items) => {
            let mut out: Vec<Value> = items.iter().map(|i| canon(path, i)).collect();
            if k == ValueKind::ArmIdSet {
                // A set of identities: compare ids without order, whatever the element shape.
                let mut ids: Vec<Value> = out
                    .iter()
                    .map(|i| match i {
                        Value::Object(m) => m
                            .get("resource_id")
                            .or_else(|| m.get("id"))
                            .cloned()
                            .unwrap_or_else(|| i.clone()),
                        other => other.clone(),
                    })
                    .collect();
                ids.sort_by_key(|v| v.to_string());
                out = ids;
            }
            Value::Array(out)
        }
        Value::Object(m) => {
            let mut out = Map::new();
            for (key, val) in m {
                let mut p: Vec<&str> = path.to_vec();
                p.push(key);
                out.insert(key.clone(), canon(&p, val));
            }
            Value::Object(out)
        }
    }
}

/// True when the canonical desired value is satisfied by the canonical live value: scalars
/// equal, arrays element by element, objects on the keys the desired side wrote (a desired
/// `null` matches an absent key).
pub(crate) fn matches(desired: &Value, live: Option<&Value>) -> bool {
    match (desired, live) {
        (Value::Null, None | Some(Value::Null)) => true,
        (_, None) => false,
        (Value::Object(d), Some(Value::Object(l))) => d.iter().all(|(k, dv)| matches(dv, l.get(k))),
        (Value::Array(d), Some(Value::Array(l))) => {
            d.len() == l.len() && d.iter().zip(l).all(|(a, b)| matches(a, Some(b)))
        }
        (d, Some(l)) => d == l,
    }
}

/// True when `desired` and `live` at manifest key `key` (dotted path segments) mean the same.
pub(crate) fn same(path: &[&str], desired: &Value, live: Option<&Value>) -> bool {
    let d = canon(path, desired);
    let l = live.map(|v| canon(path, v));
    if kind(path) == ValueKind::Set
        && let (Value::Array(d), Some(Value::Array(l))) = (&d, &l)
    {
        return set_matches(d, l);
    }
    matches(&d, l.as_ref())
}

/// True when every desired item is matched by a different live item and no live item is left
/// over (order ignored; greedy, so an ambiguous pairing can only show a change, never hide one).
fn set_matches(desired: &[Value], live: &[Value]) -> bool {
    if desired.len() != live.len() {
        return false;
    }
    let mut used = vec![false; live.len()];
    desired.iter().all(|d| {
        let found = live
            .iter()
            .enumerate()
            .find(|(i, l)| !used[*i] && matches(d, Some(l)));
        match found {
            Some((i, _)) => {
                used[i] = true;
                true
            }
            None => false,
        }
    })
}

/// Every leaf of a manifest object as (key path, value). Objects are descended; arrays,
/// scalars and empty objects are leaves.
pub(crate) fn leaves(map: &Map<String, Value>) -> Vec<(KeyPath, Value)> {
    fn walk(prefix: &mut Vec<String>, v: &Value, out: &mut Vec<(KeyPath, Value)>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, child) in m {
                    prefix.push(k.clone());
                    walk(prefix, child, out);
                    prefix.pop();
                }
            }
            _ => out.push((KeyPath::from_segments(prefix.iter().cloned()), v.clone())),
        }
    }
    let mut out = Vec::new();
    let mut prefix = Vec::new();
    for (k, v) in map {
        prefix.push(k.clone());
        walk(&mut prefix, v, &mut out);
        prefix.pop();
    }
    out
}

/// The canonical form of a whole manifest object, keys sorted (for fingerprints).
pub(crate) fn canon_sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), canon_sorted(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(canon_sorted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(key: &str) -> Vec<&str> {
        key.split('.').collect()
    }

    /// Pairs that must never show as a change: (key, desired, live).
    #[test]
    fn equal_spellings_are_the_same() {
        let cases: Vec<(&str, Value, Value)> = vec![
            ("size", json!("STANDARD_DS3_V2"), json!("Standard_DS3_v2")),
            ("size", json!("standard_nc6"), json!("Standard_NC6")),
            ("tier", json!("low_priority"), json!("LowPriority")),
            ("tier", json!("dedicated"), json!("Dedicated")),
            (
                "identity.type",
                json!("system_assigned"),
                json!("SystemAssigned"),
            ),
            (
                "identity.type",
                json!("system_assigned,user_assigned"),
                json!("UserAssigned, SystemAssigned"),
            ),
            ("idle_time_before_scale_down", json!(120), json!("PT2M")),
            ("idle_time_before_scale_down", json!(120), json!("PT120S")),
            (
                "idle_time_before_scale_down",
                json!("PT120S"),
                json!("PT2M"),
            ),
            ("idle_time_before_scale_down", json!(100), json!("PT1M40S")),
            ("idle_time_before_scale_down", json!(3600), json!("PT1H")),
            ("idle_time_before_scale_down", json!(120), json!(120.0)),
            ("idle_time_before_shutdown", json!("PT20M"), json!(1200)),
            (
                "idle_time_before_shutdown_minutes",
                json!(20),
                json!("PT20M"),
            ),
            (
                "network_settings.subnet",
                json!(
                    "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default"
                ),
                json!(
                    "/subscriptions/0000/resourcegroups/rg/providers/Microsoft.Network/VirtualNetworks/vnet/subnets/default"
                ),
            ),
            (
                "resource_id",
                json!(
                    "/subscriptions/0000/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/vm1"
                ),
                json!(
                    "/subscriptions/0000/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm1/"
                ),
            ),
            (
                "anything.else",
                json!("/subscriptions/0000/resourceGroups/RG/x"),
                json!("/SUBSCRIPTIONS/0000/resourcegroups/rg/x"),
            ),
            ("location", json!("East US"), json!("eastus")),
            ("location", json!("westeurope"), json!("West Europe")),
            ("max_instances", json!(4), json!(4.0)),
            (
                "identity.user_assigned_identities",
                json!([{"resource_id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/B"},
                       {"resource_id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/a"}]),
                json!([{"resource_id": "/subscriptions/0/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/A"},
                       {"resource_id": "/subscriptions/0/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/b"}]),
            ),
            (
                "schedules",
                json!({"compute_start_stop": [{"action": "stop", "trigger": {"type": "cron", "expression": "0 18 * * *"}}]}),
                json!({"compute_start_stop": [{"action": "Stop", "state": "enabled", "trigger": {"type": "Cron", "expression": "0 18 * * *", "time_zone": "UTC"}}]}),
            ),
            ("description", json!(null), json!(null)),
            (
                "create_on_behalf_of.user_object_id",
                json!("ABCDEF01-2345-6789-abcd-ef0123456789"),
                json!("abcdef01-2345-6789-ABCD-EF0123456789"),
            ),
            (
                "schedules",
                json!({"compute_start_stop": [{"action": "stop", "state": "enabled"}]}),
                json!({"compute_start_stop": [{"action": "Stop", "state": "Enabled"}]}),
            ),
        ];
        for (key, d, l) in cases {
            assert!(
                same(&p(key), &d, Some(&l)),
                "{key}: {d} vs {l} should be equal"
            );
        }
        assert!(same(&p("description"), &json!(null), None));
    }

    /// Pairs that are real changes.
    #[test]
    fn different_values_differ() {
        let cases: Vec<(&str, Value, Option<Value>)> = vec![
            (
                "size",
                json!("Standard_DS3_v2"),
                Some(json!("Standard_NC6")),
            ),
            ("max_instances", json!(4), Some(json!(2))),
            (
                "idle_time_before_scale_down",
                json!(120),
                Some(json!("PT3M")),
            ),
            ("description", json!("Team A"), Some(json!("team a"))),
            ("description", json!("x"), None),
            ("tags.team", json!("ML"), Some(json!("ml"))),
            ("location", json!("eastus"), Some(json!("eastus2"))),
            (
                "network_settings.subnet",
                json!(
                    "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/a"
                ),
                Some(json!(
                    "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/b"
                )),
            ),
            ("enable_node_public_ip", json!(true), Some(json!(false))),
            (
                "create_on_behalf_of.user_object_id",
                json!("abcdef01-2345-6789-abcd-ef0123456789"),
                Some(json!("abcdef01-2345-6789-abcd-ef0123456788")),
            ),
            (
                "description",
                json!("not-a-guid-AB"),
                Some(json!("not-a-guid-ab")),
            ),
            (
                "schedules",
                json!({"compute_start_stop": [{"action": "stop"}]}),
                Some(json!({"compute_start_stop": [{"action": "stop"}, {"action": "start"}]})),
            ),
        ];
        for (key, d, l) in cases {
            assert!(
                !same(&p(key), &d, l.as_ref()),
                "{key}: {d} vs {l:?} should differ"
            );
        }
    }

    #[test]
    fn iso_durations() {
        let cases = [
            ("PT2M", Some(120.0)),
            ("PT120S", Some(120.0)),
            ("PT1H", Some(3600.0)),
            ("P1D", Some(86400.0)),
            ("P1DT1S", Some(86401.0)),
            ("PT1.5M", Some(90.0)),
            ("pt5m", Some(300.0)),
            ("P", None),
            ("PT", None),
            ("PT5", None),
            ("P1Y", None),
            ("5M", None),
            ("", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_iso_duration(s), want, "{s}");
        }
    }

    #[test]
    fn leaves_and_lookup() {
        let m = json!({"a": 1, "b": {"c": [1, 2], "d": {}}, "tags": {"x.y": "z"}});
        let Value::Object(m) = m else { unreachable!() };
        let l = leaves(&m);
        let keys: Vec<String> = l.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(keys, ["a", "b.c", "b.d", "tags.x.y"]);
        assert_eq!(l[3].0.segments(), ["tags", "x.y"]);
        assert_eq!(l[3].0.lookup(&m), Some(&json!("z")));
        assert_eq!(KeyPath::parse("b.zz").lookup(&m), None);
    }
}

/// Tests written for mutants `.ci/mutants.sh` found surviving (see docs/testing.md).
#[cfg(test)]
mod mutation_kills {
    use super::*;

    #[test]
    fn durations_come_from_the_field_table() {
        assert_eq!(
            kind(&["idle_time_before_scale_down"]),
            ValueKind::Duration { minutes: false }
        );
        assert_eq!(
            kind(&["idle_time_before_shutdown_minutes"]),
            ValueKind::Duration { minutes: true }
        );
    }

    #[test]
    fn tag_values_compare_as_written_even_under_a_loose_or_id_name() {
        assert_eq!(kind(&["tags", "size"]), ValueKind::Free);
        assert_eq!(kind(&["tags", "resource_id"]), ValueKind::Free);
        // Outside tags the same names are words / ids.
        assert_eq!(kind(&["size"]), ValueKind::Word);
        assert_eq!(kind(&["resource_id"]), ValueKind::ArmId);
    }

    #[test]
    fn a_guid_has_five_hex_groups_of_8_4_4_4_12() {
        assert!(looks_like_guid("ABCDEF12-abcd-ABCD-abcd-ABCDEF123456"));
        assert!(!looks_like_guid("abcdef12-abcd"), "two groups");
        assert!(
            !looks_like_guid("abcdef12-abcd-abcd-abcd-abcdef12345"),
            "11 digits"
        );
        assert!(
            !looks_like_guid("zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"),
            "not hex"
        );
    }

    #[test]
    fn minutes_written_as_a_string_are_seconds() {
        assert_eq!(
            canon(
                &["idle_time_before_shutdown_minutes"],
                &serde_json::json!("20")
            ),
            serde_json::json!(1200)
        );
        assert_eq!(
            canon(&["idle_time_before_scale_down"], &serde_json::json!("120")),
            serde_json::json!(120)
        );
    }

    #[test]
    fn identity_type_is_a_set_of_enums() {
        // Every `Word` key of the field table treats a comma-separated value as a set; the one
        // that has such values is `identity.type`.
        assert_eq!(
            canon(
                &["identity", "type"],
                &serde_json::json!("user_assigned,system_assigned")
            ),
            serde_json::json!("systemassigned,userassigned")
        );
    }

    #[test]
    fn fractional_numbers_stay_fractional() {
        assert_eq!(number(1.5), serde_json::json!(1.5));
        assert_eq!(number(120.0), serde_json::json!(120));
        assert_eq!(number(1.0e16), serde_json::json!(1.0e16));
        // The integer range ends below 9e15 (exactly representable in f64).
        assert_eq!(number(9.0e15), serde_json::json!(9.0e15));
        assert_eq!(number(8.0e15), serde_json::json!(8_000_000_000_000_000_i64));
    }
}
