//! The pre-flight summary a plan carries (filled by [`crate::preflight::check`]).

use serde::{Deserialize, Serialize};

/// The pre-flight summary of a plan (rendered as its own section; JSON: `preflight`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preflight {
    /// Quota buckets the plan touches.
    pub quotas: Vec<QuotaLine>,
    /// Failed checks (errors and warnings), each with its manifest position.
    pub findings: Vec<Finding>,
    /// Referenced resources read.
    pub references_checked: usize,
}

/// One quota bucket of a region: free now and after apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaLine {
    /// Subscription id.
    pub subscription_id: String,
    /// Location.
    pub location: String,
    /// The bucket: a family name, `low-priority vCPUs` or `total regional dedicated vCPUs`.
    pub quota: String,
    /// vCPU limit.
    pub limit: u64,
    /// Free vCPUs now.
    pub free: i64,
    /// Free vCPUs after apply (negative: over quota).
    pub free_after: i64,
}

/// A failed check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// `error` or `warning`.
    pub severity: String,
    /// `{workspace}/{name}`.
    pub address: String,
    /// What is wrong.
    pub message: String,
    /// Manifest position (`file:line:col`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
}
