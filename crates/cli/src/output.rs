//! Terminal output helpers: logging set-up, coloured diagnostics on stderr.

use std::io::{IsTerminal, Write};

use owo_colors::OwoColorize;

/// Sets up `tracing` on stderr: `-v` info, `-vv` debug, `-vvv` trace; `RUST_LOG` overrides.
pub fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// True when stdout is a terminal and colour is not disabled.
pub fn stdout_color(no_color: bool) -> bool {
    !no_color && std::io::stdout().is_terminal()
}

/// True when stderr is a terminal.
pub fn stderr_is_tty() -> bool {
    std::io::stderr().is_terminal()
}

/// Prints `error: message` on stderr.
pub fn error(message: &str) {
    let mut err = anstream::stderr();
    let _ = writeln!(err, "{} {message}", "error:".red().bold());
}

/// Prints `warning: message` on stderr.
pub fn warning(message: &str) {
    let mut err = anstream::stderr();
    let _ = writeln!(err, "{} {message}", "warning:".yellow().bold());
}

/// Prints a line on stderr (progress, notes), colour stripped when not a terminal.
pub fn note(message: &str) {
    let mut err = anstream::stderr();
    let _ = writeln!(err, "{message}");
}

/// Prints text on stdout as is.
pub fn print_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = out.write_all(b"\n");
    }
    let _ = out.flush();
}
