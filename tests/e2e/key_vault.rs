//! Key Vault secret references end to end (#21): the real binary reads
//! `{ key_vault: https://<vault>.vault.azure.net/secrets/<name>[/<version>] }` from the
//! emulator's vaults (fixture `key_vaults:`) through `--key-vault-endpoint`, with a token of the
//! vault audience, before the first write; failures name the manifest, key and URL, never a value.

use std::io::{Read, Write};
use std::time::Duration;

use crate::common::*;

const HDI_VALUE: &str = "Kv-Hdi-Ssh-Passw0rd-5120";
const OTHER_VAULT_VALUE: &str = "Kv-Other-Vault-Passw0rd-6231";
const DSVM_OLD: &str = "Kv-Dsvm-Old-Version-Passw0rd-7342";
const DSVM_CURRENT: &str = "Kv-Dsvm-Current-Passw0rd-8453";
const DISABLED_VALUE: &str = "Kv-Disabled-Passw0rd-9564";
const DSVM_VERSION: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

const HDI_URL: &str = "https://kv-ml.vault.azure.net/secrets/hdi-ssh-password";

fn vaults() -> String {
    format!(
        "  - name: kv-ml
    throttle: 2
    secrets:
      - name: hdi-ssh-password
        value: {HDI_VALUE}
      - name: dsvm-password
        value: {DSVM_CURRENT}
        versions:
          - version: \"{DSVM_VERSION}\"
            value: {DSVM_OLD}
      - name: hdi-disabled
        value: {DISABLED_VALUE}
        enabled: false
  - name: kv-other
    secrets:
      - name: hdi-ssh-password
        value: {OTHER_VAULT_VALUE}
  - name: kv-denied
    deny_get: true
    secrets:
      - name: hdi-ssh-password
        value: {OTHER_VAULT_VALUE}
"
    )
}

fn values() -> [&'static str; 5] {
    [
        HDI_VALUE,
        OTHER_VAULT_VALUE,
        DSVM_OLD,
        DSVM_CURRENT,
        DISABLED_VALUE,
    ]
}

/// The example with its Key Vault reference, the DSVM password from a pinned version too.
fn project() -> Project {
    let p = Project::example_with_key_vault();
    let dsvm = std::fs::read_to_string(p.path("dsvm.yml")).expect("dsvm.yml");
    let text = dsvm.replace(
        "{ env: DSVM_ADMIN_PASSWORD }",
        &format!(
            "{{ key_vault: \"https://kv-ml.vault.azure.net/secrets/dsvm-password/{DSVM_VERSION}\" }}"
        ),
    );
    assert_ne!(text, dsvm);
    std::fs::write(p.path("dsvm.yml"), text).expect("write");
    p.add_key_vaults(&vaults());
    p
}

fn assert_no_value(what: &str, text: &str) {
    for v in values() {
        assert!(!text.contains(v), "{what} holds a secret value: {text}");
    }
}

/// `(status, count)` of the vault GETs of `path_part`, from the emulator's request log.
fn vault_gets(emu: &EmulatorProcess, path_part: &str) -> Vec<u64> {
    emu.get_json("/_emulator/requests")
        .as_array()
        .expect("array")
        .iter()
        .filter(|r| {
            r["method"] == "GET" && r["path"].as_str().is_some_and(|p| p.contains(path_part))
        })
        .map(|r| r["status"].as_u64().unwrap_or(0))
        .collect()
}

fn list_keys(emu: &EmulatorProcess, name: &str) -> String {
    let ws = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev/computes";
    let (status, body) = http_send(
        "POST",
        &format!("{}{ws}/{name}/listKeys?api-version=2025-12-01", emu.url),
        None,
    );
    assert_eq!(status, 200, "listKeys {name}: {body}");
    body
}

#[test]
fn apply_reads_key_vault_secrets_once_with_retries_before_writing() {
    let p = project();
    let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &["--lro-ms", "30"]);
    let r = p.root.to_string_lossy().to_string();
    let plan = p.dir.path().join("plan.json");
    let pf = plan.to_string_lossy().to_string();
    let o = run(&emu.url, &["plan", &r, "--out", &pf, "-vvv"], 0);
    assert_no_value("plan output", &(stdout(&o) + &stderr(&o)));
    assert_no_value("plan file", &std::fs::read_to_string(&plan).expect("plan"));
    assert!(
        vault_gets(&emu, "/secrets/").is_empty(),
        "plan reads no secret"
    );

    let o = run(
        &emu.url,
        &[
            "apply",
            &r,
            "--auto-approve",
            "-vvv",
            "--key-vault-endpoint",
            &emu.url,
        ],
        0,
    );
    assert_no_value("apply output", &(stdout(&o) + &stderr(&o)));
    // The vault throttled twice (429, Retry-After: 1); each secret was then read once.
    let mut gets = vault_gets(&emu, "/secrets/");
    gets.sort();
    assert_eq!(
        gets,
        [200, 200, 429, 429],
        "two throttled, then one read per secret"
    );
    for secret in ["/secrets/hdi-ssh-password", "/secrets/dsvm-password/"] {
        let ok = vault_gets(&emu, secret)
            .iter()
            .filter(|s| **s == 200)
            .count();
        assert_eq!(ok, 1, "{secret} read once");
    }
    // The PUTs carried the values: the emulator stores their digests.
    let hdi = list_keys(&emu, "hdi-spark");
    assert!(
        hdi.contains(&amlctl_emulator::secret_marker(HDI_VALUE)),
        "hdi-spark got kv-ml's secret (not kv-other's): {hdi}"
    );
    let vm = list_keys(&emu, "dsvm");
    assert!(
        vm.contains(&amlctl_emulator::secret_marker(DSVM_OLD)),
        "dsvm got the pinned version, not the current one: {vm}"
    );
    let state = std::fs::read_to_string(&emu.state).expect("state");
    assert_no_value("emulator state", &state);
    let journal = emu.state.with_file_name(format!(
        "{}.journal",
        emu.state.file_name().unwrap_or_default().to_string_lossy()
    ));
    let journal = std::fs::read_to_string(&journal).expect("state journal");
    assert_no_value("emulator state journal", &journal);
    assert_no_value(
        "request log",
        &emu.get_json("/_emulator/requests").to_string(),
    );
}

#[test]
fn missing_disabled_and_forbidden_secrets_fail_before_any_write() {
    let p = project();
    let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &[]);
    let r = p.root.to_string_lossy().to_string();
    let mut current = HDI_URL.to_string();
    for (url, expect) in [
        (
            "https://kv-ml.vault.azure.net/secrets/no-such-secret",
            "404 Not Found (SecretNotFound)",
        ),
        (
            "https://kv-ml.vault.azure.net/secrets/hdi-ssh-password/ffffffffffffffffffffffffffffffff",
            "(SecretNotFound)",
        ),
        (
            "https://kv-ml.vault.azure.net/secrets/hdi-disabled",
            "403 Forbidden (Forbidden/SecretDisabled)",
        ),
        (
            "https://kv-denied.vault.azure.net/secrets/hdi-ssh-password",
            "403 Forbidden (Forbidden/ForbiddenByRbac)",
        ),
    ] {
        let hdi = std::fs::read_to_string(p.path("hdi.yml")).expect("hdi");
        let fixed = hdi.replace(&current, url);
        std::fs::write(p.path("hdi.yml"), fixed).expect("write");
        current = url.to_string();
        let o = run(
            &emu.url,
            &[
                "apply",
                &r,
                "--auto-approve",
                "-vvv",
                "--key-vault-endpoint",
                &emu.url,
            ],
            1,
        );
        let err = stderr(&o);
        assert!(
            err.contains("hdi.yml:8: ssh_settings.admin_password")
                && err.contains(url)
                && err.contains(expect),
            "{url}: {err}"
        );
        assert_no_value(url, &(stdout(&o) + &err));
        assert_eq!(emu.count("PUT", "/computes/"), 0, "{url}: nothing written");
        assert_eq!(
            emu.count("PATCH", "/computes/"),
            0,
            "{url}: nothing written"
        );
    }
}

/// A raw GET with a `Host` header and a bearer token; returns (status, body).
fn raw_get(url: &str, path: &str, host: &str, token: &str) -> (u16, String) {
    let addr = url.strip_prefix("http://").expect("http");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut buf = String::new();
    s.read_to_string(&mut buf).expect("read");
    let status = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, buf)
}

fn msi_token(url: &str, resource: &str) -> String {
    let addr = url.strip_prefix("http://").expect("http");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET /msi/token?api-version=2019-08-01&resource={resource} HTTP/1.1\r\nHost: {addr}\r\nX-IDENTITY-HEADER: {IDENTITY_HEADER}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut buf = String::new();
    s.read_to_string(&mut buf).expect("read");
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let start = body.find('{').expect("json");
    let v: serde_json::Value =
        serde_json::from_str(&body[start..=body.rfind('}').expect("json")]).expect("token json");
    v["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

/// Tokens are audience-bound: the vault refuses an ARM token (401, AKV10022) and ARM refuses a
/// vault token; and a vault only answers from its own secrets.
#[test]
fn vault_and_arm_tokens_are_not_interchangeable() {
    let p = project();
    let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &[]);
    let arm = msi_token(&emu.url, "https://management.azure.com/");
    let vault = msi_token(&emu.url, "https://vault.azure.net");
    let path = "/secrets/hdi-ssh-password?api-version=7.4";
    let (status, body) = raw_get(&emu.url, path, "kv-other.vault.azure.net", &arm);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("AKV10022"), "{body}");
    let (status, body) = raw_get(&emu.url, path, "kv-other.vault.azure.net", STATIC_TOKEN);
    assert_eq!(status, 401, "a static ARM token too: {body}");
    let (status, body) = raw_get(&emu.url, path, "kv-other.vault.azure.net", &vault);
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(OTHER_VAULT_VALUE) && !body.contains(HDI_VALUE),
        "{body}"
    );
    let (status, body) = raw_get(&emu.url, path, "kv-nowhere.vault.azure.net", &vault);
    assert_eq!(status, 404, "{body}");
    let ws = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev/computes?api-version=2025-12-01";
    let host = emu.url.trim_start_matches("http://").to_string();
    let (status, body) = raw_get(&emu.url, ws, &host, &vault);
    assert_eq!(status, 401, "ARM refuses a vault token: {body}");
    let (status, body) = raw_get(&emu.url, ws, &host, &arm);
    assert_eq!(status, 200, "{body}");
}

/// `--sandbox` seeds the vaults the manifests name: the example applies through the real Key
/// Vault path, and the compute received the seeded value.
#[test]
fn sandbox_serves_the_example_key_vault_secret() {
    let p = Project::example_with_key_vault();
    let r = p.root.to_string_lossy().to_string();
    let o = cmd(
        "http://127.0.0.1:9",
        &["apply", &r, "--sandbox", "--auto-approve"],
    )
    .env_remove("AMLCTL_ARM_ENDPOINT")
    .output()
    .expect("run");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let state = std::fs::read_to_string(p.path(".amlctl/sandbox.json")).expect("sandbox state");
    assert!(
        state.contains(&amlctl_emulator::secret_marker(
            "sandbox-example-hdi-ssh-password"
        )),
        "hdi-spark got the seeded Key Vault value"
    );
    assert!(!state.contains("sandbox-example-hdi-ssh-password"));
}
