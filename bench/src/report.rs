//! Markdown for `bench/RESULTS.md`.

use std::fmt::Write as _;
use std::time::Duration;

use crate::measure::{self, Run};
use crate::scenarios::{
    ApplyResult, Ctx, PlanResult, PlannerResult, SEED_GOAL, SeedResult, ValidateResult,
};

/// Plan goal: wall time within this factor of the lower bound.
pub const PLAN_GOAL: f64 = 1.5;
/// Apply goal: wall time within this factor of the lower bound.
pub const APPLY_GOAL: f64 = 1.25;

/// Facts about the machine and the run.
#[derive(Debug, Clone, Default)]
pub struct Machine {
    /// `nproc`.
    pub nproc: String,
    /// MemTotal.
    pub memory: String,
    /// CPU model.
    pub cpu: String,
    /// `rustc --version`.
    pub rustc: String,
    /// Kernel.
    pub kernel: String,
    /// UTC date.
    pub date: String,
    /// Exact command line of the harness.
    pub command_line: String,
    /// What invoked it (bench/run), if told.
    pub invoked_as: Option<String>,
    /// Release build seconds, if told.
    pub build_s: Option<f64>,
    /// Venv creation seconds, if told.
    pub venv_s: Option<f64>,
    /// Seconds since bench/run started when the report was written, if told.
    pub total_s: Option<f64>,
    /// `/proc/loadavg` (1, 5, 15 min) when the harness started.
    pub load_start: String,
    /// `/proc/loadavg` when the harness finished.
    pub load_end: String,
}

/// Everything a run found (each part may have failed).
pub struct Report {
    /// Machine facts.
    pub machine: Machine,
    /// Measurement method text.
    pub method: String,
    /// Shared settings.
    pub ctx: Ctx,
    /// Plan scenarios.
    pub plans: Vec<Result<PlanResult, String>>,
    /// Apply scenarios.
    pub applies: Vec<Result<ApplyResult, String>>,
    /// Validate + peer.
    pub validate: Option<Result<ValidateResult, String>>,
    /// Planner CPU.
    pub planner: Option<Result<PlannerResult, String>>,
    /// Pre-flight cost.
    pub preflight: Option<Result<crate::scaling::PreflightCost, String>>,
    /// Scaling picture and how long it took.
    pub scaling: Option<(Result<Vec<crate::scaling::ScalePoint>, String>, Duration)>,
    /// The seeding scenario (2,000 computes over HTTP).
    pub seed: Option<Result<SeedResult, String>>,
    /// Harness wall time.
    pub harness_time: Duration,
}

fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1000.0;
    if v >= 10_000.0 {
        format!("{:.2} s", v / 1000.0)
    } else if v >= 100.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v:.1} ms")
    }
}

fn mib(kb: u64) -> String {
    format!("{:.1} MiB", kb as f64 / 1024.0)
}

fn cpu(r: &Run) -> String {
    format!(
        "{:.2} s ({:.2} user + {:.2} sys)",
        r.cpu_s(),
        r.user_s,
        r.sys_s
    )
}

fn ratio(a: Duration, b: Duration) -> f64 {
    if b.is_zero() {
        f64::INFINITY
    } else {
        a.as_secs_f64() / b.as_secs_f64()
    }
}

fn walls(runs: &[Run]) -> Vec<Duration> {
    runs.iter().map(|r| r.wall).collect()
}

fn range(v: &[Duration]) -> String {
    let min = v.iter().min().copied().unwrap_or_default();
    let max = v.iter().max().copied().unwrap_or_default();
    format!("{}–{}", ms(min), ms(max))
}

fn median_rss(runs: &[Run]) -> u64 {
    let mut v: Vec<u64> = runs.iter().map(|r| r.max_rss_kb).collect();
    v.sort();
    v.get(v.len().saturating_sub(1) / 2).copied().unwrap_or(0)
}

fn median_cpu(runs: &[Run]) -> Option<&Run> {
    measure::median_run(runs)
}

impl Report {
    /// Renders RESULTS.md.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let m = &self.machine;
        let c = &self.ctx;
        let _ = writeln!(s, "# amlctl benchmarks\n");
        let _ = writeln!(
            s,
            "Written by `bench/run` (the `amlctl-bench` binary, `bench/src/`). Do not edit by hand: re-run `bench/run`. See `bench/README.md` for what each scenario does.\n"
        );
        let _ = writeln!(s, "## Machine and run\n");
        let _ = writeln!(s, "| | |\n|---|---|");
        let _ = writeln!(s, "| date (UTC) | {} |", m.date);
        let _ = writeln!(s, "| CPU | {} |", m.cpu);
        let _ = writeln!(s, "| `nproc` | {} |", m.nproc);
        let _ = writeln!(s, "| memory | {} |", m.memory);
        let _ = writeln!(s, "| kernel | {} |", m.kernel);
        let _ = writeln!(s, "| rustc | {} |", m.rustc);
        if let Some(i) = &m.invoked_as {
            let _ = writeln!(s, "| invoked as | `{i}` |");
        }
        let _ = writeln!(s, "| command line | `{}` |", m.command_line);
        if let Some(b) = m.build_s {
            let _ = writeln!(
                s,
                "| release build (`cargo build --release -p amlctl-cli -p amlctl-bench`) | {b:.0} s |"
            );
        }
        if let Some(v) = m.venv_s {
            let _ = writeln!(
                s,
                "| peer venv (create/check `bench/.venv-aiml`) | {v:.0} s |"
            );
        }
        let _ = writeln!(
            s,
            "| harness (all scenarios) | {:.0} s |",
            self.harness_time.as_secs_f64()
        );
        if let Some(t) = m.total_s {
            let _ = writeln!(
                s,
                "| `bench/run` total so far (build + venv + harness) | {t:.0} s (budget 900 s) |"
            );
        }
        let _ = writeln!(
            s,
            "| load average (1/5/15 min) at start → end of the harness | {} → {} ({} CPUs available to the harness; a load above that means other work competed for them during the run) |",
            m.load_start,
            m.load_end,
            std::thread::available_parallelism()
                .map_or_else(|_| "unknown".to_string(), |n| n.to_string())
        );
        let _ = writeln!(s, "| measurement | {} |", self.method);
        let _ = writeln!(
            s,
            "| settings | emulator latency {} ms per ARM request, list page size {}, `--parallelism {}`, all workspaces in one subscription (so the per-subscription limit applies to all), `amlctl` authenticates through the emulator's managed-identity endpoint (`AMLCTL_AUTH=managed-identity`) |",
            c.latency_ms, c.page_size, c.parallelism
        );
        let _ = writeln!(s);

        self.summary(&mut s);
        self.plan_section(&mut s);
        self.preflight_section(&mut s);
        self.scaling_section(&mut s);
        self.apply_section(&mut s);
        self.validate_section(&mut s);
        self.planner_section(&mut s);
        s
    }

    fn summary(&self, s: &mut String) {
        let _ = writeln!(s, "## Goals at a glance\n");
        let _ = writeln!(s, "| goal | measured | verdict |\n|---|---|---|");
        for p in &self.plans {
            match p {
                Ok(p) => {
                    let Some(med) = p.median() else { continue };
                    let r = ratio(med.run.wall, p.lower_bound);
                    let expect = (p.w * p.pages) as u64;
                    let req_ok =
                        med.requests.total == expect && med.requests.with_method("GET") == expect;
                    // Met only when every timed run is within the goal: a median inside the
                    // goal with a range that crosses it is not a result.
                    let slowest = p
                        .runs
                        .iter()
                        .map(|r| r.run.wall)
                        .max()
                        .unwrap_or(med.run.wall);
                    let r_slowest = ratio(slowest, p.lower_bound);
                    let ok = r_slowest <= PLAN_GOAL && req_ok && p.problems.is_empty();
                    let _ = writeln!(
                        s,
                        "| plan {}×{} no changes: ≤ {PLAN_GOAL}× lower bound {}, requests = {} list pages | {} ({r:.2}×), {} requests | {} |",
                        p.w,
                        p.n,
                        ms(p.lower_bound),
                        expect,
                        ms(med.run.wall),
                        med.requests.total,
                        if ok {
                            "met".to_string()
                        } else if !p.problems.is_empty() {
                            "**missed**: see problems below".to_string()
                        } else if req_ok && r <= PLAN_GOAL {
                            format!(
                                "**not shown**: the median is within the goal, the slowest run ({r_slowest:.2}×) is over it"
                            )
                        } else if !req_ok {
                            format!(
                                "**missed**: {} requests, expected {expect}",
                                med.requests.total
                            )
                        } else {
                            format!(
                                "**missed** by {} ({:.0}% over the {PLAN_GOAL}× allowance)",
                                ms(med
                                    .run
                                    .wall
                                    .saturating_sub(p.lower_bound.mul_f64(PLAN_GOAL))),
                                (r / PLAN_GOAL - 1.0) * 100.0
                            )
                        }
                    );
                }
                Err(e) => {
                    let _ = writeln!(
                        s,
                        "| plan scenario | failed: {} | not measured |",
                        one_line(e)
                    );
                }
            }
        }
        for a in &self.applies {
            match a {
                Ok(a) => {
                    let bound = a
                        .throttle_bound
                        .map_or(a.lower_bound, |t| t.max(a.lower_bound));
                    let r = ratio(a.m.run.wall, bound);
                    let ok = r <= APPLY_GOAL && a.problems.is_empty();
                    let _ = writeln!(
                        s,
                        "| apply {} creates, LRO {} ({}): ≤ {APPLY_GOAL}× {} | {} ({r:.2}×) | {} |",
                        a.n,
                        ms(a.d),
                        a.label,
                        ms(bound),
                        ms(a.m.run.wall),
                        if ok {
                            "met".to_string()
                        } else if !a.problems.is_empty() {
                            "**missed**: see problems below".to_string()
                        } else {
                            format!(
                                "**missed** by {}",
                                ms(a.m.run.wall.saturating_sub(bound.mul_f64(APPLY_GOAL)))
                            )
                        }
                    );
                }
                Err(e) => {
                    let _ = writeln!(
                        s,
                        "| apply scenario | failed: {} | not measured |",
                        one_line(e)
                    );
                }
            }
        }
        match &self.seed {
            Some(Ok(sr)) => {
                let ok = sr.wall < SEED_GOAL;
                let _ = writeln!(
                    s,
                    "| seed {} computes over HTTP (`serve --latency-ms {}`, {} PUTs at a time, state file + journal {} + {} KiB): < {} | {} | {} |",
                    sr.n,
                    self.ctx.latency_ms,
                    sr.concurrency,
                    sr.state_bytes / 1024,
                    sr.journal_bytes / 1024,
                    ms(SEED_GOAL),
                    ms(sr.wall),
                    if ok {
                        "met".to_string()
                    } else {
                        format!("**missed** by {}", ms(sr.wall.saturating_sub(SEED_GOAL)))
                    }
                );
            }
            Some(Err(e)) => {
                let _ = writeln!(
                    s,
                    "| seed scenario | failed: {} | not measured |",
                    one_line(e)
                );
            }
            None => {}
        }
        let _ = writeln!(s);
    }

    fn plan_section(&self, s: &mut String) {
        let c = &self.ctx;
        let _ = writeln!(s, "## 1. Plan, no changes\n");
        let _ = writeln!(
            s,
            "`amlctl plan PROJECT --detailed-exitcode --parallelism {}` against `amlctl emulator serve --latency-ms {} --page-size {} --lro-ms 0`, seeded over HTTP with the bodies `amlctl` itself would send (`Target::to_arm`), so every target is a no-op (exit code 0). One untimed warm-up, then {} timed runs; the median run is shown (range in brackets). Lower bound = pages per workspace × latency × ceil(W / parallelism). Requests are counted by the emulator (`/_emulator/stats`, ARM routes only; the managed-identity token request is not an ARM request).\n",
            c.parallelism, c.latency_ms, c.page_size, c.runs
        );
        let _ = writeln!(
            s,
            "| W × N | targets | `amlctl plan` wall | lower bound | ratio | ARM requests | CPU time | peak RSS |\n|---|---|---|---|---|---|---|---|"
        );
        for p in self.plans.iter().flatten() {
            let Some(med) = p.median() else { continue };
            let runs: Vec<Duration> = p.runs.iter().map(|r| r.run.wall).collect();
            let _ = writeln!(
                s,
                "| {} × {} | {} | {} ({}) | {} | {:.2}× | {} ({}) | {} | {} |",
                p.w,
                p.n,
                p.w * p.n,
                ms(med.run.wall),
                range(&runs),
                ms(p.lower_bound),
                ratio(med.run.wall, p.lower_bound),
                med.requests.total,
                med.requests.breakdown(),
                cpu(&med.run),
                mib(med.run.max_rss_kb)
            );
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "### Naive baseline: one GET per target\n");
        let _ = writeln!(
            s,
            "In-process in `amlctl-bench`, through the same `amlctl_arm::ArmClient` with the same parallelism ({}) against the same emulator: the naive read issues one `GET …/computes/NAME` per target (the way Terraform refreshes); beside it the same client doing what `amlctl plan` does (one paged list per workspace), to separate the algorithm from the process. Naive lower bound = ceil(W×N / parallelism) × latency.\n",
            c.parallelism
        );
        let _ = writeln!(
            s,
            "| W × N | naive GET/target | naive requests | naive lower bound | in-process list read (median) | list requests | naive ÷ `amlctl plan` | naive ÷ in-process list |\n|---|---|---|---|---|---|---|---|"
        );
        for p in self.plans.iter().flatten() {
            let Some(med) = p.median() else { continue };
            let list = measure::median(&p.list_inproc);
            let _ = writeln!(
                s,
                "| {} × {} | {} | {} | {} | {} | {} | {:.1}× | {:.1}× |",
                p.w,
                p.n,
                ms(p.naive),
                p.naive_requests.total,
                ms(p.naive_lower_bound),
                ms(list),
                p.list_inproc_requests.total,
                ratio(p.naive, med.run.wall),
                ratio(p.naive, list)
            );
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "### Where the time goes\n");
        let _ = writeln!(
            s,
            "The same steps timed separately (medians of {} runs): the managed-identity token request against the same emulator (`GET /msi/token`, no added latency), loading and validating the manifests (`load_project`), the paged list read (the in-process client above), `from_arm` over every listed compute, and the planner (`amlctl_plan::plan`). Remainder = `amlctl plan` wall − their sum: process start-up, rendering, exit (negative when the separately timed steps were slower than inside `amlctl`).\n",
            self.ctx.runs
        );
        let _ = writeln!(
            s,
            "| W × N | `amlctl plan` wall | token | load_project | list read | from_arm | plan() | remainder | seeding (untimed) |\n|---|---|---|---|---|---|---|---|---|"
        );
        for p in self.plans.iter().flatten() {
            let Some(med) = p.median() else { continue };
            let list = measure::median(&p.list_inproc);
            let parts = p.t_token + p.t_load + list + p.t_from_arm + p.t_plan;
            let _ = writeln!(
                s,
                "| {} × {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                p.w,
                p.n,
                ms(med.run.wall),
                ms(p.t_token),
                ms(p.t_load),
                ms(list),
                ms(p.t_from_arm),
                ms(p.t_plan),
                if med.run.wall > parts {
                    ms(med.run.wall - parts)
                } else {
                    format!("−{}", ms(parts - med.run.wall))
                },
                ms(p.seed_time)
            );
        }
        let _ = writeln!(s);
        self.plan_verdicts(s);
    }

    fn plan_verdicts(&self, s: &mut String) {
        let _ = writeln!(s, "### Verdict\n");
        for p in &self.plans {
            match p {
                Err(e) => {
                    let _ = writeln!(s, "* A plan scenario failed to run: {e}");
                }
                Ok(p) => {
                    let Some(med) = p.median() else { continue };
                    let r = ratio(med.run.wall, p.lower_bound);
                    let expect = (p.w * p.pages) as u64;
                    let list = measure::median(&p.list_inproc);
                    let mut line = format!(
                        "* **{}×{}**: {} vs lower bound {} = {r:.2}× (goal ≤ {PLAN_GOAL}×); {} ARM requests (goal: {expect} list pages).",
                        p.w,
                        p.n,
                        ms(med.run.wall),
                        ms(p.lower_bound),
                        med.requests.total
                    );
                    if r > PLAN_GOAL {
                        let over = med
                            .run
                            .wall
                            .saturating_sub(p.lower_bound.mul_f64(PLAN_GOAL));
                        let cpu_side = p.t_load + p.t_from_arm + p.t_plan;
                        let _ = write!(
                            line,
                            " **Missed by {}** ({:.0}% over the allowance). Measured parts (in-process, medians): the paged list read takes {} ({:.2}× the bound); the token request {}; the CPU side {} (loading {} manifests {}, from_arm {}, planner {}).",
                            ms(over),
                            (r / PLAN_GOAL - 1.0) * 100.0,
                            ms(list),
                            ratio(list, p.lower_bound),
                            ms(p.t_token),
                            ms(cpu_side),
                            p.w * p.n,
                            ms(p.t_load),
                            ms(p.t_from_arm),
                            ms(p.t_plan)
                        );
                        let overlapped = list.max(p.t_load + p.t_token) + p.t_from_arm + p.t_plan;
                        let _ = write!(
                            line,
                            " If the manifest loading overlapped the token and the reads, these parts would add up to about {} ({:.2}×) (an estimate from the parts, not a measurement).",
                            ms(overlapped),
                            ratio(overlapped, p.lower_bound)
                        );
                    } else if p
                        .runs
                        .iter()
                        .any(|m| ratio(m.run.wall, p.lower_bound) > PLAN_GOAL)
                    {
                        line.push_str(
                            " Not shown: the median is within the goal, but the range crosses it.",
                        );
                    } else {
                        line.push_str(" Met.");
                    }
                    if med.requests.total != expect {
                        let _ = write!(
                            line,
                            " Request count differs: {}.",
                            med.requests.breakdown()
                        );
                    }
                    let _ = writeln!(s, "{line}");
                    for prob in &p.problems {
                        let _ = writeln!(s, "  * Problem: {prob}");
                    }
                }
            }
        }
        let _ = writeln!(s);
    }

    fn apply_section(&self, s: &mut String) {
        let c = &self.ctx;
        let _ = writeln!(s, "## 2. Apply: N creates with slow LROs\n");
        let _ = writeln!(
            s,
            "`amlctl apply PROJECT --auto-approve --parallelism {}` on a project of N new compute clusters in one workspace (the apply plans first: one list). Lower bound = latency (the list) + ceil(N / parallelism) × (latency + D): each wave needs its PUT round trip and then the LRO. With the rate limit on, the write bucket adds its own bound: latency + (N − bucket) / refill + D + latency. The verdict uses the larger bound.\n",
            c.parallelism
        );
        let _ = writeln!(
            s,
            "| scenario | emulator | wall | lower bound | throttle bound | ratio | ARM requests | 429s | CPU time | peak RSS |\n|---|---|---|---|---|---|---|---|---|---|"
        );
        for a in &self.applies {
            match a {
                Ok(a) => {
                    let bound = a
                        .throttle_bound
                        .map_or(a.lower_bound, |t| t.max(a.lower_bound));
                    let _ = writeln!(
                        s,
                        "| N={} D={} ({}) | {} | {} | {} | {} | {:.2}× | {} ({}) | {} | {} | {} |",
                        a.n,
                        ms(a.d),
                        a.label,
                        a.emulator,
                        ms(a.m.run.wall),
                        ms(a.lower_bound),
                        a.throttle_bound.map_or("—".to_string(), ms),
                        ratio(a.m.run.wall, bound),
                        a.m.requests.total,
                        a.m.requests.breakdown(),
                        a.m.requests.with_status(429),
                        cpu(&a.m.run),
                        mib(a.m.run.max_rss_kb)
                    );
                }
                Err(e) => {
                    let _ = writeln!(s, "| failed | {} | | | | | | | | |", one_line(e));
                }
            }
        }
        let _ = writeln!(s);
        for a in self.applies.iter().flatten() {
            let bound = a
                .throttle_bound
                .map_or(a.lower_bound, |t| t.max(a.lower_bound));
            let r = ratio(a.m.run.wall, bound);
            let _ = writeln!(
                s,
                "* {}: {} of {} computes Succeeded afterwards; {r:.2}× the bound (goal ≤ {APPLY_GOAL}×){}.",
                a.label,
                a.succeeded,
                a.n,
                if r <= APPLY_GOAL && a.problems.is_empty() {
                    " — met".to_string()
                } else {
                    format!(
                        " — **missed** by {}",
                        ms(a.m.run.wall.saturating_sub(bound.mul_f64(APPLY_GOAL)))
                    )
                }
            );
            if let Some(t) = a.throttle_bound {
                let throttled = a.m.requests.with_status(429);
                let how = if t <= a.lower_bound {
                    "the bucket never runs dry for this many creates, so it does not bound the apply".to_string()
                } else if throttled == 0 && r > APPLY_GOAL {
                    format!(
                        "no request was refused, yet the apply took {} longer than the bucket requires: the client paced its writes (from `x-ms-ratelimit-remaining-subscription-writes`) more slowly than the bucket refills",
                        ms(a.m.run.wall.saturating_sub(bound))
                    )
                } else if throttled == 0 {
                    "the client paced itself from `x-ms-ratelimit-remaining-subscription-writes` and never needed a retry".to_string()
                } else {
                    "the client waited as told (Retry-After) and retried; every compute still ended Succeeded".to_string()
                };
                let _ = writeln!(
                    s,
                    "  * Throttling: the write bucket alone needs {} for {} PUTs; the emulator answered {throttled} requests with 429 (`SubscriptionRequestsThrottled`); {how}.",
                    ms(t),
                    a.n,
                );
            }
            for prob in &a.problems {
                let _ = writeln!(s, "  * Problem: {prob}");
            }
        }
        let _ = writeln!(s);
    }

    fn validate_section(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "## 3. Start-up and validation, side by side with azure-ai-ml\n"
        );
        let Some(v) = &self.validate else {
            let _ = writeln!(s, "Not run.\n");
            return;
        };
        let v = match v {
            Ok(v) => v,
            Err(e) => {
                let _ = writeln!(s, "Failed: {e}\n");
                return;
            }
        };
        let _ = writeln!(
            s,
            "The same {} generated manifests (plain `az ml` CLI v2 YAML, `type: amlcompute`) as the 100 × 20 plan scenario. Median of the runs shown (range in brackets).\n",
            v.files
        );
        let _ = writeln!(
            s,
            "| command | runs | wall | CPU time | peak RSS |\n|---|---|---|---|---|"
        );
        let row = |s: &mut String, name: &str, runs: &[Run]| {
            if let Some(m) = median_cpu(runs) {
                let _ = writeln!(
                    s,
                    "| {name} | {} | {} ({}) | {} | {} |",
                    runs.len(),
                    ms(m.wall),
                    range(&walls(runs)),
                    cpu(m),
                    mib(median_rss(runs))
                );
            }
        };
        row(s, "`amlctl --version`", &v.version);
        row(
            s,
            &format!("`amlctl validate` ({} manifests)", v.files),
            &v.validate,
        );
        match &v.peer {
            Ok(p) => {
                row(
                    s,
                    &format!(
                        "`python -c \"from azure.ai.ml import load_compute\"` (azure-ai-ml {}, Python {})",
                        p.version, p.python
                    ),
                    &p.import,
                );
                row(
                    s,
                    &format!(
                        "`python -c \"from azure.ai.ml import load_compute; [load_compute(p) for p in files]\"` ({} files)",
                        v.files
                    ),
                    &p.load,
                );
                let _ = writeln!(s);
                if let (Some(a), Some(b), Some(pa), Some(pb)) = (
                    median_cpu(&v.version),
                    median_cpu(&v.validate),
                    median_cpu(&p.import),
                    median_cpu(&p.load),
                ) {
                    let _ = writeln!(
                        s,
                        "* Start-up: azure-ai-ml's import takes {:.0}× the wall time of `amlctl --version` ({} vs {}), {:.0}× the memory.",
                        ratio(pa.wall, a.wall),
                        ms(pa.wall),
                        ms(a.wall),
                        median_rss(&p.import) as f64 / median_rss(&v.version).max(1) as f64
                    );
                    let _ = writeln!(
                        s,
                        "* {} manifests: azure-ai-ml `load_compute` takes {:.1}× the wall time of `amlctl validate` ({} vs {}), {:.1}× the CPU time, {:.1}× the peak RSS. (`load_compute` parses and schema-checks each file; `amlctl validate` also resolves workspaces, checks names and duplicates across the project.)",
                        v.files,
                        ratio(pb.wall, b.wall),
                        ms(pb.wall),
                        ms(b.wall),
                        pb.cpu_s() / b.cpu_s().max(1e-9),
                        median_rss(&p.load) as f64 / median_rss(&v.validate).max(1) as f64
                    );
                }
            }
            Err(e) => {
                let _ = writeln!(s, "\nThe peer was skipped: {e}");
            }
        }
        for prob in &v.problems {
            let _ = writeln!(s, "* Problem: {prob}");
        }
        let _ = writeln!(s);
    }

    fn planner_section(&self, s: &mut String) {
        let _ = writeln!(s, "## 4. Planner CPU\n");
        let Some(p) = &self.planner else {
            let _ = writeln!(s, "Not run.\n");
            return;
        };
        let p = match p {
            Ok(p) => p,
            Err(e) => {
                let _ = writeln!(s, "Failed: {e}\n");
                return;
            }
        };
        let c = &p.child;
        let f = |k: &str| c.get(k).and_then(|v| v.as_f64()).unwrap_or(f64::NAN);
        let u = |k: &str| c.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
        let times: Vec<f64> = c
            .get("plan_ms")
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
            .unwrap_or_default();
        let med = times
            .get(times.len().saturating_sub(1) / 2)
            .copied()
            .unwrap_or(f64::NAN);
        let min = times.first().copied().unwrap_or(f64::NAN);
        let max = times.last().copied().unwrap_or(f64::NAN);
        let _ = writeln!(
            s,
            "`amlctl_plan::plan` on {} targets in {} workspaces, in a child process (`amlctl-bench planner-child`), plain timing loop of {} iterations. The live side is real: the targets were created in an in-process emulator from their own `to_arm` bodies and listed back (prep {:.1} s, not timed), so every entry is a no-op diff over server-filled resources (all no-op: {}).\n",
            p.targets,
            p.workspaces,
            times.len(),
            p.prep_time.as_secs_f64(),
            c.get("no_op").and_then(|v| v.as_bool()).unwrap_or(false)
        );
        let _ = writeln!(s, "| measure | value |\n|---|---|");
        let _ = writeln!(
            s,
            "| time per plan (median) | {med:.1} ms ({min:.1}–{max:.1} ms), {:.1} µs per target |",
            med * 1000.0 / p.targets.max(1) as f64
        );
        let _ = writeln!(
            s,
            "| loading + validating {} manifests (`load_project`) | {:.0} ms |",
            p.targets,
            f("load_ms")
        );
        let _ = writeln!(
            s,
            "| parsing the live JSON | {:.0} ms |",
            f("parse_live_json_ms")
        );
        let _ = writeln!(
            s,
            "| `from_arm` over {} live computes | {:.0} ms |",
            p.targets,
            f("from_arm_ms")
        );
        let _ = writeln!(
            s,
            "| of one plan: `amlctl_plan::fingerprint` of every live compute (the planner computes one per entry for `plan --out`), timed alone | {:.0} ms ({:.0}% of the median plan) |",
            f("fingerprints_ms"),
            f("fingerprints_ms") / med * 100.0
        );
        let _ = writeln!(
            s,
            "| peak RSS before planning (inputs loaded) | {} |",
            mib(u("vmhwm_inputs_kb"))
        );
        let _ = writeln!(
            s,
            "| peak RSS after {} plans | {} (planning adds {}) |",
            times.len(),
            mib(u("vmhwm_end_kb")),
            mib(u("vmhwm_end_kb").saturating_sub(u("vmhwm_inputs_kb")))
        );
        let _ = writeln!(
            s,
            "| child process total | wall {}, CPU {}, peak RSS {} |",
            ms(p.run.wall),
            cpu(&p.run),
            mib(p.run.max_rss_kb)
        );
        let _ = writeln!(s);
    }
}

fn one_line(s: &str) -> String {
    s.lines().next().unwrap_or("").replace('|', "\\|")
}
