//! The `amlctl` planner: a pure function from desired compute targets (manifests) and live ARM
//! state to a [`Plan`], the field policy lookup (each key's policy lives in its row of
//! `amlctl_manifest::fields`), the renderers (text, Markdown, JSON) and the plan file
//! ([`PlanFile`]: the plan as [`plan`] made it, wrapped with the file's metadata; the plan itself
//! is never changed to carry them).
//!
//! Nothing here does I/O except [`PlanFile::save`] and [`PlanFile::load`]: the CLI reads live
//! state (one paged list per workspace) and calls [`plan`]; `apply` executes each entry's
//! [`Step`]s after checking [`fingerprint`]s.
//!
//! Layout (no module imports one that imports it back): `model/` (the plan types: `action`,
//! `entry`, `plan`, `file`, `preflight`), `normalize` (value normalisation), `policy` (the field
//! policy lookup), `planner/` (the pure planner: `select`, `describe`, `secrets`, `steps`,
//! `compare`, `state`, `rules`, `target`, `prune`), [`preflight`] (quota, sizes, references),
//! [`render`] (`format`, `values`, `entry`, `text`, `markdown`, `json`).
//!
//! Both sides of the diff are in canonical manifest terms (`Target::spec` and
//! `LiveCompute::spec`); only keys the user wrote are compared, after normalisation (sizes and
//! enums case-insensitively, durations by value, ARM ids case-insensitively, locations without
//! case or spaces, tags without the ownership tag).

#![warn(missing_docs)]

pub mod drift;
mod model;
mod normalize;
mod planner;
mod policy;
pub mod preflight;
pub mod render;

pub use amlctl_vocab::Method;
pub use model::{
    Action, ActionKind, Change, FORMAT_VERSION, Plan, PlanEntry, PlanError, PlanFile,
    PlanFileError, PlanOptions, Policy, SavedOptions, Step, Summary, Unmanaged, repo_digest,
};
pub use planner::{check_keys, fingerprint, import_step, plan, unmet_keys};
pub use policy::{
    DEFAULT_SOURCE, PolicyRow, field_policy_markdown, policy_for, policy_row, policy_table,
    replace_note,
};
