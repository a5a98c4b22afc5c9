//! Reliability: concurrency (issue 8). Two (or three) `amlctl apply` processes on the same
//! manifests at once end in the desired state; the only complaint allowed is the clear
//! "already in progress" wait, and every process exits 0 (or waits and then finds nothing to do).

use std::process::{Output, Stdio};
use std::time::Duration;

use crate::common::*;

fn root(p: &Project) -> String {
    p.root.to_string_lossy().to_string()
}

fn text(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

/// Starts `n` identical applies at once and returns their outputs.
fn race(url: &str, args: &[&str], n: usize) -> Vec<Output> {
    let children: Vec<_> = (0..n)
        .map(|_| {
            cmd(url, args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn apply")
        })
        .collect();
    children
        .into_iter()
        .map(|mut c| {
            // Read the pipes on threads, bounded wait (CI must never hang).
            use std::io::Read;
            let mut o = c.stdout.take().expect("stdout");
            let mut e = c.stderr.take().expect("stderr");
            let to = std::thread::spawn(move || {
                let mut b = Vec::new();
                let _ = o.read_to_end(&mut b);
                b
            });
            let te = std::thread::spawn(move || {
                let mut b = Vec::new();
                let _ = e.read_to_end(&mut b);
                b
            });
            (c, to, te)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|(mut c, to, te)| {
            let status = wait_with_timeout(&mut c, Duration::from_secs(300));
            Output {
                status,
                stdout: to.join().expect("join"),
                stderr: te.join().expect("join"),
            }
        })
        .collect()
}

/// Checks one race: every process exited 0 without any error line; the live state is the desired
/// one; returns how many processes waited on another's operation.
fn check(outs: &[Output], emu: &EmulatorProcess, r: &str, ctx: &str) -> usize {
    let mut waited = 0;
    for (i, o) in outs.iter().enumerate() {
        let t = text(o);
        assert_eq!(o.status.code(), Some(0), "{ctx}: process {i}:\n{t}");
        assert!(
            !t.contains("FAILED") && !t.contains("error:") && !t.contains("panicked"),
            "{ctx}: process {i} reported an error:\n{t}"
        );
        // A 409 from the other process's operation shows only as the clear wait.
        if t.contains("already in progress") || t.contains("waiting for the operation in progress")
        {
            waited += 1;
        }
        assert!(
            !t.contains("HTTP 409"),
            "{ctx}: a raw conflict leaked:\n{t}"
        );
    }
    run(&emu.url, &["plan", r, "--detailed-exitcode"], 0);
    let live = emu.computes();
    assert!(
        !live.is_empty() && live.iter().all(|c| c.state == "Succeeded"),
        "{ctx}: {live:?}"
    );
    let mut names: Vec<_> = live.iter().map(|c| (&c.workspace, &c.name)).collect();
    let n = names.len();
    names.dedup();
    assert_eq!(names.len(), n, "{ctx}: a compute listed twice");
    assert_eq!(n, 13, "{ctx}: every example compute exists once: {live:?}");
    waited
}

#[test]
fn two_applies_at_once_create_the_same_manifests() {
    let waited = create_race(&[("300", 2), ("50", 2), ("0", 2)]);
    assert!(
        waited > 0,
        "no process ever waited: the 409 path was not exercised"
    );
}

/// Three at once: the second 409 (a third process's PUT started while this one waited for the
/// first) used to fail the target, because `run_step` waited out one conflict only. That race
/// failed 5 of 9 single runs before its fix, so it runs several times here, at several LRO lengths.
#[test]
fn three_applies_at_once_create_the_same_manifests() {
    let waited = create_race(&[("300", 3), ("300", 3), ("50", 3), ("0", 3), ("300", 3)]);
    // The path this test exists for: some process met another's operation (409) and waited.
    assert!(
        waited > 0,
        "no process ever waited: the 409 path was not exercised"
    );
}

const PATH_CPU: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/mlw-dev/computes/cpu-cluster?api-version=2025-12-01";

/// Makes cpu-cluster busy (Updating for the emulator's LRO time) through a direct PATCH, as the
/// portal or another apply would.
fn make_busy(emu: &EmulatorProcess, max_nodes: u64) {
    let (status, body) = http_send(
        "PATCH",
        &format!("{}{PATH_CPU}", emu.url),
        Some(
            &serde_json::json!({"properties": {"properties": {"scaleSettings":
            {"maxNodeCount": max_nodes, "minNodeCount": 0}}}}),
        ),
    );
    assert!(status < 300, "{status} {body}");
    assert!(
        emu.computes()
            .iter()
            .any(|c| c.name == "cpu-cluster" && c.state == "Updating"),
        "cpu-cluster is busy"
    );
}

/// The plan-time wait path, deterministically: the compute is busy when the plan is made, so the
/// apply waits for it, then writes, and ends at the desired scale with exit 0. (A compute that
/// turns busy between `plan --out` and `apply PLANFILE` makes the plan stale instead; the 409 path
/// is asserted by the races above.)
#[test]
fn a_busy_compute_is_waited_for_then_written() {
    let p = Project::example();
    let r = root(&p);
    let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &["--lro-ms", "1500"]);
    run(&emu.url, &["apply", &r, "--auto-approve"], 0);
    let f = p.path("cpu-cluster.yml");
    let t = std::fs::read_to_string(&f).expect("read");
    std::fs::write(&f, t.replace("max_instances: 4", "max_instances: 7")).expect("write");

    // (1) busy at plan time.
    make_busy(&emu, 5);
    let o = run(&emu.url, &["apply", &r, "--auto-approve"], 0);
    let t = text(&o);
    assert!(
        t.contains("waiting for the operation in progress"),
        "the plan waited for the busy compute:\n{t}"
    );
    run(&emu.url, &["plan", &r, "--detailed-exitcode"], 0);

    run(&emu.url, &["plan", &r, "--detailed-exitcode"], 0);
}

/// Runs the races; returns how many processes in all waited out another's operation (a 409).
fn create_race(runs: &[(&str, usize)]) -> usize {
    let mut total_waited = 0;
    for &(lro, procs) in runs {
        let p = Project::example();
        let r = root(&p);
        let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &["--lro-ms", lro]);
        let outs = race(&emu.url, &["apply", &r, "--auto-approve"], procs);
        let ctx = format!("create, {procs} processes, lro {lro} ms");
        let waited = check(&outs, &emu, &r, &ctx);
        total_waited += waited;
        let puts: usize = emu.successes_per_compute("PUT").values().sum();
        println!(
            "{ctx}: all exited 0, {waited} waited on another's operation, {puts} accepted PUTs for 13 computes"
        );
        // Each compute is written at most once per process.
        assert!(
            emu.successes_per_compute("PUT")
                .values()
                .all(|n| *n <= procs),
            "{ctx}"
        );
    }
    total_waited
}

#[test]
fn two_applies_at_once_scale_the_same_cluster() {
    for lro in ["300", "50"] {
        let p = Project::example();
        let r = root(&p);
        let emu = EmulatorProcess::start(p.dir.path(), &p.fixture, &["--lro-ms", lro]);
        run(&emu.url, &["apply", &r, "--auto-approve"], 0);
        let f = p.path("cpu-cluster.yml");
        let t = std::fs::read_to_string(&f).expect("read");
        std::fs::write(&f, t.replace("max_instances: 4", "max_instances: 7")).expect("write");
        let outs = race(&emu.url, &["apply", &r, "--auto-approve"], 2);
        let ctx = format!("scale change, 2 processes, lro {lro} ms");
        let waited = check(&outs, &emu, &r, &ctx);
        let state = emu.get_json("/_emulator/state").to_string();
        assert!(
            state.contains("\"maxNodeCount\":7"),
            "{ctx}: new scale live"
        );
        println!(
            "{ctx}: both exited 0, {waited} waited, {} PATCH accepted",
            emu.successes_per_compute("PATCH").values().sum::<usize>()
        );
    }
}
