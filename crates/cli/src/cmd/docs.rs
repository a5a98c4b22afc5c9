//! `amlctl completions SHELL` and `amlctl man [--out DIR]`.

use std::path::Path;

use crate::args::Cli;
use crate::error::{CliError, CliResult, Exit};
use crate::output;

/// Writes `bytes` to stdout through [`output::write_stdout`]: a closed stdout (`amlctl man |
/// head`) is not an error; any other write error is reported there and exits 1.
fn write_stdout_bytes(bytes: &[u8]) -> CliResult<Exit> {
    output::write_stdout(bytes);
    if output::stdout_failed() {
        Err(CliError::reported())
    } else {
        Ok(Exit::Ok)
    }
}

/// `amlctl completions SHELL`: the completion script on stdout.
pub fn completions(shell: clap_complete::Shell) -> CliResult<Exit> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "amlctl", &mut buf);
    write_stdout_bytes(&buf)
}

/// `amlctl man [--out DIR]`: the man page on stdout, or one page per command in DIR (the main
/// page refers to `amlctl-COMMAND(1)` pages, which `--out` writes).
pub fn man(out: Option<&Path>) -> CliResult<Exit> {
    let cmd = <Cli as clap::CommandFactory>::command();
    let Some(dir) = out else {
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd)
            .render(&mut buf)
            .map_err(|e| CliError::new(format!("cannot render the man page: {e}")))?;
        return write_stdout_bytes(&buf);
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::new(format!("cannot create {}: {e}", dir.display())))?;
    clap_mangen::generate_to(cmd, dir).map_err(|e| {
        CliError::new(format!(
            "cannot write the man pages to {}: {e}",
            dir.display()
        ))
    })?;
    output::note(&format!("wrote the man pages to {}", dir.display()));
    Ok(Exit::Ok)
}
