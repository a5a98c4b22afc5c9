//! One function per command. Each returns the process exit code.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use amlctl_manifest::{Config, Diagnostic, LiveCompute, LoadOptions, Project, Severity, Workspace};
use amlctl_plan::{Plan, PlanOptions, SavedOptions};

use crate::args::{ArmArgs, Cli, Command, EmulatorCommand, Format, PlanArgs, ServeArgs};
use crate::context::{self, Session};
use crate::output;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> u8 {
    let no_color = cli.global.no_color;
    match cli.command {
        Command::Validate {
            path,
            strict,
            allow_outside_repo,
        } => validate(
            &path,
            &LoadOptions {
                strict,
                allow_outside_repo,
            },
        ),
        Command::Render {
            files,
            subscription_id,
            resource_group,
            workspace,
            location,
            strict,
        } => {
            let ws = Workspace {
                alias: "default".to_string(),
                subscription_id,
                resource_group,
                workspace,
                location,
                prune: false,
            };
            render(&files, &ws, strict)
        }
        Command::Schema { config } => {
            let schema = if config {
                amlctl_manifest::config_schema()
            } else {
                amlctl_manifest::compute_schema()
            };
            print_json(&schema);
            0
        }
        Command::Plan {
            path,
            plan,
            arm,
            format,
            out,
            detailed_exitcode,
        } => {
            let code = plan_command(&path, &plan, &arm, format, out.as_deref(), no_color).await;
            match (code, detailed_exitcode) {
                (PlanExit::Error, _) => 1,
                (PlanExit::Changes, true) => 2,
                _ => 0,
            }
        }
        Command::Apply {
            path,
            plan,
            arm,
            auto_approve,
            partial,
            format,
        } => {
            let opts = crate::apply_cmd::ApplyArgs {
                path,
                plan,
                arm,
                auto_approve,
                partial,
                format: format.into(),
                no_color,
            };
            crate::apply_cmd::run(opts).await
        }
        Command::Show { file, format } => show(&file, format, no_color),
        Command::Export {
            path,
            path_flag,
            workspace,
            out,
            force,
            include_declared,
            arm,
        } => {
            let path = path_flag.or(path).unwrap_or_else(|| PathBuf::from("."));
            let opts = crate::export_cmd::ExportOptions {
                workspace: workspace.as_deref(),
                out: out.as_deref(),
                force,
                include_declared,
            };
            crate::export_cmd::run(&path, &opts, &arm).await
        }
        Command::Import {
            name,
            path,
            path_flag,
            arm,
        } => {
            let path = path_flag.or(path).unwrap_or_else(|| PathBuf::from("."));
            crate::import_cmd::run(&path, &name, &arm).await
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, "amlctl", &mut buf);
            write_stdout_bytes(&buf)
        }
        Command::Man { out } => man(out.as_deref()),
        Command::Emulator {
            command: EmulatorCommand::Serve(args),
        } => serve(args).await,
    }
}

/// Writes `bytes` to stdout through [`output::write_stdout`]: a closed stdout (`amlctl man |
/// head`) is not an error; any other write error is reported there and exits 1.
fn write_stdout_bytes(bytes: &[u8]) -> u8 {
    output::write_stdout(bytes);
    u8::from(output::stdout_failed())
}

/// `amlctl man [--out DIR]`: the man page on stdout, or one page per command in DIR (the main
/// page refers to `amlctl-COMMAND(1)` pages, which `--out` writes).
fn man(out: Option<&Path>) -> u8 {
    let cmd = <Cli as clap::CommandFactory>::command();
    let Some(dir) = out else {
        let mut buf = Vec::new();
        if let Err(e) = clap_mangen::Man::new(cmd).render(&mut buf) {
            output::error(&format!("cannot render the man page: {e}"));
            return 1;
        }
        return write_stdout_bytes(&buf);
    };
    if let Err(e) = std::fs::create_dir_all(dir) {
        output::error(&format!("cannot create {}: {e}", dir.display()));
        return 1;
    }
    match clap_mangen::generate_to(cmd, dir) {
        Ok(()) => {
            output::note(&format!("wrote the man pages to {}", dir.display()));
            0
        }
        Err(e) => {
            output::error(&format!(
                "cannot write the man pages to {}: {e}",
                dir.display()
            ));
            1
        }
    }
}

/// Prints diagnostics on stderr, errors last, and returns how many were errors.
pub fn print_diagnostics(diags: &[Diagnostic]) -> usize {
    let mut errors = 0;
    let mut sorted: Vec<&Diagnostic> = diags.iter().collect();
    sorted.sort_by_key(|d| matches!(d.severity, Severity::Error));
    let mut err = anstream::stderr();
    for d in sorted {
        if matches!(d.severity, Severity::Error) {
            errors += 1;
        }
        let _ = writeln!(err, "{d}");
    }
    errors
}

/// Loads the project at `path`, printing every diagnostic; `None` when it has errors.
pub fn load(path: &Path, strict: bool) -> Option<Project> {
    load_with(
        path,
        &LoadOptions {
            strict,
            ..Default::default()
        },
    )
}

/// [`load`] with every load option.
pub fn load_with(path: &Path, opts: &LoadOptions) -> Option<Project> {
    report_load(amlctl_manifest::load_project(path, opts))
}

/// The load options a plan or apply run asked for.
pub fn load_options(plan_args: &PlanArgs) -> LoadOptions {
    LoadOptions {
        strict: plan_args.strict,
        allow_outside_repo: plan_args.allow_outside_repo,
    }
}

/// Prints the diagnostics of a load; the project when it has no errors.
fn report_load(loaded: Result<Project, Vec<Diagnostic>>) -> Option<Project> {
    match loaded {
        Ok(project) => {
            print_diagnostics(&project.diagnostics);
            Some(project)
        }
        Err(diags) => {
            let n = print_diagnostics(&diags);
            output::error(&format!(
                "{n} error{} in the manifests; nothing was done",
                plural(n)
            ));
            None
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn validate(path: &Path, opts: &LoadOptions) -> u8 {
    let Some(project) = load_with(path, opts) else {
        return 1;
    };
    let workspaces: BTreeSet<&str> = project
        .targets
        .iter()
        .map(|t| t.workspace.as_str())
        .collect();
    let warnings = project.diagnostics.len();
    output::print_stdout(&format!(
        "valid: {} compute target{} in {} workspace{} ({} warning{})",
        project.targets.len(),
        plural(project.targets.len()),
        workspaces.len(),
        plural(workspaces.len()),
        warnings,
        plural(warnings)
    ));
    0
}

fn render(files: &[PathBuf], ws: &Workspace, strict: bool) -> u8 {
    let targets = match amlctl_manifest::load_files(
        files,
        ws,
        &LoadOptions {
            strict,
            ..Default::default()
        },
    ) {
        Ok((targets, warnings)) => {
            print_diagnostics(&warnings);
            targets
        }
        Err(diags) => {
            let n = print_diagnostics(&diags);
            output::error(&format!("{n} error{} in the manifests", plural(n)));
            return 1;
        }
    };
    let requests: Vec<serde_json::Value> = targets
        .iter()
        .map(|t| {
            let arm = t.to_arm(ws);
            serde_json::json!({
                "method": "PUT",
                "path": ws.compute_path(&t.name),
                "query": { "api-version": arm.api_version },
                "body": arm.body,
            })
        })
        .collect();
    print_json(&serde_json::Value::Array(requests));
    0
}

fn print_json(value: &serde_json::Value) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => output::print_stdout(&text),
        Err(e) => output::error(&format!("cannot print JSON: {e}")),
    }
}

/// True when `alias` is a workspace of the project; otherwise prints an error naming the known ones.
pub fn check_workspace(config: &Config, alias: &str) -> bool {
    if config.workspaces.contains_key(alias) {
        return true;
    }
    let known: Vec<&str> = config.workspaces.keys().map(String::as_str).collect();
    let suggestion = amlctl_manifest::diag::did_you_mean(alias, known.iter().copied())
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default();
    output::error(&format!(
        "--workspace {alias}: no such workspace in {} (known: {}){suggestion}",
        config.path.display(),
        known.join(", ")
    ));
    false
}

/// How a plan ended, for `--detailed-exitcode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanExit {
    /// Live state matches the manifests.
    NoChanges,
    /// The plan has changes.
    Changes,
    /// Something failed (load, ARM, or a plan error such as a gated replace).
    Error,
}

/// Plans: load, connect, read live state, diff. Prints diagnostics; returns the plan and session.
pub async fn make_plan(
    path: &Path,
    plan_args: &PlanArgs,
    arm: &ArmArgs,
) -> Result<(Plan, Project, BTreeMap<String, Workspace>, Session), ()> {
    let (project, session, workspaces, live) = if arm.sandbox {
        // The sandbox creates the resources the manifests attach: it needs them loaded first.
        let Some(project) = load_with(path, &load_options(plan_args)) else {
            return Err(());
        };
        if !plan_args
            .workspaces
            .iter()
            .all(|ws| check_workspace(&project.config, ws))
        {
            return Err(());
        }
        let session = match context::connect(&context::ProjectRef::of(&project), arm).await {
            Ok(s) => s,
            Err(e) => {
                output::error(&e);
                return Err(());
            }
        };
        let (workspaces, live) = read_selected(&session, &project.config, plan_args).await;
        (project, session, workspaces, live)
    } else {
        // amlctl.yaml names the workspaces: read their live state while the manifests load.
        let config = match amlctl_manifest::load_config(path) {
            Ok(c) => c,
            Err(diags) => {
                print_diagnostics(&diags);
                return Err(());
            }
        };
        if !plan_args
            .workspaces
            .iter()
            .all(|ws| check_workspace(&config, ws))
        {
            return Err(());
        }
        let owned = path.to_path_buf();
        let opts = load_options(plan_args);
        let loading =
            tokio::task::spawn_blocking(move || amlctl_manifest::load_project(&owned, &opts));
        let network = async {
            let project_ref = context::ProjectRef {
                root: &config.root,
                arm_endpoint: config.defaults.arm_endpoint.clone(),
                parallelism: config.defaults.parallelism,
                cloud: config.defaults.cloud.clone(),
                workspaces: &config.workspaces,
                targets: &[],
            };
            let session = context::connect(&project_ref, arm).await?;
            let (workspaces, live) = read_selected(&session, &config, plan_args).await;
            Ok::<_, String>((session, workspaces, live))
        };
        let (loaded, network) = tokio::join!(loading, network);
        let loaded = match loaded {
            Ok(l) => l,
            Err(e) => {
                output::error(&format!("loading the manifests failed: {e}"));
                return Err(());
            }
        };
        // Manifest errors come first: they are the user's to fix, whatever the network said.
        let Some(project) = report_load(loaded) else {
            if let Ok((session, _, _)) = network {
                session.close().await;
            }
            return Err(());
        };
        match network {
            Ok((session, workspaces, live)) => (project, session, workspaces, live),
            Err(e) => {
                output::error(&e);
                return Err(());
            }
        }
    };
    let live = match live {
        Ok(live) => live,
        Err(e) => {
            output::error(&format!("cannot read live state:\n{e}"));
            session.close().await;
            return Err(());
        }
    };
    let opts = PlanOptions {
        replace: plan_args.replace.iter().cloned().collect(),
        targets: plan_args.targets.clone(),
        workspaces: plan_args.workspaces.clone(),
        root: Some(project.config.root.clone()),
        scope: project.scope.clone(),
    };
    let plan = amlctl_plan::plan(&project.targets, &workspaces, &live, &opts);
    Ok((plan, project, workspaces, session))
}

/// Live state of the workspaces `plan_args` selects (all by default), with their locations.
async fn read_selected(
    session: &Session,
    config: &Config,
    plan_args: &PlanArgs,
) -> (
    BTreeMap<String, Workspace>,
    Result<BTreeMap<String, Vec<LiveCompute>>, String>,
) {
    let mut workspaces = config.workspaces.clone();
    let aliases: BTreeSet<String> = workspaces
        .keys()
        .filter(|a| plan_args.workspaces.is_empty() || plan_args.workspaces.contains(a))
        .cloned()
        .collect();
    let live = amlctl_apply::read_live(&session.client, &mut workspaces, &aliases).await;
    (workspaces, live)
}

/// Renders a plan in the requested format to stdout.
pub fn render_plan(plan: &Plan, format: Format, no_color: bool) {
    match format {
        Format::Text => output::print_stdout(&amlctl_plan::render::text(
            plan,
            output::stdout_color(no_color),
        )),
        Format::Markdown => {
            let chunks = amlctl_plan::render::markdown(plan);
            output::print_stdout(&chunks.join("\n\n<!-- amlctl: next chunk -->\n\n"));
        }
        Format::Json => print_json(&amlctl_plan::render::json(plan)),
    }
}

/// Appends the markdown rendering to `$GITHUB_STEP_SUMMARY` when it is set.
fn append_step_summary(plan: &Plan) {
    let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY") else {
        return;
    };
    let text = amlctl_plan::render::markdown(plan).join("\n\n");
    let result = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(format!("{text}\n").as_bytes()));
    if let Err(e) = result {
        output::warning(&format!(
            "cannot append the plan to GITHUB_STEP_SUMMARY ({}): {e}",
            PathBuf::from(path).display()
        ));
    }
}

async fn plan_command(
    path: &Path,
    plan_args: &PlanArgs,
    arm: &ArmArgs,
    format: Format,
    out: Option<&Path>,
    no_color: bool,
) -> PlanExit {
    if let Some(out) = out
        && let Err(e) = check_plan_out(out)
    {
        output::error(&e);
        return PlanExit::Error;
    }
    let Ok((mut plan, project, workspaces, session)) = make_plan(path, plan_args, arm).await else {
        return PlanExit::Error;
    };
    // Informational only: `apply PLANFILE` finds the repository from the current directory and
    // takes the workspaces from its amlctl.yaml, never from these.
    plan.root = Some(project.config.root.clone());
    plan.workspaces = workspaces;
    plan.options = Some(SavedOptions {
        replace: plan_args.replace.clone(),
        targets: plan_args.targets.clone(),
        workspaces: plan_args.workspaces.clone(),
        scope: scope_of(path, &project.config),
        strict: plan_args.strict,
    });
    session.close().await;
    render_plan(&plan, format, no_color);
    append_step_summary(&plan);
    if let Some(out) = out {
        match repo_digest(&project) {
            Ok(d) => plan.repo_digest = Some(d),
            Err(e) => {
                output::error(&e);
                return PlanExit::Error;
            }
        }
        let problems = plan.check(&project.config.workspaces);
        if !problems.is_empty() {
            output::error(&format!(
                "the plan fails its own safety check, so it was not saved:\n  {}",
                problems.join("\n  ")
            ));
            return PlanExit::Error;
        }
        if let Err(e) = plan.save(out) {
            output::error(&format!("cannot save the plan to {}: {e}", out.display()));
            return PlanExit::Error;
        }
        if plan.errors.is_empty() && plan.has_changes() {
            output::note(&format!(
                "Saved the plan to {}. Apply it with: amlctl apply {}{} (from inside the repository)",
                out.display(),
                out.display(),
                apply_flags(arm)
            ));
        } else {
            output::note(&format!("Saved the plan to {}.", out.display()));
        }
    }
    if !plan.errors.is_empty() {
        PlanExit::Error
    } else if plan.has_changes() {
        PlanExit::Changes
    } else {
        PlanExit::NoChanges
    }
}

/// The connection flags `apply PLANFILE` needs to reach the same ARM as this `plan` did.
fn apply_flags(arm: &ArmArgs) -> String {
    let mut flags = String::new();
    if arm.sandbox {
        flags.push_str(" --sandbox");
        return flags;
    }
    if let Some(url) = &arm.arm_endpoint {
        flags.push_str(&format!(" --arm-endpoint {url}"));
    }
    if let Some(cloud) = &arm.cloud {
        flags.push_str(&format!(" --cloud {cloud}"));
    }
    if arm.auth != "auto" {
        flags.push_str(&format!(" --auth {}", arm.auth));
    }
    flags
}

/// Refuses `--out FILE` when FILE is an existing regular file that is not a plan file (it would
/// be lost: `--out amlctl.yaml`). Devices and pipes (`/dev/stdout`) are written as given.
fn check_plan_out(out: &Path) -> Result<(), String> {
    let Ok(meta) = std::fs::symlink_metadata(out) else {
        return Ok(());
    };
    let meta = if meta.file_type().is_symlink() {
        match std::fs::metadata(out) {
            Ok(m) => m,
            Err(_) => return Ok(()),
        }
    } else {
        meta
    };
    if meta.is_dir() {
        return Err(format!(
            "--out {}: is a directory; name a file for the plan",
            out.display()
        ));
    }
    if !meta.is_file() || is_plan_text(out) {
        return Ok(());
    }
    Err(format!(
        "--out {}: the file exists and is not an amlctl plan file; refusing to overwrite it (choose another file name, or delete it first)",
        out.display()
    ))
}

/// True when `path` holds a JSON object with a `format_version` and `entries` (a plan file).
pub fn is_plan_text(path: &Path) -> bool {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .is_some_and(|v| {
            v.get("format_version").is_some_and(|f| f.is_string())
                && v.get("entries").is_some_and(|e| e.is_array())
        })
}

/// The folder (or file) below `amlctl.yaml` that `path` limits a plan to, repository-relative
/// with `/` separators; empty for the whole repository.
fn scope_of(path: &Path, config: &Config) -> String {
    let root = if config.root.as_os_str().is_empty() {
        Path::new(".")
    } else {
        config.root.as_path()
    };
    let (Ok(root), Ok(p)) = (std::fs::canonicalize(root), std::fs::canonicalize(path)) else {
        return String::new();
    };
    let Ok(rel) = p.strip_prefix(&root) else {
        return String::new();
    };
    let rel = rel.to_string_lossy().replace('\\', "/");
    let config_name = config
        .path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    if rel == config_name {
        String::new()
    } else {
        rel
    }
}

/// [`amlctl_plan::repo_digest`] of `amlctl.yaml` and every manifest file `project` read.
pub fn repo_digest(project: &Project) -> Result<String, String> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    };
    let config_name = project
        .config
        .path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "amlctl.yaml".to_string());
    let mut files = vec![(config_name, read(&project.config.path)?)];
    for rel in &project.files {
        files.push((rel.clone(), read(&project.config.root.join(rel))?));
    }
    Ok(amlctl_plan::repo_digest(&files))
}

fn show(file: &Path, format: Format, no_color: bool) -> u8 {
    match Plan::load(file) {
        Ok(plan) => {
            render_plan(&plan, format, no_color);
            0
        }
        Err(e) => {
            output::error(&format!("{}: {e}", file.display()));
            1
        }
    }
}

async fn serve(args: ServeArgs) -> u8 {
    let serve_args = amlctl_emulator::ServeArgs {
        listen: args.listen,
        state: args.state,
        fixture: args.fixture,
        lro_ms: args.lro_ms,
        latency_ms: args.latency_ms,
        faults: args.faults,
        fault_seed: args.fault_seed,
        retry_after_s: args.retry_after,
        quirks: args.quirks,
        page_size: args.page_size,
        identity_header: args.identity_header,
        accepted_tokens: args.accepted_tokens,
        quota: args.quota,
        rate_limit: args.rate_limit,
        slow_ms: args.slow_ms,
    };
    match amlctl_emulator::run_serve(serve_args).await {
        Ok(()) => 0,
        Err(e) => {
            output::error(&format!("emulator: {e}"));
            1
        }
    }
}

/// True when stdin and stderr are both terminals (a person can answer a prompt).
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && output::stderr_is_tty()
}
