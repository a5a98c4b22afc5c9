//! One declared target against its live compute: create, wait, send again after a cancel,
//! replace, update in place, start or stop.

use amlctl_manifest::{
    ArmBody, ComputeType, DesiredState, LiveCompute, REDACTED, Target, Workspace,
};
use amlctl_vocab::Address;
use serde_json::{Map, Value};

use super::compare::{diff, fingerprint};
use super::describe::describe_change;
use super::rules::{
    change_replace_reasons, check_replace_allowed, live_replace_reasons, target_error,
};
use super::secrets::{effective_policy, is_secret, redacted_live, redacted_spec, secret_source};
use super::select::{Ctx, requested};
use super::state::{
    DETACH_WARNING, HOME_WARNING, InstanceMove, instance_move, state_word, transitional,
};
use super::steps::{arm_body, delete_step, patch_step, post_step, put_step, update_body};
use crate::model::{Action, Change, PlanEntry, PlanError, Policy};
use crate::normalize::leaves;

/// Plans one declared target against its live compute (`None`: it does not exist).
pub(super) fn plan_target(
    cx: &mut Ctx<'_>,
    t: &Target,
    ws: &Workspace,
    lc: Option<&LiveCompute>,
) -> Result<PlanEntry, PlanError> {
    let address = Address::new(&t.workspace, &t.name).to_string();
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
    let replace_requested = requested(cx.opts, &t.workspace, &t.name);

    let Some(lc) = lc else {
        plan_create(cx, t, ws, &mut entry, &after_spec, replace_requested)?;
        return Ok(entry);
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
        && t.compute_type != ComputeType::ComputeInstance
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
    let mut replace_why = live_replace_reasons(t, lc, &address, replace_requested)?;
    let (changes, hidden, unverifiable) = if lc.compute_type != Some(t.compute_type) {
        (Vec::new(), Vec::new(), Vec::new())
    } else {
        diff(t, lc)
    };
    entry.unverifiable = unverifiable;
    let replace_key = change_replace_reasons(t, &changes, &mut replace_why);
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
        let in_place: Vec<String> = changes
            .iter()
            .filter(|c| c.policy != Policy::Replace)
            .map(describe_change)
            .collect();
        if !in_place.is_empty() {
            why.push_str(&format!("; also {}", in_place.join(", ")));
        }
        check_replace_allowed(
            cx,
            t,
            ws,
            &address,
            &why,
            replace_key.as_deref(),
            replace_requested,
        )?;
        plan_replace(t, ws, lc, &mut entry, &arm_body(t, ws), &why, &hidden_note);
        entry.changes = changes;
        return Ok(entry);
    }
    plan_in_place(cx, t, ws, lc, &mut entry, changes, &hidden_note);
    Ok(entry)
}

/// Whether a created compute instance must then be stopped (`state: stopped`).
fn stop_after_create(t: &Target) -> bool {
    t.compute_type == ComputeType::ComputeInstance && t.state == Some(DesiredState::Stopped)
}

/// Appends the stop that follows the creation of an instance with `state: stopped`.
fn push_stop_after_create(t: &Target, ws: &Workspace, entry: &mut PlanEntry) {
    if stop_after_create(t) {
        entry.actions.push(Action::Stop);
        entry
            .steps
            .push(post_step(Action::Stop, ws, &t.name, t.compute_type, "stop"));
        entry.reason.push_str(", then stop it (state: stopped)");
    }
}

/// A target that does not exist: create (or attach) it, every written key a change.
fn plan_create(
    cx: &mut Ctx<'_>,
    t: &Target,
    ws: &Workspace,
    entry: &mut PlanEntry,
    after_spec: &Map<String, Value>,
    replace_requested: bool,
) -> Result<(), PlanError> {
    // Names: the service rule binds creates only (issue #14 rule 9); a compute that exists
    // live is never refused for its name.
    if let Err(why) = amlctl_manifest::check_compute_name(&t.name) {
        return Err(target_error(
            t,
            &entry.address,
            format!(
                "{} does not exist yet and its name cannot be created: {why}",
                t.name
            ),
            Some(
                "rename the target: names of new computes match ^[a-zA-Z](?![a-zA-Z0-9-]*-\\d+$)[a-zA-Z0-9\\-]{2,23}$".into(),
            ),
            Some("name"),
        ));
    }
    let (action, verb) = if t.compute_type.is_attached() {
        (Action::Attach, "not attached yet: attach")
    } else {
        (Action::Create, "does not exist: create")
    };
    entry.actions.push(action);
    entry
        .steps
        .push(put_step(action, ws, &t.name, &arm_body(t, ws)));
    entry.reason = format!("{verb} (PUT)");
    push_stop_after_create(t, ws, entry);
    if replace_requested {
        cx.warnings.push(format!(
            "--replace {}: it does not exist yet, so it is simply {}d",
            entry.address,
            action.as_str()
        ));
    }
    entry.changes = leaves(after_spec)
        .into_iter()
        .map(|(path, v)| {
            let key = path.to_string();
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
    Ok(())
}

/// An allowed replacement: delete (or detach), create (or attach) again, then stop when asked.
fn plan_replace(
    t: &Target,
    ws: &Workspace,
    lc: &LiveCompute,
    entry: &mut PlanEntry,
    arm: &ArmBody,
    why: &str,
    hidden_note: &str,
) {
    entry.actions.push(Action::Replace);
    entry
        .steps
        .push(delete_step(Action::Replace, ws, &t.name, lc.compute_type));
    entry
        .steps
        .push(put_step(Action::Replace, ws, &t.name, arm));
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
    push_stop_after_create(t, ws, entry);
}

/// No replacement: update in place (PUT when any change needs it, else PATCH), then start or
/// stop an instance as `state:` says; a no-op when nothing differs.
fn plan_in_place(
    cx: &mut Ctx<'_>,
    t: &Target,
    ws: &Workspace,
    lc: &LiveCompute,
    entry: &mut PlanEntry,
    changes: Vec<Change>,
    hidden_note: &str,
) {
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

    if t.compute_type == ComputeType::ComputeInstance {
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
                return;
            }
            InstanceMove::Odd(s) => cx.warnings.push(format!(
                "{}: instance is {s}; amlctl neither starts nor stops it (manifest says state: {want})",
                entry.address
            )),
        }
    }

    if entry.actions.is_empty() {
        entry.actions.push(Action::NoOp);
        entry.reason = format!("up to date{hidden_note}");
    } else {
        entry.reason = format!("{}{hidden_note}", reasons.join("; "));
    }
}
