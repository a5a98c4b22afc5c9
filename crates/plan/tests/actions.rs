//! Table-driven tests: one case per action and per planning rule.

mod common;

use std::collections::BTreeSet;

use amlctl_manifest::ComputeType::{self, *};
use amlctl_manifest::{DesiredState, LiveCompute, REDACTED, Target};
use amlctl_plan::{Action, Method, Plan, PlanOptions, Policy};
use common::*;
use serde_json::json;

struct Case {
    name: &'static str,
    target: Option<Target>,
    live: Option<LiveCompute>,
    prune: bool,
    opts: PlanOptions,
    actions: &'static [Action],
    /// (method, path suffix after the compute path, underlyingResourceAction)
    steps: &'static [(&'static str, &'static str, Option<&'static str>)],
    reason: &'static str,
}

fn case(name: &'static str, target: Option<Target>, live: Option<LiveCompute>) -> Case {
    Case {
        name,
        target,
        live,
        prune: false,
        opts: PlanOptions::default(),
        actions: &[],
        steps: &[],
        reason: "",
    }
}

fn replace_opt(n: &str) -> PlanOptions {
    PlanOptions {
        replace: BTreeSet::from([n.to_string()]),
        ..PlanOptions::default()
    }
}

fn aml(spec: serde_json::Value) -> Target {
    target(AmlCompute, "cpu", spec)
}

fn laml(spec: serde_json::Value) -> LiveCompute {
    live(AmlCompute, "cpu", spec)
}

fn ci(spec: serde_json::Value) -> Target {
    target(ComputeInstance, "ci-alice", spec)
}

fn lci(spec: serde_json::Value) -> LiveCompute {
    live(ComputeInstance, "ci-alice", spec)
}

#[allow(clippy::vec_init_then_push)] // one push per case reads as a table
fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    v.push(Case {
        actions: &[Action::NoOp],
        reason: "up to date",
        ..case("no-op", Some(aml(aml_spec())), Some(laml(aml_spec())))
    });
    v.push(Case {
        actions: &[Action::Create],
        steps: &[("PUT", "", None)],
        reason: "does not exist: create (PUT)",
        ..case("create", Some(aml(aml_spec())), None)
    });
    v.push(Case {
        actions: &[Action::Create, Action::Stop],
        steps: &[("PUT", "", None), ("POST", "/stop", None)],
        reason: "then stop it (state: stopped)",
        ..case(
            "create stopped instance",
            Some(with_state(ci(ci_spec()), DesiredState::Stopped)),
            None,
        )
    });
    v.push(Case {
        actions: &[Action::Attach],
        steps: &[("PUT", "", None)],
        reason: "not attached yet: attach (PUT)",
        ..case(
            "attach",
            Some(with_secret(
                target(VirtualMachine, "dsvm-a", vm_spec()),
                "ssh_settings.admin_password",
                "VM_PW",
            )),
            None,
        )
    });
    let mut bigger = aml_spec();
    bigger["max_instances"] = json!(4);
    v.push(Case {
        actions: &[Action::Update],
        steps: &[("PATCH", "", None)],
        reason: "max_instances 2 → 4, in place (PATCH)",
        ..case(
            "update scale settings (PATCH)",
            Some(aml(bigger)),
            Some(laml(aml_spec())),
        )
    });
    let mut descr = aml_spec();
    descr["description"] = json!("CPU cluster");
    v.push(Case {
        actions: &[Action::Update],
        steps: &[("PUT", "", None)],
        reason: "description GPU cluster → CPU cluster, in place (PUT)",
        ..case(
            "update description (PUT)",
            Some(aml(descr)),
            Some(laml(aml_spec())),
        )
    });
    let mut tags = aml_spec();
    tags["tags"] = json!({"team": "ml", "cost": "42"});
    v.push(Case {
        actions: &[Action::Update],
        steps: &[("PUT", "", None)],
        reason: "tags.cost (none) → 42, in place (PUT)",
        ..case("update tags (PUT)", Some(aml(tags)), Some(laml(aml_spec())))
    });
    let mut ident = aml_spec();
    ident["identity"] = json!({"type": "system_assigned"});
    ident["max_instances"] = json!(3);
    v.push(Case {
        actions: &[Action::Update],
        steps: &[("PUT", "", None)],
        reason: "in place (PUT)",
        ..case(
            "identity and scale: one PUT",
            Some(aml(ident)),
            Some(laml(aml_spec())),
        )
    });
    let mut resized = ci_spec();
    resized["size"] = json!("Standard_NC6");
    v.push(Case {
        actions: &[Action::Replace],
        steps: &[("DELETE", "", Some("Delete")), ("PUT", "", None)],
        reason: "size Standard_DS3_v2 → Standard_NC6 forces replacement (compute instances cannot be resized)",
        ..case("replace allowed by lifecycle", Some(allow_replace(ci(resized.clone()))), Some(lci(ci_spec())))
    });
    v.push(Case {
        opts: replace_opt("ci-alice"),
        actions: &[Action::Replace],
        steps: &[("DELETE", "", Some("Delete")), ("PUT", "", None)],
        reason: "forces replacement",
        ..case(
            "replace allowed by --replace NAME",
            Some(ci(resized.clone())),
            Some(lci(ci_spec())),
        )
    });
    v.push(Case {
        opts: replace_opt("dev/ci-alice"),
        actions: &[Action::Replace],
        steps: &[("DELETE", "", Some("Delete")), ("PUT", "", None)],
        reason: "forces replacement",
        ..case(
            "replace allowed by --replace ADDRESS",
            Some(ci(resized.clone())),
            Some(lci(ci_spec())),
        )
    });
    v.push(Case {
        opts: replace_opt("cpu"),
        actions: &[Action::Replace],
        steps: &[("DELETE", "", Some("Delete")), ("PUT", "", None)],
        reason: "replacement requested with --replace",
        ..case(
            "forced replace, nothing drifted (secret rotation)",
            Some(aml(aml_spec())),
            Some(laml(aml_spec())),
        )
    });
    v.push(Case {
        actions: &[Action::Replace, Action::Stop],
        steps: &[
            ("DELETE", "", Some("Delete")),
            ("PUT", "", None),
            ("POST", "/stop", None),
        ],
        reason: "forces replacement",
        ..case(
            "replace a stopped instance: stop the new one",
            Some(with_state(
                allow_replace(ci(resized)),
                DesiredState::Stopped,
            )),
            Some(instance(lci(ci_spec()), "Stopped")),
        )
    });
    let mut moved = vm_spec();
    moved["resource_id"] = json!(VM_ID.replace("dsvm1", "dsvm2"));
    v.push(Case {
        actions: &[Action::Replace],
        steps: &[("DELETE", "", Some("Detach")), ("PUT", "", None)],
        reason: "detach then attach again",
        ..case(
            "replace an attachment: detach, never delete",
            Some(allow_replace(with_secret(
                target(VirtualMachine, "dsvm-a", moved),
                "ssh_settings.admin_password",
                "PW",
            ))),
            Some(live(VirtualMachine, "dsvm-a", vm_live_spec())),
        )
    });
    v.push(Case {
        prune: true,
        actions: &[Action::Delete],
        steps: &[("DELETE", "", Some("Delete"))],
        reason: "prune: true: delete",
        ..case(
            "prune deletes an owned cluster",
            None,
            Some(laml(aml_spec())),
        )
    });
    v.push(Case {
        prune: true,
        actions: &[Action::Detach],
        steps: &[("DELETE", "", Some("Detach"))],
        reason: "the attached resource itself is kept",
        ..case(
            "prune detaches an owned attachment",
            None,
            Some(live(Kubernetes, "k8s", json!({"namespace": "default"}))),
        )
    });
    v.push(Case {
        actions: &[Action::Start],
        steps: &[("POST", "/start", None)],
        reason: "instance is Stopped, manifest says state: running: start it",
        ..case(
            "start",
            Some(with_state(ci(ci_spec()), DesiredState::Running)),
            Some(instance(lci(ci_spec()), "Stopped")),
        )
    });
    v.push(Case {
        actions: &[Action::Stop],
        steps: &[("POST", "/stop", None)],
        reason: "instance is Running, manifest says state: stopped: stop it",
        ..case(
            "stop",
            Some(with_state(ci(ci_spec()), DesiredState::Stopped)),
            Some(instance(lci(ci_spec()), "Running")),
        )
    });
    let mut sched = ci_spec();
    sched["schedules"]["compute_start_stop"][0]["action"] = json!("start");
    // Issue #14 rule 4: a compute instance is never updated by PUT; a schedule change is a
    // gated replace with the home-directory warning (this case was an in-place PUT before).
    v.push(Case {
        actions: &[Action::Replace],
        steps: &[("DELETE", "", Some("Delete")), ("PUT", "", None)],
        reason: "schedules.compute_start_stop changed forces replacement (compute instances are not updated by PUT): delete then create again (WARNING: a compute instance holds its user's home directory",
        ..case(
            "instance schedule change replaces",
            Some(allow_replace(with_state(ci(sched), DesiredState::Running))),
            Some(instance(lci(ci_spec()), "Stopped")),
        )
    });
    for ps in ["Creating", "Updating", "Deleting"] {
        v.push(Case {
            actions: &[Action::Wait],
            reason: "wait for the running operation to finish, then plan again",
            ..case(
                "wait",
                Some(aml(aml_spec())),
                Some(in_state(laml(aml_spec()), ps)),
            )
        });
    }
    v.push(Case {
        actions: &[Action::Wait],
        reason: "instance is Stopping: wait",
        ..case(
            "wait for an instance",
            Some(with_state(ci(ci_spec()), DesiredState::Running)),
            Some(instance(lci(ci_spec()), "Stopping")),
        )
    });
    v.push(Case {
        actions: &[Action::Update],
        steps: &[("PUT", "", None)],
        reason: "live provisioningState is Canceled",
        ..case(
            "canceled cluster → send the manifest again",
            Some(aml(aml_spec())),
            Some(in_state(laml(aml_spec()), "Canceled")),
        )
    });
    // A compute instance is never updated by PUT (issue #14 rule 4): a canceled create is
    // replaced like a failed one (this case was a PUT before).
    v.push(Case {
        actions: &[Action::Replace],
        steps: &[("DELETE", "", Some("Delete")), ("PUT", "", None)],
        reason: "live provisioningState is Canceled (no error details) and it never worked",
        ..case(
            "canceled instance that never left Creating → replace",
            Some(allow_replace(with_state(
                ci(ci_spec()),
                DesiredState::Running,
            ))),
            Some(instance(in_state(lci(ci_spec()), "Canceled"), "Creating")),
        )
    });
    let mut failed = in_state(laml(aml_spec()), "Failed");
    failed.provisioning_errors =
        vec![json!({"error": {"code": "QuotaExceeded", "message": "Not enough cores quota"}})];
    v.push(Case {
        actions: &[Action::Replace],
        steps: &[("DELETE", "", Some("Delete")), ("PUT", "", None)],
        reason: "live provisioningState is Failed (QuotaExceeded: Not enough cores quota)",
        ..case(
            "failed → replace",
            Some(allow_replace(aml(aml_spec()))),
            Some(failed),
        )
    });
    let mut ignored = aml_spec();
    ignored["size"] = json!("Standard_NC6");
    let mut t = aml(ignored);
    t.lifecycle.ignore_changes = vec!["size".into()];
    v.push(Case {
        actions: &[Action::NoOp],
        reason: "up to date (drift ignored by lifecycle.ignore_changes: size)",
        ..case("ignore_changes", Some(t), Some(laml(aml_spec())))
    });
    v.push(Case {
        actions: &[Action::NoOp],
        ..case(
            "a secret is never diffable",
            Some(with_secret(
                target(VirtualMachine, "dsvm-a", vm_spec()),
                "ssh_settings.admin_password",
                "PW",
            )),
            Some(live(VirtualMachine, "dsvm-a", vm_live_spec())),
        )
    });
    v.push(Case {
        actions: &[Action::Replace],
        steps: &[("DELETE", "", Some("Delete")), ("PUT", "", None)],
        reason: "type computeinstance → amlcompute forces replacement",
        ..case(
            "type change",
            Some(allow_replace(target(AmlCompute, "ci-alice", aml_spec()))),
            Some(lci(ci_spec())),
        )
    });
    v
}

fn check(c: &Case, plan: &Plan) {
    let entry = plan
        .entries
        .first()
        .unwrap_or_else(|| panic!("{}: no entry; errors {:?}", c.name, plan.errors));
    assert!(
        plan.errors.is_empty(),
        "{}: errors {:?}",
        c.name,
        plan.errors
    );
    assert_eq!(plan.entries.len(), 1, "{}", c.name);
    assert_eq!(entry.actions, c.actions, "{}: {}", c.name, entry.reason);
    assert!(
        entry.reason.contains(c.reason),
        "{}: reason {:?} lacks {:?}",
        c.name,
        entry.reason,
        c.reason
    );
    let base = ws("dev", c.prune).compute_path(&entry.name);
    let got: Vec<(String, String, Option<String>)> = entry
        .steps
        .iter()
        .map(|s| {
            (
                s.method.to_string(),
                s.path.strip_prefix(&base).unwrap_or(&s.path).to_string(),
                s.query.get("underlyingResourceAction").cloned(),
            )
        })
        .collect();
    let want: Vec<(String, String, Option<String>)> = c
        .steps
        .iter()
        .map(|(m, p, u)| (m.to_string(), p.to_string(), u.map(str::to_string)))
        .collect();
    assert_eq!(got, want, "{}", c.name);
    for s in &entry.steps {
        assert!(
            s.query.contains_key("api-version"),
            "{}: no api-version",
            c.name
        );
        assert!(s.path.starts_with(&base), "{}: {}", c.name, s.path);
    }
    if c.actions.contains(&Action::Wait) || c.actions == [Action::NoOp] {
        assert!(entry.steps.is_empty(), "{}", c.name);
    }
}

#[test]
fn every_action() {
    for c in cases() {
        let plan = run(
            &c.target.iter().cloned().collect::<Vec<_>>(),
            c.live.iter().cloned().collect(),
            c.prune,
            &c.opts,
        );
        check(&c, &plan);
    }
}

#[test]
fn patch_body_holds_the_full_desired_scale_settings() {
    let mut bigger = aml_spec();
    bigger["max_instances"] = json!(4);
    let plan = plan1(aml(bigger), Some(laml(aml_spec())));
    let step = &plan.entries[0].steps[0];
    assert_eq!(step.method, Method::Patch);
    let body = step.body.clone().expect("body");
    let scale = &body["properties"]["properties"]["scaleSettings"];
    assert_eq!(scale["maxNodeCount"], json!(4));
    assert_eq!(scale["minNodeCount"], json!(0));
    assert_eq!(scale["nodeIdleTimeBeforeScaleDown"], json!("PT2M"));
    assert_eq!(body.as_object().map(|m| m.len()), Some(1));
    let change = &plan.entries[0].changes[0];
    assert_eq!(change.key, "max_instances");
    assert_eq!(change.before, Some(json!(2)));
    assert_eq!(change.after, Some(json!(4)));
    assert_eq!(change.policy, Policy::InPlacePatch);
}

#[test]
fn replace_needs_permission() {
    let mut resized = ci_spec();
    resized["size"] = json!("Standard_NC6");
    let mut t = ci(resized);
    t.key_locations.insert(
        "size".into(),
        amlctl_manifest::SourceLocation {
            file: "manifests/ci.yaml".into(),
            line: 3,
            column: 7,
        },
    );
    let plan = plan1(t, Some(lci(ci_spec())));
    assert!(plan.entries.is_empty(), "{:?}", plan.entries);
    assert_eq!(plan.errors.len(), 1);
    let e = &plan.errors[0];
    assert_eq!(e.address, "dev/ci-alice");
    assert!(
        e.message
            .contains("size Standard_DS3_v2 → Standard_NC6 forces replacement"),
        "{}",
        e.message
    );
    assert!(e.message.contains("not allowed"), "{}", e.message);
    let hint = e.hint.as_deref().unwrap_or_default();
    assert!(hint.contains("lifecycle: {allow_replace: true}"), "{hint}");
    assert!(hint.contains("--replace dev/ci-alice"), "{hint}");
    assert_eq!(
        e.source.as_ref().map(|s| s.line),
        Some(3),
        "error points at the key"
    );
}

#[test]
fn prevent_destroy_blocks_replace_even_when_allowed() {
    let mut resized = ci_spec();
    resized["size"] = json!("Standard_NC6");
    let mut t = allow_replace(ci(resized));
    t.lifecycle.prevent_destroy = true;
    let plan = run(&[t], vec![lci(ci_spec())], false, &replace_opt("ci-alice"));
    assert!(plan.entries.is_empty());
    assert_eq!(plan.errors.len(), 1);
    assert!(
        plan.errors[0].message.contains("prevent_destroy"),
        "{}",
        plan.errors[0].message
    );
}

#[test]
fn failed_needs_permission_too() {
    let mut failed = in_state(laml(aml_spec()), "Failed");
    failed.provisioning_errors =
        vec![json!({"error": {"code": "QuotaExceeded", "message": "no quota"}})];
    let plan = plan1(aml(aml_spec()), Some(failed));
    assert!(plan.entries.is_empty());
    assert!(
        plan.errors[0].message.contains("QuotaExceeded: no quota"),
        "{}",
        plan.errors[0].message
    );
}

#[test]
fn unmanaged_computes_are_left_alone() {
    // No prune: listed, never touched (even with the ownership tag).
    let plan = run(&[], vec![laml(aml_spec())], false, &PlanOptions::default());
    assert!(plan.entries.is_empty());
    assert_eq!(plan.unmanaged.len(), 1);
    assert_eq!(plan.unmanaged[0].address, "dev/cpu");
    assert_eq!(plan.unmanaged[0].compute_type, "AmlCompute");
    assert!(!plan.has_changes());
    // Prune without the ownership tag: still left alone.
    let plan = run(
        &[],
        vec![unowned(laml(aml_spec()))],
        true,
        &PlanOptions::default(),
    );
    assert!(plan.entries.is_empty());
    assert!(
        plan.unmanaged[0]
            .note
            .contains("does not carry managed-by: amlctl"),
        "{}",
        plan.unmanaged[0].note
    );
    // Unknown compute type: never touched.
    let mut odd = live(AmlCompute, "odd", json!({}));
    odd.compute_type = None;
    odd.raw["properties"]["computeType"] = json!("BatchAI");
    let plan = run(&[], vec![odd], true, &PlanOptions::default());
    assert!(plan.entries.is_empty());
    assert_eq!(plan.unmanaged[0].compute_type, "BatchAI");
}

#[test]
fn a_declared_compute_is_never_pruned() {
    let plan = run(
        &[aml(aml_spec())],
        vec![laml(aml_spec())],
        true,
        &PlanOptions::default(),
    );
    assert_eq!(plan.entries.len(), 1);
    assert_eq!(plan.entries[0].actions, [Action::NoOp]);
    assert!(plan.unmanaged.is_empty());
}

#[test]
fn attached_types_are_detached_never_deleted() {
    for ct in ComputeType::ALL.into_iter().filter(|c| c.is_attached()) {
        let plan = run(
            &[],
            vec![live(ct, "x", json!({}))],
            true,
            &PlanOptions::default(),
        );
        let e = &plan.entries[0];
        assert_eq!(e.actions, [Action::Detach], "{ct}");
        assert_eq!(
            e.steps[0]
                .query
                .get("underlyingResourceAction")
                .map(String::as_str),
            Some("Detach"),
            "{ct}"
        );
        assert_eq!(
            e.steps[0].query.get("api-version").map(String::as_str),
            Some(ct.api_version()),
            "{ct}"
        );
    }
    for ct in [AmlCompute, ComputeInstance] {
        let plan = run(
            &[],
            vec![live(ct, "x", json!({}))],
            true,
            &PlanOptions::default(),
        );
        assert_eq!(plan.entries[0].actions, [Action::Delete], "{ct}");
    }
}

#[test]
fn secrets_never_show_and_never_leak() {
    let t = with_secret(
        target(VirtualMachine, "dsvm-a", vm_spec()),
        "ssh_settings.admin_password",
        "PW",
    );
    // Create: the secret shows as a sensitive change with the placeholder only.
    let plan = plan1(t.clone(), None);
    let e = &plan.entries[0];
    let pw = e
        .changes
        .iter()
        .find(|c| c.key == "ssh_settings.admin_password")
        .expect("secret listed on create");
    assert!(pw.sensitive);
    assert_eq!(pw.policy, Policy::WriteOnlySecret);
    assert_eq!(pw.after, Some(json!(REDACTED)));
    // Existing: never a change, whatever the live side says.
    let mut l = live(VirtualMachine, "dsvm-a", vm_live_spec());
    l.spec["ssh_settings"]["admin_password"] = json!("something-else");
    let plan = plan1(t, Some(l));
    assert_eq!(plan.entries[0].actions, [Action::NoOp]);
    assert!(plan.entries[0].changes.is_empty());
}

#[test]
fn filters() {
    let targets = vec![aml(aml_spec()), ci(ci_spec())];
    let lives = vec![];
    let only = |targets_f: &[&str], ws_f: &[&str]| {
        let opts = PlanOptions {
            targets: targets_f.iter().map(|s| s.to_string()).collect(),
            workspaces: ws_f.iter().map(|s| s.to_string()).collect(),
            ..PlanOptions::default()
        };
        run(&targets, lives.clone(), false, &opts)
    };
    let p = only(&["cpu"], &[]);
    assert_eq!(
        p.entries
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>(),
        ["cpu"]
    );
    let p = only(&["dev/ci-alice"], &[]);
    assert_eq!(
        p.entries
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>(),
        ["ci-alice"]
    );
    let p = only(&[], &["prod"]);
    assert!(p.entries.is_empty());
    // A filter that matches nothing is an error (a typo must not pass CI), with a suggestion.
    assert!(
        p.errors
            .iter()
            .any(|e| e.message.contains("--workspace prod")),
        "{:?}",
        p.errors
    );
    let p = only(&["nope"], &[]);
    assert!(p.entries.is_empty());
    assert!(
        p.errors.iter().any(|e| e.message.contains("--target nope")),
        "{:?}",
        p.errors
    );
    let p = only(&["cpuu"], &[]);
    assert!(
        p.errors.iter().any(|e| e
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("did you mean `cpu`"))),
        "{:?}",
        p.errors
    );
    let p = only(&[], &["dev"]);
    assert_eq!(p.entries.len(), 2);
    // A filter also limits pruning.
    let p = run(
        &[],
        vec![laml(aml_spec()), live(AmlCompute, "other", json!({}))],
        true,
        &PlanOptions {
            targets: vec!["other".into()],
            ..PlanOptions::default()
        },
    );
    assert_eq!(
        p.entries
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>(),
        ["other"]
    );
}

#[test]
fn replace_of_an_unknown_name_is_an_error() {
    let p = run(
        &[aml(aml_spec())],
        vec![laml(aml_spec())],
        false,
        &replace_opt("nope"),
    );
    assert!(
        p.errors
            .iter()
            .any(|e| e.message.contains("--replace nope")),
        "{:?}",
        p.errors
    );
}

#[test]
fn configuration_errors() {
    // Unknown workspace.
    let mut t = aml(aml_spec());
    t.workspace = "prod".into();
    let p = run(&[t], vec![], false, &PlanOptions::default());
    assert!(
        p.errors[0]
            .message
            .contains("workspace prod is not defined"),
        "{:?}",
        p.errors
    );
    // Declared twice.
    let p = run(
        &[aml(aml_spec()), aml(aml_spec())],
        vec![],
        false,
        &PlanOptions::default(),
    );
    assert!(
        p.errors[0].message.contains("more than once"),
        "{:?}",
        p.errors
    );
    // Live state not read.
    let p = amlctl_plan::plan(
        &[aml(aml_spec())],
        &workspaces(&[ws("dev", false)]),
        &Default::default(),
        &PlanOptions::default(),
    );
    assert!(p.errors[0].message.contains("not read"), "{:?}", p.errors);
    // Same name, unknown live type.
    let mut odd = laml(json!({}));
    odd.compute_type = None;
    let p = plan1(aml(aml_spec()), Some(odd));
    assert!(
        p.errors[0].message.contains("does not manage"),
        "{:?}",
        p.errors
    );
}

#[test]
fn summary_and_has_changes() {
    let mut bigger = aml_spec();
    bigger["max_instances"] = json!(4);
    let p = run(
        &[aml(bigger), target(AmlCompute, "new", json!({}))],
        vec![laml(aml_spec()), live(AmlCompute, "gone", json!({}))],
        true,
        &PlanOptions::default(),
    );
    let s = p.summary();
    assert_eq!((s.add, s.change, s.destroy), (1, 1, 1));
    assert!(p.has_changes());
    assert_eq!(s.line(), "Plan: 1 to add, 1 to change, 1 to destroy.");
    let p = plan1(aml(aml_spec()), Some(laml(aml_spec())));
    assert!(!p.has_changes());
    assert_eq!(p.summary(), Default::default());
}

#[test]
fn entries_are_sorted_and_the_plan_is_deterministic() {
    let targets = vec![
        target(AmlCompute, "bbb", json!({})),
        target(AmlCompute, "aaa", json!({})),
    ];
    let p1 = run(&targets, vec![], false, &PlanOptions::default());
    let rev: Vec<Target> = targets.iter().rev().cloned().collect();
    let p2 = run(&rev, vec![], false, &PlanOptions::default());
    assert_eq!(p1, p2);
    assert_eq!(
        p1.entries
            .iter()
            .map(|e| e.address.as_str())
            .collect::<Vec<_>>(),
        ["dev/aaa", "dev/bbb"]
    );
}

#[test]
fn secret_looking_live_values_are_redacted() {
    // ARM never returns secrets; if a live object ever held one, no output may show it.
    let l = live(
        Kubernetes,
        "k8s",
        json!({"namespace": "default", "properties": {"relayConnectionString": "Endpoint=sb://leak", "vcName": "vc"}}),
    );
    let plan = run(&[], vec![l.clone()], true, &PlanOptions::default());
    let text = serde_json::to_string(&plan).expect("json");
    assert!(!text.contains("sb://leak"), "{text}");
    assert!(text.contains("\"vc\""), "non-secret values stay");
    // An in-place update sends the live object back: never with the secret-looking value.
    // (Only clusters change in place now: attachments are detached and attached again.)
    let mut leaky = aml_spec();
    leaky["ssh_settings"] = json!({"admin_username": "u", "admin_password": "sb://leak"});
    let l = laml(leaky);
    let mut descr = aml_spec();
    descr["description"] = json!("x");
    let t = aml(descr);
    let plan = run(&[t], vec![l], false, &PlanOptions::default());
    assert_eq!(plan.entries[0].actions, [Action::Update]);
    let text = serde_json::to_string(&plan).expect("json");
    assert!(!text.contains("sb://leak"), "{text}");
}

#[test]
fn unmet_keys_compares_like_the_planner() {
    let after = obj(aml_spec());
    let mut quirky = aml_spec();
    quirky["size"] = json!("STANDARD_DS3_V2");
    quirky["idle_time_before_scale_down"] = json!("PT2M");
    quirky["extra_server_field"] = json!(1);
    assert!(amlctl_plan::unmet_keys(AmlCompute, &after, &obj(quirky.clone())).is_empty());
    quirky["size"] = json!("Standard_NC6");
    quirky["tags"] = json!({"team": "other"});
    assert_eq!(
        amlctl_plan::unmet_keys(AmlCompute, &after, &obj(quirky)),
        ["size", "tags.team"]
    );
}

#[test]
fn names_in_options_compare_case_insensitively() {
    let mut resized = ci_spec();
    resized["size"] = json!("Standard_NC6");
    for r in ["CI-Alice", "dev/CI-ALICE"] {
        let p = run(
            &[ci(resized.clone())],
            vec![lci(ci_spec())],
            false,
            &replace_opt(r),
        );
        assert!(p.errors.is_empty(), "{r}: {:?}", p.errors);
        assert_eq!(p.entries[0].actions, [Action::Replace], "{r}");
    }
    // The alias is not a compute name: it stays exact.
    let p = run(
        &[ci(resized)],
        vec![lci(ci_spec())],
        false,
        &replace_opt("DEV/ci-alice"),
    );
    assert!(p.entries.is_empty());
    let opts = PlanOptions {
        targets: vec!["CPU".into()],
        ..PlanOptions::default()
    };
    let p = run(&[aml(aml_spec())], vec![], false, &opts);
    assert_eq!(p.entries.len(), 1);
}

#[test]
fn in_place_bodies_keep_live_values_of_keys_the_user_did_not_write() {
    // An adopted cluster: created elsewhere with a size and idle time the manifest leaves out.
    let live_spec = json!({
        "size": "Standard_NC24", "min_instances": 1, "max_instances": 2,
        "idle_time_before_scale_down": 600, "ssh_public_access_enabled": false,
        "tags": {"team": "ml", "owner": "someone"},
    });
    // PATCH: only max_instances written; min and idle stay as they are.
    let plan = plan1(
        aml(json!({"max_instances": 5})),
        Some(laml(live_spec.clone())),
    );
    let step = &plan.entries[0].steps[0];
    assert_eq!(step.method, Method::Patch);
    let scale = &step.body.as_ref().expect("body")["properties"]["properties"]["scaleSettings"];
    assert_eq!(scale["maxNodeCount"], json!(5));
    assert_eq!(scale["minNodeCount"], json!(1));
    assert_eq!(scale["nodeIdleTimeBeforeScaleDown"], json!("PT10M"));
    // PUT: the description is new; size and SSH access keep their live values (no SDK
    // default would try to resize the cluster), the written tags replace the live ones.
    let plan = plan1(
        aml(json!({"description": "adopted", "tags": {"team": "ml"}})),
        Some(laml(live_spec)),
    );
    let e = &plan.entries[0];
    assert_eq!(e.actions, [Action::Update], "{}", e.reason);
    let body = e.steps[0].body.as_ref().expect("body");
    assert_eq!(e.steps[0].method, Method::Put);
    assert_eq!(body["properties"]["description"], json!("adopted"));
    assert_eq!(
        body["properties"]["properties"]["vmSize"],
        json!("Standard_NC24")
    );
    assert_eq!(
        body["properties"]["properties"]["remoteLoginPortPublicAccess"],
        json!("Disabled")
    );
    assert_eq!(body["tags"]["team"], json!("ml"));
    assert!(
        body["tags"].get("owner").is_none(),
        "written tags are the whole map"
    );
    assert_eq!(
        body["tags"][amlctl_manifest::OWNERSHIP_TAG],
        json!("amlctl")
    );
    // A creation still uses the manifest alone.
    let plan = plan1(aml(json!({"description": "new"})), None);
    let body = plan.entries[0].steps[0].body.as_ref().expect("body");
    assert_eq!(
        body["properties"]["properties"]["vmSize"],
        json!("STANDARD_DS3_V2")
    );
}
