//! Reading live state: one paged list of computes per workspace, all workspaces in parallel.
//!
//! [`read_live`] is what `amlctl plan`, `apply`, `export` and `import` use; [`list_raw`] and
//! [`to_live`] are its two halves (the network read and the conversion), kept apart so the
//! benchmark can time them separately while running the same code.

use std::collections::{BTreeMap, BTreeSet};

use amlctl_arm::{ArmClient, WorkspaceId};
use amlctl_manifest::{LiveCompute, Workspace};
use serde_json::Value;

/// Converts a manifest workspace into the ARM client's workspace id.
pub fn workspace_id(ws: &Workspace) -> WorkspaceId {
    WorkspaceId {
        subscription_id: ws.subscription_id.clone(),
        resource_group: ws.resource_group.clone(),
        workspace: ws.workspace.clone(),
    }
}

/// The raw result of listing some workspaces.
#[derive(Debug, Clone, Default)]
pub struct RawLive {
    /// Alias → the compute resources ARM listed, as returned.
    pub computes: BTreeMap<String, Vec<Value>>,
    /// Alias → the location read from the workspace, for workspaces that had none configured.
    pub locations: BTreeMap<String, String>,
}

/// Lists every workspace of `aliases` (unknown aliases are skipped), collecting one error line
/// per workspace that failed instead of stopping at the first.
async fn list_each(
    client: &ArmClient,
    workspaces: &BTreeMap<String, Workspace>,
    aliases: &BTreeSet<String>,
) -> Result<(RawLive, Vec<String>), String> {
    let mut tasks = tokio::task::JoinSet::new();
    for alias in aliases {
        let Some(ws) = workspaces.get(alias) else {
            continue;
        };
        let client = client.clone();
        let id = workspace_id(ws);
        let need_location = ws.location.is_none();
        let alias = alias.clone();
        tasks.spawn(async move {
            let location = if need_location {
                match client.get_workspace(&id).await {
                    Ok(body) => body
                        .get("location")
                        .and_then(|l| l.as_str())
                        .map(str::to_string),
                    Err(e) => {
                        return (
                            alias,
                            Err(format!("reading workspace {}: {e}", id.workspace)),
                        );
                    }
                }
            } else {
                None
            };
            let listed = client
                .list_computes(&id)
                .await
                .map_err(|e| format!("listing computes of workspace {}: {e}", id.workspace));
            (alias, listed.map(|items| (items, location)))
        });
    }
    let mut raw = RawLive::default();
    let mut errors = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (alias, result) = joined.map_err(|e| format!("a live-state task failed: {e}"))?;
        match result {
            Ok((items, location)) => {
                if let Some(loc) = location {
                    raw.locations.insert(alias.clone(), loc);
                }
                raw.computes.insert(alias, items);
            }
            Err(e) => errors.push(format!("workspace {alias}: {e}")),
        }
    }
    Ok((raw, errors))
}

/// Sorts error lines and joins them into one message; `Ok` when there are none.
fn joined(mut errors: Vec<String>) -> Result<(), String> {
    if errors.is_empty() {
        Ok(())
    } else {
        errors.sort();
        Err(errors.join("\n"))
    }
}

/// Lists the computes of every workspace of `aliases` with one paged list each, all in flight
/// at once (the client's per-subscription limit bounds them). A workspace without a configured
/// location costs one extra GET of the workspace. Errors: one line per failed workspace.
pub async fn list_raw(
    client: &ArmClient,
    workspaces: &BTreeMap<String, Workspace>,
    aliases: &BTreeSet<String>,
) -> Result<RawLive, String> {
    let (raw, errors) = list_each(client, workspaces, aliases).await?;
    joined(errors)?;
    Ok(raw)
}

/// Converts one workspace's listed resources; one error line per resource that cannot be read.
fn convert(alias: &str, items: &[Value], errors: &mut Vec<String>) -> Vec<LiveCompute> {
    let mut computes = Vec::with_capacity(items.len());
    for item in items {
        match amlctl_manifest::from_arm(item) {
            Ok(c) => computes.push(c),
            Err(e) => errors.push(format!(
                "workspace {alias}: cannot read compute {}: {e}",
                item.get("name").and_then(|n| n.as_str()).unwrap_or("?")
            )),
        }
    }
    computes
}

/// Converts listed resources (alias → ARM resources) into live computes
/// ([`amlctl_manifest::from_arm`]). Errors: one line per resource that cannot be read.
pub fn to_live(
    raw: &BTreeMap<String, Vec<Value>>,
) -> Result<BTreeMap<String, Vec<LiveCompute>>, String> {
    let mut errors = Vec::new();
    let live = raw
        .iter()
        .map(|(alias, items)| (alias.clone(), convert(alias, items, &mut errors)))
        .collect();
    joined(errors)?;
    Ok(live)
}

/// Reads live state: one paged list per workspace of `aliases`, all workspaces in parallel.
/// Fills in missing workspace locations in `workspaces` with one GET of the workspace (needed
/// for the body of a create). Every failure is reported, one line each, sorted.
pub async fn read_live(
    client: &ArmClient,
    workspaces: &mut BTreeMap<String, Workspace>,
    aliases: &BTreeSet<String>,
) -> Result<BTreeMap<String, Vec<LiveCompute>>, String> {
    read_live_each(client, workspaces, aliases, |_, _, _| {}).await
}

/// What the task of one workspace found: its live computes and the lines of the resources that
/// could not be read, and the location read from the workspace when it had none configured.
type Listed = Result<(Vec<LiveCompute>, Vec<String>, Option<String>), String>;

/// Lists and converts one workspace: each page is converted ([`amlctl_manifest::from_arm`]) as
/// soon as it arrives, while the next one is on its way.
async fn list_converted(client: ArmClient, alias: String, ws: Workspace) -> (String, Listed) {
    let id = workspace_id(&ws);
    let location = if ws.location.is_none() {
        match client.get_workspace(&id).await {
            Ok(body) => body
                .get("location")
                .and_then(|l| l.as_str())
                .map(str::to_string),
            Err(e) => {
                let e = format!("reading workspace {}: {e}", id.workspace);
                return (alias, Err(e));
            }
        }
    } else {
        None
    };
    let mut computes = Vec::new();
    let mut errors = Vec::new();
    let listed = client
        .list_computes_each(&id, &mut |page| {
            computes.extend(convert(&alias, &page, &mut errors));
        })
        .await
        .map_err(|e| format!("listing computes of workspace {}: {e}", id.workspace));
    let result = listed.map(|()| (computes, errors, location));
    (alias, result)
}

/// [`read_live`], calling `on_workspace(alias, workspace, computes)` as soon as one workspace's
/// list is complete and converted (with its location filled in), while the others are still
/// being read. Not called for a workspace that failed or has a compute that cannot be read.
pub async fn read_live_each(
    client: &ArmClient,
    workspaces: &mut BTreeMap<String, Workspace>,
    aliases: &BTreeSet<String>,
    mut on_workspace: impl FnMut(&str, &Workspace, &[LiveCompute]),
) -> Result<BTreeMap<String, Vec<LiveCompute>>, String> {
    let mut tasks = tokio::task::JoinSet::new();
    for alias in aliases {
        let Some(ws) = workspaces.get(alias) else {
            continue;
        };
        tasks.spawn(list_converted(client.clone(), alias.clone(), ws.clone()));
    }
    let mut live = BTreeMap::new();
    let mut errors = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (alias, result) = joined.map_err(|e| format!("a live-state task failed: {e}"))?;
        match result {
            Ok((computes, unreadable, location)) => {
                if let (Some(loc), Some(ws)) = (location, workspaces.get_mut(&alias)) {
                    ws.location = Some(loc);
                }
                if unreadable.is_empty()
                    && let Some(ws) = workspaces.get(&alias)
                {
                    on_workspace(&alias, ws, &computes);
                }
                errors.extend(unreadable);
                live.insert(alias, computes);
            }
            Err(e) => errors.push(format!("workspace {alias}: {e}")),
        }
    }
    joined(errors)?;
    Ok(live)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_live_reports_every_unreadable_compute_sorted() {
        let good = serde_json::json!({
            "name": "cpu",
            "location": "eastus",
            "properties": { "computeType": "AmlCompute", "properties": {} }
        });
        let raw = BTreeMap::from([
            ("b".to_string(), vec![serde_json::json!("not a resource")]),
            ("a".to_string(), vec![good, serde_json::json!(42)]),
        ]);
        let Err(e) = to_live(&raw) else {
            panic!("unreadable computes must be errors");
        };
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(lines.len(), 2, "{e}");
        assert!(
            lines[0].starts_with("workspace a: cannot read compute ?"),
            "{e}"
        );
        assert!(
            lines[1].starts_with("workspace b: cannot read compute ?"),
            "{e}"
        );
    }
}
