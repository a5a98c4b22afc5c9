//! Errors returned by the ARM client, and their one-line human summaries.

use serde_json::Value;
use std::time::Duration;

/// Everything that can go wrong while talking to ARM.
///
/// `Display` is one clear line; [`ArmError::summary`] is the same line with advice where there is some.
/// Secrets registered with [`crate::ArmClient::register_secret`] (and secret-looking values of request
/// bodies) never appear in any field.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ArmError {
    /// The client refused to do something unsafe (for example a bearer token over plain http).
    #[error("refused: {reason}")]
    Refused {
        /// Why, in plain words.
        reason: String,
    },
    /// No token could be obtained, or ARM rejected the token (401). One `(source, message)` pair per
    /// credential source tried.
    #[error("authentication failed: {}", format_sources(.source_messages))]
    Auth {
        /// `(credential source, what it said)` for each source tried.
        source_messages: Vec<(String, String)>,
    },
    /// ARM answered with a non-retryable error status (most 4xx). Carries ARM's `error` object.
    #[error("ARM returned HTTP {status} {code}: {message}")]
    Api {
        /// HTTP status code.
        status: u16,
        /// ARM error code (`error.code`), or the HTTP reason phrase when the body had none.
        code: String,
        /// ARM error message (`error.message`).
        message: String,
        /// ARM `error.target`, if any.
        target: Option<String>,
        /// ARM `error.details` (verbatim; `Value::Null` when absent). Boxed to keep `ArmError` small.
        details: Box<Value>,
    },
    /// A long-running operation ended `Failed` or `Canceled`.
    #[error("operation {status}: {summary}")]
    OperationFailed {
        /// Terminal status: `Failed` or `Canceled`.
        status: String,
        /// `error.code` of the operation (or of the first provisioning error).
        code: String,
        /// `error.message` of the operation.
        message: String,
        /// The resource's `properties.provisioningErrors`, verbatim.
        provisioning_errors: Vec<Value>,
        /// One line for humans (quota errors get quota wording).
        summary: String,
    },
    /// The per-operation deadline (retries and LRO polling included) ran out.
    #[error("gave up after {}: {last}", format_duration(*.after))]
    Deadline {
        /// The deadline that was exceeded.
        after: Duration,
        /// The last thing that happened (last status or error).
        last: String,
    },
    /// A network-level error that could not be retried (or the client could not be built).
    #[error("transport error: {0}")]
    Transport(String),
    /// ARM answered something the client could not make sense of.
    #[error("invalid response from ARM: {0}")]
    InvalidResponse(String),
}

fn format_sources(sources: &[(String, String)]) -> String {
    if sources.is_empty() {
        return "no credential source configured".to_string();
    }
    sources
        .iter()
        .map(|(s, m)| format!("{s}: {}", one_line(m)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Formats a duration for humans: `250ms`, `12s`, `10m`, `1m30s`.
pub(crate) fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let s = d.as_secs();
    if s < 60 {
        if ms.is_multiple_of(1000) {
            format!("{s}s")
        } else {
            format!("{:.1}s", d.as_secs_f64())
        }
    } else if s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{}m{}s", s / 60, s % 60)
    }
}

/// Collapses whitespace runs (including newlines) into single spaces.
pub(crate) fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl ArmError {
    /// One line for humans, with advice where there is some, e.g.
    /// "quota exceeded for Standard_NC6 in eastus: request a quota increase or choose another size".
    pub fn summary(&self) -> String {
        match self {
            ArmError::Refused { reason } => one_line(reason),
            ArmError::Auth { source_messages } => {
                format!(
                    "authentication failed ({}); check the credential or pick one with --auth",
                    format_sources(source_messages)
                )
            }
            ArmError::Api {
                status,
                code,
                message,
                ..
            } => {
                if is_quota(code, message) {
                    quota_summary(None, None, message)
                } else {
                    let advice = match *status {
                        403 => "; the identity lacks permission (check its role assignment)",
                        404 => "; check the subscription, resource group and workspace names",
                        409 => "; another operation is in progress on this resource, retry later",
                        _ => "",
                    };
                    format!("HTTP {status} {code}: {}{advice}", one_line(message))
                }
            }
            ArmError::OperationFailed { summary, .. } => summary.clone(),
            ArmError::Deadline { after, last } => format!(
                "gave up after {}: {}",
                format_duration(*after),
                one_line(last)
            ),
            ArmError::Transport(m) => format!("network error talking to ARM: {}", one_line(m)),
            ArmError::InvalidResponse(m) => format!("unexpected answer from ARM: {}", one_line(m)),
        }
    }

    /// True when ARM answered 409 Conflict (or an operation failed with code `Conflict`).
    pub fn is_conflict(&self) -> bool {
        match self {
            ArmError::Api { status, code, .. } => {
                *status == 409 || code.eq_ignore_ascii_case("Conflict")
            }
            ArmError::OperationFailed { code, .. } => code.eq_ignore_ascii_case("Conflict"),
            _ => false,
        }
    }

    /// The HTTP status ARM answered, when the error came from an HTTP status.
    pub fn status(&self) -> Option<u16> {
        match self {
            ArmError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Replaces every occurrence of each secret with `<redacted>` in all text of the error.
    pub(crate) fn redact(self, secrets: &[String]) -> ArmError {
        if secrets.is_empty() {
            return self;
        }
        let r = |s: String| redact_str(s, secrets);
        match self {
            ArmError::Refused { reason } => ArmError::Refused { reason: r(reason) },
            ArmError::Auth { source_messages } => ArmError::Auth {
                source_messages: source_messages
                    .into_iter()
                    .map(|(a, b)| (r(a), r(b)))
                    .collect(),
            },
            ArmError::Api {
                status,
                code,
                message,
                target,
                details,
            } => ArmError::Api {
                status,
                code: r(code),
                message: r(message),
                target: target.map(r),
                details: Box::new(redact_value(*details, secrets)),
            },
            ArmError::OperationFailed {
                status,
                code,
                message,
                provisioning_errors,
                summary,
            } => ArmError::OperationFailed {
                status,
                code: r(code),
                message: r(message),
                provisioning_errors: provisioning_errors
                    .into_iter()
                    .map(|v| redact_value(v, secrets))
                    .collect(),
                summary: r(summary),
            },
            ArmError::Deadline { after, last } => ArmError::Deadline {
                after,
                last: r(last),
            },
            ArmError::Transport(m) => ArmError::Transport(r(m)),
            ArmError::InvalidResponse(m) => ArmError::InvalidResponse(r(m)),
        }
    }
}

/// Replaces every occurrence of each secret in `s` with `<redacted>`.
pub(crate) fn redact_str(mut s: String, secrets: &[String]) -> String {
    for secret in secrets {
        if !secret.is_empty() && s.contains(secret.as_str()) {
            s = s.replace(secret.as_str(), "<redacted>");
        }
    }
    s
}

/// Replaces secrets in every string (keys included) of a JSON value.
pub(crate) fn redact_value(v: Value, secrets: &[String]) -> Value {
    match v {
        Value::String(s) => Value::String(redact_str(s, secrets)),
        Value::Array(a) => Value::Array(a.into_iter().map(|x| redact_value(x, secrets)).collect()),
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, x)| (redact_str(k, secrets), redact_value(x, secrets)))
                .collect(),
        ),
        other => other,
    }
}

/// True when an error code/message is about quota.
pub(crate) fn is_quota(code: &str, message: &str) -> bool {
    let c = code.to_ascii_lowercase();
    c.contains("quota") || message.to_ascii_lowercase().contains("quota")
}

/// The quota one-liner. `vm_size`/`location` come from the resource or the request when known.
pub(crate) fn quota_summary(
    vm_size: Option<&str>,
    location: Option<&str>,
    message: &str,
) -> String {
    let mut s = "quota exceeded".to_string();
    if let Some(v) = vm_size.filter(|v| !v.is_empty()) {
        s.push_str(" for ");
        s.push_str(v);
    }
    if let Some(l) = location.filter(|l| !l.is_empty()) {
        s.push_str(" in ");
        s.push_str(l);
    }
    s.push_str(": request a quota increase or choose another size");
    if vm_size.is_none() && location.is_none() && !message.is_empty() {
        s.push_str(&format!(" ({})", one_line(message)));
    }
    s
}

/// Builds the `OperationFailed` error for a terminal `Failed`/`Canceled` LRO.
///
/// `error` is the operation's `error` object (may be `Null`); `resource` is the resource as last read
/// (for `properties.provisioningErrors`, size and location); `request` is the body that was sent.
pub(crate) fn operation_failed(
    status: &str,
    error: &Value,
    resource: Option<&Value>,
    request: Option<&Value>,
) -> ArmError {
    let provisioning_errors: Vec<Value> = resource
        .and_then(|r| r.pointer("/properties/provisioningErrors"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let err_obj = error.get("error").unwrap_or(error);
    let mut code = str_at(err_obj, "/code").unwrap_or_default();
    let mut message = str_at(err_obj, "/message").unwrap_or_default();
    // Fall back to (and look for quota in) the first provisioning error.
    let first_pe = provisioning_errors
        .first()
        .map(|pe| pe.get("error").unwrap_or(pe).clone());
    if code.is_empty()
        && let Some(pe) = &first_pe
    {
        code = str_at(pe, "/code").unwrap_or_default();
    }
    if message.is_empty()
        && let Some(pe) = &first_pe
    {
        message = str_at(pe, "/message").unwrap_or_default();
    }
    let quota = is_quota(&code, &message)
        || provisioning_errors.iter().any(|pe| {
            let e = pe.get("error").unwrap_or(pe);
            is_quota(
                &str_at(e, "/code").unwrap_or_default(),
                &str_at(e, "/message").unwrap_or_default(),
            )
        });
    let pick = |ptrs: &[&str]| -> Option<String> {
        for src in [resource, request].into_iter().flatten() {
            for p in ptrs {
                if let Some(s) = str_at(src, p).filter(|s| !s.is_empty()) {
                    return Some(s);
                }
            }
        }
        None
    };
    let summary = if quota {
        let size = pick(&[
            "/properties/properties/vmSize",
            "/properties/properties/agentVmSize",
            "/properties/properties/virtualMachineSize",
        ]);
        let loc = pick(&["/properties/computeLocation", "/location"]);
        quota_summary(size.as_deref(), loc.as_deref(), &message)
    } else {
        let mut s = format!("operation {}", status.to_ascii_lowercase());
        if !code.is_empty() {
            s.push_str(&format!(": {code}"));
        }
        if !message.is_empty() {
            s.push_str(&format!(": {}", one_line(&message)));
        }
        s
    };
    if code.is_empty() {
        code = status.to_string();
    }
    ArmError::OperationFailed {
        status: status.to_string(),
        code,
        message,
        provisioning_errors,
        summary,
    }
}

fn str_at(v: &Value, ptr: &str) -> Option<String> {
    v.pointer(ptr).and_then(Value::as_str).map(str::to_string)
}

/// Parses an ARM error body (`{"error":{code,message,target,details}}`) into [`ArmError::Api`].
pub(crate) fn api_error(status: u16, reason: &str, body: &[u8]) -> ArmError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let err = parsed
        .as_ref()
        .map(|v| v.get("error").unwrap_or(v).clone())
        .unwrap_or(Value::Null);
    let code = str_at(&err, "/code")
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| reason.to_string());
    let message = str_at(&err, "/message").unwrap_or_else(|| {
        if parsed.is_none() {
            let text = String::from_utf8_lossy(body);
            let text = one_line(&text);
            text.chars().take(500).collect()
        } else {
            String::new()
        }
    });
    ArmError::Api {
        status,
        code,
        message,
        target: str_at(&err, "/target"),
        details: Box::new(err.get("details").cloned().unwrap_or(Value::Null)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quota_summary_uses_size_and_location() {
        let e = operation_failed(
            "Failed",
            &json!({"code":"QuotaExceeded","message":"Operation could not be completed as it results in exceeding approved Standard NC Family Cores quota."}),
            Some(
                &json!({"location":"eastus","properties":{"properties":{"vmSize":"Standard_NC6"}}}),
            ),
            None,
        );
        assert_eq!(
            e.summary(),
            "quota exceeded for Standard_NC6 in eastus: request a quota increase or choose another size"
        );
    }

    #[test]
    fn redaction_covers_nested_values() {
        let e = ArmError::Api {
            status: 400,
            code: "BadArgument".into(),
            message: "password hunter2 is weak".into(),
            target: None,
            details: Box::new(json!([{"message":"hunter2"}])),
        }
        .redact(&["hunter2".to_string()]);
        let text = format!("{e:?} {e}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("<redacted>"));
    }

    #[test]
    fn api_error_reads_arm_body() {
        let e = api_error(
            400,
            "Bad Request",
            br#"{"error":{"code":"BadArgument","message":"min > max","target":"scaleSettings"}}"#,
        );
        assert_eq!(e.status(), Some(400));
        assert_eq!(
            e.to_string(),
            "ARM returned HTTP 400 BadArgument: min > max"
        );
        let e = api_error(409, "Conflict", b"not json");
        assert!(e.is_conflict());
    }
}
