//! Progress reporting: live spinners on a terminal, one line per state change in CI, or JSON lines.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use amlctl_plan::render::escape;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::Serialize;

/// Where progress goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A live line per running action with elapsed time (stderr is a terminal).
    Tty,
    /// One log line per state change on stderr (CI).
    Lines,
    /// One JSON event per line on stdout.
    Json,
    /// Nothing.
    Quiet,
}

/// What happened to a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Work on the target started.
    Started,
    /// A request was sent or a wait began.
    Progress,
    /// The target is done.
    Succeeded,
    /// The target failed.
    Failed,
}

/// One progress event (the JSON-lines format of `apply --format json`).
#[derive(Debug, Clone, Serialize)]
pub struct Event<'a> {
    /// Always `"progress"` for these lines.
    #[serde(rename = "type")]
    pub kind_tag: &'static str,
    /// `workspace/name`.
    pub address: &'a str,
    /// What happened.
    pub event: EventKind,
    /// Details, secrets redacted.
    pub message: &'a str,
    /// Milliseconds since the target started.
    pub elapsed_ms: u128,
}

struct Inner {
    mode: ProgressMode,
    multi: Option<MultiProgress>,
    bars: Mutex<HashMap<String, (ProgressBar, Instant)>>,
}

/// Shared progress sink; cheap to clone.
#[derive(Clone)]
pub struct Reporter(Arc<Inner>);

impl Reporter {
    /// A reporter for `mode`.
    pub fn new(mode: ProgressMode) -> Self {
        let multi = (mode == ProgressMode::Tty).then(MultiProgress::new);
        Reporter(Arc::new(Inner {
            mode,
            multi,
            bars: Mutex::new(HashMap::new()),
        }))
    }

    /// Records an event for `address`. On a terminal (and in CI lines) the address and message
    /// are shown through [`amlctl_plan::render::escape`]; JSON lines carry them as data.
    pub fn event(&self, address: &str, kind: EventKind, message: &str) {
        let (shown_address, shown_message) = (escape(address), escape(message));
        let mut bars = match self.0.bars.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        let started = match bars.get(address) {
            Some((_, t)) => *t,
            None => {
                let now = Instant::now();
                let bar = match &self.0.multi {
                    Some(multi) => {
                        let bar = multi.add(ProgressBar::new_spinner());
                        let style =
                            ProgressStyle::with_template("{spinner} {prefix} {wide_msg} {elapsed}")
                                .unwrap_or_else(|_| ProgressStyle::default_spinner());
                        bar.set_style(style);
                        bar.set_prefix(shown_address.to_string());
                        bar.enable_steady_tick(Duration::from_millis(120));
                        bar
                    }
                    None => ProgressBar::hidden(),
                };
                bars.insert(address.to_string(), (bar, now));
                now
            }
        };
        let elapsed = started.elapsed();
        match self.0.mode {
            ProgressMode::Tty => {
                if let Some((bar, _)) = bars.get(address) {
                    match kind {
                        EventKind::Succeeded => {
                            bar.finish_with_message(format!("done: {shown_message}"));
                        }
                        EventKind::Failed => {
                            bar.abandon_with_message(format!(
                                "FAILED: {}",
                                escape(first_line(message))
                            ));
                        }
                        _ => bar.set_message(shown_message.to_string()),
                    }
                }
            }
            ProgressMode::Lines => {
                let word = match kind {
                    EventKind::Started => "started",
                    EventKind::Progress => "…",
                    EventKind::Succeeded => "done",
                    EventKind::Failed => "FAILED",
                };
                let mut err = std::io::stderr().lock();
                let _ = writeln!(
                    err,
                    "[{:>6.1}s] {shown_address}: {word} {shown_message}",
                    elapsed.as_secs_f64()
                );
            }
            ProgressMode::Json => {
                let event = Event {
                    kind_tag: "progress",
                    address,
                    event: kind,
                    message,
                    elapsed_ms: elapsed.as_millis(),
                };
                if let Ok(line) = serde_json::to_string(&event) {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{line}");
                }
            }
            ProgressMode::Quiet => {}
        }
    }

    /// Stops the spinners.
    pub fn finish(&self) {
        if let Some(multi) = &self.0.multi {
            let _ = multi.clear();
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}
