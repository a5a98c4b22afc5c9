//! The plan file type: the planner's plan wrapped with the file's metadata, written with the
//! keys of format 1.0 in their order, and checked as a whole.

mod common;

use amlctl_manifest::ComputeType::*;
use amlctl_plan::preflight::Preflight;
use amlctl_plan::{PlanFile, SavedOptions};
use common::*;

/// A plan file with every optional key set.
fn full_file() -> PlanFile {
    let mut plan = plan1(target(AmlCompute, "cpu", aml_spec()), None);
    plan.created = Some("2026-11-29T15:00:00Z".into());
    plan.preflight = Some(Preflight::default());
    PlanFile {
        root: Some("/repo".into()),
        workspaces: workspaces(&[ws("dev", false)]),
        options: Some(SavedOptions::default()),
        repo_digest: Some("0".repeat(64)),
        ..PlanFile::new(plan)
    }
}

#[test]
fn plan_file_keeps_the_key_order_of_format_1_0() {
    let text = full_file().to_json().expect("json");
    let keys: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("  \"")?.split_once('"').map(|(k, _)| k))
        .collect();
    assert_eq!(
        keys,
        [
            "format_version",
            "created",
            "entries",
            "errors",
            "warnings",
            "unmanaged",
            "root",
            "workspaces",
            "options",
            "repo_digest",
            "preflight",
        ]
    );
    assert!(text.ends_with("}\n"), "newline-terminated");
    let back = PlanFile::from_json(&text).expect("parse");
    assert_eq!(back, full_file());
}

#[test]
fn a_plan_file_without_metadata_has_only_the_plan_keys() {
    let file = PlanFile::new(plan1(target(AmlCompute, "cpu", aml_spec()), None));
    let v: serde_json::Value = serde_json::from_str(&file.to_json().expect("json")).expect("json");
    let keys: Vec<&String> = v
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        [
            "format_version",
            "entries",
            "errors",
            "warnings",
            "unmanaged"
        ],
        "absent metadata is left out, as before"
    );
}

#[test]
fn the_checker_reads_the_wrapped_plan() {
    let mut file = full_file();
    let dev = workspaces(&[ws("dev", false)]);
    assert_eq!(file.check(&dev), Vec::<String>::new());
    file.plan.entries[0].steps[0].path = "/subscriptions/x/computes/other".into();
    let problems = file.check(&dev);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("is not under"), "{problems:?}");
    // The workspaces given decide, not the ones recorded in the file.
    file.plan.entries[0].steps[0].path = ws("dev", false).compute_path("cpu");
    let problems = file.check(&workspaces(&[ws("prod", false)]));
    assert!(
        problems.iter().any(|p| p.contains("is not in amlctl.yaml")),
        "{problems:?}"
    );
}
