//! The plan model: what [`crate::plan`] produces, what the renderers print, what `apply` executes
//! and what a plan file holds.
//!
//! Submodules, each importing only from the ones listed before it: `action` (actions, their
//! one classification, field policies), `entry` (entries, changes, requests), `plan` (the plan,
//! options, summary), `file` (the plan file).

mod action;
mod entry;
mod file;
mod plan;
pub(crate) mod preflight;

pub use action::{Action, ActionKind, Policy};
pub use entry::{Change, PlanEntry, PlanError, Step, Unmanaged};
pub use file::{PlanFile, PlanFileError, SavedOptions, repo_digest};
pub use plan::{FORMAT_VERSION, Plan, PlanOptions, Summary};
