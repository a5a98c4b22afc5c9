//! Selection: which targets `--target`/`--replace`/`--workspace` name, the planning context,
//! compute ids.

use std::collections::BTreeSet;

use amlctl_manifest::Workspace;
use amlctl_vocab::Address;

use crate::model::PlanOptions;

/// What planning the targets one by one shares: the options, the warnings so far, the
/// protected compute ids and the `--target`/`--replace` values that named something.
pub(super) struct Ctx<'a> {
    pub(super) opts: &'a PlanOptions,
    pub(super) warnings: Vec<String>,
    /// Compute ids some manifest declares with `lifecycle.prevent_destroy`.
    pub(super) protected: BTreeSet<String>,
    /// `--target` values that named a target or live compute.
    pub(super) matched_targets: BTreeSet<String>,
    /// `--replace` values that named a selected target.
    pub(super) matched_replace: BTreeSet<String>,
}

impl<'a> Ctx<'a> {
    /// A context for `opts` with nothing planned yet.
    pub(super) fn new(opts: &'a PlanOptions, protected: BTreeSet<String>) -> Ctx<'a> {
        Ctx {
            opts,
            warnings: Vec::new(),
            protected,
            matched_targets: BTreeSet::new(),
            matched_replace: BTreeSet::new(),
        }
    }

    /// True when `--workspace` selects `alias` (no `--workspace`: every alias).
    pub(super) fn ws_selected(&self, alias: &str) -> bool {
        self.opts.workspaces.is_empty() || self.opts.workspaces.iter().any(|w| w == alias)
    }

    /// True when `--target` selects this compute (no `--target`: every compute).
    pub(super) fn target_selected(&self, alias: &str, name: &str) -> bool {
        self.opts.targets.is_empty() || self.opts.targets.iter().any(|f| names(f, alias, name))
    }

    /// Records the `--target` values that name this compute.
    pub(super) fn mark(&mut self, alias: &str, name: &str) {
        for f in &self.opts.targets {
            if names(f, alias, name) {
                self.matched_targets.insert(f.clone());
            }
        }
    }

    /// Records the `--replace` values that name this declared target.
    pub(super) fn mark_replace(&mut self, alias: &str, name: &str) {
        for r in &self.opts.replace {
            if names(r, alias, name) {
                self.matched_replace.insert(r.clone());
            }
        }
    }
}

/// True when a `--target`/`--replace` value names this compute: its name or its address
/// (`alias/name`); compute names compare case-insensitively, as Azure does.
pub(super) fn names(filter: &str, alias: &str, name: &str) -> bool {
    Address::new(alias, name).is_named_by(filter)
}

/// True when `--replace` names this target.
pub(super) fn requested(opts: &PlanOptions, alias: &str, name: &str) -> bool {
    opts.replace.iter().any(|r| names(r, alias, name))
}

/// The lowercased full ARM id of compute `name` in workspace `ws`: one compute, whatever alias
/// reaches it.
pub(super) fn compute_id(ws: &Workspace, name: &str) -> String {
    ws.compute_path(name).to_ascii_lowercase()
}
