//! The steps every command shares: load the project, connect a session, read live state, make
//! the plan, close the session.
//!
//! Command modules (`cmd::*`) use this module; it never uses them. A session is opened by
//! [`with_session`] or [`with_plan`] and closed in one place, [`finish`], whatever the command's
//! body returned.

mod drift;
mod preflight;
mod sandbox;
mod session;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use amlctl_arm::ArmClient;
use amlctl_manifest::{Config, Diagnostic, LiveCompute, LoadOptions, Project, Workspace};
use amlctl_plan::{Plan, PlanOptions};

pub use drift::attribute_drift;
pub use session::{ProjectRef, Session};

/// Opens a session: the embedded emulator with `--sandbox`, else the configured ARM endpoint
/// and credential.
pub async fn connect(project: &ProjectRef<'_>, arm: &ArmArgs) -> CliResult<Session> {
    let parallelism = arm.parallelism.or(project.parallelism).unwrap_or(8).max(1);
    if arm.sandbox {
        sandbox::connect(project, arm, parallelism).await
    } else {
        session::connect_arm(project, arm, parallelism).await
    }
}

use crate::args::{ArmArgs, PlanArgs};
use crate::error::{CliError, CliResult};
use crate::output::{plural, print_diagnostics};

/// Loads the project at `path`, printing every diagnostic; an error (already reported) when it has errors.
pub fn load(path: &Path, strict: bool) -> CliResult<Project> {
    load_with(
        path,
        &LoadOptions {
            strict,
            ..Default::default()
        },
    )
}

/// [`load`] with every load option.
pub fn load_with(path: &Path, opts: &LoadOptions) -> CliResult<Project> {
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
fn report_load(loaded: Result<Project, Vec<Diagnostic>>) -> CliResult<Project> {
    match loaded {
        Ok(project) => {
            print_diagnostics(&project.diagnostics);
            Ok(project)
        }
        Err(diags) => {
            let n = print_diagnostics(&diags);
            Err(CliError::new(format!(
                "{n} error{} in the manifests; nothing was done",
                plural(n)
            )))
        }
    }
}

/// `Ok` when `alias` is a workspace of the project; otherwise an error naming the known ones.
pub fn check_workspace(config: &Config, alias: &str) -> CliResult<()> {
    if config.workspaces.contains_key(alias) {
        return Ok(());
    }
    let known: Vec<&str> = config.workspaces.keys().map(String::as_str).collect();
    let suggestion = amlctl_manifest::diag::did_you_mean(alias, known.iter().copied())
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default();
    Err(CliError::new(format!(
        "--workspace {alias}: no such workspace in {} (known: {}){suggestion}",
        config.path.display(),
        known.join(", ")
    )))
}

/// Checks every `--workspace` filter (see [`check_workspace`]).
pub fn check_workspaces(config: &Config, aliases: &[String]) -> CliResult<()> {
    aliases
        .iter()
        .try_for_each(|ws| check_workspace(config, ws))
}

/// The one place a session is closed: stops the sandbox emulator, if any, so its state is final.
pub async fn finish(session: Session) {
    session.close().await;
}

/// Connects a session for `project`, runs `body` with it, then closes it ([`finish`]) whatever
/// `body` returned.
pub async fn with_session<T>(
    project: &ProjectRef<'_>,
    arm: &ArmArgs,
    body: impl AsyncFnOnce(&Session) -> CliResult<T>,
) -> CliResult<T> {
    let session = connect(project, arm).await?;
    let result = body(&session).await;
    finish(session).await;
    result
}

/// Live state of the workspaces of `aliases` (all when empty), read with the session; the
/// workspaces come back with their locations filled in.
pub async fn read_live(
    session: &Session,
    config: &Config,
    aliases: &[String],
) -> (
    BTreeMap<String, Workspace>,
    Result<BTreeMap<String, Vec<LiveCompute>>, String>,
) {
    read_live_each(session, config, aliases, |_, _, _| {}).await
}

/// [`read_live`], calling `on_workspace(alias, workspace, computes)` as each workspace's list
/// completes ([`amlctl_apply::live::read_live_each`]).
pub async fn read_live_each(
    session: &Session,
    config: &Config,
    aliases: &[String],
    on_workspace: impl FnMut(&str, &Workspace, &[LiveCompute]),
) -> (
    BTreeMap<String, Workspace>,
    Result<BTreeMap<String, Vec<LiveCompute>>, String>,
) {
    let mut workspaces = config.workspaces.clone();
    let selected: BTreeSet<String> = workspaces
        .keys()
        .filter(|a| aliases.is_empty() || aliases.contains(a))
        .cloned()
        .collect();
    let live = amlctl_apply::live::read_live_each(
        &session.client,
        &mut workspaces,
        &selected,
        on_workspace,
    )
    .await;
    (workspaces, live)
}

/// A plan and what it was made from.
pub struct Planned {
    /// The plan.
    pub plan: Plan,
    /// The loaded project.
    pub project: Project,
    /// The workspaces, with the locations read from ARM.
    pub workspaces: BTreeMap<String, Workspace>,
}

/// Plans (load, connect, read live state, diff; diagnostics printed), runs `body` with the plan
/// and the session, then closes the session ([`finish`]) whatever happened.
pub async fn with_plan<T>(
    path: &Path,
    plan_args: &PlanArgs,
    arm: &ArmArgs,
    body: impl AsyncFnOnce(Planned, &Session) -> CliResult<T>,
) -> CliResult<T> {
    let (session, planned) = make_plan(path, plan_args, arm).await?;
    let result = match planned {
        Ok(planned) => body(planned, &session).await,
        Err(e) => Err(e),
    };
    finish(session).await;
    result
}

/// Load, connect, read live state, diff. `Err` when no session was opened; otherwise the session
/// (to be closed by the caller) and the plan or why there is none.
async fn make_plan(
    path: &Path,
    plan_args: &PlanArgs,
    arm: &ArmArgs,
) -> CliResult<(Session, CliResult<Planned>)> {
    let (project, session, workspaces, live, reads) = if arm.sandbox {
        // The sandbox creates the resources the manifests attach: it needs them loaded first.
        let project = load_with(path, &load_options(plan_args))?;
        check_workspaces(&project.config, &plan_args.workspaces)?;
        let session = connect(&ProjectRef::of(&project), arm).await?;
        let (workspaces, live) = read_live(&session, &project.config, &plan_args.workspaces).await;
        (project, session, workspaces, live, None)
    } else {
        match load_while_reading(path, plan_args, arm).await? {
            Ok(gathered) => gathered,
            Err((session, e)) => return Ok((session, Err(e))),
        }
    };
    let live = match live {
        Ok(live) => live,
        Err(e) => {
            let error = CliError::new(format!("cannot read live state:\n{e}"));
            return Ok((session, Err(error)));
        }
    };
    let opts = PlanOptions {
        replace: plan_args.replace.iter().cloned().collect(),
        targets: plan_args.targets.clone(),
        workspaces: plan_args.workspaces.clone(),
        root: Some(project.config.root.clone()),
        scope: project.scope.clone(),
    };
    let mut plan = amlctl_plan::plan(&project.targets, &workspaces, &live, &opts);
    if !plan_args.no_preflight {
        let reads =
            reads.unwrap_or_else(|| preflight::Reads::new(&session.client, session.parallelism));
        reads.finish(&mut plan, &project.targets, &workspaces).await;
    }
    Ok((
        session,
        Ok(Planned {
            plan,
            project,
            workspaces,
        }),
    ))
}

/// What [`make_plan`] gathers before the diff: the project, the session, the workspaces, their
/// live state (or why it could not be read) and the pre-flight reads already started.
type Gathered = (
    Project,
    Session,
    BTreeMap<String, Workspace>,
    Result<BTreeMap<String, Vec<LiveCompute>>, String>,
    Option<preflight::Reads>,
);

/// Outside the sandbox `amlctl.yaml` names the workspaces: reads their live state while the
/// manifests load. `Err` when no session was opened; `Ok(Err(..))` with the open session when
/// the manifests have errors.
async fn load_while_reading(
    path: &Path,
    plan_args: &PlanArgs,
    arm: &ArmArgs,
) -> CliResult<Result<Gathered, (Session, CliError)>> {
    // amlctl.yaml names the workspaces: read their live state while the manifests load.
    let config = match amlctl_manifest::load_config(path) {
        Ok(c) => c,
        Err(diags) => {
            print_diagnostics(&diags);
            return Err(CliError::reported());
        }
    };
    check_workspaces(&config, &plan_args.workspaces)?;
    let owned = path.to_path_buf();
    let opts = load_options(plan_args);
    let loading = tokio::task::spawn_blocking(move || amlctl_manifest::load_project(&owned, &opts));
    let preflight_on = !plan_args.no_preflight;
    // The pre-flight reads of the creates start as each workspace's list completes (see
    // `preflight`): the network side hands over the client and the listed names.
    let (client_tx, client_rx) = tokio::sync::oneshot::channel::<(ArmClient, usize)>();
    let (listed_tx, mut listed_rx) =
        tokio::sync::mpsc::unbounded_channel::<(String, Workspace, BTreeSet<String>)>();
    let network = async {
        let listed_tx = listed_tx;
        let project_ref = ProjectRef {
            root: &config.root,
            arm_endpoint: config.defaults.arm_endpoint.clone(),
            parallelism: config.defaults.parallelism,
            cloud: config.defaults.cloud.clone(),
            workspaces: &config.workspaces,
            targets: &[],
        };
        let session = connect(&project_ref, arm).await?;
        let _ = client_tx.send((session.client.clone(), session.parallelism));
        let (workspaces, live) = read_live_each(
            &session,
            &config,
            &plan_args.workspaces,
            |alias, ws, live| {
                if preflight_on {
                    let names = live.iter().map(|c| c.name.to_ascii_lowercase()).collect();
                    let _ = listed_tx.send((alias.to_string(), ws.clone(), names));
                }
            },
        )
        .await;
        drop(listed_tx);
        Ok::<_, CliError>((session, workspaces, live))
    };
    let early = async {
        let loaded = loading.await;
        let mut reads = None;
        if preflight_on
            && let Ok(Ok(project)) = &loaded
            && let Ok((client, parallelism)) = client_rx.await
        {
            let mut r = preflight::Reads::new(&client, parallelism);
            while let Some((alias, ws, names)) = listed_rx.recv().await {
                r.start_creates(&alias, &ws, &names, &project.targets, &plan_args.targets);
            }
            reads = Some(r);
        }
        (loaded, reads)
    };
    let (network, (loaded, early_reads)) = tokio::join!(network, early);
    let loaded = loaded.map_err(|e| CliError::new(format!("loading the manifests failed: {e}")));
    // Manifest errors come first: they are the user's to fix, whatever the network said.
    let project = match loaded.and_then(report_load) {
        Ok(p) => p,
        Err(e) => {
            return match network {
                Ok((session, _, _)) => Ok(Err((session, e))),
                Err(_) => Err(e),
            };
        }
    };
    let (session, workspaces, live) = network?;
    Ok(Ok((project, session, workspaces, live, early_reads)))
}

/// [`amlctl_plan::repo_digest`] of `amlctl.yaml` and every manifest file `project` read.
pub fn repo_digest(project: &Project) -> CliResult<String> {
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

/// The ARM coordinates of every workspace, for [`amlctl_apply::ApplyOptions::workspaces`].
pub fn workspace_ids(
    workspaces: &BTreeMap<String, Workspace>,
) -> BTreeMap<String, amlctl_arm::WorkspaceId> {
    workspaces
        .iter()
        .map(|(alias, ws)| (alias.clone(), amlctl_apply::workspace_id(ws)))
        .collect()
}

/// The secret resolver of a run: Key Vault through the session (in the sandbox, the embedded
/// emulator's vaults); confined to `root` unless `None`.
pub fn secret_resolver(
    _arm: &ArmArgs,
    session: &Session,
    root: Option<std::path::PathBuf>,
) -> amlctl_apply::SecretResolver {
    // In the sandbox the session's Key Vault client reaches the embedded emulator's vaults.
    amlctl_apply::SecretResolver::new(session.key_vault()).confined_to(root)
}
