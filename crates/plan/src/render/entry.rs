//! One plan entry as lines (headline, reason, changes grouped by map), shared by the text and
//! Markdown renderers, and the sections both print (pre-flight, unverifiable keys).

use std::collections::BTreeMap;

use amlctl_vocab::KeyPath;

use super::format::{Line, Tone, escape, line};
use super::values::{Style, sym_tone, value_lines};
use crate::model::{Action, ActionKind, Change, Plan, PlanEntry, Policy};

pub(super) fn main_action(e: &PlanEntry) -> Action {
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

pub(super) fn symbol_of(a: Action) -> (&'static str, Tone) {
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

pub(super) fn headline(e: &PlanEntry) -> String {
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

/// Top-level keys holding free-form maps: their changes are shown grouped, one line per key.
pub(super) const MAP_KEYS: &[&str] = &["tags", "properties"];

pub(super) fn change_lines(
    c: &Change,
    entry_action: Action,
    indent: usize,
    label: &str,
    out: &mut Vec<Line>,
) {
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
    let key = KeyPath::parse(&c.key);
    value_lines(
        style,
        label,
        &key.segment_strs(),
        c.before.as_ref(),
        c.after.as_ref(),
        indent,
        note,
        out,
    );
}

/// The map a change belongs to, when it is grouped (`tags.team` → `tags`), and the key below
/// it (`team`).
pub(super) fn map_group(key: &str) -> Option<(&'static str, String)> {
    let key = KeyPath::parse(key);
    let group = MAP_KEYS.iter().find(|m| key.first() == Some(**m))?;
    let below = key.strip_prefix(&KeyPath::parse(group))?;
    (!below.is_empty()).then(|| (*group, below.to_string()))
}

/// [`entry_lines`] with the entry's drift attribution ([`Plan::drift`]) under its headline.
pub(super) fn entry_lines_in(plan: &Plan, e: &PlanEntry) -> Vec<Line> {
    let mut lines = entry_lines(e);
    if let Some(d) = plan.drift.get(&e.address) {
        lines.insert(1, line(Tone::Note, 6, "#", d.describe()));
    }
    lines
}

pub(super) fn entry_lines(e: &PlanEntry) -> Vec<Line> {
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
        let Some((group, _)) = map_group(&c.key) else {
            change_lines(c, main, 6, &c.key, &mut out);
            i += 1;
            continue;
        };
        let members: Vec<&Change> = e.changes[i..]
            .iter()
            .take_while(|c| map_group(&c.key).is_some_and(|(g, _)| g == group))
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
            let sub = map_group(&c.key).map_or_else(String::new, |(_, below)| below);
            change_lines(c, main, 10, &sub, &mut out);
        }
    }
    out
}

pub(super) fn by_workspace(plan: &Plan) -> BTreeMap<&str, Vec<&PlanEntry>> {
    let mut m: BTreeMap<&str, Vec<&PlanEntry>> = BTreeMap::new();
    for e in &plan.entries {
        m.entry(e.workspace.as_str()).or_default().push(e);
    }
    m
}

/// The lines of the pre-flight section: per subscription/location, each quota touched with
/// free → after-apply vCPUs, then every failed check with its manifest position.
pub(super) fn preflight_lines(pf: &crate::preflight::Preflight) -> Vec<String> {
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
pub(super) const UNVERIFIABLE_HEAD: &str = "Cannot be verified after creation (the service does not return these declared keys; never a diff):";

/// `(address, keys)` of every entry with declared keys that cannot be verified, by address.
pub(super) fn unverifiable_lines(plan: &Plan) -> Vec<(&str, &[String])> {
    plan.entries
        .iter()
        .filter(|e| !e.unverifiable.is_empty())
        .map(|e| (e.address.as_str(), e.unverifiable.as_slice()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::map_group;

    #[test]
    fn map_groups_on_segment_boundaries() {
        assert_eq!(map_group("tags.team"), Some(("tags", "team".to_string())));
        assert_eq!(
            map_group("tags.app.version"),
            Some(("tags", "app.version".to_string()))
        );
        assert_eq!(
            map_group("properties.a"),
            Some(("properties", "a".to_string()))
        );
        assert_eq!(map_group("tags"), None);
        assert_eq!(map_group("tagsx.team"), None);
        assert_eq!(map_group("size"), None);
    }
}
