//! Reliability: the fault matrix (issue 8). For every fault kind × rate, a full `apply` of the
//! example manifests against a fresh emulator injecting that fault, then `plan --detailed-exitcode`.
//! Where retries cannot win (an LRO that itself ends Failed/Canceled), the failure must be
//! reported clearly and a later apply against the same state (emulator restarted without faults)
//! must converge. Every cell also imitates the service's quirks (`--quirks all`: upper-cased VM
//! sizes, `VirtualNetworks` casing, re-formatted durations, upper-cased locations), so "plan is
//! clean" also proves normalisation under faults. Run with `--nocapture` to see the table of
//! attempts and outcomes.

use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::*;

/// One fault kind of the matrix.
#[derive(Clone, Copy)]
struct Kind {
    /// Label in the table.
    label: &'static str,
    /// `--faults` kind name.
    fault: &'static str,
    /// `--retry-after` seconds.
    retry_after: u64,
    /// Whether retries can always win (the fault is transient on the request itself).
    retryable: bool,
}

const KINDS: &[Kind] = &[
    Kind {
        label: "429 (Retry-After: 1)",
        fault: "429",
        retry_after: 1,
        retryable: true,
    },
    Kind {
        label: "429 (Retry-After: 0)",
        fault: "429",
        retry_after: 0,
        retryable: true,
    },
    Kind {
        label: "500",
        fault: "500",
        retry_after: 0,
        retryable: true,
    },
    Kind {
        label: "503 (Retry-After: 1)",
        fault: "503",
        retry_after: 1,
        retryable: true,
    },
    Kind {
        label: "reset (dropped connection)",
        fault: "reset",
        retry_after: 0,
        retryable: true,
    },
    Kind {
        label: "slow (3 s response)",
        fault: "slow",
        retry_after: 0,
        retryable: true,
    },
    Kind {
        label: "lro-failed",
        fault: "lro-failed",
        retry_after: 0,
        retryable: false,
    },
    Kind {
        label: "lro-canceled",
        fault: "lro-canceled",
        retry_after: 0,
        retryable: false,
    },
];

// At 10 % every cell of this matrix injects at least one fault (at 5 %
// the 500 and 503 cells drew none, so they tested nothing: `assert_fault_injected` caught that).
const RATES: &[f64] = &[0.10, 0.20, 0.50];

/// What one cell did.
struct CellResult {
    label: String,
    rate: f64,
    requests: u64,
    fault_answers: u64,
    apply_code: i32,
    apply_secs: f64,
    outcome: String,
}

fn text(o: &Output) -> String {
    format!("{}{}", stdout(o), stderr(o))
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// `crate::common::run_bounded` with this file's safety limit.
fn run_bounded(url: &str, args: &[&str]) -> Output {
    crate::common::run_bounded(url, args, Duration::from_secs(600))
}

/// Answers that were a status fault (429, 500, 503, or a dropped connection logged as 0). A status
/// that never occurred is absent from `by_status` (it counts 0); `by_status` itself must be there.
fn fault_answers(emu: &EmulatorProcess) -> u64 {
    let stats = emu.get_json("/_emulator/stats");
    let by_status = stats["by_status"]
        .as_object()
        .unwrap_or_else(|| panic!("/_emulator/stats has no by_status object: {stats}"));
    ["429", "500", "503", "0"]
        .iter()
        .filter_map(|s| by_status.get(*s).and_then(|v| v.as_u64()))
        .sum()
}

/// Panics unless the cell's fault visibly happened: a cell in which no fault was injected would
/// pass without testing anything. Every request draws one number, so status and slow faults hit a
/// fixed number of the first requests for a seed (at 10 % each cell drew at least one status fault;
/// slow is checked from 20 %). An LRO fault only counts when the drawing request starts an LRO,
/// which depends on arrival order: it is checked at 50 %, where 13 creates all escaping it would be
/// a 1-in-8192 event.
fn assert_fault_injected(
    kind: &Kind,
    rate: f64,
    answers: u64,
    apply_secs: f64,
    exit: i32,
    ctx: &str,
) {
    match kind.fault {
        "slow" if rate >= 0.2 => assert!(
            apply_secs >= 3.0,
            "{ctx}: no slow response happened (apply took {apply_secs:.2}s)"
        ),
        "lro-failed" | "lro-canceled" if rate >= 0.5 => assert_ne!(
            exit, 0,
            "{ctx}: no LRO ended {} (apply exited 0)",
            kind.fault
        ),
        "429" | "500" | "503" | "reset" => assert!(
            answers > 0,
            "{ctx}: the emulator logged no {} answer: the fault was never injected",
            kind.fault
        ),
        _ => {}
    }
}

/// Restarts the emulator from its state without faults and applies until converged, allowing the
/// replacement of computes the faults left Failed/Canceled (the planner gates that: it must say so).
/// A compute the planner may not replace (`prevent_destroy`) is reported as such; the user's way
/// out is to drop `prevent_destroy` (an explicit decision), which the test then does.
fn converge_after_restart(
    emu: &mut EmulatorProcess,
    project: &Project,
    root: &str,
    ctx: &str,
) -> String {
    emu.kill();
    let restarted =
        EmulatorProcess::restart_from_state(&emu.state, &["--lro-ms".into(), "20".into()]);
    let broken: Vec<String> = restarted
        .computes()
        .into_iter()
        .filter(|c| c.state == "Failed" || c.state == "Canceled")
        .map(|c| c.name)
        .collect();
    let out = run_bounded(&restarted.url, &["apply", root, "--auto-approve"]);
    let note = if code(&out) == 0 {
        let live = restarted.computes();
        assert!(
            !live.is_empty() && live.iter().all(|c| c.state == "Succeeded"),
            "{ctx}: apply after restart exited 0 but computes are not Succeeded: {live:?}\n{}",
            text(&out)
        );
        "apply after restart converged".to_string()
    } else {
        let t = text(&out);
        assert!(
            !broken.is_empty(),
            "{ctx}: apply without faults failed with nothing Failed/Canceled live:\n{t}"
        );
        // Each Failed compute is reported with how to replace it, or (prevent_destroy) with why it
        // may not be replaced; a run where only protected computes failed names no --replace.
        assert!(
            (t.contains("--replace") || t.contains("prevent_destroy forbids replacing it"))
                && !t.contains("panicked"),
            "{ctx}: a Failed compute must be reported with how to replace it:\n{t}"
        );
        let mut protected = 0;
        for line in t.lines() {
            if let Some(rest) = line.strip_prefix("Error: ")
                && line.contains("prevent_destroy forbids replacing it")
            {
                let name = rest
                    .split(':')
                    .next()
                    .and_then(|a| a.split('/').nth(1))
                    .expect("address");
                assert!(t.contains("remove `prevent_destroy`"), "{ctx}: hint: {t}");
                unprotect(project, name);
                protected += 1;
            }
        }
        let mut args = vec!["apply", root, "--auto-approve"];
        for b in &broken {
            args.push("--replace");
            args.push(b);
        }
        let out = run_bounded(&restarted.url, &args);
        assert_eq!(
            code(&out),
            0,
            "{ctx}: apply --replace of {broken:?} failed:\n{}",
            text(&out)
        );
        let out = run_bounded(&restarted.url, &["plan", root, "--detailed-exitcode"]);
        assert_eq!(
            code(&out),
            0,
            "{ctx}: plan after --replace:\n{}",
            text(&out)
        );
        let live = restarted.computes();
        assert!(
            !live.is_empty() && live.iter().all(|c| c.state == "Succeeded"),
            "{ctx}: {live:?}"
        );
        format!(
            "apply after restart gated ({} Failed/Canceled need --replace{}), then --replace converged",
            broken.len(),
            if protected > 0 {
                format!(", {protected} refused for prevent_destroy until removed")
            } else {
                String::new()
            }
        )
    };
    let out = run_bounded(&restarted.url, &["plan", root, "--detailed-exitcode"]);
    assert_eq!(
        code(&out),
        0,
        "{ctx}: plan after convergence:\n{}",
        text(&out)
    );
    *emu = restarted;
    note
}

/// Removes `prevent_destroy: true` from the manifest that declares `name`.
fn unprotect(project: &Project, name: &str) {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&project.root, &mut files);
    for f in files {
        let t = std::fs::read_to_string(&f).expect("read");
        if t.lines().any(|l| l.trim() == format!("name: {name}")) {
            let kept: Vec<&str> = t
                .lines()
                .filter(|l| l.trim() != "prevent_destroy: true")
                .collect();
            std::fs::write(&f, kept.join("\n") + "\n").expect("write");
            return;
        }
    }
    panic!("no manifest declares {name}");
}

fn cell(kind: Kind, rate: f64, seed: u64) -> CellResult {
    let ctx = format!("{} at {:.0}% (seed {seed})", kind.label, rate * 100.0);
    let project = Project::example();
    let root = project.root.to_string_lossy().to_string();
    let faults = format!("{}={rate}", kind.fault);
    let seed_s = seed.to_string();
    let ra = kind.retry_after.to_string();
    let mut emu = EmulatorProcess::start(
        project.dir.path(),
        &project.fixture,
        &[
            "--faults",
            &faults,
            "--fault-seed",
            &seed_s,
            "--retry-after",
            &ra,
            "--lro-ms",
            "30",
            "--quirks",
            "all",
        ],
    );
    let started = Instant::now();
    let out = run_bounded(&emu.url, &["apply", &root, "--auto-approve"]);
    let apply_secs = started.elapsed().as_secs_f64();
    let t = text(&out);
    assert!(!t.contains("panicked"), "{ctx}: panic:\n{t}");
    let requests = emu.total_requests();
    let answers = fault_answers(&emu);
    assert_fault_injected(&kind, rate, answers, apply_secs, code(&out), &ctx);
    // Lower bound only: a Retry-After that was sent was waited for.
    if kind.retry_after > 0 && answers > 0 {
        assert!(
            apply_secs >= kind.retry_after as f64,
            "{ctx}: {answers} answers with Retry-After: {} but apply took {apply_secs:.2}s",
            kind.retry_after
        );
    }
    let outcome = if code(&out) == 0 {
        assert!(t.contains("Apply complete:"), "{ctx}: {t}");
        let plan = run_bounded(&emu.url, &["plan", &root, "--detailed-exitcode"]);
        assert_eq!(
            code(&plan),
            0,
            "{ctx}: plan after a successful apply:\n{}",
            text(&plan)
        );
        let live = emu.computes();
        assert!(
            !live.is_empty() && live.iter().all(|c| c.state == "Succeeded"),
            "{ctx}: {live:?}"
        );
        "converged; plan clean".to_string()
    } else {
        assert_eq!(code(&out), 1, "{ctx}: exit code:\n{t}");
        assert!(
            !kind.retryable,
            "{ctx}: retries should win against a transient fault, but apply failed:\n{t}"
        );
        // The failure names the operation outcome in plain words, per target.
        let word = if kind.fault == "lro-failed" {
            "operation Failed"
        } else {
            "operation Canceled"
        };
        assert!(
            t.contains("FAILED:") && t.contains(word) && t.contains("Apply finished with errors"),
            "{ctx}: unclear failure message:\n{t}"
        );
        let failed_targets = t.matches("FAILED:").count();
        let note = converge_after_restart(&mut emu, &project, &root, &ctx);
        format!("{failed_targets} target(s) FAILED (`{word}`); {note}; plan clean")
    };
    CellResult {
        label: kind.label.to_string(),
        rate,
        requests,
        fault_answers: answers,
        apply_code: code(&out),
        apply_secs,
        outcome,
    }
}

#[test]
fn fault_matrix_every_kind_and_rate_converges_or_fails_clearly() {
    matrix(|k| k.fault != "lro-canceled");
}

/// The lro-canceled column, apart because of a known bug (reported to the lead): a compute whose
/// create LRO ended `Canceled` is planned as up to date (a canceled compute instance as `wait`
/// forever), so nothing converges it and `apply` exits 0 anyway.
#[test]
fn fault_matrix_lro_canceled_converges_or_fails_clearly() {
    matrix(|k| k.fault == "lro-canceled");
}

fn matrix(select: fn(&Kind) -> bool) {
    let started = Instant::now();
    let mut jobs: Vec<Box<dyn FnOnce() -> CellResult + Send>> = Vec::new();
    let kinds: Vec<Kind> = KINDS.iter().copied().filter(select).collect();
    for (i, kind) in KINDS.iter().enumerate() {
        if !select(kind) {
            continue;
        }
        for (j, rate) in RATES.iter().enumerate() {
            let seed = 801 + (i * RATES.len() + j) as u64;
            let (kind, rate, s) = (*kind, *rate, seed);
            jobs.push(Box::new(move || cell(kind, rate, s)));
        }
    }
    // Cells are I/O bound (retry waits, LRO polling): a few at once keep 2 cores busy, not swamped.
    let results = run_parallel(jobs, 6);
    println!(
        "\n| fault | rate | requests | fault answers (429/5xx/reset) | apply exit | apply wall s | outcome |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut failures = Vec::new();
    for r in &results {
        match r {
            Ok(c) => println!(
                "| {} | {:.0}% | {} | {} | {} | {:.1} | {} |",
                c.label,
                c.rate * 100.0,
                c.requests,
                c.fault_answers,
                c.apply_code,
                c.apply_secs,
                c.outcome
            ),
            Err(e) => failures.push(e.clone()),
        }
    }
    println!(
        "\n{} cells, {} passed, wall {:.1}s",
        results.len(),
        results.len() - failures.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(results.len(), kinds.len() * RATES.len());
    assert!(
        failures.is_empty(),
        "{} cell(s) failed:\n{}",
        failures.len(),
        failures.join("\n---\n")
    );
}

/// When a fault never lets up, retries stop at the operation deadline with a clear message, and
/// nothing is half-applied: a later apply (faults off) converges.
#[test]
fn retries_exhausted_fail_clearly_then_converge() {
    let project = Project::example();
    let root = project.root.to_string_lossy().to_string();
    let mut emu = EmulatorProcess::start(
        project.dir.path(),
        &project.fixture,
        &["--faults", "503=1", "--retry-after", "0", "--lro-ms", "30"],
    );
    let started = Instant::now();
    let out = run_bounded(
        &emu.url,
        &["apply", &root, "--auto-approve", "--operation-timeout", "2"],
    );
    let t = text(&out);
    assert_eq!(code(&out), 1, "{t}");
    assert!(t.contains("gave up after 2s"), "{t}");
    assert!(t.contains("503"), "the last error is named: {t}");
    assert!(!t.contains("panicked"), "{t}");
    let attempts = emu.total_requests();
    assert!(attempts > 1, "it retried: {attempts} request(s)");
    assert!(
        emu.computes().is_empty(),
        "every request was refused: nothing exists"
    );
    println!(
        "retries exhausted: {attempts} attempts in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let note = converge_after_restart(&mut emu, &project, &root, "503 at 100%");
    println!("then: {note}");
}
