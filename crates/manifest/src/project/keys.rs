//! The key tables of `amlctl.yaml`: its top-level keys, a workspace's keys and `defaults:`.

use crate::fields::{Field, Kind as FKind};

pub(super) const WORKSPACE_FIELDS: &[Field] = &[
    Field {
        name: "subscription_id",
        kind: FKind::Str,
        required: true,
        doc: "Azure subscription id (a GUID)",
        default: "",
        arm: "",
        update: None,
        below: &[],
        value: crate::fields::ValueKind::Text,
        service_default: None,
        on_get: crate::fields::OnGet::Unknown,
        api_versions: None,
        export_placeholder: false,
    },
    Field {
        name: "resource_group",
        kind: FKind::Str,
        required: true,
        doc: "resource group of the workspace",
        default: "",
        arm: "",
        update: None,
        below: &[],
        value: crate::fields::ValueKind::Text,
        service_default: None,
        on_get: crate::fields::OnGet::Unknown,
        api_versions: None,
        export_placeholder: false,
    },
    Field {
        name: "workspace",
        kind: FKind::Str,
        required: true,
        doc: "workspace name",
        default: "",
        arm: "",
        update: None,
        below: &[],
        value: crate::fields::ValueKind::Text,
        service_default: None,
        on_get: crate::fields::OnGet::Unknown,
        api_versions: None,
        export_placeholder: false,
    },
    Field {
        name: "location",
        kind: FKind::Str,
        required: false,
        doc: "workspace region",
        default: "",
        arm: "",
        update: None,
        below: &[],
        value: crate::fields::ValueKind::Text,
        service_default: None,
        on_get: crate::fields::OnGet::Unknown,
        api_versions: None,
        export_placeholder: false,
    },
    Field {
        name: "prune",
        kind: FKind::Bool,
        required: false,
        doc: "delete amlctl-owned computes no manifest declares",
        default: "false",
        arm: "",
        update: None,
        below: &[],
        value: crate::fields::ValueKind::Text,
        service_default: None,
        on_get: crate::fields::OnGet::Unknown,
        api_versions: None,
        export_placeholder: false,
    },
];

pub(super) const DEFAULTS_FIELDS: &[Field] = &[
    Field {
        name: "arm_endpoint",
        kind: FKind::Str,
        required: false,
        doc: "the cloud's Resource Manager URL only; other endpoints need --arm-endpoint / AMLCTL_ARM_ENDPOINT",
        default: "https://management.azure.com",
        arm: "",
        update: None,
        below: &[],
        value: crate::fields::ValueKind::Text,
        service_default: None,
        on_get: crate::fields::OnGet::Unknown,
        api_versions: None,
        export_placeholder: false,
    },
    Field {
        name: "cloud",
        kind: FKind::Str,
        required: false,
        doc: "public, usgov or china (also AzureCloud, AzureUSGovernment, AzureChinaCloud)",
        default: "AzureCloud",
        arm: "",
        update: None,
        below: &[],
        value: crate::fields::ValueKind::Text,
        service_default: None,
        on_get: crate::fields::OnGet::Unknown,
        api_versions: None,
        export_placeholder: false,
    },
    Field {
        name: "parallelism",
        kind: FKind::Int { min: 1, max: 256 },
        required: false,
        doc: "concurrent operations (1-256)",
        default: "",
        arm: "",
        update: None,
        below: &[],
        value: crate::fields::ValueKind::Text,
        service_default: None,
        on_get: crate::fields::OnGet::Unknown,
        api_versions: None,
        export_placeholder: false,
    },
];

/// Top-level keys of `amlctl.yaml`.
pub(crate) const CONFIG_KEYS: &[&str] = &[
    "$schema",
    "workspaces",
    "default_workspace",
    "manifests",
    "folders",
    "defaults",
];

pub(crate) fn workspace_fields() -> &'static [Field] {
    WORKSPACE_FIELDS
}

pub(crate) fn defaults_fields() -> &'static [Field] {
    DEFAULTS_FIELDS
}
