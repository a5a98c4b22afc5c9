//! Reliability: crashes (issue 8). `amlctl apply` is SIGKILLed at seeded random points (the k-th
//! ARM request the emulator receives during the run) across create, PATCH (scale change), delete
//! (prune + detach) and replace (`--replace`). Each time a rerun converges, sends no duplicate
//! PUT/PATCH/DELETE for a compute beyond those in flight, and leaves exactly the computes and
//! underlying resources an uninterrupted run leaves (no duplicate, no orphan). The emulator itself
//! is also SIGKILLed mid-run and restarted from its state file.

use std::collections::BTreeMap;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

const LRO_MS: &str = "200";
const POINTS_PER_SCENARIO: usize = 6;
const SEED: u64 = 20_261_129;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scenario {
    Create,
    Patch,
    Delete,
    Replace,
}

const SCENARIOS: [Scenario; 4] = [
    Scenario::Create,
    Scenario::Patch,
    Scenario::Delete,
    Scenario::Replace,
];

fn root(p: &Project) -> String {
    p.root.to_string_lossy().to_string()
}

fn text(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

/// `crate::common::run_bounded` with this file's safety limit.
fn run_bounded(url: &str, args: &[&str]) -> Output {
    crate::common::run_bounded(url, args, Duration::from_secs(300))
}

fn must(url: &str, args: &[&str], code: i32, ctx: &str) -> Output {
    let out = run_bounded(url, args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{ctx}: amlctl {args:?}\n{}",
        text(&out)
    );
    out
}

/// Replaces `from` by `to` in the manifest file `rel`.
fn edit(p: &Project, rel: &str, from: &str, to: &str) {
    let path = p.path(rel);
    let t = std::fs::read_to_string(&path).expect("read");
    assert!(t.contains(from), "{rel} lacks {from:?}");
    std::fs::write(&path, t.replacen(from, to, 1)).expect("write");
}

/// Brings the project to the scenario's starting point and returns the args of the run to crash.
fn prepare(s: Scenario, p: &Project, url: &str) -> Vec<String> {
    let r = root(p);
    let mut args = vec!["apply".to_string(), r.clone(), "--auto-approve".to_string()];
    if s == Scenario::Create {
        return args;
    }
    must(url, &["apply", &r, "--auto-approve"], 0, "setup apply");
    match s {
        Scenario::Create => {}
        Scenario::Patch => {
            edit(p, "cpu-cluster.yml", "max_instances: 4", "max_instances: 6");
            edit(p, "prod/aks.yml", "max_instances: 8", "max_instances: 3");
            edit(p, "gpu-lowpri.yml", "max_instances: 2", "max_instances: 5");
        }
        Scenario::Delete => {
            std::fs::remove_file(p.path("cpu-cluster.yml")).expect("rm");
            std::fs::remove_file(p.path("adla.yml")).expect("rm");
            std::fs::remove_file(p.path("batch.yml")).expect("rm");
            std::fs::remove_file(p.path("prod/k8s.yml")).expect("rm");
            let cfg = std::fs::read_to_string(p.path("amlctl.yaml")).expect("read");
            let pruned = cfg.replacen(
                "workspace: mlw-dev",
                "workspace: mlw-dev\n    prune: true",
                1,
            );
            assert_ne!(cfg, pruned);
            std::fs::write(p.path("amlctl.yaml"), pruned).expect("write");
        }
        Scenario::Replace => {
            edit(
                p,
                "cpu-cluster.yml",
                "size: Standard_DS3_v2",
                "size: Standard_DS4_v2",
            );
            // One replaced target: with two, a busy one trips the re-plan bug tested below.
            args.extend(["--replace", "cpu-cluster"].iter().map(|s| s.to_string()));
        }
    }
    args
}

/// Successful requests of `method` per compute path, among requests `from..` of the log.
fn successes_since(emu: &EmulatorProcess, from: usize, method: &str) -> BTreeMap<String, usize> {
    let mut per = BTreeMap::new();
    let log = emu.get_json("/_emulator/requests");
    for r in log.as_array().expect("array").iter().skip(from) {
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

/// End state of a run: computes (workspace, name, state, resourceId) and underlying resources.
type EndState = (Vec<LiveEntry>, Vec<String>);

/// Result of one point.
struct Point {
    scenario: Scenario,
    k: u64,
    killed: bool,
    puts: usize,
    end: EndState,
}

/// Runs the scenario; SIGKILLs the run when the emulator has seen `kill_at` requests of it
/// (`None`: run uninterrupted), then reruns to convergence and checks duplicates.
fn point(s: Scenario, kill_at: Option<u64>) -> Point {
    let ctx = format!("{s:?} kill at request {kill_at:?}");
    let p = Project::example();
    let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &["--lro-ms", LRO_MS]);
    let args = prepare(s, &p, &emu.url);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let base_requests = emu.total_requests();
    let base_log = base_requests as usize;
    let mut killed = false;
    if let Some(k) = kill_at {
        let mut child = cmd(&emu.url, &args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn apply");
        let start = Instant::now();
        loop {
            if child.try_wait().expect("try_wait").is_some() {
                break;
            }
            if emu.total_requests() >= base_requests + k {
                child.kill().expect("SIGKILL");
                killed = true;
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "{ctx}: run hung"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = child.wait();
    }
    // Recovery is a plain `apply` (`--replace` forces a replacement, like Terraform's -replace, so
    // repeating it would replace the already replaced compute again). If the kill came before the
    // replacement started, the plain apply is gated and says so; then `--replace` is given again.
    let plain: Vec<&str> = args
        .iter()
        .copied()
        .take_while(|a| *a != "--replace")
        .collect();
    let out = run_bounded(&emu.url, &plain);
    let t = text(&out);
    assert!(!t.contains("panicked"), "{ctx}: {t}");
    if out.status.code() != Some(0) {
        assert!(
            s == Scenario::Replace && t.contains("--replace") && t.contains("allow_replace"),
            "{ctx}: rerun failed:\n{t}"
        );
        must(&emu.url, &args, 0, &ctx);
    }
    must(
        &emu.url,
        &["plan", &root(&p), "--detailed-exitcode"],
        0,
        &ctx,
    );

    // No compute got a second successful write during the killed run + the rerun.
    let mut puts = 0;
    for method in ["PUT", "PATCH", "DELETE"] {
        let per = successes_since(&emu, base_log, method);
        if method == "PUT" {
            puts = per.values().sum();
        }
        let dupes: Vec<_> = per.iter().filter(|(_, n)| **n > 1).collect();
        assert!(dupes.is_empty(), "{ctx}: duplicate {method}: {dupes:?}");
        match s {
            Scenario::Patch => assert!(
                method == "PATCH" || per.is_empty(),
                "{ctx}: {method} during a scale change: {per:?}"
            ),
            Scenario::Create => assert!(method == "PUT" || per.is_empty(), "{ctx}: {per:?}"),
            Scenario::Delete => assert!(method == "DELETE" || per.is_empty(), "{ctx}: {per:?}"),
            Scenario::Replace => assert!(
                method != "PATCH" || per.is_empty(),
                "{ctx}: PATCH during replace: {per:?}"
            ),
        }
    }
    let computes = emu.computes();
    assert!(
        !computes.is_empty() && computes.iter().all(|c| c.state == "Succeeded"),
        "{ctx}: {computes:?}"
    );
    Point {
        scenario: s,
        k: kill_at.unwrap_or(0),
        killed,
        puts,
        end: (computes, emu.resources()),
    }
}

/// `POINTS_PER_SCENARIO` distinct kill points (drawn without replacement) among the first two
/// thirds of an uninterrupted run's `n` requests, so each kill lands mid-run even when a run
/// polls a little less than the calibration run did.
fn kill_points(rng: &mut SeededRng, n: u64) -> Vec<u64> {
    let last = (n * 2 / 3).max(1);
    assert!(
        last >= POINTS_PER_SCENARIO as u64,
        "a run of {n} requests has too few mid-run kill points"
    );
    let mut points = std::collections::BTreeSet::new();
    while points.len() < POINTS_PER_SCENARIO {
        points.insert(rng.range(1, last));
    }
    points.into_iter().collect()
}

#[test]
fn kill_points_are_distinct_and_mid_run() {
    let mut rng = SeededRng::new(SEED);
    for n in [9, 20, 60] {
        let k = kill_points(&mut rng, n);
        assert_eq!(k.len(), POINTS_PER_SCENARIO);
        assert!(k.windows(2).all(|w| w[0] < w[1]), "{k:?}");
        assert!(k.iter().all(|k| *k >= 1 && *k <= n * 2 / 3), "{n}: {k:?}");
    }
}

#[test]
fn sigkill_apply_at_seeded_points_then_rerun_converges_without_duplicates_or_orphans() {
    let started = Instant::now();
    // Calibrate: an uninterrupted run of each scenario gives its request count and end state.
    let calib: Vec<_> = run_parallel(
        SCENARIOS
            .iter()
            .map(|s| {
                let s = *s;
                Box::new(move || {
                    let p = Project::example();
                    let emu =
                        EmulatorProcess::start(p.dir.path(), &p.fixture, &["--lro-ms", LRO_MS]);
                    let args = prepare(s, &p, &emu.url);
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    let base = emu.total_requests();
                    must(&emu.url, &args, 0, &format!("{s:?} uninterrupted"));
                    let n = emu.total_requests() - base;
                    drop(emu);
                    let pt = point(s, None);
                    (s, n, pt.puts, pt.end)
                }) as Box<dyn FnOnce() -> (Scenario, u64, usize, EndState) + Send>
            })
            .collect(),
        4,
    )
    .into_iter()
    .map(|r| r.unwrap_or_else(|e| panic!("calibration: {e}")))
    .collect();

    let mut rng = SeededRng::new(SEED);
    let mut jobs: Vec<Box<dyn FnOnce() -> Point + Send>> = Vec::new();
    for (s, n, _, _) in &calib {
        for k in kill_points(&mut rng, *n) {
            let s = *s;
            jobs.push(Box::new(move || point(s, Some(k))));
        }
    }
    let results = run_parallel(jobs, 4);
    println!(
        "\n| scenario | requests (uninterrupted) | kill points (k-th request) | killed mid-run | rerun converged |"
    );
    println!("|---|---|---|---|---|");
    let mut failures = Vec::new();
    let mut ok: Vec<Point> = Vec::new();
    for r in results {
        match r {
            Ok(p) => ok.push(p),
            Err(e) => failures.push(e),
        }
    }
    for (s, n, calib_puts, end) in &calib {
        let mine: Vec<&Point> = ok.iter().filter(|p| p.scenario == *s).collect();
        for p in &mine {
            assert_eq!(
                &p.end, end,
                "{s:?} killed at request {}: the end state differs from an uninterrupted run (duplicate or orphan)",
                p.k
            );
            // The killed run plus its rerun had exactly as many PUTs accepted as one
            // uninterrupted run: none repeated, none missing.
            assert_eq!(
                p.puts, *calib_puts,
                "{s:?} killed at request {}: accepted PUTs differ from an uninterrupted run",
                p.k
            );
        }
        println!(
            "| {s:?} | {n} | {:?} | {} | {}/{} (PUTs: {:?}) |",
            mine.iter().map(|p| p.k).collect::<Vec<_>>(),
            mine.iter().filter(|p| p.killed).count(),
            mine.len(),
            POINTS_PER_SCENARIO,
            mine.iter().map(|p| p.puts).collect::<Vec<_>>()
        );
    }
    // Scenario-specific orphan checks on the uninterrupted end states.
    for (s, _, _, (computes, resources)) in &calib {
        if *s == Scenario::Delete {
            assert!(!computes.iter().any(|c| c.name == "cpu-cluster"));
            assert!(
                !computes
                    .iter()
                    .any(|c| c.name == "adla" || c.name == "batch")
            );
            for kept in [
                "accounts/adlaml",
                "batchaccounts/batchml",
                "connectedclusters/arc-ml",
            ] {
                assert!(
                    resources.iter().any(|r| r.ends_with(kept)),
                    "a detached target keeps its resource: {kept} missing from {resources:?}"
                );
            }
        }
    }
    let total: usize = ok.len() + failures.len();
    println!(
        "\n{total} kill points, {} passed, wall {:.1}s",
        ok.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(total, SCENARIOS.len() * POINTS_PER_SCENARIO);
    assert!(
        failures.is_empty(),
        "{} point(s) failed:\n{}",
        failures.len(),
        failures.join("\n---\n")
    );
    let not_killed: Vec<_> = ok
        .iter()
        .filter(|p| !p.killed)
        .map(|p| (p.scenario, p.k))
        .collect();
    assert!(
        not_killed.is_empty(),
        "every kill point is mid-run, yet these runs finished before their kill: {not_killed:?}"
    );
}

#[test]
fn sigkill_emulator_mid_apply_then_restart_from_state_converges() {
    let p = Project::example();
    let r = root(&p);
    let mut emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &["--lro-ms", "800"]);
    let mut child = cmd(
        &emu.url,
        &["apply", &r, "--auto-approve", "--operation-timeout", "3"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn apply");
    assert!(
        eventually(Duration::from_secs(60), || emu
            .successes_per_compute("PUT")
            .len()
            >= 3),
        "apply never sent its PUTs"
    );
    // SIGKILL the emulator: no graceful shutdown, only what it persisted survives.
    emu.kill();
    let status = wait_with_timeout(&mut child, Duration::from_secs(300));
    let out = child.wait_with_output().expect("output");
    let t = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        status.code(),
        Some(1),
        "apply reports the lost service: {t}"
    );
    assert!(!t.contains("panicked"), "{t}");

    // The state file is whole JSON; the writes since its last compaction are in its journal,
    // so what survived is what a restarted emulator serves.
    let _: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&emu.state).expect("state file survives"))
            .expect("state file is whole JSON");
    let emu2 = EmulatorProcess::restart_from_state(&emu.state, &["--lro-ms".into(), "50".into()]);
    let before: Vec<String> = emu2
        .computes()
        .iter()
        .map(|c| c.name.to_lowercase())
        .collect();
    assert!(
        before.len() >= 3,
        "accepted PUTs were persisted: {before:?}"
    );
    must(&emu2.url, &["apply", &r, "--auto-approve"], 0, "rerun");
    must(&emu2.url, &["plan", &r, "--detailed-exitcode"], 0, "plan");
    // What the dead emulator had accepted was not created again.
    let puts = emu2.successes_per_compute("PUT");
    let again: Vec<&String> = puts
        .keys()
        .filter(|path| {
            before
                .iter()
                .any(|n| path.ends_with(&format!("/computes/{n}")))
        })
        .collect();
    assert!(again.is_empty(), "re-created after restart: {again:?}");
    println!(
        "emulator SIGKILLed with {} computes persisted; rerun created {} more, converged",
        before.len(),
        puts.len()
    );
}

/// Found by the kill-point test: `apply --replace A --replace B` where B is busy when the run
/// starts replaces A, waits for B, then plans B again with `--replace A` still set and a target
/// filter of only B, which the planner rejects ("--replace cpu-cluster matches no selected
/// target"), so the run fails and B is never replaced.
#[test]
fn replace_two_targets_when_one_is_busy() {
    let p = Project::example();
    let r = root(&p);
    let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &["--lro-ms", "1500"]);
    must(&emu.url, &["apply", &r, "--auto-approve"], 0, "setup");
    edit(
        &p,
        "cpu-cluster.yml",
        "size: Standard_DS3_v2",
        "size: Standard_DS4_v2",
    );
    edit(
        &p,
        "prod/aks.yml",
        "size: Standard_DS3_v2",
        "size: Standard_DS4_v2",
    );
    // Someone scales prod-cluster in the portal: it is Updating when the apply starts.
    let path = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-prod/computes/prod-cluster?api-version=2025-12-01";
    let (status, body) = http_send(
        "PATCH",
        &format!("{}{path}", emu.url),
        Some(
            &serde_json::json!({"properties": {"properties": {"scaleSettings":
            {"maxNodeCount": 8, "minNodeCount": 0}}}}),
        ),
    );
    assert!(status < 300, "{status} {body}");
    let out = run_bounded(
        &emu.url,
        &[
            "apply",
            &r,
            "--auto-approve",
            "--replace",
            "cpu-cluster",
            "--replace",
            "prod-cluster",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    must(&emu.url, &["plan", &r, "--detailed-exitcode"], 0, "plan");
}

/// The emulator dies (SIGKILL) while an apply is running and comes back on the same port from its
/// state file: the running apply retries through the outage and converges by itself, without
/// re-creating what the dead emulator had accepted.
#[test]
fn sigkill_emulator_and_restart_on_the_same_port_while_apply_runs() {
    let p = Project::example();
    let r = root(&p);
    let listen = format!("127.0.0.1:{}", free_port());
    let state = p.dir.path().join("emulator-state.json");
    let flags: Vec<String> = vec!["--lro-ms".into(), "800".into()];
    let mut emu = EmulatorProcess::start_at(&listen, &state, Some(&p.fixture), &flags);
    let mut child = cmd(
        &emu.url,
        &["apply", &r, "--auto-approve", "--operation-timeout", "120"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn apply");
    assert!(
        eventually(Duration::from_secs(60), || emu
            .successes_per_compute("PUT")
            .len()
            >= 3
            && emu.computes().iter().any(|c| c.state == "Succeeded")),
        "apply never sent its PUTs, or none of them settled"
    );
    // Only computes whose create had settled before the kill are certain to have been answered:
    // a PUT the emulator persisted but whose 201 the kill swallowed is rightly retried by the
    // client (PUT is idempotent), and that is not a re-creation. `/_emulator/state` persists the
    // settling before it answers, so what it shows here survives the kill (state file + journal).
    let before: Vec<String> = emu
        .computes()
        .iter()
        .filter(|c| c.state == "Succeeded")
        .map(|c| c.name.to_lowercase())
        .collect();
    emu.kill();
    let _: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).expect("state file survives"))
            .expect("state file is whole JSON");
    assert!(
        !before.is_empty(),
        "a settled compute was persisted before the kill"
    );
    // The outage lasts a while: the apply keeps retrying (connection refused).
    std::thread::sleep(Duration::from_millis(1500));
    let emu2 = EmulatorProcess::start_at(&listen, &state, None, &flags);
    let status = wait_with_timeout(&mut child, Duration::from_secs(300));
    let out = child.wait_with_output().expect("output");
    let t = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        status.code(),
        Some(0),
        "the running apply rode out the outage:\n{t}"
    );
    must(&emu2.url, &["plan", &r, "--detailed-exitcode"], 0, "plan");
    let puts = emu2.successes_per_compute("PUT");
    let again: Vec<&String> = puts
        .keys()
        .filter(|path| {
            before
                .iter()
                .any(|n| path.ends_with(&format!("/computes/{n}")))
        })
        .collect();
    assert!(again.is_empty(), "re-created after restart: {again:?}");
    println!(
        "emulator SIGKILLed under a running apply with {} computes persisted, back on the same port after 1.5 s; the same apply converged ({} PUTs after the restart)",
        before.len(),
        puts.len()
    );
}
