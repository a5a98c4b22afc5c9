//! The Azure Activity Log of one resource (who wrote it, when, how) and who the client itself
//! is, for the plan's drift attribution.
//!
//! The route lies under the subscription on the same ARM host, with the same token audience,
//! so the client's host rules apply unchanged: no other host is ever contacted.

use std::collections::BTreeMap;

use super::ArmClient;
use crate::error::ArmError;
use amlctl_vocab::{Method, encode_segment};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Azure Monitor REST API, Activity Logs - List, api-version 2015-04-01 (the documented stable
/// version of `GET /subscriptions/{sub}/providers/Microsoft.Insights/eventtypes/management/values`).
pub const ACTIVITY_LOG_API_VERSION: &str = "2015-04-01";

/// One Activity Log entry, the fields the plan shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityEvent {
    /// `caller`: a user's UPN, or a principal's object or application id; `None` when absent.
    pub caller: Option<String>,
    /// `eventTimestamp` (RFC 3339) as the service sent it.
    pub time: String,
    /// `operationName.value` (e.g. `Microsoft.MachineLearningServices/workspaces/computes/write`).
    pub operation: String,
    /// `operationName.localizedValue`, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_label: Option<String>,
    /// `status.value` (`Succeeded`, `Failed`, `Started`, `Accepted`, …).
    pub status: String,
}

/// What one Activity Log lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivityLookup {
    /// The entries about the resource in the window, newest first.
    Events(Vec<ActivityEvent>),
    /// 403: the identity may not read the Activity Log (needs
    /// `Microsoft.Insights/eventtypes/values/read`).
    Forbidden,
    /// Anything else (the error, secrets redacted).
    Failed(String),
}

impl ArmClient {
    /// The Activity Log entries about `resource_id` between `from` and `to` (every page).
    pub async fn activity_log(
        &self,
        resource_id: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> ActivityLookup {
        let r = async {
            let sub = resource_id
                .split('/')
                .filter(|s| !s.is_empty())
                .nth(1)
                .ok_or_else(|| ArmError::Refused {
                    reason: format!("'{resource_id}' is not a resource id under a subscription"),
                })?;
            let fmt = |t: OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
            let mut query = BTreeMap::new();
            query.insert(
                "api-version".to_string(),
                ACTIVITY_LOG_API_VERSION.to_string(),
            );
            query.insert(
                "$filter".to_string(),
                format!(
                    "eventTimestamp ge '{}' and eventTimestamp le '{}' and resourceUri eq '{}'",
                    fmt(from),
                    fmt(to),
                    resource_id.replace('\'', "''")
                ),
            );
            let url = self.url(
                &format!(
                    "/subscriptions/{}/providers/Microsoft.Insights/eventtypes/management/values",
                    encode_segment(sub)
                ),
                &query,
            )?;
            let mut op = self.op();
            self.paged(Method::Get, url, "value", &mut op).await
        }
        .await;
        match self.redact(r) {
            Ok(items) => {
                let mut events: Vec<ActivityEvent> = items.iter().filter_map(event_of).collect();
                events.sort_by_key(|e| std::cmp::Reverse(timestamp(&e.time)));
                ActivityLookup::Events(events)
            }
            Err(ArmError::Api { status: 403, .. }) => ActivityLookup::Forbidden,
            Err(e) => ActivityLookup::Failed(e.to_string()),
        }
    }

    /// Who this client runs as: the values of the identity claims (`oid`, `appid`, `azp`, `upn`,
    /// `unique_name`, `email`) of its ARM token, any of which the Activity Log may show as the
    /// caller. Empty when the token is not a JWT (nothing can be recognised as "us") or no token
    /// can be had. The token is decoded, not verified: it only names us to ourselves.
    pub async fn identity(&self) -> Vec<String> {
        let Ok((token, _)) = self.inner.tokens.token().await else {
            return Vec::new();
        };
        identity_claims(token.token.secret())
    }
}

/// The identity claim values of a JWT-shaped token (see [`ArmClient::identity`]).
pub(crate) fn identity_claims(token: &str) -> Vec<String> {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Vec::new();
    };
    let Some(claims) = b64url_decode(payload)
        .and_then(|b| serde_json::from_slice::<serde_json::Map<String, Value>>(&b).ok())
    else {
        return Vec::new();
    };
    ["oid", "appid", "azp", "upn", "unique_name", "email"]
        .iter()
        .filter_map(|c| claims.get(*c).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn timestamp(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// One entry of the list; `None` when it lacks a time or an operation.
fn event_of(v: &Value) -> Option<ActivityEvent> {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let time = text(v.get("eventTimestamp"))?;
    let op = v.get("operationName");
    let operation = text(op.and_then(|o| o.get("value")))
        .or_else(|| text(op))
        .filter(|s| !s.is_empty())?;
    Some(ActivityEvent {
        caller: text(v.get("caller")).filter(|c| !c.trim().is_empty()),
        time,
        operation,
        operation_label: text(op.and_then(|o| o.get("localizedValue"))).filter(|s| !s.is_empty()),
        status: text(v.get("status").and_then(|s| s.get("value"))).unwrap_or_default(),
    })
}

/// base64url (padding and the standard alphabet tolerated); `None` on any other character.
fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in text.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identity_claims_of_a_jwt() {
        // {"oid":"o-1","upn":"me@example.com"} base64url-encoded.
        let payload = "eyJvaWQiOiJvLTEiLCJ1cG4iOiJtZUBleGFtcGxlLmNvbSJ9";
        assert_eq!(
            identity_claims(&format!("eyJ0eXAiOiJKV1QifQ.{payload}.sig")),
            vec!["o-1".to_string(), "me@example.com".to_string()]
        );
        assert!(identity_claims("opaque-token").is_empty());
        assert!(identity_claims("a.!!.c").is_empty());
    }

    #[test]
    fn events_read_the_fields_the_plan_shows() {
        let e = event_of(&json!({
            "caller": "alice@example.com",
            "eventTimestamp": "2026-01-01T00:00:00Z",
            "operationName": {"value": "X/computes/write", "localizedValue": "Create or Update Compute"},
            "status": {"value": "Succeeded"}
        }))
        .expect("an event");
        assert_eq!(e.caller.as_deref(), Some("alice@example.com"));
        assert_eq!(e.operation, "X/computes/write");
        assert_eq!(e.status, "Succeeded");
        assert!(event_of(&json!({"caller": "x"})).is_none());
    }
}
