//! Reads what the plan's pre-flight needs ([`amlctl_plan::preflight::requests`]): the `usages`
//! and `vmSizes` of each region the plan grows in and one GET per referenced ARM id, all
//! concurrently (at most `parallelism` in flight), then runs the pure checks.
//!
//! The reads for targets that are certainly created start early ([`Reads::start_creates`]):
//! as soon as a workspace's list is complete, while the other workspaces are still being listed
//! ([`amlctl_plan::preflight::requests_for_creates`]). A target missing from a complete list is a
//! create, so a plan without changes still sends no pre-flight request. [`Reads::finish`] adds
//! what the finished plan needs beyond that (scale-ups, size changes, replaces, updates).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use amlctl_arm::{ArmClient, ResourceCheck};
use amlctl_manifest::{Target, Workspace};
use amlctl_plan::Plan;
use amlctl_plan::preflight::{
    self, Bucket, Data, RefStatus, RegionData, Requests, Usage, VmSizeInfo,
};
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

enum Answer {
    Sizes(preflight::Region, Result<Vec<Value>, String>),
    Usages(preflight::Region, Result<Vec<Value>, String>),
    Reference(String, RefStatus),
}

/// The pre-flight reads of one plan: those started, and their answers to come.
pub struct Reads {
    client: ArmClient,
    gate: Arc<Semaphore>,
    tasks: JoinSet<Answer>,
    regions: BTreeSet<preflight::Region>,
    references: BTreeSet<String>,
}

impl Reads {
    /// No read started yet; at most `parallelism` in flight.
    pub fn new(client: &ArmClient, parallelism: usize) -> Self {
        Reads {
            client: client.clone(),
            gate: Arc::new(Semaphore::new(parallelism.max(1))),
            tasks: JoinSet::new(),
            regions: BTreeSet::new(),
            references: BTreeSet::new(),
        }
    }

    /// Starts the reads of `wanted` not started yet.
    fn start(&mut self, wanted: &Requests) {
        for region in &wanted.regions {
            if !self.regions.insert(region.clone()) {
                continue;
            }
            for sizes in [true, false] {
                let (client, gate) = (self.client.clone(), self.gate.clone());
                let region = region.clone();
                self.tasks.spawn(async move {
                    let _permit = gate.acquire().await;
                    if sizes {
                        let r = client.list_vm_sizes(&region.0, &region.1).await;
                        Answer::Sizes(region, r.map_err(|e| e.to_string()))
                    } else {
                        let r = client.list_usages(&region.0, &region.1).await;
                        Answer::Usages(region, r.map_err(|e| e.to_string()))
                    }
                });
            }
        }
        for id in &wanted.references {
            if !self.references.insert(id.to_ascii_lowercase()) {
                continue;
            }
            let (client, gate, id) = (self.client.clone(), self.gate.clone(), id.clone());
            self.tasks.spawn(async move {
                let Some(version) = amlctl_vocab::resource_type_of(&id)
                    .and_then(|t| amlctl_vocab::api_version::for_resource_type(&t))
                else {
                    return Answer::Reference(
                        id,
                        RefStatus::Failed("not a resource type amlctl knows how to read".into()),
                    );
                };
                let _permit = gate.acquire().await;
                let status = match client.check_resource(&id, version).await {
                    ResourceCheck::Exists => RefStatus::Exists,
                    ResourceCheck::NotFound => RefStatus::NotFound,
                    ResourceCheck::Forbidden => RefStatus::Forbidden,
                    ResourceCheck::Failed(e) => RefStatus::Failed(e),
                };
                Answer::Reference(id, status)
            });
        }
    }

    /// Starts the reads for the targets of workspace `alias` whose names (lower case) its
    /// complete list `listed` does not hold (creates) and that the `--target` filters select
    /// (all when empty).
    pub fn start_creates(
        &mut self,
        alias: &str,
        ws: &Workspace,
        listed: &BTreeSet<String>,
        targets: &[Target],
        filters: &[String],
    ) {
        let selected = |t: &Target| {
            filters.is_empty()
                || filters.iter().any(|f| {
                    f.eq_ignore_ascii_case(&t.name)
                        || f.split_once('/').is_some_and(|(a, n)| {
                            a == t.workspace && n.eq_ignore_ascii_case(&t.name)
                        })
                })
        };
        let creates = targets.iter().filter(|t| {
            t.workspace == alias && !listed.contains(&t.name.to_ascii_lowercase()) && selected(t)
        });
        let one = BTreeMap::from([(alias.to_string(), ws.clone())]);
        let wanted = preflight::requests_for_creates(creates, &one);
        self.start(&wanted);
    }

    /// Starts what the finished `plan` needs and was not started yet, waits for every answer,
    /// and runs the checks; adds the findings and the summary to `plan`. Reads nothing for a
    /// plan that needs nothing.
    pub async fn finish(
        mut self,
        plan: &mut Plan,
        targets: &[Target],
        workspaces: &BTreeMap<String, Workspace>,
    ) {
        let wanted = preflight::requests(plan, workspaces);
        if wanted.regions.is_empty() && wanted.references.is_empty() {
            return;
        }
        self.start(&wanted);
        let mut data = Data::default();
        while let Some(answer) = self.tasks.join_next().await {
            let Ok(answer) = answer else { continue };
            match answer {
                Answer::Sizes(region, r) => {
                    let rd: &mut RegionData = data.regions.entry(region).or_default();
                    match r {
                        Ok(items) => {
                            let sizes: Vec<VmSizeInfo> =
                                items.iter().filter_map(size_info).collect();
                            // No size at all is no answer to check against, not "nothing offered".
                            if sizes.is_empty() {
                                rd.error = Some("the vmSizes answer lists no VM size".into());
                            } else {
                                rd.sizes = Some(sizes);
                            }
                        }
                        Err(e) => rd.error = Some(e),
                    }
                }
                Answer::Usages(region, r) => {
                    let rd = data.regions.entry(region).or_default();
                    match r {
                        Ok(items) => rd.usages = Some(items.iter().filter_map(usage).collect()),
                        Err(e) => rd.error = Some(e),
                    }
                }
                Answer::Reference(id, status) => {
                    data.references.insert(id.to_ascii_lowercase(), status);
                }
            }
        }
        // Reads started early for a region the plan turned out not to need are not reported.
        data.regions.retain(|r, _| wanted.regions.contains(r));
        let ids: BTreeSet<String> = wanted
            .references
            .iter()
            .map(|id| id.to_ascii_lowercase())
            .collect();
        data.references.retain(|id, _| ids.contains(id));
        for (region, rd) in &data.regions {
            if let Some(e) = &rd.error {
                plan.warnings.push(format!(
                    "pre-flight: cannot read the quota or VM sizes of {} in subscription {}: {e}",
                    region.1, region.0
                ));
            }
        }
        preflight::check(plan, targets, workspaces, &data);
    }
}

/// One `VirtualMachineSize` of a `vmSizes` answer.
fn size_info(v: &Value) -> Option<VmSizeInfo> {
    Some(VmSizeInfo {
        name: v.get("name")?.as_str()?.to_string(),
        family: v.get("family")?.as_str()?.to_string(),
        vcpus: v.get("vCPUs")?.as_u64()?,
        compute_types: v
            .get("supportedComputeTypes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// One `Usage` of a `usages` answer, by its `type`: `…/vmFamily/usages` (a family's dedicated
/// vCPUs), `…/lowPriorityCores/usages`, `…/totalCores/usages`; other kinds are ignored.
fn usage(v: &Value) -> Option<(Bucket, Usage)> {
    let kind = v.get("type")?.as_str()?.to_ascii_lowercase();
    let bucket = if kind.ends_with("/vmfamily/usages") {
        Bucket::Family(v.get("name")?.get("value")?.as_str()?.to_string())
    } else if kind.ends_with("/lowprioritycores/usages") && !kind.contains("/workspaces/") {
        Bucket::LowPriority
    } else if kind.ends_with("/totalcores/usages") && !kind.contains("/workspaces/") {
        Bucket::Total
    } else {
        return None;
    };
    let u = Usage {
        current: v.get("currentValue")?.as_u64()?,
        limit: v.get("limit")?.as_u64()?,
    };
    Some((bucket, u))
}
