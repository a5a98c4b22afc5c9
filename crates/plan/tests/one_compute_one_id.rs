//! `prevent_destroy` and "declared" hold per compute id (the lowercased full ARM id), whatever
//! alias of amlctl.yaml reaches the compute (#19 row 4).

mod common;

use std::collections::BTreeMap;

use amlctl_manifest::ComputeType::AmlCompute;
use amlctl_plan::{Action, PlanOptions};
use common::*;

/// Alias `a` and alias `b` (prune: true) name the same workspace, in different case.
fn two_aliases() -> BTreeMap<String, amlctl_manifest::Workspace> {
    let a = ws("a", false);
    let mut b = ws("b", true);
    b.subscription_id = a.subscription_id.to_uppercase();
    b.resource_group = a.resource_group.to_uppercase();
    b.workspace = a.workspace.to_uppercase();
    workspaces(&[a, b])
}

#[test]
fn prune_through_a_second_alias_never_removes_a_declared_compute() {
    let mut t = target(AmlCompute, "cpu", aml_spec());
    t.workspace = "a".into();
    t.lifecycle.prevent_destroy = true;
    let l = live(AmlCompute, "cpu", aml_spec());
    let live = BTreeMap::from([
        ("a".to_string(), vec![l.clone()]),
        ("b".to_string(), vec![l]),
    ]);
    let plan = amlctl_plan::plan(&[t], &two_aliases(), &live, &PlanOptions::default());
    assert!(
        !plan.entries.iter().any(|e| e
            .actions
            .iter()
            .any(|a| matches!(a, Action::Delete | Action::Detach))),
        "{:?}",
        plan.entries
    );
}

#[test]
fn prevent_destroy_of_one_alias_blocks_a_replace_through_another() {
    // `a` protects cpu; `b` declares the same compute with a different size (a replace).
    let mut protected = target(AmlCompute, "cpu", aml_spec());
    protected.workspace = "a".into();
    protected.lifecycle.prevent_destroy = true;
    let mut spec = aml_spec();
    spec["size"] = serde_json::json!("Standard_NC6");
    let mut other = allow_replace(target(AmlCompute, "CPU", spec));
    other.workspace = "b".into();
    let l = live(AmlCompute, "cpu", aml_spec());
    let live = BTreeMap::from([
        ("a".to_string(), vec![l.clone()]),
        ("b".to_string(), vec![l]),
    ]);
    let plan = amlctl_plan::plan(
        &[protected, other],
        &two_aliases(),
        &live,
        &PlanOptions::default(),
    );
    assert!(
        plan.errors
            .iter()
            .any(|e| e.message.contains("prevent_destroy")),
        "{:?}",
        plan.errors
    );
    assert!(
        !plan
            .entries
            .iter()
            .any(|e| e.actions.contains(&Action::Delete) || e.actions.contains(&Action::Replace))
    );
}
