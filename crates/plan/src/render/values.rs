//! The lines of one value change: scalars on one line, multi-line strings as a line diff,
//! lists element by element (aligned by name or by meaning), maps key by key.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};
use similar::{ChangeTag, TextDiff};

use super::format::{Line, Tone, line};
use crate::normalize::{canon, same};
use crate::planner::show;

/// A value inside a nested block: strings quoted (with `"` and `\` escaped), the rest as
/// compact JSON.
pub(super) fn lit(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "null".to_string(),
        Some(Value::String(s)) => format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")),
        Some(other) => other.to_string(),
    }
}

/// How a key and its value are written: top-level manifest keys as `key: value` (bare
/// strings), keys inside a nested block as `key = "value"`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Style {
    Colon,
    Assign,
}

pub(super) fn scalar_text(style: Style, label: &str, v: Option<&Value>) -> String {
    match style {
        Style::Colon => format!("{label}: {}", show(v)),
        Style::Assign => format!("{label} = {}", lit(v)),
    }
}

pub(super) fn header(style: Style, label: &str, list: bool) -> (String, &'static str) {
    match (style, list) {
        (Style::Colon, _) => (format!("{label}:"), ""),
        (Style::Assign, true) => (format!("{label} ["), "]"),
        (Style::Assign, false) => (format!("{label} {{"), "}"),
    }
}

pub(super) fn hidden_note(n: usize, what: &str, indent: usize, out: &mut Vec<Line>) {
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

pub(super) fn sym_tone(before: Option<&Value>, after: Option<&Value>) -> (&'static str, Tone) {
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
pub(super) fn value_lines(
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
pub(super) fn map_lines(
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
pub(super) enum Elem {
    Same,
    Added(usize),
    Removed(usize),
    Changed(usize, usize),
}

/// Aligns two lists on the elements that mean the same (longest common subsequence), then pairs
/// the leftovers of each gap in order as changed elements.
pub(super) fn align(path: &[&str], before: &[Value], after: &[Value]) -> Vec<Elem> {
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
pub(super) fn natural_key(before: &[Value], after: &[Value]) -> bool {
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
pub(super) fn align_by_name(before: &[Value], after: &[Value]) -> Vec<Elem> {
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
pub(super) fn identity_id(e: &Value) -> String {
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
pub(super) fn identity_lines(
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
pub(super) fn list_lines(
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
