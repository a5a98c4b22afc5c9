//! `amlctl`: GitOps for Azure Machine Learning compute targets.
//!
//! The binary wires the library crates together: `amlctl-manifest` loads and validates the YAML,
//! `amlctl-arm` sends requests, `amlctl-plan` diffs and renders, `amlctl-apply` reads live state
//! and carries a plan out, and `amlctl-emulator` (cargo feature `emulator`, on by default) serves
//! a local ARM for tests and `--sandbox`.
//!
//! Layout: `main` (parse, runtime, exit code), [`args`] (the command line), [`output`] (stdout,
//! stderr, renderings), [`error`] (the one error type and the exit codes), [`workflow`] (load,
//! connect, read live state, plan, close: the steps commands share) and [`cmd`] (one module per
//! command). Commands use `workflow`, `output` and `args`; `workflow` never uses a command.

mod args;
mod cmd;
mod error;
mod output;
mod workflow;

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
                _ => ExitCode::from(error::EXIT_ERROR),
            };
        }
    };
    output::init_tracing(cli.global.verbose);
    let result = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => {
            let result = runtime.block_on(cmd::run(cli));
            // Do not wait for lingering background tasks (an emulator, a token refresh).
            runtime.shutdown_timeout(std::time::Duration::from_millis(200));
            result
        }
        Err(e) => Err(error::CliError::new(format!(
            "cannot start the async runtime: {e}"
        ))),
    };
    let mut code = error::exit_code(result);
    if output::stdout_failed() && code != error::EXIT_ERROR {
        // The output (a plan, a report) is incomplete: never a success nor a "changes" code.
        code = error::EXIT_ERROR;
    }
    ExitCode::from(code)
}
