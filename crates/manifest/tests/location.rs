//! Issue #14 rule 6: every compute type but `amlcompute` lives in its workspace's region.

use amlctl_manifest::{Diagnostic, LoadOptions, load_project};

const WS: &str = "workspaces:\n  dev:\n    subscription_id: 00000000-0000-0000-0000-000000000001\n    resource_group: g\n    workspace: w\n    location: eastus\n";

fn load(file: &str, text: &str) -> Result<amlctl_manifest::Project, Vec<Diagnostic>> {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("amlctl.yaml"), WS).unwrap();
    std::fs::write(d.path().join(file), text).unwrap();
    load_project(d.path(), &LoadOptions::default())
}

#[test]
fn a_compute_instance_in_another_region_is_an_error_with_its_position() {
    let errs = load(
        "ci.yml",
        "name: ci-alice\ntype: computeinstance\nsize: Standard_DS3_v2\nlocation: westus\n",
    )
    .expect_err("westus instance in an eastus workspace");
    let e = errs.iter().find(|d| d.is_error()).unwrap();
    let text = e.to_string();
    assert!(text.contains("ci.yml:4:"), "{text}");
    assert!(text.contains("westus") && text.contains("eastus"), "{text}");
    assert!(
        e.hint
            .as_deref()
            .is_some_and(|h| h.contains("remove `location`")),
        "{text}"
    );
}

#[test]
fn an_attachment_in_another_region_is_an_error() {
    let errs = load(
        "k.yml",
        "name: k8s\ntype: kubernetes\nresource_id: /subscriptions/0/resourceGroups/g/providers/Microsoft.Kubernetes/connectedClusters/k\nlocation: West Europe\n",
    )
    .expect_err("westeurope attachment");
    assert!(
        errs.iter()
            .any(|d| d.is_error() && d.message.contains("kubernetes"))
    );
}

#[test]
fn the_workspace_region_in_any_spelling_and_clusters_anywhere_are_fine() {
    load(
        "ci.yml",
        "name: ci-alice\ntype: computeinstance\nsize: Standard_DS3_v2\nlocation: East US\n",
    )
    .unwrap_or_else(|d| panic!("{d:?}"));
    load(
        "c.yml",
        "name: cpu-central\ntype: amlcompute\nmax_instances: 2\nlocation: centralus\n",
    )
    .unwrap_or_else(|d| panic!("{d:?}"));
}
