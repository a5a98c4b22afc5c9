//! Subscription-level reads: the ML `usages` and `vmSizes` of a region, and GET of any
//! underlying resource the fixture declares (at its own provider's path).
//!
//! Shapes: `ListUsagesResult`/`Usage` and `VirtualMachineSizeListResult`/`VirtualMachineSize`
//! of `machineLearningServices.json` (2025-12-01, see `shared/arm-spec`); the spec holds no
//! example bodies for these two operations, so the usage `type`/`name.value` spellings
//! (`…/vmFamily/usages` with the family name, `…/totalCores/usages`, `…/lowPriorityCores/usages`)
//! are an assumption documented in the crate README.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::ctx::{Ctx, eq};
use super::http::json_response;
use super::validate::norm_loc;
use crate::error::ApiError;
use crate::fixture::FixtureLocation;
use crate::sizes::{self, DEFAULT_LIMIT, VmSize};

/// The fixture's entry for `location`, if any.
pub(super) fn fixture_location<'a>(ctx: &'a Ctx, location: &str) -> Option<&'a FixtureLocation> {
    ctx.shared
        .config
        .fixture
        .as_ref()?
        .locations
        .iter()
        .find(|l| norm_loc(&l.name) == norm_loc(location))
}

/// The sizes `location` offers.
fn offered(ctx: &Ctx, location: &str) -> Vec<&'static VmSize> {
    match fixture_location(ctx, location).and_then(|l| l.vm_sizes.as_ref()) {
        Some(names) => names.iter().filter_map(|n| sizes::find(n)).collect(),
        None => sizes::TABLE.iter().collect(),
    }
}

/// `GET /subscriptions/{sub}/providers/Microsoft.MachineLearningServices/locations/{loc}/vmSizes`.
pub(super) fn vm_sizes(ctx: &Ctx, location: &str) -> Result<Response, ApiError> {
    let value: Vec<Value> = offered(ctx, location).iter().map(|s| s.to_json()).collect();
    Ok(json_response(StatusCode::OK, &json!({ "value": value })))
}

/// The vCPU limit of a quota key (`standardDSv2Family`, `lowPriority`, `total`): the fixture
/// location's own, else `--quota`'s (every region), else [`DEFAULT_LIMIT`].
pub(crate) fn limit(
    every_region: &BTreeMap<String, u64>,
    fixture: Option<&FixtureLocation>,
    key: &str,
) -> u64 {
    let find = |m: &BTreeMap<String, u64>| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| *v)
    };
    fixture
        .and_then(|l| find(&l.quotas))
        .or_else(|| find(every_region))
        .unwrap_or(DEFAULT_LIMIT)
}

/// vCPUs in use in (sub, location): per family (dedicated), low-priority total, dedicated total.
pub(crate) fn in_use(
    computes: &[crate::state::ComputeRec],
    sub: &str,
    location: &str,
    skip: Option<usize>,
) -> (BTreeMap<&'static str, u64>, u64, u64) {
    let mut family = BTreeMap::new();
    let (mut low, mut total) = (0, 0);
    for (i, c) in computes.iter().enumerate() {
        if Some(i) == skip
            || !eq(&c.subscription_id, sub)
            || norm_loc(&c.location) != norm_loc(location)
        {
            continue;
        }
        let (size, nodes, low_priority) = nodes_of(&c.resource["properties"]);
        let Some(size) = size.and_then(|s| sizes::find(&s)) else {
            continue;
        };
        let vcpus = nodes * size.vcpus;
        if low_priority {
            low += vcpus;
        } else {
            *family.entry(size.family).or_insert(0) += vcpus;
            total += vcpus;
        }
    }
    (family, low, total)
}

/// VM size, nodes in use and low priority of a compute's `properties`.
pub(crate) fn nodes_of(props: &Value) -> (Option<String>, u64, bool) {
    let inner = &props["properties"];
    let size = inner["vmSize"].as_str().map(str::to_string);
    match props["computeType"].as_str() {
        Some("AmlCompute") => {
            // A cluster holds at least its minimum nodes (the emulator never scales up).
            let nodes = inner["currentNodeCount"]
                .as_u64()
                .unwrap_or(0)
                .max(inner["scaleSettings"]["minNodeCount"].as_u64().unwrap_or(0));
            let low = inner["vmPriority"]
                .as_str()
                .is_some_and(|p| p.eq_ignore_ascii_case("LowPriority"));
            (size, nodes, low)
        }
        Some("ComputeInstance") => (size, 1, false),
        _ => (None, 0, false),
    }
}

/// `GET /subscriptions/{sub}/providers/Microsoft.MachineLearningServices/locations/{loc}/usages`:
/// per offered family, the low-priority and the dedicated regional totals, from the fixture's
/// limits and the computes that exist (nodes × vCPUs).
pub(super) fn usages(ctx: &Ctx, sub: &str, location: &str) -> Result<Response, ApiError> {
    let fixture = fixture_location(ctx, location);
    let quota = &ctx.shared.config.quota;
    let (family, low, total) = {
        let g = ctx.shared.lock();
        in_use(g.state.computes(), sub, location, None)
    };
    let mut families: Vec<&'static str> = offered(ctx, location).iter().map(|s| s.family).collect();
    families.sort_unstable();
    families.dedup();
    let prefix = format!(
        "/subscriptions/{sub}/providers/Microsoft.MachineLearningServices/locations/{location}/usages"
    );
    let usage = |kind: &str, name: &str, localized: String, current: u64, limit: u64| {
        json!({
            "id": format!("{prefix}/{name}"),
            "amlWorkspaceLocation": location,
            "type": format!("Microsoft.MachineLearningServices/{kind}/usages"),
            "unit": "Count",
            "currentValue": current,
            "limit": limit,
            "name": {"value": name, "localizedValue": localized},
        })
    };
    let mut value = vec![
        usage(
            "totalCores",
            "totalCores",
            "Total Cluster Dedicated Regional vCPUs".into(),
            total,
            limit(quota, fixture, "total"),
        ),
        usage(
            "lowPriorityCores",
            "lowPriorityCores",
            "Total Cluster LowPriority Regional vCPUs".into(),
            low,
            limit(quota, fixture, "lowPriority"),
        ),
    ];
    for f in families {
        value.push(usage(
            "vmFamily",
            f,
            format!("{f} Cluster Dedicated vCPUs"),
            family.get(f).copied().unwrap_or(0),
            limit(quota, fixture, f),
        ));
    }
    Ok(json_response(StatusCode::OK, &json!({ "value": value })))
}

/// `GET {resource id}` of an underlying resource: 200 when the fixture/state declares it, 403
/// `AuthorizationFailed` when the fixture lists it in `forbidden_resources`, 404
/// `ResourceNotFound` otherwise.
pub(super) fn resource(ctx: &Ctx) -> Result<Response, ApiError> {
    let id = format!("/{}", ctx.segs.join("/"));
    let forbidden = ctx
        .shared
        .config
        .fixture
        .as_ref()
        .is_some_and(|f| f.forbidden_resources.iter().any(|r| same(r, &id)));
    if forbidden {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "AuthorizationFailed",
            format!(
                "The client 'emulator-user' does not have authorization to perform action 'read' over scope '{id}' or the scope is invalid."
            ),
        ));
    }
    let exists = ctx.shared.lock().state.has_resource(&id);
    if !exists {
        let segs = ctx.segs;
        let rg = segs.get(3).map(String::as_str).unwrap_or("?");
        let what = segs.get(5..).map(|s| s.join("/")).unwrap_or_default();
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!("The Resource '{what}' under resource group '{rg}' was not found."),
        ));
    }
    let name = ctx.segs.last().cloned().unwrap_or_default();
    let provider: Vec<&str> = ctx.segs[5..]
        .iter()
        .enumerate()
        .filter(|(i, _)| *i == 0 || i % 2 == 1)
        .map(|(_, s)| s.as_str())
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({"id": id, "name": name, "type": provider.join("/"), "properties": {"provisioningState": "Succeeded"}}),
    ))
}

fn same(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}
