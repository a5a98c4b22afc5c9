//! The loader never panics, whatever the bytes: arbitrary bytes, arbitrary strings and mutated
//! valid manifests. Every error it reports is located.
//!
//! Default run: a few hundred cases per property (part of `cargo test`). Long run (documented in
//! docs/compatibility.md):
//! `PROPTEST_CASES=100000 cargo test -p amlctl-manifest --release --test fuzz -- --ignored`

use std::path::{Path, PathBuf};

use amlctl_manifest::{LoadOptions, Workspace, from_arm, load_bytes};
use proptest::prelude::*;

fn ws() -> Workspace {
    Workspace {
        alias: "dev".into(),
        subscription_id: "00000000-0000-0000-0000-000000000000".into(),
        resource_group: "rg".into(),
        workspace: "w".into(),
        location: Some("eastus".into()),
        prune: false,
    }
}

fn seeds() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = vec![root.join("../../manifests"), root.join("tests/golden")];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
                out.push(std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    out.sort();
    assert!(out.len() > 40);
    out
}

/// Runs the whole pipeline on `bytes`; panics only on a real bug.
fn exercise(bytes: &[u8], strict: bool) {
    match load_bytes(
        Path::new("fuzz.yml"),
        bytes,
        &ws(),
        &LoadOptions {
            strict,
            ..Default::default()
        },
    ) {
        Ok((targets, warnings)) => {
            assert!(warnings.iter().all(|w| !w.is_error()));
            for t in targets {
                let arm = t.to_arm(&ws());
                let mut put = arm.body.clone();
                put["name"] = serde_json::json!(t.name);
                let live = from_arm(&put).expect("from_arm reads what to_arm wrote");
                assert_eq!(live.compute_type, Some(t.compute_type));
            }
        }
        Err(diags) => {
            assert!(diags.iter().any(|d| d.is_error()));
            for d in diags.iter().filter(|d| d.is_error()) {
                let l = d.location.as_ref().expect("every error is located");
                assert!(l.line >= 1 && l.column >= 1);
                let _ = d.to_string();
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Special(usize, u8),
    DupLine(usize),
    SwapLines(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let special = prop::sample::select(b":-&*!\t{}[]'\"\n#|>%@?,~ 0\\".to_vec());
    prop_oneof![
        (any::<usize>(), 0usize..20).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(a, b)| Mutation::Insert(a, b)),
        (any::<usize>(), special).prop_map(|(a, c)| Mutation::Special(a, c)),
        any::<usize>().prop_map(Mutation::DupLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
    ]
}

fn apply(seed: &str, muts: &[Mutation]) -> Vec<u8> {
    let mut b = seed.as_bytes().to_vec();
    for m in muts {
        let len = b.len().max(1);
        match m {
            Mutation::Delete(a, n) => {
                let start = a % len;
                let end = (start + n).min(b.len());
                if start < end {
                    b.drain(start..end);
                }
            }
            Mutation::Insert(a, bytes) => {
                let at = a % (b.len() + 1);
                b.splice(at..at, bytes.iter().copied());
            }
            Mutation::Special(a, c) => {
                if !b.is_empty() {
                    let at = a % b.len();
                    b[at] = *c;
                }
            }
            Mutation::DupLine(a) | Mutation::SwapLines(a, _) => {
                let text = String::from_utf8_lossy(&b).into_owned();
                let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
                if lines.is_empty() {
                    continue;
                }
                let i = a % lines.len();
                match m {
                    Mutation::SwapLines(_, x) => {
                        let j = x % lines.len();
                        lines.swap(i, j);
                    }
                    _ => {
                        let l = lines[i].clone();
                        lines.insert(i, l);
                    }
                }
                b = lines.join("\n").into_bytes();
            }
        }
    }
    b
}

fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let s = seeds();
    (
        prop::sample::select(s),
        prop::collection::vec(mutation(), 1..6),
    )
        .prop_map(|(seed, muts)| apply(&seed, &muts))
}

/// YAML-ish text built from manifest tokens, so the parser gets past the first line often.
fn yamlish() -> impl Strategy<Value = String> {
    let tok = prop::sample::select(vec![
        "name: ",
        "type: ",
        "amlcompute",
        "computeinstance",
        "virtualmachine",
        "kubernetes",
        "aks",
        "batch",
        "local",
        "size: ",
        "tier: ",
        "identity:",
        "  type: ",
        "ssh_settings:",
        "  admin_password: ",
        "{ env: X }",
        "{ file: f }",
        "min_instances: ",
        "max_instances: ",
        "5",
        "-1",
        "1e9",
        "99999999999999999999",
        "true",
        "~",
        "---\n",
        "\n",
        "  ",
        "- ",
        "&a ",
        "*a",
        "<<: *a",
        "!!str ",
        "!!binary ",
        "\"\\u0000\"",
        "'x'",
        "|\n  x",
        ">\n  y",
        "\t",
        "#c",
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        "?",
        "schedules:",
        "  compute_start_stop:",
        "    - action: stop",
        "network_settings:",
        "  vnet_name: v",
        "  subnet: s",
        "properties:",
        "  relayConnectionString: x",
        "resource_id: /subscriptions/x",
        "lifecycle: {prevent_destroy: true}",
        "state: running",
        "workspace: dev",
        "cpu-cluster",
        "idle_time_before_shutdown: PT1H",
    ]);
    prop::collection::vec(tok, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn fuzz_arbitrary_bytes(b in prop::collection::vec(any::<u8>(), 0..400)) {
        exercise(&b, false);
    }

    #[test]
    fn fuzz_arbitrary_strings(s in "\\PC{0,300}") {
        exercise(s.as_bytes(), false);
    }

    #[test]
    fn fuzz_yamlish(s in yamlish()) {
        exercise(s.as_bytes(), true);
    }

    #[test]
    fn fuzz_mutated_manifests(b in mutated()) {
        exercise(&b, false);
    }
}

fn long_config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(100_000);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(long_config())]

    #[test]
    #[ignore = "long fuzz run: PROPTEST_CASES=100000 cargo test -p amlctl-manifest --release --test fuzz -- --ignored"]
    fn fuzz_long_mutated_manifests(b in mutated()) {
        exercise(&b, false);
    }

    #[test]
    #[ignore = "long fuzz run"]
    fn fuzz_long_yamlish(s in yamlish()) {
        exercise(s.as_bytes(), false);
    }

    #[test]
    #[ignore = "long fuzz run"]
    fn fuzz_long_arbitrary_bytes(b in prop::collection::vec(any::<u8>(), 0..600)) {
        exercise(&b, true);
    }
}

#[test]
fn deep_nesting_and_huge_inputs_are_bounded() {
    let deep = "[".repeat(100_000);
    exercise(deep.as_bytes(), false);
    let deep_block: String = (0..2000)
        .map(|i| format!("{}k:\n", " ".repeat(i)))
        .collect();
    exercise(deep_block.as_bytes(), false);
    let many_docs = "---\na: 1\n".repeat(5000);
    exercise(many_docs.as_bytes(), false);
    let big = vec![b'a'; 10 * 1024 * 1024 + 1];
    exercise(&big, false);
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{Value, json};
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "AmlCompute",
            "ComputeInstance",
            "VirtualMachine",
            "Kubernetes",
            "SynapseSpark",
            "HDInsight",
            "Databricks",
            "DataLakeAnalytics",
            "AKS",
            "DataFactory",
            "Batch",
            "PT2M",
            "P1DT",
            "PTXM",
            "Enabled",
            "LowPriority",
            "x",
        ])
        .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    let keys = prop::sample::select(vec![
        "name",
        "id",
        "properties",
        "computeType",
        "vmSize",
        "scaleSettings",
        "nodeIdleTimeBeforeScaleDown",
        "minNodeCount",
        "identity",
        "type",
        "userAssignedIdentities",
        "tags",
        "location",
        "schedules",
        "computeStartStop",
        "triggerType",
        "recurrence",
        "cron",
        "schedule",
        "weekDays",
        "customServices",
        "endpoints",
        "volumes",
        "environmentVariables",
        "setupScripts",
        "scripts",
        "creationScript",
        "timeout",
        "sshSettings",
        "subnet",
        "administratorAccount",
        "sshPort",
        "sslConfiguration",
        "namespace",
        "provisioningErrors",
        "provisioningState",
        "state",
        "agentCount",
        "zz",
    ]);
    leaf.prop_recursive(6, 200, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone(), inner, 0..6).prop_map(|m| Value::Object(
                m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn fuzz_from_arm_odd_json(v in arb_json(), ct in prop::sample::select(vec!["AmlCompute", "ComputeInstance", "Kubernetes", "AKS", "VirtualMachine"])) {
        let _ = from_arm(&v);
        let wrapped = serde_json::json!({"name": "x", "properties": {"computeType": ct, "properties": v.clone()}, "identity": v.clone(), "tags": v});
        let _ = from_arm(&wrapped);
        let sched = serde_json::json!({"name": "x", "properties": {"computeType": "ComputeInstance",
            "properties": {"schedules": {"computeStartStop": [wrapped["identity"].clone()]}, "customServices": [wrapped["tags"].clone()]}}});
        let _ = from_arm(&sched);
    }
}
