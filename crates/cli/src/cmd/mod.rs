//! One small module per command over the shared [`crate::workflow`]; [`run`] dispatches the
//! parsed command line. Each command returns [`CliResult<Exit>`]; `main` maps it to the exit code.

mod apply;
mod docs;
#[cfg(feature = "emulator")]
mod emulator;
mod export;
mod import;
mod plan;
mod render;
mod schema;
mod show;
mod validate;

use std::path::PathBuf;

use amlctl_manifest::{LoadOptions, Workspace};

use crate::args::{Cli, Command, EmulatorCommand};
use crate::error::{CliResult, Exit};

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> CliResult<Exit> {
    let no_color = cli.global.no_color;
    match cli.command {
        Command::Validate {
            path,
            strict,
            allow_outside_repo,
        } => validate::run(
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
            render::run(&files, &ws, strict)
        }
        Command::Schema { config } => schema::run(config),
        Command::Plan {
            path,
            plan,
            arm,
            format,
            out,
            detailed_exitcode,
            drift,
        } => {
            plan::run(
                &path,
                &plan,
                &arm,
                format,
                out.as_deref(),
                no_color,
                detailed_exitcode || drift,
                drift,
            )
            .await
        }
        Command::Apply {
            path,
            plan,
            arm,
            auto_approve,
            partial,
            format,
        } => {
            let opts = apply::ApplyArgs {
                path,
                plan,
                arm,
                auto_approve,
                partial,
                format: format.into(),
                no_color,
            };
            apply::run(opts).await
        }
        Command::Show { file, format } => show::run(&file, format, no_color),
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
            let opts = export::ExportOptions {
                workspace: workspace.as_deref(),
                out: out.as_deref(),
                force,
                include_declared,
            };
            export::run(&path, &opts, &arm).await
        }
        Command::Import {
            name,
            path,
            path_flag,
            arm,
        } => {
            let path = path_flag.or(path).unwrap_or_else(|| PathBuf::from("."));
            import::run(&path, &name, &arm).await
        }
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { out } => docs::man(out.as_deref()),
        #[cfg(feature = "emulator")]
        Command::Emulator {
            command: EmulatorCommand::Serve(args),
        } => emulator::serve(args).await,
        #[cfg(not(feature = "emulator"))]
        Command::Emulator {
            command: EmulatorCommand::Serve(_),
        } => Err(crate::error::no_emulator("amlctl emulator serve")),
    }
}
