//! Where a repository may point amlctl (issue #19, "trust nothing a pull request can change").
//!
//! `amlctl plan` runs on pull requests, so nothing in `amlctl.yaml` or a manifest may send a
//! token anywhere but the selected cloud's own hosts: `defaults.arm_endpoint` must be that cloud's
//! Resource Manager, and a `key_vault` reference must name one of its vaults. Other endpoints (the
//! emulator, private endpoints) are set only on the command line or in the environment.

/// An Azure cloud as `amlctl.yaml` (`defaults.cloud`) and `--cloud` spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CloudKind {
    /// Azure public cloud.
    #[default]
    Public,
    /// Azure US Government.
    UsGov,
    /// Azure China (21Vianet).
    China,
}

impl CloudKind {
    /// Parses `public`/`AzureCloud`, `usgov`/`AzureUSGovernment`, `china`/`AzureChinaCloud`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "public" | "azurecloud" => Some(CloudKind::Public),
            "usgov" | "azureusgovernment" => Some(CloudKind::UsGov),
            "china" | "azurechinacloud" => Some(CloudKind::China),
            _ => None,
        }
    }

    /// The `--cloud` spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            CloudKind::Public => "public",
            CloudKind::UsGov => "usgov",
            CloudKind::China => "china",
        }
    }

    /// The cloud's Resource Manager endpoint.
    pub fn arm_endpoint(&self) -> &'static str {
        match self {
            CloudKind::Public => "https://management.azure.com",
            CloudKind::UsGov => "https://management.usgovcloudapi.net",
            CloudKind::China => "https://management.chinacloudapi.cn",
        }
    }

    /// The host suffix of the cloud's Key Vaults.
    pub fn vault_suffix(&self) -> &'static str {
        match self {
            CloudKind::Public => ".vault.azure.net",
            CloudKind::UsGov => ".vault.usgovcloudapi.net",
            CloudKind::China => ".vault.azure.cn",
        }
    }

    const ALL: [CloudKind; 3] = [CloudKind::Public, CloudKind::UsGov, CloudKind::China];
}

/// Checks `defaults.arm_endpoint`: only the selected cloud's Resource Manager is accepted (a
/// trailing `/` and an explicit `:443` are allowed). The error says what to do instead.
pub fn check_config_arm_endpoint(url: &str, cloud: CloudKind) -> Result<(), String> {
    let want = cloud.arm_endpoint();
    let mut got = url.trim().to_ascii_lowercase();
    if got.ends_with('/') {
        got.pop();
    }
    if let Some(host) = got.strip_suffix(":443") {
        got = host.to_string();
    }
    if got == want {
        return Ok(());
    }
    Err(format!(
        "`defaults.arm_endpoint` may only be the {} cloud's Resource Manager ({want}); any other endpoint (the emulator, a private endpoint) must come from the command line: pass `--arm-endpoint URL` or set AMLCTL_ARM_ENDPOINT",
        cloud.as_str()
    ))
}

/// Checks a `key_vault` reference: `https://<vault><suffix>/secrets/<name>[/<version>]` with the
/// vault suffix of one of the clouds; returns that cloud. No user info, port, query or fragment.
pub fn check_key_vault_url(url: &str) -> Result<CloudKind, String> {
    let bad = |why: &str| Err(format!("`key_vault` {why}"));
    let Some(rest) = strip_prefix_ci(url, "https://") else {
        return bad("must be an https URL");
    };
    if rest.contains(['?', '#', '%', '\\', '@']) || rest.chars().any(char::is_whitespace) {
        return bad("must be a plain URL (no user, query, fragment or escapes)");
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority
        .strip_suffix(":443")
        .unwrap_or(authority)
        .to_ascii_lowercase();
    let Some((cloud, vault)) = CloudKind::ALL
        .iter()
        .find_map(|c| host.strip_suffix(c.vault_suffix()).map(|v| (*c, v)))
    else {
        return bad(
            "must name a Key Vault of an Azure cloud (<vault>.vault.azure.net, <vault>.vault.usgovcloudapi.net or <vault>.vault.azure.cn)",
        );
    };
    let vault_ok = (3..=24).contains(&vault.len())
        && vault.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && vault.starts_with(|c: char| c.is_ascii_alphabetic());
    if !vault_ok {
        return bad("vault name must be 3-24 letters, digits and hyphens, starting with a letter");
    }
    let parts: Vec<&str> = path.split('/').collect();
    let name_ok = |s: &str| {
        (1..=127).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let version_ok =
        |s: &str| (1..=64).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric());
    match parts.as_slice() {
        ["", "secrets", name] if name_ok(name) => Ok(cloud),
        ["", "secrets", name, version] if name_ok(name) && version_ok(version) => Ok(cloud),
        _ => bad("path must be /secrets/<name> or /secrets/<name>/<version>"),
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    match s.get(..prefix.len()) {
        Some(head) if head.eq_ignore_ascii_case(prefix) => s.get(prefix.len()..),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_endpoint_only_the_clouds_own() {
        assert!(
            check_config_arm_endpoint("https://management.azure.com/", CloudKind::Public).is_ok()
        );
        assert!(
            check_config_arm_endpoint("https://MANAGEMENT.azure.com:443", CloudKind::Public)
                .is_ok()
        );
        assert!(
            check_config_arm_endpoint("https://management.usgovcloudapi.net", CloudKind::UsGov)
                .is_ok()
        );
        for bad in [
            "https://management.usgovcloudapi.net",
            "http://127.0.0.1:8080",
            "https://management.azure.com.evil.example",
            "https://management.azure.com@evil.example",
            "https://management.azure.com/x",
            "https://evil.example",
        ] {
            let e = check_config_arm_endpoint(bad, CloudKind::Public).unwrap_err();
            assert!(
                e.contains("--arm-endpoint") && e.contains("AMLCTL_ARM_ENDPOINT"),
                "{bad}"
            );
        }
    }

    #[test]
    fn key_vault_urls() {
        assert_eq!(
            check_key_vault_url("https://my-vault.vault.azure.net/secrets/tok"),
            Ok(CloudKind::Public)
        );
        assert_eq!(
            check_key_vault_url("https://kv1.vault.usgovcloudapi.net/secrets/tok/0123abcd"),
            Ok(CloudKind::UsGov)
        );
        assert_eq!(
            check_key_vault_url("HTTPS://kv1.VAULT.azure.cn/secrets/tok"),
            Ok(CloudKind::China)
        );
        for bad in [
            "http://kv1.vault.azure.net/secrets/tok",
            "https://127.0.0.1:9/secrets/tok",
            "https://kv1.vault.azure.net.evil.example/secrets/tok",
            "https://evil.example/kv1.vault.azure.net/secrets/tok",
            "https://user@kv1.vault.azure.net/secrets/tok",
            "https://kv1.vault.azure.net:8443/secrets/tok",
            "https://kv1.vault.azure.net/secrets/",
            "https://kv1.vault.azure.net/secrets/a/b/c",
            "https://kv1.vault.azure.net/keys/a",
            "https://kv1.vault.azure.net/secrets/a?x=1",
            "https://kv1.vault.azure.net/secrets/%2e%2e",
            "https://.vault.azure.net/secrets/a",
        ] {
            assert!(check_key_vault_url(bad).is_err(), "{bad}");
        }
    }
}
