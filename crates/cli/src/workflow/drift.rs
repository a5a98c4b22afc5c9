//! Drift attribution after planning: for every entry that changes an existing compute, one
//! Activity Log lookup (at most `--parallelism` at once) decides whether the live state drifted
//! (the last write was not amlctl's own) and who changed it. The plan stays pure: the result is
//! recorded in [`Plan::drift`] and rendered by the renderers.

use std::collections::BTreeMap;
use std::sync::Arc;

use amlctl_arm::{ActivityLookup, ArmClient};
use amlctl_manifest::Workspace;
use amlctl_plan::Plan;
use amlctl_plan::drift::{LogAnswer, LoggedWrite, attribute, drifted_candidates};
use tokio::sync::Semaphore;

use super::Session;

/// How far back the Activity Log is read: its retention (90 days).
pub const WINDOW_DAYS: i64 = 90;

/// Looks up who last wrote each compute the plan changes and records the drifted ones in
/// `plan.drift`.
pub async fn attribute_drift(
    plan: &mut Plan,
    workspaces: &BTreeMap<String, Workspace>,
    session: &Session,
) {
    let targets: Vec<(String, String)> = drifted_candidates(plan)
        .filter_map(|e| {
            let ws = workspaces.get(&e.workspace)?;
            Some((e.address.clone(), ws.compute_path(&e.name)))
        })
        .collect();
    if targets.is_empty() {
        return;
    }
    let me = session.client.identity().await;
    let to = time::OffsetDateTime::now_utc();
    let from = to - time::Duration::days(WINDOW_DAYS);
    let limit = Arc::new(Semaphore::new(session.parallelism.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (address, id) in targets {
        let client: ArmClient = session.client.clone();
        let limit = limit.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (address, client.activity_log(&id, from, to).await)
        });
    }
    let window = format!("the last {WINDOW_DAYS} days");
    while let Some(joined) = tasks.join_next().await {
        let Ok((address, lookup)) = joined else {
            continue;
        };
        if let Some(d) = attribute(&answer_of(lookup), &me, &window) {
            plan.drift.insert(address, d);
        }
    }
}

fn answer_of(lookup: ActivityLookup) -> LogAnswer {
    match lookup {
        ActivityLookup::Events(events) => LogAnswer::Writes(
            events
                .into_iter()
                .map(|e| LoggedWrite {
                    caller: e.caller,
                    time: e.time,
                    operation: e.operation,
                    status: e.status,
                })
                .collect(),
        ),
        ActivityLookup::Forbidden => LogAnswer::Forbidden,
        ActivityLookup::Failed(m) => LogAnswer::Failed(m),
    }
}
