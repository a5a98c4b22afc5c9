//! Checks of finished targets against the project: vault cloud, region, api-versions, secret files.

use std::path::Path;

use crate::diag::Diagnostic;
use crate::endpoints::CloudKind;
use crate::model::{ComputeType, Target, Workspace};

use super::Config;

/// A `key_vault` reference must name a vault of the cloud `amlctl.yaml` selects (`defaults.cloud`).
pub(super) fn check_vault_cloud(config: &Config, t: &Target, diags: &mut Vec<Diagnostic>) {
    let cloud = config
        .defaults
        .cloud
        .as_deref()
        .and_then(CloudKind::parse)
        .unwrap_or_default();
    for (key, secret) in &t.secrets {
        let crate::model::SecretRef::KeyVault(url) = secret else {
            continue;
        };
        match crate::endpoints::check_key_vault_url(url) {
            Ok(c) if c == cloud => {}
            _ => diags.push(
                Diagnostic::error(
                    Some(t.key_locations.get(key).cloned().unwrap_or_else(|| t.source.clone())),
                    Some(key.clone()),
                    format!(
                        "`{key}.key_vault` names a vault outside the {} cloud (vaults there end in {})",
                        cloud.as_str(),
                        cloud.vault_suffix()
                    ),
                )
                .with_hint("use a vault of the selected cloud, or select the vault's cloud with `defaults.cloud`"),
            ),
        }
    }
}

/// Issue #14 rule 6: every compute type but `amlcompute` lives in its workspace's region, so a
/// manifest `location` naming another region is an error (the service would refuse it or put
/// the compute where the workspace is). Regions compare without case, spaces, `-` and `_`
/// (`East US` == `eastus`). Nothing to check when `amlctl.yaml` gives the workspace no location.
pub fn location_error(ws: &Workspace, t: &Target) -> Option<Diagnostic> {
    if t.compute_type == ComputeType::AmlCompute {
        return None;
    }
    let want = t.spec.get("location")?.as_str()?;
    let region = ws.location.as_deref()?;
    let fold = |s: &str| -> String {
        s.chars()
            .filter(|c| !matches!(c, ' ' | '-' | '_'))
            .flat_map(char::to_lowercase)
            .collect()
    };
    if fold(want) == fold(region) {
        return None;
    }
    Some(
        Diagnostic::error(
            Some(
                t.key_locations
                    .get("location")
                    .cloned()
                    .unwrap_or_else(|| t.source.clone()),
            ),
            Some("location".into()),
            format!(
                "a {} compute lives in its workspace's region: `location: {want}` differs from workspace `{}` ({region})",
                t.compute_type.manifest_name(),
                ws.alias
            ),
        )
        .with_hint(format!(
            "remove `location` (the workspace's region is used) or write `location: {region}`; only `amlcompute` clusters may live in another region"
        )),
    )
}

/// Issue #14 rule 3: a key that no stable api-version defines (e.g. `enable_root_access`,
/// only at 2023-08-01-preview) is an error naming the versions that have it.
pub fn api_version_errors(t: &Target, diags: &mut Vec<Diagnostic>) {
    let choice = crate::fields::api_version_for(t.compute_type, &t.spec);
    for (key, versions) in choice.unavailable {
        diags.push(
            Diagnostic::error(
                Some(
                    t.key_locations
                        .get(key)
                        .cloned()
                        .unwrap_or_else(|| t.source.clone()),
                ),
                Some(key.to_string()),
                format!(
                    "no stable api-version amlctl sends ({}) defines `{key}` together with the other keys of this manifest; `{key}` is defined at {}",
                    amlctl_vocab::api_version::STABLE_COMPUTES.join(", "),
                    versions.join(", ")
                ),
            )
            .with_hint(format!(
                "remove `{key}` (the service default applies); amlctl does not send preview api-versions"
            )),
        );
    }
}

/// `{ file: … }` secrets and key files of `t` that resolve outside `root`: one located error each
/// (the file is not opened).
pub(super) fn refuse_outside_secrets(root: &Path, t: &Target, diags: &mut Vec<Diagnostic>) {
    for (key, r) in &t.secrets {
        let crate::model::SecretRef::File(path) = r else {
            continue;
        };
        if let Err(reason) = crate::secret::confine(root, path) {
            let at = t
                .key_locations
                .get(key)
                .cloned()
                .unwrap_or_else(|| t.source.clone());
            diags.push(
                Diagnostic::error(
                    Some(at),
                    Some(key.clone()),
                    format!(
                        "`{key}`: secret file {} {reason}; it was not read",
                        path.display()
                    ),
                )
                .with_hint(
                    "keep secret files inside the repository (the folder of amlctl.yaml), use { env: NAME } or { key_vault: URL }, or run with --allow-outside-repo",
                ),
            );
        }
    }
}
