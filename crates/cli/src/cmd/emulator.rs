//! `amlctl emulator serve`: the local ARM emulator.

use crate::args::ServeArgs;
use crate::error::{CliError, CliResult, Exit};

/// Runs the emulator until it is stopped.
pub async fn serve(args: ServeArgs) -> CliResult<Exit> {
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
        drop_on_put: args.drop_on_put,
        quota: args.quota,
        rate_limit: args.rate_limit,
        slow_ms: args.slow_ms,
        lenient: args.lenient,
        name_hold_ms: args.name_hold_ms,
    };
    amlctl_emulator::run_serve(serve_args)
        .await
        .map_err(|e| CliError::new(format!("emulator: {e}")))?;
    Ok(Exit::Ok)
}
