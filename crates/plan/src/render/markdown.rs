//! The Markdown renderer (pull-request comments, job summaries), split into chunks that fit a
//! GitHub comment.

use super::entry::{
    UNVERIFIABLE_HEAD, by_workspace, entry_lines_in, main_action, preflight_lines,
    unverifiable_lines,
};
use super::format::{Tone, escape, longest_backtick_run, md_code, md_text};
use crate::model::{Plan, PlanEntry};

/// Upper bound (exclusive) of one Markdown chunk: GitHub rejects comments of 65,536 characters
/// or more.
pub const MARKDOWN_LIMIT: usize = 65_536;

pub(super) fn diff_marker(t: Tone) -> char {
    match t {
        Tone::Add => '+',
        Tone::Remove => '-',
        Tone::Change | Tone::Replace => '!',
        Tone::Note => '#',
        Tone::Power | Tone::Wait | Tone::Plain => ' ',
    }
}

pub(super) fn md_entry(plan: &Plan, e: &PlanEntry) -> String {
    let mut s = String::new();
    for l in entry_lines_in(plan, e) {
        let pad = " ".repeat(l.indent);
        // The diff marker in column 0 already says + or -; keep the other symbols.
        let sym = match l.symbol {
            "+" | "-" | "#" | " " => " ",
            other => other,
        };
        let row = format!("{} {pad}{sym:>3} {}", diff_marker(l.tone), escape(&l.text));
        s.push_str(row.trim_end());
        s.push('\n');
    }
    s
}

pub(super) fn fence_for(content: &str) -> String {
    "`".repeat((longest_backtick_run(content) + 1).max(3))
}

pub(super) fn counts(entries: &[&PlanEntry]) -> String {
    let p = Plan {
        entries: entries.iter().map(|e| (*e).clone()).collect(),
        ..Plan::empty()
    };
    let s = p.summary();
    let mut text = format!(
        "{} to add, {} to change, {} to destroy",
        s.add, s.change, s.destroy
    );
    if let Some(extra) = s.extra() {
        text.push_str(&format!(", {extra}"));
    }
    text
}

pub(super) fn details(title: &str, body: &str) -> String {
    let fence = fence_for(body);
    format!("<details><summary>{title}</summary>\n\n{fence}diff\n{body}{fence}\n\n</details>\n\n")
}

/// Room left in a chunk for the continuation header.
pub(super) const HEADER_ROOM: usize = 200;

pub(super) fn budget() -> usize {
    MARKDOWN_LIMIT - 1 - HEADER_ROOM
}

/// Cuts an over-long piece of text to fit `max` bytes, on a line boundary, saying so.
pub(super) fn truncate_lines(s: &str, max: usize) -> String {
    let mut out = String::new();
    let total = s.lines().count();
    let mut kept = 0;
    for l in s.lines() {
        if out.len() + l.len() + 200 > max {
            break;
        }
        out.push_str(l);
        out.push('\n');
        kept += 1;
    }
    out.push_str(&format!(
        "# … {} more lines cut to fit a comment; see `amlctl plan --format json`\n",
        total - kept
    ));
    out
}

/// The plan as Markdown for a pull-request comment or `$GITHUB_STEP_SUMMARY`: a summary line,
/// a warning block when anything is destroyed or replaced, then one `<details>` per workspace.
/// Split into chunks, each shorter than [`MARKDOWN_LIMIT`] characters.
pub fn markdown(plan: &Plan) -> Vec<String> {
    let mut blocks: Vec<String> = split_text(&md_head(plan));
    workspace_blocks(plan, &mut blocks);
    unmanaged_blocks(plan, &mut blocks);
    pack(blocks)
}

/// The head of the Markdown plan: the summary line, then warnings (destroys, errors, notes),
/// the pre-flight section and the keys that cannot be verified.
fn md_head(plan: &Plan) -> String {
    let summary = plan.summary();
    let mut head = String::from("### amlctl plan\n\n");
    if plan.has_changes() || !plan.errors.is_empty() {
        head.push_str(&format!("**{}**", summary.line()));
    } else {
        head.push_str("**No changes.** Live state matches the manifests.");
    }
    head.push_str("\n\n");
    let destroyed: Vec<String> = plan
        .entries
        .iter()
        .filter(|e| e.actions.iter().any(|a| a.kind().destroys()))
        .map(|e| format!("{} ({})", md_code(&e.address), main_action(e)))
        .collect();
    if !destroyed.is_empty() {
        head.push_str(&format!(
            "> [!WARNING]\n> This plan destroys or replaces {} compute{}: {}.\n\n",
            destroyed.len(),
            if destroyed.len() == 1 { "" } else { "s" },
            destroyed.join(", ")
        ));
    }
    if !plan.errors.is_empty() {
        head.push_str(&format!(
            "> [!CAUTION]\n> {} error{}: this plan cannot be applied.\n",
            plan.errors.len(),
            if plan.errors.len() == 1 { "" } else { "s" }
        ));
        for e in &plan.errors {
            let mut row = format!("> - {}: {}", md_code(&e.address), md_text(&e.message));
            if let Some(h) = &e.hint {
                row.push_str(&format!(" — hint: {}", md_text(h)));
            }
            if let Some(s) = &e.source {
                row.push_str(&format!(" ({})", md_code(&s.to_string())));
            }
            head.push_str(&row);
            head.push('\n');
        }
        head.push('\n');
    }
    for w in &plan.warnings {
        head.push_str(&format!("> [!NOTE]\n> {}\n\n", md_text(w)));
    }
    if let Some(pf) = &plan.preflight {
        head.push_str("#### Pre-flight\n\n");
        for l in preflight_lines(pf) {
            head.push_str(&format!("- {}\n", md_text(&l)));
        }
        head.push('\n');
    }
    let unverifiable = unverifiable_lines(plan);
    if !unverifiable.is_empty() {
        head.push_str(&format!("> [!NOTE]\n> {}\n", md_text(UNVERIFIABLE_HEAD)));
        for (address, keys) in &unverifiable {
            let keys: Vec<String> = keys.iter().map(|k| md_code(k)).collect();
            head.push_str(&format!("> - {}: {}\n", md_code(address), keys.join(", ")));
        }
        head.push('\n');
    }
    head
}

/// One `<details>` per workspace (several when its entries do not fit one chunk).
fn workspace_blocks(plan: &Plan, blocks: &mut Vec<String>) {
    for (ws, entries) in by_workspace(plan) {
        let changed: Vec<&PlanEntry> = entries
            .iter()
            .copied()
            .filter(|e| e.has_changes())
            .collect();
        let unchanged = entries.len() - changed.len();
        let mut title = format!(
            "workspace <code>{}</code>: {}",
            md_text(ws),
            counts(&changed)
        );
        if unchanged > 0 {
            title.push_str(&format!(", {unchanged} up to date"));
        }
        if changed.is_empty() {
            blocks.push(format!(
                "<details><summary>{title}</summary>\n\nNo changes.\n\n</details>\n\n"
            ));
            continue;
        }
        // Pack entries into as few <details> as fit in a chunk.
        let room = budget() - title.len() - 200;
        let mut parts: Vec<String> = Vec::new();
        let mut cur = String::new();
        for e in changed {
            let mut text = md_entry(plan, e);
            text.push('\n');
            if text.len() > room {
                text = truncate_lines(&text, room);
            }
            if !cur.is_empty() && cur.len() + text.len() > room {
                parts.push(std::mem::take(&mut cur));
            }
            cur.push_str(&text);
        }
        if !cur.is_empty() {
            parts.push(cur);
        }
        let n = parts.len();
        for (i, body) in parts.into_iter().enumerate() {
            let t = if n > 1 {
                format!("{title} (part {} of {n})", i + 1)
            } else {
                title.clone()
            };
            blocks.push(details(&t, &body));
        }
    }
}

/// The unmanaged computes, in as many `<details>` as they need.
fn unmanaged_blocks(plan: &Plan, blocks: &mut Vec<String>) {
    if plan.unmanaged.is_empty() {
        return;
    }
    let mut body = String::new();
    for u in &plan.unmanaged {
        body.push_str(&format!(
            "- {} ({}): {}\n",
            md_code(&u.address),
            md_text(&u.compute_type),
            md_text(&u.note)
        ));
    }
    let title = format!(
        "{} unmanaged compute{} (left alone)",
        plan.unmanaged.len(),
        if plan.unmanaged.len() == 1 { "" } else { "s" }
    );
    let room = budget() - title.len() - 100;
    for piece in split_text_at(&body, room) {
        blocks.push(format!(
            "<details><summary>{title}</summary>\n\n{piece}\n</details>\n\n"
        ));
    }
}

/// Packs blocks into chunks under [`MARKDOWN_LIMIT`], with continuation headers when there
/// are several.
fn pack(blocks: Vec<String>) -> Vec<String> {
    let mut chunks: Vec<String> = Vec::new();
    let mut cur = String::new();
    for b in blocks {
        if !cur.is_empty() && cur.len() + b.len() > budget() {
            chunks.push(std::mem::take(&mut cur));
        }
        cur.push_str(&b);
    }
    if !cur.is_empty() || chunks.is_empty() {
        chunks.push(cur);
    }
    let n = chunks.len();
    if n > 1 {
        for (i, c) in chunks.iter_mut().enumerate() {
            if i > 0 {
                c.insert_str(
                    0,
                    &format!("### amlctl plan (part {} of {n}, continued)\n\n", i + 1),
                );
            } else {
                c.push_str(&format!(
                    "_Continued in {} more comment{}._\n",
                    n - 1,
                    if n == 2 { "" } else { "s" }
                ));
            }
        }
    }
    chunks
}

pub(super) fn split_text(s: &str) -> Vec<String> {
    split_text_at(s, budget())
}

/// Splits text on line boundaries into pieces of at most `max` bytes (a longer line is cut).
pub(super) fn split_text_at(s: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for l in s.split_inclusive('\n') {
        let l = if l.len() > max {
            let mut end = max.saturating_sub(4);
            while !l.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}…\n", &l[..end])
        } else {
            l.to_string()
        };
        if !cur.is_empty() && cur.len() + l.len() > max {
            out.push(std::mem::take(&mut cur));
        }
        cur.push_str(&l);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}
