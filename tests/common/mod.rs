//! Shared helpers for the end-to-end tests: the real `amlctl` binary against `amlctl emulator serve`
//! over HTTP on 127.0.0.1, authenticated through the emulator's managed-identity endpoint.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Path of the binary under test.
pub fn amlctl() -> &'static str {
    env!("CARGO_BIN_EXE_amlctl")
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// Secret-looking values the example manifests read from the environment; distinctive so leaks are findable.
pub const SECRET_ENV: &[(&str, &str)] = &[
    ("DSVM_ADMIN_PASSWORD", "Sup3r-Secret-VM-Passw0rd-7731"),
    ("HDI_ADMIN_PASSWORD", "Sup3r-Secret-HDI-Passw0rd-8842"),
    ("DATABRICKS_TOKEN", "dapi-Sup3r-Secret-Token-9953"),
    (
        "CLUSTER_ADMIN_PASSWORD",
        "Sup3r-Secret-Cluster-Passw0rd-1164",
    ),
    ("K8S_RELAY_CONNECTION", "Endpoint=sb://relay-secret-2275"),
];

/// Identity header the emulator's /msi/token expects in these tests.
pub const IDENTITY_HEADER: &str = "e2e-identity-header";

/// A running `amlctl emulator serve` child process.
pub struct EmulatorProcess {
    /// The child.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The state file.
    pub state: PathBuf,
    /// Extra flags it was started with (to restart it identically).
    pub flags: Vec<String>,
}

impl EmulatorProcess {
    /// Starts the emulator with a state file and fixture in `dir` and extra flags.
    pub fn start(dir: &Path, fixture: &Path, flags: &[&str]) -> EmulatorProcess {
        let state = dir.join("emulator-state.json");
        let flags: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
        let mut cmd = Command::new(amlctl());
        cmd.args(["emulator", "serve", "--listen", "127.0.0.1:0", "--state"])
            .arg(&state)
            .arg("--fixture")
            .arg(fixture)
            .args(["--identity-header", IDENTITY_HEADER])
            .args(["--accepted-token", STATIC_TOKEN])
            .args(&flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        Self::spawn(cmd, state, flags)
    }

    /// Restarts from the same state file (no fixture: the state holds everything).
    pub fn restart_from_state(state: &Path, flags: &[String]) -> EmulatorProcess {
        let mut cmd = Command::new(amlctl());
        cmd.args(["emulator", "serve", "--listen", "127.0.0.1:0", "--state"])
            .arg(state)
            .args(["--identity-header", IDENTITY_HEADER])
            .args(["--accepted-token", STATIC_TOKEN])
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        Self::spawn(cmd, state.to_path_buf(), flags.to_vec())
    }

    fn spawn(mut cmd: Command, state: PathBuf, flags: Vec<String>) -> EmulatorProcess {
        let mut child = cmd.spawn().expect("spawn emulator");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("first line");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        EmulatorProcess {
            child,
            url,
            state,
            flags,
        }
    }

    /// GET a `/_emulator/...` endpoint as JSON.
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let out = http_get(&format!("{}{}", self.url, path));
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{path}: {e}: {out}"))
    }

    /// Count of requests with this method and status (e.g. "PUT", "201"), from `/_emulator/requests`.
    pub fn count(&self, method: &str, path_contains: &str) -> usize {
        let reqs = self.get_json("/_emulator/requests");
        reqs.as_array()
            .expect("array")
            .iter()
            .filter(|r| {
                r["method"] == method
                    && r["path"]
                        .as_str()
                        .is_some_and(|p| p.to_lowercase().contains(&path_contains.to_lowercase()))
            })
            .count()
    }

    /// Kills the process.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Bearer token the test emulators accept besides managed-identity tokens (for direct HTTP calls).
pub const STATIC_TOKEN: &str = "e2e-static-token";

/// Sends `method url` with a JSON body and the static bearer; returns (status, body).
pub fn http_send(method: &str, url: &str, body: Option<&serde_json::Value>) -> (u16, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {STATIC_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    )
    .expect("write");
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).expect("read");
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

/// A minimal HTTP/1.1 GET over a plain TCP socket (loopback only), returning the body.
pub fn http_get(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).expect("read");
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size_line, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size_line.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&after[..size.min(after.len())]);
        rest = after.get(size + 2..).unwrap_or("");
    }
    out
}

/// A copy of `manifests/` in a temp dir, with a fixture that declares its workspaces and resources.
pub struct Project {
    /// Keeps the temp dir alive.
    pub dir: tempfile::TempDir,
    /// The copied project root (holds amlctl.yaml).
    pub root: PathBuf,
    /// The emulator fixture.
    pub fixture: PathBuf,
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        if name.to_string_lossy().starts_with(".amlctl") {
            continue;
        }
        let src = entry.path();
        let dst = to.join(&name);
        if src.is_dir() {
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}

/// Every `/subscriptions/...` id in the YAML files below `dir`.
fn resource_ids(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            resource_ids(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let text = std::fs::read_to_string(&p).expect("read");
            for line in text.lines() {
                if let Some(i) = line.find("/subscriptions/") {
                    let id: String = line[i..]
                        .chars()
                        .take_while(|c| {
                            !c.is_whitespace() && *c != '"' && *c != '\'' && *c != ',' && *c != '}'
                        })
                        .collect();
                    out.push(id);
                }
            }
        }
    }
}

impl Project {
    /// Copies the repository's `manifests/` example.
    pub fn example() -> Project {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("repo");
        copy_dir(&repo_root().join("manifests"), &root);
        // Key Vault is not reachable from the tests: read the HDInsight password from the environment.
        let hdi = root.join("hdi.yml");
        if let Ok(text) = std::fs::read_to_string(&hdi) {
            let replaced: String = text
                .lines()
                .map(|l| match l.find("{ key_vault:") {
                    Some(i) => format!("{}{{ env: HDI_ADMIN_PASSWORD }}", &l[..i]),
                    None => l.to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n");
            std::fs::write(&hdi, replaced + "\n").expect("write hdi.yml");
        }
        let fixture = dir.path().join("fixture.yaml");
        let mut p = Project { dir, root, fixture };
        p.write_fixture(&[]);
        p
    }

    /// (Re)writes the fixture: workspaces of amlctl.yaml, every resource id the manifests mention, plus `extra`.
    pub fn write_fixture(&mut self, extra: &[&str]) {
        let config = std::fs::read_to_string(self.root.join("amlctl.yaml")).expect("amlctl.yaml");
        let config: serde_json::Value =
            serde_saphyr::from_str(&config).expect("amlctl.yaml parses");
        let mut yaml = String::from("workspaces:\n");
        if let Some(ws) = config["workspaces"].as_object() {
            for w in ws.values() {
                yaml.push_str(&format!(
                    "  - subscription_id: {}\n    resource_group: {}\n    name: {}\n    location: {}\n",
                    w["subscription_id"].as_str().expect("sub"),
                    w["resource_group"].as_str().expect("rg"),
                    w["workspace"].as_str().expect("ws"),
                    w["location"].as_str().unwrap_or("eastus"),
                ));
            }
        }
        let mut ids = Vec::new();
        resource_ids(&self.root, &mut ids);
        ids.extend(extra.iter().map(|s| s.to_string()));
        ids.sort();
        ids.dedup();
        yaml.push_str("resources:\n");
        for id in ids {
            yaml.push_str(&format!("  - {id}\n"));
        }
        std::fs::write(&self.fixture, yaml).expect("fixture");
    }

    /// Path of a file in the project.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

/// An `amlctl` invocation against the emulator at `url` (managed identity through /msi/token).
pub fn cmd(url: &str, args: &[&str]) -> Command {
    let mut c = Command::new(amlctl());
    c.args(args)
        .env("AMLCTL_ARM_ENDPOINT", url)
        .env("AMLCTL_AUTH", "managed-identity")
        .env("IDENTITY_ENDPOINT", format!("{url}/msi/token"))
        .env("IDENTITY_HEADER", IDENTITY_HEADER)
        .env("AMLCTL_POLL_INTERVAL_MS", "20")
        .env("AMLCTL_RETRY_BASE_MS", "20")
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    for (k, v) in SECRET_ENV {
        c.env(k, v);
    }
    c
}

/// Runs and returns the output, with stdout/stderr printed on failure of `expect_code`.
pub fn run(url: &str, args: &[&str], expect_code: i32) -> Output {
    let out = cmd(url, args).output().expect("run amlctl");
    let code = out.status.code().unwrap_or(-1);
    assert_eq!(
        code,
        expect_code,
        "amlctl {args:?} exited {code}\n--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Waits until `f` is true or `timeout` passes.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
