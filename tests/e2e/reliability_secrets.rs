//! Reliability: secrets (issue 8). Distinctive secret values from the environment, from a
//! `{ file: … }`, from Key Vault (the emulator's vault, through `--key-vault-endpoint`) and as literals go through validate/render/plan/show/apply/export at `-vvv` and
//! `RUST_LOG=trace`, against the emulator and `--sandbox`; then every stdout/stderr, the saved plan,
//! the step summary, the exported manifests and the emulator's request log are searched for them:
//! zero hits. The emulator's state files (and the sandbox's) are searched too: the emulator stores
//! only `sha256:` digests of secrets (checked through `listKeys`, so the search is not vacuous). A service error that echoes the request body is redacted too.

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use crate::common::*;

const FILE_SECRET: &str = "File-Secret-Passw0rd-4471";
const LITERAL_CLUSTER: &str = "Literal-Cluster-Passw0rd-6620";
const LITERAL_TOKEN: &str = "dapi-Literal-Token-5588";
const ROTATED: &str = "Rotated-VM-Passw0rd-3390";
const KEY_VAULT_SECRET: &str = "Key-Vault-VM-Passw0rd-5182";

fn secrets() -> Vec<&'static str> {
    let mut v: Vec<&str> = SECRET_ENV.iter().map(|(_, s)| *s).collect();
    v.extend([
        FILE_SECRET,
        LITERAL_CLUSTER,
        LITERAL_TOKEN,
        ROTATED,
        KEY_VAULT_SECRET,
    ]);
    v
}

/// Adds manifests with a file secret, a Key Vault secret and literal secrets to the example
/// project (and the vault to the fixture).
fn add_secret_manifests(p: &mut Project) {
    std::fs::create_dir_all(p.path("secrets")).expect("mkdir");
    std::fs::write(
        p.path("secrets/vm2-password.txt"),
        format!("{FILE_SECRET}\n"),
    )
    .expect("write");
    std::fs::write(
        p.path("vm2.yml"),
        "name: vm-filesecret\ntype: virtualmachine\nresource_id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.Compute/virtualMachines/vm02\nssh_settings:\n  admin_username: azureuser\n  admin_password: { file: secrets/vm2-password.txt }\n  ssh_port: 22\n",
    )
    .expect("write");
    std::fs::write(
        p.path("lit-cluster.yml"),
        format!(
            "name: lit-cluster\ntype: amlcompute\nsize: Standard_DS3_v2\nmax_instances: 2\nssh_public_access_enabled: true\nssh_settings:\n  admin_username: azureuser\n  admin_password: {LITERAL_CLUSTER}\n"
        ),
    )
    .expect("write");
    std::fs::write(
        p.path("dbx-literal.yml"),
        format!(
            "name: databricks-lit\ntype: databricks\nresource_id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.Databricks/workspaces/dbw-two\naccess_token: {LITERAL_TOKEN}\n"
        ),
    )
    .expect("write");
    std::fs::write(
        p.path("vm3-kv.yml"),
        "name: vm-keyvault\ntype: virtualmachine\nresource_id: /subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.Compute/virtualMachines/vm03\nssh_settings:\n  admin_username: azureuser\n  admin_password: { key_vault: \"https://kv-ml.vault.azure.net/secrets/vm3-password\" }\n  ssh_port: 22\n",
    )
    .expect("write");
    p.write_fixture(&[]);
    p.add_key_vaults(&format!(
        "  - name: kv-ml\n    secrets:\n      - name: vm3-password\n        value: {KEY_VAULT_SECRET}\n"
    ));
}

/// Drops the Key Vault manifest again (for tests whose stand-in ARM serves no vault).
fn without_key_vault(p: &mut Project) {
    std::fs::remove_file(p.path("vm3-kv.yml")).expect("remove vm3-kv.yml");
    p.write_fixture(&[]);
}

fn manifests(dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            if !p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                manifests(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "yml") {
            out.push(p.to_string_lossy().to_string());
        }
    }
}

/// Collected text to search, labelled.
#[derive(Default)]
struct Haystack(Vec<(String, String)>);

impl Haystack {
    fn add_output(&mut self, label: &str, o: &Output) {
        self.0.push((format!("{label} (stdout)"), stdout(o)));
        self.0.push((format!("{label} (stderr)"), stderr(o)));
    }

    fn add_file(&mut self, label: &str, path: &Path) {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        self.0.push((
            label.to_string(),
            String::from_utf8_lossy(&bytes).to_string(),
        ));
    }

    fn add_dir(&mut self, label: &str, dir: &Path) {
        for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                self.add_dir(label, &p);
            } else {
                self.add_file(&format!("{label}: {}", p.display()), &p);
            }
        }
    }

    /// Panics with every (place, secret) hit.
    fn assert_clean(&self) -> usize {
        let mut hits = Vec::new();
        let mut bytes = 0;
        for (label, text) in &self.0 {
            bytes += text.len();
            for s in secrets() {
                if text.contains(s) {
                    hits.push(format!("{label}: contains {s:?}"));
                }
            }
        }
        assert!(hits.is_empty(), "secret leaks:\n{}", hits.join("\n"));
        bytes
    }
}

/// Runs amlctl at `-vvv` or with `RUST_LOG=trace`; returns the output.
fn run_v(url: &str, args: &[&str], trace_env: bool, extra_env: &[(&str, &str)]) -> Output {
    let mut all: Vec<&str> = args.to_vec();
    if !trace_env {
        all.push("-vvv");
    }
    let mut c = cmd(url, &all);
    // Key Vault references are read from the emulator's vaults.
    c.env("AMLCTL_KEY_VAULT_ENDPOINT", url);
    if trace_env {
        c.env("RUST_LOG", "trace");
    }
    for (k, v) in extra_env {
        c.env(k, v);
    }
    c.output().expect("run amlctl")
}

fn expect_code(o: &Output, code: i32, what: &str) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "{what}\n--- stdout\n{}\n--- stderr\n{}",
        stdout(o),
        stderr(o)
    );
}

#[test]
fn secrets_never_appear_in_outputs_plan_files_exports_or_the_request_log() {
    let mut p = Project::example();
    add_secret_manifests(&mut p);
    let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &["--lro-ms", "30"]);
    let r = p.root.to_string_lossy().to_string();
    let work = p.dir.path();
    let mut hay = Haystack::default();
    let mut files = Vec::new();
    manifests(&p.root, &mut files);
    let mut runs = 0;

    for trace in [false, true] {
        let tag = if trace { "RUST_LOG=trace" } else { "-vvv" };
        let o = run_v(&emu.url, &["validate", &r], trace, &[]);
        expect_code(&o, 0, "validate");
        hay.add_output(&format!("validate {tag}"), &o);
        runs += 1;
        for f in &files {
            let o = run_v(&emu.url, &["render", f], trace, &[]);
            expect_code(&o, 0, &format!("render {f}"));
            hay.add_output(&format!("render {f} {tag}"), &o);
            runs += 1;
        }
        let summary = work.join(format!("summary-{trace}.md"));
        let s = summary.to_string_lossy().to_string();
        for fmt in ["text", "json", "markdown"] {
            let o = run_v(
                &emu.url,
                &["plan", &r, "--format", fmt],
                trace,
                &[("GITHUB_STEP_SUMMARY", &s)],
            );
            expect_code(&o, 0, "plan");
            hay.add_output(&format!("plan --format {fmt} {tag}"), &o);
            runs += 1;
        }
        // plan appends to the step summary whenever the variable is set: a missing file is a bug,
        // not a reason to search less.
        let summary_text = std::fs::read_to_string(&summary).unwrap_or_default();
        assert_eq!(
            summary_text.matches("### amlctl plan").count(),
            3,
            "each of the three plans appended to the step summary {}: {summary_text:?}",
            summary.display()
        );
        hay.add_file(&format!("GITHUB_STEP_SUMMARY {tag}"), &summary);
        let plan_file = work.join(format!("plan-{trace}.json"));
        let pf = plan_file.to_string_lossy().to_string();
        // The trace round's saved plan replaces dsvm, so `apply PLANFILE` below carries a secret
        // (the -vvv round's apply already converged the folder; a no-op plan would carry none).
        let plan_args: Vec<&str> = if trace {
            vec!["plan", &r, "--out", &pf, "--replace", "dsvm"]
        } else {
            vec!["plan", &r, "--out", &pf]
        };
        let o = run_v(&emu.url, &plan_args, trace, &[]);
        expect_code(&o, 0, "plan --out");
        hay.add_output(&format!("plan --out {tag}"), &o);
        hay.add_file(&format!("saved plan {tag}"), &plan_file);
        runs += 1;
        for fmt in ["text", "json", "markdown"] {
            let o = run_v(&emu.url, &["show", &pf, "--format", fmt], trace, &[]);
            expect_code(&o, 0, "show");
            hay.add_output(&format!("show --format {fmt} {tag}"), &o);
            runs += 1;
        }
        // First round applies the folder; the second applies its saved plan (which replaces dsvm,
        // so a secret goes through the saved-plan path at trace level).
        // (Applying a saved plan that creates targets with literal secrets is a known bug: see
        // `saved_plan_with_literal_secrets_sends_the_literals`.)
        let o = if trace {
            // `apply PLANFILE` finds the repository from the current directory.
            cmd(
                &emu.url,
                &["apply", &pf, "--auto-approve", "--replace", "dsvm"],
            )
            .env("RUST_LOG", "trace")
            .env("AMLCTL_KEY_VAULT_ENDPOINT", &emu.url)
            .current_dir(&p.root)
            .output()
            .expect("run amlctl")
        } else {
            run_v(&emu.url, &["apply", &r, "--auto-approve"], trace, &[])
        };
        expect_code(&o, 0, "apply");
        hay.add_output(&format!("apply {tag}"), &o);
        runs += 1;
        if trace {
            // Not vacuous: the saved plan's replacement sent dsvm's password.
            let (status, body) = http_send(
                "POST",
                &format!(
                    "{}/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev/computes/dsvm/listKeys?api-version=2025-12-01",
                    emu.url
                ),
                None,
            );
            assert_eq!(status, 200, "listKeys dsvm: {body}");
            assert!(
                body.contains(&amlctl_emulator::secret_marker(
                    "Sup3r-Secret-VM-Passw0rd-7731"
                )),
                "apply PLANFILE at trace level sent dsvm's secret: {body}"
            );
            let replaced = emu
                .get_json("/_emulator/requests")
                .as_array()
                .expect("array")
                .iter()
                .filter(|q| {
                    q["method"] == "PUT"
                        && q["path"]
                            .as_str()
                            .is_some_and(|p| p.contains("/computes/dsvm"))
                })
                .count();
            assert!(replaced >= 2, "dsvm was re-attached by the saved plan");
        }
        let o = run_v(
            &emu.url,
            &["apply", &r, "--auto-approve", "--format", "json"],
            trace,
            &[],
        );
        expect_code(&o, 0, "apply --format json");
        hay.add_output(&format!("apply --format json {tag}"), &o);
        runs += 1;
        let out_dir = work.join(format!("exported-{trace}"));
        let od = out_dir.to_string_lossy().to_string();
        let o = run_v(
            &emu.url,
            &[
                "export",
                "--path",
                &r,
                "--workspace",
                "dev",
                "--out",
                &od,
                "--force",
            ],
            trace,
            &[],
        );
        expect_code(&o, 0, "export");
        hay.add_output(&format!("export {tag}"), &o);
        hay.add_dir(&format!("exported manifests {tag}"), &out_dir);
        runs += 1;
    }

    // A secret change (rotation) needs --replace: the new value goes only to the service.
    for trace in [false, true] {
        let o = run_v(
            &emu.url,
            &["plan", &r, "--replace", "dsvm", "--format", "json"],
            trace,
            &[("DSVM_ADMIN_PASSWORD", ROTATED)],
        );
        expect_code(&o, 0, "plan --replace");
        hay.add_output("plan --replace dsvm (rotated)", &o);
        runs += 1;
    }
    let o = run_v(
        &emu.url,
        &["apply", &r, "--auto-approve", "--replace", "dsvm"],
        true,
        &[("DSVM_ADMIN_PASSWORD", ROTATED)],
    );
    expect_code(&o, 0, "apply --replace dsvm");
    hay.add_output("apply --replace dsvm (rotated)", &o);
    runs += 1;

    // The sandbox (embedded emulator) too.
    for trace in [false, true] {
        let o = run_v(
            &emu.url,
            &["apply", &r, "--auto-approve", "--sandbox"],
            trace,
            &[],
        );
        expect_code(&o, 0, "apply --sandbox");
        hay.add_output("apply --sandbox", &o);
        let o = run_v(
            &emu.url,
            &["plan", &r, "--sandbox", "--format", "json"],
            trace,
            &[],
        );
        expect_code(&o, 0, "plan --sandbox");
        hay.add_output("plan --sandbox", &o);
        runs += 2;
    }

    // The emulator's request log and stats.
    let log = emu.get_json("/_emulator/requests");
    hay.0.push(("/_emulator/requests".into(), log.to_string()));
    hay.0.push((
        "/_emulator/state".into(),
        emu.get_json("/_emulator/state").to_string(),
    ));
    // The state files themselves (and their journals): the emulator's and the sandbox's hold
    // only digests.
    let journal = |f: &std::path::Path| {
        f.with_file_name(format!(
            "{}.journal",
            f.file_name().unwrap_or_default().to_string_lossy()
        ))
    };
    let sandbox = p.root.join(".amlctl/sandbox.json");
    for file in [
        journal(&emu.state),
        journal(&sandbox),
        emu.state.clone(),
        sandbox,
    ] {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        hay.0.push((file.display().to_string(), text));
    }

    // Not vacuous: the service did receive the secrets (write-only; the emulator's listKeys
    // returns the `sha256:` digest it stores in their place).
    let ws = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev/computes";
    let mut received = Vec::new();
    for (name, value) in [
        ("dsvm", ROTATED),
        ("vm-filesecret", FILE_SECRET),
        ("databricks-lit", LITERAL_TOKEN),
        ("lit-cluster", LITERAL_CLUSTER),
        ("databricks", "dapi-Sup3r-Secret-Token-9953"),
        ("hdi-spark", "Sup3r-Secret-HDI-Passw0rd-8842"),
        ("vm-keyvault", KEY_VAULT_SECRET),
    ] {
        let (status, body) = http_send(
            "POST",
            &format!("{}{ws}/{name}/listKeys?api-version=2025-12-01", emu.url),
            None,
        );
        assert_eq!(status, 200, "listKeys {name}: {body}");
        assert!(
            body.contains(&amlctl_emulator::secret_marker(value)),
            "the service received {name}'s secret (its digest): {body}"
        );
        received.push(name);
    }
    let bytes = hay.assert_clean();
    println!(
        "secrets: {} distinct values, {runs} amlctl runs, {} outputs/files ({bytes} bytes) searched, 0 hits; service received {:?}",
        secrets().len(),
        hay.0.len(),
        received
    );
}

/// A service that echoes the request body (with the secret) in its error: amlctl's error output
/// must not repeat the secret. The stand-in speaks real HTTP on 127.0.0.1.
#[test]
fn service_errors_echoing_the_request_body_are_redacted() {
    // Which secrets each PUT body carried (checked below: the echo test is not vacuous).
    let carried: Arc<std::sync::Mutex<std::collections::BTreeSet<&'static str>>> = Arc::default();
    let seen = carried.clone();
    let handler: Arc<Handler> = Arc::new(move |method: &str, target: &str, body: &str| {
        if method == "PUT" {
            let mut seen = seen.lock().expect("seen");
            for s in secrets() {
                if body.contains(s) {
                    seen.insert(s);
                }
            }
        }
        let path = target.split('?').next().unwrap_or("");
        if path.starts_with("/msi/token") {
            let exp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() + 3600)
                .unwrap_or(0);
            return (
                200,
                serde_json::json!({"access_token": "echo-token", "expires_on": exp.to_string(),
                    "token_type": "Bearer", "resource": "https://management.azure.com/"})
                .to_string(),
            );
        }
        let lower = path.to_ascii_lowercase();
        match method {
            "GET" if lower.ends_with("/computes") => (200, r#"{"value":[]}"#.to_string()),
            "GET" if lower.contains("/computes/") => (
                404,
                r#"{"error":{"code":"ResourceNotFound","message":"not found"}}"#.to_string(),
            ),
            "GET" => (
                200,
                serde_json::json!({"id": path, "name": "w", "location": "eastus", "properties": {}})
                    .to_string(),
            ),
            "PUT" => (
                400,
                serde_json::json!({"error": {
                    "code": "InvalidRequestContent",
                    "message": format!("The request content was invalid and could not be deserialized: {body}"),
                    "target": body,
                    "details": [{"code": "Echo", "message": body}]
                }})
                .to_string(),
            ),
            _ => (
                404,
                r#"{"error":{"code":"NotFound","message":"no"}}"#.to_string(),
            ),
        }
    });
    let server = LoopbackServer::start(handler);
    let mut p = Project::example();
    add_secret_manifests(&mut p);
    without_key_vault(&mut p);
    let r = p.root.to_string_lossy().to_string();
    let mut hay = Haystack::default();
    for trace in [false, true] {
        let o = run_v(&server.url, &["apply", &r, "--auto-approve"], trace, &[]);
        expect_code(&o, 1, "apply against the echoing service");
        let t = format!("{}{}", stdout(&o), stderr(&o));
        assert!(
            t.contains("InvalidRequestContent"),
            "the service's error is reported: {t}"
        );
        hay.add_output(&format!("apply (echoing service, trace={trace})"), &o);
    }
    // Not vacuous: the bodies with secrets were sent (and echoed).
    let puts = server
        .received()
        .iter()
        .filter(|r| r.starts_with("PUT "))
        .count();
    assert!(puts >= 5, "PUTs sent: {:?}", server.received());
    let carried = carried.lock().expect("carried").clone();
    for s in [
        FILE_SECRET,
        LITERAL_CLUSTER,
        LITERAL_TOKEN,
        "Sup3r-Secret-VM-Passw0rd-7731",
        "dapi-Sup3r-Secret-Token-9953",
        "Sup3r-Secret-HDI-Passw0rd-8842",
    ] {
        assert!(
            carried.contains(s),
            "a PUT body carried {s:?} to the echoing service (carried: {carried:?})"
        );
    }
    hay.assert_clean();
    println!(
        "echoing service: {puts} PUTs, {} distinct secrets in their bodies echoed back, 0 hits in amlctl's output",
        carried.len()
    );
}

/// `plan --out` records a literal secret by its location only; `apply PLANFILE` then sends an empty
/// string instead of the literal (and reports success), so the compute is attached with an empty
/// token/password.
#[test]
fn saved_plan_with_literal_secrets_sends_the_literals() {
    let mut p = Project::example();
    add_secret_manifests(&mut p);
    without_key_vault(&mut p);
    let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &["--lro-ms", "30"]);
    let r = p.root.to_string_lossy().to_string();
    let pf = p.dir.path().join("plan.json").to_string_lossy().to_string();
    run(&emu.url, &["plan", &r, "--out", &pf], 0);
    run_in(&p.root, &emu.url, &["apply", &pf, "--auto-approve"], 0);
    let ws = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev/computes";
    for (name, value) in [
        ("databricks-lit", LITERAL_TOKEN),
        ("lit-cluster", LITERAL_CLUSTER),
    ] {
        let (status, body) = http_send(
            "POST",
            &format!("{}{ws}/{name}/listKeys?api-version=2025-12-01", emu.url),
            None,
        );
        assert_eq!(status, 200, "{body}");
        assert!(
            body.contains(&amlctl_emulator::secret_marker(value)),
            "{name} got an empty secret: {body}"
        );
    }
}
