//! Pre-flight checks: what would fail at apply time, found at plan time, without I/O.
//!
//! The workflow asks [`requests`] what to read (the `usages` and `vmSizes` of each
//! subscription/location the plan's creates, replaces and scale-ups touch, and every ARM id a
//! changing manifest refers to), reads it, and hands the answers to [`check`], which adds
//! errors and warnings to the plan and records a [`Preflight`] summary.
//!
//! Quota: the vCPUs an entry holds are `min_instances` × the size's vCPUs (one node for a
//! compute instance); deletes and scale-downs free what they held in the same run. Needing more
//! than is free is an error; `max_instances` beyond what is left after the plan is a warning.

use std::collections::{BTreeMap, BTreeSet};

use amlctl_manifest::{ComputeType, SourceLocation, Target, Workspace};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Action, Plan, PlanEntry, PlanError};

/// A subscription and a location (lower case, no spaces).
pub type Region = (String, String);

/// What the pre-flight needs read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requests {
    /// Regions whose `usages` and `vmSizes` are needed.
    pub regions: BTreeSet<Region>,
    /// Referenced ARM ids (as written; deduplicated case-insensitively).
    pub references: BTreeSet<String>,
}

/// One offered VM size (from `vmSizes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmSizeInfo {
    /// Size name.
    pub name: String,
    /// Quota family.
    pub family: String,
    /// vCPUs per node.
    pub vcpus: u64,
    /// `supportedComputeTypes` (empty: not stated, every type accepted).
    pub compute_types: Vec<String>,
}

/// A quota bucket of a region.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// Dedicated vCPUs of one VM family.
    Family(String),
    /// Low-priority vCPUs (all families).
    LowPriority,
    /// Dedicated vCPUs of the region (all families).
    Total,
}

impl Bucket {
    fn label(&self) -> String {
        match self {
            Bucket::Family(f) => f.clone(),
            Bucket::LowPriority => "low-priority vCPUs".into(),
            Bucket::Total => "total regional dedicated vCPUs".into(),
        }
    }
}

/// Usage and limit of one bucket (from `usages`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// vCPUs in use.
    pub current: u64,
    /// vCPU limit.
    pub limit: u64,
}

/// What was read for one region; `None` fields could not be read (the error says why).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionData {
    /// Offered sizes.
    pub sizes: Option<Vec<VmSizeInfo>>,
    /// Usages by bucket.
    pub usages: Option<BTreeMap<Bucket, Usage>>,
    /// Why something could not be read.
    pub error: Option<String>,
}

/// What one GET of a referenced resource found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefStatus {
    /// It exists.
    Exists,
    /// 404.
    NotFound,
    /// 403: cannot tell.
    Forbidden,
    /// Any other failure.
    Failed(String),
}

/// Everything read for the pre-flight.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Data {
    /// By region.
    pub regions: BTreeMap<Region, RegionData>,
    /// By ARM id, lower case.
    pub references: BTreeMap<String, RefStatus>,
}

pub use crate::model::preflight::{Finding, Preflight, QuotaLine};

fn norm_loc(l: &str) -> String {
    l.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

fn adds(e: &PlanEntry) -> bool {
    e.actions.iter().any(|a| {
        matches!(
            a,
            Action::Create | Action::Attach | Action::Replace | Action::Update
        )
    })
}

/// Subscription and location of one side of an entry.
fn region_of(
    side: &Value,
    e: &PlanEntry,
    workspaces: &BTreeMap<String, Workspace>,
) -> Option<Region> {
    let ws = workspaces.get(&e.workspace)?;
    let loc = side
        .get("location")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| ws.location.clone())?;
    Some((ws.subscription_id.to_ascii_lowercase(), norm_loc(&loc)))
}

fn size_of(side: &Value) -> Option<&str> {
    side.get("size").and_then(Value::as_str)
}

/// ARM ids a manifest refers to, with the manifest key of each.
fn references_of(after: &Value) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    if let Some(id) = after.get("resource_id").and_then(Value::as_str) {
        out.push((id.to_string(), "resource_id"));
    }
    if let Some(id) = after
        .get("network_settings")
        .and_then(|n| n.get("subnet"))
        .and_then(Value::as_str)
        .filter(|s| s.starts_with('/'))
    {
        out.push((id.to_string(), "network_settings.subnet"));
    }
    if let Some(list) = after
        .get("identity")
        .and_then(|i| i.get("user_assigned_identities"))
        .and_then(Value::as_array)
    {
        for item in list {
            let id = item
                .get("resource_id")
                .and_then(Value::as_str)
                .or_else(|| item.as_str());
            if let Some(id) = id {
                out.push((id.to_string(), "identity.user_assigned_identities"));
            }
        }
    }
    out
}

/// Whether a quota or size read is needed: a size is being created or its nodes grow.
fn needs_region(e: &PlanEntry) -> bool {
    let Some(after) = &e.after else {
        return false;
    };
    if size_of(after).is_none() || !adds(e) {
        return false;
    }
    let Some(before) = &e.before else {
        return true;
    };
    let min = |v: &Value| v.get("min_instances").and_then(Value::as_u64).unwrap_or(0);
    let max = |v: &Value| v.get("max_instances").and_then(Value::as_u64).unwrap_or(0);
    e.actions.contains(&Action::Replace)
        || min(after) > min(before)
        || max(after) > max(before)
        || size_of(after).map(str::to_ascii_lowercase)
            != size_of(before).map(str::to_ascii_lowercase)
}

/// What to read for `plan`: nothing for entries that do not change.
pub fn requests(plan: &Plan, workspaces: &BTreeMap<String, Workspace>) -> Requests {
    let mut r = Requests::default();
    let mut seen = BTreeSet::new();
    for e in plan.entries.iter().filter(|e| e.has_changes()) {
        let Some(after) = &e.after else { continue };
        if needs_region(e)
            && let Some(region) = region_of(after, e, workspaces)
        {
            r.regions.insert(region);
        }
        if adds(e) {
            for (id, _) in references_of(after) {
                if seen.insert(id.to_ascii_lowercase()) {
                    r.references.insert(id);
                }
            }
        }
    }
    r
}

/// What to read for targets known to be created (their workspace was listed and they were not
/// in it), before the plan exists: the region of each one with a `size` and every ARM id it
/// refers to, as [`requests`] would ask for their create entries. The workflow starts these
/// reads while other workspaces are still being listed; [`requests`] of the finished plan says
/// what is still missing.
pub fn requests_for_creates<'a>(
    targets: impl IntoIterator<Item = &'a Target>,
    workspaces: &BTreeMap<String, Workspace>,
) -> Requests {
    let mut r = Requests::default();
    let mut seen = BTreeSet::new();
    for t in targets {
        let Some(ws) = workspaces.get(&t.workspace) else {
            continue;
        };
        let after = Value::Object(t.spec.clone());
        let location = after
            .get("location")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| ws.location.clone());
        if size_of(&after).is_some()
            && let Some(loc) = location
        {
            r.regions
                .insert((ws.subscription_id.to_ascii_lowercase(), norm_loc(&loc)));
        }
        for (id, _) in references_of(&after) {
            if seen.insert(id.to_ascii_lowercase()) {
                r.references.insert(id);
            }
        }
    }
    r
}

struct Cx<'a> {
    targets: &'a [Target],
    plan_errors: Vec<PlanError>,
    warnings: Vec<String>,
    findings: Vec<Finding>,
}

impl Cx<'_> {
    fn position(&self, e: &PlanEntry, key: &str) -> Option<SourceLocation> {
        let t = self
            .targets
            .iter()
            .find(|t| t.workspace == e.workspace && t.name == e.name);
        t.and_then(|t| {
            t.key_locations
                .iter()
                .find(|(k, _)| *k == key || k.starts_with(&format!("{key}.")))
                .map(|(_, l)| l.clone())
                .or_else(|| Some(t.source.clone()))
        })
        .or_else(|| e.source.clone())
    }

    fn error(&mut self, e: &PlanEntry, key: &str, message: String, hint: String) {
        let source = self.position(e, key);
        self.findings.push(Finding {
            severity: "error".into(),
            address: e.address.clone(),
            message: message.clone(),
            position: source.as_ref().map(ToString::to_string),
        });
        self.plan_errors.push(PlanError {
            address: e.address.clone(),
            message,
            hint: Some(hint),
            source,
        });
    }

    fn warning(&mut self, e: &PlanEntry, key: &str, message: String) {
        let source = self.position(e, key);
        let at = source
            .as_ref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        self.warnings.push(format!("{}{at}: {message}", e.address));
        self.findings.push(Finding {
            severity: "warning".into(),
            address: e.address.clone(),
            message,
            position: source.as_ref().map(ToString::to_string),
        });
    }
}

/// Up to three offered names closest to `want` (shared prefix, then edit distance).
fn nearest(want: &str, sizes: &[VmSizeInfo]) -> Vec<String> {
    let w = want.to_ascii_lowercase();
    let mut scored: Vec<(usize, &str)> = sizes
        .iter()
        .map(|s| (distance(&w, &s.name.to_ascii_lowercase()), s.name.as_str()))
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(3)
        .map(|(_, n)| n.to_string())
        .collect()
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// ARM `computeType` of a manifest type word.
fn arm_type(e: &PlanEntry) -> &'static str {
    match e.compute_type {
        Some(ComputeType::ComputeInstance) => "ComputeInstance",
        _ => "AmlCompute",
    }
}

/// vCPUs one side of an entry holds (`min` nodes) and may reach (`max` nodes), and its bucket.
fn demand(side: &Value, sizes: &[VmSizeInfo], instance: bool) -> Option<(String, u64, u64, bool)> {
    let size = size_of(side)?;
    let info = sizes.iter().find(|s| s.name.eq_ignore_ascii_case(size))?;
    let (min, max) = if instance {
        (1, 1)
    } else {
        (
            side.get("min_instances")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            side.get("max_instances")
                .and_then(Value::as_u64)
                .unwrap_or(1),
        )
    };
    let low = side
        .get("tier")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("low_priority"));
    Some((info.family.clone(), min * info.vcpus, max * info.vcpus, low))
}

fn buckets(family: &str, low: bool) -> Vec<Bucket> {
    if low {
        vec![Bucket::LowPriority]
    } else {
        vec![Bucket::Family(family.to_string()), Bucket::Total]
    }
}

/// Per-region, per-bucket change of held vCPUs the plan makes.
type Delta = BTreeMap<Region, BTreeMap<Bucket, i64>>;

/// An entry whose new side holds vCPUs: entry, region, family, min and max vCPUs, low priority.
type Growth<'a> = (&'a PlanEntry, Region, String, u64, u64, bool);

/// Whether an entry is a compute instance (one node, quota checked against its size).
fn instance(e: &PlanEntry) -> bool {
    arm_type(e) == "ComputeInstance"
}

/// Runs the checks on `plan` with what was read: errors go to `plan.errors`, warnings to
/// `plan.warnings`, and the summary to `plan.preflight`.
pub fn check(
    plan: &mut Plan,
    targets: &[Target],
    workspaces: &BTreeMap<String, Workspace>,
    data: &Data,
) {
    let mut cx = Cx {
        targets,
        plan_errors: Vec::new(),
        warnings: Vec::new(),
        findings: Vec::new(),
    };
    let entries: Vec<PlanEntry> = plan
        .entries
        .iter()
        .filter(|e| e.has_changes())
        .cloned()
        .collect();
    check_references(&mut cx, &entries, data);
    let (delta, growing) = tally(&mut cx, &entries, workspaces, data);
    let quotas = quota_lines(&delta, data);
    check_quota(&mut cx, &growing, &delta, data);
    let had_findings = !cx.findings.is_empty();
    plan.errors.append(&mut cx.plan_errors);
    plan.warnings.append(&mut cx.warnings);
    if had_findings || !quotas.is_empty() || !data.references.is_empty() {
        plan.preflight = Some(Preflight {
            quotas,
            findings: cx.findings,
            references_checked: data.references.len(),
        });
    }
}

/// References: an error for each referenced id that does not exist, a warning for each that
/// cannot be verified.
fn check_references(cx: &mut Cx<'_>, entries: &[PlanEntry], data: &Data) {
    for e in entries.iter().filter(|e| adds(e)) {
        let Some(after) = &e.after else { continue };
        for (id, key) in references_of(after) {
            match data.references.get(&id.to_ascii_lowercase()) {
                Some(RefStatus::NotFound) => cx.error(
                    e,
                    key,
                    format!("{key}: {} does not exist: {id}", what(key, e)),
                    "create it first, or correct the id (check the subscription, resource group and name)".into(),
                ),
                Some(RefStatus::Forbidden) => cx.warning(
                    e,
                    key,
                    format!("{key}: cannot verify {id}: no read access (the identity running plan needs Reader on it)"),
                ),
                Some(RefStatus::Failed(why)) => {
                    cx.warning(e, key, format!("{key}: cannot verify {id}: {why}"))
                }
                Some(RefStatus::Exists) | None => {}
            }
        }
    }
}

/// Sizes and quota, per region: checks each new size is offered, and adds up what each side of
/// each entry holds (freed by the old side, taken by the new one).
fn tally<'a>(
    cx: &mut Cx<'_>,
    entries: &'a [PlanEntry],
    workspaces: &BTreeMap<String, Workspace>,
    data: &Data,
) -> (Delta, Vec<Growth<'a>>) {
    let mut delta: Delta = BTreeMap::new();
    let mut growing: Vec<Growth<'a>> = Vec::new();
    for e in entries {
        let sides = [(&e.before, -1i64), (&e.after, 1i64)];
        let replaced_or_gone = e
            .actions
            .iter()
            .any(|a| matches!(a, Action::Replace | Action::Delete));
        for (side, sign) in sides {
            let Some(side) = side else { continue };
            if sign < 0 && !replaced_or_gone && !e.actions.contains(&Action::Update) {
                continue;
            }
            if sign > 0 && !adds(e) {
                continue;
            }
            let Some(region) = region_of(side, e, workspaces) else {
                continue;
            };
            let Some(rd) = data.regions.get(&region) else {
                continue;
            };
            let Some(sizes) = &rd.sizes else { continue };
            if sign > 0
                && needs_region(e)
                && let Some(size) = size_of(side)
                && !size_offered(cx, e, size, sizes, &region)
            {
                continue;
            }
            let Some((family, min, max, low)) = demand(side, sizes, instance(e)) else {
                continue;
            };
            let d = delta.entry(region.clone()).or_default();
            for b in buckets(&family, low) {
                *d.entry(b).or_insert(0) += sign * min as i64;
            }
            if sign > 0 {
                growing.push((e, region.clone(), family, min, max, low));
            }
        }
    }
    (delta, growing)
}

/// Whether `size` is offered in `region` for the entry's compute type; if not, records the
/// error with the nearest offered names and returns false.
fn size_offered(
    cx: &mut Cx<'_>,
    e: &PlanEntry,
    size: &str,
    sizes: &[VmSizeInfo],
    region: &Region,
) -> bool {
    match sizes.iter().find(|s| s.name.eq_ignore_ascii_case(size)) {
        None => {
            let near = nearest(size, sizes);
            cx.error(
                e,
                "size",
                format!(
                    "size {size} is not offered in {} (subscription {})",
                    region.1, region.0
                ),
                format!("use an offered size, e.g. {}", near.join(", ")),
            );
            false
        }
        Some(info)
            if !info.compute_types.is_empty()
                && !info
                    .compute_types
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case(arm_type(e))) =>
        {
            let ok: Vec<VmSizeInfo> = sizes
                .iter()
                .filter(|s| {
                    s.compute_types.is_empty()
                        || s.compute_types
                            .iter()
                            .any(|t| t.eq_ignore_ascii_case(arm_type(e)))
                })
                .cloned()
                .collect();
            cx.error(
                e,
                "size",
                format!(
                    "size {size} does not support {} in {}",
                    arm_type(e),
                    region.1
                ),
                format!(
                    "use a size that does, e.g. {}",
                    nearest(size, &ok).join(", ")
                ),
            );
            false
        }
        Some(_) => true,
    }
}

/// One summary line per region and bucket the plan changes: limit, free now, free after.
fn quota_lines(delta: &Delta, data: &Data) -> Vec<QuotaLine> {
    let mut quotas = Vec::new();
    for (region, d) in delta {
        let Some(usages) = data.regions.get(region).and_then(|r| r.usages.as_ref()) else {
            continue;
        };
        for (b, change) in d {
            let Some(u) = usages.get(b) else { continue };
            let free = u.limit as i64 - u.current as i64;
            quotas.push(QuotaLine {
                subscription_id: region.0.clone(),
                location: region.1.clone(),
                quota: b.label(),
                limit: u.limit,
                free,
                free_after: free - change,
            });
        }
    }
    quotas
}

/// Quota: an error when an entry's `min` needs more than is free after the plan, a warning
/// when its `max` cannot be reached.
fn check_quota(cx: &mut Cx<'_>, growing: &[Growth<'_>], delta: &Delta, data: &Data) {
    for (e, region, family, min, max, low) in growing {
        let Some(d) = delta.get(region) else { continue };
        let Some(usages) = data.regions.get(region).and_then(|r| r.usages.as_ref()) else {
            continue;
        };
        let key = if instance(e) { "size" } else { "min_instances" };
        for b in buckets(family, *low) {
            let (Some(u), Some(change)) = (usages.get(&b), d.get(&b)) else {
                continue;
            };
            let free = u.limit as i64 - u.current as i64;
            let after = free - change;
            if *min > 0 && after < 0 {
                cx.error(
                    e,
                    key,
                    format!(
                        "not enough {} quota in {}: this plan needs {} vCPUs ({} here), {} are free (limit {}, in use {})",
                        b.label(), region.1, change, min, free.max(0), u.limit, u.current
                    ),
                    format!(
                        "request more {} quota for {} in the Azure portal (Azure Machine Learning > Quota > Request quota), or {}",
                        b.label(),
                        region.1,
                        if instance(e) { "pick a size of another family" } else { "lower min_instances" }
                    ),
                );
                break;
            }
            if *max > *min && after < (*max - *min) as i64 {
                cx.warning(
                    e,
                    "max_instances",
                    format!(
                        "max_instances needs {} vCPUs of {} in {}, only {} will be free after apply: the cluster cannot scale that far",
                        max, b.label(), region.1, (after + *min as i64).max(0)
                    ),
                );
                break;
            }
        }
    }
}

fn what(key: &str, e: &PlanEntry) -> &'static str {
    match key {
        "resource_id" if e.compute_type.is_some() => "attach target",
        "network_settings.subnet" => "subnet",
        "identity.user_assigned_identities" => "user-assigned identity",
        _ => "referenced resource",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(name: &str) -> VmSizeInfo {
        VmSizeInfo {
            name: name.into(),
            family: "f".into(),
            vcpus: 4,
            compute_types: Vec::new(),
        }
    }

    #[test]
    fn nearest_names_come_first() {
        let sizes = [
            size("Standard_NC6s_v3"),
            size("Standard_DS3_v2"),
            size("Standard_DS4_v2"),
            size("Standard_E8s_v3"),
        ];
        let near = nearest("standard_ds13_v2", &sizes);
        assert_eq!(near[0], "Standard_DS3_v2");
        assert_eq!(near.len(), 3);
    }

    #[test]
    fn a_plan_without_changes_reads_nothing() {
        let plan = Plan::empty();
        let r = requests(&plan, &BTreeMap::new());
        assert!(r.regions.is_empty() && r.references.is_empty());
    }
}
