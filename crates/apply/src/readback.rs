//! Read-back after every change: the service accepts some updates and silently ignores part of
//! them (compute-instance schedules and idle shutdown sent by PUT are documented examples; it
//! once kept the old VM size across delete + create under the same name). So after a create,
//! attach, update, replace, start or stop has completed, the compute is read again and every
//! declared key is checked with the planner's own comparison ([`amlctl_plan::check_keys`]).
//! A key the service accepted but did not apply fails the target; keys the service does not
//! return on GET (the field table's unverifiable keys) are skipped, and the progress says so.

use amlctl_arm::{ArmClient, ArmRequest, Method};
use amlctl_plan::{Action, PlanEntry};
use serde_json::{Map, Value};

use crate::ApplyOptions;
use crate::events::{EventKind, Reporter};

/// True when `entry` changes a compute that exists afterwards: it is read back.
pub fn needs_readback(entry: &PlanEntry) -> bool {
    entry.after.is_some()
        && entry.actions.iter().any(|a| {
            matches!(
                a,
                Action::Create
                    | Action::Attach
                    | Action::Update
                    | Action::Replace
                    | Action::Start
                    | Action::Stop
            )
        })
}

/// Reads the compute of `entry` back and compares it with `entry.after`, key by key, as the
/// planner compares. `Err` names each key the service did not apply: `accepted but not applied:
/// KEY (sent X, service has Y)`.
pub async fn check(
    client: &ArmClient,
    entry: &PlanEntry,
    opts: &ApplyOptions,
    reporter: &Reporter,
) -> Result<(), String> {
    let (Some(compute_type), Some(after)) = (
        entry.compute_type,
        entry.after.as_ref().and_then(Value::as_object),
    ) else {
        return Ok(());
    };
    let Some(request) = read_request(entry, opts) else {
        return Ok(());
    };
    let body = match client.execute(&request).await {
        Ok(Some(b)) => b,
        Ok(None) => return Err(format!("{} is missing after the change", entry.address)),
        Err(e) => return Err(format!("reading {} back failed: {e}", entry.address)),
    };
    let live = amlctl_manifest::from_arm(&body)
        .map_err(|e| format!("reading {} back failed: {e}", entry.address))?;
    // Keys the manifest's lifecycle.ignore_changes hides are not compared here either (the plan
    // never compares them; the service may reshape them, e.g. compute-instance schedules).
    let ignored = |key: &str| {
        entry.ignore_changes.iter().any(|i| {
            key == i || (key.starts_with(i.as_str()) && key.as_bytes().get(i.len()) == Some(&b'.'))
        })
    };
    let (unmet, unverifiable) = amlctl_plan::check_keys(compute_type, after, &live.spec);
    let unverifiable: Vec<String> = unverifiable.into_iter().filter(|k| !ignored(k)).collect();
    if !unverifiable.is_empty() {
        reporter.event(
            &entry.address,
            EventKind::Progress,
            &format!(
                "read-back: not verifiable (the service does not return them on GET): {}",
                unverifiable.join(", ")
            ),
        );
    }
    let unmet: Vec<String> = unmet.into_iter().filter(|k| !ignored(k)).collect();
    if unmet.is_empty() {
        return Ok(());
    }
    let details: Vec<String> = unmet
        .iter()
        .map(|key| {
            let show = |v: Option<&Value>| v.map_or("absent".to_string(), Value::to_string);
            format!(
                "{key} (sent {}, service has {})",
                show(lookup(after, key)),
                show(lookup(&live.spec, key))
            )
        })
        .collect();
    let what = if entry.actions.contains(&Action::Replace) {
        "the compute does not match the manifest after the replace"
    } else {
        "the compute does not match the manifest"
    };
    Err(format!(
        "{}: accepted but not applied: {}; {what}: run `amlctl plan` to see the difference",
        entry.address,
        details.join(", ")
    ))
}

/// `GET` of the compute, at the api-version the entry's requests used.
fn read_request(entry: &PlanEntry, opts: &ApplyOptions) -> Option<ArmRequest> {
    let path = match opts.workspaces.get(&entry.workspace) {
        Some(ws) => ws.compute_path(&entry.name),
        None => {
            // Without the workspace coordinates: the entry's own compute path.
            let step = entry.steps.iter().find(|s| s.method != Method::Post)?;
            step.path.clone()
        }
    };
    let api_version = entry
        .steps
        .iter()
        .find(|s| s.path.eq_ignore_ascii_case(&path))
        .or(entry.steps.first())
        .and_then(|s| s.query.get("api-version"))?
        .clone();
    let mut query = std::collections::BTreeMap::new();
    query.insert("api-version".to_string(), api_version);
    Some(ArmRequest {
        method: Method::Get,
        path,
        query,
        body: None,
    })
}

/// The value at a dotted key path (a tag name may itself hold dots: `tags.` takes the rest).
fn lookup<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    if let Some(tag) = key.strip_prefix("tags.") {
        return map.get("tags")?.get(tag);
    }
    amlctl_vocab::KeyPath::parse(key).lookup(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lookup_follows_dotted_paths() {
        let v = json!({"ssh_settings": {"admin_username": "azureuser"}, "size": "Standard_NC6", "tags": {"a.b": "c"}});
        let map = v.as_object().expect("object");
        assert_eq!(lookup(map, "size"), Some(&json!("Standard_NC6")));
        assert_eq!(
            lookup(map, "ssh_settings.admin_username"),
            Some(&json!("azureuser"))
        );
        assert_eq!(lookup(map, "tags.a.b"), Some(&json!("c")));
        assert_eq!(lookup(map, "ssh_settings.ssh_port"), None);
        assert_eq!(lookup(map, "missing.key"), None);
    }
}
