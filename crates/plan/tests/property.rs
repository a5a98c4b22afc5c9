//! Property: planning targets against the live state those same targets produce is all no-op,
//! whatever the values and whichever spellings the service returns.

mod common;

use amlctl_manifest::ComputeType::*;
use amlctl_manifest::{LiveCompute, Target, Workspace, from_arm};
use amlctl_plan::{Action, PlanOptions};
use common::*;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn served(
    t: &Target,
    ws: &Workspace,
    upper: bool,
    vnet: bool,
    dur: bool,
    loc: bool,
) -> LiveCompute {
    let mut body = t.to_arm(ws).body;
    body["name"] = json!(t.name);
    body["properties"]["provisioningState"] = json!("Succeeded");
    if let (true, Some(Value::String(s))) =
        (upper, body.pointer_mut("/properties/properties/vmSize"))
    {
        *s = s.to_ascii_uppercase();
    }
    if let (true, Some(Value::String(s))) =
        (vnet, body.pointer_mut("/properties/properties/subnet/id"))
    {
        *s = s
            .replace("/virtualNetworks/", "/VirtualNetworks/")
            .replace("/resourceGroups/", "/resourcegroups/");
    }
    if let (true, Some(Value::String(s))) = (
        dur,
        body.pointer_mut("/properties/properties/scaleSettings/nodeIdleTimeBeforeScaleDown"),
    ) && let Some(secs) = amlctl_manifest::parse_iso_duration(s)
    {
        *s = format!("PT{secs}S");
    }
    if let (true, Some(Value::String(s))) = (loc, body.pointer_mut("/location")) {
        *s = s.to_ascii_uppercase();
    }
    from_arm(&body).expect("from_arm")
}

fn size() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "Standard_DS3_v2",
        "Standard_NC6",
        "STANDARD_D2_V3",
        "Standard_E4s_v3",
    ])
    .prop_map(str::to_string)
}

fn location() -> impl Strategy<Value = Option<String>> {
    prop::option::of(
        prop::sample::select(vec!["eastus", "westeurope", "southcentralus"])
            .prop_map(str::to_string),
    )
}

fn tags() -> impl Strategy<Value = Option<Map<String, Value>>> {
    prop::option::of(
        prop::collection::btree_map("[a-z]{1,8}", "[A-Za-z0-9 ]{0,12}", 0..4)
            .prop_map(|m| m.into_iter().map(|(k, v)| (k, Value::String(v))).collect()),
    )
}

fn aml_target() -> impl Strategy<Value = Target> {
    (
        size(),
        prop::option::of(prop::sample::select(vec!["dedicated", "low_priority"])),
        0i64..4,
        1i64..20,
        prop::option::of(prop::sample::select(vec![
            0i64, 60, 100, 120, 1800, 3600, 86_400, 90_061,
        ])),
        prop::option::of(prop::bool::ANY),
        location(),
        tags(),
        prop::option::of("[A-Za-z ]{0,20}"),
    )
        .prop_map(|(size, tier, min, extra, idle, subnet, loc, tags, descr)| {
            let mut spec = Map::new();
            spec.insert("size".into(), json!(size));
            if let Some(t) = tier {
                spec.insert("tier".into(), json!(t));
            }
            spec.insert("min_instances".into(), json!(min));
            spec.insert("max_instances".into(), json!(min + extra));
            if let Some(i) = idle {
                spec.insert("idle_time_before_scale_down".into(), json!(i));
            }
            if subnet == Some(true) {
                spec.insert("network_settings".into(), json!({"subnet": SUBNET}));
            }
            if let Some(l) = loc {
                spec.insert("location".into(), json!(l));
            }
            if let Some(t) = tags {
                spec.insert("tags".into(), Value::Object(t));
            }
            if let Some(d) = descr {
                spec.insert("description".into(), json!(d));
            }
            target(AmlCompute, "cluster", Value::Object(spec))
        })
}

fn ci_target() -> impl Strategy<Value = Target> {
    (
        size(),
        prop::option::of(1i64..600),
        prop::option::of(prop::bool::ANY),
        tags(),
    )
        .prop_map(|(size, idle, ssh, tags)| {
            let mut spec = Map::new();
            spec.insert("size".into(), json!(size));
            if let Some(m) = idle {
                spec.insert("idle_time_before_shutdown_minutes".into(), json!(m));
            }
            if let Some(s) = ssh {
                spec.insert("ssh_public_access_enabled".into(), json!(s));
            }
            if let Some(t) = tags {
                spec.insert("tags".into(), Value::Object(t));
            }
            target(ComputeInstance, "instance", Value::Object(spec))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn planning_against_your_own_live_state_is_all_no_op(
        aml in aml_target(),
        ci in ci_target(),
        quirks in (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
    ) {
        let w = ws("dev", true);
        let targets = vec![aml, ci];
        let live: Vec<LiveCompute> = targets
            .iter()
            .map(|t| served(t, &w, quirks.0, quirks.1, quirks.2, quirks.3))
            .collect();
        let plan = run(&targets, live.clone(), true, &PlanOptions::default());
        prop_assert!(plan.errors.is_empty(), "{:?}", plan.errors);
        prop_assert!(!plan.has_changes());
        for e in &plan.entries {
            prop_assert_eq!(&e.actions, &vec![Action::NoOp], "{}: {}", e.address, e.reason);
        }
        // The fingerprint ignores spelling quirks, not content.
        let plain: Vec<LiveCompute> = targets.iter().map(|t| served(t, &w, false, false, false, false)).collect();
        for (a, b) in live.iter().zip(&plain) {
            prop_assert_eq!(amlctl_plan::fingerprint(a), amlctl_plan::fingerprint(b));
        }
    }

    #[test]
    fn planning_is_pure(aml in aml_target(), ci in ci_target()) {
        let w = ws("dev", false);
        let targets = vec![aml.clone(), ci];
        let mut changed = aml;
        changed.spec.insert("max_instances".into(), json!(50));
        let live = vec![served(&changed, &w, true, true, true, true)];
        let a = run(&targets, live.clone(), false, &PlanOptions::default());
        let b = run(&targets, live, false, &PlanOptions::default());
        prop_assert_eq!(a, b);
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,20}".prop_map(Value::String),
        prop::sample::select(vec![
            "PT2M",
            "P",
            "/subscriptions/é",
            "/SUBSCRIPTIONS/x/y",
            "<redacted>",
            "East US"
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "size",
                    "tags",
                    "idle_time_before_scale_down",
                    "idle_time_before_shutdown_minutes",
                    "location",
                    "identity",
                    "type",
                    "user_assigned_identities",
                    "resource_id",
                    "network_settings",
                    "subnet",
                    "max_instances",
                    "schedules",
                    "x.y",
                    "ключ",
                ])
                .prop_map(str::to_string),
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(
        "[a-z_]{1,10}|size|tags|location|identity|resource_id",
        json_value(),
        0..6,
    )
    .prop_map(|m| m.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever the specs hold, planning and rendering never panic and stay deterministic.
    #[test]
    fn arbitrary_specs_never_panic(
        ct in prop::sample::select(amlctl_manifest::ComputeType::ALL.to_vec()),
        desired in json_object(),
        actual in json_object(),
        ps in prop::option::of(prop::sample::select(vec!["Succeeded", "Failed", "Creating", "weird", ""])),
        allow in any::<bool>(),
    ) {
        let mut t = target(ct, "t", Value::Object(desired));
        t.lifecycle.allow_replace = allow;
        let mut l = live(ct, "t", Value::Object(actual));
        l.provisioning_state = ps.map(str::to_string);
        let plan = run(std::slice::from_ref(&t), vec![l.clone()], true, &PlanOptions::default());
        let again = run(&[t], vec![l], true, &PlanOptions::default());
        prop_assert_eq!(&plan, &again);
        prop_assert_eq!(plan.entries.len() + plan.errors.len(), 1);
        let _ = amlctl_plan::render::text(&plan, true);
        let _ = amlctl_plan::render::markdown(&plan);
        let _ = amlctl_plan::render::json(&plan);
    }
}
