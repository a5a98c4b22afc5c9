//! Validation rules of issue #19 ("trust nothing a pull request can change") and of "The first
//! hour": endpoints, Key Vault hosts, duplicate workspaces, ranges, explicit tags, hints.

use amlctl_manifest::{Diagnostic, LoadOptions, load_project};

const WS: &str = "workspaces:\n  prod:\n    subscription_id: 00000000-0000-0000-0000-000000000001\n    resource_group: g\n    workspace: w\n";

fn load(config: &str, files: &[(&str, &str)]) -> Result<amlctl_manifest::Project, Vec<Diagnostic>> {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("amlctl.yaml"), config).unwrap();
    for (name, text) in files {
        std::fs::write(d.path().join(name), text).unwrap();
    }
    let r = load_project(d.path(), &LoadOptions::default());
    drop(d);
    r
}

/// The single error, as `file-name:line:col: error: …` plus hint.
fn error(config: &str, files: &[(&str, &str)]) -> String {
    let errs: Vec<Diagnostic> = load(config, files)
        .expect_err("expected an error")
        .into_iter()
        .filter(Diagnostic::is_error)
        .collect();
    assert!(!errs.is_empty());
    errs.iter()
        .map(|d| {
            let l = d.location.as_ref().expect("located");
            format!(
                "{}:{}:{}: {} | {}",
                l.file.file_name().unwrap().to_string_lossy(),
                l.line,
                l.column,
                d.message,
                d.hint.clone().unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn arm_endpoint_in_config_only_the_clouds_own() {
    let e = error(
        &format!("{WS}defaults:\n  arm_endpoint: http://127.0.0.1:9999\n"),
        &[],
    );
    assert!(e.starts_with("amlctl.yaml:7:17: "), "{e}");
    assert!(
        e.contains("--arm-endpoint") && e.contains("AMLCTL_ARM_ENDPOINT"),
        "{e}"
    );
    // Another cloud's endpoint is refused too, unless that cloud is selected.
    let e = error(
        &format!("{WS}defaults:\n  arm_endpoint: https://management.usgovcloudapi.net\n"),
        &[],
    );
    assert!(e.contains("public cloud's Resource Manager"), "{e}");
    load(
        &format!(
            "{WS}defaults:\n  cloud: usgov\n  arm_endpoint: https://management.usgovcloudapi.net/\n"
        ),
        &[],
    )
    .unwrap();
    load(
        &format!("{WS}defaults:\n  arm_endpoint: https://management.azure.com\n"),
        &[],
    )
    .unwrap();
    let e = error(&format!("{WS}defaults:\n  cloud: mars\n"), &[]);
    assert!(
        e.starts_with("amlctl.yaml:7:10: unknown cloud `mars`"),
        "{e}"
    );
}

const DBX: &str = "name: dbx\ntype: databricks\nresource_id: /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/g/providers/Microsoft.Databricks/workspaces/d\n";

#[test]
fn key_vault_must_be_a_vault_of_the_selected_cloud() {
    for bad in [
        "http://127.0.0.1:8080/secrets/tok",
        "https://127.0.0.1:8080/secrets/tok",
        "https://kv1.vault.azure.net.evil.example/secrets/tok",
        "https://kv1.vault.azure.net/keys/tok",
    ] {
        let m = format!("{DBX}access_token: {{ key_vault: '{bad}' }}\n");
        let e = error(WS, &[("dbx.yml", &m)]);
        assert!(
            e.starts_with("dbx.yml:4:28: `access_token`: `key_vault`"),
            "{bad}: {e}"
        );
        assert!(e.contains("--key-vault-endpoint"), "{e}");
    }
    let ok =
        format!("{DBX}access_token: {{ key_vault: 'https://kv1.vault.azure.net/secrets/tok' }}\n");
    load(WS, &[("dbx.yml", &ok)]).unwrap();
    // A China vault while the public cloud is selected.
    let cn =
        format!("{DBX}access_token: {{ key_vault: 'https://kv1.vault.azure.cn/secrets/tok' }}\n");
    let e = error(WS, &[("dbx.yml", &cn)]);
    assert!(
        e.starts_with("dbx.yml:4:") && e.contains("outside the public cloud"),
        "{e}"
    );
    load(
        &format!("{WS}defaults:\n  cloud: china\n"),
        &[("dbx.yml", &cn)],
    )
    .unwrap();
}

#[test]
fn one_workspace_one_alias() {
    let config = format!(
        "{WS}  PROD2:\n    subscription_id: 00000000-0000-0000-0000-000000000001\n    resource_group: G\n    workspace: W\n"
    );
    let e = error(&config, &[]);
    assert!(e.starts_with("amlctl.yaml:6:3: "), "{e}");
    assert!(
        e.contains("`prod` (") && e.contains("amlctl.yaml:2:3") && e.contains("`PROD2`"),
        "{e}"
    );
}

#[test]
fn subscription_id_must_be_a_guid() {
    let e = error(
        &WS.replace("00000000-0000-0000-0000-000000000001", "not-a-guid"),
        &[],
    );
    assert!(
        e.starts_with("amlctl.yaml:3:22: `subscription_id` of workspace `prod` is not a GUID"),
        "{e}"
    );
}

#[test]
fn numbers_have_ranges() {
    let e = error(
        &format!("{WS}defaults:\n  parallelism: 2305843009213693952\n"),
        &[],
    );
    assert!(
        e.starts_with("amlctl.yaml:7:16: `defaults.parallelism` must be between 1 and 256"),
        "{e}"
    );
    for (key, value, needle) in [
        ("max_instances", "100000", "between 1 and 10000"),
        ("min_instances", "-1", "between 0 and 10000"),
        (
            "idle_time_before_scale_down",
            "99999999999",
            "between 0 and 604800",
        ),
        (
            "idle_time_before_scale_down",
            "18446744073709551615",
            "between 0 and 604800",
        ),
    ] {
        let m = format!("name: c1x\ntype: amlcompute\n{key}: {value}\n");
        let e = error(WS, &[("c.yml", &m)]);
        assert!(
            e.starts_with("c.yml:3:") && e.contains(needle),
            "{key}: {e}"
        );
    }
    let m = "name: ci1\ntype: computeinstance\nidle_time_before_shutdown_minutes: 5\n";
    let e = error(WS, &[("c.yml", m)]);
    assert!(e.contains("between 15 and 4320"), "{e}");
    let vm = "name: vm1\ntype: virtualmachine\nresource_id: /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/v\nssh_settings: {admin_username: u, admin_password: {env: X}, ssh_port: 70000}\n";
    let e = error(WS, &[("v.yml", vm)]);
    assert!(e.contains("between 1 and 65535, found 70000"), "{e}");
    let m = "name: ci1\ntype: computeinstance\nidle_time_before_shutdown: P30D\n";
    let e = error(WS, &[("c.yml", m)]);
    assert!(
        e.starts_with("c.yml:3:28: ") && e.contains("between 15 minutes and 3 days"),
        "{e}"
    );
}

#[test]
fn explicit_tags_are_located_errors() {
    let e = error(
        WS,
        &[(
            "c.yml",
            "type: amlcompute\nname: !!binary Y3B1LWNsdXN0ZXI=\n",
        )],
    );
    assert!(e.starts_with("c.yml:2:16: explicit YAML tag"), "{e}");
}

#[test]
fn first_hour_hints() {
    let e = error(
        WS,
        &[("c.yml", "name: c1x\ntype: amlcompute\nworkspace: prdo\n")],
    );
    assert!(e.contains("did you mean `prod`?"), "{e}");
    let e = error(
        WS,
        &[(
            "c.yml",
            "name: c1x\ntype: amlcompute\nidle_time_before_scale_down: PT30M\n",
        )],
    );
    assert!(
        e.contains("seconds") && e.contains("idle_time_before_scale_down: 1800"),
        "{e}"
    );
    // A name the service would not create is a warning (the planner refuses only a create; an
    // existing compute keeps its name), explained in words, not as a regex.
    let p = load(WS, &[("c.yml", "name: 1abc\ntype: amlcompute\n")]).expect("a warning only");
    let w: Vec<String> = p
        .diagnostics
        .iter()
        .map(|d| format!("{} {}", d.message, d.hint.clone().unwrap_or_default()))
        .collect();
    assert!(
        w.iter()
            .any(|e| e.contains("starts with a letter") && !e.contains("[a-zA-Z]")),
        "{w:?}"
    );
}

#[test]
fn legacy_batch_warning_can_be_acknowledged() {
    let batch = "name: bat\ntype: batch\nresource_id: /subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/g/providers/Microsoft.Batch/batchAccounts/b\n";
    let p = load(WS, &[("b.yml", batch)]).unwrap();
    assert!(p.diagnostics.iter().any(|d| d.message.contains("legacy")));
    let acked = format!("{batch}acknowledge_legacy: true\n");
    let p = load(WS, &[("b.yml", &acked)]).unwrap();
    assert!(
        !p.diagnostics.iter().any(|d| d.message.contains("legacy")),
        "{:?}",
        p.diagnostics
    );
    let e = error(
        WS,
        &[(
            "c.yml",
            "name: c1x\ntype: amlcompute\nacknowledge_legacy: true\n",
        )],
    );
    assert!(e.contains("only to `type: batch`"), "{e}");
}
