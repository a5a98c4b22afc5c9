//! Renderers: text (like `terraform plan`), Markdown (pull-request comments, job summaries) and
//! JSON (machines). None of them ever prints a secret value: plans hold only placeholders.

use std::collections::BTreeMap;

use owo_colors::OwoColorize;
use serde_json::{Value, json};
use similar::{ChangeTag, TextDiff};

use crate::model::{Action, Change, Plan, PlanEntry, Policy};
use crate::planner::show;

/// Upper bound (exclusive) of one Markdown chunk: GitHub rejects comments of 65,536 characters
/// or more.
pub const MARKDOWN_LIMIT: usize = 65_536;

/// What a line is, for colour (text) and the diff marker (Markdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tone {
    Add,
    Remove,
    Change,
    Replace,
    Power,
    Wait,
    Note,
    Plain,
}

struct Line {
    tone: Tone,
    indent: usize,
    symbol: &'static str,
    text: String,
}

fn line(tone: Tone, indent: usize, symbol: &'static str, text: impl Into<String>) -> Line {
    Line {
        tone,
        indent,
        symbol,
        text: text.into(),
    }
}

fn main_action(e: &PlanEntry) -> Action {
    for a in [
        Action::Replace,
        Action::Create,
        Action::Attach,
        Action::Delete,
        Action::Detach,
        Action::Update,
        Action::Wait,
        Action::Start,
        Action::Stop,
    ] {
        if e.actions.contains(&a) {
            return a;
        }
    }
    Action::NoOp
}

fn symbol_of(a: Action) -> (&'static str, Tone) {
    match a {
        Action::Create | Action::Attach => ("+", Tone::Add),
        Action::Update => ("~", Tone::Change),
        Action::Replace => ("-/+", Tone::Replace),
        Action::Delete | Action::Detach => ("-", Tone::Remove),
        Action::Start | Action::Stop => (">", Tone::Power),
        Action::Wait => ("…", Tone::Wait),
        Action::NoOp => (" ", Tone::Plain),
    }
}

fn headline(e: &PlanEntry) -> String {
    let ty = e
        .compute_type
        .map_or_else(String::new, |t| format!(" ({})", t.manifest_name()));
    let method = e
        .steps
        .iter()
        .find(|s| s.action == Action::Update)
        .map(|s| s.method.as_str())
        .unwrap_or("PUT");
    let mut what = match main_action(e) {
        Action::Create => "will be created".to_string(),
        Action::Attach => "will be attached".to_string(),
        Action::Update => format!("will be updated in place ({method})"),
        Action::Replace => {
            if e.steps.iter().any(|s| {
                s.query
                    .get("underlyingResourceAction")
                    .is_some_and(|u| u == "Detach")
            }) {
                "must be replaced (detach, then attach)".to_string()
            } else {
                "must be replaced (delete, then create)".to_string()
            }
        }
        Action::Delete => "will be deleted".to_string(),
        Action::Detach => "will be detached (the resource itself is kept)".to_string(),
        Action::Start => "will be started".to_string(),
        Action::Stop => "will be stopped".to_string(),
        Action::Wait => "is busy: waiting".to_string(),
        Action::NoOp => "is up to date".to_string(),
    };
    let main = main_action(e);
    for extra in [Action::Start, Action::Stop] {
        if main != extra && e.actions.contains(&extra) {
            what.push_str(&format!(
                ", then {}",
                if extra == Action::Start {
                    "started"
                } else {
                    "stopped"
                }
            ));
        }
    }
    format!("{}{ty} {what}", e.address)
}

/// Multi-line form of a value, when it does not fit on one line.
fn multiline(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if s.contains('\n') => Some(s.clone()),
        v @ (Value::Object(_) | Value::Array(_)) if v.to_string().chars().count() > 60 => {
            serde_json::to_string_pretty(v).ok()
        }
        _ => None,
    }
}

fn change_lines(c: &Change, entry_action: Action, out: &mut Vec<Line>) {
    let (sym, tone) = match (&c.before, &c.after) {
        (None, Some(_)) => ("+", Tone::Add),
        (Some(_), None) => ("-", Tone::Remove),
        _ => ("~", Tone::Change),
    };
    let note = if entry_action == Action::Replace && c.policy == Policy::Replace {
        "   # forces replacement"
    } else {
        ""
    };
    if c.sensitive {
        let from = c
            .source
            .as_ref()
            .map(|s| format!(" from {s}"))
            .unwrap_or_default();
        out.push(line(
            tone,
            6,
            sym,
            format!("{}: (sensitive value{from}){note}", c.key),
        ));
        return;
    }
    let (mb, ma) = (multiline(c.before.as_ref()), multiline(c.after.as_ref()));
    if mb.is_none() && ma.is_none() {
        let text = match (&c.before, &c.after) {
            (None, after) => format!("{}: {}", c.key, show(after.as_ref())),
            (before, None) => format!("{}: {}", c.key, show(before.as_ref())),
            (before, after) => format!(
                "{}: {} → {}",
                c.key,
                show(before.as_ref()),
                show(after.as_ref())
            ),
        };
        out.push(line(tone, 6, sym, format!("{text}{note}")));
        return;
    }
    out.push(line(tone, 6, sym, format!("{}:{note}", c.key)));
    let old = mb.unwrap_or_else(|| c.before.as_ref().map(|v| show(Some(v))).unwrap_or_default());
    let new = ma.unwrap_or_else(|| c.after.as_ref().map(|v| show(Some(v))).unwrap_or_default());
    let diff = TextDiff::from_lines(&old, &new);
    for ch in diff.iter_all_changes() {
        let text = ch
            .to_string_lossy()
            .trim_end_matches(['\n', '\r'])
            .to_string();
        let (s, t) = match ch.tag() {
            ChangeTag::Delete => ("-", Tone::Remove),
            ChangeTag::Insert => ("+", Tone::Add),
            ChangeTag::Equal => (" ", Tone::Plain),
        };
        out.push(line(t, 10, s, text));
    }
}

fn entry_lines(e: &PlanEntry) -> Vec<Line> {
    let main = main_action(e);
    let (sym, tone) = symbol_of(main);
    let mut out = vec![line(tone, 0, sym, headline(e))];
    out.push(line(Tone::Note, 6, "#", e.reason.clone()));
    if !matches!(main, Action::Wait | Action::NoOp) {
        for c in &e.changes {
            change_lines(c, main, &mut out);
        }
    }
    out
}

fn paint(color: bool, tone: Tone, s: &str) -> String {
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

fn text_line(l: &Line, color: bool) -> String {
    let pad = " ".repeat(l.indent);
    let sym = format!("{:>3}", l.symbol);
    let body = format!("{pad}{sym} {}", l.text);
    paint(color, l.tone, body.trim_end())
}

fn by_workspace(plan: &Plan) -> BTreeMap<&str, Vec<&PlanEntry>> {
    let mut m: BTreeMap<&str, Vec<&PlanEntry>> = BTreeMap::new();
    for e in &plan.entries {
        m.entry(e.workspace.as_str()).or_default().push(e);
    }
    m
}

/// The plan as text, like `terraform plan`; ANSI colours only when `color` is true.
pub fn text(plan: &Plan, color: bool) -> String {
    let mut out = String::new();
    let bold = |s: &str| {
        if color {
            s.bold().to_string()
        } else {
            s.to_string()
        }
    };
    let mut unchanged = 0usize;
    for (ws, entries) in by_workspace(plan) {
        let changed: Vec<&&PlanEntry> = entries.iter().filter(|e| e.has_changes()).collect();
        unchanged += entries.len() - changed.len();
        if changed.is_empty() {
            continue;
        }
        out.push_str(&bold(&format!("Workspace {ws}:")));
        out.push_str("\n\n");
        for e in changed {
            for l in entry_lines(e) {
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
    if !plan.unmanaged.is_empty() {
        out.push_str(&bold("Unmanaged computes (left alone):"));
        out.push('\n');
        for u in &plan.unmanaged {
            out.push_str(&format!(
                "    {} ({}): {}\n",
                u.address, u.compute_type, u.note
            ));
        }
        out.push('\n');
    }
    for w in &plan.warnings {
        let head = if color {
            "Warning:".yellow().bold().to_string()
        } else {
            "Warning:".to_string()
        };
        out.push_str(&format!("{head} {w}\n"));
    }
    if !plan.warnings.is_empty() {
        out.push('\n');
    }
    for e in &plan.errors {
        let head = if color {
            "Error:".red().bold().to_string()
        } else {
            "Error:".to_string()
        };
        out.push_str(&format!("{head} {}: {}\n", e.address, e.message));
        if let Some(h) = &e.hint {
            out.push_str(&format!("    hint: {h}\n"));
        }
        if let Some(s) = &e.source {
            out.push_str(&format!("    at {s}\n"));
        }
        out.push('\n');
    }
    let summary = plan.summary();
    if !plan.has_changes() && plan.errors.is_empty() {
        out.push_str(&bold("No changes. Live state matches the manifests."));
        out.push('\n');
    } else {
        if let Some(extra) = summary.extra() {
            out.push_str(&format!("Also: {extra}.\n"));
        }
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
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn diff_marker(t: Tone) -> char {
    match t {
        Tone::Add => '+',
        Tone::Remove => '-',
        Tone::Change | Tone::Replace => '!',
        Tone::Note => '#',
        Tone::Power | Tone::Wait | Tone::Plain => ' ',
    }
}

fn md_entry(e: &PlanEntry) -> String {
    let mut s = String::new();
    for l in entry_lines(e) {
        let pad = " ".repeat(l.indent);
        // The diff marker in column 0 already says + or -; keep the other symbols.
        let sym = match l.symbol {
            "+" | "-" | "#" | " " => " ",
            other => other,
        };
        let row = format!("{} {pad}{sym:>3} {}", diff_marker(l.tone), l.text);
        s.push_str(row.trim_end());
        s.push('\n');
    }
    s
}

fn fence_for(content: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in content.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

fn counts(entries: &[&PlanEntry]) -> String {
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

fn details(title: &str, body: &str) -> String {
    let fence = fence_for(body);
    format!("<details><summary>{title}</summary>\n\n{fence}diff\n{body}{fence}\n\n</details>\n\n")
}

/// Room left in a chunk for the continuation header.
const HEADER_ROOM: usize = 200;

fn budget() -> usize {
    MARKDOWN_LIMIT - 1 - HEADER_ROOM
}

/// Cuts an over-long piece of text to fit `max` bytes, on a line boundary, saying so.
fn truncate_lines(s: &str, max: usize) -> String {
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
    let mut blocks: Vec<String> = Vec::new();
    let summary = plan.summary();
    let mut head = String::from("### amlctl plan\n\n");
    if plan.has_changes() || !plan.errors.is_empty() {
        head.push_str(&format!("**{}**", summary.line()));
        if let Some(extra) = summary.extra() {
            head.push_str(&format!(" Also: {extra}."));
        }
    } else {
        head.push_str("**No changes.** Live state matches the manifests.");
    }
    head.push_str("\n\n");
    let destroyed: Vec<String> = plan
        .entries
        .iter()
        .filter(|e| {
            e.actions
                .iter()
                .any(|a| matches!(a, Action::Replace | Action::Delete | Action::Detach))
        })
        .map(|e| format!("`{}` ({})", e.address, main_action(e)))
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
            let mut row = format!("> - `{}`: {}", e.address, e.message.replace('\n', " "));
            if let Some(h) = &e.hint {
                row.push_str(&format!(" — hint: {}", h.replace('\n', " ")));
            }
            if let Some(s) = &e.source {
                row.push_str(&format!(" (`{s}`)"));
            }
            head.push_str(&row);
            head.push('\n');
        }
        head.push('\n');
    }
    for w in &plan.warnings {
        head.push_str(&format!("> [!NOTE]\n> {}\n\n", w.replace('\n', " ")));
    }
    for piece in split_text(&head) {
        blocks.push(piece);
    }

    for (ws, entries) in by_workspace(plan) {
        let changed: Vec<&PlanEntry> = entries
            .iter()
            .copied()
            .filter(|e| e.has_changes())
            .collect();
        let unchanged = entries.len() - changed.len();
        let mut title = format!(
            "workspace <code>{}</code>: {}",
            html_escape(ws),
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
            let mut text = md_entry(e);
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

    if !plan.unmanaged.is_empty() {
        let mut body = String::new();
        for u in &plan.unmanaged {
            body.push_str(&format!(
                "- `{}` ({}): {}\n",
                u.address,
                html_escape(&u.compute_type),
                html_escape(&u.note)
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

    // Pack blocks into chunks.
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

fn split_text(s: &str) -> Vec<String> {
    split_text_at(s, budget())
}

/// Splits text on line boundaries into pieces of at most `max` bytes (a longer line is cut).
fn split_text_at(s: &str, max: usize) -> Vec<String> {
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

/// The plan as JSON: `format_version`, `summary`, `entries[]` (with `request`: the ARM requests
/// `apply` will send, secrets `"<redacted>"`), `errors`, `warnings`, `unmanaged`.
pub fn json(plan: &Plan) -> Value {
    let entries: Vec<Value> = plan
        .entries
        .iter()
        .map(|e| {
            let request: Vec<Value> = e
                .steps
                .iter()
                .map(|s| {
                    json!({
                        "action": s.action,
                        "method": s.method,
                        "path": s.path,
                        "query": s.query,
                        "body": s.body,
                    })
                })
                .collect();
            json!({
                "address": e.address,
                "workspace": e.workspace,
                "name": e.name,
                "compute_type": e.compute_type,
                "actions": e.actions,
                "reason": e.reason,
                "changes": e.changes,
                "before": e.before,
                "after": e.after,
                "request": request,
                "live_fingerprint": e.live_fingerprint,
                "source": e.source,
            })
        })
        .collect();
    let mut out = json!({
        "format_version": plan.format_version,
        "summary": plan.summary(),
        "has_changes": plan.has_changes(),
        "entries": entries,
        "errors": plan.errors,
        "warnings": plan.warnings,
        "unmanaged": plan.unmanaged,
    });
    if let (Some(c), Value::Object(m)) = (&plan.created, &mut out) {
        m.insert("created".into(), Value::String(c.clone()));
    }
    out
}
