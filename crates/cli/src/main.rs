//! `amlctl`: GitOps for Azure Machine Learning compute targets.
//!
//! The binary wires the library crates together: `amlctl-manifest` loads and validates the YAML,
//! `amlctl-arm` reads live state and sends requests, `amlctl-plan` diffs and renders, `amlctl-apply`
//! carries a plan out, and `amlctl-emulator` serves a local ARM for tests and `--sandbox`.

mod apply_cmd;
mod args;
mod commands;
mod context;
mod export_cmd;
mod import_cmd;
mod output;

use std::process::ExitCode;

use clap::Parser;

use crate::args::Cli;

fn main() -> ExitCode {
    // Exit codes are a contract (`--detailed-exitcode`: 2 means "changes"), so a usage error exits
    // 1 like every other error instead of clap's default 2; `--help` and `--version` exit 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(1),
            };
        }
    };
    output::init_tracing(cli.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output::error(&format!("cannot start the async runtime: {e}"));
            return ExitCode::from(1);
        }
    };
    let mut code = runtime.block_on(commands::run(cli));
    if output::stdout_failed() && code != 1 {
        // The output (a plan, a report) is incomplete: never a success nor a "changes" code.
        code = 1;
    }
    // Do not wait for lingering background tasks (an emulator, a token refresh).
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    ExitCode::from(code)
}
