//! The plan: what [`crate::plan`] produces and the renderers print, its options and counts.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::action::ActionKind;
use super::entry::{PlanEntry, PlanError, Unmanaged};

/// Version of the plan format (JSON output and plan files). A plan file whose major version
/// differs is refused by [`crate::PlanFile::load`].
pub const FORMAT_VERSION: &str = "1.0";

/// Options of one planning run (from the command line).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// Names or addresses (`alias/name`) given with `--replace`: replace these even when nothing
    /// drifted (the way to push a changed secret), and allow a replace the diff calls for.
    pub replace: BTreeSet<String>,
    /// `--target` filters (names or addresses); empty means every target.
    pub targets: Vec<String>,
    /// `--workspace` filters (aliases); empty means every workspace.
    pub workspaces: Vec<String>,
    /// The repository folder (of amlctl.yaml): secret file sources are shown relative to it.
    pub root: Option<std::path::PathBuf>,
    /// The folder (relative to `amlctl.yaml`) the run was limited to, when PATH was below it.
    /// The targets given are then only those under it: live computes none of them declares are
    /// neither pruned nor listed as unmanaged, and the plan says so in one warning.
    pub scope: Option<String>,
}

/// Counts of a plan, by kind of action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Entries that create or attach (a replace counts here and in `destroy`).
    pub add: usize,
    /// Entries updated in place.
    pub change: usize,
    /// Entries deleted or detached (a replace counts here and in `add`).
    pub destroy: usize,
    /// Compute instances started.
    pub start: usize,
    /// Compute instances stopped.
    pub stop: usize,
    /// Entries waiting for a running operation.
    pub wait: usize,
}

impl Summary {
    /// `Plan: X to add, Y to change, Z to destroy.`, followed by the non-zero starts, stops and
    /// waits in the same sentence (`Plan: 0 to add, 0 to change, 0 to destroy, 1 to stop.`).
    pub fn line(&self) -> String {
        let mut s = format!(
            "Plan: {} to add, {} to change, {} to destroy",
            self.add, self.change, self.destroy
        );
        if let Some(extra) = self.extra() {
            s.push_str(", ");
            s.push_str(&extra);
        }
        s.push('.');
        s
    }

    /// `1 to start, 1 to stop, 1 waiting` (only the non-zero parts), or `None`.
    pub fn extra(&self) -> Option<String> {
        let mut parts = Vec::new();
        if self.start > 0 {
            parts.push(format!("{} to start", self.start));
        }
        if self.stop > 0 {
            parts.push(format!("{} to stop", self.stop));
        }
        if self.wait > 0 {
            parts.push(format!("{} waiting on a running operation", self.wait));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// The result of planning: one entry per target, plus refusals, warnings and unmanaged computes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// [`FORMAT_VERSION`].
    pub format_version: String,
    /// When the plan was made (RFC 3339); set by the caller, `None` from [`crate::plan`] (pure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// One entry per target (and per pruned compute), sorted by address.
    pub entries: Vec<PlanEntry>,
    /// Targets the plan refuses to act on; a plan with errors must not be applied.
    pub errors: Vec<PlanError>,
    /// Things worth knowing that do not stop the plan.
    pub warnings: Vec<String>,
    /// Live computes no manifest declares, left alone.
    pub unmanaged: Vec<Unmanaged>,
    /// The pre-flight summary ([`crate::preflight`]); `None` when nothing was checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<super::preflight::Preflight>,
    /// Drifted targets by address: who changed them outside amlctl ([`crate::drift`]); set by
    /// the caller after planning (empty: not looked up, or nothing drifted).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub drift: std::collections::BTreeMap<String, crate::drift::Drift>,
}

impl Plan {
    /// An empty plan of the current format.
    pub fn empty() -> Plan {
        Plan {
            format_version: FORMAT_VERSION.to_string(),
            created: None,
            entries: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            unmanaged: Vec::new(),
            preflight: None,
            drift: std::collections::BTreeMap::new(),
        }
    }

    /// True when any entry does something (including waiting on a running operation).
    pub fn has_changes(&self) -> bool {
        self.entries.iter().any(PlanEntry::has_changes)
    }

    /// Counts by kind of action.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for e in &self.entries {
            let kinds: Vec<ActionKind> = e.actions.iter().map(|a| a.kind()).collect();
            let has = |k: ActionKind| usize::from(kinds.contains(&k));
            s.add += usize::from(kinds.iter().any(|k| k.adds()));
            s.change += has(ActionKind::Change);
            s.destroy += usize::from(kinds.iter().any(|k| k.destroys()));
            s.start += has(ActionKind::Start);
            s.stop += has(ActionKind::Stop);
            s.wait += has(ActionKind::Wait);
        }
        s
    }
}
