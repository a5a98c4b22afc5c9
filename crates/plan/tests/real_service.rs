//! Issue #14 "Plans that are right on the real service": table tests of rules 1 (unverifiable
//! keys), 4 (compute instances are not updated by PUT), 5 (attachments change by detach and
//! re-attach) and 7 (failed and unknown states). The live shapes follow the real-service
//! recordings in `/work/shared/arm-recordings`.

mod common;

use amlctl_manifest::ComputeType::*;
use amlctl_manifest::{DesiredState, LiveCompute, from_arm};
use amlctl_plan::{Action, Plan, PlanOptions, Policy, render};
use common::*;
use serde_json::{Value, json};

fn methods(plan: &Plan) -> Vec<String> {
    plan.entries[0]
        .steps
        .iter()
        .map(|s| {
            let q = s
                .query
                .get("underlyingResourceAction")
                .map_or(String::new(), |u| format!("?{u}"));
            format!("{}{q}", s.method)
        })
        .collect()
}

fn one_error(plan: &Plan) -> String {
    assert!(plan.entries.is_empty(), "{:?}", plan.entries);
    assert_eq!(plan.errors.len(), 1, "{:?}", plan.errors);
    plan.errors[0].message.clone()
}

// ---------------------------------------------------------------- rule 1

/// The GET of the recording cli-ml-compute_instance_with_schedules [7] (2022-10-01-preview):
/// `enableNodePublicIp` missing, none of the instance flags, `adminPublicKey: null`.
fn recorded_instance_get() -> Value {
    json!({
        "id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/computes/ci-alice",
        "name": "ci-alice",
        "location": "eastus",
        "tags": {"managed-by": "amlctl"},
        "properties": {
            "computeType": "ComputeInstance",
            "provisioningState": "Succeeded",
            "description": null,
            "properties": {
                "vmSize": "STANDARD_DS3_V2",
                "sshSettings": {"sshPublicAccess": "Disabled", "adminUserName": "azureuser", "sshPort": 4001, "adminPublicKey": null},
                "state": "Running",
                "lastOperation": {"operationName": "Create", "operationStatus": "Succeeded", "operationTrigger": "User"},
                "schedules": {"computeStartStop": []}
            }
        }
    })
}

#[test]
fn declared_keys_the_service_does_not_return_are_unverifiable_not_a_diff() {
    let lc = from_arm(&recorded_instance_get()).expect("compute");
    let t = target(
        ComputeInstance,
        "ci-alice",
        json!({
            "size": "Standard_DS3_v2",
            "enable_node_public_ip": false,
            "enable_root_access": false,
            "enable_sso": true,
            "ssh_settings": {"ssh_key_value": "ssh-rsa AAAA"},
        }),
    );
    let plan = plan1(t, Some(lc));
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    let e = &plan.entries[0];
    assert_eq!(e.actions, [Action::NoOp], "{}", e.reason);
    assert_eq!(
        e.unverifiable,
        [
            "enable_node_public_ip",
            "enable_root_access",
            "enable_sso",
            "ssh_settings.ssh_key_value"
        ]
    );
    // Said once per target, in text, Markdown and JSON.
    let text = render::text(&plan, false);
    assert!(text.contains("No changes."), "{text}");
    assert_eq!(text.matches("Cannot be verified after creation").count(), 1);
    assert!(
        text.contains("dev/ci-alice: enable_node_public_ip, enable_root_access, enable_sso, ssh_settings.ssh_key_value"),
        "{text}"
    );
    let md = render::markdown(&plan).join("");
    assert!(md.contains("Cannot be verified after creation"), "{md}");
    assert!(md.contains("`enable_root_access`"), "{md}");
    let v = render::json(&plan);
    assert_eq!(v["entries"][0]["unverifiable"][0], "enable_node_public_ip");
}

#[test]
fn null_and_absent_are_the_same_and_a_returned_value_still_diffs() {
    // A password is always `null` on GET: a declared username that is returned still diffs.
    let mut raw = recorded_instance_get();
    raw["properties"]["properties"]["enableSSO"] = json!(false);
    let lc = from_arm(&raw).expect("compute");
    let t = allow_replace(target(
        ComputeInstance,
        "ci-alice",
        json!({"size": "Standard_DS3_v2", "enable_sso": true}),
    ));
    let plan = plan1(t, Some(lc));
    let e = &plan.entries[0];
    assert_eq!(e.actions, [Action::Replace], "{}", e.reason);
    assert!(e.unverifiable.is_empty());
}

#[test]
fn description_is_returned_on_get_so_null_means_none() {
    // Every recorded GET carries `properties.description` (null when unset): adding one to a
    // cluster is a change, not an unverifiable key.
    let mut want = aml_spec();
    want["description"] = json!("nightly");
    let mut have = aml_spec();
    have.as_object_mut().map(|m| m.remove("description"));
    let plan = plan1(
        target(AmlCompute, "cpu", want),
        Some(live(AmlCompute, "cpu", have)),
    );
    let e = &plan.entries[0];
    assert_eq!(e.actions, [Action::Update], "{}", e.reason);
    assert!(e.unverifiable.is_empty());
}

#[test]
fn read_back_after_a_replace_skips_unverifiable_keys() {
    let lc = from_arm(&recorded_instance_get()).expect("compute");
    let after = obj(
        json!({"size": "Standard_DS3_v2", "enable_root_access": false, "ssh_settings": {"ssh_key_value": "ssh-rsa AAAA"}}),
    );
    assert!(amlctl_plan::unmet_keys(ComputeInstance, &after, &lc.spec).is_empty());
    let after = obj(json!({"size": "Standard_NC6"}));
    assert_eq!(
        amlctl_plan::unmet_keys(ComputeInstance, &after, &lc.spec),
        ["size"]
    );
}

// ---------------------------------------------------------------- rule 4

#[test]
fn instance_tags_description_identity_and_schedules_replace_never_put() {
    let mut cases: Vec<(&str, Value)> = Vec::new();
    let mut tags = ci_spec();
    tags["tags"] = json!({"team": "ml"});
    cases.push(("tags", tags));
    let mut descr = ci_spec();
    descr["description"] = json!("alice's box");
    cases.push(("description", descr));
    let mut ident = ci_spec();
    ident["identity"] = json!({"type": "system_assigned"});
    cases.push(("identity", ident));
    let mut sched = ci_spec();
    sched["schedules"]["compute_start_stop"][0]["trigger"]["expression"] = json!("0 20 * * *");
    cases.push(("schedules", sched));
    for (what, spec) in cases {
        // Gated: no permission, no plan.
        let plan = plan1(ci(spec.clone()), Some(lci(ci_spec())));
        let msg = one_error(&plan);
        assert!(
            msg.contains("compute instances are not updated by PUT"),
            "{what}: {msg}"
        );
        assert!(msg.contains("replacing is not allowed"), "{what}: {msg}");
        // Allowed: delete then create, with the home-directory warning; never a PUT update.
        let plan = plan1(allow_replace(ci(spec)), Some(lci(ci_spec())));
        let e = &plan.entries[0];
        assert_eq!(e.actions, [Action::Replace], "{what}: {}", e.reason);
        assert_eq!(methods(&plan), ["DELETE?Delete", "PUT"], "{what}");
        assert!(e.reason.contains("home directory"), "{what}: {}", e.reason);
        assert!(
            e.changes.iter().all(|c| c.policy == Policy::Replace),
            "{what}: {:?}",
            e.changes
        );
    }
}

#[test]
fn instance_state_still_uses_start_and_stop() {
    let plan = plan1(
        with_state(ci(ci_spec()), DesiredState::Running),
        Some(instance(lci(ci_spec()), "Stopped")),
    );
    assert_eq!(plan.entries[0].actions, [Action::Start]);
    assert_eq!(methods(&plan), ["POST"]);
    assert!(plan.entries[0].steps[0].path.ends_with("/start"));
    let plan = plan1(
        with_state(ci(ci_spec()), DesiredState::Stopped),
        Some(instance(lci(ci_spec()), "Running")),
    );
    assert_eq!(plan.entries[0].actions, [Action::Stop]);
    assert!(plan.entries[0].steps[0].path.ends_with("/stop"));
}

#[test]
fn clusters_still_change_tags_in_place() {
    let mut tags = aml_spec();
    tags["tags"] = json!({"team": "research"});
    let plan = plan1(
        target(AmlCompute, "cpu", tags),
        Some(live(AmlCompute, "cpu", aml_spec())),
    );
    assert_eq!(plan.entries[0].actions, [Action::Update]);
    assert_eq!(methods(&plan), ["PUT"]);
}

// ---------------------------------------------------------------- rule 5

#[test]
fn attachment_changes_are_a_gated_detach_and_reattach_naming_what_breaks() {
    let mut tags = vm_spec();
    tags["tags"] = json!({"team": "ml"});
    let mut descr = vm_spec();
    descr["description"] = json!("shared box");
    let mut ident = vm_spec();
    ident["identity"] = json!({"type": "system_assigned"});
    let mut port = vm_spec();
    port["ssh_settings"]["ssh_port"] = json!(2222);
    let mut moved = vm_spec();
    moved["resource_id"] = json!(VM_ID.replace("dsvm1", "dsvm2"));
    for (what, spec) in [
        ("tags", tags),
        ("description", descr),
        ("identity", ident),
        ("properties", port),
        ("resource_id", moved),
    ] {
        let t = with_secret(
            target(VirtualMachine, "dsvm", spec),
            "ssh_settings.admin_password",
            "PW",
        );
        let l = live(VirtualMachine, "dsvm", vm_live_spec());
        let plan = plan1(t.clone(), Some(l.clone()));
        let msg = one_error(&plan);
        assert!(msg.contains("replacing is not allowed"), "{what}: {msg}");
        let plan = plan1(allow_replace(t), Some(l));
        let e = &plan.entries[0];
        assert_eq!(e.actions, [Action::Replace], "{what}: {}", e.reason);
        assert_eq!(methods(&plan), ["DELETE?Detach", "PUT"], "{what}");
        assert!(
            e.reason.contains("detach then attach again"),
            "{what}: {}",
            e.reason
        );
        assert!(
            e.reason
                .contains("jobs and online deployments that name this compute"),
            "{what}: {}",
            e.reason
        );
    }
}

#[test]
fn aks_agent_count_is_no_longer_a_put() {
    let t = allow_replace(target(
        Aks,
        "aks",
        json!({"resource_id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/k", "agent_count": 5}),
    ));
    let l = live(
        Aks,
        "aks",
        json!({"resource_id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/k", "agent_count": 3}),
    );
    let plan = plan1(t, Some(l));
    assert_eq!(plan.entries[0].actions, [Action::Replace]);
    assert_eq!(methods(&plan), ["DELETE?Detach", "PUT"]);
}

// ---------------------------------------------------------------- rule 7

fn failed(mut l: LiveCompute, properties: Value) -> LiveCompute {
    l.provisioning_state = Some("Failed".into());
    l.provisioning_errors =
        vec![json!({"error": {"code": "BadArgument", "message": "the last update failed"}})];
    l.raw["properties"]["provisioningState"] = json!("Failed");
    l.raw["properties"]["properties"] = properties;
    l
}

#[test]
fn a_failed_update_of_a_working_compute_is_an_error_never_a_delete() {
    // A cluster that was provisioned once (allocationStateTransitionTime set on GET).
    let cluster = failed(
        live(AmlCompute, "cpu", aml_spec()),
        json!({"allocationState": "Steady", "allocationStateTransitionTime": "2023-01-25T22:55:06.711+00:00"}),
    );
    // An instance whose last operation was a stop (it ran).
    let inst = failed(
        live(ComputeInstance, "ci-alice", ci_spec()),
        json!({"lastOperation": {"operationName": "Stop", "operationStatus": "StopFailed"}}),
    );
    for (t, l) in [
        (
            allow_replace(target(AmlCompute, "cpu", aml_spec())),
            cluster,
        ),
        (allow_replace(ci(ci_spec())), inst),
    ] {
        let plan = plan1(t.clone(), Some(l.clone()));
        let msg = one_error(&plan);
        assert!(msg.contains("failed update"), "{msg}");
        assert!(msg.contains("BadArgument: the last update failed"), "{msg}");
        assert!(
            plan.errors[0]
                .hint
                .as_deref()
                .unwrap_or("")
                .contains("--replace")
        );
        // Only an explicit --replace deletes it.
        let plan = run(
            std::slice::from_ref(&t),
            vec![l],
            false,
            &PlanOptions {
                replace: [t.name.clone()].into(),
                ..PlanOptions::default()
            },
        );
        assert_eq!(plan.entries[0].actions, [Action::Replace]);
    }
}

#[test]
fn a_failed_create_is_a_gated_replace() {
    let cluster = failed(
        live(AmlCompute, "cpu", aml_spec()),
        json!({"allocationState": null, "allocationStateTransitionTime": null}),
    );
    let inst = failed(
        live(ComputeInstance, "ci-alice", ci_spec()),
        json!({"state": "CreateFailed", "lastOperation": {"operationName": "Create", "operationStatus": "CreateFailed"}}),
    );
    let no_last_op = failed(
        live(ComputeInstance, "ci-alice", ci_spec()),
        json!({"lastOperation": null}),
    );
    for (t, l) in [
        (target(AmlCompute, "cpu", aml_spec()), cluster),
        (ci(ci_spec()), inst),
        (ci(ci_spec()), no_last_op),
    ] {
        let msg = one_error(&plan1(t.clone(), Some(l.clone())));
        assert!(msg.contains("never worked (a failed create)"), "{msg}");
        assert!(msg.contains("replacing is not allowed"), "{msg}");
        let plan = plan1(allow_replace(t), Some(l));
        assert_eq!(plan.entries[0].actions, [Action::Replace]);
        assert_eq!(methods(&plan)[0], "DELETE?Delete");
    }
}

#[test]
fn unknown_is_transitional() {
    let plan = plan1(
        aml(),
        Some(in_state(live(AmlCompute, "cpu", aml_spec()), "Unknown")),
    );
    assert_eq!(plan.entries[0].actions, [Action::Wait], "{:?}", plan.errors);
    assert!(plan.entries[0].steps.is_empty());
}

fn aml() -> amlctl_manifest::Target {
    target(AmlCompute, "cpu", aml_spec())
}

fn ci(spec: Value) -> amlctl_manifest::Target {
    target(ComputeInstance, "ci-alice", spec)
}

fn lci(spec: Value) -> LiveCompute {
    live(ComputeInstance, "ci-alice", spec)
}

// ---------------------------------------------------------------- rule 9

#[test]
fn the_name_of_a_compute_that_exists_live_is_never_rejected() {
    // Too short and ending in `-<digits>`: both break the create rule, both exist live.
    for name in ["x1", "cluster-1"] {
        let plan = plan1(
            target(AmlCompute, name, aml_spec()),
            Some(live(AmlCompute, name, aml_spec())),
        );
        assert!(plan.errors.is_empty(), "{name}: {:?}", plan.errors);
        assert_eq!(plan.entries[0].actions, [Action::NoOp], "{name}");
    }
}

#[test]
fn a_create_follows_the_service_name_rule_at_the_name_location() {
    let mut t = target(AmlCompute, "cluster-1", aml_spec());
    let at = amlctl_manifest::SourceLocation {
        file: "manifests/cluster-1.yaml".into(),
        line: 2,
        column: 7,
    };
    t.key_locations.insert("name".into(), at.clone());
    let plan = plan1(t, None);
    let msg = one_error(&plan);
    assert!(
        msg.contains("must not end with '-' followed by digits"),
        "{msg}"
    );
    assert_eq!(plan.errors[0].source, Some(at));
    assert!(
        plan.errors[0]
            .hint
            .as_deref()
            .unwrap_or("")
            .contains("rename")
    );
}

#[test]
fn windows_and_custom_image_clusters_round_trip() {
    let image = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/win/versions/1.0.0";
    let t = target(
        AmlCompute,
        "win-cluster",
        json!({"size": "Standard_D4_v3", "max_instances": 2, "os_type": "windows", "virtual_machine_image": image}),
    );
    let body = t.to_arm(&ws("dev", false)).body;
    assert_eq!(body["properties"]["properties"]["osType"], "Windows");
    assert_eq!(
        body["properties"]["properties"]["virtualMachineImage"]["id"],
        image
    );
    // What GET returns (the body, settled) reads back as the same manifest keys: no diff.
    let mut got = body.clone();
    got["name"] = json!("win-cluster");
    got["properties"]["provisioningState"] = json!("Succeeded");
    let lc = from_arm(&got).expect("compute");
    assert_eq!(lc.spec["os_type"], "windows");
    assert_eq!(lc.spec["virtual_machine_image"], image);
    let plan = plan1(t.clone(), Some(lc.clone()));
    assert_eq!(
        plan.entries[0].actions,
        [Action::NoOp],
        "{}",
        plan.entries[0].reason
    );
    // Linux by default, and a change of OS replaces.
    let linux = target(
        AmlCompute,
        "win-cluster",
        json!({"size": "Standard_D4_v3", "max_instances": 2, "os_type": "linux", "virtual_machine_image": image}),
    );
    let plan = plan1(allow_replace(linux), Some(lc));
    assert_eq!(plan.entries[0].actions, [Action::Replace]);
    let plain = target(AmlCompute, "c-linux", json!({}));
    assert_eq!(
        plain.to_arm(&ws("dev", false)).body["properties"]["properties"]["osType"],
        "Linux"
    );
}

#[test]
fn the_loader_warns_about_a_name_it_cannot_create_and_refuses_it_only_with_strict() {
    use amlctl_manifest::{LoadOptions, load_str};
    let file = std::path::Path::new("manifests/legacy.yml");
    let text = "name: cluster-1\ntype: amlcompute\n";
    let (targets, warnings) =
        load_str(file, text, &ws("dev", false), &LoadOptions::default()).expect("loads");
    assert_eq!(targets[0].name, "cluster-1");
    assert!(
        warnings.iter().any(|w| w
            .to_string()
            .contains("invalid compute name 'cluster-1' for a new compute")),
        "{warnings:?}"
    );
    let strict = LoadOptions {
        strict: true,
        ..LoadOptions::default()
    };
    let errs = load_str(file, text, &ws("dev", false), &strict).expect_err("strict refuses");
    assert!(
        errs.iter()
            .any(|e| e.to_string().contains("legacy.yml:1:7")),
        "{errs:?}"
    );
}
