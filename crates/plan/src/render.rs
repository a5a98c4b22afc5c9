//! Renderers: text (like `terraform plan`), Markdown (pull-request comments, job summaries) and
//! JSON (machines). None of them ever prints a secret value: plans hold only placeholders.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use owo_colors::OwoColorize;
use serde_json::{Map, Value, json};
use similar::{ChangeTag, TextDiff};

use crate::model::{Action, ActionKind, Change, Plan, PlanEntry, Policy};
use crate::normalize::{canon, same};
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
    let tone = match a.kind() {
        ActionKind::Add => Tone::Add,
        ActionKind::Change => Tone::Change,
        ActionKind::Replace => Tone::Replace,
        ActionKind::Remove => Tone::Remove,
        ActionKind::Start | ActionKind::Stop => Tone::Power,
        ActionKind::Wait => Tone::Wait,
        ActionKind::NoOp => Tone::Plain,
    };
    (a.symbol(), tone)
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

/// Escapes what could hide, rewrite or recolour output: `\r`, `\n`, `\t` and every other C0 or
/// C1 control character (ANSI escapes start with one), DEL, and the Unicode bidi controls
/// (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C) and line separators (U+2028,
/// U+2029). They are shown as `\r`, `\n`, `\t` or `\u{1b}`. Every user or service string the
/// renderers (and `apply`'s progress and report lines) print goes through this function.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{061c}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// A string for Markdown prose (outside code blocks): [`escape`]d, on one line, with `&`, `<`
/// and `>` as entities so it cannot open or close HTML (`</details>`, comments, images).
fn md_text(s: &str) -> String {
    html_escape(&escape(&s.replace('\n', " ")))
}

/// A string as a Markdown inline code span whose backtick fence is longer than any backtick run
/// inside it, so the string cannot close it.
fn md_code(s: &str) -> String {
    let s = escape(s);
    let fence = "`".repeat(longest_backtick_run(&s) + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{s}{pad}{fence}")
}

fn longest_backtick_run(s: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in s.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

/// Top-level keys holding free-form maps: their changes are shown grouped, one line per key.
const MAP_KEYS: &[&str] = &["tags", "properties"];

/// A value inside a nested block: strings quoted (with `"` and `\` escaped), the rest as
/// compact JSON.
fn lit(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "null".to_string(),
        Some(Value::String(s)) => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
        Some(other) => other.to_string(),
    }
}

/// How a key and its value are written: top-level manifest keys as `key: value` (bare
/// strings), keys inside a nested block as `key = "value"`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Colon,
    Assign,
}

fn scalar_text(style: Style, label: &str, v: Option<&Value>) -> String {
    match style {
        Style::Colon => format!("{label}: {}", show(v)),
        Style::Assign => format!("{label} = {}", lit(v)),
    }
}

fn header(style: Style, label: &str, list: bool) -> (String, &'static str) {
    match (style, list) {
        (Style::Colon, _) => (format!("{label}:"), ""),
        (Style::Assign, true) => (format!("{label} ["), "]"),
        (Style::Assign, false) => (format!("{label} {{"), "}"),
    }
}

fn hidden_note(n: usize, what: &str, indent: usize, out: &mut Vec<Line>) {
    if n > 0 {
        out.push(line(
            Tone::Note,
            indent,
            "#",
            format!(
                "({n} unchanged {what}{} hidden)",
                if n == 1 { "" } else { "s" }
            ),
        ));
    }
}

fn sym_tone(before: Option<&Value>, after: Option<&Value>) -> (&'static str, Tone) {
    match (before, after) {
        (None, Some(_)) => ("+", Tone::Add),
        (Some(_), None) => ("-", Tone::Remove),
        _ => ("~", Tone::Change),
    }
}

/// The lines of one value change at `path` (manifest key segments), shown under `label`:
/// scalars on one line, multi-line strings as a line diff, lists element by element and maps key
/// by key, each changed element showing only its changed fields.
#[allow(clippy::too_many_arguments)]
fn value_lines(
    style: Style,
    label: &str,
    path: &[&str],
    before: Option<&Value>,
    after: Option<&Value>,
    indent: usize,
    note: &str,
    out: &mut Vec<Line>,
) {
    let (sym, tone) = sym_tone(before, after);
    let nested = |v: Option<&Value>| matches!(v, Some(Value::Array(_) | Value::Object(_)));
    let text_like = |v: Option<&Value>| matches!(v, None | Some(Value::String(_)));
    let multi = |v: Option<&Value>| matches!(v, Some(Value::String(s)) if s.contains('\n'));
    let empty_obj = |v: Option<&Value>| matches!(v, Some(Value::Object(m)) if m.is_empty());
    let shape_ok = |kind: fn(&Value) -> bool| {
        before.is_none_or(kind) && after.is_none_or(kind) && (before.is_some() || after.is_some())
    };
    if (multi(before) || multi(after)) && text_like(before) && text_like(after) {
        let (head, close) = header(style, label, false);
        out.push(line(tone, indent, sym, format!("{head}{note}")));
        let old = before.and_then(Value::as_str).unwrap_or_default();
        let new = after.and_then(Value::as_str).unwrap_or_default();
        for ch in TextDiff::from_lines(old, new).iter_all_changes() {
            let text = ch
                .to_string_lossy()
                .trim_end_matches(['\n', '\r'])
                .to_string();
            let (s, t) = match ch.tag() {
                ChangeTag::Delete => ("-", Tone::Remove),
                ChangeTag::Insert => ("+", Tone::Add),
                ChangeTag::Equal => (" ", Tone::Plain),
            };
            out.push(line(t, indent + 4, s, text));
        }
        if !close.is_empty() {
            out.push(line(Tone::Plain, indent, " ", close));
        }
        return;
    }
    // Lists of scalars (hours, week days) read best on one line; identities are always a set.
    let scalars = |v: Option<&Value>| {
        v.and_then(Value::as_array)
            .is_none_or(|a| a.iter().all(|e| !e.is_array() && !e.is_object()))
    };
    let arrays = shape_ok(Value::is_array)
        && (path.last() == Some(&"user_assigned_identities")
            || !(scalars(before) && scalars(after)));
    let objects = shape_ok(Value::is_object) && !empty_obj(before) && !empty_obj(after);
    if (nested(before) || nested(after)) && (arrays || objects) {
        let (head, close) = header(style, label, arrays);
        out.push(line(tone, indent, sym, format!("{head}{note}")));
        if arrays {
            let empty = Vec::new();
            let b = before.and_then(Value::as_array).unwrap_or(&empty);
            let a = after.and_then(Value::as_array).unwrap_or(&empty);
            list_lines(path, b, a, indent + 4, out);
        } else {
            let empty = Map::new();
            let b = before.and_then(Value::as_object).unwrap_or(&empty);
            let a = after.and_then(Value::as_object).unwrap_or(&empty);
            map_lines(
                path,
                b,
                a,
                before.is_some() && after.is_some(),
                indent + 4,
                out,
            );
        }
        if !close.is_empty() {
            out.push(line(Tone::Plain, indent, " ", close));
        }
        return;
    }
    let text = match (before, after) {
        (Some(b), Some(a)) => match style {
            Style::Colon => format!("{label}: {} → {}", show(Some(b)), show(Some(a))),
            Style::Assign => format!("{label} = {} → {}", lit(Some(b)), lit(Some(a))),
        },
        (None, v) | (v, None) => scalar_text(style, label, v),
    };
    out.push(line(tone, indent, sym, format!("{text}{note}")));
}

/// Map entries key by key (`+ team = "ml"`, `~ owner = "a" → "b"`, `- old = "x"`); when both
/// sides exist, only the keys that differ are shown.
fn map_lines(
    path: &[&str],
    before: &Map<String, Value>,
    after: &Map<String, Value>,
    both: bool,
    indent: usize,
    out: &mut Vec<Line>,
) {
    let mut keys: Vec<&String> = after.keys().collect();
    keys.extend(before.keys().filter(|k| !after.contains_key(*k)));
    for k in keys {
        let mut p = path.to_vec();
        p.push(k);
        let (b, a) = (before.get(k), after.get(k));
        if both {
            match (b, a) {
                (_, Some(av)) if same(&p, av, b) => continue,
                // Only the keys the manifest wrote are compared.
                (Some(_), None) => continue,
                _ => {}
            }
        }
        value_lines(Style::Assign, k, &p, b, a, indent, "", out);
    }
}

/// What became of one list element.
enum Elem {
    Same,
    Added(usize),
    Removed(usize),
    Changed(usize, usize),
}

/// Aligns two lists on the elements that mean the same (longest common subsequence), then pairs
/// the leftovers of each gap in order as changed elements.
fn align(path: &[&str], before: &[Value], after: &[Value]) -> Vec<Elem> {
    let (n, m) = (before.len(), after.len());
    let eq = |i: usize, j: usize| same(path, &after[j], Some(&before[i]));
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if eq(i, j) {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut out = Vec::new();
    let (mut dels, mut ins) = (Vec::new(), Vec::new());
    let flush = |dels: &mut Vec<usize>, ins: &mut Vec<usize>, out: &mut Vec<Elem>| {
        let k = dels.len().min(ins.len());
        for (d, i) in dels.iter().zip(ins.iter()) {
            out.push(Elem::Changed(*d, *i));
        }
        out.extend(dels.drain(..).skip(k).map(Elem::Removed));
        out.extend(ins.drain(..).skip(k).map(Elem::Added));
    };
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && eq(i, j) {
            flush(&mut dels, &mut ins, &mut out);
            out.push(Elem::Same);
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            ins.push(j);
            j += 1;
        } else {
            dels.push(i);
            i += 1;
        }
    }
    flush(&mut dels, &mut ins, &mut out);
    out
}

/// The natural key of list elements, when every element on both sides is an object with a
/// distinct string `name`.
fn natural_key(before: &[Value], after: &[Value]) -> bool {
    [before, after].iter().all(|side| {
        let names: Vec<&str> = side
            .iter()
            .filter_map(|e| e.get("name").and_then(Value::as_str))
            .collect();
        let distinct: BTreeSet<&str> = names.iter().copied().collect();
        names.len() == side.len() && distinct.len() == names.len()
    }) && !(before.is_empty() && after.is_empty())
}

/// Aligns two lists of named objects on `name`.
fn align_by_name(before: &[Value], after: &[Value]) -> Vec<Elem> {
    let name = |e: &Value| e.get("name").and_then(Value::as_str).map(str::to_string);
    let mut out = Vec::new();
    for (j, a) in after.iter().enumerate() {
        match before.iter().position(|b| name(b) == name(a)) {
            Some(i) => out.push(Elem::Changed(i, j)),
            None => out.push(Elem::Added(j)),
        }
    }
    for (i, b) in before.iter().enumerate() {
        if !after.iter().any(|a| name(a) == name(b)) {
            out.push(Elem::Removed(i));
        }
    }
    out
}

/// The ARM id of a user-assigned identity element (`{resource_id: …}` or a bare id).
fn identity_id(e: &Value) -> String {
    match e {
        Value::Object(m) => m
            .get("resource_id")
            .or_else(|| m.get("id"))
            .map_or_else(|| e.to_string(), |v| show(Some(v))),
        other => show(Some(other)),
    }
}

/// User-assigned identities as a set: one line per identity added or removed, by name; the full
/// id is added when two identities of the plan share a name.
fn identity_lines(
    path: &[&str],
    before: &[Value],
    after: &[Value],
    indent: usize,
    out: &mut Vec<Line>,
) {
    let canon_of =
        |e: &Value| canon(path, &Value::Array(vec![Value::String(identity_id(e))])).to_string();
    let name_of = |id: &str| {
        id.trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(id)
            .to_string()
    };
    let b: Vec<(String, String)> = before
        .iter()
        .map(|e| (canon_of(e), identity_id(e)))
        .collect();
    let a: Vec<(String, String)> = after
        .iter()
        .map(|e| (canon_of(e), identity_id(e)))
        .collect();
    let mut names: BTreeMap<String, BTreeSet<&String>> = BTreeMap::new();
    for (c, id) in b.iter().chain(a.iter()) {
        names
            .entry(name_of(id).to_ascii_lowercase())
            .or_default()
            .insert(c);
    }
    let label = |id: &str| {
        let n = name_of(id);
        if names
            .get(&n.to_ascii_lowercase())
            .is_some_and(|s| s.len() > 1)
        {
            format!("{n} ({id})")
        } else {
            n
        }
    };
    let mut hidden = 0;
    for (c, id) in &a {
        if b.iter().any(|(bc, _)| bc == c) {
            hidden += 1;
        } else {
            out.push(line(Tone::Add, indent, "+", label(id)));
        }
    }
    for (c, id) in &b {
        if !a.iter().any(|(ac, _)| ac == c) {
            out.push(line(Tone::Remove, indent, "-", label(id)));
        }
    }
    hidden_note(hidden, "identity", indent, out);
}

/// List elements one by one: identities by name, named objects by `name`, the rest by position.
fn list_lines(
    path: &[&str],
    before: &[Value],
    after: &[Value],
    indent: usize,
    out: &mut Vec<Line>,
) {
    if path.last() == Some(&"user_assigned_identities") {
        identity_lines(path, before, after, indent, out);
        return;
    }
    let named = natural_key(before, after);
    let ops = if named {
        align_by_name(before, after)
    } else {
        align(path, before, after)
    };
    let label = |e: &Value, idx: usize| {
        if named {
            format!("[name = {}]", lit(e.get("name")))
        } else {
            format!("[{idx}]")
        }
    };
    let mut hidden = 0;
    for op in ops {
        match op {
            Elem::Same => hidden += 1,
            Elem::Added(j) => value_lines(
                Style::Assign,
                &label(&after[j], j),
                path,
                None,
                Some(&after[j]),
                indent,
                "",
                out,
            ),
            Elem::Removed(i) => value_lines(
                Style::Assign,
                &label(&before[i], i),
                path,
                Some(&before[i]),
                None,
                indent,
                "",
                out,
            ),
            Elem::Changed(i, j) => {
                let (b, a) = (&before[i], &after[j]);
                if same(path, a, Some(b)) {
                    hidden += 1;
                } else {
                    value_lines(
                        Style::Assign,
                        &label(a, j),
                        path,
                        Some(b),
                        Some(a),
                        indent,
                        "",
                        out,
                    );
                }
            }
        }
    }
    hidden_note(hidden, "element", indent, out);
}

fn change_lines(c: &Change, entry_action: Action, indent: usize, label: &str, out: &mut Vec<Line>) {
    let note = if indent == 6 && entry_action == Action::Replace && c.policy == Policy::Replace {
        "   # forces replacement"
    } else {
        ""
    };
    let style = if indent == 6 {
        Style::Colon
    } else {
        Style::Assign
    };
    if c.sensitive {
        let (sym, tone) = sym_tone(c.before.as_ref(), c.after.as_ref());
        let sep = if style == Style::Colon { ":" } else { " =" };
        let from = c
            .source
            .as_ref()
            .map(|s| format!(" from {}", escape(s)))
            .unwrap_or_default();
        out.push(line(
            tone,
            indent,
            sym,
            format!("{label}{sep} (sensitive value{from}){note}"),
        ));
        return;
    }
    let path: Vec<&str> = c.key.split('.').collect();
    value_lines(
        style,
        label,
        &path,
        c.before.as_ref(),
        c.after.as_ref(),
        indent,
        note,
        out,
    );
}

/// The map a change belongs to, when it is grouped (`tags.team` → `tags`).
fn map_group(key: &str) -> Option<&'static str> {
    MAP_KEYS
        .iter()
        .find(|m| key.len() > m.len() && key.starts_with(*m) && key.as_bytes()[m.len()] == b'.')
        .copied()
}

fn entry_lines(e: &PlanEntry) -> Vec<Line> {
    let main = main_action(e);
    let (sym, tone) = symbol_of(main);
    let mut out = vec![line(tone, 0, sym, headline(e))];
    out.push(line(Tone::Note, 6, "#", e.reason.clone()));
    if matches!(main, Action::Wait | Action::NoOp) {
        return out;
    }
    let mut i = 0;
    while i < e.changes.len() {
        let c = &e.changes[i];
        let Some(group) = map_group(&c.key) else {
            change_lines(c, main, 6, &c.key, &mut out);
            i += 1;
            continue;
        };
        let members: Vec<&Change> = e.changes[i..]
            .iter()
            .take_while(|c| map_group(&c.key) == Some(group))
            .collect();
        i += members.len();
        let all = |f: fn(&Change) -> bool| members.iter().all(|c| f(c));
        let (gs, gt) = if all(|c| c.before.is_none()) {
            ("+", Tone::Add)
        } else if all(|c| c.after.is_none()) {
            ("-", Tone::Remove)
        } else {
            ("~", Tone::Change)
        };
        let forces = main == Action::Replace && members.iter().any(|c| c.policy == Policy::Replace);
        let note = if forces {
            "   # forces replacement"
        } else {
            ""
        };
        out.push(line(gt, 6, gs, format!("{group}:{note}")));
        for c in members {
            let sub = &c.key[group.len() + 1..];
            change_lines(c, main, 10, sub, &mut out);
        }
    }
    out
}

/// [`entry_lines`] with the entry's drift attribution ([`Plan::drift`]) under its headline.
fn entry_lines_in(plan: &Plan, e: &PlanEntry) -> Vec<Line> {
    let mut lines = entry_lines(e);
    if let Some(d) = plan.drift.get(&e.address) {
        lines.insert(1, line(Tone::Note, 6, "#", d.describe()));
    }
    lines
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
    let body = format!("{pad}{sym} {}", escape(&l.text));
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
    out
}

/// The lines of the pre-flight section: per subscription/location, each quota touched with
/// free → after-apply vCPUs, then every failed check with its manifest position.
fn preflight_lines(pf: &crate::preflight::Preflight) -> Vec<String> {
    let mut out = Vec::new();
    for q in &pf.quotas {
        out.push(format!(
            "{} / {}: {}: {} → {} vCPUs free (limit {})",
            q.subscription_id, q.location, q.quota, q.free, q.free_after, q.limit
        ));
    }
    if pf.references_checked > 0 {
        out.push(format!(
            "{} referenced resource{} checked",
            pf.references_checked,
            if pf.references_checked == 1 { "" } else { "s" }
        ));
    }
    for f in &pf.findings {
        let at = f
            .position
            .as_ref()
            .map(|p| format!(" (at {p})"))
            .unwrap_or_default();
        out.push(format!("{}: {}: {}{at}", f.severity, f.address, f.message));
    }
    if out.is_empty() {
        out.push("all checks passed".into());
    }
    out
}

/// Heading of the list of declared keys the service does not return.
const UNVERIFIABLE_HEAD: &str = "Cannot be verified after creation (the service does not return these declared keys; never a diff):";

/// `(address, keys)` of every entry with declared keys that cannot be verified, by address.
fn unverifiable_lines(plan: &Plan) -> Vec<(&str, &[String])> {
    plan.entries
        .iter()
        .filter(|e| !e.unverifiable.is_empty())
        .map(|e| (e.address.as_str(), e.unverifiable.as_slice()))
        .collect()
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

fn md_entry(plan: &Plan, e: &PlanEntry) -> String {
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

fn fence_for(content: &str) -> String {
    "`".repeat((longest_backtick_run(content) + 1).max(3))
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

    if !plan.unmanaged.is_empty() {
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
            let mut entry = json!({
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
                "unverifiable": e.unverifiable,
            });
            if let (Some(d), Value::Object(m)) = (plan.drift.get(&e.address), &mut entry) {
                m.insert("drift".into(), json!(d));
            }
            entry
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
    if let (Some(pf), Value::Object(m)) = (&plan.preflight, &mut out) {
        m.insert("preflight".into(), json!(pf));
    }
    if let (Some(c), Value::Object(m)) = (&plan.created, &mut out) {
        m.insert("created".into(), Value::String(c.clone()));
    }
    out
}
