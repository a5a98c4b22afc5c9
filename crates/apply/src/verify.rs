//! Read-back after a replace: the service once kept the old VM size across delete + create under
//! the same name, so a replace is only reported done when the new object matches the manifest.

use amlctl_arm::ArmClient;
use amlctl_manifest::REDACTED;
use amlctl_plan::PlanEntry;
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
                method: "GET".to_string(),
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
    let mut mismatches = Vec::new();
    compare(
        after,
        &Value::Object(live.spec),
        String::new(),
        &mut mismatches,
    );
    if mismatches.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} was replaced, but the new compute does not match the manifest: {}; run `amlctl plan` to see the difference",
            entry.address,
            mismatches.join(", ")
        ))
    }
}

fn compare(want: &Value, got: &Value, path: String, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                if k == "tags" {
                    continue;
                }
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if let Some(gv) = g.get(k) {
                    compare(wv, gv, sub, out);
                }
            }
        }
        (Value::String(w), _) if w == REDACTED => {}
        (Value::String(w), Value::String(g)) => {
            if norm(w) != norm(g) {
                out.push(format!("{path} is {g:?}, expected {w:?}"));
            }
        }
        (Value::Array(_), _) | (Value::Object(_), _) => {}
        (w, g) => {
            if w != g {
                out.push(format!("{path} is {g}, expected {w}"));
            }
        }
    }
}

fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn compare_is_tolerant_of_case_and_reports_real_differences() {
        let mut out = Vec::new();
        compare(
            &json!({"size": "Standard_DS3_v2", "max_instances": 4, "ssh_settings": {"admin_password": REDACTED}}),
            &json!({"size": "STANDARD_DS3_V2", "max_instances": 4, "ssh_settings": {}}),
            String::new(),
            &mut out,
        );
        assert!(out.is_empty(), "{out:?}");
        compare(
            &json!({"size": "Standard_NC6"}),
            &json!({"size": "Standard_DS3_v2"}),
            String::new(),
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert!(out[0].contains("size"), "{out:?}");
    }
}
