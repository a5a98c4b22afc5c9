//! The converge loop: apply, then plan again and apply what is left for targets that were busy.
//!
//! A target that was busy (Creating/Updating/Deleting) when the run reached it is waited for
//! ([`Outcome::Waited`]); what is left to do is only known after reading it again. [`converge`]
//! runs at most [`MAX_ROUNDS`] plan → apply rounds, then marks whatever is still only waited
//! for as failed: not converging is not a success.

use amlctl_vocab::Address;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use amlctl_arm::ArmClient;
use amlctl_manifest::{Target, Workspace};
use amlctl_plan::{Plan, PlanOptions};

use crate::{ApplyOptions, ApplyReport, Outcome, apply, read_live};

/// How many plan → apply rounds a run makes when targets had to be waited for.
pub const MAX_ROUNDS: usize = 4;

/// What planning again needs: the project's targets and workspaces and the run's gates.
#[derive(Debug, Clone, Copy)]
pub struct Replan<'a> {
    /// Every target the manifests declare.
    pub targets: &'a [Target],
    /// The workspaces (with their locations) the first plan used.
    pub workspaces: &'a BTreeMap<String, Workspace>,
    /// The `--replace` names of the run.
    pub replace: &'a [String],
    /// Folder of `amlctl.yaml`.
    pub root: Option<&'a std::path::Path>,
    /// The folder below the root the run is limited to.
    pub scope: Option<&'a str>,
}

/// Why the loop stopped before the busy targets converged.
#[derive(Debug, Clone)]
pub enum Interrupted {
    /// Live state could not be read again (the message names every failing workspace).
    LiveState(String),
    /// Planning again gave errors; the plan carries them (the waited targets are marked failed).
    PlanErrors(Box<Plan>),
}

/// Carries out `plan`, then plans again and applies what is left for the targets that were
/// waited for, until none is waited for, the run is cancelled, or [`MAX_ROUNDS`] are made.
/// Returns the merged report and, when the loop was cut short, why.
pub async fn converge(
    plan: &Plan,
    client: &ArmClient,
    opts: &ApplyOptions,
    replan: &Replan<'_>,
) -> (ApplyReport, Option<Interrupted>) {
    let mut report = apply(plan, client, opts, None).await;
    let mut interrupted = None;
    let mut round = 1;
    while report.waited() && !*opts.cancel.borrow() && round < MAX_ROUNDS {
        round += 1;
        let waited: Vec<String> = report
            .targets
            .iter()
            .filter(|t| matches!(t.outcome, Outcome::Waited { .. }))
            .map(|t| t.address.clone())
            .collect();
        let mut ws = replan.workspaces.clone();
        let aliases: BTreeSet<String> = waited
            .iter()
            .filter_map(|a| Address::parse(a).ok().map(|a| a.workspace))
            .collect();
        let live = match read_live(client, &mut ws, &aliases).await {
            Ok(l) => l,
            Err(e) => {
                interrupted = Some(Interrupted::LiveState(e));
                break;
            }
        };
        // A waited target that is now gone and that no manifest declares (a prune that finished)
        // has nothing left to plan: the planner would rightly reject it as a filter that
        // matches nothing. With none left, there is nothing to plan at all.
        let known = |a: &str| {
            replan.targets.iter().any(|t| {
                Address::new(&t.workspace, &t.name)
                    .to_string()
                    .eq_ignore_ascii_case(a)
            }) || live.iter().any(|(alias, computes)| {
                computes.iter().any(|c| {
                    Address::new(alias, &c.name)
                        .to_string()
                        .eq_ignore_ascii_case(a)
                })
            })
        };
        let again: Vec<String> = waited.iter().filter(|a| known(a)).cloned().collect();
        // Only the --replace names of the targets planned again (another name would match no
        // selected target, which the planner rightly reports as an error).
        let replace = replan
            .replace
            .iter()
            .filter(|r| {
                again.iter().any(|a| {
                    a == *r || Address::parse(a).is_ok_and(|a| a.name.eq_ignore_ascii_case(r))
                })
            })
            .cloned()
            .collect();
        let opts_plan = PlanOptions {
            replace,
            targets: again.clone(),
            workspaces: Vec::new(),
            root: replan.root.map(PathBuf::from),
            scope: replan.scope.map(str::to_string),
        };
        let next = if again.is_empty() {
            Plan::empty()
        } else {
            amlctl_plan::plan(replan.targets, &ws, &live, &opts_plan)
        };
        if !next.errors.is_empty() {
            for t in report.targets.iter_mut() {
                if waited.contains(&t.address) {
                    t.outcome = Outcome::Failed {
                        message: "see the plan errors above".to_string(),
                    };
                }
            }
            interrupted = Some(Interrupted::PlanErrors(Box::new(next)));
            break;
        }
        let later = apply(&next, client, opts, Some(&waited)).await;
        for t in report.targets.iter_mut() {
            if waited.contains(&t.address) && !later.targets.iter().any(|l| l.address == t.address)
            {
                // Nothing left to do for it: the wait was the whole job.
                t.outcome = Outcome::Succeeded;
            }
        }
        report.merge(later);
    }
    // Whatever is still only waited for has not converged: that is not a success.
    for t in report.targets.iter_mut() {
        if let Outcome::Waited { state } = &t.outcome {
            t.outcome = Outcome::Failed {
                message: format!(
                    "still not converged after {round} rounds (last seen {state}); run `amlctl plan` to see why"
                ),
            };
        }
    }
    (report, interrupted)
}
