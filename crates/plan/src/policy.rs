//! The field policy: for each compute type and manifest key, how a change can be carried out.
//! The policies themselves, with why and their sources, live in the field table
//! (`amlctl_manifest::fields`, [`Field::update`]); this module only looks a key up there
//! ([`policy_row`], [`policy_for`]) and renders `docs/field-policy.md` ([`field_policy_markdown`]).

use amlctl_manifest::ComputeType;
use amlctl_vocab::KeyPath;
use std::sync::OnceLock;

use amlctl_manifest::fields::{
    Field, Kind as FieldKind, OnGet, SAFE_DEFAULT, Update, ValueKind, fields_of,
};

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

/// Why an unlisted key defaults to [`Policy::Replace`].
pub const DEFAULT_SOURCE: &str =
    "not in the table: replace, the safe default (a replace needs `allow_replace` or `--replace`)";

/// Every compute type, as a static the rows' one-type slices borrow from.
static TYPES: [ComputeType; ComputeType::ALL.len()] = ComputeType::ALL;

/// Every row of the field policy table: one per compute type and key of the field table that
/// has its own policy (keys with [`SAFE_DEFAULT`] are left out: they decide like a key in no
/// row), in field table order.
pub fn policy_table() -> &'static [PolicyRow] {
    static TABLE: OnceLock<Vec<PolicyRow>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut rows = Vec::new();
        for ct in &TYPES {
            let mut keys = Vec::new();
            flatten(&mut Vec::new(), fields_of(*ct), &mut keys);
            for (key, f) in keys {
                let mut add = |key: String, u: Update| {
                    if u != SAFE_DEFAULT {
                        rows.push(PolicyRow {
                            types: std::slice::from_ref(ct),
                            // Built once per process: the table is as static as the field table.
                            key: Box::leak(key.into_boxed_str()),
                            policy: u.policy,
                            why: u.why,
                            source: u.source,
                        });
                    }
                };
                for (sub, u) in f.below {
                    add(format!("{key}.{sub}"), *u);
                }
                if let Some(u) = f.update {
                    add(key, u);
                }
            }
        }
        rows
    })
}

/// The policy deciding `key` for `compute_type`, read from the field table: the deepest key
/// along `key`'s dotted path (or a key a row names [`Field::below`] it) that has its own policy.
/// `None` when none does or that policy is [`SAFE_DEFAULT`] (then the policy is
/// [`Policy::Replace`], with no reason words).
pub fn policy_row(compute_type: ComputeType, key: &str) -> Option<&'static PolicyRow> {
    let (row_key, _) = resolve(compute_type, key)?;
    policy_table()
        .iter()
        .find(|r| r.types.contains(&compute_type) && r.key == row_key)
}

/// The dotted key whose policy decides `key`, and that policy.
fn resolve(compute_type: ComputeType, key: &str) -> Option<(String, Update)> {
    let key = KeyPath::parse(key);
    let parts = key.segments();
    let mut fields = fields_of(compute_type);
    let mut best: Option<(String, Update)> = None;
    for (depth, part) in parts.iter().enumerate() {
        let Some(f) = fields.iter().find(|f| f.name == part) else {
            break;
        };
        let here = KeyPath::from_segments(&parts[..=depth]).to_string();
        if let Some(u) = f.update {
            best = Some((here.clone(), u));
        }
        let rest = KeyPath::from_segments(&parts[depth + 1..]);
        if let Some((sub, u)) = f
            .below
            .iter()
            .filter(|(sub, _)| rest.starts_with(&KeyPath::parse(sub)))
            .max_by_key(|(sub, _)| sub.len())
        {
            return Some((format!("{here}.{sub}"), *u)).filter(|(_, u)| *u != SAFE_DEFAULT);
        }
        match f.kind {
            FieldKind::Obj(sub) | FieldKind::ObjList(sub) => fields = sub,
            _ => break,
        }
    }
    best.filter(|(_, u)| *u != SAFE_DEFAULT)
}

/// The field policy for a dotted manifest key of a compute type. Unknown keys are
/// [`Policy::Replace`] (safe: a replace is gated).
pub fn policy_for(compute_type: ComputeType, key: &str) -> Policy {
    resolve(compute_type, key).map_or(Policy::Replace, |(_, u)| u.policy)
}

/// The words used in a reason for a replacement forced by `key` (e.g. "compute instances
/// cannot be resized"); empty when the table gives none.
pub fn replace_note(compute_type: ComputeType, key: &str) -> &'static str {
    resolve(compute_type, key).map_or("", |(_, u)| u.why)
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
        "<!-- Generated from the field table (crates/manifest/src/fields.rs) by crates/plan/src/policy.rs: `AMLCTL_UPDATE_DOCS=1 cargo test -p amlctl-plan field_policy_doc`; do not edit by hand. -->\n\n",
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
        let mut rows: Vec<&PolicyRow> = policy_table()
            .iter()
            .filter(|r| r.types.contains(&ct))
            .collect();
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
        out.push((
            KeyPath::from_segments(prefix.iter().copied()).to_string(),
            *f,
        ));
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
    use ComputeType::*;
    use Policy::{Ignored, InPlacePatch, InPlacePut, Replace, WriteOnlySecret};

    #[test]
    fn table_has_no_duplicate_rows() {
        for ct in ComputeType::ALL {
            let mut keys: Vec<&str> = policy_table()
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
        for r in policy_table() {
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
