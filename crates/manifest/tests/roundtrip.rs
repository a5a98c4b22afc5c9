//! Property test: random valid manifests per type → load → to_arm → (emulated PUT echo) →
//! from_arm gives back every non-secret key the user wrote (nested objects compared on the
//! written keys only; from_arm may add server defaults such as `ssh_port: 22`).

use std::path::Path;

use amlctl_manifest::{ComputeType, LoadOptions, Target, Workspace, from_arm, load_str};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn ws() -> Workspace {
    Workspace {
        alias: "dev".into(),
        subscription_id: "00000000-0000-0000-0000-000000000000".into(),
        resource_group: "rg-ml".into(),
        workspace: "mlw".into(),
        location: Some("eastus".into()),
        prune: false,
    }
}

type Entry = Option<(&'static str, Value)>;

fn opt<S: Strategy<Value = Value> + 'static>(key: &'static str, s: S) -> BoxedStrategy<Entry> {
    proptest::option::of(s.prop_map(move |v| (key, v))).boxed()
}

fn text() -> impl Strategy<Value = Value> {
    "[a-zA-Z][a-zA-Z0-9 _.:/-]{0,20}".prop_map(Value::String)
}
fn word() -> impl Strategy<Value = Value> {
    "[a-z][a-z0-9-]{0,12}".prop_map(Value::String)
}
fn boolean() -> impl Strategy<Value = Value> {
    any::<bool>().prop_map(Value::Bool)
}
fn size() -> impl Strategy<Value = Value> {
    prop::sample::select(vec!["Standard_DS3_v2", "STANDARD_NC6", "Standard_D2_v3"])
        .prop_map(Value::from)
}
fn rid(provider: &'static str) -> impl Strategy<Value = Value> {
    "[a-z][a-z0-9]{2,10}".prop_map(move |n| {
        Value::String(format!(
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/{provider}/{n}"
        ))
    })
}
fn env_ref() -> impl Strategy<Value = Value> {
    "[A-Z][A-Z0-9_]{0,10}".prop_map(|n| json!({ "env": n }))
}
fn identity() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"type": "system_assigned"})),
        Just(json!({"type": "SystemAssigned"})),
        Just(json!({"type": "none"})),
        prop::collection::vec("[a-z]{3,8}", 1..3).prop_map(|ids| json!({
            "type": "user_assigned",
            "user_assigned_identities": ids.iter().map(|i| json!({"resource_id":
                format!("/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{i}")})).collect::<Vec<_>>()
        })),
    ]
}
fn tags() -> impl Strategy<Value = Value> {
    prop::collection::btree_map("[a-z]{1,6}", "[a-z0-9]{0,6}", 0..3).prop_map(|m| json!(m))
}
fn network() -> impl Strategy<Value = Value> {
    prop_oneof![
        (word(), word()).prop_map(|(v, s)| json!({"vnet_name": v, "subnet": s})),
        word().prop_map(|s| json!({"subnet": format!("/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/{}", s.as_str().unwrap_or("x"))})),
    ]
}
fn common() -> Vec<BoxedStrategy<Entry>> {
    vec![
        opt("description", text()),
        opt(
            "location",
            prop::sample::select(vec!["eastus", "westeurope"]).prop_map(Value::from),
        ),
        opt("tags", tags()),
        opt("identity", identity()),
    ]
}

fn assemble(
    t: &'static str,
    parts: Vec<BoxedStrategy<Entry>>,
) -> BoxedStrategy<(ComputeType, Value)> {
    ("[a-z][a-z0-9]{2,12}", parts)
        .prop_map(move |(name, entries)| {
            let mut m = Map::new();
            m.insert("name".into(), Value::String(name));
            m.insert("type".into(), Value::String(t.into()));
            for (k, v) in entries.into_iter().flatten() {
                m.insert(k.into(), v);
            }
            (ComputeType::from_manifest(t).unwrap(), Value::Object(m))
        })
        .boxed()
}

fn amlcompute() -> BoxedStrategy<(ComputeType, Value)> {
    let mut p = vec![
        opt("size", size()),
        opt(
            "tier",
            prop::sample::select(vec!["dedicated", "low_priority", "Dedicated"])
                .prop_map(Value::from),
        ),
        opt(
            "idle_time_before_scale_down",
            (0i64..200_000).prop_map(Value::from),
        ),
        opt("ssh_public_access_enabled", boolean()),
        opt(
            "ssh_settings",
            (
                word(),
                prop::option::of(env_ref()),
                prop::option::of(text()),
            )
                .prop_map(|(u, pw, key)| {
                    let mut o = json!({"admin_username": u});
                    if let Some(pw) = pw {
                        o["admin_password"] = pw;
                    }
                    if let Some(k) = key {
                        o["ssh_key_value"] = k;
                    }
                    o
                }),
        ),
        opt("network_settings", network()),
        opt("enable_node_public_ip", boolean()),
    ];
    p.extend(common());
    (
        assemble("amlcompute", p),
        0i64..5,
        proptest::option::of(5i64..100),
    )
        .prop_map(|((t, mut v), min, max)| {
            v["min_instances"] = json!(min);
            if let Some(max) = max {
                v["max_instances"] = json!(max);
            }
            (t, v)
        })
        .boxed()
}

fn schedule() -> impl Strategy<Value = Value> {
    prop_oneof![
        (prop::sample::select(vec!["start", "stop"]), "[0-9] [0-9]{1,2} \\* \\* \\*", prop::option::of(prop::sample::select(vec!["enabled", "disabled"])))
            .prop_map(|(a, e, st)| {
                let mut o = json!({"action": a, "trigger": {"type": "cron", "expression": e, "time_zone": "UTC", "start_time": "2026-01-01T00:00:00"}});
                if let Some(st) = st {
                    o["state"] = json!(st);
                }
                o
            }),
        (prop::sample::select(vec!["start", "stop"]), prop::sample::select(vec!["day", "week"]), 1i64..4, prop::collection::vec(0i64..24, 1..3), prop::collection::vec(prop::sample::select(vec!["monday", "friday"]), 0..2))
            .prop_map(|(a, f, i, h, wd)| json!({"action": a, "trigger": {"type": "recurrence", "frequency": f, "interval": i, "schedule": {"hours": h, "minutes": [0], "week_days": wd}}})),
    ]
}

fn computeinstance() -> BoxedStrategy<(ComputeType, Value)> {
    let mut p = vec![
        opt("size", size()),
        opt("network_settings", network()),
        opt("create_on_behalf_of", (word(), word()).prop_map(|(t, o)| json!({"user_tenant_id": t, "user_object_id": o}))),
        opt("ssh_public_access_enabled", boolean()),
        opt("ssh_settings", text().prop_map(|k| json!({"ssh_key_value": k}))),
        opt("idle_time_before_shutdown_minutes", (15i64..1000).prop_map(Value::from)),
        opt("schedules", prop::collection::vec(schedule(), 1..3).prop_map(|s| json!({"compute_start_stop": s}))),
        opt(
            "setup_scripts",
            (word(), prop::option::of(word()), prop::option::of(1i64..60)).prop_map(|(p, c, t)| {
                let mut s = json!({"path": p});
                if let Some(c) = c {
                    s["command"] = c;
                }
                if let Some(t) = t {
                    s["timeout_minutes"] = json!(t);
                }
                json!({"creation_script": s.clone(), "startup_script": s})
            }),
        ),
        opt(
            "custom_applications",
            (word(), word(), 1i64..9000, 1100i64..60000).prop_map(|(n, img, t, p)| {
                json!([{"name": n, "image": {"reference": img}, "endpoints": [{"target": t, "published": p}],
                        "environment_variables": {"A": "b"}, "bind_mounts": [{"source": "/a", "target": "/b"}]}])
            }),
        ),
        opt("enable_node_public_ip", boolean()),
        opt("enable_sso", boolean()),
        opt("enable_root_access", boolean()),
        opt("release_quota_on_stop", boolean()),
        opt("enable_os_patching", boolean()),
    ];
    p.extend(common());
    assemble("computeinstance", p)
}

fn ssh_attach(t: &'static str, provider: &'static str) -> BoxedStrategy<(ComputeType, Value)> {
    let mut p = vec![
        opt("resource_id", rid(provider))
            .prop_filter("required", Option::is_some)
            .boxed(),
        (
            word(),
            prop_oneof![
                env_ref().prop_map(|e| ("admin_password", e)),
                Just(("ssh_private_key_file", json!("keys/id_rsa")))
            ],
            prop::option::of(1i64..65535),
        )
            .prop_map(|(u, (k, v), port)| {
                let mut o = json!({"admin_username": u});
                o[k] = v;
                if let Some(port) = port {
                    o["ssh_port"] = json!(port);
                }
                Some(("ssh_settings", o))
            })
            .boxed(),
    ];
    p.extend(common());
    assemble(t, p)
}

fn simple(
    t: &'static str,
    provider: &'static str,
    extra: Vec<BoxedStrategy<Entry>>,
) -> BoxedStrategy<(ComputeType, Value)> {
    let mut p = vec![
        opt("resource_id", rid(provider))
            .prop_filter("required", Option::is_some)
            .boxed(),
    ];
    p.extend(extra);
    p.extend(common());
    assemble(t, p)
}

fn any_target() -> BoxedStrategy<(ComputeType, Value)> {
    prop_oneof![
        amlcompute(),
        computeinstance(),
        ssh_attach("virtualmachine", "Microsoft.Compute/virtualMachines"),
        ssh_attach("hdinsight", "Microsoft.HDInsight/clusters"),
        simple("kubernetes", "Microsoft.Kubernetes/connectedClusters", vec![
            opt("namespace", word()),
            opt("properties", (word(), env_ref()).prop_map(|(w, e)| json!({"defaultInstanceType": w, "relayConnectionString": e}))),
        ]),
        simple("synapsespark", "Microsoft.Synapse/workspaces/w/bigDataPools", vec![]),
        simple("databricks", "Microsoft.Databricks/workspaces", vec![
            env_ref().prop_map(|e| Some(("access_token", e))).boxed(),
            opt("workspace_url", text()),
        ]),
        simple("datalakeanalytics", "Microsoft.DataLakeAnalytics/accounts", vec![opt("data_lake_store_account_name", word())]),
        simple("aks", "Microsoft.ContainerService/managedClusters", vec![
            opt("cluster_fqdn", word()),
            opt("agent_count", (0i64..20).prop_map(Value::from)),
            opt("agent_vm_size", size()),
            opt("cluster_purpose", prop::sample::select(vec!["fast_prod", "dev_test", "DenseProd"]).prop_map(Value::from)),
            opt("ssl", (prop::sample::select(vec!["enabled", "disabled", "auto"]), word(), boolean(), env_ref())
                .prop_map(|(s, c, o, cert)| json!({"status": s, "cname": c, "leaf_domain_label": c, "overwrite_existing_domain": o, "cert": cert}))),
            opt("load_balancer_type", prop::sample::select(vec!["public_ip", "internal_load_balancer"]).prop_map(Value::from)),
            opt("load_balancer_subnet", word()),
        ]),
        simple("datafactory", "Microsoft.DataFactory/factories", vec![]),
        assemble("batch", vec![
            opt("resource_id", rid("Microsoft.Batch/batchAccounts")).prop_filter("required", Option::is_some).boxed(),
            opt("description", text()),
            opt("tags", tags()),
        ]),
    ]
    .boxed()
}

/// Removes secret key paths (dotted) from a spec.
fn without_secrets(t: &Target) -> Value {
    let mut v = Value::Object(t.spec.clone());
    for k in t.secrets.keys() {
        let parts: Vec<&str> = k.split('.').collect();
        let (last, parents) = parts.split_last().unwrap();
        let pointer: String = parents.iter().map(|p| format!("/{p}")).collect();
        if let Some(Value::Object(o)) = v.pointer_mut(&pointer) {
            o.remove(*last);
        }
    }
    v
}

/// `have` contains everything in `want` (objects: written keys only; arrays: same length).
fn covers(have: &Value, want: &Value, path: &str) -> Result<(), String> {
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => {
            for (k, wv) in w {
                let hv = h.get(k).ok_or_else(|| format!("{path}.{k} missing"))?;
                covers(hv, wv, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(h), Value::Array(w)) if h.len() == w.len() => {
            for (i, (hv, wv)) in h.iter().zip(w).enumerate() {
                covers(hv, wv, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        _ if have == want => Ok(()),
        _ => Err(format!("{path}: live {have} != written {want}")),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn to_arm_then_from_arm_gives_back_the_spec((t, doc) in any_target()) {
        let yaml = serde_json::to_string_pretty(&doc).unwrap();
        let (targets, _) = load_str(Path::new("m.yml"), &yaml, &ws(), &LoadOptions::default())
            .map_err(|d| TestCaseError::fail(format!("{yaml}\n{}", d.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))))?;
        prop_assert_eq!(targets.len(), 1);
        let target = &targets[0];
        prop_assert_eq!(target.compute_type, t);
        let arm = target.to_arm(&ws());
        prop_assert_eq!(arm.secrets.len(), target.secrets.len());
        for s in &arm.secrets {
            prop_assert_eq!(arm.body.pointer(&s.pointer), Some(&json!("<redacted>")));
        }
        // Emulated PUT result: the body echoed with name and id, secrets dropped (write-only).
        let mut put = arm.body.clone();
        for s in &arm.secrets {
            if let Some(v) = put.pointer_mut(&s.pointer) { *v = Value::Null; }
        }
        put["name"] = json!(target.name);
        put["id"] = json!(ws().compute_path(&target.name));
        put["properties"]["provisioningState"] = json!("Succeeded");
        let live = from_arm(&put).unwrap();
        prop_assert_eq!(live.compute_type, Some(t));
        prop_assert_eq!(&live.name, &target.name);
        if let Err(e) = covers(&Value::Object(live.spec.clone()), &without_secrets(target), "spec") {
            return Err(TestCaseError::fail(format!("{e}\nyaml: {yaml}\nbody: {}\nlive: {}", arm.body, Value::Object(live.spec))));
        }
        // Canonical: loading what from_arm produced (plus the envelope) gives the same spec again.
        // The api-version follows the keys written (issue #14 rule 3).
        prop_assert_eq!(
            arm.api_version,
            amlctl_manifest::fields::api_version_for(t, &target.spec).version
        );
    }
}
