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

/// `(vnet_name, subnet)` of every manifest under `dir` whose `network_settings` names its
/// subnet (not by full id).
fn subnet_names(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            subnet_names(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let text = std::fs::read_to_string(&p).expect("read");
            let Ok(doc) = serde_saphyr::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            let ns = &doc["network_settings"];
            if let (Some(v), Some(s)) = (ns["vnet_name"].as_str(), ns["subnet"].as_str())
                && !s.starts_with('/')
            {
                out.push((v.to_string(), s.to_string()));
            }
        }
    }
}

impl Project {
    /// Copies the repository's `manifests/` example, with the HDInsight password read from the
    /// environment instead of Key Vault (see [`Project::example_with_key_vault`]).
    pub fn example() -> Project {
        Self::copy_example(true)
    }

    /// Copies the repository's `manifests/` example as it is: `hdi.yml` reads its password from
    /// `https://kv-ml.vault.azure.net/secrets/hdi-ssh-password` (serve it with
    /// [`Project::add_key_vaults`] and `--key-vault-endpoint`).
    pub fn example_with_key_vault() -> Project {
        Self::copy_example(false)
    }

    /// Appends a `key_vaults:` list (YAML items, indented by two spaces) to the fixture.
    pub fn add_key_vaults(&self, items: &str) {
        let mut text = std::fs::read_to_string(&self.fixture).expect("fixture");
        text.push_str("key_vaults:\n");
        text.push_str(items);
        std::fs::write(&self.fixture, text).expect("fixture");
    }

    fn copy_example(env_instead_of_key_vault: bool) -> Project {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("repo");
        copy_dir(&repo_root().join("manifests"), &root);
        let hdi = root.join("hdi.yml");
        if env_instead_of_key_vault && let Ok(text) = std::fs::read_to_string(&hdi) {
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
        // Subnets named by `vnet_name` + `subnet`: the emulator refuses references to subnets
        // that do not exist, so declare them in every workspace's resource group.
        let mut pairs = Vec::new();
        subnet_names(&self.root, &mut pairs);
        if let Some(ws) = config["workspaces"].as_object() {
            for w in ws.values() {
                for (vnet, subnet) in &pairs {
                    ids.push(format!(
                        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{subnet}",
                        w["subscription_id"].as_str().expect("sub"),
                        w["resource_group"].as_str().expect("rg"),
                    ));
                }
            }
        }
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

/// Finds the manifest file whose text contains `needle`.
pub fn manifest_with(project: &Project, needle: &str) -> PathBuf {
    fn walk(dir: &std::path::Path, needle: &str) -> Option<std::path::PathBuf> {
        for e in std::fs::read_dir(dir).ok()?.flatten() {
            let p = e.path();
            if p.is_dir() {
                if let Some(f) = walk(&p, needle) {
                    return Some(f);
                }
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml")
                && std::fs::read_to_string(&p).is_ok_and(|t| t.contains(needle))
            {
                return Some(p);
            }
        }
        None
    }
    walk(&project.root, needle).unwrap_or_else(|| panic!("no manifest contains {needle:?}"))
}

/// The value of a top-level `key: value` line.
pub fn yaml_value(text: &str, key: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .map(|v| v.trim().trim_matches('"').to_string())
        .unwrap_or_else(|| panic!("no {key} in manifest"))
}

// ---------------------------------------------------------------------------------------------
// Helpers of the reliability suite (tests/reliability_*.rs).
// ---------------------------------------------------------------------------------------------

/// A small deterministic PRNG (SplitMix64) for seeded test choices (kill points, orders).
pub struct SeededRng(u64);

impl SeededRng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> SeededRng {
        SeededRng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
}

/// Peak resident set size (`VmHWM`, KiB) of a live process, if readable.
pub fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs `cmd` to completion, sampling the child's peak RSS (`VmHWM`) every few milliseconds.
/// Returns the output and the highest peak seen, in KiB (0 when never readable).
pub fn output_with_peak_rss(cmd: &mut Command) -> (Output, u64) {
    use std::io::Read;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out_pipe.read_to_end(&mut b);
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err_pipe.read_to_end(&mut b);
        b
    });
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = vm_hwm_kib(pid) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let stdout = out_t.join().expect("stdout thread");
    let stderr = err_t.join().expect("stderr thread");
    (
        Output {
            status,
            stdout,
            stderr,
        },
        peak,
    )
}

/// One compute as `/_emulator/state` lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LiveEntry {
    /// Workspace name (e.g. `mlw-dev`).
    pub workspace: String,
    /// Compute name.
    pub name: String,
    /// `properties.provisioningState`.
    pub state: String,
    /// `properties.resourceId`, lower-cased, if any.
    pub resource_id: Option<String>,
}

impl EmulatorProcess {
    /// The computes of `/_emulator/state`, sorted.
    pub fn computes(&self) -> Vec<LiveEntry> {
        let state = self.get_json("/_emulator/state");
        // A state without a `computes` array is a broken emulator, not "no computes": fail here
        // so that "every compute Succeeded" can never pass on a missing list.
        let mut out: Vec<LiveEntry> = state["computes"]
            .as_array()
            .unwrap_or_else(|| panic!("/_emulator/state has no `computes` array: {state}"))
            .iter()
            .map(|c| LiveEntry {
                workspace: c["workspace"].as_str().unwrap_or("").to_string(),
                name: c["name"].as_str().unwrap_or("").to_string(),
                state: c["resource"]["properties"]["provisioningState"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                resource_id: c["resource"]["properties"]["resourceId"]
                    .as_str()
                    .map(|s| s.to_lowercase()),
            })
            .collect();
        out.sort();
        out
    }

    /// The underlying resources (ARM ids, lower-cased, sorted) of `/_emulator/state`.
    pub fn resources(&self) -> Vec<String> {
        let state = self.get_json("/_emulator/state");
        let mut out: Vec<String> = state["resources"]
            .as_array()
            .unwrap_or_else(|| panic!("/_emulator/state has no `resources` array: {state}"))
            .iter()
            .filter_map(|r| r.as_str().map(str::to_lowercase))
            .collect();
        out.sort();
        out
    }

    /// Successful (< 300) requests of `method` per compute path (lower-cased), from `/_emulator/requests`.
    pub fn successes_per_compute(&self, method: &str) -> std::collections::BTreeMap<String, usize> {
        let mut per = std::collections::BTreeMap::new();
        for r in self
            .get_json("/_emulator/requests")
            .as_array()
            .expect("array")
        {
            let status = r["status"].as_u64().unwrap_or(0);
            let path = r["path"].as_str().unwrap_or("").to_lowercase();
            if r["method"] == method
                && (200..300).contains(&status)
                && path.contains("/computes/")
                && !path.contains("/computeoperations")
            {
                *per.entry(path).or_default() += 1;
            }
        }
        per
    }

    /// Total requests recorded by `/_emulator/stats`.
    pub fn total_requests(&self) -> u64 {
        self.get_json("/_emulator/stats")["total"]
            .as_u64()
            .unwrap_or(0)
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// Waits for a child with a safety timeout (then kills it and panics): tests must never hang CI.
pub fn wait_with_timeout(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return s;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What a [`LoopbackServer`] answers: `(status, JSON body)` for `(method, path+query, body)`.
pub type Handler = dyn Fn(&str, &str, &str) -> (u16, String) + Send + Sync;

/// A tiny HTTP/1.1 server on 127.0.0.1 for the transport and redaction tests: a stand-in service
/// that behaves in ways the emulator does not (counts every connection, echoes request bodies).
/// Real sockets, real HTTP; every request is recorded as `METHOD path`.
pub struct LoopbackServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// `METHOD path?query` of every request received, in order.
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// Connections accepted (even those that sent nothing).
    pub connections: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl LoopbackServer {
    /// Starts serving on a free loopback port; the server lives until the test process exits.
    pub fn start(handler: std::sync::Arc<Handler>) -> LoopbackServer {
        use std::io::Write;
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (reqs, conns) = (requests.clone(), connections.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                conns.fetch_add(1, Ordering::SeqCst);
                let handler = handler.clone();
                let reqs = reqs.clone();
                std::thread::spawn(move || {
                    let Some((head, body)) = read_http_request(&mut stream) else {
                        return;
                    };
                    let body = String::from_utf8_lossy(&body).to_string();
                    let mut first = head.lines().next().unwrap_or("").split_whitespace();
                    let method = first.next().unwrap_or("").to_string();
                    let target = first.next().unwrap_or("").to_string();
                    reqs.lock()
                        .expect("requests")
                        .push(format!("{method} {target}"));
                    let (status, payload) = handler(&method, &target, &body);
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
                        payload.len()
                    );
                });
            }
        });
        LoopbackServer {
            url,
            requests,
            connections,
        }
    }

    /// Requests received so far.
    pub fn received(&self) -> Vec<String> {
        self.requests.lock().expect("requests").clone()
    }
}

impl EmulatorProcess {
    /// Starts the emulator on a given loopback address (e.g. to restart it on the port a running
    /// `amlctl` is using), with the state file `state` and, optionally, a fixture.
    pub fn start_at(
        listen: &str,
        state: &Path,
        fixture: Option<&Path>,
        flags: &[String],
    ) -> EmulatorProcess {
        let mut cmd = Command::new(amlctl());
        cmd.args(["emulator", "serve", "--listen", listen, "--state"])
            .arg(state)
            .args(["--identity-header", IDENTITY_HEADER])
            .args(["--accepted-token", STATIC_TOKEN])
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(f) = fixture {
            cmd.arg("--fixture").arg(f);
        }
        Self::spawn(cmd, state.to_path_buf(), flags.to_vec())
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Runs `jobs` on `threads` worker threads; results come back in the order of `jobs`, and a job
/// that panics comes back as `Err` with the panic message.
pub fn run_parallel<T: Send + 'static>(
    jobs: Vec<Box<dyn FnOnce() -> T + Send>>,
    threads: usize,
) -> Vec<Result<T, String>> {
    let n = jobs.len();
    let queue = std::sync::Arc::new(std::sync::Mutex::new(
        jobs.into_iter().enumerate().collect::<Vec<_>>(),
    ));
    let results = std::sync::Arc::new(std::sync::Mutex::new(
        (0..n).map(|_| None).collect::<Vec<_>>(),
    ));
    let mut handles = Vec::new();
    for _ in 0..threads {
        let queue = queue.clone();
        let results = results.clone();
        handles.push(std::thread::spawn(move || {
            loop {
                let job = queue.lock().expect("queue").pop();
                let Some((i, job)) = job else { break };
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).map_err(|e| {
                    e.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "panic".to_string())
                });
                results.lock().expect("results")[i] = Some(r);
            }
        }));
    }
    for h in handles {
        h.join().expect("worker");
    }
    let mut guard = results.lock().expect("results");
    guard
        .iter_mut()
        .map(|r| r.take().unwrap_or_else(|| Err("not run".into())))
        .collect()
}

/// Runs amlctl, reading its output as it goes, and kills it after `limit` (a safety net that
/// keeps CI from hanging, never a timing assertion).
pub fn run_bounded(url: &str, args: &[&str], limit: Duration) -> Output {
    use std::io::Read;
    let mut child = cmd(url, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn amlctl");
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let o = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out_pipe.read_to_end(&mut b);
        b
    });
    let e = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err_pipe.read_to_end(&mut b);
        b
    });
    let status = wait_with_timeout(&mut child, limit);
    Output {
        status,
        stdout: o.join().expect("join"),
        stderr: e.join().expect("join"),
    }
}

/// A copy of the example repository applied to a fresh emulator started with `flags`.
pub fn applied_example(flags: &[&str]) -> (Project, EmulatorProcess) {
    let project = Project::example();
    let emu = EmulatorProcess::start(project.dir.path(), &project.fixture, flags);
    let root = project.root.to_string_lossy().to_string();
    run(&emu.url, &["apply", &root, "--auto-approve"], 0);
    (project, emu)
}

/// Like [`run`], with the current directory set to `dir` (`apply PLANFILE` finds the repository
/// from the current directory).
pub fn run_in(dir: &Path, url: &str, args: &[&str], expect_code: i32) -> Output {
    let out = cmd(url, args)
        .current_dir(dir)
        .output()
        .expect("run amlctl");
    let code = out.status.code().unwrap_or(-1);
    assert_eq!(
        code,
        expect_code,
        "amlctl {args:?} in {} exited {code}\n--- stdout\n{}\n--- stderr\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Reads one HTTP/1.1 request from `stream` (10 s read timeout): the head (request line and
/// headers, up to the blank line) and the body of `Content-Length` bytes. `None` when the peer
/// closed before the head was complete.
pub fn read_http_request(stream: &mut std::net::TcpStream) -> Option<(String, Vec<u8>)> {
    use std::io::Read;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + len {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    Some((head, buf[head_end..].to_vec()))
}
