//! The text renderer, like `terraform plan`.

use owo_colors::OwoColorize;

use super::entry::{
    UNVERIFIABLE_HEAD, by_workspace, entry_lines_in, preflight_lines, unverifiable_lines,
};
use super::format::{Line, Tone, escape};
use crate::model::{Plan, PlanEntry};

pub(super) fn paint(color: bool, tone: Tone, s: &str) -> String {
    if !color {
        return s.to_string();
    }
    match tone {
        Tone::Add => s.green().to_string(),
        Tone::Remove => s.red().to_string(),
        Tone::Change => s.yellow().to_string(),
        Tone::Replace => s.magenta().to_string(),
        Tone::Power | Tone::Wait => s.cyan().to_string(),
        Tone::Note => s.dimmed().to_string(),
        Tone::Plain => s.to_string(),
    }
}

pub(super) fn text_line(l: &Line, color: bool) -> String {
    let pad = " ".repeat(l.indent);
    let sym = format!("{:>3}", l.symbol);
    let body = format!("{pad}{sym} {}", escape(&l.text));
    paint(color, l.tone, body.trim_end())
}

/// The plan as text, like `terraform plan`; ANSI colours only when `color` is true.
pub fn text(plan: &Plan, color: bool) -> String {
    let mut out = String::new();
    let bold = |s: &str| bold(color, s);
    let mut unchanged = 0usize;
    for (ws, entries) in by_workspace(plan) {
        let changed: Vec<&&PlanEntry> = entries.iter().filter(|e| e.has_changes()).collect();
        unchanged += entries.len() - changed.len();
        if changed.is_empty() {
            continue;
        }
        out.push_str(&bold(&format!("Workspace {}:", escape(ws))));
        out.push_str("\n\n");
        for e in changed {
            for l in entry_lines_in(plan, e) {
                out.push_str(&text_line(&l, color));
                out.push('\n');
            }
            out.push('\n');
        }
    }
    if unchanged > 0 {
        out.push_str(&format!(
            "{unchanged} target{} up to date.\n\n",
            if unchanged == 1 { "" } else { "s" }
        ));
    }
    notes(plan, color, &mut out);
    outcome(plan, color, &mut out);
    out
}

/// `s` in bold when `color` is true.
fn bold(color: bool, s: &str) -> String {
    if color {
        s.bold().to_string()
    } else {
        s.to_string()
    }
}

/// The sections after the entries: keys that cannot be verified, unmanaged computes,
/// pre-flight, warnings.
fn notes(plan: &Plan, color: bool, out: &mut String) {
    let bold = |s: &str| bold(color, s);
    let unverifiable = unverifiable_lines(plan);
    if !unverifiable.is_empty() {
        out.push_str(&bold(UNVERIFIABLE_HEAD));
        out.push('\n');
        for (address, keys) in &unverifiable {
            out.push_str(&format!(
                "    {}: {}\n",
                escape(address),
                escape(&keys.join(", "))
            ));
        }
        out.push('\n');
    }
    if !plan.unmanaged.is_empty() {
        out.push_str(&bold("Unmanaged computes (left alone):"));
        out.push('\n');
        for u in &plan.unmanaged {
            out.push_str(&format!(
                "    {} ({}): {}\n",
                escape(&u.address),
                escape(&u.compute_type),
                escape(&u.note)
            ));
        }
        out.push('\n');
    }
    if let Some(pf) = &plan.preflight {
        out.push_str(&bold("Pre-flight:"));
        out.push('\n');
        for l in preflight_lines(pf) {
            out.push_str(&format!("    {}\n", escape(&l)));
        }
        out.push('\n');
    }
    for w in &plan.warnings {
        let head = if color {
            "Warning:".yellow().bold().to_string()
        } else {
            "Warning:".to_string()
        };
        out.push_str(&format!("{head} {}\n", escape(w)));
    }
    if !plan.warnings.is_empty() {
        out.push('\n');
    }
}

/// The errors, the summary line and whether the plan can be applied.
fn outcome(plan: &Plan, color: bool, out: &mut String) {
    let bold = |s: &str| bold(color, s);
    for e in &plan.errors {
        let head = if color {
            "Error:".red().bold().to_string()
        } else {
            "Error:".to_string()
        };
        out.push_str(&format!(
            "{head} {}: {}\n",
            escape(&e.address),
            escape(&e.message)
        ));
        if let Some(h) = &e.hint {
            out.push_str(&format!("    hint: {}\n", escape(h)));
        }
        if let Some(s) = &e.source {
            out.push_str(&format!("    at {}\n", escape(&s.to_string())));
        }
        out.push('\n');
    }
    let summary = plan.summary();
    if !plan.has_changes() && plan.errors.is_empty() {
        out.push_str(&bold("No changes. Live state matches the manifests."));
        out.push('\n');
    } else {
        out.push_str(&bold(&summary.line()));
        out.push('\n');
    }
    if !plan.errors.is_empty() {
        let n = plan.errors.len();
        let msg = format!(
            "{n} error{}: this plan cannot be applied.",
            if n == 1 { "" } else { "s" }
        );
        out.push_str(&if color {
            msg.red().bold().to_string()
        } else {
            msg
        });
        out.push('\n');
    }
}
