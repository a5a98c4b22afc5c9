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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A number outside its documented range is a usage error like any bad input: exit 1.
        Err(e) if e.kind() == clap::error::ErrorKind::ValueValidation => {
            let _ = e.print();
            return ExitCode::from(1);
        }
        Err(e) => e.exit(),
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
    let code = runtime.block_on(commands::run(cli));
    // Do not wait for lingering background tasks (an emulator, a token refresh).
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    ExitCode::from(code)
}
