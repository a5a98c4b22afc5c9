//! Drift: which planned changes undo a change made outside amlctl, and who made it.
//!
//! A target *drifted* when the plan changes a compute that exists (update, replace, start, stop,
//! delete, detach) and the last successful write to that compute in the Azure Activity Log was
//! not made by the identity amlctl runs as. When amlctl's own identity made the last write, the
//! live state is what the last apply left and the difference comes from the repository (an
//! edited manifest): not drift. Planning stays pure: the caller looks the Activity Log up after
//! [`crate::plan`] (see [`drifted_candidates`]), decides with [`attribute`], and records the
//! result in [`crate::Plan::drift`], which the renderers show.

use serde::{Deserialize, Serialize};

use crate::{Action, Plan, PlanEntry};

/// Who changed a drifted compute, from the Activity Log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    /// The Activity Log `caller` of the last write; `None` when unknown.
    pub caller: Option<String>,
    /// When (RFC 3339, as the Activity Log has it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// The operation (`Microsoft.MachineLearningServices/workspaces/computes/write`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Why the caller is unknown (no read access to the Activity Log, no entry, an error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Drift {
    /// A drift whose author is unknown, with the reason.
    pub fn unknown(note: impl Into<String>) -> Drift {
        Drift {
            caller: None,
            time: None,
            operation: None,
            note: Some(note.into()),
        }
    }

    /// `changed outside amlctl by CALLER at TIME (OPERATION)`, or `changed outside amlctl (caller
    /// unknown)` (with the reason after a colon when there is one).
    pub fn describe(&self) -> String {
        match &self.caller {
            Some(caller) => {
                let mut s = format!("changed outside amlctl by {caller}");
                if let Some(t) = &self.time {
                    s.push_str(&format!(" at {t}"));
                }
                if let Some(op) = &self.operation {
                    s.push_str(&format!(" ({op})"));
                }
                s
            }
            None => match &self.note {
                Some(n) => format!("changed outside amlctl (caller unknown: {n})"),
                None => "changed outside amlctl (caller unknown)".to_string(),
            },
        }
    }
}

/// One Activity Log write, as [`attribute`] needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedWrite {
    /// `caller` (`None`: absent).
    pub caller: Option<String>,
    /// `eventTimestamp`.
    pub time: String,
    /// `operationName.value`.
    pub operation: String,
    /// `status.value`.
    pub status: String,
}

/// What the Activity Log lookup of one compute gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogAnswer {
    /// Its entries (any order).
    Writes(Vec<LoggedWrite>),
    /// 403: no read access to the Activity Log.
    Forbidden,
    /// The lookup failed (the message, no secret in it).
    Failed(String),
}

/// Entries whose live state may have drifted: they change a compute that exists.
pub fn drifted_candidates(plan: &Plan) -> impl Iterator<Item = &PlanEntry> {
    plan.entries.iter().filter(|e| {
        e.before.is_some()
            && e.actions.iter().any(|a| {
                matches!(
                    a,
                    Action::Update
                        | Action::Replace
                        | Action::Start
                        | Action::Stop
                        | Action::Delete
                        | Action::Detach
                )
            })
    })
}

/// Decides whether a candidate drifted: `None` when the last successful write was made by
/// amlctl's own identity (any of `me`, case-insensitive); otherwise who made it, or why that is
/// unknown. `window` names the time the lookup covered (for the "no entry" note).
pub fn attribute(answer: &LogAnswer, me: &[String], window: &str) -> Option<Drift> {
    let writes = match answer {
        LogAnswer::Forbidden => {
            return Some(Drift::unknown(
                "no read access to the Activity Log (Microsoft.Insights/eventtypes/values/read)",
            ));
        }
        LogAnswer::Failed(m) => {
            return Some(Drift::unknown(format!("Activity Log lookup failed: {m}")));
        }
        LogAnswer::Writes(w) => w,
    };
    let is_write = |w: &&LoggedWrite| {
        let op = w.operation.to_ascii_lowercase();
        (op.ends_with("/write") || op.ends_with("/delete") || op.ends_with("/action"))
            && !w.status.eq_ignore_ascii_case("Failed")
    };
    let when = |w: &LoggedWrite| {
        time::OffsetDateTime::parse(&w.time, &time::format_description::well_known::Rfc3339).ok()
    };
    let Some(last) = writes.iter().filter(is_write).max_by_key(|w| when(w)) else {
        return Some(Drift::unknown(format!("no Activity Log entry in {window}")));
    };
    let ours = last
        .caller
        .as_deref()
        .is_some_and(|c| me.iter().any(|m| m.eq_ignore_ascii_case(c.trim())));
    if ours {
        return None;
    }
    Some(match &last.caller {
        Some(c) => Drift {
            caller: Some(c.clone()),
            time: Some(last.time.clone()),
            operation: Some(last.operation.clone()),
            note: None,
        },
        None => Drift {
            note: Some("the Activity Log entry names no caller".into()),
            time: Some(last.time.clone()),
            operation: Some(last.operation.clone()),
            caller: None,
        },
    })
}

impl Plan {
    /// The plan of `plan --drift`: only the drifted entries (and the errors about them); no
    /// unmanaged computes, warnings or pre-flight.
    pub fn drift_only(mut self) -> Plan {
        let drifted = |a: &str| self.drift.contains_key(a);
        self.entries.retain(|e| drifted(&e.address));
        let errors = std::mem::take(&mut self.errors);
        self.errors = errors.into_iter().filter(|e| drifted(&e.address)).collect();
        self.unmanaged.clear();
        self.warnings.clear();
        self.preflight = None;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(caller: &str, time: &str, status: &str) -> LoggedWrite {
        LoggedWrite {
            caller: Some(caller.into()),
            time: time.into(),
            operation: "Microsoft.MachineLearningServices/workspaces/computes/write".into(),
            status: status.into(),
        }
    }

    #[test]
    fn the_last_successful_write_decides() {
        let me = vec!["amlctl-sp".to_string()];
        let log = LogAnswer::Writes(vec![
            w("amlctl-sp", "2026-01-01T00:00:00Z", "Succeeded"),
            w("alice@example.com", "2026-01-02T00:00:00Z", "Succeeded"),
            w("bob@example.com", "2026-01-03T00:00:00Z", "Failed"),
        ]);
        let d = attribute(&log, &me, "90 days").expect("drift");
        assert_eq!(
            d.describe(),
            "changed outside amlctl by alice@example.com at 2026-01-02T00:00:00Z (Microsoft.MachineLearningServices/workspaces/computes/write)"
        );
        let ours = LogAnswer::Writes(vec![
            w("alice@example.com", "2026-01-02T00:00:00Z", "Succeeded"),
            w("AMLCTL-SP", "2026-01-04T00:00:00Z", "Succeeded"),
        ]);
        assert_eq!(attribute(&ours, &me, "90 days"), None);
    }

    #[test]
    fn no_access_or_no_entry_is_caller_unknown() {
        for answer in [LogAnswer::Forbidden, LogAnswer::Writes(vec![])] {
            let d = attribute(&answer, &[], "90 days").expect("drift");
            assert!(
                d.describe()
                    .starts_with("changed outside amlctl (caller unknown"),
                "{}",
                d.describe()
            );
        }
    }
}
