//! The field policy table: for each compute type and manifest key, how a change can be carried
//! out. This is the one place that decides; every row cites its source. `docs/field-policy.md`
//! is generated from [`policy_table`] (a test keeps it in step).

use amlctl_manifest::ComputeType;
use amlctl_manifest::fields::{Field, Kind as FieldKind, OnGet, ValueKind, fields_of};

use crate::model::Policy;

/// One row of the field policy table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyRow {
    /// Compute types the row applies to.
    pub types: &'static [ComputeType],
    /// Dotted manifest key; the row also covers every key below it (`ssh_settings` covers
    /// `ssh_settings.admin_username`) unless a longer row matches.
    pub key: &'static str,
    /// The policy.
    pub policy: Policy,
    /// Why, in a few words (used in plan reasons for replacements).
    pub why: &'static str,
    /// Where this comes from.
    pub source: &'static str,
}

use ComputeType::*;

const ALL: &[ComputeType] = &ComputeType::ALL;
const AML: &[ComputeType] = &[AmlCompute];
/// Types whose envelope (description, tags, identity) changes in place: clusters only (compute
/// instances are not updated by PUT; attached computes are detached and attached again).
const IN_PLACE_ENVELOPE: &[ComputeType] = &[AmlCompute];
const CI: &[ComputeType] = &[ComputeInstance];
const ATTACHED: &[ComputeType] = &[
    VirtualMachine,
    Kubernetes,
    SynapseSpark,
    HdInsight,
    Databricks,
    DataLakeAnalytics,
    Aks,
    DataFactory,
    Batch,
];
const SSH_ATTACHED: &[ComputeType] = &[VirtualMachine, HdInsight];

// Sources, cited by the rows below.
const SRC_PATCH: &str = "spec 2025-12-01 `Compute_Update`: the PATCH body `ClusterUpdateParameters` holds AmlCompute `scaleSettings` only";
const SRC_PUT: &str = "spec 2025-12-01 `Compute_CreateOrUpdate`: a PUT on an existing name overwrites the compute (examples \"Update a AML Compute\", \"Update an AKS Compute\"); top-level `tags`, `identity` and `properties.description` carry no x-ms-mutability restriction";
const SRC_CREATE: &str = "spec 2025-12-01: `Compute.computeLocation` is x-ms-mutability [read, create]; terraform azurerm `location` is ForceNew";
const SRC_TF_CLUSTER: &str = "terraform azurerm `machine_learning_compute_cluster`: ForceNew (its Update covers identity, scale settings and tags only, since provider PRs #26404 and #29878); the service refuses the change on an existing cluster";
const SRC_REMOTE_LOGIN: &str = "spec 2025-12-01 `remoteLoginPortPublicAccess`: \"can be default only during cluster creation time\"; terraform azurerm `ssh_public_access_enabled` ForceNew";
const SRC_CI: &str = "service: compute instance settings are fixed at creation; terraform azurerm `machine_learning_compute_instance`: every argument ForceNew";
const SRC_CI_PUT: &str = "issue #14 rule 4: the service refuses a PUT that changes an existing compute instance (400 UserError); no recording shows a compute instance updated by PUT (arm-recordings: every CI PUT is a create), and the only CI actions at the chosen api-version are start/stop/restart (spec 2025-12-01; `updateSchedules`/`updateIdleShutdownSetting` are not in stable and never recorded); terraform azurerm `machine_learning_compute_instance`: every argument ForceNew, tags included";
const SRC_CI_SCHED: &str = "as above; the earlier in-place policy cited only the emulator (spec 2025-12-01 has no schedule update action; `updateSchedules` is not recorded anywhere)";
const SRC_ATTACH_ENVELOPE: &str = "issue #14 rule 5: a change to an attachment is a detach and re-attach (no recording shows an attachment updated; terraform azurerm's attach resources are ForceNew); detaching breaks jobs and online deployments that name the compute until it is attached again";
const SRC_AKS_PUT_REJECTED: &str = "issue #14 rule 5 (properties of an attachment change by detach and re-attach); spec 2025-12-01 example \"Update an AKS Compute\" shows a PUT with a new `agentCount`, but no recording confirms the service accepts it";
const SRC_SECRET: &str = "spec 2025-12-01: x-ms-secret, never returned by GET (\"Any secrets … are not returned\"); a new value needs `--replace`";
const SRC_SECRET_PRACTICE: &str = "spec 2025-12-01: secret in practice (not returned by GET, listed by `listKeys`); a new value needs `--replace`";
const SRC_IGNORED: &str =
    "azure-ai-ml 1.35.2 `AmlCompute._to_rest_object`: `resource_id` is accepted but never sent";
const SRC_RESOURCE: &str = "service: an attachment cannot point at another resource (`properties.resourceId` is fixed; the emulator refuses it); detach and attach again";
const SRC_ATTACH_FIXED: &str = "conservative: `az ml compute update` changes only identity and tags of an attachment, terraform azurerm's attach resources are ForceNew; detach and attach again (harmless to the attached resource, still gated)";
const SRC_OS_IMAGE: &str = "spec 2025-12-01 AmlCompute `osType` (Linux default, Windows) and `virtualMachineImage` (\"Virtual Machine image for Windows AML Compute\"); conservative: no source documents changing either on an existing cluster, and the PATCH body holds scale settings only";
const SRC_TF_DLA: &str = "conservative: no source documents an in-place change; replace (detach and attach again) is the safe default";
const SRC_TF_AKS: &str = "terraform azurerm `machine_learning_inference_cluster`: ForceNew";

const fn row(
    types: &'static [ComputeType],
    key: &'static str,
    policy: Policy,
    why: &'static str,
    source: &'static str,
) -> PolicyRow {
    PolicyRow {
        types,
        key,
        policy,
        why,
        source,
    }
}

use Policy::{Ignored, InPlacePatch, InPlacePut, Replace, WriteOnlySecret};

/// The rows. Keys are canonical manifest keys (see `amlctl_manifest::Target::spec`).
const TABLE: &[PolicyRow] = &[
    // Every type.
    row(IN_PLACE_ENVELOPE, "description", InPlacePut, "", SRC_PUT),
    row(IN_PLACE_ENVELOPE, "tags", InPlacePut, "", SRC_PUT),
    row(IN_PLACE_ENVELOPE, "identity", InPlacePut, "", SRC_PUT),
    row(
        CI,
        "description",
        Replace,
        "compute instances are not updated by PUT",
        SRC_CI_PUT,
    ),
    row(
        CI,
        "tags",
        Replace,
        "compute instances are not updated by PUT",
        SRC_CI_PUT,
    ),
    row(
        CI,
        "identity",
        Replace,
        "compute instances are not updated by PUT",
        SRC_CI_PUT,
    ),
    row(
        ATTACHED,
        "description",
        Replace,
        "an attachment changes only by detach and re-attach",
        SRC_ATTACH_ENVELOPE,
    ),
    row(
        ATTACHED,
        "tags",
        Replace,
        "an attachment changes only by detach and re-attach",
        SRC_ATTACH_ENVELOPE,
    ),
    row(
        ATTACHED,
        "identity",
        Replace,
        "an attachment changes only by detach and re-attach",
        SRC_ATTACH_ENVELOPE,
    ),
    row(
        ALL,
        "location",
        Replace,
        "the location of a compute is fixed at creation",
        SRC_CREATE,
    ),
    // Compute cluster.
    row(AML, "min_instances", InPlacePatch, "", SRC_PATCH),
    row(AML, "max_instances", InPlacePatch, "", SRC_PATCH),
    row(
        AML,
        "idle_time_before_scale_down",
        InPlacePatch,
        "",
        SRC_PATCH,
    ),
    row(
        AML,
        "size",
        Replace,
        "the VM size of a cluster cannot change",
        SRC_TF_CLUSTER,
    ),
    row(
        AML,
        "tier",
        Replace,
        "the VM priority of a cluster cannot change",
        SRC_TF_CLUSTER,
    ),
    row(
        AML,
        "network_settings",
        Replace,
        "a cluster cannot move to another subnet",
        SRC_TF_CLUSTER,
    ),
    row(
        AML,
        "enable_node_public_ip",
        Replace,
        "node public IPs are fixed at creation",
        SRC_TF_CLUSTER,
    ),
    row(
        AML,
        "ssh_public_access_enabled",
        Replace,
        "SSH public access is fixed at creation",
        SRC_REMOTE_LOGIN,
    ),
    row(
        AML,
        "ssh_settings",
        Replace,
        "the administrator account of a cluster is fixed at creation",
        SRC_TF_CLUSTER,
    ),
    row(
        AML,
        "ssh_settings.admin_password",
        WriteOnlySecret,
        "",
        SRC_SECRET,
    ),
    row(
        AML,
        "ssh_settings.ssh_key_value",
        WriteOnlySecret,
        "",
        SRC_SECRET,
    ),
    row(
        AML,
        "os_type",
        Replace,
        "the operating system of a cluster is fixed at creation",
        SRC_OS_IMAGE,
    ),
    row(
        AML,
        "virtual_machine_image",
        Replace,
        "the node image of a cluster is fixed at creation",
        SRC_OS_IMAGE,
    ),
    row(AML, "resource_id", Ignored, "", SRC_IGNORED),
    // Compute instance: every setting is fixed at creation except the ones in every type above
    // and the schedules.
    row(
        CI,
        "schedules",
        Replace,
        "compute instances are not updated by PUT",
        SRC_CI_SCHED,
    ),
    row(
        CI,
        "size",
        Replace,
        "compute instances cannot be resized",
        SRC_CI,
    ),
    row(
        CI,
        "network_settings",
        Replace,
        "a compute instance cannot move to another subnet",
        SRC_CI,
    ),
    row(
        CI,
        "create_on_behalf_of",
        Replace,
        "the assigned user of a compute instance is fixed at creation",
        SRC_CI,
    ),
    row(
        CI,
        "ssh_public_access_enabled",
        Replace,
        "compute instance settings are fixed at creation",
        SRC_CI,
    ),
    row(
        CI,
        "ssh_settings",
        Replace,
        "compute instance settings are fixed at creation",
        SRC_CI,
    ),
    row(
        CI,
        "setup_scripts",
        Replace,
        "setup scripts run only when an instance is created",
        SRC_CI,
    ),
    row(
        CI,
        "custom_applications",
        Replace,
        "compute instance settings are fixed at creation",
        SRC_CI,
    ),
    row(
        CI,
        "enable_node_public_ip",
        Replace,
        "compute instance settings are fixed at creation",
        SRC_CI,
    ),
    row(
        CI,
        "enable_sso",
        Replace,
        "compute instance settings are fixed at creation",
        SRC_CI,
    ),
    row(
        CI,
        "enable_root_access",
        Replace,
        "compute instance settings are fixed at creation",
        SRC_CI,
    ),
    row(
        CI,
        "enable_os_patching",
        Replace,
        "compute instance settings are fixed at creation",
        SRC_CI,
    ),
    row(
        CI,
        "release_quota_on_stop",
        Replace,
        "compute instance settings are fixed at creation",
        SRC_CI,
    ),
    row(
        CI,
        "idle_time_before_shutdown",
        Replace,
        "compute instance settings are fixed at creation",
        SRC_CI,
    ),
    row(
        CI,
        "idle_time_before_shutdown_minutes",
        Replace,
        "compute instance settings are fixed at creation",
        SRC_CI,
    ),
    // Attached types.
    row(
        ATTACHED,
        "resource_id",
        Replace,
        "an attachment cannot point at another resource",
        SRC_RESOURCE,
    ),
    row(
        SSH_ATTACHED,
        "ssh_settings",
        Replace,
        "the connection settings of an attachment are fixed",
        SRC_ATTACH_FIXED,
    ),
    row(
        SSH_ATTACHED,
        "ssh_settings.admin_password",
        WriteOnlySecret,
        "",
        SRC_SECRET_PRACTICE,
    ),
    row(
        SSH_ATTACHED,
        "ssh_settings.ssh_private_key_file",
        WriteOnlySecret,
        "",
        SRC_SECRET,
    ),
    row(
        SSH_ATTACHED,
        "ssh_settings.ssh_key_value",
        WriteOnlySecret,
        "",
        SRC_SECRET,
    ),
    row(
        &[Kubernetes],
        "namespace",
        Replace,
        "the namespace of an attachment is fixed",
        SRC_ATTACH_FIXED,
    ),
    row(
        &[Kubernetes],
        "properties",
        Replace,
        "the settings of an attachment are fixed",
        SRC_ATTACH_FIXED,
    ),
    row(
        &[Kubernetes],
        "properties.relayConnectionString",
        WriteOnlySecret,
        "",
        SRC_SECRET,
    ),
    row(
        &[Kubernetes],
        "properties.serviceBusConnectionString",
        WriteOnlySecret,
        "",
        SRC_SECRET,
    ),
    row(
        &[Databricks],
        "access_token",
        WriteOnlySecret,
        "",
        SRC_SECRET_PRACTICE,
    ),
    row(
        &[Databricks],
        "workspace_url",
        Replace,
        "the settings of an attachment are fixed",
        SRC_ATTACH_FIXED,
    ),
    row(
        &[Aks],
        "agent_count",
        Replace,
        "an attachment changes only by detach and re-attach",
        SRC_AKS_PUT_REJECTED,
    ),
    row(&[Aks], "ssl.cert", WriteOnlySecret, "", SRC_SECRET),
    row(&[Aks], "ssl.key", WriteOnlySecret, "", SRC_SECRET),
    row(
        &[DataLakeAnalytics],
        "data_lake_store_account_name",
        Replace,
        "the default Data Lake Store of an attachment is fixed",
        SRC_TF_DLA,
    ),
    row(
        &[Aks],
        "agent_vm_size",
        Replace,
        "the node size of an AKS cluster is fixed",
        SRC_TF_AKS,
    ),
];

/// Why an unlisted key defaults to [`Policy::Replace`].
pub const DEFAULT_SOURCE: &str =
    "not in the table: replace, the safe default (a replace needs `allow_replace` or `--replace`)";

/// Every row of the field policy table, in table order.
pub fn policy_table() -> &'static [PolicyRow] {
    TABLE
}

/// The row deciding `key` for `compute_type`: the longest row key equal to `key` or a dotted
/// prefix of it. `None` when no row matches (then the policy is [`Policy::Replace`]).
pub fn policy_row(compute_type: ComputeType, key: &str) -> Option<&'static PolicyRow> {
    TABLE
        .iter()
        .filter(|r| r.types.contains(&compute_type))
        .filter(|r| {
            key == r.key
                || (key.len() > r.key.len()
                    && key.starts_with(r.key)
                    && key.as_bytes()[r.key.len()] == b'.')
        })
        .max_by_key(|r| r.key.len())
}

/// The field policy for a dotted manifest key of a compute type. Unknown keys are
/// [`Policy::Replace`] (safe: a replace is gated).
pub fn policy_for(compute_type: ComputeType, key: &str) -> Policy {
    policy_row(compute_type, key).map_or(Policy::Replace, |r| r.policy)
}

/// The words used in a reason for a replacement forced by `key` (e.g. "compute instances
/// cannot be resized"); empty when the table gives none.
pub fn replace_note(compute_type: ComputeType, key: &str) -> &'static str {
    policy_row(compute_type, key).map_or("", |r| r.why)
}

fn policy_name(p: Policy) -> &'static str {
    match p {
        Policy::InPlacePatch => "in place (PATCH)",
        Policy::InPlacePut => "in place (PUT)",
        Policy::Replace => "replace",
        Policy::CreateOnly => "create-only",
        Policy::WriteOnlySecret => "write-only secret",
        Policy::Ignored => "ignored",
    }
}

/// The field policy table for users (the content of `docs/field-policy.md`).
pub fn field_policy_markdown() -> String {
    let mut out = String::new();
    out.push_str("# Field policy\n\n");
    out.push_str(
        "<!-- Generated from crates/plan/src/policy.rs by `AMLCTL_UPDATE_DOCS=1 cargo test -p amlctl-plan field_policy_doc`; do not edit by hand. -->\n\n",
    );
    out.push_str(
        "How `amlctl plan` carries out a change to each manifest key. A row also covers the keys \
below it (`ssh_settings` covers `ssh_settings.admin_username`) unless a longer row says otherwise. \
A key in no row is **replace**: the safe default, since a replace needs \
`lifecycle: {allow_replace: true}` or `--replace NAME`.\n\n",
    );
    out.push_str("| policy | meaning |\n|---|---|\n");
    for (p, meaning) in [
        (
            Policy::InPlacePatch,
            "`PATCH` with the full desired scale settings",
        ),
        (
            Policy::InPlacePut,
            "`PUT` of the whole body over the existing compute",
        ),
        (
            Policy::Replace,
            "delete (created types) or detach (attached types), then create or attach again",
        ),
        (
            Policy::CreateOnly,
            "sent at creation, not read back, never compared; change it with `--replace NAME`",
        ),
        (
            Policy::WriteOnlySecret,
            "never read back, never compared, never shown; change it with `--replace NAME`",
        ),
        (
            Policy::Ignored,
            "accepted in the manifest, never sent nor compared",
        ),
    ] {
        out.push_str(&format!("| {} | {} |\n", policy_name(p), meaning));
    }
    out.push_str(
        "\nA secret written as a reference (`{env: …}`, `{file: …}`, `{key_vault: …}`) is a \
write-only secret whatever its row says.\n",
    );
    for ct in ComputeType::ALL {
        out.push_str(&format!("\n## `{}`\n\n", ct.manifest_name()));
        out.push_str("| key | policy | why | source |\n|---|---|---|---|\n");
        let mut rows: Vec<&PolicyRow> = TABLE.iter().filter(|r| r.types.contains(&ct)).collect();
        rows.sort_by_key(|r| r.key);
        for r in rows {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                r.key,
                policy_name(r.policy),
                r.why,
                r.source.replace('|', "\\|")
            ));
        }
        out.push_str(&format!(
            "| any other key | replace | | {DEFAULT_SOURCE} |\n"
        ));
        out.push_str(&format!(
            "\nEvery key of `{}` (from the field table, `crates/manifest/src/fields.rs`): how values \
compare, the policy, the service's documented default (what an absent or `null` live value \
means) and whether GET returns it. A key GET is not known to return cannot be checked after \
creation.\n\n",
            ct.manifest_name()
        ));
        out.push_str(
            "| key | compared as | policy | documented default | returned on GET | api-versions | source |\n|---|---|---|---|---|---|---|\n",
        );
        let mut keys = Vec::new();
        flatten(&mut Vec::new(), fields_of(ct), &mut keys);
        for (key, f) in keys {
            let default = f.service_default.map_or(String::new(), |d| match d.unset {
                Some(u) => format!("`{}` (`{u}`: not sent)", d.value),
                None => format!("`{}`", d.value),
            });
            let get = match f.on_get {
                OnGet::Unknown => "unknown",
                OnGet::Always(_) => "always",
                OnGet::WhenSet(_) => "when set",
                OnGet::Never(_) => "no",
            };
            let versions = f.api_versions.map_or_else(
                || "all amlctl sends".to_string(),
                |a| format!("only {}", a.versions.join(", ")),
            );
            let sources: Vec<&str> = [
                f.service_default.map_or("", |d| d.source),
                f.on_get.source(),
                f.api_versions.map_or("", |a| a.source),
            ]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
            out.push_str(&format!(
                "| `{key}` | {} | {} | {default} | {get} | {versions} | {} |\n",
                value_kind_name(f.value),
                policy_name(policy_for(ct, &key)),
                sources.join("; ").replace('|', "\\|")
            ));
        }
    }
    out
}

/// Every key of a field table with its row, nested keys dotted, in table order.
fn flatten(
    prefix: &mut Vec<&'static str>,
    fields: &'static [Field],
    out: &mut Vec<(String, Field)>,
) {
    for f in fields {
        prefix.push(f.name);
        out.push((prefix.join("."), *f));
        if let FieldKind::Obj(sub) | FieldKind::ObjList(sub) = f.kind {
            flatten(prefix, sub, out);
        }
        prefix.pop();
    }
}

fn value_kind_name(v: ValueKind) -> &'static str {
    match v {
        ValueKind::Text => "text",
        ValueKind::Word => "enum / size / region",
        ValueKind::ArmId => "ARM id",
        ValueKind::ArmIdSet => "set of ARM ids",
        ValueKind::Set => "set (order ignored)",
        ValueKind::Duration { minutes: false } => "duration (seconds)",
        ValueKind::Duration { minutes: true } => "duration (minutes)",
        ValueKind::Secret => "secret",
        ValueKind::Free => "map",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_no_duplicate_rows() {
        for ct in ComputeType::ALL {
            let mut keys: Vec<&str> = TABLE
                .iter()
                .filter(|r| r.types.contains(&ct))
                .map(|r| r.key)
                .collect();
            let n = keys.len();
            keys.sort_unstable();
            keys.dedup();
            assert_eq!(n, keys.len(), "duplicate key rows for {ct}");
        }
    }

    #[test]
    fn every_row_cites_a_source_and_every_replace_row_says_why() {
        for r in TABLE {
            assert!(!r.source.is_empty(), "{} has no source", r.key);
            if r.policy == Policy::Replace {
                assert!(!r.why.is_empty(), "{} replaces without saying why", r.key);
            }
        }
    }

    #[test]
    fn lookups() {
        let cases: &[(ComputeType, &str, Policy)] = &[
            (AmlCompute, "max_instances", InPlacePatch),
            (AmlCompute, "min_instances", InPlacePatch),
            (AmlCompute, "idle_time_before_scale_down", InPlacePatch),
            (AmlCompute, "size", Replace),
            (AmlCompute, "tier", Replace),
            (AmlCompute, "tags", InPlacePut),
            (AmlCompute, "tags.team", InPlacePut),
            (AmlCompute, "identity.type", InPlacePut),
            (AmlCompute, "description", InPlacePut),
            (AmlCompute, "ssh_settings.admin_username", Replace),
            (AmlCompute, "ssh_settings.admin_password", WriteOnlySecret),
            (AmlCompute, "network_settings.subnet", Replace),
            (AmlCompute, "resource_id", Ignored),
            (AmlCompute, "something_new", Replace),
            (AmlCompute, "sizes", Replace),
            (ComputeInstance, "size", Replace),
            (ComputeInstance, "schedules", Replace),
            (ComputeInstance, "schedules.compute_start_stop", Replace),
            (ComputeInstance, "tags", Replace),
            (ComputeInstance, "tags.team", Replace),
            (ComputeInstance, "description", Replace),
            (ComputeInstance, "identity.type", Replace),
            (VirtualMachine, "tags.team", Replace),
            (Aks, "agent_count", Replace),
            (Aks, "description", Replace),
            (ComputeInstance, "min_instances", Replace),
            (VirtualMachine, "resource_id", Replace),
            (VirtualMachine, "ssh_settings.ssh_port", Replace),
            (
                VirtualMachine,
                "ssh_settings.admin_password",
                WriteOnlySecret,
            ),
            (Kubernetes, "namespace", Replace),
            (Kubernetes, "tags", Replace),
            (Databricks, "access_token", WriteOnlySecret),
            (Batch, "resource_id", Replace),
            (Batch, "namespace", Replace),
        ];
        for (ct, key, want) in cases {
            assert_eq!(policy_for(*ct, key), *want, "{ct} {key}");
        }
        // CreateOnly is part of the vocabulary even if no row uses it today.
        assert!(!Policy::CreateOnly.is_compared());
    }

    #[test]
    fn field_policy_doc_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/field-policy.md");
        let want = field_policy_markdown();
        if std::env::var_os("AMLCTL_UPDATE_DOCS").is_some() {
            std::fs::write(path, &want).expect("write docs/field-policy.md");
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "docs/field-policy.md is stale: run `AMLCTL_UPDATE_DOCS=1 cargo test -p amlctl-plan field_policy_doc`"
        );
    }
}
