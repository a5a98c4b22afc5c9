//! `amlctl-vocab`: the ARM vocabulary that manifest, plan, arm and apply share, each fact once.
//!
//! * [`api_version`]: the api-versions amlctl sends;
//! * [`workspace_path`] / [`compute_path`]: the one ARM path builder (every segment
//!   percent-encoded).
//!
//! No I/O and no dependencies, so every crate can use it. The emulator does not: it is an
//! independent implementation of the ARM contract and keeps its own copy on purpose.

#![warn(missing_docs)]

/// The api-versions amlctl sends.
pub mod api_version {
    /// The computes API version for every compute type but Batch.
    pub const COMPUTES: &str = "2025-12-01";
    /// The legacy SDK v1 version, the only one that serves computeType `Batch`.
    pub const BATCH: &str = "2020-02-02";
}

/// ARM path of a workspace:
/// `/subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.MachineLearningServices/workspaces/{w}`,
/// each segment percent-encoded ([`encode_segment`]).
pub fn workspace_path(subscription_id: &str, resource_group: &str, workspace: &str) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.MachineLearningServices/workspaces/{}",
        encode_segment(subscription_id),
        encode_segment(resource_group),
        encode_segment(workspace)
    )
}

/// ARM path of the compute `name` in a workspace (`{workspace_path}/computes/{name}`).
pub fn compute_path(
    subscription_id: &str,
    resource_group: &str,
    workspace: &str,
    name: &str,
) -> String {
    format!(
        "{}/computes/{}",
        workspace_path(subscription_id, resource_group, workspace),
        encode_segment(name)
    )
}

/// Percent-encodes the characters that cannot appear raw in a path segment. ARM names are restricted
/// (letters, digits, `-_.()`), so valid names are returned unchanged.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let c = b as char;
        if c.is_ascii_alphanumeric() || "-._~()!$&'*+,;=:@".contains(c) {
            out.push(c);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            compute_path(
                "00000000-0000-0000-0000-000000000001",
                "rg-ml",
                "ws1",
                "gpu-cluster"
            ),
            "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws1/computes/gpu-cluster"
        );
        assert!(compute_path("s", "g", "w", "a b/c").ends_with("/computes/a%20b%2Fc"));
        assert!(workspace_path("s", "rg/../x", "w").contains("/resourceGroups/rg%2F..%2Fx/"));
    }
}
