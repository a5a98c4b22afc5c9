//! The `amlctl` executor: carries out a [`Plan`] through the ARM client.
//!
//! Independent targets run concurrently (bounded), each target's steps run in order and wait for
//! their long-running operation. Secrets are resolved here only: every reference a run needs is
//! resolved before the first write ([`SecretResolver::prepare`]), held in memory, and registered
//! with the client when sent so no error message can echo them. A cancelled run starts no new
//! target but lets running operations finish. Every outcome is reported per target.
//!
//! Beside [`apply`]: [`live`] reads live state (one paged list per workspace), [`converge`]
//! plans again and applies what is left for targets that were busy, and [`import`] writes the
//! ownership tag onto an existing compute.

pub mod converge;
mod events;
pub mod import;
pub mod live;
mod readback;
mod secrets;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use amlctl_arm::{ArmClient, ArmError, ArmRequest};
use amlctl_manifest::LiveCompute;
use amlctl_plan::{Action, ActionKind, Plan, PlanEntry, Step};
use serde::Serialize;
use tokio::sync::{Semaphore, watch};

pub use converge::{Interrupted, MAX_ROUNDS, Replan, converge};
pub use events::{Event, EventKind, ProgressMode, Reporter};
pub use import::{import, import_plan, is_managed};
pub use live::{read_live, workspace_id};
pub use secrets::{KeyVaultClient, SecretResolver};

/// How to apply.
#[derive(Clone)]
pub struct ApplyOptions {
    /// Maximum targets in flight at once.
    pub parallelism: usize,
    /// Where progress goes.
    pub progress: ProgressMode,
    /// Flips to `true` when the user asks to stop (Ctrl-C, SIGTERM): no new target starts.
    pub cancel: watch::Receiver<bool>,
    /// Resolves secret references just before a request.
    pub secrets: SecretResolver,
    /// How often to poll a compute that is busy (a `wait` entry, or a 409 "in progress").
    pub poll_interval: Duration,
    /// Give up waiting for a busy compute after this long.
    pub wait_timeout: Duration,
    /// ARM coordinates of each workspace alias the plan names.
    pub workspaces: BTreeMap<String, amlctl_arm::WorkspaceId>,
}

/// How one target ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Every step succeeded (and a replace was verified).
    Succeeded,
    /// A step failed; the message is safe to print (secrets redacted).
    Failed {
        /// What went wrong, in one or more lines.
        message: String,
    },
    /// A busy compute reached a terminal state; planning again decides what is left.
    Waited {
        /// The provisioning state it reached (`Succeeded`, `Failed`, `gone`).
        state: String,
    },
    /// Not started because the run was cancelled.
    NotStarted,
}

/// One target's result.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    /// `workspace/name`.
    pub address: String,
    /// The actions the plan had for it.
    pub actions: Vec<Action>,
    /// How it ended.
    pub outcome: Outcome,
    /// Wall time spent on it.
    pub elapsed_ms: u128,
}

/// The result of a whole run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplyReport {
    /// Per target, in plan order.
    pub targets: Vec<TargetReport>,
    /// Computes created or attached.
    pub added: usize,
    /// Computes updated in place.
    pub changed: usize,
    /// Computes deleted or detached.
    pub destroyed: usize,
    /// Compute instances started.
    pub started: usize,
    /// Compute instances stopped.
    pub stopped: usize,
}

impl ApplyReport {
    /// True when some target failed or was not started.
    pub fn failed(&self) -> bool {
        self.targets
            .iter()
            .any(|t| matches!(t.outcome, Outcome::Failed { .. } | Outcome::NotStarted))
    }

    /// True when some target was a `wait` (the caller should plan again).
    pub fn waited(&self) -> bool {
        self.targets
            .iter()
            .any(|t| matches!(t.outcome, Outcome::Waited { .. }))
    }

    /// Targets that failed.
    pub fn failed_count(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed { .. }))
    }

    /// Targets not started because the run was cancelled.
    pub fn not_started_count(&self) -> usize {
        self.count(|o| matches!(o, Outcome::NotStarted))
    }

    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.targets.iter().filter(|t| f(&t.outcome)).count()
    }

    /// `Apply complete: X added, Y changed, Z destroyed.` with the non-zero starts and stops
    /// (`, 1 started, 1 stopped`); after a failure, the failed and not-started counts and what to
    /// do next.
    pub fn summary_line(&self) -> String {
        let verb = if self.failed() {
            "Apply finished with errors"
        } else {
            "Apply complete"
        };
        let mut line = format!(
            "{verb}: {} added, {} changed, {} destroyed",
            self.added, self.changed, self.destroyed
        );
        for (n, word) in [(self.started, "started"), (self.stopped, "stopped")] {
            if n > 0 {
                line.push_str(&format!(", {n} {word}"));
            }
        }
        line.push('.');
        let (failed, not_started) = (self.failed_count(), self.not_started_count());
        if failed > 0 || not_started > 0 {
            let mut parts = Vec::new();
            if failed > 0 {
                parts.push(format!("{failed} failed: see the errors above"));
            }
            if not_started > 0 {
                parts.push(format!("{not_started} not started (cancelled)"));
            }
            line.push_str(&format!(
                " {}; run `amlctl plan` to see what is left.",
                parts.join(", ")
            ));
        }
        line
    }

    /// Merges a later round (after waits) into this report.
    pub fn merge(&mut self, later: ApplyReport) {
        for t in later.targets {
            if let Some(existing) = self.targets.iter_mut().find(|e| e.address == t.address) {
                existing.actions.extend(t.actions.iter().copied());
                existing.outcome = t.outcome;
                existing.elapsed_ms += t.elapsed_ms;
            } else {
                self.targets.push(t);
            }
        }
        self.added += later.added;
        self.changed += later.changed;
        self.destroyed += later.destroyed;
        self.started += later.started;
        self.stopped += later.stopped;
    }
}

/// Entries of `plan` that have something to do.
pub fn actionable(plan: &Plan) -> impl Iterator<Item = &PlanEntry> {
    plan.entries
        .iter()
        .filter(|e| e.actions.iter().any(|a| *a != Action::NoOp))
}

/// Compares each actionable entry's recorded live fingerprint with the live state read now.
/// Returns the addresses that changed since the plan was made.
pub fn stale_entries(plan: &Plan, live: &BTreeMap<String, Vec<LiveCompute>>) -> Vec<String> {
    let mut stale = Vec::new();
    for entry in actionable(plan) {
        let now = live
            .get(&entry.workspace)
            .and_then(|computes| {
                computes
                    .iter()
                    .find(|c| c.name.eq_ignore_ascii_case(&entry.name))
            })
            .map(amlctl_plan::fingerprint);
        if now != entry.live_fingerprint {
            stale.push(entry.address.clone());
        }
    }
    stale
}

/// Carries out every actionable entry of `plan` (optionally only those in `only`).
pub async fn apply(
    plan: &Plan,
    client: &ArmClient,
    opts: &ApplyOptions,
    only: Option<&[String]>,
) -> ApplyReport {
    let reporter = Reporter::new(opts.progress);
    let semaphore = Arc::new(Semaphore::new(opts.parallelism.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut order = Vec::new();
    for entry in actionable(plan) {
        if let Some(only) = only
            && !only.iter().any(|a| a == &entry.address)
        {
            continue;
        }
        order.push(entry.address.clone());
        let entry = entry.clone();
        let client = client.clone();
        let opts = opts.clone();
        let reporter = reporter.clone();
        let semaphore = semaphore.clone();
        tasks.spawn(async move {
            // Wait for a slot, but give up at once when the run is cancelled.
            let mut cancel = opts.cancel.clone();
            let permit = tokio::select! {
                p = semaphore.acquire_owned() => p.ok(),
                _ = wait_cancelled(&mut cancel) => None,
            };
            if permit.is_none() || *opts.cancel.borrow() {
                return TargetReport {
                    address: entry.address.clone(),
                    actions: entry.actions.clone(),
                    outcome: Outcome::NotStarted,
                    elapsed_ms: 0,
                };
            }
            let started = Instant::now();
            let outcome = run_entry(&entry, &client, &opts, &reporter).await;
            drop(permit);
            TargetReport {
                address: entry.address.clone(),
                actions: entry.actions.clone(),
                outcome,
                elapsed_ms: started.elapsed().as_millis(),
            }
        });
    }
    let mut by_address = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(report) => {
                by_address.insert(report.address.clone(), report);
            }
            Err(e) => tracing::error!("an apply task ended abnormally: {e}"),
        }
    }
    reporter.finish();
    let mut report = ApplyReport::default();
    for address in order {
        let Some(t) = by_address.remove(&address) else {
            report.targets.push(TargetReport {
                address,
                actions: Vec::new(),
                outcome: Outcome::Failed {
                    message: "the task ended abnormally".to_string(),
                },
                elapsed_ms: 0,
            });
            continue;
        };
        if t.outcome == Outcome::Succeeded {
            for a in &t.actions {
                let kind = a.kind();
                report.added += usize::from(kind.adds());
                report.destroyed += usize::from(kind.destroys());
                match kind {
                    ActionKind::Change => report.changed += 1,
                    ActionKind::Start => report.started += 1,
                    ActionKind::Stop => report.stopped += 1,
                    _ => {}
                }
            }
        }
        report.targets.push(t);
    }
    report
}

async fn wait_cancelled(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow() {
            return;
        }
        if rx.changed().await.is_err() {
            // Sender gone: nobody can cancel any more.
            std::future::pending::<()>().await;
        }
    }
}

async fn run_entry(
    entry: &PlanEntry,
    client: &ArmClient,
    opts: &ApplyOptions,
    reporter: &Reporter,
) -> Outcome {
    if entry.actions.contains(&Action::Wait) {
        reporter.event(
            &entry.address,
            EventKind::Started,
            "waiting for the operation in progress",
        );
        return match wait_until_settled(client, entry, opts).await {
            Ok((state, _)) => {
                reporter.event(
                    &entry.address,
                    EventKind::Succeeded,
                    &format!("now {state}"),
                );
                Outcome::Waited { state }
            }
            Err(message) => {
                reporter.event(&entry.address, EventKind::Failed, &message);
                Outcome::Failed { message }
            }
        };
    }
    let label = entry
        .actions
        .iter()
        .filter(|a| **a != Action::NoOp)
        .map(|a| format!("{a:?}").to_lowercase())
        .collect::<Vec<_>>()
        .join("+");
    reporter.event(&entry.address, EventKind::Started, &label);
    let replacing = entry.actions.contains(&Action::Replace);
    let mut deleted = false;
    for step in &entry.steps {
        let result = if replacing && deleted && step.method == amlctl_plan::Method::Put {
            create_after_delete(step, entry, client, opts, reporter).await
        } else {
            run_step(step, entry, client, opts, reporter).await
        };
        match result {
            Ok(_) => {}
            Err(message) => {
                let message = if replacing && deleted {
                    stranded(entry, &message)
                } else {
                    message
                };
                reporter.event(&entry.address, EventKind::Failed, &message);
                return Outcome::Failed { message };
            }
        }
        if replacing && step.method == amlctl_plan::Method::Delete {
            deleted = true;
            // The DELETE's operation can report Succeeded while GET still finds the compute:
            // create only once GET says 404 (issue #14 rule 8).
            if let Err(message) = wait_until_gone(client, entry, opts, reporter).await {
                let message = stranded(entry, &message);
                reporter.event(&entry.address, EventKind::Failed, &message);
                return Outcome::Failed { message };
            }
        }
    }
    if readback::needs_readback(entry)
        && let Err(message) = readback::check(client, entry, opts, reporter).await
    {
        reporter.event(&entry.address, EventKind::Failed, &message);
        return Outcome::Failed { message };
    }
    reporter.event(&entry.address, EventKind::Succeeded, &label);
    Outcome::Succeeded
}

/// Sends one step, with secrets resolved. A 409 "operation in progress" (another apply, or the portal)
/// is waited out and the step sent once more.
async fn run_step(
    step: &Step,
    entry: &PlanEntry,
    client: &ArmClient,
    opts: &ApplyOptions,
    reporter: &Reporter,
) -> Result<Option<serde_json::Value>, String> {
    run_step_inner(step, entry, client, opts, reporter)
        .await
        .map_err(|e| match e {
            StepError::Arm(e) => describe(&e),
            StepError::Other(m) => m,
        })
}

/// One request, with secrets resolved and conflicts waited out; ARM errors are returned as
/// they are, so the caller can decide to retry.
async fn run_step_inner(
    step: &Step,
    entry: &PlanEntry,
    client: &ArmClient,
    opts: &ApplyOptions,
    reporter: &Reporter,
) -> Result<Option<serde_json::Value>, StepError> {
    let mut body = step.body.clone();
    if let Some(body) = body.as_mut() {
        for slot in &step.secrets {
            let value = opts
                .secrets
                .resolve(&slot.secret)
                .await
                .map_err(|e| StepError::Other(format!("{}: {e}", slot.describe())))?;
            client.register_secret(value.expose());
            match body.pointer_mut(&slot.pointer) {
                Some(target) => *target = serde_json::Value::String(value.expose().to_string()),
                None => {
                    return Err(StepError::Other(format!(
                        "internal error: secret slot {} is not in the request body",
                        slot.pointer
                    )));
                }
            }
        }
    }
    let request = ArmRequest {
        method: step.method,
        path: step.path.clone(),
        query: step.query.clone(),
        body,
    };
    reporter.event(
        &entry.address,
        EventKind::Progress,
        &format!("{} {}", step.method, short_path(&step.path)),
    );
    // A 409 "operation in progress" (another apply, the portal, a schedule) is waited out and the
    // step sent again, for as long as the wait timeout allows.
    // A 409 that no busy compute explains (e.g. a compute-instance name taken elsewhere in the
    // region) is not retried twice.
    let deadline = Instant::now() + opts.wait_timeout;
    let mut unexplained = 0;
    loop {
        match client.execute(&request).await {
            Ok(body) => return Ok(body),
            Err(e) if e.is_conflict() && Instant::now() < deadline && unexplained < 2 => {
                reporter.event(
                    &entry.address,
                    EventKind::Progress,
                    "another operation is already in progress on this compute; waiting for it",
                );
                let (_, was_busy) = wait_until_settled(client, entry, opts)
                    .await
                    .map_err(StepError::Other)?;
                if !was_busy {
                    unexplained += 1;
                }
            }
            Err(e) => return Err(StepError::Arm(e)),
        }
    }
}

/// The failure message of a replace that deleted (or detached) the compute but could not create
/// (or attach) it again: loud, with the exact command that recreates it.
fn stranded(entry: &PlanEntry, message: &str) -> String {
    let (gone, back) = if entry.compute_type.is_some_and(|c| c.is_attached()) {
        ("detached", "attach it again")
    } else {
        ("deleted", "create it again")
    };
    format!(
        "{message}\n  {} was {gone} but could not be recreated: it does not exist now. To {back}, run in the repository:\n    amlctl apply --target {}",
        entry.address, entry.address
    )
}

/// True for the service's "name not available" refusal of a create (HTTP 400, e.g. "Compute name
/// 'x' is not available. Reason: AlreadyExists"), which a name still held after a delete gives.
fn name_not_available(e: &ArmError) -> bool {
    e.status() == Some(400) && e.to_string().to_ascii_lowercase().contains("not available")
}

/// Polls GET until the compute is gone (404), within the wait timeout.
async fn wait_until_gone(
    client: &ArmClient,
    entry: &PlanEntry,
    opts: &ApplyOptions,
    reporter: &Reporter,
) -> Result<(), String> {
    let Some(ws) = opts.workspaces.get(&entry.workspace).cloned() else {
        return Err(format!(
            "workspace {} of {} is unknown",
            entry.workspace, entry.address
        ));
    };
    let deadline = Instant::now() + opts.wait_timeout;
    let mut said = false;
    loop {
        match client.get_compute(&ws, &entry.name).await {
            Ok(None) => return Ok(()),
            Ok(Some(_)) => {
                if Instant::now() >= deadline {
                    return Err(format!(
                        "{} still exists {}s after its delete finished",
                        entry.address,
                        opts.wait_timeout.as_secs()
                    ));
                }
                if !said {
                    reporter.event(
                        &entry.address,
                        EventKind::Progress,
                        "waiting until GET no longer finds the old compute",
                    );
                    said = true;
                }
            }
            Err(e) => return Err(describe(&e)),
        }
        tokio::time::sleep(opts.poll_interval).await;
    }
}

/// The create of a replace: a 400 "not available" (the name is still held after the delete) is
/// retried until the wait timeout.
async fn create_after_delete(
    step: &Step,
    entry: &PlanEntry,
    client: &ArmClient,
    opts: &ApplyOptions,
    reporter: &Reporter,
) -> Result<Option<serde_json::Value>, String> {
    let deadline = Instant::now() + opts.wait_timeout;
    let mut said = false;
    loop {
        match run_step_inner(step, entry, client, opts, reporter).await {
            Err(StepError::Arm(e)) if name_not_available(&e) && Instant::now() < deadline => {
                if !said {
                    reporter.event(
                        &entry.address,
                        EventKind::Progress,
                        "the service still holds the name after the delete; retrying the create",
                    );
                    said = true;
                }
                tokio::time::sleep(opts.poll_interval).await;
            }
            Err(StepError::Arm(e)) => return Err(describe(&e)),
            Err(StepError::Other(m)) => return Err(m),
            Ok(body) => return Ok(body),
        }
    }
}

/// Why one request failed.
enum StepError {
    /// ARM answered with an error.
    Arm(ArmError),
    /// Anything else (a secret that cannot be resolved, a conflict that did not clear).
    Other(String),
}

fn describe(e: &ArmError) -> String {
    let summary = e.summary();
    let full = e.to_string();
    if summary.is_empty() || full.contains(summary.trim()) {
        full
    } else {
        format!("{full}\n  {summary}")
    }
}

fn short_path(path: &str) -> &str {
    path.rfind("/workspaces/").map_or(path, |i| &path[i + 1..])
}

/// Polls the compute until its provisioning state is terminal (or it is gone). Returns that state
/// and whether the compute was busy when first read.
async fn wait_until_settled(
    client: &ArmClient,
    entry: &PlanEntry,
    opts: &ApplyOptions,
) -> Result<(String, bool), String> {
    let Some(ws) = opts.workspaces.get(&entry.workspace).cloned() else {
        return Err(format!(
            "workspace {} of {} is unknown",
            entry.workspace, entry.address
        ));
    };
    let deadline = Instant::now() + opts.wait_timeout;
    let mut busy = false;
    loop {
        match client.get_compute(&ws, &entry.name).await {
            Ok(None) => return Ok(("gone".to_string(), busy)),
            Ok(Some(body)) => {
                let state = body
                    .pointer("/properties/provisioningState")
                    .and_then(|s| s.as_str())
                    .unwrap_or("Succeeded")
                    .to_string();
                if matches!(state.as_str(), "Succeeded" | "Failed" | "Canceled") {
                    return Ok((state, busy));
                }
                busy = true;
                if Instant::now() >= deadline {
                    return Err(format!(
                        "{} is still {state} after {}s; check it with `amlctl plan` later",
                        entry.address,
                        opts.wait_timeout.as_secs()
                    ));
                }
            }
            Err(e) => return Err(describe(&e)),
        }
        tokio::time::sleep(opts.poll_interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(address: &str, actions: Vec<Action>, outcome: Outcome) -> TargetReport {
        TargetReport {
            address: address.to_string(),
            actions,
            outcome,
            elapsed_ms: 0,
        }
    }

    #[test]
    fn a_stop_is_counted_as_a_stop_not_a_change() {
        let report = ApplyReport {
            targets: vec![target("dev/ci", vec![Action::Stop], Outcome::Succeeded)],
            stopped: 1,
            ..ApplyReport::default()
        };
        assert_eq!(
            report.summary_line(),
            "Apply complete: 0 added, 0 changed, 0 destroyed, 1 stopped."
        );
    }

    #[test]
    fn a_failed_apply_says_how_many_failed_and_what_next() {
        let report = ApplyReport {
            targets: vec![
                target(
                    "dev/a",
                    vec![Action::Create],
                    Outcome::Failed {
                        message: "boom".into(),
                    },
                ),
                target("dev/b", vec![Action::Create], Outcome::NotStarted),
                target("dev/c", vec![Action::Start], Outcome::Succeeded),
            ],
            started: 1,
            ..ApplyReport::default()
        };
        assert_eq!(
            report.summary_line(),
            "Apply finished with errors: 0 added, 0 changed, 0 destroyed, 1 started. \
             1 failed: see the errors above, 1 not started (cancelled); \
             run `amlctl plan` to see what is left."
        );
    }
}
