//! `amlctl apply [PATH|PLANFILE]`.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Duration;

use amlctl_apply::{ApplyOptions, ApplyReport, Outcome, ProgressMode, SecretResolver};
use amlctl_manifest::Workspace;
use amlctl_plan::render::escape;
use amlctl_plan::{Plan, PlanEntry, PlanFile};
use tokio::sync::watch;

use crate::args::{ArmArgs, Format, PlanArgs};
use crate::error::{CliError, CliResult, EXIT_INTERRUPTED, Exit};
use crate::output::{self, plural};
use crate::workflow::{self, Planned, Session};

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

/// Runs `apply` on a project folder or a saved plan file.
pub async fn run(args: ApplyArgs) -> CliResult<Exit> {
    if is_plan_file(&args.path) {
        return apply_saved(&args).await;
    }
    workflow::with_plan(
        &args.path,
        &args.plan,
        &args.arm,
        async |planned: Planned, session: &Session| {
            let Planned {
                plan,
                project,
                workspaces,
            } = planned;
            let json = args.format == Format::Json;
            show_plan(&plan, &args);
            if !plan.errors.is_empty() {
                return Err(CliError::new(
                    "the plan has errors (above); nothing was applied",
                ));
            }
            if !plan.has_changes() {
                finish_line(&ApplyReport::default(), json);
                return Ok(Exit::Ok);
            }
            let secrets =
                prepare_secrets(&args, &project.config.root, session, &plan, None).await?;
            confirm(&args)?;
            let (cancel_tx, cancel_rx) = watch::channel(false);
            let signals = tokio::spawn(watch_signals(cancel_tx));
            let opts = apply_options(&args, session, &workspaces, cancel_rx.clone(), secrets);
            let replan = amlctl_apply::Replan {
                targets: &project.targets,
                workspaces: &workspaces,
                replace: &args.plan.replace,
                root: Some(&project.config.root),
                scope: project.scope.as_deref(),
            };
            let (report, interrupted) =
                amlctl_apply::converge(&plan, &session.client, &opts, &replan).await;
            match interrupted {
                Some(amlctl_apply::Interrupted::LiveState(e)) => {
                    output::error(&format!("cannot read live state again: {e}"));
                }
                Some(amlctl_apply::Interrupted::PlanErrors(next)) => {
                    show_plan(&next, &args);
                    output::error("planning again after the wait found errors (above)");
                }
                None => {}
            }
            signals.abort();
            print_report(&report, json);
            if report.failed() || *cancel_rx.borrow() {
                Err(CliError::reported())
            } else {
                Ok(Exit::Ok)
            }
        },
    )
    .await
}

fn show_plan(plan: &Plan, args: &ApplyArgs) {
    match args.format {
        Format::Json => {
            let line = serde_json::json!({"type": "plan", "plan": amlctl_plan::render::json(plan)});
            output::print_stdout(&line.to_string());
        }
        _ => output::render_plan(plan, Format::Text, args.no_color),
    }
}

/// Asks for `yes` on the terminal unless `--auto-approve`; an error when not confirmed.
fn confirm(args: &ApplyArgs) -> CliResult<()> {
    if args.auto_approve {
        return Ok(());
    }
    if !output::interactive() {
        return Err(CliError::new(
            "refusing to apply without a terminal to confirm on: pass --auto-approve",
        ));
    }
    output::note("\nDo you want to perform these actions? Only 'yes' will be accepted.");
    eprint!("  Enter a value: ");
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() || answer.trim() != "yes" {
        return Err(CliError::new("apply cancelled: nothing was changed"));
    }
    Ok(())
}

/// Resolves every secret the plan needs before anything is written; prints one line per
/// failing reference (manifest and key, never a value) and fails when any failed.
async fn prepare_secrets(
    args: &ApplyArgs,
    root: &Path,
    session: &Session,
    plan: &Plan,
    only: Option<&[String]>,
) -> CliResult<SecretResolver> {
    let resolver = workflow::secret_resolver(
        &args.arm,
        session,
        (!args.plan.allow_outside_repo).then(|| root.to_path_buf()),
    );
    resolver.prepare(plan, only).await.map_err(|lines| {
        for line in &lines {
            output::error(line);
        }
        CliError::new(format!(
            "{} secret{} could not be read; nothing was applied (set them, then run apply again)",
            lines.len(),
            plural(lines.len())
        ))
    })
}

fn apply_options(
    args: &ApplyArgs,
    session: &Session,
    workspaces: &BTreeMap<String, Workspace>,
    cancel: watch::Receiver<bool>,
    secrets: SecretResolver,
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
        secrets,
        poll_interval: Duration::from_millis(args.arm.poll_interval_ms.clamp(1, 30_000)),
        wait_timeout: Duration::from_secs(args.arm.operation_timeout.max(1)),
        workspaces: workflow::workspace_ids(workspaces),
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
            std::process::exit(EXIT_INTERRUPTED);
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
            "started": report.started,
            "stopped": report.stopped,
            "failed": report.failed(),
            "failed_count": report.failed_count(),
            "not_started_count": report.not_started_count(),
        });
        output::print_stdout(&line.to_string());
        return;
    }
    let mut lines = Vec::new();
    for t in &report.targets {
        let what = match &t.outcome {
            Outcome::Succeeded => "ok".to_string(),
            Outcome::Failed { message } => format!("FAILED: {}", escape_lines(message)),
            Outcome::Waited { state } => format!("waited: now {}", escape(state)),
            Outcome::NotStarted => "not started (stopped)".to_string(),
        };
        lines.push(format!("  {}: {what}", escape(&t.address)));
    }
    if !lines.is_empty() {
        output::print_stdout(&format!("\nOutcome per target:\n{}", lines.join("\n")));
    }
    finish_line(report, false);
}

/// A multi-line service message, each line [`escape`]d (so `\r`, ANSI escapes and bidi
/// overrides are shown, not obeyed) and the following lines indented under the first.
fn escape_lines(message: &str) -> String {
    message
        .split('\n')
        .map(|l| escape(l).into_owned())
        .collect::<Vec<_>>()
        .join("\n      ")
}

fn finish_line(report: &ApplyReport, json: bool) {
    if json {
        print_report(report, true);
    } else {
        output::print_stdout(&format!("\n{}", report.summary_line()));
    }
}

/// True when the filter `f` (a name or `alias/name`) names the entry `alias/name`.
fn filter_names(f: &str, alias: &str, name: &str) -> bool {
    amlctl_vocab::Address::new(alias, name).is_named_by(f)
}

/// A scope recorded in a plan file, checked: relative, no `..`, no root or prefix.
fn safe_scope(scope: &str) -> Option<PathBuf> {
    let p = Path::new(scope);
    p.components()
        .all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
        .then(|| p.to_path_buf())
}

/// `amlctl apply PLANFILE`. The file is data, not a program: the repository is found from the
/// current directory, its manifests and live state are planned again with the file's options,
/// and an entry is carried out only when the fresh plan gives exactly the same entry; then the
/// freshly computed requests are sent (never a path, method, query or secret slot from the file).
async fn apply_saved(args: &ApplyArgs) -> CliResult<Exit> {
    let shown = args.path.display().to_string();
    let file = PlanFile::load(&args.path).map_err(|e| CliError::new(format!("{shown}: {e}")))?;
    let (Some(options), Some(digest)) = (file.options.clone(), file.repo_digest.clone()) else {
        return Err(CliError::new(format!(
            "{shown} was saved by an older amlctl and is not bound to a state of the repository; run `amlctl plan --out {shown}` again"
        )));
    };
    check_replace_flags(&shown, &options.replace, &args.plan.replace)?;
    let Some(scope) = safe_scope(&options.scope) else {
        return Err(CliError::new(format!(
            "{shown}: the recorded scope {:?} is not a folder inside the repository; run plan again",
            options.scope
        )));
    };
    // The repository comes from the current directory, never from the file.
    let config = amlctl_manifest::load_config(Path::new(".")).map_err(|diags| {
        output::print_diagnostics(&diags);
        CliError::new(
            "`amlctl apply PLANFILE` reads amlctl.yaml and the manifests from the current directory: run it inside the repository the plan was made from",
        )
    })?;
    workflow::check_workspaces(&config, &args.plan.workspaces)?;
    let problems = file.check(&config.workspaces);
    let saved = &file.plan;
    if !problems.is_empty() {
        return Err(CliError::new(format!(
            "{shown} fails the plan check; nothing was applied:\n  {}",
            problems.join("\n  ")
        )));
    }
    if !saved.errors.is_empty() {
        show_plan(saved, args);
        return Err(CliError::new(
            "the saved plan has errors; nothing was applied",
        ));
    }
    let project_path = if scope.as_os_str().is_empty() {
        config.path.clone()
    } else {
        config.root.join(&scope)
    };
    // Bind the file to the repository state before anything reaches the network.
    let load_opts = amlctl_manifest::LoadOptions {
        strict: options.strict,
        allow_outside_repo: args.plan.allow_outside_repo,
    };
    let project = workflow::load_with(&project_path, &load_opts)?;
    if workflow::repo_digest(&project)? != digest {
        return Err(CliError::new(format!(
            "this plan was made from a different state of the repository: amlctl.yaml or a manifest under {} changed since {shown} was saved; run plan again",
            project.config.root.display()
        )));
    }
    let selected = select_saved(saved, args, &shown)?;
    let plan_args = PlanArgs {
        targets: options.targets.clone(),
        workspaces: options.workspaces.clone(),
        replace: options.replace.clone(),
        strict: options.strict,
        allow_outside_repo: args.plan.allow_outside_repo,
        no_preflight: args.plan.no_preflight,
    };
    let root = &project.config.root;
    workflow::with_plan(
        &project_path,
        &plan_args,
        &args.arm,
        async |planned: Planned, session: &Session| {
            apply_fresh(args, &selected, root, planned, session).await
        },
    )
    .await
}

/// The `--replace` flags of this apply must be exactly those the plan file was made with.
fn check_replace_flags(shown: &str, saved: &[String], given: &[String]) -> CliResult<()> {
    // A plan file cannot grant a replacement: whoever can edit the artifact could otherwise add
    // `--replace NAME` for any compute. The replacements it was made with must be asked for again
    // on the apply command line (which a pull request does not control), name for name.
    let saved_replace: std::collections::BTreeSet<&str> =
        saved.iter().map(String::as_str).collect();
    let given_replace: std::collections::BTreeSet<&str> =
        given.iter().map(String::as_str).collect();
    if saved_replace != given_replace {
        let flags = |set: &std::collections::BTreeSet<&str>| {
            if set.is_empty() {
                "no --replace".to_string()
            } else {
                set.iter()
                    .map(|n| format!("--replace {n}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
        };
        return Err(CliError::new(format!(
            "{shown} was made with {}, but this apply gives {}: a plan file cannot grant a replacement; apply it with exactly the --replace flags it was planned with, or run plan again",
            flags(&saved_replace),
            flags(&given_replace)
        )));
    }
    Ok(())
}

/// The actionable entries of the saved plan that this apply's `--workspace`/`--target` filters
/// select; a filter that selects nothing is an error.
fn select_saved<'a>(
    saved: &'a Plan,
    args: &ApplyArgs,
    shown: &str,
) -> CliResult<Vec<&'a PlanEntry>> {
    // Apply-time filters select among the saved entries; each must select something.
    let selected: Vec<&'a PlanEntry> = amlctl_apply::actionable(saved)
        .filter(|e| {
            (args.plan.workspaces.is_empty() || args.plan.workspaces.contains(&e.workspace))
                && (args.plan.targets.is_empty()
                    || args
                        .plan
                        .targets
                        .iter()
                        .any(|f| filter_names(f, &e.workspace, &e.name)))
        })
        .collect();
    let mut unmatched = Vec::new();
    for f in &args.plan.targets {
        if !selected
            .iter()
            .any(|e| filter_names(f, &e.workspace, &e.name))
        {
            unmatched.push(format!("--target {f}"));
        }
    }
    for w in &args.plan.workspaces {
        if !selected.iter().any(|e| &e.workspace == w) {
            unmatched.push(format!("--workspace {w}"));
        }
    }
    if !unmatched.is_empty() {
        return Err(CliError::new(format!(
            "{} match{} no entry of {shown} with changes (together with the other filters); nothing was applied",
            unmatched.join(", "),
            if unmatched.len() == 1 { "es" } else { "" }
        )));
    }
    Ok(selected)
}

/// Carries out the fresh plan's entries that equal the selected saved ones (a stale entry stops
/// everything unless `--partial`), after secrets and confirmation.
async fn apply_fresh(
    args: &ApplyArgs,
    selected: &[&PlanEntry],
    root: &Path,
    planned: Planned,
    session: &Session,
) -> CliResult<Exit> {
    let json = args.format == Format::Json;
    let Planned {
        plan: fresh,
        workspaces,
        ..
    } = planned;
    if !fresh.errors.is_empty() {
        show_plan(&fresh, args);
        return Err(CliError::new(
            "planning again from the manifests and live state gives errors (above); nothing was applied; run plan again",
        ));
    }
    let mut stale = Vec::new();
    let mut run_entries = Vec::new();
    for entry in selected {
        match fresh.entries.iter().find(|f| f.address == entry.address) {
            Some(f) if f.same_effect(entry) => run_entries.push(f.clone()),
            _ => stale.push(entry.address.clone()),
        }
    }
    for address in &stale {
        output::error(&format!(
            "stale plan: {address} differs from what the manifests and live state give now; run plan again"
        ));
    }
    if !stale.is_empty() && !args.partial {
        return Err(CliError::new(
            "nothing was applied (use --partial to apply the targets that did not change)",
        ));
    }
    // Only fresh entries the saved plan has, equal to them, are carried out.
    let mut to_run = fresh.clone();
    to_run.entries = run_entries;
    to_run.unmanaged.clear();
    show_plan(&to_run, args);
    if !to_run.has_changes() {
        print_report(&ApplyReport::default(), json);
        return if stale.is_empty() {
            Ok(Exit::Ok)
        } else {
            Err(CliError::reported())
        };
    }
    let only: Vec<String> = to_run.entries.iter().map(|e| e.address.clone()).collect();
    let secrets = prepare_secrets(args, root, session, &to_run, Some(&only)).await?;
    confirm(args)?;
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let signals = tokio::spawn(watch_signals(cancel_tx));
    let opts = apply_options(args, session, &workspaces, cancel_rx.clone(), secrets);
    let report = amlctl_apply::apply(&to_run, &session.client, &opts, Some(&only)).await;
    signals.abort();
    print_report(&report, json);
    if report.failed() || !stale.is_empty() || *cancel_rx.borrow() {
        Err(CliError::reported())
    } else {
        Ok(Exit::Ok)
    }
}
