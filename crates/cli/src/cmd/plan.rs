//! `amlctl plan [PATH]`: the plan, optionally saved to a plan file.

use std::io::Write;
use std::path::{Path, PathBuf};

use amlctl_manifest::Config;
use amlctl_plan::{Plan, PlanFile, SavedOptions};

use crate::args::{ArmArgs, Format, PlanArgs};
use crate::error::{CliError, CliResult, Exit};
use crate::output;
use crate::workflow::{self, Planned};

/// Runs plan; with `detailed_exitcode`, a plan with changes ends in [`Exit::Changes`]; with
/// `drift` (`plan --drift`), only drifted targets are reported, and drift is the change.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    path: &Path,
    plan_args: &PlanArgs,
    arm: &ArmArgs,
    format: Format,
    out: Option<&Path>,
    no_color: bool,
    detailed_exitcode: bool,
    drift: bool,
) -> CliResult<Exit> {
    let changes = plan_command(path, plan_args, arm, format, out, no_color, drift).await?;
    Ok(if changes && detailed_exitcode {
        Exit::Changes
    } else {
        Exit::Ok
    })
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

/// Plans, prints, saves; `Ok(true)` when the plan has changes.
async fn plan_command(
    path: &Path,
    plan_args: &PlanArgs,
    arm: &ArmArgs,
    format: Format,
    out: Option<&Path>,
    no_color: bool,
    drift: bool,
) -> CliResult<bool> {
    if let Some(out) = out {
        check_plan_out(out)?;
    }
    workflow::with_plan(path, plan_args, arm, async |planned: Planned, session| {
        let Planned {
            mut plan,
            project,
            workspaces,
        } = planned;
    workflow::attribute_drift(&mut plan, &workspaces, session).await;
    if drift {
        plan = plan.drift_only();
        if plan.drift.is_empty() {
            output::note("No drift: every compute amlctl would change was last written by amlctl itself (or nothing differs).");
        }
    }
    output::render_plan(&plan, format, no_color);
    append_step_summary(&plan);
    if let Some(out) = out {
        // The planner's plan, wrapped with the file's metadata. `root` and `workspaces` are
        // informational only: `apply PLANFILE` finds the repository from the current directory
        // and takes the workspaces from its amlctl.yaml, never from these.
        let file = PlanFile {
            root: Some(project.config.root.clone()),
            workspaces,
            options: Some(SavedOptions {
                replace: plan_args.replace.clone(),
                targets: plan_args.targets.clone(),
                workspaces: plan_args.workspaces.clone(),
                scope: scope_of(path, &project.config),
                strict: plan_args.strict,
            }),
            repo_digest: Some(workflow::repo_digest(&project)?),
            plan,
        };
        let problems = file.check(&project.config.workspaces);
        if !problems.is_empty() {
            return Err(CliError::new(format!(
                "the plan fails its own safety check, so it was not saved:\n  {}",
                problems.join("\n  ")
            )));
        }
        file.save(out).map_err(|e| {
            CliError::new(format!("cannot save the plan to {}: {e}", out.display()))
        })?;
        let plan = &file.plan;
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
        return finish(plan);
    }
    finish(&plan)
    })
    .await
}

/// `Ok(true)` when the plan has changes; its errors (already printed) end the run.
fn finish(plan: &Plan) -> CliResult<bool> {
    if !plan.errors.is_empty() {
        Err(CliError::reported())
    } else {
        Ok(plan.has_changes())
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
fn check_plan_out(out: &Path) -> CliResult<()> {
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
        return Err(CliError::new(format!(
            "--out {}: is a directory; name a file for the plan",
            out.display()
        )));
    }
    if !meta.is_file() || is_plan_text(out) {
        return Ok(());
    }
    Err(CliError::new(format!(
        "--out {}: the file exists and is not an amlctl plan file; refusing to overwrite it (choose another file name, or delete it first)",
        out.display()
    )))
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
