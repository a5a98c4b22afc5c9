//! Drift attribution in the renderers: the Markdown snapshot of an attributed drift line, the
//! text and JSON forms, and `plan --drift`'s filter.

mod common;

use amlctl_manifest::ComputeType::*;
use amlctl_plan::drift::Drift;
use amlctl_plan::{Plan, render};
use common::*;
use serde_json::json;

/// `dev/drifted` was scaled by alice outside amlctl; `dev/edited` changed in its manifest.
fn drifted_plan() -> Plan {
    let mut desired = aml_spec();
    desired["max_instances"] = json!(4);
    let mut live_spec = aml_spec();
    live_spec["max_instances"] = json!(4);
    let mut scaled = aml_spec();
    scaled["max_instances"] = json!(9);
    let targets = vec![
        target(AmlCompute, "drifted", desired.clone()),
        target(AmlCompute, "edited", desired),
    ];
    let lives = vec![
        live(AmlCompute, "drifted", scaled),
        live(AmlCompute, "edited", aml_spec()),
    ];
    let mut plan = run(&targets, lives, false, &Default::default());
    plan.drift.insert(
        "dev/drifted".into(),
        Drift {
            caller: Some("alice@example.com".into()),
            time: Some("2026-03-01T12:00:00Z".into()),
            operation: Some("Microsoft.MachineLearningServices/workspaces/computes/write".into()),
            note: None,
        },
    );
    plan
}

#[test]
fn markdown_shows_an_attributed_drift_line() {
    let plan = drifted_plan();
    let md = render::markdown(&plan).join("\n");
    assert!(md.contains("changed outside amlctl by alice@example.com at 2026-03-01T12:00:00Z"));
    insta::assert_snapshot!("drift_markdown", md);
}

#[test]
fn text_and_json_carry_the_attribution_only_for_the_drifted_target() {
    let plan = drifted_plan();
    let text = render::text(&plan, false);
    assert_eq!(text.matches("changed outside amlctl").count(), 1, "{text}");
    let j = render::json(&plan);
    let entries = j["entries"].as_array().expect("entries");
    let by = |a: &str| entries.iter().find(|e| e["address"] == a).expect(a).clone();
    assert_eq!(by("dev/drifted")["drift"]["caller"], "alice@example.com");
    assert!(by("dev/edited").get("drift").is_none());
}

#[test]
fn drift_only_keeps_the_drifted_targets() {
    let plan = drifted_plan().drift_only();
    let addresses: Vec<&str> = plan.entries.iter().map(|e| e.address.as_str()).collect();
    assert_eq!(addresses, ["dev/drifted"]);
    assert!(
        Drift::unknown("x")
            .describe()
            .starts_with("changed outside amlctl (caller unknown")
    );
}
