//! `amlctl-bench`: the benchmark harness of amlctl (issue 7).
//!
//! It generates projects of W workspaces × N compute-cluster manifests, seeds the ARM emulator
//! (`amlctl emulator serve`) so that every target is a no-op, and measures the real `amlctl`
//! binary as a child process: `plan` at 1×10, 10×100 and 100×20 with emulator latency, a naive
//! one-GET-per-target read through the same ARM client, `apply` of N creates with slow LROs (with
//! and without ARM-style write throttling), `validate` on 2,000 manifests and `--version` beside
//! azure-ai-ml's `load_compute`, and the planner alone on 10,000 targets. It writes
//! `bench/RESULTS.md` with the machine, the command line, the lower bounds and the ratios.
//!
//! Run it through `bench/run`, which builds release binaries and creates the Python venv.

mod emu;
mod measure;
mod report;
mod report_scaling;
mod scaling;
mod scenarios;
mod svg;
mod workload;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use amlctl_emulator::RateLimit;
use anyhow::{Context, Result, anyhow};
use clap::{Parser, Subcommand};

use crate::report::{Machine, Report};
use crate::scenarios::Ctx;

/// Benchmarks amlctl against the ARM emulator and writes bench/RESULTS.md.
#[derive(Debug, Parser)]
#[command(name = "amlctl-bench", version, about)]
struct Args {
    /// The amlctl binary to measure (default: `amlctl` next to this binary).
    #[arg(long)]
    amlctl: Option<PathBuf>,
    /// Where to write the report.
    #[arg(long, default_value = "bench/RESULTS.md")]
    out: PathBuf,
    /// Scratch folder (generated manifests, emulator state and logs); replaced per scenario.
    #[arg(long, default_value = "bench/.work")]
    work: PathBuf,
    /// Python of a venv with azure-ai-ml (the peer); skipped when missing.
    #[arg(long, default_value = "bench/.venv-aiml/bin/python")]
    python: PathBuf,
    /// Emulator latency per ARM request, in milliseconds.
    #[arg(long, default_value_t = 40)]
    latency_ms: u64,
    /// `--parallelism` given to amlctl and to the in-process clients.
    #[arg(long, default_value_t = 8)]
    parallelism: usize,
    /// Emulator list page size.
    #[arg(long, default_value_t = 100)]
    page_size: usize,
    /// Timed repetitions of the cheap runs (plan, validate).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Creates in the apply scenarios.
    #[arg(long, default_value_t = 40)]
    apply_n: usize,
    /// LRO duration of the apply scenarios, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    apply_lro_ms: u64,
    /// Scenarios to run (comma-separated: plan, preflight, scaling, apply, seed, validate, planner).
    #[arg(
        long,
        default_value = "plan,preflight,scaling,apply,seed,validate,planner",
        value_delimiter = ','
    )]
    scenarios: Vec<String>,
    /// Creates in the pre-flight cost scenario.
    #[arg(long, default_value_t = 13)]
    preflight_creates: usize,
    /// Leave the 10,000-compute estate out of the scaling scenario (it takes about a minute).
    #[arg(long)]
    quick: bool,
    /// Plan sizes as WxN (comma-separated).
    #[arg(long, default_value = "1x10,10x100,100x20", value_delimiter = ',')]
    plan_sizes: Vec<String>,
    /// Seconds the release build took (bench/run passes it, for the report).
    #[arg(long, hide = true)]
    build_seconds: Option<f64>,
    /// Seconds creating/checking the venv took (bench/run passes it).
    #[arg(long, hide = true)]
    venv_seconds: Option<f64>,
    /// Unix time bench/run started (for the total in the report).
    #[arg(long, hide = true)]
    run_started_unix: Option<f64>,
    /// What invoked the harness (bench/run passes its own command line).
    #[arg(long, hide = true)]
    invoked_as: Option<String>,
    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Internal: times the planner on a prepared project and live state; prints JSON.
    #[command(hide = true)]
    PlannerChild {
        /// Project folder.
        #[arg(long)]
        project: PathBuf,
        /// Live state JSON (alias → raw ARM resources).
        #[arg(long)]
        live: PathBuf,
        /// Timed iterations.
        #[arg(long, default_value_t = 10)]
        iterations: usize,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(Sub::PlannerChild {
        project,
        live,
        iterations,
    }) = &args.command
    {
        return match scenarios::planner_child(project, live, *iterations) {
            Ok(v) => {
                println!("{v}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("planner-child: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("amlctl-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("amlctl-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn absolute(p: &Path) -> Result<PathBuf> {
    if p.is_absolute() {
        Ok(p.to_path_buf())
    } else {
        Ok(std::env::current_dir()?.join(p))
    }
}

fn parse_size(s: &str) -> Result<(usize, usize)> {
    let (w, n) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| anyhow!("plan size {s:?} is not WxN"))?;
    Ok((w.trim().parse()?, n.trim().parse()?))
}

fn progress(msg: &str) {
    eprintln!("[amlctl-bench] {msg}");
}

async fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    let self_exe = std::env::current_exe().context("locating this binary")?;
    let amlctl = match &args.amlctl {
        Some(p) => absolute(p)?,
        None => self_exe
            .parent()
            .map(|d| d.join("amlctl"))
            .ok_or_else(|| anyhow!("no folder for {}", self_exe.display()))?,
    };
    if !amlctl.is_file() {
        return Err(anyhow!(
            "{} does not exist: build it (cargo build --release -p amlctl-cli) or pass --amlctl",
            amlctl.display()
        ));
    }
    let work = absolute(&args.work)?;
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let out = absolute(&args.out)?;
    let method = measure::Method::detect();
    let ctx = Ctx {
        amlctl: amlctl.clone(),
        self_exe,
        work: work.clone(),
        method,
        latency_ms: args.latency_ms,
        parallelism: args.parallelism.max(1),
        page_size: args.page_size.max(1),
        runs: args.runs.max(1),
    };
    let http = emu::http_client()?;
    let want = |name: &str| args.scenarios.iter().any(|s| s.trim() == name);
    let machine = machine(&args);
    progress(&format!(
        "measuring {} with {:?}; scratch {}",
        amlctl.display(),
        method,
        work.display()
    ));

    let mut plans = Vec::new();
    if want("plan") {
        for size in &args.plan_sizes {
            let (w, n) = parse_size(size)?;
            progress(&format!("plan, no changes: {w} × {n}"));
            let r = scenarios::plan_no_changes(&ctx, &http, w, n).await;
            if let Ok(p) = &r
                && let Some(m) = p.median()
            {
                progress(&format!(
                    "  median {:?}, {} requests, lower bound {:?}, naive {:?}",
                    m.run.wall, m.requests.total, p.lower_bound, p.naive
                ));
            }
            if let Err(e) = &r {
                progress(&format!("  failed: {e:#}"));
            }
            plans.push(r.map_err(|e| format!("{w}×{n}: {e:#}")));
        }
    }
    let mut preflight = None;
    if want("preflight") {
        progress(&format!(
            "pre-flight cost: plan of {} creates with and without --no-preflight",
            args.preflight_creates
        ));
        let r = scaling::preflight_cost(&ctx, &http, args.preflight_creates).await;
        if let Err(e) = &r {
            progress(&format!("  failed: {e:#}"));
        }
        preflight = Some(r.map_err(|e| format!("{e:#}")));
    }
    let mut scale = None;
    if want("scaling") {
        progress("scaling: plans of 10 to 10,000 computes");
        let t = Instant::now();
        let r = scaling::scaling(&ctx, &http, args.quick).await;
        match &r {
            Ok(points) => {
                let svg = out
                    .parent()
                    .map_or_else(|| PathBuf::from("scaling.svg"), |d| d.join("scaling.svg"));
                match scaling::write_chart(points, &svg) {
                    Ok(()) => progress(&format!(
                        "  wrote {} in {:.0} s",
                        svg.display(),
                        t.elapsed().as_secs_f64()
                    )),
                    Err(e) => progress(&format!("  {e:#}")),
                }
            }
            Err(e) => progress(&format!("  failed: {e:#}")),
        }
        scale = Some((r.map_err(|e| format!("{e:#}")), t.elapsed()));
    }
    let mut applies = Vec::new();
    if want("apply") {
        let limits = [
            None,
            // ARM's published subscription buckets (reads 250 at 25/s, writes 200 at 10/s); the
            // emulator refills writes at 20/s (`RateLimit::write_refill_per_s`).
            Some(RateLimit {
                reads: 250,
                writes: 200,
                refill_per_s: 25.0,
            }),
            // A small write bucket that really bounds 40 creates: 10 tokens, 2 per second.
            Some(RateLimit {
                reads: 100,
                writes: 10,
                refill_per_s: 20.0,
            }),
        ];
        for rl in limits {
            progress(&format!(
                "apply {} creates, LRO {} ms, rate limit {rl:?}",
                args.apply_n, args.apply_lro_ms
            ));
            let r = scenarios::apply_creates(&ctx, &http, args.apply_n, args.apply_lro_ms, 250, rl)
                .await;
            match &r {
                Ok(a) => progress(&format!(
                    "  {:?} (bound {:?}), {} requests",
                    a.m.run.wall, a.lower_bound, a.m.requests.total
                )),
                Err(e) => progress(&format!("  failed: {e:#}")),
            }
            applies.push(r.map_err(|e| format!("{e:#}")));
        }
    }
    let mut seed = None;
    if want("seed") {
        progress("seeding 2,000 computes over HTTP (serve, state file + journal)");
        let r = scenarios::seeding(&ctx, &http, 100, 20, 32).await;
        match &r {
            Ok(sr) => progress(&format!("  {:?} for {} computes", sr.wall, sr.n)),
            Err(e) => progress(&format!("  failed: {e:#}")),
        }
        seed = Some(r.map_err(|e| format!("{e:#}")));
    }
    let mut validate = None;
    if want("validate") {
        progress("validate 2,000 manifests, --version, and the azure-ai-ml peer");
        // The same files as the 100 × 20 plan scenario (same generator, same tag), in their own folder.
        let g = workload::generate(&work.join("validate-100x20"), "p100x20", 100, 20)?;
        let python = absolute(&args.python)?;
        let py = python.is_file().then_some(python.as_path());
        let r = scenarios::validate_and_peer(&ctx, &g, py).await;
        if let Err(e) = &r {
            progress(&format!("  failed: {e:#}"));
        }
        validate = Some(r.map_err(|e| format!("{e:#}")));
    }
    let mut planner = None;
    if want("planner") {
        progress("planner CPU: 10,000 targets");
        let r = scenarios::planner_cpu(&ctx, &http, 100, 100, 10).await;
        if let Err(e) = &r {
            progress(&format!("  failed: {e:#}"));
        }
        planner = Some(r.map_err(|e| format!("{e:#}")));
    }

    let mut machine = machine;
    machine.load_end = loadavg();
    if let Some(t0) = args.run_started_unix {
        machine.total_s = Some(now_unix() - t0);
    }
    let report = Report {
        machine,
        method: method.describe().to_string(),
        ctx,
        plans,
        applies,
        seed,
        validate,
        planner,
        preflight,
        scaling: scale,
        harness_time: started.elapsed(),
    };
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&out, report.markdown())
        .with_context(|| format!("writing {}", out.display()))?;
    progress(&format!(
        "wrote {} in {:.0} s",
        out.display(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

fn command_output(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}

fn machine(args: &Args) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".to_string());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map(|kb| format!("{:.1} GiB (MemTotal)", kb / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".to_string());
    let command_line = std::env::args().collect::<Vec<_>>().join(" ");
    Machine {
        nproc: command_output("nproc", &[]),
        memory,
        cpu,
        rustc: command_output("rustc", &["--version"]),
        kernel: command_output("uname", &["-sr"]),
        date: command_output("date", &["-u", "+%Y-%m-%d %H:%M:%S"]),
        command_line,
        invoked_as: args.invoked_as.clone(),
        build_s: args.build_seconds,
        venv_s: args.venv_seconds,
        total_s: None,
        load_start: loadavg(),
        load_end: String::new(),
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".to_string())
}
