//! Read-back after a replace: the service once kept the old VM size across delete + create under
//! the same name, so a replace is only reported done when the new object matches the manifest.

use amlctl_arm::ArmClient;
use amlctl_plan::PlanEntry;
use amlctl_vocab::KeyPath;
use serde_json::Value;

/// Reads the compute back (or uses the final body of the last request) and compares it with
/// `entry.after`, key by key, tolerant of case and spacing in strings.
pub async fn after_replace(
    client: &ArmClient,
    entry: &PlanEntry,
    last_body: Option<&Value>,
) -> Result<(), String> {
    let Some(after) = entry.after.as_ref() else {
        return Ok(());
    };
    let body = match last_body {
        Some(b) if b.get("properties").is_some() => b.clone(),
        _ => {
            let Some(step) = entry.steps.last() else {
                return Ok(());
            };
            let query = step.query.clone();
            let request = amlctl_arm::ArmRequest {
                method: amlctl_arm::Method::Get,
                path: step.path.clone(),
                query,
                body: None,
            };
            match client.execute(&request).await {
                Ok(Some(b)) => b,
                Ok(None) => return Err(format!("{} is missing after the replace", entry.address)),
                Err(e) => return Err(format!("reading {} back failed: {e}", entry.address)),
            }
        }
    };
    let live = amlctl_manifest::from_arm(&body)
        .map_err(|e| format!("reading {} back failed: {e}", entry.address))?;
    let (Some(compute_type), Some(after)) = (entry.compute_type, after.as_object()) else {
        return Ok(());
    };
    // Keys the manifest's lifecycle.ignore_changes hides are not compared here either (the plan
    // never compares them; the service may reshape them, e.g. compute-instance schedules).
    let ignored = |key: &str| {
        entry.ignore_changes.iter().any(|i| {
            key == i || (key.starts_with(i.as_str()) && key.as_bytes().get(i.len()) == Some(&b'.'))
        })
    };
    let unmet: Vec<String> = amlctl_plan::unmet_keys(compute_type, after, &live.spec)
        .into_iter()
        .filter(|k| !ignored(k))
        .collect();
    if unmet.is_empty() {
        Ok(())
    } else {
        let details: Vec<String> = unmet
            .iter()
            .map(|key| {
                let got = KeyPath::parse(key)
                    .lookup(&live.spec)
                    .map_or("absent".to_string(), |v| v.to_string());
                format!("{key} is {got}")
            })
            .collect();
        Err(format!(
            "{} was replaced, but the new compute does not match the manifest: {}; run `amlctl plan` to see the difference",
            entry.address,
            details.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lookup<'a>(map: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
        KeyPath::parse(key).lookup(map)
    }

    #[test]
    fn lookup_follows_dotted_paths() {
        let v = json!({"ssh_settings": {"admin_username": "azureuser"}, "size": "Standard_NC6"});
        let map = v.as_object().expect("object");
        assert_eq!(lookup(map, "size"), Some(&json!("Standard_NC6")));
        assert_eq!(
            lookup(map, "ssh_settings.admin_username"),
            Some(&json!("azureuser"))
        );
        assert_eq!(lookup(map, "ssh_settings.ssh_port"), None);
        assert_eq!(lookup(map, "missing.key"), None);
    }
}
