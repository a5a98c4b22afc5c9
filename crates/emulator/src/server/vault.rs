//! The Key Vault secrets API (`GET /secrets/{name}[/{version}]?api-version=7.x`) for the vaults
//! of the fixture. A request is a vault request when its `Host` header is a vault host
//! (`<vault>.vault.azure.net`, `.vault.usgovcloudapi.net`, `.vault.azure.cn`): that is how
//! `amlctl --key-vault-endpoint` addresses a stand-in (same path, the vault's own host in
//! `Host`), so a request for vault `a` is only ever answered from vault `a`'s secrets.
//!
//! Shapes (sources):
//! * 401 without a token: `{"error":{"code":"Unauthorized","message":"Request is missing a
//!   Bearer or PoP token."}}` with `WWW-Authenticate: Bearer authorization="…",
//!   resource="https://vault.azure.net"` (Azure/azure-sdk-for-js, keyvault-secrets test
//!   recordings).
//! * 401 for a token of another audience (an ARM token): code `Unauthorized`, message
//!   `AKV10022: Invalid audience. Expected https://vault.azure.net, found: https://management.azure.com/.`
//!   (quoted in crossplane-contrib/provider-azure#346 and turbot/steampipe-plugin-azure#452).
//!   The real vault answers 401 here, not 403, and so does the emulator.
//! * 403 for a disabled secret: `{"error":{"code":"Forbidden","message":"Operation get is not
//!   allowed on a disabled secret.","innererror":{"code":"SecretDisabled"}}}`
//!   (Azure/azure-sdk-for-java#17991, Azure/azure-sdk-for-js#24756).
//! * 404 `SecretNotFound`: `A secret with (name/id) NAME[/VERSION] was not found in this key
//!   vault. …` (the message Key Vault emulators built from the service reproduce).
//! * Assumptions (no recording at hand): 403 `Forbidden` with innererror `ForbiddenByRbac` for a
//!   vault whose fixture says `deny_get: true`; 429 `Throttled` with `Retry-After` for
//!   `throttle: N`; 400 `BadParameter` for a missing or non-7.x api-version; 404 `VaultNotFound`
//!   for a vault the fixture does not name (Azure fails the DNS lookup instead); an unknown or
//!   expired token is 401 `Unauthorized`.

use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::clock::now_ms;
use super::http::{json_response, param, set_header};
use super::shared::Shared;
use crate::vault::Vault;

/// Host suffixes of Key Vaults per cloud, and each cloud's vault audience.
const VAULT_CLOUDS: [(&str, &str); 3] = [
    (".vault.azure.net", "https://vault.azure.net"),
    (
        ".vault.usgovcloudapi.net",
        "https://vault.usgovcloudapi.net",
    ),
    (".vault.azure.cn", "https://vault.azure.cn"),
];

/// The audience a token is bound to: `resource` without `/.default`, a trailing `/`, and case.
pub(super) fn audience_of(resource: &str) -> String {
    let r = resource.trim();
    let r = r.strip_suffix("/.default").unwrap_or(r);
    r.trim_end_matches('/').to_ascii_lowercase()
}

/// Whether `audience` (as [`audience_of`] returns it) is a Key Vault audience.
pub(super) fn is_vault_audience(audience: &str) -> bool {
    VAULT_CLOUDS.iter().any(|(_, a)| *a == audience)
}

/// `(vault name, host suffix)` when `host` (port allowed) is a Key Vault host.
pub(super) fn vault_of_host(host: &str) -> Option<(String, &'static str)> {
    let name = host
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(h, _)| h)
        .to_ascii_lowercase();
    VAULT_CLOUDS.iter().find_map(|(suffix, _)| {
        name.strip_suffix(suffix)
            .filter(|v| !v.is_empty() && !v.contains('.'))
            .map(|v| (v.to_string(), *suffix))
    })
}

fn kv_error(status: StatusCode, code: &str, message: &str, inner: Option<&str>) -> Response {
    let mut error = json!({"code": code, "message": message});
    if let Some(inner) = inner {
        error["innererror"] = json!({"code": inner});
    }
    json_response(status, &json!({ "error": error }))
}

/// Answers one request to vault `vault` (`(name, host suffix)` from [`vault_of_host`]).
pub(super) fn handle(
    shared: &Shared,
    method: &Method,
    headers: &HeaderMap,
    vault: &(String, &'static str),
    segs: &[String],
    params: &[(String, String)],
) -> Response {
    let (vault_name, suffix) = vault;
    let audience = VAULT_CLOUDS
        .iter()
        .find(|(s, _)| s == suffix)
        .map_or("https://vault.azure.net", |(_, a)| *a);
    if let Err(r) = check_request(shared, method, headers, params, audience) {
        return *r;
    }
    let mut g = shared.lock();
    let Some(v) = g.vaults.by_name.get_mut(vault_name) else {
        return kv_error(
            StatusCode::NOT_FOUND,
            "VaultNotFound",
            &format!("The vault {vault_name} is not in the emulator's fixture (key_vaults)."),
            None,
        );
    };
    if let Err(r) = check_vault_access(v, vault_name) {
        return *r;
    }
    let (name, version) = match segs {
        [s, name] if s.eq_ignore_ascii_case("secrets") => (name, None),
        [s, name, version] if s.eq_ignore_ascii_case("secrets") => (name, Some(version)),
        _ => {
            return kv_error(
                StatusCode::NOT_FOUND,
                "NotFound",
                "The emulator serves /secrets/{name}[/{version}] only.",
                None,
            );
        }
    };
    let not_found = || secret_not_found(name, version);
    let Some(secret) = v.secrets.get(&name.to_ascii_lowercase()) else {
        return not_found();
    };
    let found = match version {
        Some(id) => secret
            .versions
            .iter()
            .find(|x| x.id.eq_ignore_ascii_case(id)),
        None => secret.versions.last(),
    };
    let Some(found) = found else {
        return not_found();
    };
    if !found.enabled {
        return kv_error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "Operation get is not allowed on a disabled secret.",
            Some("SecretDisabled"),
        );
    }
    let body: Value = json!({
        "value": found.value,
        "id": format!("https://{}{suffix}/secrets/{}/{}", v.name, secret.name, found.id),
        "attributes": {
            "enabled": true,
            "created": 1_700_000_000,
            "updated": 1_700_000_000,
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": 90
        },
        "tags": {}
    });
    json_response(StatusCode::OK, &body)
}

/// A GET with a 7.x api-version and a token of the vault `audience`; else the error answer.
fn check_request(
    shared: &Shared,
    method: &Method,
    headers: &HeaderMap,
    params: &[(String, String)],
    audience: &str,
) -> Result<(), Box<Response>> {
    if method != Method::GET {
        return Err(Box::new(kv_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "BadParameter",
            "The emulator serves only GET of secrets.",
            None,
        )));
    }
    if !param(params, "api-version").is_some_and(|v| v.starts_with("7.")) {
        return Err(Box::new(kv_error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            "The request URI contains an invalid or missing api-version (7.x expected).",
            None,
        )));
    }
    check_token(shared, headers, audience)
}

/// The fixture's throttling (counts one request down) and `deny_get` of vault `v`; else the
/// error answer.
fn check_vault_access(v: &mut Vault, vault_name: &str) -> Result<(), Box<Response>> {
    if v.throttle_left > 0 {
        v.throttle_left -= 1;
        let mut r = kv_error(
            StatusCode::TOO_MANY_REQUESTS,
            "Throttled",
            "Request was not processed because too many requests were received. Reason: A1",
            None,
        );
        set_header(&mut r, "retry-after", "1");
        return Err(Box::new(r));
    }
    if v.deny_get {
        return Err(Box::new(kv_error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            &format!(
                "Caller is not authorized to perform action on resource.\r\nAction: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'\r\nResource: '{vault_name}'"
            ),
            Some("ForbiddenByRbac"),
        )));
    }
    Ok(())
}

/// 404 `SecretNotFound` for secret `name` (and `version`, if one was asked for).
fn secret_not_found(name: &str, version: Option<&String>) -> Response {
    let id = match version {
        Some(v) => format!("{name}/{v}"),
        None => name.to_string(),
    };
    kv_error(
        StatusCode::NOT_FOUND,
        "SecretNotFound",
        &format!(
            "A secret with (name/id) {id} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
        ),
        None,
    )
}

/// A bearer token of the vault audience: a static vault token, or one `/msi/token` issued for
/// a vault resource. An ARM token is refused (401, AKV10022).
fn check_token(shared: &Shared, headers: &HeaderMap, audience: &str) -> Result<(), Box<Response>> {
    let unauthorized = |message: &str| {
        let mut r = kv_error(StatusCode::UNAUTHORIZED, "Unauthorized", message, None);
        set_header(
            &mut r,
            "www-authenticate",
            &format!(
                "Bearer authorization=\"https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000\", resource=\"{audience}\""
            ),
        );
        Box::new(r)
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, t)| scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty())
        .map(|(_, t)| t.trim().to_string());
    let Some(token) = token else {
        return Err(unauthorized("Request is missing a Bearer or PoP token."));
    };
    if shared.config.accepted_vault_tokens.contains(&token) {
        return Ok(());
    }
    let found_audience = if shared.config.accepted_tokens.contains(&token) {
        // Static tokens of `--accepted-token` are ARM tokens.
        Some("https://management.azure.com".to_string())
    } else {
        let now_s = now_ms() / 1000;
        let g = shared.lock();
        let issued = g
            .state
            .tokens
            .iter()
            .find(|t| t.token == token && t.expires_on > now_s);
        match issued {
            None => return Err(unauthorized("The access token is invalid or has expired.")),
            Some(t) => t.audience.clone(),
        }
    };
    match found_audience {
        Some(a) if a == audience => Ok(()),
        other => Err(unauthorized(&format!(
            "AKV10022: Invalid audience. Expected {audience}, found: {}/.",
            other.as_deref().unwrap_or("none")
        ))),
    }
}
