//! The CLI's one error type and its exit codes.
//!
//! Every command returns [`CliResult<Exit>`]; `main` turns it into the process exit code in one
//! place ([`exit_code`]). Exit codes are a contract: 0 ok, 1 error (usage errors included),
//! 2 "changes" with `plan --detailed-exitcode`, 130 on a second Ctrl-C/SIGTERM during `apply`
//! (that one exits at once from the signal watcher, with operations still running).

use std::fmt;

/// Exit code of any error.
pub const EXIT_ERROR: u8 = 1;
/// Exit code of `plan --detailed-exitcode` when the plan has changes.
pub const EXIT_CHANGES: u8 = 2;
/// Exit code when a second signal stops `apply` at once.
pub const EXIT_INTERRUPTED: i32 = 130;

/// How a command that did not fail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success (exit 0).
    Ok,
    /// `plan --detailed-exitcode` found changes (exit 2).
    Changes,
}

/// A failed command: what to print (unless already printed), an optional hint, and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// The message printed as `error: …`; `None` when the details were already printed
    /// (diagnostics, per-secret lines, a report with failures).
    pub message: Option<String>,
    /// What to do about it, printed after the message.
    pub hint: Option<String>,
    /// The process exit code.
    pub code: u8,
}

/// The result of a CLI step.
pub type CliResult<T> = Result<T, CliError>;

impl CliError {
    /// An error with a message to print; exit 1.
    pub fn new(message: impl Into<String>) -> Self {
        CliError {
            message: Some(message.into()),
            hint: None,
            code: EXIT_ERROR,
        }
    }

    /// An error whose details were already printed; exit 1 and print nothing more.
    pub fn reported() -> Self {
        CliError {
            message: None,
            hint: None,
            code: EXIT_ERROR,
        }
    }

    /// The same error with a hint (what to do next).
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.message, &self.hint) {
            (Some(m), Some(h)) => write!(f, "{m}; {h}"),
            (Some(m), None) => f.write_str(m),
            (None, _) => f.write_str("failed (details above)"),
        }
    }
}

impl std::error::Error for CliError {}

impl From<String> for CliError {
    fn from(message: String) -> Self {
        CliError::new(message)
    }
}

impl From<&str> for CliError {
    fn from(message: &str) -> Self {
        CliError::new(message)
    }
}

/// The error of `--sandbox` and `amlctl emulator serve` in a build without the `emulator` feature.
#[cfg_attr(feature = "emulator", allow(dead_code))]
pub fn no_emulator(what: &str) -> CliError {
    CliError::new(format!("{what}: this build has no embedded emulator")).with_hint(
        "install amlctl with the default features (`cargo install --path crates/cli`), or run an emulator elsewhere and point --arm-endpoint at it",
    )
}

/// Prints the error (when it has something left to say) and returns its exit code; `Ok` maps
/// to 0, or 2 for [`Exit::Changes`]. The only place a result becomes an exit code.
pub fn exit_code(result: CliResult<Exit>) -> u8 {
    match result {
        Ok(Exit::Ok) => 0,
        Ok(Exit::Changes) => EXIT_CHANGES,
        Err(e) => {
            if e.message.is_some() {
                crate::output::error(&e.to_string());
            }
            e.code
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(Ok(Exit::Ok)), 0);
        assert_eq!(exit_code(Ok(Exit::Changes)), 2);
        assert_eq!(exit_code(Err(CliError::reported())), 1);
        assert_eq!(
            CliError::new("no such file")
                .with_hint("check the path")
                .to_string(),
            "no such file; check the path"
        );
    }
}
