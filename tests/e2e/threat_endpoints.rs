//! Issue #19, "trust nothing a pull request can change", through the real binary: what a pull
//! request controls (manifests, amlctl.yaml) cannot send a token anywhere but the cloud's own
//! hosts, cannot reach a compute through a second alias, and cannot make amlctl panic.
//!
//! The "attacker" is a listener on 127.0.0.1 that counts requests carrying an Authorization header.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::*;

/// A stand-in server on 127.0.0.1: counts connections and requests with an Authorization header,
/// records request lines, and answers every request with `{"value": "stand-in-value"}`.
struct Attacker {
    url: String,
    port: u16,
    connections: Arc<AtomicUsize>,
    authorized: Arc<AtomicUsize>,
    lines: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Attacker {
    fn start() -> Attacker {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let authorized = Arc::new(AtomicUsize::new(0));
        let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (c, a, l) = (connections.clone(), authorized.clone(), lines.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                c.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                if head
                    .lines()
                    .any(|h| h.to_ascii_lowercase().starts_with("authorization:"))
                {
                    a.fetch_add(1, Ordering::SeqCst);
                }
                l.lock()
                    .expect("lines")
                    .push(head.lines().next().unwrap_or("").to_string());
                let body = r#"{"value":"stand-in-value"}"#;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Attacker {
            url: format!("http://127.0.0.1:{port}"),
            port,
            connections,
            authorized,
            lines,
        }
    }

    fn untouched(&self) -> bool {
        self.connections.load(Ordering::SeqCst) == 0
    }
}

fn no_panic(out: &std::process::Output) {
    let err = stderr(out);
    assert!(
        !err.contains("panicked") && out.status.code() == Some(1),
        "exit {:?}: {err}",
        out.status.code()
    );
}

/// Adds `line` under `defaults:` of the project's amlctl.yaml.
fn with_default(p: &Project, line: &str) {
    let cfg = std::fs::read_to_string(p.path("amlctl.yaml")).expect("read");
    let changed = cfg.replace("defaults:\n", &format!("defaults:\n  {line}\n"));
    assert_ne!(cfg, changed, "amlctl.yaml has a defaults block");
    std::fs::write(p.path("amlctl.yaml"), changed).expect("write");
}

/// Row 3: `defaults.arm_endpoint` may only be the cloud's Resource Manager. Pointing it at another
/// host fails `validate` and `plan` with a located error before any token request; the same URL
/// works from `--arm-endpoint`.
#[test]
fn config_arm_endpoint_cannot_redirect_tokens() {
    let attacker = Attacker::start();
    let p = Project::example();
    let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &[]);
    let r = p.root.to_string_lossy().to_string();
    let pristine = std::fs::read_to_string(p.path("amlctl.yaml")).expect("read");
    for url in [attacker.url.as_str(), emu.url.as_str()] {
        std::fs::write(p.path("amlctl.yaml"), &pristine).expect("write");
        with_default(&p, &format!("arm_endpoint: {url}"));
        for args in [
            vec!["validate", r.as_str()],
            vec!["plan", r.as_str()],
            vec!["apply", r.as_str(), "--auto-approve"],
        ] {
            let out = cmd(&emu.url, &args)
                .env_remove("AMLCTL_ARM_ENDPOINT")
                .output()
                .expect("run");
            let err = stderr(&out);
            no_panic(&out);
            assert!(
                err.contains("amlctl.yaml:2") && err.contains("--arm-endpoint"),
                "{args:?} {url}: {err}"
            );
        }
    }
    assert!(attacker.untouched(), "{:?}", attacker.lines.lock().unwrap());
    assert_eq!(
        emu.count("GET", "/msi/token") + emu.count("POST", "/msi/token"),
        0
    );
    assert_eq!(emu.count("GET", "/computes"), 0, "no ARM request either");
    // The same emulator URL from the command line works.
    std::fs::write(p.path("amlctl.yaml"), &pristine).expect("write");
    let out = cmd(&emu.url, &["plan", &r, "--arm-endpoint", &emu.url])
        .env_remove("AMLCTL_ARM_ENDPOINT")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(emu.count("GET", "/computes") > 0);
}

/// Row 2: a `key_vault` reference must name a vault of the selected cloud; one pointing at
/// another host fails `validate --strict` and `apply` never reaches it. `--key-vault-endpoint`
/// (command line only) is the way to a stand-in vault.
#[test]
fn key_vault_reference_cannot_redirect_tokens() {
    let attacker = Attacker::start();
    let p = Project::example();
    let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &[]);
    let r = p.root.to_string_lossy().to_string();
    let hdi = std::fs::read_to_string(p.path("hdi.yml")).expect("read");
    let write_vault = |url: &str| {
        let text = hdi.replace(
            "{ env: HDI_ADMIN_PASSWORD }",
            &format!("{{ key_vault: \"{url}\" }}"),
        );
        assert_ne!(text, hdi);
        std::fs::write(p.path("hdi.yml"), text).expect("write");
    };
    for url in [
        format!("{}/secrets/hdi", attacker.url),
        format!("https://127.0.0.1:{}/secrets/hdi", attacker.port),
        format!(
            "https://kv.vault.azure.net.127.0.0.1.nip.io:{}/secrets/hdi",
            attacker.port
        ),
    ] {
        write_vault(&url);
        for args in [
            vec!["validate", r.as_str(), "--strict"],
            vec!["apply", r.as_str(), "--auto-approve"],
        ] {
            let out = cmd(&emu.url, &args).output().expect("run");
            no_panic(&out);
            let err = stderr(&out);
            assert!(
                err.contains("hdi.yml:8:") && err.contains("key_vault"),
                "{args:?} {url}: {err}"
            );
        }
    }
    assert!(attacker.untouched(), "{:?}", attacker.lines.lock().unwrap());
    assert_eq!(emu.count("PUT", "/computes/"), 0, "apply changed nothing");

    // The override: a real vault name, every vault request sent to the stand-in on purpose.
    write_vault("https://kv-ml.vault.azure.net/secrets/hdi-ssh-password");
    let out = cmd(
        &emu.url,
        &[
            "apply",
            &r,
            "--auto-approve",
            "--key-vault-endpoint",
            &attacker.url,
        ],
    )
    .output()
    .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        attacker.authorized.load(Ordering::SeqCst) >= 1
            && attacker
                .lines
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.starts_with("GET /secrets/hdi-ssh-password?api-version=")),
        "{:?}",
        attacker.lines.lock().unwrap()
    );
}

/// Row 10: plain http only to literal loopback; `evil.localhost` is refused before any token
/// request and any DNS lookup, for ARM and for the Key Vault override alike.
#[test]
fn http_only_to_literal_loopback() {
    let attacker = Attacker::start();
    let p = Project::example();
    let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &[]);
    let r = p.root.to_string_lossy().to_string();
    let evil = format!("http://evil.localhost:{}", attacker.port);
    for args in [
        vec!["plan", r.as_str(), "--arm-endpoint", evil.as_str()],
        vec![
            "apply",
            r.as_str(),
            "--auto-approve",
            "--arm-endpoint",
            evil.as_str(),
        ],
        vec!["plan", r.as_str(), "--key-vault-endpoint", evil.as_str()],
    ] {
        let out = cmd(&emu.url, &args).output().expect("run");
        no_panic(&out);
        assert!(
            stderr(&out).contains("refusing to send a bearer token over plain http"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    assert!(attacker.untouched(), "{:?}", attacker.lines.lock().unwrap());
    assert_eq!(
        emu.count("GET", "/msi/token") + emu.count("POST", "/msi/token"),
        0
    );
}

/// Row 4: a second alias of the same workspace (different case, prune: true) is an error at load;
/// nothing is deleted.
#[test]
fn second_alias_of_a_workspace_cannot_prune() {
    let (p, emu) = applied_example(&[]);
    let r = p.root.to_string_lossy().to_string();
    let before = emu.computes().len();
    assert!(before > 0);
    let cfg = std::fs::read_to_string(p.path("amlctl.yaml")).expect("read");
    let shadow = cfg.replace(
        "default_workspace:",
        "  shadow:\n    subscription_id: 00000000-0000-0000-0000-000000000000\n    resource_group: RG-ML\n    workspace: MLW-DEV\n    prune: true\ndefault_workspace:",
    );
    assert_ne!(cfg, shadow);
    std::fs::write(p.path("amlctl.yaml"), shadow).expect("write");
    for args in [
        vec!["validate", r.as_str()],
        vec!["plan", r.as_str()],
        vec!["apply", r.as_str(), "--auto-approve"],
    ] {
        let out = cmd(&emu.url, &args).output().expect("run");
        no_panic(&out);
        let err = stderr(&out);
        assert!(
            err.contains("amlctl.yaml:")
                && err.contains("`dev`")
                && err.contains("`shadow`")
                && err.contains("same workspace"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(emu.count("DELETE", "/computes/"), 0);
    assert_eq!(emu.computes().len(), before);
}

/// Rows 11 and 12: huge numbers are usage errors or located errors with exit 1, never a panic.
#[test]
fn huge_numbers_are_errors_not_panics() {
    let p = Project::example();
    let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &[]);
    let r = p.root.to_string_lossy().to_string();
    for (flag, value, range) in [
        ("--parallelism", "2305843009213693952", "1..=256"),
        ("--operation-timeout", "18446744073709551615", "1..=86400"),
        ("--parallelism", "0", "1..=256"),
    ] {
        for command in ["plan", "apply"] {
            let args: Vec<&str> = if command == "plan" {
                vec![command, r.as_str(), flag, value]
            } else {
                vec![command, r.as_str(), "--auto-approve", flag, value]
            };
            let out = run_bounded(&emu.url, &args, Duration::from_secs(60));
            no_panic(&out);
            assert!(
                stderr(&out).contains(flag) && stderr(&out).contains(range),
                "{command} {flag} {value}: {}",
                stderr(&out)
            );
        }
    }
    let cfg = std::fs::read_to_string(p.path("amlctl.yaml")).expect("read");
    let huge = cfg.replace("parallelism: 4", "parallelism: 2305843009213693952");
    assert_ne!(cfg, huge);
    std::fs::write(p.path("amlctl.yaml"), huge).expect("write");
    let out = run_bounded(&emu.url, &["plan", &r], Duration::from_secs(60));
    no_panic(&out);
    assert!(
        stderr(&out).contains("amlctl.yaml:") && stderr(&out).contains("between 1 and 256"),
        "{}",
        stderr(&out)
    );
}

/// Row 13: an explicit `!!binary` tag is a located error, not silently decoded.
#[test]
fn binary_tag_is_a_located_error() {
    let p = Project::example();
    let r = p.root.to_string_lossy().to_string();
    let cpu = std::fs::read_to_string(p.path("cpu-cluster.yml")).expect("read");
    // base64 of "prod-cluster": a reviewer reading the diff would not see which compute it names.
    let tagged = cpu.replace("name: cpu-cluster", "name: !!binary cHJvZC1jbHVzdGVy");
    assert_ne!(cpu, tagged);
    std::fs::write(p.path("cpu-cluster.yml"), tagged).expect("write");
    let out = cmd("http://127.0.0.1:9", &["validate", &r])
        .output()
        .expect("run");
    no_panic(&out);
    assert!(
        stderr(&out).contains("cpu-cluster.yml:") && stderr(&out).contains("explicit YAML tag `"),
        "{}",
        stderr(&out)
    );
}
