//! Values and changes in words, for reasons and change lines.

use serde_json::Value;

use crate::model::Change;

/// A value in a reason or a change line: strings bare, the rest as compact JSON.
pub(crate) fn show(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "(none)".to_string(),
        Some(Value::String(s)) if s.is_empty() => "\"\"".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

pub(super) fn short(v: Option<&Value>) -> String {
    let s = show(v).replace('\n', "⏎");
    let n = s.chars().count();
    if n > 60 {
        // Keep both ends: ARM ids differ at the end, sentences at the start.
        let head: String = s.chars().take(20).collect();
        let tail: String = s.chars().skip(n - 39).collect();
        format!("{head}…{tail}")
    } else {
        s
    }
}

pub(super) fn describe_change(c: &Change) -> String {
    if c.sensitive {
        return format!("{} (secret)", c.key);
    }
    let structured = |v: &Option<Value>| match v {
        Some(Value::Object(_) | Value::Array(_)) => true,
        Some(Value::String(s)) => s.contains('\n'),
        _ => false,
    };
    if structured(&c.before) || structured(&c.after) {
        return match (&c.before, &c.after) {
            (None, _) => format!("{} added", c.key),
            (_, None) => format!("{} removed", c.key),
            _ => format!("{} changed", c.key),
        };
    }
    format!(
        "{} {} → {}",
        c.key,
        short(c.before.as_ref()),
        short(c.after.as_ref())
    )
}
