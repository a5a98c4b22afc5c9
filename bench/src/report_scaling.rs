//! The RESULTS.md sections of the pre-flight cost and scaling scenarios (`scaling`).

use std::fmt::Write as _;
use std::time::Duration;

use crate::report::Report;
use crate::scaling::{PreflightCost, ScalePoint, median_wall};
use crate::scenarios::Measured;

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

fn median_run(runs: &[Measured]) -> Option<&Measured> {
    let m = median_wall(runs);
    runs.iter().find(|r| r.run.wall == m)
}

fn range(runs: &[Measured]) -> String {
    let min = runs.iter().map(|r| r.run.wall).min().unwrap_or_default();
    let max = runs.iter().map(|r| r.run.wall).max().unwrap_or_default();
    format!("{}–{}", ms(min), ms(max))
}

impl Report {
    /// `## 1b. Pre-flight cost`.
    pub(crate) fn preflight_section(&self, s: &mut String) {
        let Some(r) = &self.preflight else { return };
        let _ = writeln!(s, "## 1b. Pre-flight cost\n");
        let p: &PreflightCost = match r {
            Ok(p) => p,
            Err(e) => {
                let _ = writeln!(s, "Failed: {e}\n");
                return;
            }
        };
        let c = &self.ctx;
        let _ = writeln!(
            s,
            "`amlctl plan PROJECT --detailed-exitcode --parallelism {}` of {} new clusters in one empty workspace (exit 2), against `amlctl emulator serve --latency-ms {}`, with the pre-flight (the `usages` and `vmSizes` of the region; the generated manifests refer to no other resource) and with `--no-preflight`. One untimed warm-up each, then {} timed runs; the median is shown (range in brackets). The pre-flight reads start as soon as the workspace's list is complete; with one workspace they follow it, so their cost is about one more round trip.\n",
            c.parallelism, p.creates, c.latency_ms, c.runs
        );
        let _ = writeln!(
            s,
            "| plan of {} creates | wall | ARM requests | CPU time |\n|---|---|---|---|",
            p.creates
        );
        for (label, runs) in [
            ("with pre-flight", &p.with),
            ("`--no-preflight`", &p.without),
        ] {
            let Some(m) = median_run(runs) else { continue };
            let _ = writeln!(
                s,
                "| {label} | {} ({}) | {} ({}) | {:.2} s |",
                ms(m.run.wall),
                range(runs),
                m.requests.total,
                m.requests.breakdown(),
                m.run.cpu_s()
            );
        }
        let (with, without) = (median_wall(&p.with), median_wall(&p.without));
        if !p.with.is_empty() && !p.without.is_empty() {
            let extra = with.saturating_sub(without);
            let _ = writeln!(
                s,
                "\n* The pre-flight costs {} of wall time (medians) and {} requests.",
                ms(extra),
                median_run(&p.with)
                    .zip(median_run(&p.without))
                    .map_or(0, |(a, b)| a
                        .requests
                        .total
                        .saturating_sub(b.requests.total))
            );
        }
        for problem in &p.problems {
            let _ = writeln!(s, "* Problem: {problem}");
        }
        let _ = writeln!(s);
    }

    /// `## 1c. Scaling`.
    pub(crate) fn scaling_section(&self, s: &mut String) {
        let Some((r, took)) = &self.scaling else {
            return;
        };
        let _ = writeln!(s, "## 1c. Scaling\n");
        let points: &Vec<ScalePoint> = match r {
            Ok(p) => p,
            Err(e) => {
                let _ = writeln!(s, "Failed: {e}\n");
                return;
            }
        };
        let c = &self.ctx;
        let _ = writeln!(
            s,
            "`amlctl plan --detailed-exitcode --parallelism {}` with no changes on estates of growing size, against an in-process emulator (the server of `amlctl emulator serve`, no state file) with latency {} ms and page size {}; one untimed warm-up and one timed run each. Chart: [`scaling.svg`](scaling.svg) (log axes). The scenario took {:.0} s in all (seeding included).\n",
            c.parallelism,
            c.latency_ms,
            c.page_size,
            took.as_secs_f64()
        );
        let _ = writeln!(
            s,
            "| computes | W × N | `amlctl plan` wall | lower bound | ratio | ARM requests | CPU time | peak RSS | seeding (untimed) |\n|---|---|---|---|---|---|---|---|---|"
        );
        for p in points {
            let ratio = p.m.run.wall.as_secs_f64() / p.lower_bound.as_secs_f64().max(1e-9);
            let _ = writeln!(
                s,
                "| {} | {} × {} | {} | {} | {ratio:.2}× | {} | {:.2} s | {:.1} MiB | {} |",
                p.w * p.n,
                p.w,
                p.n,
                ms(p.m.run.wall),
                ms(p.lower_bound),
                p.m.requests.total,
                p.m.run.cpu_s(),
                p.m.run.max_rss_kb as f64 / 1024.0,
                ms(p.seed_time)
            );
        }
        let _ = writeln!(s, "\n![plan wall time against estate size](scaling.svg)\n");
    }
}
