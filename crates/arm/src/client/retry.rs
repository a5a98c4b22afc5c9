//! When to retry and how long to wait: backoff with full jitter, `Retry-After`, the per-operation
//! deadline.

use super::ArmClient;
use crate::error::ArmError;
use reqwest::header::HeaderMap;
use std::time::Duration;
use tokio::time::Instant;

/// Longest single backoff sleep (before `Retry-After`, which may ask for longer).
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Longest a single HTTP attempt may take before it is abandoned and retried.
pub(super) const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(120);

/// `retry-after-ms` / `x-ms-retry-after-ms` (milliseconds), else `Retry-After` (seconds or HTTP date).
pub(super) fn parse_retry_after(h: &HeaderMap) -> Option<Duration> {
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).map(str::trim);
    for n in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(ms) = get(n).and_then(|v| v.parse::<f64>().ok())
            && ms.is_finite()
            && ms >= 0.0
        {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    let v = get("retry-after")?;
    if let Ok(s) = v.parse::<f64>() {
        if s.is_finite() && s >= 0.0 {
            return Some(Duration::from_secs_f64(s.min(86_400.0)));
        }
        return None;
    }
    let date =
        time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc2822).ok()?;
    let secs = (date - time::OffsetDateTime::now_utc()).as_seconds_f64();
    Some(Duration::from_secs_f64(secs.clamp(0.0, 86_400.0)))
}

/// True for the answers worth sending again: 408, 429, 500, 502, 503 and 504.
pub(super) fn is_retryable(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// Per-operation state: the deadline and the last thing that happened (for `Deadline` errors).
pub(super) struct Op {
    pub(super) deadline: Instant,
    pub(super) budget: Duration,
    pub(super) last: String,
    /// A connection error happened after the request may have reached ARM (the write may have been
    /// applied even though no answer came back).
    pub(super) lost_answer: bool,
}

impl Op {
    pub(super) fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    pub(super) fn expired(&self) -> ArmError {
        ArmError::Deadline {
            after: self.budget,
            last: if self.last.is_empty() {
                "no answer yet".to_string()
            } else {
                self.last.clone()
            },
        }
    }

    /// Sleeps `d`, or fails at once when `d` would overrun the deadline.
    pub(super) async fn sleep(&self, d: Duration) -> Result<(), ArmError> {
        if d >= self.remaining() {
            return Err(self.expired());
        }
        tokio::time::sleep(d).await;
        Ok(())
    }
}

pub(super) fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let cap = exp.min(MAX_BACKOFF);
    let ms = cap.as_millis() as u64;
    Duration::from_millis(rand::random_range(0..=ms.max(1)))
}

impl ArmClient {
    pub(super) fn op(&self) -> Op {
        let budget = self.inner.opts.deadline;
        Op {
            deadline: Instant::now() + budget,
            budget,
            last: String::new(),
            lost_answer: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("3"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(3)));
        let future = time::OffsetDateTime::now_utc() + time::Duration::seconds(30);
        let date = future
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap_or_default();
        h.insert("retry-after", HeaderValue::from_str(&date).unwrap());
        let d = parse_retry_after(&h).unwrap_or_default();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert(
            "retry-after",
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(parse_retry_after(&h), Some(Duration::ZERO));
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_millis(250)));
    }

    #[test]
    fn backoff_is_bounded() {
        for attempt in 1..40 {
            assert!(backoff(Duration::from_millis(10), attempt) <= MAX_BACKOFF);
        }
    }
}
