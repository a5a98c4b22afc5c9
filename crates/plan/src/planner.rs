//! The planner: a pure function from (desired targets, live state, options) to a [`Plan`].

use std::collections::{BTreeMap, BTreeSet};

use amlctl_manifest::fields::{CREATE_ONLY_ARM_PROPERTIES, OnGet, field_at, fields_of};
use amlctl_manifest::{
    ArmBody, ComputeType, DesiredState, LiveCompute, OWNERSHIP_TAG, OWNERSHIP_TAG_VALUE, REDACTED,
    Target, Workspace, diag::did_you_mean,
};
use amlctl_vocab::Method;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::model::{
    Action, Change, Plan, PlanEntry, PlanError, PlanOptions, Policy, Step, Unmanaged,
};
use crate::normalize::{canon, canon_sorted, leaves, lookup, same, set_path};
use crate::policy::{policy_for, replace_note};

/// Hint of a replace that is not allowed.
fn replace_hint(address: &str) -> String {
    format!("add `lifecycle: {{allow_replace: true}}` or run with `--replace {address}`")
}

/// The ARM body a target is created (or overwritten) with: `Target::to_arm`, with every secret
/// slot forced to the placeholder (defence in depth: bodies end up in outputs and plan files).
fn arm_body(t: &Target, ws: &Workspace) -> ArmBody {
    let mut arm = t.to_arm(ws);
    for slot in &arm.secrets {
        if let Some(v) = arm.body.pointer_mut(&slot.pointer) {
            *v = Value::String(REDACTED.to_string());
        }
    }
    arm
}

/// Deep merge for in-place bodies: `over` (what the user wrote) wins; objects merge key by key,
/// except `tags` (a whole map, as the diff treats it) and `identity` (one unit: a written
/// `type: system_assigned` must not inherit the live user-assigned list); arrays and scalars are
/// replaced.
fn merge(base: &Map<String, Value>, over: &Map<String, Value>, top: bool) -> Map<String, Value> {
    let mut out = base.clone();
    for (k, v) in over {
        let merged = match (out.get(k), v) {
            (Some(Value::Object(b)), Value::Object(o))
                if !(top && (k == "tags" || k == "identity")) =>
            {
                Value::Object(merge(b, o, false))
            }
            _ => v.clone(),
        };
        out.insert(k.clone(), merged);
    }
    out
}

/// The body of an in-place update: `to_arm` of the manifest laid over the live object's manifest
/// form, so keys the user did not write keep their live values instead of the SDK defaults
/// (`to_arm` fills those for creation; sent to an existing compute, a default such as the VM
/// size of an adopted cluster would be a change the service refuses).
fn update_body(t: &Target, lc: &LiveCompute, ws: &Workspace) -> ArmBody {
    let mut over = t.clone();
    over.spec = merge(&without_secrets(&lc.spec, t), &t.spec, true);
    let mut arm = arm_body(&over, ws);
    // Create-only properties (`x-ms-mutability: [read, create]` in the spec) keep their live
    // value: `to_arm` derives them for a creation, and the service refuses to change them.
    for (key, _source) in CREATE_ONLY_ARM_PROPERTIES {
        let live = lc.raw.pointer(&format!("/properties/{key}")).cloned();
        if let Some(props) = arm
            .body
            .get_mut("properties")
            .and_then(Value::as_object_mut)
        {
            match live {
                Some(v) if !v.is_null() => {
                    props.insert((*key).to_string(), v);
                }
                _ => {
                    props.remove(*key);
                }
            }
        }
    }
    arm
}

/// The PUT that writes the ownership tag onto an existing compute without changing anything else
/// (`amlctl import`): the in-place body (live values, the manifest's keys on top, the tag added).
pub fn import_step(t: &Target, live: &LiveCompute, ws: &Workspace) -> Step {
    put_step(Action::Update, ws, &t.name, &update_body(t, live, ws))
}

fn query(api_version: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("api-version".to_string(), api_version.to_string())])
}

fn put_step(action: Action, ws: &Workspace, name: &str, arm: &ArmBody) -> Step {
    Step {
        action,
        method: Method::Put,
        path: ws.compute_path(name),
        query: query(&arm.api_version),
        body: Some(arm.body.clone()),
        secrets: arm.secrets.clone(),
    }
}

fn delete_step(action: Action, ws: &Workspace, name: &str, ct: Option<ComputeType>) -> Step {
    let api = ct.map_or(
        ComputeType::AmlCompute.api_version(),
        ComputeType::api_version,
    );
    let mut q = query(api);
    let underlying = if ct.is_some_and(ComputeType::is_attached) {
        "Detach"
    } else {
        "Delete"
    };
    q.insert("underlyingResourceAction".into(), underlying.into());
    Step {
        action,
        method: Method::Delete,
        path: ws.compute_path(name),
        query: q,
        body: None,
        secrets: Vec::new(),
    }
}

fn post_step(action: Action, ws: &Workspace, name: &str, ct: ComputeType, verb: &str) -> Step {
    Step {
        action,
        method: Method::Post,
        path: format!("{}/{verb}", ws.compute_path(name)),
        query: query(ct.api_version()),
        body: None,
        secrets: Vec::new(),
    }
}

/// PATCH with the full desired scale settings (`ClusterUpdateParameters`).
fn patch_step(ws: &Workspace, name: &str, arm: &ArmBody, t: &Target) -> Step {
    let scale = arm
        .body
        .pointer("/properties/properties/scaleSettings")
        .cloned()
        .unwrap_or_else(|| {
            // Built from the manifest when the body has none (it always should).
            let mut s = Map::new();
            if let Some(v) = t.spec.get("max_instances") {
                s.insert("maxNodeCount".into(), v.clone());
            }
            if let Some(v) = t.spec.get("min_instances") {
                s.insert("minNodeCount".into(), v.clone());
            }
            if let Some(secs) = t
                .spec
                .get("idle_time_before_scale_down")
                .and_then(Value::as_u64)
            {
                s.insert(
                    "nodeIdleTimeBeforeScaleDown".into(),
                    Value::String(format!("PT{secs}S")),
                );
            }
            Value::Object(s)
        });
    Step {
        action: Action::Update,
        method: Method::Patch,
        path: ws.compute_path(name),
        query: query(&arm.api_version),
        body: Some(json!({"properties": {"properties": {"scaleSettings": scale}}})),
        secrets: Vec::new(),
    }
}

/// A value in a reason or a change line: strings bare, the rest as compact JSON.
pub(crate) fn show(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "(none)".to_string(),
        Some(Value::String(s)) if s.is_empty() => "\"\"".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn short(v: Option<&Value>) -> String {
    let s = show(v).replace('\n', "⏎");
    let n = s.chars().count();
    if n > 60 {
        // Keep both ends: ARM ids differ at the end, sentences at the start.
        let head: String = s.chars().take(20).collect();
        let tail: String = s.chars().skip(n - 39).collect();
        format!("{head}…{tail}")
    } else {
        s
    }
}

fn describe_change(c: &Change) -> String {
    if c.sensitive {
        return format!("{} (secret)", c.key);
    }
    let structured = |v: &Option<Value>| match v {
        Some(Value::Object(_) | Value::Array(_)) => true,
        Some(Value::String(s)) => s.contains('\n'),
        _ => false,
    };
    if structured(&c.before) || structured(&c.after) {
        return match (&c.before, &c.after) {
            (None, _) => format!("{} added", c.key),
            (_, None) => format!("{} removed", c.key),
            _ => format!("{} changed", c.key),
        };
    }
    format!(
        "{} {} → {}",
        c.key,
        short(c.before.as_ref()),
        short(c.after.as_ref())
    )
}

fn covers(prefix: &str, key: &str) -> bool {
    key == prefix || (key.starts_with(prefix) && key.as_bytes().get(prefix.len()) == Some(&b'.'))
}

fn is_secret(t: &Target, key: &str) -> bool {
    t.secrets.keys().any(|s| covers(s, key))
}

/// Where the secret at `key` comes from (see [`amlctl_manifest::SecretRef::source`]).
fn secret_source(t: &Target, key: &str, root: Option<&std::path::Path>) -> Option<String> {
    t.secrets
        .iter()
        .find(|(s, _)| covers(s, key))
        .map(|(_, r)| r.source(root))
}

fn effective_policy(t: &Target, key: &str, value: Option<&Value>) -> Policy {
    if is_secret(t, key) || value.and_then(Value::as_str) == Some(REDACTED) {
        Policy::WriteOnlySecret
    } else {
        policy_for(t.compute_type, key)
    }
}

fn ignored(t: &Target, key: &str) -> bool {
    t.lifecycle.ignore_changes.iter().any(|i| covers(i, key))
}

/// The desired manifest with every secret field shown as the placeholder.
fn redacted_spec(t: &Target) -> Map<String, Value> {
    let mut spec = t.spec.clone();
    for key in t.secrets.keys() {
        let path: Vec<&str> = key.split('.').collect();
        let segs: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        if lookup(&spec, &segs).is_some() {
            set_path(&mut spec, &path, Value::String(REDACTED.to_string()));
        }
    }
    spec
}

/// A live manifest with anything secret-looking replaced by the placeholder. ARM never returns
/// secrets, so this is defence in depth: the target's secret keys, and (outside `tags`) keys
/// named like secrets (`…password`, `…token`, `…secret`, `…key`, `…connectionString`).
fn redacted_live(spec: &Map<String, Value>, t: Option<&Target>) -> Map<String, Value> {
    let mut out = spec.clone();
    for path in secret_looking(spec, t) {
        let segs: Vec<&str> = path.iter().map(String::as_str).collect();
        set_path(&mut out, &segs, Value::String(REDACTED.to_string()));
    }
    out
}

/// The live manifest without anything secret-looking (the base of an in-place body: a
/// placeholder there would be sent as a value).
fn without_secrets(spec: &Map<String, Value>, t: &Target) -> Map<String, Value> {
    let mut out = spec.clone();
    for path in secret_looking(spec, Some(t)) {
        remove_path(&mut out, &path);
    }
    out
}

fn secret_looking(spec: &Map<String, Value>, t: Option<&Target>) -> Vec<Vec<String>> {
    leaves(spec)
        .into_iter()
        .filter(|(path, v)| {
            if path.first().map(String::as_str) == Some("tags") || v.is_null() {
                return false;
            }
            let named = path
                .last()
                .is_some_and(|k| amlctl_manifest::fields::is_secret_property(k));
            named || t.is_some_and(|t| is_secret(t, &path.join(".")))
        })
        .map(|(path, _)| path)
        .collect()
}

fn remove_path(map: &mut Map<String, Value>, path: &[String]) {
    let Some((last, init)) = path.split_last() else {
        return;
    };
    let mut cur = map;
    for seg in init {
        let Some(Value::Object(next)) = cur.get_mut(seg) else {
            return;
        };
        cur = next;
    }
    cur.remove(last);
}

fn tags_of(v: Option<&Value>) -> BTreeMap<String, (String, Value)> {
    let mut out = BTreeMap::new();
    if let Some(Value::Object(m)) = v {
        for (k, val) in m {
            if k.eq_ignore_ascii_case(OWNERSHIP_TAG) {
                continue;
            }
            // Tag names are case-insensitive in Azure; values are not.
            out.insert(k.to_ascii_lowercase(), (k.clone(), val.clone()));
        }
    }
    out
}

fn live_tags(lc: &LiveCompute) -> Option<&Value> {
    lc.spec.get("tags").or_else(|| lc.raw.get("tags"))
}

fn owned(lc: &LiveCompute) -> bool {
    [lc.raw.get("tags"), lc.spec.get("tags")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .any(|m| {
            m.iter().any(|(k, v)| {
                k.eq_ignore_ascii_case(OWNERSHIP_TAG)
                    && v.as_str()
                        .is_some_and(|s| s.eq_ignore_ascii_case(OWNERSHIP_TAG_VALUE))
            })
        })
}

/// What a live value that is absent or `null` means for a declared key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Absent {
    /// The service does not return the key (at some api-versions, or ever): the declared value
    /// cannot be checked after creation. Never a diff, never a replace.
    Unverifiable,
    /// The service returns the key whenever it is set, so absence means this value (`None`:
    /// unset); compared like any other live value.
    Means(Option<Value>),
}

/// Decides what an absent or `null` live value of a declared key means: the one place where a
/// key's documented service default plugs in, read from the manifest field table
/// (`amlctl_manifest::fields`):
/// * a key GET never returns (at every api-version) is unverifiable;
/// * a key with a documented default means that default (`vmPriority` `Dedicated`, …);
/// * a key (or the object above it) that GET returns whenever set means unset;
/// * anything else is unverifiable (issue #14 rule 1: compute-instance flags missing at some
///   api-versions, `adminPublicKey: null` although a key was sent, passwords always `null`).
pub(crate) fn when_absent(compute_type: ComputeType, key: &str) -> Absent {
    let fields = fields_of(compute_type);
    let segs: Vec<&str> = key.split('.').collect();
    if let Some(f) = field_at(fields, &segs) {
        if matches!(f.on_get, OnGet::Never(_)) {
            return Absent::Unverifiable;
        }
        if let Some(v) = f
            .service_default
            .and_then(|d| serde_json::from_str::<Value>(d.value).ok())
        {
            return Absent::Means(Some(v));
        }
    }
    for n in (1..=segs.len()).rev() {
        match field_at(fields, &segs[..n]).map(|f| f.on_get) {
            Some(OnGet::Always(_) | OnGet::WhenSet(_)) => return Absent::Means(None),
            Some(OnGet::Never(_)) => return Absent::Unverifiable,
            Some(OnGet::Unknown) | None => {}
        }
    }
    Absent::Unverifiable
}

/// A value that means "not sent, the service default applies" (`idle_time_before_scale_down:
/// 0`, which `to_arm` leaves out) is compared as that default, on either side.
fn unset_as_default<'a>(
    compute_type: ComputeType,
    path: &[&str],
    v: Option<std::borrow::Cow<'a, Value>>,
) -> Option<std::borrow::Cow<'a, Value>> {
    let Some(d) = field_at(fields_of(compute_type), path).and_then(|f| f.service_default) else {
        return v;
    };
    let (Some(unset), Some(value)) = (
        d.unset.and_then(|u| serde_json::from_str::<Value>(u).ok()),
        serde_json::from_str::<Value>(d.value).ok(),
    ) else {
        return v;
    };
    match v {
        Some(x) if same(path, &unset, Some(&x)) => Some(std::borrow::Cow::Owned(value)),
        other => other,
    }
}

/// The live value to compare a declared key with: `Ok(value)`, or `Err(())` when the key is
/// unverifiable (see [`when_absent`]).
fn live_value<'a>(
    compute_type: ComputeType,
    key: &str,
    live: Option<&'a Value>,
) -> Result<Option<std::borrow::Cow<'a, Value>>, ()> {
    match live {
        Some(v) if !v.is_null() => Ok(Some(std::borrow::Cow::Borrowed(v))),
        _ => match when_absent(compute_type, key) {
            Absent::Unverifiable => Err(()),
            Absent::Means(v) => Ok(v.map(std::borrow::Cow::Owned)),
        },
    }
}

/// Differences between a target and its live compute, in manifest terms; the keys whose drift
/// `ignore_changes` hides, and the declared keys the service does not return, are returned
/// apart.
fn diff(t: &Target, lc: &LiveCompute) -> (Vec<Change>, Vec<String>, Vec<String>) {
    let mut changes = Vec::new();
    let mut hidden = Vec::new();
    let mut unverifiable = Vec::new();
    let mut push = |key: String, before: Option<Value>, after: Option<Value>, policy: Policy| {
        if ignored(t, &key) {
            hidden.push(key);
        } else {
            changes.push(Change {
                key,
                before,
                after,
                policy,
                sensitive: false,
                source: None,
            });
        }
    };
    for (path, desired) in leaves(&t.spec) {
        if path.first().map(String::as_str) == Some("tags") {
            continue;
        }
        if matches!(&desired, Value::Object(m) if m.is_empty()) {
            continue;
        }
        let key = path.join(".");
        let policy = effective_policy(t, &key, Some(&desired));
        if !policy.is_compared() {
            continue;
        }
        let Ok(live) = live_value(t.compute_type, &key, lookup(&lc.spec, &path)) else {
            unverifiable.push(key);
            continue;
        };
        let segs: Vec<&str> = path.iter().map(String::as_str).collect();
        let want = unset_as_default(
            t.compute_type,
            &segs,
            Some(std::borrow::Cow::Borrowed(&desired)),
        );
        let have = unset_as_default(t.compute_type, &segs, live.clone());
        if let Some(want) = want.as_deref()
            && same(&segs, want, have.as_deref())
        {
            continue;
        }
        push(key, live.map(|v| v.into_owned()), Some(desired), policy);
    }
    if let Some(want) = t.spec.get("tags") {
        let want = tags_of(Some(want));
        let have = tags_of(live_tags(lc));
        let names: BTreeSet<&String> = want.keys().chain(have.keys()).collect();
        for n in names {
            let w = want.get(n);
            let h = have.get(n);
            if w.map(|x| &x.1) == h.map(|x| &x.1) {
                continue;
            }
            let shown = w.or(h).map_or(n.clone(), |x| x.0.clone());
            let key = format!("tags.{shown}");
            let policy = policy_for(t.compute_type, &key);
            push(key, h.map(|x| x.1.clone()), w.map(|x| x.1.clone()), policy);
        }
    }
    (changes, hidden, unverifiable)
}

/// `Creating`, `Updating`, `Deleting`, and `Unknown` (issue #14 rule 7: a state the service
/// reports while it has not settled; plan again later).
fn transitional(ps: Option<&str>) -> bool {
    ps.is_some_and(|s| {
        ["Creating", "Updating", "Deleting", "Unknown"]
            .iter()
            .any(|t| s.eq_ignore_ascii_case(t))
    })
}

fn provisioning_errors(lc: &LiveCompute) -> String {
    let parts: Vec<String> = lc
        .provisioning_errors
        .iter()
        .map(|e| {
            let inner = e.get("error").unwrap_or(e);
            let code = inner.get("code").and_then(Value::as_str);
            let msg = inner.get("message").and_then(Value::as_str);
            match (code, msg) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (None, Some(m)) => m.to_string(),
                (Some(c), None) => c.to_string(),
                (None, None) => e.to_string(),
            }
        })
        .collect();
    if parts.is_empty() {
        "no error details".to_string()
    } else {
        parts.join("; ")
    }
}

/// Appended to the reason of a compute-instance replace.
const HOME_WARNING: &str = " (WARNING: a compute instance holds its user's home directory; files not saved elsewhere are lost)";

/// Appended to the reason of a detach and re-attach.
const DETACH_WARNING: &str =
    " (breaks, until attached again: jobs and online deployments that name this compute)";

/// True when GET shows that a Failed (or Canceled) compute worked before, so its state is a
/// failed *update*, not a failed create (issue #14 rule 7). What GET offers:
/// * compute instance: `properties.properties.lastOperation` names the last operation; anything
///   but a `Create` (`Start`, `Stop`, `Restart`, `Reimage`), or a `Create` whose status is
///   `Succeeded`, means it ran (arm-recordings py-aiml-ci_stop_start_restart [11], [16], [23]).
///   No `lastOperation` (it is `null` until the create settles) means it never ran.
/// * cluster: `allocationState` and `allocationStateTransitionTime` are `null` in the create
///   response and set on the first GET after the cluster was provisioned (arm-recordings
///   cli-ml-compute_aml [0] vs [2]); ASSUMPTION: a failed create leaves them `null`, so a
///   transition time means the cluster worked.
/// * attached types: nothing in GET tells; ASSUMPTION: a Failed attachment is a failed attach
///   (amlctl never updates an attachment in place), and detaching does not touch the resource.
fn has_worked(lc: &LiveCompute) -> bool {
    let p = lc.raw.pointer("/properties/properties");
    let set = |key: &str| p.and_then(|p| p.get(key)).is_some_and(|v| !v.is_null());
    match lc.compute_type {
        Some(ComputeType::ComputeInstance) => {
            let last = p.and_then(|p| p.get("lastOperation"));
            let name = last
                .and_then(|l| l.get("operationName"))
                .and_then(Value::as_str);
            let status = last
                .and_then(|l| l.get("operationStatus"))
                .and_then(Value::as_str);
            let state = p.and_then(|p| p.get("state")).and_then(Value::as_str);
            if state.is_some_and(|s| s.eq_ignore_ascii_case("CreateFailed")) {
                return false;
            }
            match name {
                None => false,
                Some(n) if n.eq_ignore_ascii_case("Create") => {
                    status.is_some_and(|s| s.eq_ignore_ascii_case("Succeeded"))
                }
                Some(_) => true,
            }
        }
        Some(ComputeType::AmlCompute) => set("allocationStateTransitionTime"),
        _ => false,
    }
}

/// What the instance state calls for, given `state:`.
enum InstanceMove {
    None,
    Start,
    Stop,
    Wait(String),
    Odd(String),
}

fn instance_move(t: &Target, lc: &LiveCompute) -> InstanceMove {
    let (Some(want), Some(have)) = (t.state, lc.instance_state.as_deref()) else {
        return InstanceMove::None;
    };
    let is = |names: &[&str]| names.iter().any(|n| have.eq_ignore_ascii_case(n));
    let running = is(&["Running", "JobRunning"]);
    let stopped = is(&["Stopped"]);
    if is(&[
        "Creating",
        "Starting",
        "Stopping",
        "Restarting",
        "SettingUp",
        "UserSettingUp",
        "Deleting",
        "Resizing",
    ]) {
        return InstanceMove::Wait(have.to_string());
    }
    match want {
        DesiredState::Running if running => InstanceMove::None,
        DesiredState::Stopped if stopped => InstanceMove::None,
        DesiredState::Running if stopped => InstanceMove::Start,
        DesiredState::Stopped if running => InstanceMove::Stop,
        _ => InstanceMove::Odd(have.to_string()),
    }
}

fn state_word(s: DesiredState) -> &'static str {
    match s {
        DesiredState::Running => "running",
        DesiredState::Stopped => "stopped",
    }
}

struct Ctx<'a> {
    opts: &'a PlanOptions,
    warnings: Vec<String>,
    /// Compute ids some manifest declares with `lifecycle.prevent_destroy`.
    protected: BTreeSet<String>,
}

/// True when a `--target`/`--replace` value names this compute: its name or its address
/// (`alias/name`); compute names compare case-insensitively, as Azure does.
fn names(filter: &str, alias: &str, name: &str) -> bool {
    filter.eq_ignore_ascii_case(name)
        || filter
            .split_once('/')
            .is_some_and(|(a, n)| a == alias && n.eq_ignore_ascii_case(name))
}

fn requested(opts: &PlanOptions, alias: &str, name: &str) -> bool {
    opts.replace.iter().any(|r| names(r, alias, name))
}

fn plan_target(
    cx: &mut Ctx<'_>,
    t: &Target,
    ws: &Workspace,
    lc: Option<&LiveCompute>,
) -> Result<PlanEntry, PlanError> {
    let address = format!("{}/{}", t.workspace, t.name);
    let arm = arm_body(t, ws);
    let after_spec = redacted_spec(t);
    let mut entry = PlanEntry {
        address: address.clone(),
        workspace: t.workspace.clone(),
        name: t.name.clone(),
        compute_type: Some(t.compute_type),
        actions: Vec::new(),
        reason: String::new(),
        changes: Vec::new(),
        before: lc.map(|l| Value::Object(redacted_live(&l.spec, Some(t)))),
        after: Some(Value::Object(after_spec.clone())),
        steps: Vec::new(),
        live_fingerprint: lc.map(fingerprint),
        source: Some(t.source.clone()),
        unverifiable: Vec::new(),
        ignore_changes: t.lifecycle.ignore_changes.clone(),
    };
    let is_ci = t.compute_type == ComputeType::ComputeInstance;
    let stop_after_create = is_ci && t.state == Some(DesiredState::Stopped);
    let replace_requested = requested(cx.opts, &t.workspace, &t.name);

    let Some(lc) = lc else {
        // Names: the service rule binds creates only (issue #14 rule 9); a compute that exists
        // live is never refused for its name.
        if let Err(why) = amlctl_manifest::check_compute_name(&t.name) {
            return Err(PlanError {
                address: address.clone(),
                message: format!(
                    "{} does not exist yet and its name cannot be created: {why}",
                    t.name
                ),
                hint: Some(
                    "rename the target: names of new computes match ^[a-zA-Z](?![a-zA-Z0-9-]*-\\d+$)[a-zA-Z0-9\\-]{2,23}$".into(),
                ),
                source: t
                    .key_locations
                    .get("name")
                    .cloned()
                    .or_else(|| Some(t.source.clone())),
            });
        }
        let (action, verb) = if t.compute_type.is_attached() {
            (Action::Attach, "not attached yet: attach")
        } else {
            (Action::Create, "does not exist: create")
        };
        entry.actions.push(action);
        entry.steps.push(put_step(action, ws, &t.name, &arm));
        entry.reason = format!("{verb} (PUT)");
        if stop_after_create {
            entry.actions.push(Action::Stop);
            entry
                .steps
                .push(post_step(Action::Stop, ws, &t.name, t.compute_type, "stop"));
            entry.reason.push_str(", then stop it (state: stopped)");
        }
        if replace_requested {
            cx.warnings.push(format!(
                "--replace {address}: it does not exist yet, so it is simply {}d",
                action.as_str()
            ));
        }
        entry.changes = leaves(&after_spec)
            .into_iter()
            .map(|(path, v)| {
                let key = path.join(".");
                let sensitive = is_secret(t, &key) || v.as_str() == Some(REDACTED);
                Change {
                    policy: effective_policy(t, &key, Some(&v)),
                    source: secret_source(t, &key, cx.opts.root.as_deref()),
                    key,
                    before: None,
                    after: Some(v),
                    sensitive,
                }
            })
            .collect();
        return Ok(entry);
    };

    let error = |message: String, hint: Option<String>, key: Option<&str>| PlanError {
        address: address.clone(),
        message,
        hint,
        source: key
            .and_then(|k| t.key_locations.get(k).cloned())
            .or_else(|| Some(t.source.clone())),
    };

    let ps = lc.provisioning_state.as_deref();
    if transitional(ps) {
        entry.actions.push(Action::Wait);
        entry.reason = format!(
            "live provisioningState is {}: wait for the running operation to finish, then plan again",
            ps.unwrap_or_default()
        );
        return Ok(entry);
    }
    // A canceled operation leaves the compute half-done (a canceled create never reaches
    // Running): send the manifest again. The service takes a PUT on a Canceled compute, unlike a
    // Failed one, and it is not destructive. Not for a compute instance: those are never updated
    // by PUT (a canceled instance is handled like a failed one below).
    if ps.is_some_and(|s| s.eq_ignore_ascii_case("Canceled"))
        && lc.compute_type == Some(t.compute_type)
        && !is_ci
    {
        let arm = update_body(t, lc, ws);
        entry.actions.push(Action::Update);
        entry
            .steps
            .push(put_step(Action::Update, ws, &t.name, &arm));
        entry.reason = "live provisioningState is Canceled (its last operation was canceled): send the manifest again (PUT)".to_string();
        return Ok(entry);
    }

    // Why a replacement is needed, if it is; with the key that forces it (for error locations).
    let mut replace_why: Vec<String> = Vec::new();
    let mut replace_key: Option<String> = None;
    let type_changed = lc.compute_type != Some(t.compute_type);
    if type_changed {
        let Some(live_type) = lc.compute_type else {
            let raw_type = lc
                .raw
                .pointer("/properties/computeType")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            return Err(error(
                format!(
                    "a compute named {} of type {raw_type}, which amlctl does not manage, already exists",
                    lc.name
                ),
                Some("rename the target, or remove the existing compute by hand".into()),
                None,
            ));
        };
        replace_why.push(format!(
            "type {live_type} → {} forces replacement",
            t.compute_type
        ));
    }
    let failed =
        ps.is_some_and(|s| s.eq_ignore_ascii_case("Failed") || s.eq_ignore_ascii_case("Canceled"));
    if failed {
        let state = ps.unwrap_or_default();
        if has_worked(lc) && !replace_requested {
            return Err(error(
                format!(
                    "live provisioningState is {state}, but {} has worked before (a failed update, not a failed create), so amlctl does not delete it; the service says: {}",
                    lc.name,
                    provisioning_errors(lc)
                ),
                Some(format!(
                    "fix the cause the service names (or revert the change that failed), then plan again; to delete and create it anyway run with `--replace {address}`"
                )),
                None,
            ));
        }
        replace_why.push(format!(
            "live provisioningState is {state} ({}) and it never worked (a failed create); the service does not reuse a failed name, so it must be replaced",
            provisioning_errors(lc)
        ));
    }

    let (changes, hidden, unverifiable) = if type_changed {
        (Vec::new(), Vec::new(), Vec::new())
    } else {
        diff(t, lc)
    };
    entry.unverifiable = unverifiable;
    for c in changes.iter().filter(|c| c.policy == Policy::Replace) {
        let note = replace_note(t.compute_type, &c.key);
        let mut s = format!("{} forces replacement", describe_change(c));
        if !note.is_empty() {
            s.push_str(&format!(" ({note})"));
        }
        replace_why.push(s);
        replace_key.get_or_insert_with(|| c.key.clone());
    }
    let in_place: Vec<&Change> = changes
        .iter()
        .filter(|c| c.policy != Policy::Replace)
        .collect();
    if replace_requested && replace_why.is_empty() {
        replace_why.push("replacement requested with --replace".to_string());
    }
    let hidden_note = if hidden.is_empty() {
        String::new()
    } else {
        format!(
            " (drift ignored by lifecycle.ignore_changes: {})",
            hidden.join(", ")
        )
    };

    if !replace_why.is_empty() {
        let mut why = replace_why.join("; ");
        if !in_place.is_empty() {
            let others: Vec<String> = in_place.iter().map(|c| describe_change(c)).collect();
            why.push_str(&format!("; also {}", others.join(", ")));
        }
        if t.lifecycle.prevent_destroy || cx.protected.contains(&compute_id(ws, &t.name)) {
            return Err(error(
                format!("{why}, but lifecycle.prevent_destroy forbids replacing it"),
                Some(
                    "revert the change, or remove `prevent_destroy` from the manifest's lifecycle block"
                        .into(),
                ),
                replace_key.as_deref(),
            ));
        }
        if !(t.lifecycle.allow_replace || replace_requested) {
            return Err(error(
                format!("{why}, but replacing is not allowed"),
                Some(replace_hint(&address)),
                replace_key.as_deref(),
            ));
        }
        entry.actions.push(Action::Replace);
        entry
            .steps
            .push(delete_step(Action::Replace, ws, &t.name, lc.compute_type));
        entry
            .steps
            .push(put_step(Action::Replace, ws, &t.name, &arm));
        let (gone, back) = if lc.compute_type.is_some_and(ComputeType::is_attached) {
            ("detach", "attach")
        } else {
            ("delete", "create")
        };
        entry.reason = format!("{why}: {gone} then {back} again{hidden_note}");
        if lc.compute_type == Some(ComputeType::ComputeInstance) {
            entry.reason.push_str(HOME_WARNING);
        } else if lc.compute_type.is_some_and(ComputeType::is_attached) {
            entry.reason.push_str(DETACH_WARNING);
        }
        if stop_after_create {
            entry.actions.push(Action::Stop);
            entry
                .steps
                .push(post_step(Action::Stop, ws, &t.name, t.compute_type, "stop"));
            entry.reason.push_str(", then stop it (state: stopped)");
        }
        entry.changes = changes;
        return Ok(entry);
    }

    let mut reasons: Vec<String> = Vec::new();
    if !changes.is_empty() {
        let arm = update_body(t, lc, ws);
        let put = changes.iter().any(|c| c.policy == Policy::InPlacePut);
        let listed: Vec<String> = changes.iter().map(describe_change).collect();
        if put {
            entry
                .steps
                .push(put_step(Action::Update, ws, &t.name, &arm));
            reasons.push(format!("{}, in place (PUT)", listed.join(", ")));
        } else {
            entry.steps.push(patch_step(ws, &t.name, &arm, t));
            reasons.push(format!("{}, in place (PATCH)", listed.join(", ")));
        }
        entry.actions.push(Action::Update);
    }
    entry.changes = changes;

    if is_ci {
        let want = t.state.map_or("", state_word);
        let have = lc.instance_state.as_deref().unwrap_or_default();
        match instance_move(t, lc) {
            InstanceMove::None => {}
            InstanceMove::Start => {
                entry.actions.push(Action::Start);
                entry
                    .steps
                    .push(post_step(Action::Start, ws, &t.name, t.compute_type, "start"));
                reasons.push(format!("instance is {have}, manifest says state: {want}: start it"));
            }
            InstanceMove::Stop => {
                entry.actions.push(Action::Stop);
                entry
                    .steps
                    .push(post_step(Action::Stop, ws, &t.name, t.compute_type, "stop"));
                reasons.push(format!("instance is {have}, manifest says state: {want}: stop it"));
            }
            InstanceMove::Wait(s) => {
                entry.actions = vec![Action::Wait];
                entry.steps.clear();
                entry.reason = format!(
                    "instance is {s}: wait for it to settle, then plan again (manifest says state: {want})"
                );
                return Ok(entry);
            }
            InstanceMove::Odd(s) => cx.warnings.push(format!(
                "{address}: instance is {s}; amlctl neither starts nor stops it (manifest says state: {want})"
            )),
        }
    }

    if entry.actions.is_empty() {
        entry.actions.push(Action::NoOp);
        entry.reason = format!("up to date{hidden_note}");
    } else {
        entry.reason = format!("{}{hidden_note}", reasons.join("; "));
    }
    Ok(entry)
}

/// The lowercased full ARM id of compute `name` in workspace `ws`: one compute, whatever alias
/// reaches it.
pub fn compute_id(ws: &Workspace, name: &str) -> String {
    ws.compute_path(name).to_ascii_lowercase()
}

/// Plans every selected target against live state. Pure: the same inputs give the same plan.
/// `live` has one entry per workspace alias that was read.
pub fn plan(
    targets: &[Target],
    workspaces: &BTreeMap<String, Workspace>,
    live: &BTreeMap<String, Vec<LiveCompute>>,
    opts: &PlanOptions,
) -> Plan {
    let mut out = Plan::empty();
    let mut cx = Ctx {
        opts,
        warnings: Vec::new(),
        protected: BTreeSet::new(),
    };
    let ws_selected =
        |alias: &str| opts.workspaces.is_empty() || opts.workspaces.iter().any(|w| w == alias);
    let target_selected = |alias: &str, name: &str| {
        opts.targets.is_empty() || opts.targets.iter().any(|f| names(f, alias, name))
    };
    let mut matched_filters: BTreeSet<String> = BTreeSet::new();
    let mark = |alias: &str, name: &str, set: &mut BTreeSet<String>| {
        for f in &opts.targets {
            if names(f, alias, name) {
                set.insert(f.clone());
            }
        }
    };

    // Indexes: compute names are unique per workspace, case-insensitively.
    let mut live_index: BTreeMap<(&str, String), &LiveCompute> = BTreeMap::new();
    for (alias, computes) in live {
        for c in computes {
            live_index
                .entry((alias.as_str(), c.name.to_ascii_lowercase()))
                .or_insert(c);
        }
    }
    // Declared and protected computes by compute id, whatever alias declares them: two aliases
    // that reach one workspace must not let prune destroy what a manifest declares (#19).
    let declared: BTreeSet<String> = targets
        .iter()
        .filter_map(|t| workspaces.get(&t.workspace).map(|w| compute_id(w, &t.name)))
        .collect();
    let protected: BTreeSet<String> = targets
        .iter()
        .filter(|t| t.lifecycle.prevent_destroy)
        .filter_map(|t| workspaces.get(&t.workspace).map(|w| compute_id(w, &t.name)))
        .collect();
    cx.protected = protected.clone();

    let mut sorted: Vec<&Target> = targets.iter().collect();
    sorted.sort_by(|a, b| (&a.workspace, &a.name).cmp(&(&b.workspace, &b.name)));
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut replace_matched: BTreeSet<&str> = BTreeSet::new();
    for t in sorted {
        let address = format!("{}/{}", t.workspace, t.name);
        if !ws_selected(&t.workspace) || !target_selected(&t.workspace, &t.name) {
            continue;
        }
        mark(&t.workspace, &t.name, &mut matched_filters);
        for r in &opts.replace {
            if names(r, &t.workspace, &t.name) {
                replace_matched.insert(r.as_str());
            }
        }
        if !seen.insert((t.workspace.clone(), t.name.to_ascii_lowercase())) {
            out.errors.push(PlanError {
                address,
                message: format!("{} is declared more than once in workspace {}", t.name, t.workspace),
                hint: Some("compute names are unique per workspace (case-insensitively): rename or remove one".into()),
                source: Some(t.source.clone()),
            });
            continue;
        }
        let Some(ws) = workspaces.get(&t.workspace) else {
            out.errors.push(PlanError {
                address,
                message: format!("workspace {} is not defined in amlctl.yaml", t.workspace),
                hint: Some("add it under `workspaces:` or fix the manifest's `workspace:`".into()),
                source: Some(t.source.clone()),
            });
            continue;
        };
        if !live.contains_key(&t.workspace) {
            out.errors.push(PlanError {
                address,
                message: format!("the live state of workspace {} was not read", t.workspace),
                hint: None,
                source: Some(t.source.clone()),
            });
            continue;
        }
        let lc = live_index
            .get(&(t.workspace.as_str(), t.name.to_ascii_lowercase()))
            .copied();
        match plan_target(&mut cx, t, ws, lc) {
            Ok(e) => out.entries.push(e),
            Err(e) => out.errors.push(e),
        }
    }

    // Live computes no manifest declares: prune or report. Planning a folder below amlctl.yaml
    // sees only part of the manifests, so it neither prunes nor reports anything undeclared.
    if let Some(scope) = &opts.scope {
        let shown = if scope.ends_with(".yaml") || scope.ends_with(".yml") {
            scope.clone()
        } else {
            format!("{}/", scope.trim_end_matches('/'))
        };
        cx.warnings.push(format!(
            "planning manifests under {shown} only; run from the repository root to prune"
        ));
    }
    for (alias, computes) in live {
        if !ws_selected(alias) || opts.scope.is_some() {
            continue;
        }
        let ws = workspaces.get(alias);
        let mut list: Vec<&LiveCompute> = computes
            .iter()
            .filter(|c| match ws {
                Some(w) => !declared.contains(&compute_id(w, &c.name)),
                None => !targets
                    .iter()
                    .any(|t| t.workspace == *alias && t.name.eq_ignore_ascii_case(&c.name)),
            })
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        for lc in list {
            if !target_selected(alias, &lc.name) {
                continue;
            }
            mark(alias, &lc.name, &mut matched_filters);
            let address = format!("{alias}/{}", lc.name);
            let type_name = lc.compute_type.map_or_else(
                || {
                    lc.raw
                        .pointer("/properties/computeType")
                        .and_then(Value::as_str)
                        .unwrap_or("unknown")
                        .to_string()
                },
                |c| c.arm_name().to_string(),
            );
            let prune = ws.is_some_and(|w| w.prune);
            let note = match (prune, owned(lc), lc.compute_type) {
                (true, true, Some(ct)) => {
                    let Some(ws) = ws else { continue };
                    if transitional(lc.provisioning_state.as_deref()) {
                        out.entries.push(PlanEntry {
                            address: address.clone(),
                            workspace: alias.clone(),
                            name: lc.name.clone(),
                            compute_type: Some(ct),
                            actions: vec![Action::Wait],
                            reason: format!(
                                "no manifest declares it (prune), but its provisioningState is {}: wait, then plan again",
                                lc.provisioning_state.as_deref().unwrap_or_default()
                            ),
                            changes: Vec::new(),
                            before: Some(Value::Object(redacted_live(&lc.spec, None))),
                            after: None,
                            steps: Vec::new(),
                            live_fingerprint: Some(fingerprint(lc)),
                            source: None,
                            unverifiable: Vec::new(),
                            ignore_changes: Vec::new(),
                        });
                        continue;
                    }
                    if protected.contains(&compute_id(ws, &lc.name)) {
                        out.errors.push(PlanError {
                            address: address.clone(),
                            message: format!(
                                "{} is declared with lifecycle.prevent_destroy; prune through workspace {alias} may not remove it",
                                lc.name
                            ),
                            hint: Some("give each workspace a single alias in amlctl.yaml".into()),
                            source: None,
                        });
                        continue;
                    }
                    let (action, reason) = if ct.is_attached() {
                        (
                            Action::Detach,
                            format!(
                                "no manifest declares it, it carries {OWNERSHIP_TAG}: {OWNERSHIP_TAG_VALUE} and workspace {alias} has prune: true: detach (underlyingResourceAction=Detach; the attached resource itself is kept)"
                            ),
                        )
                    } else {
                        (
                            Action::Delete,
                            format!(
                                "no manifest declares it, it carries {OWNERSHIP_TAG}: {OWNERSHIP_TAG_VALUE} and workspace {alias} has prune: true: delete"
                            ),
                        )
                    };
                    let changes = leaves(&redacted_live(&lc.spec, None))
                        .into_iter()
                        .map(|(path, v)| {
                            let key = path.join(".");
                            Change {
                                policy: policy_for(ct, &key),
                                sensitive: v.as_str() == Some(REDACTED),
                                source: None,
                                key,
                                before: Some(v),
                                after: None,
                            }
                        })
                        .collect();
                    out.entries.push(PlanEntry {
                        address: address.clone(),
                        workspace: alias.clone(),
                        name: lc.name.clone(),
                        compute_type: Some(ct),
                        actions: vec![action],
                        reason,
                        changes,
                        before: Some(Value::Object(redacted_live(&lc.spec, None))),
                        after: None,
                        steps: vec![delete_step(action, ws, &lc.name, Some(ct))],
                        live_fingerprint: Some(fingerprint(lc)),
                        source: None,
                        unverifiable: Vec::new(),
                        ignore_changes: Vec::new(),
                    });
                    continue;
                }
                (true, true, None) => format!(
                    "carries the ownership tag but its type {type_name} is unknown to amlctl: left alone"
                ),
                (true, false, _) => format!(
                    "no manifest declares it; prune leaves it alone because it does not carry {OWNERSHIP_TAG}: {OWNERSHIP_TAG_VALUE}"
                ),
                (false, _, _) => format!(
                    "no manifest declares it; left alone (workspace {alias} does not have prune: true)"
                ),
            };
            out.unmanaged.push(Unmanaged {
                address,
                compute_type: type_name,
                note,
            });
        }
    }

    // A filter that matches nothing is an error, not a warning: a typo must not turn CI green.
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
        if !matched_filters.contains(f) {
            out.errors.push(PlanError {
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
            out.errors.push(PlanError {
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
        if !replace_matched.contains(r.as_str()) {
            out.errors.push(PlanError {
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
    out.entries.sort_by(|a, b| a.address.cmp(&b.address));
    out.errors.sort_by(|a, b| a.address.cmp(&b.address));
    out.unmanaged.sort_by(|a, b| a.address.cmp(&b.address));
    out.warnings = cx.warnings;
    out
}

/// Fingerprint of the normalised live object: sha256 (hex) of a canonical JSON of the
/// normalised spec, provisioningState, instance state and tags. `apply` compares it to refuse
/// a target that changed since the plan.
pub fn fingerprint(live: &LiveCompute) -> String {
    let spec = canon(&[], &Value::Object(live.spec.clone()));
    let doc = json!({
        "spec": spec,
        "provisioning_state": live.provisioning_state,
        "instance_state": live.instance_state,
        "tags": live.raw.get("tags").cloned().unwrap_or(Value::Null),
    });
    let text = canon_sorted(&doc).to_string();
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The dotted keys of a desired manifest (`PlanEntry::after`) that a live manifest does not
/// satisfy, compared exactly as [`plan`] compares them (same normalisation, same field
/// policies; secrets, create-only, ignored and unverifiable keys skipped; tags without the
/// ownership tag).
/// For the executor's read-back after a replace or update.
pub fn unmet_keys(
    compute_type: ComputeType,
    after: &Map<String, Value>,
    live: &Map<String, Value>,
) -> Vec<String> {
    check_keys(compute_type, after, live).0
}

/// [`unmet_keys`], and the compared keys skipped because the service does not return them
/// (unverifiable): `(unmet, unverifiable)`.
pub fn check_keys(
    compute_type: ComputeType,
    after: &Map<String, Value>,
    live: &Map<String, Value>,
) -> (Vec<String>, Vec<String>) {
    let mut out = Vec::new();
    let mut unverifiable = Vec::new();
    for (path, desired) in leaves(after) {
        if path.first().map(String::as_str) == Some("tags") {
            continue;
        }
        if matches!(&desired, Value::Object(m) if m.is_empty()) {
            continue;
        }
        let key = path.join(".");
        if desired.as_str() == Some(REDACTED) || !policy_for(compute_type, &key).is_compared() {
            continue;
        }
        let Ok(have) = live_value(compute_type, &key, lookup(live, &path)) else {
            // The service does not return it: nothing to check (issue #14 rule 1).
            unverifiable.push(key);
            continue;
        };
        let segs: Vec<&str> = path.iter().map(String::as_str).collect();
        let want = unset_as_default(
            compute_type,
            &segs,
            Some(std::borrow::Cow::Borrowed(&desired)),
        );
        let have = unset_as_default(compute_type, &segs, have);
        if !want.is_some_and(|w| same(&segs, &w, have.as_deref())) {
            out.push(key);
        }
    }
    if let Some(want) = after.get("tags") {
        let want = tags_of(Some(want));
        let have = tags_of(live.get("tags"));
        for (n, (shown, v)) in &want {
            if have.get(n).map(|x| &x.1) != Some(v) {
                out.push(format!("tags.{shown}"));
            }
        }
    }
    (out, unverifiable)
}
