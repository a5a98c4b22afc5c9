//! The api-versions served and the version-dependent shapes.

/// Primary api-version.
pub const PRIMARY_API_VERSION: &str = "2025-12-01";

/// The api-versions served (stable and preview, 2020-08-01 … 2026-09-01, plus 2020-02-02 for
/// the legacy `Batch` shape).
pub const API_VERSIONS: &[&str] = &[
    "2020-02-02",
    "2020-08-01",
    "2020-09-01-preview",
    "2021-01-01",
    "2021-03-01-preview",
    "2021-04-01",
    "2021-07-01",
    "2022-01-01-preview",
    "2022-02-01-preview",
    "2022-05-01",
    "2022-06-01-preview",
    "2022-10-01",
    "2022-10-01-preview",
    "2022-12-01-preview",
    "2023-02-01-preview",
    "2023-04-01",
    "2023-04-01-preview",
    "2023-06-01-preview",
    "2023-08-01-preview",
    "2023-10-01",
    "2024-01-01-preview",
    "2024-04-01",
    "2024-04-01-preview",
    "2024-07-01-preview",
    "2024-10-01",
    "2024-10-01-preview",
    "2025-01-01-preview",
    "2025-04-01",
    "2025-04-01-preview",
    "2025-06-01",
    "2025-07-01-preview",
    "2025-09-01",
    "2025-10-01-preview",
    "2025-12-01",
    "2026-03-01",
    "2026-05-01",
    "2026-07-01",
    "2026-09-01",
];

/// Versions whose PATCH body is `{"properties":{"scaleSettings":…}}` (one level shallower).
pub(super) const SHALLOW_PATCH_VERSIONS: &[&str] = &["2020-08-01"];

/// The ARM resource type of a compute.
pub(super) const COMPUTE_RESOURCE_TYPE: &str =
    "Microsoft.MachineLearningServices/workspaces/computes";
