//! `amlctl apply [PATH|PLANFILE]`.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Duration;

use amlctl_apply::{ApplyOptions, ApplyReport, Outcome, ProgressMode, SecretResolver};
use amlctl_manifest::Workspace;
use amlctl_plan::Plan;
use tokio::sync::watch;

use crate::args::{ArmArgs, Format, PlanArgs};
use crate::commands::{self, interactive};
use crate::context::{self, ProjectRef, Session};
use crate::output;

/// Everything `apply` was given.
pub struct ApplyArgs {
    /// Project folder or saved plan file.
    pub path: PathBuf,
    /// Filters and gates.
    pub plan: PlanArgs,
    /// ARM connection.
    pub arm: ArmArgs,
    /// Skip the confirmation prompt.
    pub auto_approve: bool,
    /// Saved plan: apply the unchanged targets, refuse the stale ones.
    pub partial: bool,
    /// text or json.
    pub format: Format,
    /// No colour.
    pub no_color: bool,
}

/// How many plan → apply rounds a run makes when targets had to be waited for.
const MAX_ROUNDS: usize = 4;

/// True when `path` is a saved plan file rather than a project.
fn is_plan_file(path: &Path) -> bool {
    if !path.is_file() {
        return false;
    }
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let mut first = String::new();
    let mut reader = std::io::BufReader::new(file);
    while first.trim().is_empty() {
        first.clear();
        match reader.read_line(&mut first) {
            Ok(0) | Err(_) => return false,
            Ok(_) => {}
        }
    }
    first.trim_start().starts_with('{')
}

/// Runs `apply`; returns the exit code.
pub async fn run(args: ApplyArgs) -> u8 {
    if is_plan_file(&args.path) {
        return apply_saved(&args).await;
    }
    let Ok((plan, project, workspaces, session)) =
        commands::make_plan(&args.path, &args.plan, &args.arm).await
    else {
        return 1;
    };
    let json = args.format == Format::Json;
    show_plan(&plan, &args);
    if !plan.errors.is_empty() {
        output::error("the plan has errors (above); nothing was applied");
        session.close().await;
        return 1;
    }
    if !plan.has_changes() {
        finish_line(&ApplyReport::default(), json);
        session.close().await;
        return 0;
    }
    if !confirm(&args) {
        session.close().await;
        return 1;
    }
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let signals = tokio::spawn(watch_signals(cancel_tx));
    let opts = apply_options(&args, &session, &workspaces, cancel_rx.clone());
    let mut report = amlctl_apply::apply(&plan, &session.client, &opts, None).await;
    // Targets that were busy (Creating/Updating/Deleting) were waited for: plan them again.
    let mut round = 1;
    while report.waited() && !*cancel_rx.borrow() && round < MAX_ROUNDS {
        round += 1;
        let waited: Vec<String> = report
            .targets
            .iter()
            .filter(|t| matches!(t.outcome, Outcome::Waited { .. }))
            .map(|t| t.address.clone())
            .collect();
        let mut ws = workspaces.clone();
        let aliases = waited
            .iter()
            .filter_map(|a| a.split('/').next().map(str::to_string))
            .collect();
        let live = match context::read_live(&session, &mut ws, &aliases).await {
            Ok(l) => l,
            Err(e) => {
                output::error(&format!("cannot read live state again: {e}"));
                break;
            }
        };
        // Only the --replace names of the targets planned again (another name would match no
        // selected target, which the planner rightly reports as an error).
        let replace = args
            .plan
            .replace
            .iter()
            .filter(|r| {
                waited.iter().any(|a| {
                    a == *r
                        || a.rsplit('/')
                            .next()
                            .is_some_and(|name| name.eq_ignore_ascii_case(r))
                })
            })
            .cloned()
            .collect();
        let opts_plan = amlctl_plan::PlanOptions {
            replace,
            targets: waited.clone(),
            workspaces: Vec::new(),
        };
        let next = amlctl_plan::plan(&project.targets, &ws, &live, &opts_plan);
        if !next.errors.is_empty() {
            show_plan(&next, &args);
            output::error("planning again after the wait found errors (above)");
            for t in report.targets.iter_mut() {
                if waited.contains(&t.address) {
                    t.outcome = Outcome::Failed {
                        message: "see the plan errors above".to_string(),
                    };
                }
            }
            break;
        }
        let later = amlctl_apply::apply(&next, &session.client, &opts, Some(&waited)).await;
        for t in report.targets.iter_mut() {
            if waited.contains(&t.address) && !later.targets.iter().any(|l| l.address == t.address)
            {
                // Nothing left to do for it: the wait was the whole job.
                t.outcome = Outcome::Succeeded;
            }
        }
        report.merge(later);
    }
    // Whatever is still only waited for has not converged: that is not a success.
    for t in report.targets.iter_mut() {
        if let Outcome::Waited { state } = &t.outcome {
            t.outcome = Outcome::Failed {
                message: format!(
                    "still not converged after {round} rounds (last seen {state}); run `amlctl plan` to see why"
                ),
            };
        }
    }
    signals.abort();
    session.close().await;
    print_report(&report, json);
    if report.failed() || *cancel_rx.borrow() {
        1
    } else {
        0
    }
}

fn show_plan(plan: &Plan, args: &ApplyArgs) {
    match args.format {
        Format::Json => {
            let line = serde_json::json!({"type": "plan", "plan": amlctl_plan::render::json(plan)});
            output::print_stdout(&line.to_string());
        }
        _ => commands::render_plan(plan, Format::Text, args.no_color),
    }
}

fn confirm(args: &ApplyArgs) -> bool {
    if args.auto_approve {
        return true;
    }
    if !interactive() {
        output::error("refusing to apply without a terminal to confirm on: pass --auto-approve");
        return false;
    }
    output::note("\nDo you want to perform these actions? Only 'yes' will be accepted.");
    eprint!("  Enter a value: ");
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() || answer.trim() != "yes" {
        output::error("apply cancelled: nothing was changed");
        return false;
    }
    true
}

fn apply_options(
    args: &ApplyArgs,
    session: &Session,
    workspaces: &BTreeMap<String, Workspace>,
    cancel: watch::Receiver<bool>,
) -> ApplyOptions {
    let progress = match args.format {
        Format::Json => ProgressMode::Json,
        _ if output::stderr_is_tty() => ProgressMode::Tty,
        _ => ProgressMode::Lines,
    };
    ApplyOptions {
        parallelism: session.parallelism,
        progress,
        cancel,
        secrets: if args.arm.sandbox {
            SecretResolver::sandbox()
        } else {
            SecretResolver::new(session.key_vault())
        },
        poll_interval: Duration::from_millis(args.arm.poll_interval_ms.clamp(1, 30_000)),
        wait_timeout: Duration::from_secs(args.arm.operation_timeout.max(1)),
        workspaces: workspaces
            .iter()
            .map(|(alias, ws)| (alias.clone(), context::workspace_id(ws)))
            .collect(),
    }
}

/// First Ctrl-C/SIGTERM: start nothing new, let running operations finish. Second: exit now.
async fn watch_signals(cancel: watch::Sender<bool>) {
    let mut count = 0;
    loop {
        wait_signal().await;
        count += 1;
        if count == 1 {
            let _ = cancel.send(true);
            output::note(
                "\nStopping: no new operation will start; running operations are finishing (signal again to exit now).",
            );
        } else {
            output::error(
                "exiting with operations still running in Azure; run `amlctl plan` to see where they stand (a busy compute shows as `wait`)",
            );
            std::process::exit(130);
        }
    }
}

async fn wait_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn print_report(report: &ApplyReport, json: bool) {
    if json {
        let line = serde_json::json!({
            "type": "summary",
            "targets": report.targets,
            "added": report.added,
            "changed": report.changed,
            "destroyed": report.destroyed,
            "failed": report.failed(),
        });
        output::print_stdout(&line.to_string());
        return;
    }
    let mut lines = Vec::new();
    for t in &report.targets {
        let what = match &t.outcome {
            Outcome::Succeeded => "ok".to_string(),
            Outcome::Failed { message } => format!("FAILED: {message}"),
            Outcome::Waited { state } => format!("waited: now {state}"),
            Outcome::NotStarted => "not started (stopped)".to_string(),
        };
        lines.push(format!("  {}: {what}", t.address));
    }
    if !lines.is_empty() {
        output::print_stdout(&format!("\nOutcome per target:\n{}", lines.join("\n")));
    }
    finish_line(report, false);
}

fn finish_line(report: &ApplyReport, json: bool) {
    if json {
        print_report(report, true);
    } else {
        output::print_stdout(&format!("\n{}", report.summary_line()));
    }
}

/// `amlctl apply PLANFILE`: re-read live state, refuse stale targets, apply the rest.
async fn apply_saved(args: &ApplyArgs) -> u8 {
    let plan = match Plan::load(&args.path) {
        Ok(p) => p,
        Err(e) => {
            output::error(&format!("{}: {e}", args.path.display()));
            return 1;
        }
    };
    let json = args.format == Format::Json;
    let root = plan.root.clone().unwrap_or_else(|| PathBuf::from("."));
    let mut workspaces = plan.workspaces.clone();
    // The defaults of the amlctl.yaml the plan was made from (endpoint, cloud, parallelism), when
    // it is still there; the plan's own workspaces are what is applied either way.
    let defaults = amlctl_manifest::load_config(&root)
        .map(|c| c.defaults)
        .unwrap_or_default();
    let project = ProjectRef {
        root: &root,
        arm_endpoint: defaults.arm_endpoint,
        parallelism: defaults.parallelism,
        cloud: defaults.cloud,
        workspaces: &workspaces.clone(),
        targets: &[],
    };
    let session = match context::connect(&project, &args.arm).await {
        Ok(s) => s,
        Err(e) => {
            output::error(&e);
            return 1;
        }
    };
    let aliases = amlctl_apply::actionable(&plan)
        .map(|e| e.workspace.clone())
        .collect();
    let live = match context::read_live(&session, &mut workspaces, &aliases).await {
        Ok(l) => l,
        Err(e) => {
            output::error(&format!("cannot read live state: {e}"));
            session.close().await;
            return 1;
        }
    };
    let stale = amlctl_apply::stale_entries(&plan, &live);
    for address in &stale {
        output::error(&format!(
            "stale plan: {address} changed since the plan was made; run plan again"
        ));
    }
    if !stale.is_empty() && !args.partial {
        output::error(
            "nothing was applied (use --partial to apply the targets that did not change)",
        );
        session.close().await;
        return 1;
    }
    show_plan(&plan, args);
    if !plan.errors.is_empty() {
        output::error("the saved plan has errors; nothing was applied");
        session.close().await;
        return 1;
    }
    if !confirm(args) {
        session.close().await;
        return 1;
    }
    let only: Vec<String> = amlctl_apply::actionable(&plan)
        .map(|e| e.address.clone())
        .filter(|a| !stale.contains(a))
        .collect();
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let signals = tokio::spawn(watch_signals(cancel_tx));
    let opts = apply_options(args, &session, &workspaces, cancel_rx.clone());
    let report = amlctl_apply::apply(&plan, &session.client, &opts, Some(&only)).await;
    signals.abort();
    session.close().await;
    print_report(&report, json);
    if report.failed() || !stale.is_empty() || *cancel_rx.borrow() {
        1
    } else {
        0
    }
}
