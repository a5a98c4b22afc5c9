//! The planner: a pure function from (desired targets, live state, options) to a [`Plan`].
//!
//! Submodules, each importing only from the ones listed before it: `select` (filters, the
//! planning context, compute ids), `describe` (values and changes in words), `secrets` (secret
//! and ignored keys, redaction), `steps` (the ARM requests), `compare` (the diff, fingerprint,
//! read-back check), `state` (provisioning and instance states), `rules` (what forces or
//! refuses a replacement), `target` (one declared target), `prune` (live computes no manifest
//! declares). This file plans the declared targets in order and reports filters that match
//! nothing.

mod compare;
mod describe;
mod prune;
mod rules;
mod secrets;
mod select;
mod state;
mod steps;
mod target;

use std::collections::{BTreeMap, BTreeSet};

use amlctl_manifest::{LiveCompute, Target, Workspace, diag::did_you_mean};
use amlctl_vocab::Address;

pub use compare::{check_keys, fingerprint, unmet_keys};
pub(crate) use describe::show;
pub use steps::import_step;

use crate::model::{Plan, PlanError, PlanOptions};
use select::{Ctx, compute_id};

/// Plans every selected target against live state. Pure: the same inputs give the same plan.
/// `live` has one entry per workspace alias that was read.
pub fn plan(
    targets: &[Target],
    workspaces: &BTreeMap<String, Workspace>,
    live: &BTreeMap<String, Vec<LiveCompute>>,
    opts: &PlanOptions,
) -> Plan {
    let mut out = Plan::empty();
    // Protected computes by compute id, whatever alias declares them: two aliases that reach
    // one workspace must not let prune destroy what a manifest declares (#19).
    let protected: BTreeSet<String> = targets
        .iter()
        .filter(|t| t.lifecycle.prevent_destroy)
        .filter_map(|t| workspaces.get(&t.workspace).map(|w| compute_id(w, &t.name)))
        .collect();
    let mut cx = Ctx::new(opts, protected);
    plan_declared(&mut cx, targets, workspaces, live, &mut out);
    prune::plan_undeclared(&mut cx, targets, workspaces, live, &mut out);
    unmatched_filters(&cx, targets, workspaces, live, &mut out.errors);
    out.entries.sort_by(|a, b| a.address.cmp(&b.address));
    out.errors.sort_by(|a, b| a.address.cmp(&b.address));
    out.unmanaged.sort_by(|a, b| a.address.cmp(&b.address));
    out.warnings = cx.warnings;
    out
}

/// Plans the selected declared targets, by workspace and name; a name declared twice in one
/// workspace, an undefined workspace or an unread live state is an error of that target.
fn plan_declared(
    cx: &mut Ctx<'_>,
    targets: &[Target],
    workspaces: &BTreeMap<String, Workspace>,
    live: &BTreeMap<String, Vec<LiveCompute>>,
    out: &mut Plan,
) {
    // Compute names are unique per workspace, case-insensitively.
    let mut live_index: BTreeMap<(&str, String), &LiveCompute> = BTreeMap::new();
    for (alias, computes) in live {
        for c in computes {
            live_index
                .entry((alias.as_str(), c.name.to_ascii_lowercase()))
                .or_insert(c);
        }
    }
    let mut sorted: Vec<&Target> = targets.iter().collect();
    sorted.sort_by(|a, b| (&a.workspace, &a.name).cmp(&(&b.workspace, &b.name)));
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for t in sorted {
        let address = Address::new(&t.workspace, &t.name).to_string();
        if !cx.ws_selected(&t.workspace) || !cx.target_selected(&t.workspace, &t.name) {
            continue;
        }
        cx.mark(&t.workspace, &t.name);
        cx.mark_replace(&t.workspace, &t.name);
        let refusal = |message: String, hint: Option<&str>| PlanError {
            address: address.clone(),
            message,
            hint: hint.map(str::to_string),
            source: Some(t.source.clone()),
        };
        if !seen.insert((t.workspace.clone(), t.name.to_ascii_lowercase())) {
            out.errors.push(refusal(
                format!("{} is declared more than once in workspace {}", t.name, t.workspace),
                Some("compute names are unique per workspace (case-insensitively): rename or remove one"),
            ));
            continue;
        }
        let Some(ws) = workspaces.get(&t.workspace) else {
            out.errors.push(refusal(
                format!("workspace {} is not defined in amlctl.yaml", t.workspace),
                Some("add it under `workspaces:` or fix the manifest's `workspace:`"),
            ));
            continue;
        };
        if !live.contains_key(&t.workspace) {
            out.errors.push(refusal(
                format!("the live state of workspace {} was not read", t.workspace),
                None,
            ));
            continue;
        }
        let lc = live_index
            .get(&(t.workspace.as_str(), t.name.to_ascii_lowercase()))
            .copied();
        match target::plan_target(cx, t, ws, lc) {
            Ok(e) => out.entries.push(e),
            Err(e) => out.errors.push(e),
        }
    }
}

/// A filter that matches nothing is an error, not a warning: a typo must not turn CI green.
fn unmatched_filters(
    cx: &Ctx<'_>,
    targets: &[Target],
    workspaces: &BTreeMap<String, Workspace>,
    live: &BTreeMap<String, Vec<LiveCompute>>,
    errors: &mut Vec<PlanError>,
) {
    let opts = cx.opts;
    let mut known_names: BTreeSet<String> = targets.iter().map(|t| t.name.clone()).collect();
    known_names.extend(live.values().flatten().map(|c| c.name.clone()));
    let suggest = |flag: &str, word: &str, candidates: &BTreeSet<String>, what: &str| {
        // Suggest for the name part of an address (`alias/name`) too.
        let name = word.rsplit('/').next().unwrap_or(word);
        match did_you_mean(name, candidates.iter().map(String::as_str)) {
            Some(s) => format!("did you mean `{s}`? (`{flag}` takes {what})"),
            None => format!("`{flag}` takes {what}"),
        }
    };
    for f in &opts.targets {
        if !cx.matched_targets.contains(f) {
            errors.push(PlanError {
                address: f.clone(),
                message: format!(
                    "--target {f} matches no manifest and no live compute in the selected workspaces"
                ),
                hint: Some(suggest(
                    "--target",
                    f,
                    &known_names,
                    "a compute name or address (`alias/name`)",
                )),
                source: None,
            });
        }
    }
    let aliases: BTreeSet<String> = workspaces.keys().cloned().collect();
    for w in &opts.workspaces {
        if !workspaces.contains_key(w) {
            errors.push(PlanError {
                address: w.clone(),
                message: format!("--workspace {w} is not defined in amlctl.yaml"),
                hint: Some(suggest(
                    "--workspace",
                    w,
                    &aliases,
                    "a workspace alias of amlctl.yaml",
                )),
                source: None,
            });
        }
    }
    let declared_names: BTreeSet<String> = targets.iter().map(|t| t.name.clone()).collect();
    for r in &opts.replace {
        if !cx.matched_replace.contains(r) {
            errors.push(PlanError {
                address: r.clone(),
                message: format!("--replace {r} matches no selected target"),
                hint: Some(suggest(
                    "--replace",
                    r,
                    &declared_names,
                    "a target name or address (`alias/name`) that the manifests declare",
                )),
                source: None,
            });
        }
    }
}
