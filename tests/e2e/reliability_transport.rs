//! Reliability: transport (issue 8). A non-loopback `http://` ARM endpoint is refused before any
//! connection or token request (the managed-identity endpoint is a loopback listener that counts
//! connections: zero); the emulator refuses non-loopback listen addresses; ARM requests without a
//! valid bearer get 401 (raw HTTP), even when faults are injected.

use std::io::{Read, Write};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::common::*;

/// A token endpoint that answers like App Service managed identity (and counts its callers).
fn token_server() -> LoopbackServer {
    let handler: Arc<Handler> = Arc::new(|_m: &str, target: &str, _b: &str| {
        if target.starts_with("/msi/token") {
            let exp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() + 3600)
                .unwrap_or(0);
            (
                200,
                serde_json::json!({"access_token": "t", "expires_on": exp.to_string(),
                    "token_type": "Bearer", "resource": "https://management.azure.com/"})
                .to_string(),
            )
        } else {
            (200, r#"{"value":[]}"#.to_string())
        }
    });
    LoopbackServer::start(handler)
}

const INSECURE: &[&str] = &[
    "http://10.1.2.3",
    "http://management.azure.com",
    "http://127.0.0.1.nip.io:8080",
    "http://localhost.example.com",
    "http://[::ffff:10.1.2.3]",
];

#[test]
fn non_loopback_http_endpoint_is_refused_before_any_token_request() {
    let server = token_server();
    let p = Project::example();
    let r = p.root.to_string_lossy().to_string();
    let token_url = format!("{}/msi/token", server.url);
    let mut refused = 0;
    for endpoint in INSECURE {
        for args in [
            vec!["plan", r.as_str()],
            vec!["apply", r.as_str(), "--auto-approve"],
            vec!["export", "--path", r.as_str(), "--workspace", "dev"],
        ] {
            let out = cmd(&server.url, &args)
                .env("AMLCTL_ARM_ENDPOINT", endpoint)
                .env("IDENTITY_ENDPOINT", &token_url)
                .output()
                .expect("run");
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(1), "{endpoint} {args:?}: {err}");
            assert!(
                err.contains("refusing to send a bearer token over plain http"),
                "{endpoint} {args:?}: {err}"
            );
            refused += 1;
        }
    }
    // The same from amlctl.yaml's defaults.arm_endpoint: refused even earlier, as a located
    // config error (amlctl.yaml may only name the cloud's own Resource Manager, #19).
    let cfg = std::fs::read_to_string(p.path("amlctl.yaml")).expect("read");
    let with_default = cfg.replace(
        "defaults:\n",
        "defaults:\n  arm_endpoint: http://10.1.2.3\n",
    );
    assert_ne!(cfg, with_default, "amlctl.yaml has a defaults block");
    std::fs::write(p.path("amlctl.yaml"), with_default).expect("write");
    let out = cmd(&server.url, &["plan", &r])
        .env_remove("AMLCTL_ARM_ENDPOINT")
        .env("IDENTITY_ENDPOINT", &token_url)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("amlctl.yaml:") && stderr(&out).contains("--arm-endpoint"),
        "{}",
        stderr(&out)
    );
    refused += 1;
    assert_eq!(
        server.connections.load(Ordering::SeqCst),
        0,
        "the token endpoint was contacted: {:?}",
        server.received()
    );

    // Not vacuous: with a loopback http endpoint the same command does ask for a token.
    std::fs::write(p.path("amlctl.yaml"), cfg).expect("restore");
    let _ = cmd(&server.url, &["plan", &r])
        .env("IDENTITY_ENDPOINT", &token_url)
        .output()
        .expect("run");
    assert!(
        server
            .received()
            .iter()
            .any(|r| r.starts_with("GET /msi/token")),
        "a loopback endpoint gets a token request: {:?}",
        server.received()
    );
    println!(
        "{refused} insecure runs refused with 0 connections; loopback control made {} requests",
        server.received().len()
    );
}

#[test]
fn emulator_refuses_non_loopback_listen_addresses() {
    let dir = tempfile::tempdir().expect("tempdir");
    for listen in ["0.0.0.0:0", "10.1.2.3:0", "[::]:0", "192.168.1.1:8080"] {
        let state = dir.path().join("state.json");
        let mut child = std::process::Command::new(amlctl())
            .args(["emulator", "serve", "--listen", listen, "--state"])
            .arg(&state)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let status = wait_with_timeout(&mut child, Duration::from_secs(30));
        let mut err = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut err)
            .expect("read");
        assert_eq!(status.code(), Some(1), "{listen}: {err}");
        assert!(err.contains("only loopback addresses"), "{listen}: {err}");
        assert!(!state.exists(), "{listen}: no state written");
    }
}

/// Sends a raw HTTP/1.1 request with an optional `Authorization` header value.
fn raw(method: &str, url: &str, auth: Option<&str>, body: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut s = std::net::TcpStream::connect(host).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|x| x.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[test]
fn requests_without_a_valid_bearer_get_401_even_under_faults() {
    let p = Project::example();
    for flags in [
        &[][..],
        &[
            "--faults",
            "500=0.5,reset=0.3,slow=0.2",
            "--fault-seed",
            "3",
        ][..],
    ] {
        let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, flags);
        let ws = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev";
        let list = format!("{}{ws}/computes?api-version=2025-12-01", emu.url);
        let one = format!("{}{ws}/computes/sneaky?api-version=2025-12-01", emu.url);
        let body = r#"{"location":"eastus","properties":{"computeType":"AmlCompute","properties":{"vmSize":"Standard_DS3_v2","scaleSettings":{"maxNodeCount":1,"minNodeCount":0}}}}"#;
        let mut checked = 0;
        for auth in [
            None,
            Some("Bearer"),
            Some("Bearer "),
            Some("Bearer not-a-token"),
            Some("Basic ZTJlOmUyZQ=="),
            Some(STATIC_TOKEN),
            Some("bearer e2e-static-token-but-longer"),
        ] {
            for (method, url, b) in [
                ("GET", &list, ""),
                ("GET", &one, ""),
                ("PUT", &one, body),
                ("DELETE", &one, ""),
                (
                    "POST",
                    &format!(
                        "{}{ws}/computes/sneaky/listKeys?api-version=2025-12-01",
                        emu.url
                    ),
                    "",
                ),
            ] {
                let (status, text) = raw(method, url, auth, b);
                assert_eq!(
                    status, 401,
                    "{method} with {auth:?} under {flags:?}: {text}"
                );
                assert!(
                    text.to_ascii_lowercase()
                        .contains("www-authenticate: bearer"),
                    "{text}"
                );
                checked += 1;
            }
        }
        assert!(
            emu.computes().is_empty(),
            "nothing was created without a token"
        );
        // Control: the static token works (when no fault hits this one request).
        if flags.is_empty() {
            let (status, text) = raw("GET", &list, Some(&format!("Bearer {STATIC_TOKEN}")), "");
            assert_eq!(status, 200, "{text}");
        }
        // The token endpoint wants its identity header.
        let (status, text) = raw(
            "GET",
            &format!(
                "{}/msi/token?api-version=2019-08-01&resource=https://management.azure.com",
                emu.url
            ),
            None,
            "",
        );
        assert!(
            (400..500).contains(&status) && !text.contains("access_token"),
            "{status}: {text}"
        );
        println!("{checked} unauthenticated requests → 401 (emulator flags {flags:?})");
    }
}
