//! The emulator under test: `amlctl emulator serve` as a child process (what the issue asks for),
//! or the same server in-process when a setting is not exposed by `serve` (the rate limit).
//! Also: its request counters (`/_emulator/stats`) and seeding it over HTTP.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use amlctl_emulator::{Emulator, EmulatorConfig};
use amlctl_manifest::Project;
use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

/// Bearer token the harness's own in-process clients use (`--accepted-token`).
pub const BENCH_TOKEN: &str = "amlctl-bench-static-token";
/// Secret of the emulator's managed-identity endpoint (`--identity-header`), used by the amlctl child.
pub const IDENTITY_HEADER: &str = "amlctl-bench-identity";

/// Settings of one emulator.
#[derive(Debug, Clone)]
pub struct EmuOpts {
    /// `--latency-ms`.
    pub latency_ms: u64,
    /// `--lro-ms`.
    pub lro_ms: u64,
    /// `--page-size`.
    pub page_size: usize,
    /// `--retry-after` (seconds, also sent on LRO responses).
    pub retry_after_s: u64,
}

/// A running emulator.
pub enum Emu {
    /// `amlctl emulator serve` child.
    Serve {
        /// The child.
        child: Child,
        /// `http://127.0.0.1:PORT`.
        base: String,
    },
    /// In-process server.
    InProcess(Emulator),
}

impl Emu {
    /// Starts `amlctl emulator serve` and waits for its `listening on …` line.
    pub fn serve(
        amlctl: &Path,
        state: &Path,
        fixture: &Path,
        opts: &EmuOpts,
        log: &Path,
    ) -> Result<Emu> {
        if state.exists() {
            std::fs::remove_file(state).with_context(|| format!("removing {}", state.display()))?;
        }
        let log_file =
            std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let mut child = Command::new(amlctl)
            .args(["emulator", "serve", "--listen", "127.0.0.1:0", "--state"])
            .arg(state)
            .arg("--fixture")
            .arg(fixture)
            .args([
                "--lro-ms",
                &opts.lro_ms.to_string(),
                "--latency-ms",
                &opts.latency_ms.to_string(),
                "--page-size",
                &opts.page_size.to_string(),
                "--retry-after",
                &opts.retry_after_s.to_string(),
                "--accepted-token",
                BENCH_TOKEN,
                "--identity-header",
                IDENTITY_HEADER,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()
            .with_context(|| format!("starting {} emulator serve", amlctl.display()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("no stdout from the emulator"))?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = std::io::BufReader::new(stdout).lines();
            let first = lines.next();
            let _ = tx.send(first);
            // Drain the rest so the child never blocks on a full pipe.
            for _ in lines {}
        });
        let first = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Some(Ok(line))) => line,
            other => {
                let _ = child.kill();
                let _ = child.wait();
                let log_text = std::fs::read_to_string(log).unwrap_or_default();
                bail!("the emulator did not start ({other:?}); its stderr:\n{log_text}");
            }
        };
        let base = first
            .strip_prefix("listening on ")
            .map(|s| s.trim().to_string())
            .ok_or_else(|| anyhow!("unexpected first line from the emulator: {first:?}"))?;
        Ok(Emu::Serve { child, base })
    }

    /// Starts the emulator in this process with a full configuration.
    pub async fn in_process(config: EmulatorConfig) -> Result<Emu> {
        let listen = "127.0.0.1:0".parse().context("loopback address")?;
        let emu = Emulator::start(listen, config)
            .await
            .map_err(|e| anyhow!("starting the in-process emulator: {e}"))?;
        Ok(Emu::InProcess(emu))
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        match self {
            Emu::Serve { base, .. } => base.clone(),
            Emu::InProcess(e) => e.base_url(),
        }
    }

    /// Stops the emulator (the state file is scratch: a kill is fine).
    pub async fn stop(self) {
        match self {
            Emu::Serve { mut child, .. } => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Emu::InProcess(e) => e.shutdown().await,
        }
    }
}

/// `/_emulator/stats` counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// All ARM requests (not `/_emulator/*`, not `/msi/token`).
    pub total: u64,
    /// `"GET 200"` → count.
    pub by_method_status: BTreeMap<String, u64>,
}

impl Stats {
    /// Counters accumulated since `before`.
    pub fn since(&self, before: &Stats) -> Stats {
        let mut by = BTreeMap::new();
        for (k, v) in &self.by_method_status {
            let d = v.saturating_sub(before.by_method_status.get(k).copied().unwrap_or(0));
            if d > 0 {
                by.insert(k.clone(), d);
            }
        }
        Stats {
            total: self.total.saturating_sub(before.total),
            by_method_status: by,
        }
    }

    /// `GET 200 ×20, PUT 201 ×40` style summary.
    pub fn breakdown(&self) -> String {
        if self.by_method_status.is_empty() {
            return "none".into();
        }
        self.by_method_status
            .iter()
            .map(|(k, v)| format!("{k} ×{v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Requests with this status code.
    pub fn with_status(&self, status: u16) -> u64 {
        let suffix = format!(" {status}");
        self.by_method_status
            .iter()
            .filter(|(k, _)| k.ends_with(&suffix))
            .map(|(_, v)| *v)
            .sum()
    }

    /// Requests with this method.
    pub fn with_method(&self, method: &str) -> u64 {
        let prefix = format!("{method} ");
        self.by_method_status
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| *v)
            .sum()
    }
}

/// Reads `/_emulator/stats`.
pub async fn stats(http: &reqwest::Client, base: &str) -> Result<Stats> {
    let v: Value = http
        .get(format!("{base}/_emulator/stats"))
        .send()
        .await
        .context("GET /_emulator/stats")?
        .error_for_status()
        .context("GET /_emulator/stats")?
        .json()
        .await
        .context("/_emulator/stats is not JSON")?;
    let total = v
        .get("total")
        .and_then(Value::as_u64)
        .ok_or_else(|| anyhow!("/_emulator/stats has no `total`: {v}"))?;
    let by_method_status = v
        .get("by_method_status")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, c)| c.as_u64().map(|c| (k.clone(), c)))
                .collect()
        })
        .unwrap_or_default();
    Ok(Stats {
        total,
        by_method_status,
    })
}

/// Creates every target of `project` in the emulator with a raw PUT of the body `amlctl` itself
/// would send (`Target::to_arm`), `concurrency` at a time, without waiting for the LROs (run the
/// emulator with `--lro-ms 0`; the next read settles them). Returns how many were created.
pub async fn seed(
    http: &reqwest::Client,
    base: &str,
    project: &Project,
    concurrency: usize,
) -> Result<usize> {
    let sem = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for t in &project.targets {
        let ws =
            project.config.workspaces.get(&t.workspace).ok_or_else(|| {
                anyhow!("target {} names unknown workspace {}", t.name, t.workspace)
            })?;
        let arm = t.to_arm(ws);
        let url = format!(
            "{base}{}?api-version={}",
            ws.compute_path(&t.name),
            arm.api_version
        );
        let body = arm.body;
        let http = http.clone();
        let sem = sem.clone();
        tasks.spawn(async move {
            let _permit = sem.acquire_owned().await.map_err(|e| anyhow!("{e}"))?;
            let resp = http
                .put(&url)
                .bearer_auth(BENCH_TOKEN)
                .json(&body)
                .send()
                .await
                .with_context(|| format!("PUT {url}"))?;
            let status = resp.status();
            if !status.is_success() {
                let text = resp.text().await.unwrap_or_default();
                bail!("seeding PUT {url} answered {status}: {text}");
            }
            Ok(())
        });
    }
    let mut n = 0;
    while let Some(r) = tasks.join_next().await {
        r.map_err(|e| anyhow!("seeding task: {e}"))??;
        n += 1;
    }
    Ok(n)
}

/// A plain HTTP client for the harness's own calls (stats, seeding).
pub fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(64)
        .build()
        .context("building the HTTP client")
}

/// The emulator fixture of a project (for the in-process emulator).
pub fn fixture_of(path: &Path) -> Result<amlctl_emulator::Fixture> {
    amlctl_emulator::Fixture::from_file(path)
        .map_err(|e| anyhow!("fixture {}: {e}", path.display()))
}

/// The default in-process configuration matching [`EmuOpts`].
pub fn config(opts: &EmuOpts, fixture: amlctl_emulator::Fixture) -> EmulatorConfig {
    EmulatorConfig {
        state_path: None,
        fixture: Some(fixture),
        lro_ms: opts.lro_ms,
        latency_ms: opts.latency_ms,
        retry_after_s: opts.retry_after_s,
        page_size: opts.page_size.max(1),
        accepted_tokens: vec![BENCH_TOKEN.to_string()],
        identity_header: IDENTITY_HEADER.to_string(),
        ..EmulatorConfig::default()
    }
}
