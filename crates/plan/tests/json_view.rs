//! The typed JSON view gives the keys of format 1.0 in their order, the optional ones included.

mod common;

use amlctl_manifest::ComputeType::*;
use amlctl_plan::preflight::Preflight;
use amlctl_plan::render;
use common::*;

#[test]
fn json_keys_in_format_order_with_preflight_and_created() {
    let mut plan = plan1(target(AmlCompute, "cpu", aml_spec()), None);
    let bare = render::json(&plan);
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let plan_keys = [
        "format_version",
        "summary",
        "has_changes",
        "entries",
        "errors",
        "warnings",
        "unmanaged",
    ];
    assert_eq!(keys(&bare), plan_keys);
    assert_eq!(
        keys(&bare["entries"][0]),
        [
            "address",
            "workspace",
            "name",
            "compute_type",
            "actions",
            "reason",
            "changes",
            "before",
            "after",
            "request",
            "live_fingerprint",
            "source",
            "unverifiable",
        ]
    );
    assert_eq!(
        keys(&bare["entries"][0]["request"][0]),
        ["action", "method", "path", "query", "body"]
    );
    assert!(bare["entries"][0]["live_fingerprint"].is_null());
    assert_eq!(bare["entries"][0]["unverifiable"], serde_json::json!([]));

    plan.preflight = Some(Preflight::default());
    plan.created = Some("2026-11-29T15:00:00Z".into());
    let full = render::json(&plan);
    let mut want: Vec<&str> = plan_keys.to_vec();
    want.extend(["preflight", "created"]);
    assert_eq!(keys(&full), want);
}
