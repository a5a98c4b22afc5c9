//! The JSON renderer.

use serde_json::{Value, json};

use crate::model::Plan;

/// The plan as JSON: `format_version`, `summary`, `entries[]` (with `request`: the ARM requests
/// `apply` will send, secrets `"<redacted>"`), `errors`, `warnings`, `unmanaged`.
pub fn json(plan: &Plan) -> Value {
    let entries: Vec<Value> = plan
        .entries
        .iter()
        .map(|e| {
            let request: Vec<Value> = e
                .steps
                .iter()
                .map(|s| {
                    json!({
                        "action": s.action,
                        "method": s.method,
                        "path": s.path,
                        "query": s.query,
                        "body": s.body,
                    })
                })
                .collect();
            json!({
                "address": e.address,
                "workspace": e.workspace,
                "name": e.name,
                "compute_type": e.compute_type,
                "actions": e.actions,
                "reason": e.reason,
                "changes": e.changes,
                "before": e.before,
                "after": e.after,
                "request": request,
                "live_fingerprint": e.live_fingerprint,
                "source": e.source,
                "unverifiable": e.unverifiable,
            })
        })
        .collect();
    let mut out = json!({
        "format_version": plan.format_version,
        "summary": plan.summary(),
        "has_changes": plan.has_changes(),
        "entries": entries,
        "errors": plan.errors,
        "warnings": plan.warnings,
        "unmanaged": plan.unmanaged,
    });
    if let (Some(pf), Value::Object(m)) = (&plan.preflight, &mut out) {
        m.insert("preflight".into(), json!(pf));
    }
    if let (Some(c), Value::Object(m)) = (&plan.created, &mut out) {
        m.insert("created".into(), Value::String(c.clone()));
    }
    out
}
