//! Snapshot tests of the three renderers on a plan with one of every action, plus the Markdown
//! size limit and the plan file.

mod common;

use std::collections::BTreeMap;

use amlctl_manifest::ComputeType::*;
use amlctl_manifest::{DesiredState, LiveCompute, SecretRef, SourceLocation, Target};
use amlctl_plan::{
    Action, FORMAT_VERSION, Plan, PlanFile, PlanFileError, PlanOptions, SavedOptions, render,
};
use common::*;
use serde_json::json;

/// A plan with one of every action, an error, a warning and an unmanaged compute.
fn every_action() -> Plan {
    let mut targets: Vec<Target> = Vec::new();
    let mut lives: Vec<LiveCompute> = Vec::new();

    targets.push(target(AmlCompute, "cpu-cluster", aml_spec()));
    lives.push(live(AmlCompute, "cpu-cluster", aml_spec()));

    targets.push(with_secret(
        target(
            AmlCompute,
            "gpu-cluster",
            json!({"size": "Standard_NC6", "max_instances": 4, "ssh_settings": {"admin_username": "azureuser", "admin_password": "<redacted>"}}),
        ),
        "ssh_settings.admin_password",
        "GPU_PW",
    ));

    targets.push(with_state(
        target(ComputeInstance, "ci-bob", ci_spec()),
        DesiredState::Stopped,
    ));

    targets.push(with_secret(
        target(VirtualMachine, "dsvm", vm_spec()),
        "ssh_settings.admin_password",
        "VM_PW",
    ));

    let mut scale = aml_spec();
    scale["max_instances"] = json!(4);
    targets.push(target(AmlCompute, "scale", scale));
    lives.push(live(AmlCompute, "scale", aml_spec()));

    let mut tagged = aml_spec();
    tagged["description"] = json!("CPU cluster for the nightly jobs");
    tagged["tags"] = json!({"team": "research", "cost-center": "42"});
    targets.push(target(AmlCompute, "tagged", tagged));
    lives.push(live(AmlCompute, "tagged", aml_spec()));

    let mut resized = ci_spec();
    resized["size"] = json!("Standard_NC6");
    targets.push(allow_replace(target(
        ComputeInstance,
        "ci-alice",
        resized.clone(),
    )));
    lives.push(live(ComputeInstance, "ci-alice", ci_spec()));

    lives.push(live(
        AmlCompute,
        "old-cluster",
        json!({"size": "Standard_D2_v3", "max_instances": 1}),
    ));
    lives.push(live(Kubernetes, "old-k8s", json!({"resource_id": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/arc", "namespace": "default"})));

    targets.push(with_state(
        target(ComputeInstance, "ci-carol", ci_spec()),
        DesiredState::Running,
    ));
    lives.push(instance(
        live(ComputeInstance, "ci-carol", ci_spec()),
        "Stopped",
    ));

    targets.push(with_state(
        target(ComputeInstance, "ci-dave", ci_spec()),
        DesiredState::Stopped,
    ));
    lives.push(instance(
        live(ComputeInstance, "ci-dave", ci_spec()),
        "Running",
    ));

    targets.push(target(AmlCompute, "busy", aml_spec()));
    lives.push(in_state(live(AmlCompute, "busy", aml_spec()), "Updating"));

    let mut erin = target(ComputeInstance, "ci-erin", resized);
    erin.key_locations.insert(
        "size".into(),
        SourceLocation {
            file: "manifests/ci-erin.yaml".into(),
            line: 3,
            column: 7,
        },
    );
    targets.push(erin);
    lives.push(live(ComputeInstance, "ci-erin", ci_spec()));

    targets.push(with_state(
        target(ComputeInstance, "ci-frank", ci_spec()),
        DesiredState::Running,
    ));
    lives.push(instance(
        live(ComputeInstance, "ci-frank", ci_spec()),
        "Unusable",
    ));

    // Issue #14: compute instances are not updated by PUT, so the in-place schedule change that
    // stood here became a declared key the service does not return (the "cannot be verified"
    // line), with no change.
    let mut sched = ci_spec();
    sched["enable_root_access"] = json!(true);
    targets.push(target(ComputeInstance, "ci-sched", sched));
    lives.push(live(ComputeInstance, "ci-sched", ci_spec()));

    lives.push(unowned(live(
        AmlCompute,
        "handmade",
        json!({"size": "Standard_D2_v3"}),
    )));

    let mut prod = target(
        AmlCompute,
        "prod-cluster",
        json!({"size": "Standard_D4_v3", "max_instances": 10}),
    );
    prod.workspace = "prod".into();
    targets.push(prod);

    let wss = workspaces(&[ws("dev", true), ws("prod", false)]);
    let live_by_ws = BTreeMap::from([("dev".to_string(), lives), ("prod".to_string(), vec![])]);
    amlctl_plan::plan(&targets, &wss, &live_by_ws, &PlanOptions::default())
}

#[test]
fn the_plan_has_one_of_every_action() {
    let plan = every_action();
    let mut seen: Vec<Action> = plan
        .entries
        .iter()
        .flat_map(|e| e.actions.clone())
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen,
        [
            Action::NoOp,
            Action::Create,
            Action::Attach,
            Action::Update,
            Action::Replace,
            Action::Delete,
            Action::Detach,
            Action::Start,
            Action::Stop,
            Action::Wait
        ]
    );
    assert_eq!(plan.errors.len(), 1);
    assert_eq!(plan.warnings.len(), 1);
    assert_eq!(plan.unmanaged.len(), 1);
    let methods: Vec<&str> = plan
        .entries
        .iter()
        .filter(|e| e.actions == [Action::Update])
        .map(|e| e.steps[0].method.as_str())
        .collect();
    assert!(
        methods.contains(&"PATCH") && methods.contains(&"PUT"),
        "{methods:?}"
    );
}

#[test]
fn text_snapshot() {
    let plan = every_action();
    let text = render::text(&plan, false);
    assert!(!text.contains('\u{1b}'), "no colour unless asked");
    assert!(
        text.trim_end()
            .ends_with("1 error: this plan cannot be applied.")
    );
    insta::assert_snapshot!("text", text);
}

#[test]
fn text_colour_only_when_asked() {
    let plan = every_action();
    let coloured = render::text(&plan, true);
    assert!(coloured.contains('\u{1b}'));
    // Same words once the escapes are gone.
    let stripped = strip_ansi(&coloured);
    assert_eq!(stripped, render::text(&plan, false));
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn text_without_changes() {
    let plan = plan1(
        target(AmlCompute, "cpu", aml_spec()),
        Some(live(AmlCompute, "cpu", aml_spec())),
    );
    let text = render::text(&plan, false);
    assert!(
        text.contains("No changes. Live state matches the manifests."),
        "{text}"
    );
    assert!(!text.contains("Plan:"));
}

#[test]
fn markdown_snapshot() {
    let plan = every_action();
    let chunks = render::markdown(&plan);
    assert_eq!(chunks.len(), 1);
    let md = &chunks[0];
    assert!(md.starts_with("### amlctl plan\n\n**Plan: "), "{md}");
    assert!(md.contains("> [!WARNING]"));
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count()
    );
    insta::assert_snapshot!("markdown", md);
}

#[test]
fn markdown_without_destruction_has_no_warning() {
    let mut bigger = aml_spec();
    bigger["max_instances"] = json!(4);
    let plan = plan1(
        target(AmlCompute, "cpu", bigger),
        Some(live(AmlCompute, "cpu", aml_spec())),
    );
    let md = render::markdown(&plan).join("");
    assert!(!md.contains("[!WARNING]"), "{md}");
    assert!(md.contains("max_instances: 2 → 4"), "{md}");
}

#[test]
fn json_snapshot() {
    let plan = every_action();
    let v = render::json(&plan);
    assert_eq!(v["format_version"], json!(FORMAT_VERSION));
    for e in v["entries"].as_array().expect("entries") {
        for key in [
            "address", "actions", "reason", "changes", "before", "after", "request",
        ] {
            assert!(e.get(key).is_some(), "{key} missing in {e}");
        }
    }
    insta::assert_json_snapshot!("json", v);
}

#[test]
fn no_renderer_and_no_plan_file_holds_a_secret() {
    // A literal secret (CLI v2 compatibility): its value must appear nowhere.
    let secret = "hunter2-literal-VALUE";
    let mut t = target(
        VirtualMachine,
        "dsvm",
        json!({"resource_id": VM_ID, "ssh_settings": {"admin_username": "u", "admin_password": "<redacted>"}}),
    );
    t.secrets.insert(
        "ssh_settings.admin_password".into(),
        SecretRef::Literal(amlctl_manifest::LiteralSecret {
            location: src("dsvm"),
            key: "ssh_settings.admin_password".into(),
            value: amlctl_manifest::SecretString::new(secret),
        }),
    );
    let plan = plan1(t, None);
    assert_eq!(
        plan.entries[0].steps[0].secrets.len(),
        1,
        "the executor learns where the secret goes"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("plan.json");
    PlanFile::new(plan.clone()).save(&path).expect("save");
    let file = std::fs::read_to_string(&path).expect("read");
    for out in [
        render::text(&plan, false),
        render::text(&plan, true),
        render::markdown(&plan).join(""),
        render::json(&plan).to_string(),
        file,
    ] {
        assert!(!out.contains(secret), "secret leaked: {out}");
    }
}

#[test]
fn plan_file_round_trip_and_version_check() {
    let mut plan = every_action();
    plan.created = Some("2026-11-29T15:00:00Z".into());
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("plan.json");
    let saved = PlanFile {
        repo_digest: Some("0".repeat(64)),
        options: Some(SavedOptions {
            targets: vec!["dev/cpu".into()],
            ..SavedOptions::default()
        }),
        ..PlanFile::new(plan.clone())
    };
    saved.save(&path).expect("save");
    let back = PlanFile::load(&path).expect("load");
    assert_eq!(back, saved);
    assert_eq!(
        back.plan, plan,
        "the plan comes back as the planner made it"
    );
    assert!(
        back.plan
            .entries
            .iter()
            .filter(|e| e.before.is_some())
            .all(|e| e.live_fingerprint.is_some())
    );

    // Same major version, newer minor: accepted.
    let text = std::fs::read_to_string(&path).expect("read");
    let minor = text.replacen(
        "\"format_version\": \"1.0\"",
        "\"format_version\": \"1.7\"",
        1,
    );
    std::fs::write(&path, &minor).expect("write");
    assert!(PlanFile::load(&path).is_ok());

    // Another major version: refused with a clear message.
    let major = text.replacen(
        "\"format_version\": \"1.0\"",
        "\"format_version\": \"2.0\"",
        1,
    );
    std::fs::write(&path, &major).expect("write");
    match PlanFile::load(&path) {
        Err(e @ PlanFileError::UnsupportedVersion { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("2.0") && msg.contains("1.x") && msg.contains("plan.json"),
                "{msg}"
            );
        }
        other => panic!("expected a version error, got {other:?}"),
    }

    // Not a plan.
    std::fs::write(&path, "{\"hello\": 1}").expect("write");
    assert!(matches!(
        PlanFile::load(&path),
        Err(PlanFileError::Invalid { .. })
    ));
    std::fs::write(&path, "not json").expect("write");
    assert!(matches!(
        PlanFile::load(&path),
        Err(PlanFileError::Invalid { .. })
    ));
    assert!(matches!(
        PlanFile::load(&dir.path().join("missing.json")),
        Err(PlanFileError::Io { .. })
    ));
}

#[test]
fn huge_plans_split_into_comment_sized_chunks() {
    let long = "x".repeat(300);
    let targets: Vec<Target> = (0..1500)
        .map(|i| {
            let mut t = target(
                AmlCompute,
                &format!("cluster-{i:04}x"),
                json!({"size": "Standard_DS3_v2", "description": format!("{long} {i}"), "tags": {"n": i.to_string()}}),
            );
            if i % 2 == 0 {
                t.workspace = "prod".into();
            }
            t
        })
        .collect();
    let wss = workspaces(&[ws("dev", false), ws("prod", false)]);
    let live = BTreeMap::from([("dev".to_string(), vec![]), ("prod".to_string(), vec![])]);
    let plan = amlctl_plan::plan(&targets, &wss, &live, &PlanOptions::default());
    assert!(plan.errors.is_empty());
    let chunks = render::markdown(&plan);
    assert!(chunks.len() > 3, "{} chunks", chunks.len());
    for (i, c) in chunks.iter().enumerate() {
        assert!(
            c.chars().count() < 65_536,
            "chunk {i} has {} chars",
            c.chars().count()
        );
        assert_eq!(
            c.matches("<details>").count(),
            c.matches("</details>").count(),
            "chunk {i}"
        );
        let fences = c.lines().filter(|l| l.starts_with("```")).count();
        assert_eq!(fences % 2, 0, "chunk {i} has an open code fence");
        if i > 0 {
            assert!(
                c.starts_with(&format!(
                    "### amlctl plan (part {} of {}",
                    i + 1,
                    chunks.len()
                )),
                "chunk {i}"
            );
        }
    }
    assert!(chunks[0].contains("**Plan: 1500 to add, 0 to change, 0 to destroy.**"));
    let all = chunks.join("");
    for t in &targets {
        let address = format!("{}/{} (amlcompute) will be created", t.workspace, t.name);
        assert_eq!(all.matches(&address).count(), 1, "{address} shown once");
    }

    // One single entry too big for a comment is cut, not dropped.
    let huge = target(
        AmlCompute,
        "huge",
        json!({"description": "y\n".repeat(60_000)}),
    );
    let plan = plan1(huge, None);
    let chunks = render::markdown(&plan);
    for c in &chunks {
        assert!(c.chars().count() < 65_536);
    }
    assert!(chunks.join("").contains("more lines cut to fit a comment"));
}

#[test]
fn errors_alone_never_read_as_no_changes() {
    let mut resized = ci_spec();
    resized["size"] = json!("Standard_NC6");
    let plan = plan1(
        target(ComputeInstance, "ci", resized),
        Some(live(ComputeInstance, "ci", ci_spec())),
    );
    assert!(!plan.has_changes());
    assert_eq!(plan.errors.len(), 1);
    let text = render::text(&plan, false);
    assert!(!text.contains("No changes"), "{text}");
    assert!(
        text.contains("Plan: 0 to add, 0 to change, 0 to destroy."),
        "{text}"
    );
    let md = render::markdown(&plan).join("");
    assert!(!md.contains("No changes"), "{md}");
    assert!(md.contains("[!CAUTION]"), "{md}");
}

const UAI: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.ManagedIdentity/userAssignedIdentities/";

/// Lists and maps changed in place: identities added and removed, tags added, changed and
/// removed, compute-instance schedules with one element changed and one added, custom
/// applications keyed by name.
fn nested_changes() -> Plan {
    let mut targets = Vec::new();
    let mut lives = Vec::new();

    let mut want = aml_spec();
    want["identity"] = json!({"type": "user_assigned", "user_assigned_identities": [
        {"resource_id": format!("{UAI}id-keep")},
        {"resource_id": format!("{UAI}id-ml-registry")}
    ]});
    want["tags"] = json!({"team": "ml", "owner": "b"});
    let mut have = aml_spec();
    have["identity"] = json!({"type": "UserAssigned", "user_assigned_identities": [
        {"resource_id": format!("{UAI}id-old")},
        {"resource_id": format!("{UAI}ID-KEEP")}
    ]});
    have["tags"] = json!({"owner": "a", "old": "x"});
    targets.push(target(AmlCompute, "cluster", want));
    lives.push(live(AmlCompute, "cluster", have));

    let weekday_stop = json!({"action": "stop", "trigger": {"type": "recurrence", "frequency": "week", "interval": 1,
        "schedule": {"hours": [18], "minutes": [0], "week_days": ["monday", "tuesday"]}, "time_zone": "UTC"}});
    let mut moved = weekday_stop.clone();
    moved["trigger"]["schedule"]["hours"] = json!([19]);
    let mut want = ci_spec();
    want["schedules"] = json!({"compute_start_stop": [
        moved,
        {"action": "start", "trigger": {"type": "cron", "expression": "0 8 * * 1-5"}}
    ]});
    let mut have = ci_spec();
    have["schedules"] = json!({"compute_start_stop": [weekday_stop]});
    targets.push(allow_replace(target(ComputeInstance, "ci", want)));
    lives.push(live(ComputeInstance, "ci", have));

    let app = |name: &str, image: &str, port: u16| {
        json!({"name": name, "type": "docker", "image": {"type": "docker", "reference": image},
               "endpoints": [{"target": 8080, "published": port}]})
    };
    let mut want = ci_spec();
    want["custom_applications"] = json!([
        app("mlflow", "ghcr.io/mlflow/mlflow:v2", 8081),
        app("rstudio", "rocker/rstudio:4", 8787)
    ]);
    let mut have = ci_spec();
    have["custom_applications"] = json!([
        app("mlflow", "ghcr.io/mlflow/mlflow:v1", 8081),
        app("tensorboard", "tensorflow/tensorflow", 6006)
    ]);
    targets.push(allow_replace(target(ComputeInstance, "ci-apps", want)));
    lives.push(live(ComputeInstance, "ci-apps", have));

    amlctl_plan::plan(
        &targets,
        &workspaces(&[ws("dev", false)]),
        &live_map(lives),
        &PlanOptions::default(),
    )
}

#[test]
fn nested_changes_are_shown_element_by_element() {
    let plan = nested_changes();
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    let text = render::text(&plan, false);
    for want in [
        "+ id-ml-registry",
        "- id-old",
        "# (1 unchanged identity hidden)",
        "+ team = \"ml\"",
        "~ owner = \"a\" → \"b\"",
        "- old = \"x\"",
        "~ hours = [18] → [19]",
        "+ [1] {",
        "~ [name = \"mlflow\"] {",
        "~ reference = \"ghcr.io/mlflow/mlflow:v1\" → \"ghcr.io/mlflow/mlflow:v2\"",
        "+ [name = \"rstudio\"] {",
        "- [name = \"tensorboard\"] {",
    ] {
        assert!(text.contains(want), "{want:?} missing in\n{text}");
    }
    // No JSON punctuation cut across objects, and unchanged fields are not repeated.
    assert!(!text.contains("+   {"), "{text}");
    assert!(!text.contains("\"resource_id\""), "{text}");
    assert!(!text.contains("week_days"), "{text}");
    insta::assert_snapshot!("nested_text", text);

    let chunks = render::markdown(&plan);
    assert_eq!(chunks.len(), 1);
    let md = &chunks[0];
    assert!(md.contains("\n+               id-ml-registry\n"), "{md}");
    insta::assert_snapshot!("nested_markdown", md);

    // JSON keeps whole before/after values (data).
    let v = render::json(&plan);
    let cluster = v["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["address"] == "dev/cluster")
        .expect("cluster entry");
    let change = cluster["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .find(|c| c["key"] == "identity.user_assigned_identities")
        .expect("identity change");
    assert!(change["before"].is_array() && change["after"].is_array());
}

/// A description, tag and error holding `\r`, an ANSI erase-line, a bidi override and a Markdown
/// fence and HTML: every renderer shows them escaped.
#[test]
fn control_characters_and_markup_are_escaped() {
    let evil = "ok\r\u{1b}[2KPlan: 0 to add \u{202e}gnp.exe\u{202c} ``` </details><img src=x>";
    let mut want = aml_spec();
    want["description"] = json!(evil);
    want["tags"] = json!({"note\u{1b}[31m": evil});
    let mut bad_size = ci_spec();
    bad_size["size"] = json!(format!("Standard_NC6 {evil}"));
    let plan = run(
        &[
            target(AmlCompute, "cpu", want),
            target(ComputeInstance, "ci", bad_size),
        ],
        vec![
            live(AmlCompute, "cpu", aml_spec()),
            live(ComputeInstance, "ci", ci_spec()),
        ],
        false,
        &PlanOptions::default(),
    );
    assert_eq!(plan.errors.len(), 1, "{:?}", plan.errors);
    let text = render::text(&plan, false);
    let coloured = strip_ansi(&render::text(&plan, true));
    let md = render::markdown(&plan).join("");
    for (name, out) in [("text", &text), ("coloured", &coloured), ("markdown", &md)] {
        for raw in ['\r', '\u{1b}', '\u{202e}', '\u{202c}'] {
            assert!(!out.contains(raw), "{name}: raw {raw:?} in\n{out}");
        }
        assert!(
            out.contains(r"ok\r\u{1b}[2KPlan: 0 to add \u{202e}gnp.exe\u{202c}"),
            "{name}: escaped form missing in\n{out}"
        );
    }
    assert!(
        text.contains(r#"+ note\u{1b}[31m = "ok\r\u{1b}[2K"#),
        "{text}"
    );
    // Markdown: the user's fence cannot close the diff block, nor its HTML the <details>.
    assert!(md.contains("````diff\n"), "{md}");
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count() - md.matches("``` </details><img").count(),
        "{md}"
    );
    assert!(md.contains("&lt;/details&gt;&lt;img src=x&gt;"), "{md}");
    insta::assert_snapshot!("escaped_text", text);
    insta::assert_snapshot!("escaped_markdown", md);
}
