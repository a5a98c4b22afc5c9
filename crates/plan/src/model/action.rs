//! The vocabulary of a plan: what is done to a compute ([`Action`], classified once by
//! [`ActionKind`]: symbol, counts) and how a change to a key can be carried out ([`Policy`]).

use std::fmt;

use serde::{Deserialize, Serialize};

/// What the plan does to one compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Live state matches the manifest.
    NoOp,
    /// Create a compute (AmlCompute, ComputeInstance).
    Create,
    /// Attach an existing resource (every other type).
    Attach,
    /// Update in place (PATCH or PUT, see the entry's steps).
    Update,
    /// Delete (or detach) then create (or attach) again.
    Replace,
    /// Delete a created compute that no manifest declares (prune).
    Delete,
    /// Detach an attached compute that no manifest declares (prune); the resource itself is kept.
    Detach,
    /// Start a stopped compute instance.
    Start,
    /// Stop a running compute instance.
    Stop,
    /// The live object is Creating/Updating/Deleting: nothing to do now, plan again later.
    Wait,
}

impl Action {
    /// The word used in summaries (`create`, `no-op`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::NoOp => "no-op",
            Action::Create => "create",
            Action::Attach => "attach",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
            Action::Detach => "detach",
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Wait => "wait",
        }
    }
}

impl Action {
    /// The kind of change this action is: the one classification that summaries, the renderers
    /// and the executor's report use.
    pub fn kind(self) -> ActionKind {
        match self {
            Action::Create | Action::Attach => ActionKind::Add,
            Action::Update => ActionKind::Change,
            Action::Replace => ActionKind::Replace,
            Action::Delete | Action::Detach => ActionKind::Remove,
            Action::Start => ActionKind::Start,
            Action::Stop => ActionKind::Stop,
            Action::Wait => ActionKind::Wait,
            Action::NoOp => ActionKind::NoOp,
        }
    }

    /// The symbol rendered plans draw for this action (`+`, `~`, `-/+`, `-`, `>`, `…`, ` `).
    pub fn symbol(self) -> &'static str {
        self.kind().symbol()
    }
}

/// The kind of change an [`Action`] is (see [`Action::kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActionKind {
    /// Creates or attaches a compute.
    Add,
    /// Updates a compute in place.
    Change,
    /// Deletes (or detaches) and creates (or attaches) again: counts as an add and a destroy.
    Replace,
    /// Deletes or detaches a compute.
    Remove,
    /// Starts a compute instance.
    Start,
    /// Stops a compute instance.
    Stop,
    /// Waits for a running operation.
    Wait,
    /// Nothing to do.
    NoOp,
}

impl ActionKind {
    /// The symbol rendered plans draw: `+`, `~`, `-/+`, `-`, `>` (start and stop), `…`, ` `.
    pub fn symbol(self) -> &'static str {
        match self {
            ActionKind::Add => "+",
            ActionKind::Change => "~",
            ActionKind::Replace => "-/+",
            ActionKind::Remove => "-",
            ActionKind::Start | ActionKind::Stop => ">",
            ActionKind::Wait => "…",
            ActionKind::NoOp => " ",
        }
    }

    /// True when a compute is created or attached (a replace included).
    pub fn adds(self) -> bool {
        matches!(self, ActionKind::Add | ActionKind::Replace)
    }

    /// True when a compute is deleted or detached (a replace included).
    pub fn destroys(self) -> bool {
        matches!(self, ActionKind::Remove | ActionKind::Replace)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a change to one manifest key can be carried out (see [`crate::policy_for`]); defined
/// beside the field table that assigns it (`amlctl_manifest::fields`).
pub use amlctl_manifest::fields::Policy;

#[cfg(test)]
mod action_kind_tests {
    use super::*;

    #[test]
    fn one_classification_gives_symbols_and_counts() {
        let expect = [
            (Action::Create, "+", true, false),
            (Action::Attach, "+", true, false),
            (Action::Update, "~", false, false),
            (Action::Replace, "-/+", true, true),
            (Action::Delete, "-", false, true),
            (Action::Detach, "-", false, true),
            (Action::Start, ">", false, false),
            (Action::Stop, ">", false, false),
            (Action::Wait, "…", false, false),
            (Action::NoOp, " ", false, false),
        ];
        for (a, symbol, adds, destroys) in expect {
            assert_eq!(a.symbol(), symbol, "{a}");
            assert_eq!(a.kind().adds(), adds, "{a}");
            assert_eq!(a.kind().destroys(), destroys, "{a}");
        }
    }
}
