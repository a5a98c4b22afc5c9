//! Two plan scenarios beside the fixed-size ones of `scenarios`: the cost of the pre-flight
//! (a plan of creates with and without `--no-preflight`) and the scaling picture (plans of
//! estates of 10 to 10,000 computes, drawn by `svg` into `bench/scaling.svg`).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::emu::{self, Emu};
use crate::measure;
use crate::scenarios::{Ctx, Measured, ceil_div, list_all, load, measured};
use crate::svg::{Chart, Series};
use crate::workload;

// -------------------------------------------------------------------------------- pre-flight cost

/// Figures of the pre-flight cost scenario: the same plan of creates with and without it.
#[derive(Debug, Clone)]
pub struct PreflightCost {
    /// Creates in the plan.
    pub creates: usize,
    /// Timed runs of `amlctl plan` (pre-flight on).
    pub with: Vec<Measured>,
    /// Timed runs of `amlctl plan --no-preflight`.
    pub without: Vec<Measured>,
    /// Problems (unexpected exit codes).
    pub problems: Vec<String>,
}

/// `amlctl plan --detailed-exitcode` of `creates` new clusters in one empty workspace, with the
/// pre-flight and with `--no-preflight`, against `serve --latency-ms L` (exit 2 expected).
pub async fn preflight_cost(
    ctx: &Ctx,
    http: &reqwest::Client,
    creates: usize,
) -> Result<PreflightCost> {
    let dir = ctx.work.join(format!("preflight-1x{creates}"));
    let g = workload::generate(&dir, "pf", 1, creates)?;
    let emu = Emu::serve(
        &ctx.amlctl,
        &dir.join("state.json"),
        &g.fixture,
        &ctx.emu_opts(0),
        &dir.join("emulator.log"),
    )?;
    let base = emu.base();
    let root = g.root.display().to_string();
    let par = ctx.parallelism.to_string();
    let mut out = PreflightCost {
        creates,
        with: Vec::new(),
        without: Vec::new(),
        problems: Vec::new(),
    };
    let result = async {
        for no_preflight in [false, true] {
            let mut args = vec!["plan", &root, "--detailed-exitcode", "--parallelism", &par];
            if no_preflight {
                args.push("--no-preflight");
            }
            let cmd = ctx.amlctl_cmd(&base, &args);
            // Warm-up, not timed.
            measured(ctx, http, &base, &cmd).await?;
            for _ in 0..ctx.runs.max(1) {
                let m = measured(ctx, http, &base, &cmd).await?;
                if m.run.code != Some(2) && out.problems.is_empty() {
                    out.problems.push(format!(
                        "`amlctl {}` exited {:?} (2 = changes expected)",
                        args.join(" "),
                        m.run.code
                    ));
                }
                if no_preflight {
                    out.without.push(m);
                } else {
                    out.with.push(m);
                }
            }
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    emu.stop().await;
    result?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------- scaling

/// The estates of the scaling picture: (workspaces, computes per workspace), 10 to 10,000
/// computes. `quick` stops at 1,000.
pub fn estates(quick: bool) -> Vec<(usize, usize)> {
    let mut v = vec![(1, 10), (10, 10), (10, 100)];
    if !quick {
        v.push((100, 100));
    }
    v
}

/// One estate of the scaling picture.
#[derive(Debug, Clone)]
pub struct ScalePoint {
    /// Workspaces.
    pub w: usize,
    /// Computes per workspace.
    pub n: usize,
    /// The timed `amlctl plan` run (no changes).
    pub m: Measured,
    /// Lower bound: pages × latency × ceil(W / parallelism).
    pub lower_bound: Duration,
    /// Seeding time (not part of any figure).
    pub seed_time: Duration,
}

/// Plans every estate of [`estates`] with no changes: one untimed warm-up and one timed run
/// each. The emulator runs in this process without a state file (seeding 10,000 computes
/// through a persisting `serve` takes minutes), with the same latency and page size.
pub async fn scaling(ctx: &Ctx, http: &reqwest::Client, quick: bool) -> Result<Vec<ScalePoint>> {
    let mut points = Vec::new();
    for (w, n) in estates(quick) {
        let dir = ctx.work.join(format!("scale-{w}x{n}"));
        let g = workload::generate(&dir, &format!("s{w}x{n}"), w, n)?;
        let project = load(&g.root)?;
        let emu =
            Emu::in_process(emu::config(&ctx.emu_opts(0), emu::fixture_of(&g.fixture)?)).await?;
        let base = emu.base();
        let point = async {
            let t0 = Instant::now();
            let seeded = emu::seed(http, &base, &project, 64).await?;
            let client = ctx.arm_client(&base, ctx.parallelism)?;
            let listed: usize = list_all(&client, &project)
                .await?
                .values()
                .map(Vec::len)
                .sum();
            if seeded != w * n || listed != w * n {
                bail!("seeded {seeded}, listed {listed}, expected {}", w * n);
            }
            let seed_time = t0.elapsed();
            let root = g.root.display().to_string();
            let par = ctx.parallelism.to_string();
            let cmd = ctx.amlctl_cmd(
                &base,
                &["plan", &root, "--detailed-exitcode", "--parallelism", &par],
            );
            measured(ctx, http, &base, &cmd).await?;
            let m = measured(ctx, http, &base, &cmd).await?;
            if m.run.code != Some(0) {
                bail!(
                    "`amlctl plan` of {w}×{n} exited {:?} (0 expected)",
                    m.run.code
                );
            }
            let pages = ceil_div(n, ctx.page_size).max(1);
            let lat = Duration::from_millis(ctx.latency_ms);
            Ok(ScalePoint {
                w,
                n,
                m,
                lower_bound: lat * (pages * ceil_div(w, ctx.parallelism)) as u32,
                seed_time,
            })
        }
        .await;
        emu.stop().await;
        points.push(point?);
    }
    Ok(points)
}

/// The scaling chart: plan wall time and lower bound (ms) against the estate size.
pub fn chart(points: &[ScalePoint]) -> Chart {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let x = |p: &ScalePoint| (p.w * p.n) as f64;
    Chart {
        title: "amlctl plan, no changes: wall time against estate size".into(),
        x_label: "computes in the estate".into(),
        y_label: "milliseconds".into(),
        series: vec![
            Series {
                label: "amlctl plan wall".into(),
                color: "#1f77b4".into(),
                dashed: false,
                points: points.iter().map(|p| (x(p), ms(p.m.run.wall))).collect(),
            },
            Series {
                label: "lower bound".into(),
                color: "#555555".into(),
                dashed: true,
                points: points.iter().map(|p| (x(p), ms(p.lower_bound))).collect(),
            },
            Series {
                label: "1.5 × lower bound".into(),
                color: "#d62728".into(),
                dashed: true,
                points: points
                    .iter()
                    .map(|p| (x(p), 1.5 * ms(p.lower_bound)))
                    .collect(),
            },
        ],
    }
}

/// Writes the chart of `points` to `path`.
pub fn write_chart(points: &[ScalePoint], path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
    }
    std::fs::write(path, chart(points).to_svg())
        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))
}

/// Median wall of some runs.
pub fn median_wall(runs: &[Measured]) -> Duration {
    measure::median(&runs.iter().map(|m| m.run.wall).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estates_span_10_to_10000_computes_in_1_to_100_workspaces() {
        let full = estates(false);
        let sizes: Vec<usize> = full.iter().map(|(w, n)| w * n).collect();
        assert_eq!(sizes, [10, 100, 1_000, 10_000]);
        assert_eq!(full.first().map(|e| e.0), Some(1));
        assert_eq!(full.last().map(|e| e.0), Some(100));
        // --quick drops only the largest estate.
        assert_eq!(estates(true), full[..3]);
    }

    #[test]
    fn an_estate_generates_and_loads_with_one_target_per_compute() {
        let dir = tempfile::tempdir().unwrap();
        for (w, n) in estates(true) {
            let g = workload::generate(&dir.path().join(format!("{w}x{n}")), "t", w, n).unwrap();
            let p = load(&g.root).unwrap();
            assert_eq!(p.targets.len(), w * n);
            assert_eq!(p.config.workspaces.len(), w);
            let names: std::collections::BTreeSet<_> =
                p.targets.iter().map(|t| (&t.workspace, &t.name)).collect();
            assert_eq!(names.len(), w * n, "names are unique");
        }
    }
}
