//! The benchmark scenarios of issue 7. Each returns its figures; `report` turns them into Markdown.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use amlctl_arm::{ArmClient, ClientOptions, StaticTokenCredential};
use amlctl_emulator::RateLimit;
use amlctl_manifest::{LiveCompute, LoadOptions, Project};
use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

use crate::emu::{self, BENCH_TOKEN, Emu, EmuOpts, IDENTITY_HEADER, Stats};
use crate::measure::{self, Cmd, Method, Run};
use crate::workload::{self, GenProject};

/// Settings shared by every scenario.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The `amlctl` binary under test.
    pub amlctl: PathBuf,
    /// This binary (for the planner child).
    pub self_exe: PathBuf,
    /// Scratch folder.
    pub work: PathBuf,
    /// Measurement method.
    pub method: Method,
    /// Emulator latency per ARM request.
    pub latency_ms: u64,
    /// `--parallelism`.
    pub parallelism: usize,
    /// List page size of the emulator.
    pub page_size: usize,
    /// Timed repetitions of cheap runs.
    pub runs: usize,
}

impl Ctx {
    /// The emulator options of these settings, with LROs of `lro_ms`.
    pub(crate) fn emu_opts(&self, lro_ms: u64) -> EmuOpts {
        EmuOpts {
            latency_ms: self.latency_ms,
            lro_ms,
            page_size: self.page_size,
            retry_after_s: 1,
        }
    }

    /// The environment that points an `amlctl` child at an emulator, authenticating through the
    /// emulator's App-Service-style managed identity endpoint like a CI runner would.
    pub(crate) fn amlctl_cmd(&self, base: &str, args: &[&str]) -> Cmd {
        let mut c = Cmd::new(&self.amlctl, args);
        for (k, v) in [
            ("AMLCTL_ARM_ENDPOINT", base.to_string()),
            ("AMLCTL_AUTH", "managed-identity".to_string()),
            ("IDENTITY_ENDPOINT", format!("{base}/msi/token")),
            ("IDENTITY_HEADER", IDENTITY_HEADER.to_string()),
            ("NO_COLOR", "1".to_string()),
        ] {
            c.env.insert(k.to_string(), v);
        }
        c.env_remove = [
            "AZURE_CLIENT_ID",
            "AZURE_CLIENT_SECRET",
            "AZURE_TENANT_ID",
            "AZURE_FEDERATED_TOKEN_FILE",
            "MSI_ENDPOINT",
            "MSI_SECRET",
            "IMDS_ENDPOINT",
            "RUST_LOG",
            "AMLCTL_CLOUD",
            "GITHUB_STEP_SUMMARY",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        c
    }

    /// An in-process ARM client at `parallelism`, with a static token.
    pub fn arm_client(&self, base: &str, parallelism: usize) -> Result<ArmClient> {
        let url = url::Url::parse(base).with_context(|| format!("emulator URL {base}"))?;
        let mut opts = ClientOptions::for_endpoint(url);
        opts.parallelism = parallelism.max(1);
        ArmClient::new(opts, StaticTokenCredential::new(BENCH_TOKEN.to_string()))
            .map_err(|e| anyhow!("building the ARM client: {e}"))
    }
}

/// Loads a generated project in-process.
pub fn load(root: &Path) -> Result<Project> {
    amlctl_manifest::load_project(root, &LoadOptions::default()).map_err(|diags| {
        let first = diags.first().map(|d| d.to_string()).unwrap_or_default();
        anyhow!(
            "loading {}: {} diagnostics, first: {first}",
            root.display(),
            diags.len()
        )
    })
}

/// `ceil(a / b)`.
pub fn ceil_div(a: usize, b: usize) -> usize {
    a.div_ceil(b.max(1))
}

/// Reads every workspace with one paged list each: the library reader `amlctl plan` uses
/// ([`amlctl_apply::live::list_raw`]), all in flight at once (the client's per-subscription limit
/// bounds them). Returns alias → raw ARM resources.
pub async fn list_all(
    client: &ArmClient,
    project: &Project,
) -> Result<BTreeMap<String, Vec<Value>>> {
    let aliases = project.config.workspaces.keys().cloned().collect();
    amlctl_apply::live::list_raw(client, &project.config.workspaces, &aliases)
        .await
        .map(|raw| raw.computes)
        .map_err(|e| anyhow!("listing: {e}"))
}

/// The naive read: one GET per target (the way Terraform refreshes), all in flight at once.
pub async fn get_each(client: &ArmClient, project: &Project) -> Result<usize> {
    let mut tasks = tokio::task::JoinSet::new();
    for t in &project.targets {
        let ws = project
            .config
            .workspaces
            .get(&t.workspace)
            .ok_or_else(|| anyhow!("unknown workspace {}", t.workspace))?;
        let client = client.clone();
        let id = amlctl_apply::workspace_id(ws);
        let name = t.name.clone();
        tasks.spawn(async move { (name.clone(), client.get_compute(&id, &name).await) });
    }
    let mut found = 0;
    while let Some(j) = tasks.join_next().await {
        let (name, r) = j.map_err(|e| anyhow!("get task: {e}"))?;
        if r.map_err(|e| anyhow!("GET {name}: {e}"))?.is_some() {
            found += 1;
        }
    }
    Ok(found)
}

/// Converts listed resources to live computes ([`amlctl_apply::live::to_live`], as `amlctl plan` does).
pub fn to_live(raw: &BTreeMap<String, Vec<Value>>) -> Result<BTreeMap<String, Vec<LiveCompute>>> {
    amlctl_apply::live::to_live(raw).map_err(|e| anyhow!("from_arm: {e}"))
}

/// A measured child run plus the ARM requests it made.
#[derive(Debug, Clone)]
pub struct Measured {
    /// The run.
    pub run: Run,
    /// Requests counted by the emulator during the run.
    pub requests: Stats,
}

/// Runs `cmd` once, measured, with the ARM requests the emulator at `base` counted meanwhile.
pub(crate) async fn measured(
    ctx: &Ctx,
    http: &reqwest::Client,
    base: &str,
    cmd: &Cmd,
) -> Result<Measured> {
    let before = emu::stats(http, base).await?;
    let run = measure::run(cmd, ctx.method, &ctx.work).await?;
    let after = emu::stats(http, base).await?;
    Ok(Measured {
        run,
        requests: after.since(&before),
    })
}

/// Median time of `GET /msi/token` (the managed-identity request every `amlctl` run makes first;
/// the emulator does not add `--latency-ms` to it).
async fn token_latency(http: &reqwest::Client, base: &str, runs: usize) -> Result<Duration> {
    let mut v = Vec::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        http.get(format!(
            "{base}/msi/token?api-version=2019-08-01&resource=https://management.azure.com/"
        ))
        .header("X-IDENTITY-HEADER", IDENTITY_HEADER)
        .send()
        .await
        .context("GET /msi/token")?
        .error_for_status()
        .context("GET /msi/token")?
        .bytes()
        .await
        .context("GET /msi/token body")?;
        v.push(t.elapsed());
    }
    Ok(measure::median(&v))
}

fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

// ------------------------------------------------------------------------------------------- plan

/// Figures of one "plan, no changes" scenario.
#[derive(Debug, Clone)]
pub struct PlanResult {
    /// Workspaces.
    pub w: usize,
    /// Targets per workspace.
    pub n: usize,
    /// List pages per workspace.
    pub pages: usize,
    /// Lower bound: pages × latency × ceil(W / parallelism).
    pub lower_bound: Duration,
    /// The timed `amlctl plan` runs.
    pub runs: Vec<Measured>,
    /// Exit code problems / unexpected plan content, if any.
    pub problems: Vec<String>,
    /// In-process paged list read (same client, same parallelism): wall times.
    pub list_inproc: Vec<Duration>,
    /// Requests of one in-process list read.
    pub list_inproc_requests: Stats,
    /// Naive read: one GET per target, wall time.
    pub naive: Duration,
    /// Requests of the naive read.
    pub naive_requests: Stats,
    /// Naive lower bound: ceil(W×N / parallelism) × latency.
    pub naive_lower_bound: Duration,
    /// Median `GET /msi/token` time against the same emulator.
    pub t_token: Duration,
    /// In-process breakdown: load_project (median).
    pub t_load: Duration,
    /// In-process breakdown: from_arm of every listed resource (median).
    pub t_from_arm: Duration,
    /// In-process breakdown: the planner (median).
    pub t_plan: Duration,
    /// Seeding wall time (not part of any figure).
    pub seed_time: Duration,
}

impl PlanResult {
    /// The median timed run.
    pub fn median(&self) -> Option<&Measured> {
        let m = measure::median(&self.runs.iter().map(|r| r.run.wall).collect::<Vec<_>>());
        self.runs.iter().find(|r| r.run.wall == m)
    }
}

/// Plan, no changes, W workspaces × N targets, against `amlctl emulator serve --latency-ms L`.
pub async fn plan_no_changes(
    ctx: &Ctx,
    http: &reqwest::Client,
    w: usize,
    n: usize,
) -> Result<PlanResult> {
    let dir = ctx.work.join(format!("plan-{w}x{n}"));
    let g = workload::generate(&dir, &format!("p{w}x{n}"), w, n)?;
    let project = load(&g.root)?;
    let mut loads = Vec::new();
    for _ in 0..ctx.runs.max(1) {
        let t0 = Instant::now();
        let p = load(&g.root)?;
        loads.push(t0.elapsed());
        drop(p);
    }
    let t_load = measure::median(&loads);
    if project.targets.len() != w * n {
        bail!(
            "generated {} targets, loaded {}",
            w * n,
            project.targets.len()
        );
    }
    let emu = Emu::serve(
        &ctx.amlctl,
        &dir.join("state.json"),
        &g.fixture,
        &ctx.emu_opts(0),
        &dir.join("emulator.log"),
    )?;
    let base = emu.base();
    let result = plan_no_changes_inner(ctx, http, &g, &project, &base, t_load).await;
    emu.stop().await;
    result
}

async fn plan_no_changes_inner(
    ctx: &Ctx,
    http: &reqwest::Client,
    g: &GenProject,
    project: &Project,
    base: &str,
    t_load: Duration,
) -> Result<PlanResult> {
    let (w, n) = (g.workspaces, g.per_workspace);
    let t0 = Instant::now();
    let seeded = emu::seed(http, base, project, 32).await?;
    let client = ctx.arm_client(base, ctx.parallelism)?;
    // One read settles the creations (LROs of 0 ms end on the next request).
    let settled = list_all(&client, project).await?;
    let seed_time = t0.elapsed();
    let count: usize = settled.values().map(Vec::len).sum();
    if seeded != w * n || count != w * n {
        bail!("seeded {seeded}, listed {count}, expected {}", w * n);
    }

    let t_token = token_latency(http, base, ctx.runs).await?;
    let root = g.root.display().to_string();
    let par = ctx.parallelism.to_string();
    let cmd = ctx.amlctl_cmd(
        base,
        &["plan", &root, "--detailed-exitcode", "--parallelism", &par],
    );
    let mut problems = Vec::new();
    // Warm-up (page cache, first token): not timed.
    let warm = measured(ctx, http, base, &cmd).await?;
    if warm.run.code != Some(0) {
        problems.push(format!(
            "`amlctl plan --detailed-exitcode` exited {:?} (0 = no changes expected). stdout tail:\n```\n{}\n```\nstderr tail:\n```\n{}\n```",
            warm.run.code,
            tail(&warm.run.stdout, 15),
            tail(&warm.run.stderr, 15)
        ));
    }
    let mut runs = Vec::new();
    for _ in 0..ctx.runs.max(1) {
        let m = measured(ctx, http, base, &cmd).await?;
        if m.run.code != Some(0) && problems.is_empty() {
            problems.push(format!("a timed run exited {:?}", m.run.code));
        }
        runs.push(m);
    }

    // In-process list read, same client settings.
    let mut list_inproc = Vec::new();
    let mut list_inproc_requests = Stats::default();
    let mut raw = BTreeMap::new();
    for _ in 0..ctx.runs.max(1) {
        let client = ctx.arm_client(base, ctx.parallelism)?;
        let before = emu::stats(http, base).await?;
        let t = Instant::now();
        raw = list_all(&client, project).await?;
        list_inproc.push(t.elapsed());
        list_inproc_requests = emu::stats(http, base).await?.since(&before);
    }

    // Naive read: one GET per target, same client settings.
    let client = ctx.arm_client(base, ctx.parallelism)?;
    let before = emu::stats(http, base).await?;
    let t = Instant::now();
    let found = get_each(&client, project).await?;
    let naive = t.elapsed();
    let naive_requests = emu::stats(http, base).await?.since(&before);
    if found != w * n {
        problems.push(format!("naive read found {found} of {} targets", w * n));
    }

    // In-process breakdown of the CPU side (medians).
    let (mut froms, mut plans) = (Vec::new(), Vec::new());
    for _ in 0..ctx.runs.max(1) {
        let t = Instant::now();
        let live = to_live(&raw)?;
        froms.push(t.elapsed());
        let t = Instant::now();
        let plan = amlctl_plan::plan(
            &project.targets,
            &project.config.workspaces,
            &live,
            &amlctl_plan::PlanOptions::default(),
        );
        plans.push(t.elapsed());
        if (plan.has_changes() || !plan.errors.is_empty()) && problems.len() < 3 {
            problems.push(format!(
                "the in-process plan is not all no-op: changes={} errors={}",
                plan.has_changes(),
                plan.errors.len()
            ));
        }
    }
    let (t_from_arm, t_plan) = (measure::median(&froms), measure::median(&plans));

    let pages = ceil_div(n, ctx.page_size).max(1);
    let lat = Duration::from_millis(ctx.latency_ms);
    Ok(PlanResult {
        w,
        n,
        pages,
        lower_bound: lat * (pages * ceil_div(w, ctx.parallelism)) as u32,
        runs,
        problems,
        list_inproc,
        list_inproc_requests,
        naive,
        naive_requests,
        naive_lower_bound: lat * ceil_div(w * n, ctx.parallelism) as u32,
        t_token,
        t_load,
        t_from_arm,
        t_plan,
        seed_time,
    })
}

// ------------------------------------------------------------------------------------------ apply

/// Figures of one apply scenario.
#[derive(Debug, Clone)]
pub struct ApplyResult {
    /// What varies ("no rate limit", "write bucket …").
    pub label: String,
    /// Which emulator (serve child or in-process).
    pub emulator: String,
    /// Creates.
    pub n: usize,
    /// LRO duration.
    pub d: Duration,
    /// The run.
    pub m: Measured,
    /// Lower bound without throttling: L + ceil(N/p) × (L + D).
    pub lower_bound: Duration,
    /// Lower bound from the write bucket, if rate-limited.
    pub throttle_bound: Option<Duration>,
    /// Computes found Succeeded after the apply.
    pub succeeded: usize,
    /// Problems.
    pub problems: Vec<String>,
}

/// Apply N creates with LROs of D ms at the configured parallelism; `rate_limit` runs the
/// emulator in-process with ARM-style token buckets (the same server `amlctl emulator serve --rate-limit` runs).
pub async fn apply_creates(
    ctx: &Ctx,
    http: &reqwest::Client,
    n: usize,
    d_ms: u64,
    poll_ms: u64,
    rate_limit: Option<RateLimit>,
) -> Result<ApplyResult> {
    let tag = match rate_limit {
        Some(rl) => format!("arl{}", rl.writes),
        None => "apl".to_string(),
    };
    let dir = ctx.work.join(format!("apply-{n}-{tag}"));
    let g = workload::generate(&dir, &tag, 1, n)?;
    let opts = ctx.emu_opts(d_ms);
    let (emu, emulator) = match rate_limit {
        None => (
            Emu::serve(
                &ctx.amlctl,
                &dir.join("state.json"),
                &g.fixture,
                &opts,
                &dir.join("emulator.log"),
            )?,
            format!(
                "`amlctl emulator serve --latency-ms {} --lro-ms {d_ms} --retry-after 1`",
                ctx.latency_ms
            ),
        ),
        Some(rl) => {
            let mut cfg = emu::config(&opts, emu::fixture_of(&g.fixture)?);
            cfg.rate_limit = Some(rl);
            (
                Emu::in_process(cfg).await?,
                format!(
                    "in-process `Emulator` (the server of `serve --rate-limit`), latency {} ms, LRO {d_ms} ms, `RateLimit {{ reads: {}, writes: {}, refill_per_s: {} }}`",
                    ctx.latency_ms, rl.reads, rl.writes, rl.refill_per_s
                ),
            )
        }
    };
    let base = emu.base();
    let r = async {
        let root = g.root.display().to_string();
        let par = ctx.parallelism.to_string();
        let mut cmd = ctx.amlctl_cmd(
            &base,
            &["apply", &root, "--auto-approve", "--parallelism", &par],
        );
        cmd.env
            .insert("AMLCTL_POLL_INTERVAL_MS".into(), poll_ms.to_string());
        let m = measured(ctx, http, &base, &cmd).await?;
        let mut problems = Vec::new();
        if m.run.code != Some(0) {
            problems.push(format!(
                "`amlctl apply` exited {:?}. stderr tail:\n```\n{}\n```",
                m.run.code,
                tail(&m.run.stderr, 15)
            ));
        }
        let project = load(&g.root)?;
        let client = ctx.arm_client(&base, ctx.parallelism)?;
        let listed = list_all(&client, &project).await?;
        let succeeded = listed
            .values()
            .flatten()
            .filter(|c| {
                c.pointer("/properties/provisioningState")
                    .and_then(Value::as_str)
                    == Some("Succeeded")
            })
            .count();
        if succeeded != n {
            problems.push(format!(
                "{succeeded} of {n} computes are Succeeded after the apply"
            ));
        }
        let lat = Duration::from_millis(ctx.latency_ms);
        let d = Duration::from_millis(d_ms);
        let lower_bound = lat + (lat + d) * ceil_div(n, ctx.parallelism) as u32;
        let throttle_bound = rate_limit.map(|rl| {
            // The emulator's own figure for its write bucket (not a copy of its formula).
            let write_rate = rl.write_refill_per_s();
            let extra = n.saturating_sub(rl.writes as usize) as f64;
            let wait = if write_rate > 0.0 {
                extra / write_rate
            } else {
                0.0
            };
            lat + Duration::from_secs_f64(wait) + lat + d
        });
        Ok::<_, anyhow::Error>(ApplyResult {
            label: match rate_limit {
                None => "no rate limit".into(),
                Some(rl) => format!(
                    "write bucket {} tokens, refill {:.1}/s",
                    rl.writes,
                    rl.write_refill_per_s()
                ),
            },
            emulator: emulator.clone(),
            n,
            d,
            m,
            lower_bound,
            throttle_bound,
            succeeded,
            problems,
        })
    }
    .await;
    emu.stop().await;
    r
}

// -------------------------------------------------------------------------------- validate + peer

/// Figures of the start-up and validation comparison.
#[derive(Debug, Clone)]
pub struct ValidateResult {
    /// Number of manifests.
    pub files: usize,
    /// `amlctl validate` runs.
    pub validate: Vec<Run>,
    /// `amlctl --version` runs.
    pub version: Vec<Run>,
    /// The peer, or why it was skipped.
    pub peer: Result<PeerResult, String>,
    /// Problems.
    pub problems: Vec<String>,
}

/// The azure-ai-ml side.
#[derive(Debug, Clone)]
pub struct PeerResult {
    /// `azure-ai-ml` version.
    pub version: String,
    /// Python version.
    pub python: String,
    /// `python -c "from azure.ai.ml import load_compute"` runs.
    pub import: Vec<Run>,
    /// `load_compute` over every file, runs.
    pub load: Vec<Run>,
}

/// `amlctl validate` on the 2,000 manifests of `g`, `amlctl --version`, and the peer on the same files.
pub async fn validate_and_peer(
    ctx: &Ctx,
    g: &GenProject,
    python: Option<&Path>,
) -> Result<ValidateResult> {
    let mut problems = Vec::new();
    let root = g.root.display().to_string();
    let mut validate = Vec::new();
    let mut version = Vec::new();
    for _ in 0..ctx.runs.max(1) + 2 {
        let r = measure::run(
            &Cmd::new(&ctx.amlctl, &["validate", &root]),
            ctx.method,
            &ctx.work,
        )
        .await?;
        if r.code != Some(0) && problems.is_empty() {
            problems.push(format!(
                "`amlctl validate` exited {:?}: {}",
                r.code,
                tail(&r.stderr, 10)
            ));
        }
        validate.push(r);
        version.push(
            measure::run(
                &Cmd::new(&ctx.amlctl, &["--version"]),
                ctx.method,
                &ctx.work,
            )
            .await?,
        );
    }
    if let Some(r) = validate.first()
        && !r.stdout.contains(&g.targets().to_string())
    {
        problems.push(format!(
            "`amlctl validate` did not report {} targets: {}",
            g.targets(),
            r.stdout.trim()
        ));
    }
    let peer = match python {
        None => Err(
            "no Python venv with azure-ai-ml (bench/run creates bench/.venv-aiml; pass --python)"
                .to_string(),
        ),
        Some(py) => peer(ctx, g, py).await,
    };
    Ok(ValidateResult {
        files: g.files.len(),
        validate,
        version,
        peer,
        problems,
    })
}

async fn peer(ctx: &Ctx, g: &GenProject, py: &Path) -> Result<PeerResult, String> {
    let probe = tokio::process::Command::new(py)
        .args([
            "-c",
            "import sys, importlib.metadata as m; print(m.version('azure-ai-ml'), sys.version.split()[0])",
        ])
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", py.display()))?;
    if !probe.status.success() {
        return Err(format!(
            "{} cannot report azure-ai-ml's version: {}",
            py.display(),
            tail(&String::from_utf8_lossy(&probe.stderr), 3)
        ));
    }
    let text = String::from_utf8_lossy(&probe.stdout).trim().to_string();
    let mut parts = text.split_whitespace();
    let version = parts.next().unwrap_or("?").to_string();
    let python = parts.next().unwrap_or("?").to_string();
    let list = ctx.work.join("peer-files.txt");
    let body: String = g
        .files
        .iter()
        .map(|p| format!("{}\n", p.display()))
        .collect();
    std::fs::write(&list, body).map_err(|e| format!("writing {}: {e}", list.display()))?;
    let list_s = list.display().to_string();
    let mut import = Vec::new();
    for _ in 0..ctx.runs.max(1) {
        let r = measure::run(
            &Cmd::new(py, &["-c", "from azure.ai.ml import load_compute"]),
            ctx.method,
            &ctx.work,
        )
        .await
        .map_err(|e| e.to_string())?;
        if r.code != Some(0) {
            return Err(format!(
                "importing azure.ai.ml failed: {}",
                tail(&r.stderr, 5)
            ));
        }
        import.push(r);
    }
    let script = "import sys\nfrom azure.ai.ml import load_compute\nfiles = [l for l in open(sys.argv[1]).read().splitlines() if l]\n[load_compute(p) for p in files]\n";
    let mut load = Vec::new();
    for _ in 0..2 {
        let r = measure::run(
            &Cmd::new(py, &["-c", script, &list_s]),
            ctx.method,
            &ctx.work,
        )
        .await
        .map_err(|e| e.to_string())?;
        if r.code != Some(0) {
            return Err(format!("load_compute failed: {}", tail(&r.stderr, 8)));
        }
        load.push(r);
    }
    Ok(PeerResult {
        version,
        python,
        import,
        load,
    })
}

// ---------------------------------------------------------------------------------- planner CPU

/// Figures of the in-process planner benchmark (reported by the child).
#[derive(Debug, Clone)]
pub struct PlannerResult {
    /// Targets.
    pub targets: usize,
    /// Workspaces.
    pub workspaces: usize,
    /// The child's JSON report.
    pub child: Value,
    /// The child run (peak RSS, CPU).
    pub run: Run,
    /// Seeding + listing time (not part of any figure).
    pub prep_time: Duration,
}

/// Prepares 10,000 targets (W × N) with their live state read back from an in-process emulator,
/// then runs `amlctl-bench planner-child` to time `amlctl_plan::plan` on them.
pub async fn planner_cpu(
    ctx: &Ctx,
    http: &reqwest::Client,
    w: usize,
    n: usize,
    iterations: usize,
) -> Result<PlannerResult> {
    let dir = ctx.work.join(format!("planner-{w}x{n}"));
    let g = workload::generate(&dir, "q", w, n)?;
    let project = load(&g.root)?;
    let t0 = Instant::now();
    let mut cfg = emu::config(&ctx.emu_opts(0), emu::fixture_of(&g.fixture)?);
    cfg.latency_ms = 0;
    let emu = Emu::in_process(cfg).await?;
    let base = emu.base();
    let raw = async {
        emu::seed(http, &base, &project, 16).await?;
        let client = ctx.arm_client(&base, 32)?;
        list_all(&client, &project).await
    }
    .await;
    emu.stop().await;
    let raw = raw?;
    let prep_time = t0.elapsed();
    let live_path = dir.join("live.json");
    std::fs::write(&live_path, serde_json::to_vec(&raw)?)
        .with_context(|| format!("writing {}", live_path.display()))?;
    drop(raw);
    drop(project);
    let root = g.root.display().to_string();
    let live_s = live_path.display().to_string();
    let iters = iterations.to_string();
    let cmd = Cmd::new(
        &ctx.self_exe,
        &[
            "planner-child",
            "--project",
            &root,
            "--live",
            &live_s,
            "--iterations",
            &iters,
        ],
    );
    let run = measure::run(&cmd, ctx.method, &ctx.work).await?;
    if run.code != Some(0) {
        bail!(
            "planner child exited {:?}: {}",
            run.code,
            tail(&run.stderr, 10)
        );
    }
    let child: Value = serde_json::from_str(run.stdout.trim())
        .with_context(|| format!("planner child output {:?}", run.stdout))?;
    Ok(PlannerResult {
        targets: w * n,
        workspaces: w,
        child,
        run,
        prep_time,
    })
}

/// Peak and current RSS of this process from `/proc/self/status`, KiB.
pub fn self_rss() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let get = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (get("VmHWM:"), get("VmRSS:"))
}

/// The body of `amlctl-bench planner-child`: load, convert, plan `iterations` times; prints JSON.
pub fn planner_child(project: &Path, live: &Path, iterations: usize) -> Result<Value> {
    let (hwm_start, _) = self_rss();
    let t = Instant::now();
    let project = load(project)?;
    let t_load = t.elapsed();
    let t = Instant::now();
    let raw: BTreeMap<String, Vec<Value>> = serde_json::from_slice(
        &std::fs::read(live).with_context(|| format!("reading {}", live.display()))?,
    )
    .context("live state JSON")?;
    let t_parse = t.elapsed();
    let t = Instant::now();
    let live = to_live(&raw)?;
    let t_from_arm = t.elapsed();
    drop(raw);
    let (hwm_inputs, rss_inputs) = self_rss();
    let opts = amlctl_plan::PlanOptions::default();
    let mut times = Vec::new();
    let mut entries = 0;
    let mut no_op = true;
    for _ in 0..iterations.max(1) {
        let t = Instant::now();
        let plan = amlctl_plan::plan(&project.targets, &project.config.workspaces, &live, &opts);
        times.push(t.elapsed());
        entries = plan.entries.len();
        no_op = !plan.has_changes() && plan.errors.is_empty();
        drop(plan);
    }
    // The live fingerprints alone (the planner computes one per live compute, for `plan --out`).
    let t = Instant::now();
    let mut fp_len = 0;
    for items in live.values() {
        for c in items {
            fp_len += amlctl_plan::fingerprint(c).len();
        }
    }
    let t_fingerprints = t.elapsed();
    let (hwm_end, _) = self_rss();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut sorted: Vec<f64> = times.iter().map(|d| ms(*d)).collect();
    sorted.sort_by(|a, b| a.total_cmp(b));
    Ok(serde_json::json!({
        "targets": project.targets.len(),
        "entries": entries,
        "no_op": no_op,
        "iterations": times.len(),
        "plan_ms": sorted,
        "load_ms": ms(t_load),
        "parse_live_json_ms": ms(t_parse),
        "from_arm_ms": ms(t_from_arm),
        "fingerprints_ms": ms(t_fingerprints),
        "fingerprint_chars": fp_len,
        "vmhwm_start_kb": hwm_start,
        "vmhwm_inputs_kb": hwm_inputs,
        "vmrss_inputs_kb": rss_inputs,
        "vmhwm_end_kb": hwm_end,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceil_div_rounds_up() {
        assert_eq!(ceil_div(100, 8), 13);
        assert_eq!(ceil_div(16, 8), 2);
        assert_eq!(ceil_div(0, 8), 0);
        assert_eq!(ceil_div(5, 0), 5);
    }
}

/// Goal of the seeding scenario: 2,000 computes created over HTTP in under this.
pub const SEED_GOAL: Duration = Duration::from_secs(10);

/// Figures of the seeding scenario.
#[derive(Debug, Clone)]
pub struct SeedResult {
    /// Computes created.
    pub n: usize,
    /// PUTs in flight at once.
    pub concurrency: usize,
    /// Wall time of the PUTs (every one answered 2xx).
    pub wall: Duration,
    /// Size of the state file and of its journal after seeding, in bytes.
    pub state_bytes: u64,
    /// Size of the journal after seeding, in bytes.
    pub journal_bytes: u64,
}

/// Seeds `w × n` computes into a fresh `amlctl emulator serve` (state file + journal, fsync'd
/// writes, the bench's latency, LRO 0 ms) over HTTP, `concurrency` PUTs at a time, and times it.
pub async fn seeding(
    ctx: &Ctx,
    http: &reqwest::Client,
    w: usize,
    n: usize,
    concurrency: usize,
) -> Result<SeedResult> {
    let dir = ctx.work.join(format!("seed-{w}x{n}"));
    let g = workload::generate(&dir, &format!("s{w}x{n}"), w, n)?;
    let project = load(&g.root)?;
    let state = dir.join("state.json");
    let journal = dir.join("state.json.journal");
    let emu = Emu::serve(
        &ctx.amlctl,
        &state,
        &g.fixture,
        &ctx.emu_opts(0),
        &dir.join("emulator.log"),
    )?;
    let base = emu.base();
    let t0 = Instant::now();
    let seeded = emu::seed(http, &base, &project, concurrency).await;
    let wall = t0.elapsed();
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let (state_bytes, journal_bytes) = (size(&state), size(&journal));
    emu.stop().await;
    let seeded = seeded?;
    if seeded != w * n {
        bail!("seeded {seeded} computes, expected {}", w * n);
    }
    Ok(SeedResult {
        n: seeded,
        concurrency,
        wall,
        state_bytes,
        journal_bytes,
    })
}
