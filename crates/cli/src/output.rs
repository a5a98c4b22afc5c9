//! Terminal output helpers: logging set-up, coloured diagnostics on stderr, the one stdout
//! writer, and the renderings every command shares (JSON, plans, load diagnostics).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use amlctl_manifest::{Diagnostic, Severity};
use amlctl_plan::Plan;
use owo_colors::OwoColorize;

use crate::args::Format;

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

/// Set when a write to stdout failed (other than a closed pipe): the run must not exit 0.
static STDOUT_FAILED: AtomicBool = AtomicBool::new(false);
/// Set when the reader of stdout went away (`| head`): later output is dropped quietly.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Prints text on stdout as is (a newline added when missing).
pub fn print_stdout(text: &str) {
    let mut bytes = text.as_bytes().to_vec();
    if !text.ends_with('\n') {
        bytes.push(b'\n');
    }
    write_stdout(&bytes);
}

/// Writes bytes to stdout. A closed pipe (`amlctl plan | head`) is not an error: the rest of
/// the output is dropped quietly. Any other failure (a full disk) is reported once on stderr
/// and makes the command exit 1 (see [`stdout_failed`]).
pub fn write_stdout(bytes: &[u8]) {
    if STDOUT_CLOSED.load(Ordering::SeqCst) || STDOUT_FAILED.load(Ordering::SeqCst) {
        return;
    }
    let mut out = std::io::stdout().lock();
    let result = out.write_all(bytes).and_then(|()| out.flush());
    match result {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            STDOUT_CLOSED.store(true, Ordering::SeqCst);
        }
        Err(e) => {
            STDOUT_FAILED.store(true, Ordering::SeqCst);
            error(&format!("cannot write to standard output: {e}"));
        }
    }
}

/// True when some output could not be written to stdout (other than a closed pipe).
pub fn stdout_failed() -> bool {
    STDOUT_FAILED.load(Ordering::SeqCst)
}

/// Prints diagnostics on stderr, errors last, and returns how many were errors.
pub fn print_diagnostics(diags: &[Diagnostic]) -> usize {
    let mut errors = 0;
    let mut sorted: Vec<&Diagnostic> = diags.iter().collect();
    sorted.sort_by_key(|d| matches!(d.severity, Severity::Error));
    let mut err = anstream::stderr();
    for d in sorted {
        if matches!(d.severity, Severity::Error) {
            errors += 1;
        }
        let _ = writeln!(err, "{d}");
    }
    errors
}

/// `""` for one, `"s"` otherwise.
pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Prints a JSON value, pretty, on stdout.
pub fn print_json(value: &serde_json::Value) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => print_stdout(&text),
        Err(e) => error(&format!("cannot print JSON: {e}")),
    }
}

/// Renders a plan in the requested format to stdout.
pub fn render_plan(plan: &Plan, format: Format, no_color: bool) {
    match format {
        Format::Text => print_stdout(&amlctl_plan::render::text(plan, stdout_color(no_color))),
        Format::Markdown => {
            let chunks = amlctl_plan::render::markdown(plan);
            print_stdout(&chunks.join("\n\n<!-- amlctl: next chunk -->\n\n"));
        }
        Format::Json => print_json(&amlctl_plan::render::json(plan)),
    }
}

/// True when stdin and stderr are both terminals (a person can answer a prompt).
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && stderr_is_tty()
}
