//! Cross-field checks and canonicalisation of one document that need no workspace, one function
//! per compute type's rules.

use serde_json::{Map, Value};

use crate::model::ComputeType;
use crate::yaml::{Kind, Node};

use super::Ctx;
use super::walk::expect;

fn int_of(spec: &Map<String, Value>, key: &str) -> Option<i64> {
    spec.get(key).and_then(Value::as_i64)
}

fn node_at<'n>(doc: &'n Node, path: &[&str]) -> &'n Node {
    let mut n = doc;
    for p in path {
        match n.get(p) {
            Some(c) => n = c,
            None => return n,
        }
    }
    n
}

/// Cross-field checks and canonicalisation that need no workspace.
pub(super) fn post_checks(
    ctx: &mut Ctx,
    doc: &Node,
    t: ComputeType,
    spec: &mut Map<String, Value>,
) {
    match t {
        ComputeType::AmlCompute => amlcompute_checks(ctx, doc, spec),
        ComputeType::ComputeInstance => {
            idle_shutdown_check(ctx, doc, spec);
            schedule_checks(ctx, doc, spec);
            custom_application_checks(ctx, doc, spec);
        }
        ComputeType::VirtualMachine | ComputeType::HdInsight => ssh_login_checks(ctx, doc, spec),
        ComputeType::Batch => batch_legacy_warning(ctx, doc),
        _ => {}
    }
    acknowledge_legacy_check(ctx, doc, t);
}

/// `amlcompute`: min <= max instances, `resource_id` dropped with a warning, ssh needs a user.
fn amlcompute_checks(ctx: &mut Ctx, doc: &Node, spec: &mut Map<String, Value>) {
    let min = int_of(spec, "min_instances").unwrap_or(0);
    let max = int_of(spec, "max_instances");
    if min > max.unwrap_or(4) {
        let what = match max {
            Some(m) => format!("max_instances ({m})"),
            None => "max_instances (4, the default)".to_string(),
        };
        ctx.err(
            node_at(doc, &["min_instances"]),
            "min_instances",
            format!("min_instances ({min}) is greater than {what}"),
            Some("set min_instances <= max_instances".into()),
        );
    }
    if spec.remove("resource_id").is_some() {
        ctx.warn(
            node_at(doc, &["resource_id"]),
            "resource_id",
            "`resource_id` is ignored for amlcompute (azure-ai-ml does not send it)".into(),
            Some("remove it".into()),
        );
        ctx.key_locations.remove("resource_id");
    }
    if let Some(ssh) = spec.get("ssh_settings").and_then(Value::as_object)
        && !ssh.contains_key("admin_username")
    {
        ctx.err(
            node_at(doc, &["ssh_settings"]),
            "ssh_settings.admin_username",
            "`ssh_settings` needs `admin_username`".into(),
            Some("add admin_username and admin_password or ssh_key_value".into()),
        );
    }
}

/// `virtualmachine`/`hdinsight`: `ssh_settings` needs a password or a private key file.
fn ssh_login_checks(ctx: &mut Ctx, doc: &Node, spec: &Map<String, Value>) {
    if let Some(ssh) = spec.get("ssh_settings").and_then(Value::as_object)
        && !ssh.contains_key("admin_password")
        && !ssh.contains_key("ssh_private_key_file")
    {
        ctx.err(
            node_at(doc, &["ssh_settings"]),
            "ssh_settings",
            "`ssh_settings` needs `admin_password` or `ssh_private_key_file`".into(),
            None,
        );
    }
}

/// `batch`: the legacy shape warns unless `acknowledge_legacy: true`.
fn batch_legacy_warning(ctx: &mut Ctx, doc: &Node) {
    let acknowledged = matches!(
        doc.get("acknowledge_legacy").map(|n| &n.kind),
        Some(Kind::Bool(true))
    );
    if !acknowledged {
        ctx.warn(
            node_at(doc, &["type"]),
            "type",
            "`batch` uses the legacy SDK v1 shape (computeType Batch, api-version 2020-02-02); no stable ARM API lists it".into(),
            Some("the service may reject it; prefer amlcompute (add `acknowledge_legacy: true` to this manifest to silence this warning)".into()),
        );
    }
}

/// `idle_time_before_shutdown` (deprecated ISO duration): range-checked and folded into the minutes key with a warning.
fn idle_shutdown_check(ctx: &mut Ctx, doc: &Node, spec: &mut Map<String, Value>) {
    if let Some(iso) = spec.remove("idle_time_before_shutdown") {
        let n = node_at(doc, &["idle_time_before_shutdown"]);
        let secs = iso.as_str().and_then(crate::codec::parse_iso_duration);
        match secs {
            // The API: "Minimum is 15 min, maximum is 3 days", as for the minutes key.
            Some(s) if s % 60 == 0 && !(15..=4320).contains(&(s / 60)) => ctx.err(
                n,
                "idle_time_before_shutdown",
                format!(
                    "`idle_time_before_shutdown` must be between 15 minutes and 3 days, found {} minutes",
                    s / 60
                ),
                None,
            ),
            Some(s) if s % 60 == 0 && s > 0 => {
                spec.entry("idle_time_before_shutdown_minutes")
                    .or_insert(Value::from(s / 60));
                if let Some(l) = ctx.key_locations.remove("idle_time_before_shutdown") {
                    ctx.key_locations
                        .entry("idle_time_before_shutdown_minutes".into())
                        .or_insert(l);
                }
                ctx.warn(
                    n,
                    "idle_time_before_shutdown",
                    "`idle_time_before_shutdown` is deprecated".into(),
                    Some(format!("write `idle_time_before_shutdown_minutes: {}`", s / 60)),
                );
            }
            _ => ctx.err(
                n,
                "idle_time_before_shutdown",
                "`idle_time_before_shutdown` must be an ISO-8601 duration of whole minutes (e.g. PT30M)".into(),
                Some("prefer `idle_time_before_shutdown_minutes: 30`".into()),
            ),
        }
    }
}

/// Start/stop schedules: `state` defaults to enabled; each trigger needs the keys of its type.
fn schedule_checks(ctx: &mut Ctx, doc: &Node, spec: &mut Map<String, Value>) {
    if let Some(Value::Object(s)) = spec.get_mut("schedules")
        && let Some(Value::Array(list)) = s.get_mut("compute_start_stop")
    {
        for (i, item) in list.iter_mut().enumerate() {
            let Value::Object(o) = item else { continue };
            o.entry("state").or_insert(Value::from("enabled"));
            let Some(Value::Object(tr)) = o.get("trigger") else {
                continue;
            };
            let key = format!("schedules.compute_start_stop[{i}].trigger");
            let n = node_at(doc, &["schedules", "compute_start_stop"]);
            let ty = tr.get("type").and_then(Value::as_str).unwrap_or("");
            let need: &[&str] = if ty == "cron" {
                &["expression"]
            } else {
                &["frequency", "interval", "schedule"]
            };
            for k in need {
                if !tr.contains_key(*k) {
                    ctx.err(n, &key, format!("`{key}` of type {ty} needs `{k}`"), None);
                }
            }
        }
    }
}

/// Custom applications: docker defaults for the app and its image; published ports below 65535.
fn custom_application_checks(ctx: &mut Ctx, doc: &Node, spec: &mut Map<String, Value>) {
    if let Some(Value::Array(apps)) = spec.get_mut("custom_applications") {
        for app in apps.iter_mut() {
            let Value::Object(o) = app else { continue };
            o.entry("type").or_insert(Value::from("docker"));
            if let Some(Value::Object(img)) = o.get_mut("image") {
                img.entry("type").or_insert(Value::from("docker"));
            }
            if let Some(Value::Array(eps)) = o.get("endpoints") {
                for ep in eps {
                    if let Some(p) = ep.get("published").and_then(Value::as_i64)
                        && p >= 65535
                    {
                        ctx.err(
                            node_at(doc, &["custom_applications"]),
                            "custom_applications",
                            format!(
                                "published port {p} must be between 1025 and 65535 (exclusive)"
                            ),
                            None,
                        );
                    }
                }
            }
        }
    }
}

/// `acknowledge_legacy` belongs to `type: batch` only, and is a boolean.
fn acknowledge_legacy_check(ctx: &mut Ctx, doc: &Node, t: ComputeType) {
    if let Some(n) = doc.get("acknowledge_legacy") {
        if t != ComputeType::Batch {
            ctx.err(
                n,
                "acknowledge_legacy",
                "`acknowledge_legacy` applies only to `type: batch`".into(),
                Some("remove it".into()),
            );
        } else if !matches!(n.kind, Kind::Bool(_)) {
            expect(
                ctx,
                n,
                "acknowledge_legacy",
                "a boolean (true or false)",
                None,
            );
        }
    }
}
