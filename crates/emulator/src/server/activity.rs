//! The Activity Log: one entry per write to a compute (caller, time, operation, status), served
//! at `GET /subscriptions/{sub}/providers/Microsoft.Insights/eventtypes/management/values`
//! (Azure Monitor REST API, Activity Logs - List, api-version 2015-04-01), and the
//! `--drop-on-put` knob (a PUT/PATCH accepted but part of it silently not applied).
//!
//! The log is kept apart from [`crate::state::State`]: in memory, and, when the emulator has a
//! state file, appended as JSON lines to `<state file>.activity.jsonl` (read back at start), so
//! `--sandbox` runs, which restart the emulator for every command, keep it.

use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::activity_log::ActivityEntry;
use super::clock::{now_ms, rfc3339};
use super::http::{error_response, json_response, param};
use super::shared::Shared;
use crate::error::ApiError;
use crate::identity;

/// The only api-version of the route (Azure Monitor REST API, Activity Logs - List).
pub(super) const ACTIVITY_API_VERSION: &str = "2015-04-01";

/// The caller a request's bearer token stands for: the `CALLER` of `--accepted-token
/// TOKEN=CALLER`, else the token's claims (`upn`, `unique_name`, `email`, `oid`, `appid`), else
/// [`identity::UNKNOWN_CALLER`].
pub(super) fn caller_of(shared: &Shared, headers: &HeaderMap) -> String {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .map(|(_, t)| t.trim())
        .unwrap_or_default();
    if let Some(c) = shared.config.token_callers.get(token) {
        return c.clone();
    }
    identity::claims_of(token)
        .and_then(|c| identity::caller_of_claims(&c))
        .unwrap_or_else(|| identity::UNKNOWN_CALLER.to_string())
}

/// True for `/subscriptions/{sub}/providers/Microsoft.Insights/eventtypes/management/values`.
pub(super) fn is_route(segs: &[String]) -> bool {
    let fixed = [
        (0, "subscriptions"),
        (2, "providers"),
        (3, "microsoft.insights"),
        (4, "eventtypes"),
        (5, "management"),
        (6, "values"),
    ];
    segs.len() == 7 && fixed.iter().all(|(i, s)| segs[*i].eq_ignore_ascii_case(s))
}

/// The compute a write path addresses, and the operation it is: `(compute id, operation)`.
fn write_target(method: &Method, segs: &[String]) -> Option<(String, String)> {
    let is_compute = segs.len() >= 10
        && segs[0].eq_ignore_ascii_case("subscriptions")
        && segs[2].eq_ignore_ascii_case("resourceGroups")
        && segs[4].eq_ignore_ascii_case("providers")
        && segs[5].eq_ignore_ascii_case("Microsoft.MachineLearningServices")
        && segs[6].eq_ignore_ascii_case("workspaces")
        && segs[8].eq_ignore_ascii_case("computes");
    if !is_compute {
        return None;
    }
    let id = format!("/{}", segs[..10].join("/"));
    let base = "Microsoft.MachineLearningServices/workspaces/computes";
    let op = match (method, segs.get(10).map(|s| s.to_ascii_lowercase())) {
        (&Method::PUT | &Method::PATCH, None) if segs.len() == 10 => format!("{base}/write"),
        (&Method::DELETE, None) if segs.len() == 10 => format!("{base}/delete"),
        (&Method::POST, Some(a))
            if segs.len() == 11 && ["start", "stop", "restart"].contains(&a.as_str()) =>
        {
            format!("{base}/{a}/action")
        }
        _ => return None,
    };
    Some((id, op))
}

/// What a write looked like before it ran: the values at the `--drop-on-put` pointers of the
/// compute a PUT or PATCH overwrites (`None` when nothing is to be kept).
pub(super) struct Before {
    kept: Vec<(String, Option<Value>)>,
}

/// Reads the values a PUT/PATCH of an existing compute must keep (`--drop-on-put`).
pub(super) fn before_write(shared: &Shared, method: &Method, segs: &[String]) -> Option<Before> {
    if shared.config.drop_on_put.is_empty()
        || !(method == Method::PUT || method == Method::PATCH)
        || write_target(method, segs).is_none()
    {
        return None;
    }
    let g = shared.lock();
    let idx = g
        .state
        .compute_index(&segs[1], &segs[3], &segs[7], &segs[9])?;
    let resource = &g.state.computes()[idx].resource;
    let kept = shared
        .config
        .drop_on_put
        .iter()
        .map(|p| (p.clone(), resource.pointer(p).cloned()))
        .collect();
    Some(Before { kept })
}

/// After a write route answered: records the Activity Log entry and, for an accepted PUT/PATCH
/// of an existing compute, puts the `--drop-on-put` values back.
pub(super) fn after_write(
    shared: &Shared,
    method: &Method,
    segs: &[String],
    headers: &HeaderMap,
    before: Option<Before>,
    status: StatusCode,
) {
    let Some((resource_id, operation)) = write_target(method, segs) else {
        return;
    };
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::NOT_FOUND {
        return;
    }
    let accepted = status.is_success();
    let mut g = shared.lock();
    if accepted
        && let Some(before) = before
        && let Some(idx) = g
            .state
            .compute_index(&segs[1], &segs[3], &segs[7], &segs[9])
    {
        let resource = &mut g.state.compute_mut(idx).resource;
        for (pointer, old) in before.kept {
            restore_at(resource, &pointer, old);
        }
        if let Err(e) = shared.persist(&mut g.state) {
            tracing::error!("persisting after --drop-on-put: {}", e.message);
        }
    }
    let entry = ActivityEntry {
        caller: caller_of(shared, headers),
        at_ms: now_ms(),
        operation,
        status: if accepted { "Succeeded" } else { "Failed" }.to_string(),
        resource_id,
    };
    g.activity.push(entry);
}

/// Sets (or, when `old` is `None`, removes) the value at `pointer`.
fn restore_at(resource: &mut Value, pointer: &str, old: Option<Value>) {
    match old {
        Some(v) => {
            if let Some(slot) = resource.pointer_mut(pointer) {
                *slot = v;
            } else if let Some((parent, key)) = pointer.rsplit_once('/')
                && let Some(Value::Object(m)) = resource.pointer_mut(parent)
            {
                m.insert(key.replace("~1", "/").replace("~0", "~"), v);
            }
        }
        None => {
            if let Some((parent, key)) = pointer.rsplit_once('/')
                && let Some(Value::Object(m)) = resource.pointer_mut(parent)
            {
                m.remove(&key.replace("~1", "/").replace("~0", "~"));
            }
        }
    }
}

/// `GET …/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter=…`.
/// The filter must hold `eventTimestamp ge '…'` and `resourceUri eq '…'` (`eventTimestamp le
/// '…'` optional, default now); 403 `AuthorizationFailed` when the fixture's
/// `forbidden_resources` holds the subscription's `…/providers/Microsoft.Insights` (or a prefix
/// of the route).
pub(super) fn serve(
    shared: &Shared,
    method: &Method,
    segs: &[String],
    params: &[(String, String)],
) -> Response {
    match serve_inner(shared, method, segs, params) {
        Ok(r) => r,
        Err(e) => error_response(&e),
    }
}

fn serve_inner(
    shared: &Shared,
    method: &Method,
    segs: &[String],
    params: &[(String, String)],
) -> Result<Response, ApiError> {
    if method != Method::GET {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "Only GET is supported on the Activity Log.",
        ));
    }
    let path = format!("/{}", segs.join("/")).to_ascii_lowercase();
    let forbidden = shared.config.fixture.as_ref().is_some_and(|f| {
        f.forbidden_resources.iter().any(|r| {
            let r = r.trim_end_matches('/').to_ascii_lowercase();
            !r.is_empty() && (path == r || path.starts_with(&format!("{r}/")))
        })
    });
    if forbidden {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "AuthorizationFailed",
            format!(
                "The client does not have authorization to perform action 'Microsoft.Insights/eventtypes/values/read' over scope '/subscriptions/{}' or the scope is invalid.",
                segs[1]
            ),
        ));
    }
    if param(params, "api-version") != Some(ACTIVITY_API_VERSION) {
        return Err(ApiError::bad_request(
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{}' is invalid. The supported versions are '{ACTIVITY_API_VERSION}'.",
                param(params, "api-version").unwrap_or_default()
            ),
        ));
    }
    let filter = param(params, "$filter").unwrap_or_default();
    let clauses = parse_filter(filter);
    let get = |field: &str, op: &str| {
        clauses
            .iter()
            .find(|(f, o, _)| f.eq_ignore_ascii_case(field) && o.eq_ignore_ascii_case(op))
            .map(|(_, _, v)| v.as_str())
    };
    let Some(from) = get("eventTimestamp", "ge").and_then(parse_time) else {
        return Err(ApiError::bad_request(
            "BadRequest",
            "The $filter must hold a start time: eventTimestamp ge '<RFC 3339 time>'.",
        ));
    };
    let to = match get("eventTimestamp", "le") {
        Some(t) => parse_time(t).ok_or_else(|| {
            ApiError::bad_request(
                "BadRequest",
                format!("eventTimestamp le '{t}' is not an RFC 3339 time."),
            )
        })?,
        None => now_ms(),
    };
    let Some(resource) = get("resourceUri", "eq").or_else(|| get("resourceId", "eq")) else {
        return Err(ApiError::bad_request(
            "BadRequest",
            "This emulator serves the Activity Log by resource only: the $filter must hold resourceUri eq '<ARM id>'.",
        ));
    };
    let g = shared.lock();
    let value: Vec<Value> = g
        .activity
        .query(resource, from, to)
        .into_iter()
        .map(|e| render(e, &segs[1]))
        .collect();
    Ok(json_response(StatusCode::OK, &json!({ "value": value })))
}

/// One entry as the service returns it (the fields clients read).
fn render(e: &ActivityEntry, sub: &str) -> Value {
    let op_words = e
        .operation
        .rsplit('/')
        .next()
        .map(|w| match w {
            "write" => "Create or Update Compute",
            "delete" => "Delete Compute",
            "action" => "Compute Action",
            _ => "Compute",
        })
        .unwrap_or("Compute");
    json!({
        "caller": e.caller,
        "eventTimestamp": rfc3339(e.at_ms),
        "submissionTimestamp": rfc3339(e.at_ms),
        "operationName": {"value": e.operation, "localizedValue": op_words},
        "status": {"value": e.status, "localizedValue": e.status},
        "category": {"value": "Administrative", "localizedValue": "Administrative"},
        "level": "Informational",
        "resourceId": e.resource_id,
        "subscriptionId": sub,
        "eventDataId": uuid::Uuid::new_v4().to_string(),
    })
}

/// `field op 'value'` clauses joined by `and` (values may hold spaces; `''` is a quote).
fn parse_filter(filter: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut rest = filter.trim();
    while !rest.is_empty() {
        let mut words = rest.splitn(3, char::is_whitespace);
        let (Some(field), Some(op), Some(tail)) = (words.next(), words.next(), words.next()) else {
            break;
        };
        let tail = tail.trim_start();
        let Some(quoted) = tail.strip_prefix('\'') else {
            break;
        };
        let mut value = String::new();
        let mut chars = quoted.char_indices().peekable();
        let mut end = quoted.len();
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if chars.peek().is_some_and(|(_, n)| *n == '\'') {
                    value.push('\'');
                    chars.next();
                    continue;
                }
                end = i + 1;
                break;
            }
            value.push(c);
        }
        out.push((field.to_string(), op.to_string(), value));
        rest = quoted[end.min(quoted.len())..].trim_start();
        rest = rest
            .strip_prefix("and ")
            .or_else(|| rest.strip_prefix("AND "))
            .unwrap_or(rest)
            .trim_start();
    }
    out
}

/// RFC 3339 time as milliseconds since the epoch.
fn parse_time(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
        .ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::super::activity_log::{ActivityLog, sidecar_of};
    use super::*;

    #[test]
    fn filter_clauses_are_parsed() {
        let f = "eventTimestamp ge '2026-01-01T00:00:00Z' and eventTimestamp le '2026-01-02T00:00:00Z' and resourceUri eq '/subscriptions/s/x/it''s'";
        let c = parse_filter(f);
        assert_eq!(c.len(), 3);
        assert_eq!(
            c[0],
            (
                "eventTimestamp".into(),
                "ge".into(),
                "2026-01-01T00:00:00Z".into()
            )
        );
        assert_eq!(c[2].2, "/subscriptions/s/x/it's");
        assert_eq!(parse_time(&c[0].2), Some(1_767_225_600_000));
    }

    #[test]
    fn writes_name_their_operation() {
        let segs = |p: &str| -> Vec<String> {
            p.split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        let compute = "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w/computes/c";
        assert_eq!(
            write_target(&Method::PATCH, &segs(compute)).map(|t| t.1),
            Some("Microsoft.MachineLearningServices/workspaces/computes/write".into())
        );
        assert_eq!(
            write_target(&Method::POST, &segs(&format!("{compute}/stop"))).map(|t| t.1),
            Some("Microsoft.MachineLearningServices/workspaces/computes/stop/action".into())
        );
        assert!(write_target(&Method::POST, &segs(&format!("{compute}/listKeys"))).is_none());
        assert!(write_target(&Method::GET, &segs(compute)).is_none());
        assert!(is_route(&segs(
            "/subscriptions/s/providers/microsoft.insights/eventTypes/management/values"
        )));
    }

    #[test]
    fn the_log_survives_a_restart_through_its_sidecar() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state.json");
        let mut log = ActivityLog::load(Some(&state));
        let e = ActivityEntry {
            caller: "alice@example.com".into(),
            at_ms: 1000,
            operation: "x/write".into(),
            status: "Succeeded".into(),
            resource_id: "/subscriptions/s/A".into(),
        };
        log.push(e.clone());
        let again = ActivityLog::load(Some(&state));
        assert_eq!(again.query("/subscriptions/s/a", 0, 2000), vec![&e]);
        assert!(again.query("/subscriptions/s/a", 1001, 2000).is_empty());
        assert!(sidecar_of(&state).ends_with("state.json.activity.jsonl"));
    }
}
