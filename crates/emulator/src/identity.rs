//! Who a bearer token stands for: the caller the Activity Log records for each write.
//!
//! The emulator's tokens are shaped like Microsoft Entra access tokens (`HEADER.PAYLOAD.SIG`,
//! base64url JSON, the signature a random string: nothing verifies it) so a client can read the
//! same claims it reads from a real token (`oid`, `appid`, `upn`). `/msi/token` issues tokens for
//! the emulator's managed identity ([`MANAGED_IDENTITY_PRINCIPAL_ID`]); a static
//! `--accepted-token TOKEN=CALLER` names its caller explicitly.

use serde_json::{Map, Value, json};

/// Object id (`oid`) of the emulator's managed identity: the caller of writes made with tokens
/// from `/msi/token`.
pub const MANAGED_IDENTITY_PRINCIPAL_ID: &str = "00000000-0000-0000-0000-0000000e0002";

/// Client id (`appid`) of the emulator's managed identity (also `client_id` of `/msi/token`).
pub const MANAGED_IDENTITY_CLIENT_ID: &str = "00000000-0000-0000-0000-0000000e0001";

/// The caller recorded for a token the emulator cannot attribute (a static token without
/// `=CALLER` that is not shaped like a JWT).
pub const UNKNOWN_CALLER: &str = "unknown";

/// The claims, in order of preference, whose value names the caller (the Activity Log shows a
/// user's UPN, else the principal's object id).
const CALLER_CLAIMS: [&str; 5] = ["upn", "unique_name", "email", "oid", "appid"];

/// An unsigned, JWT-shaped token carrying `claims` (plus a random `uti`, so two tokens with the
/// same claims differ). Only the emulator accepts it, and only when it issued or was told about it.
pub fn token_with_claims(claims: &Map<String, Value>) -> String {
    let header = json!({"typ": "JWT", "alg": "none"});
    let mut payload = claims.clone();
    payload.insert(
        "uti".into(),
        Value::String(uuid::Uuid::new_v4().simple().to_string()),
    );
    format!(
        "{}.{}.{}",
        b64url_encode(header.to_string().as_bytes()),
        b64url_encode(Value::Object(payload).to_string().as_bytes()),
        uuid::Uuid::new_v4().simple()
    )
}

/// A token for a user principal named `caller` (claims `upn` and `oid`), e.g. for the sandbox.
pub fn token_for_user(caller: &str) -> String {
    let mut claims = Map::new();
    claims.insert("upn".into(), Value::String(caller.to_string()));
    claims.insert("oid".into(), Value::String(caller.to_string()));
    token_with_claims(&claims)
}

/// The payload claims of a JWT-shaped token; `None` when it is not one.
pub fn claims_of(token: &str) -> Option<Map<String, Value>> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = b64url_decode(payload)?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// The caller a token's claims name (`upn`, `unique_name`, `email`, `oid`, `appid`: the first
/// present and non-empty).
pub fn caller_of_claims(claims: &Map<String, Value>) -> Option<String> {
    CALLER_CLAIMS.iter().find_map(|c| {
        claims
            .get(*c)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    })
}

/// Parses one `--accepted-token` value: `TOKEN` or `TOKEN=CALLER` (split at the last `=` whose
/// right side contains no `=`, so a token ending in base64 padding stays whole when no caller is
/// given: `abc==` is a token, `abc=alice@example.com` a token and a caller).
pub fn parse_accepted_token(spec: &str) -> Result<(String, Option<String>), String> {
    let spec = spec.trim();
    let (token, caller) = match spec.rsplit_once('=') {
        Some((t, c)) if !c.is_empty() && !t.is_empty() && !t.ends_with('=') => {
            (t.to_string(), Some(c.trim().to_string()))
        }
        _ => (spec.to_string(), None),
    };
    if token.is_empty() {
        return Err("--accepted-token: the token is empty (expected TOKEN or TOKEN=CALLER)".into());
    }
    if token.chars().any(char::is_whitespace) {
        return Err("--accepted-token: the token contains whitespace".into());
    }
    Ok((token, caller))
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding.
fn b64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// base64url (padding and the standard alphabet tolerated); `None` on any other character.
fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in text.trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_token_with_and_without_caller() {
        assert_eq!(
            parse_accepted_token("alice-token=alice@example.com"),
            Ok(("alice-token".into(), Some("alice@example.com".into())))
        );
        assert_eq!(
            parse_accepted_token("e2e-static-token"),
            Ok(("e2e-static-token".into(), None))
        );
        // Base64 padding is part of the token, not a separator.
        assert_eq!(parse_accepted_token("abc=="), Ok(("abc==".into(), None)));
        assert_eq!(parse_accepted_token("abc="), Ok(("abc=".into(), None)));
        assert!(parse_accepted_token("=alice").is_ok_and(|(t, c)| t == "=alice" && c.is_none()));
        assert!(parse_accepted_token("").is_err());
        assert!(parse_accepted_token("a b").is_err());
    }

    #[test]
    fn tokens_carry_their_claims() {
        let t = token_for_user("alice@example.com");
        let claims = claims_of(&t).expect("a JWT-shaped token");
        assert_eq!(
            caller_of_claims(&claims).as_deref(),
            Some("alice@example.com")
        );
        assert_ne!(t, token_for_user("alice@example.com"));
        assert!(claims_of("e2e-static-token").is_none());
        assert!(claims_of("a.b.c.d").is_none());
    }

    #[test]
    fn base64url_round_trips() {
        for s in ["", "a", "ab", "abc", "abcd", "{\"oid\":\"x\"}"] {
            assert_eq!(
                b64url_decode(&b64url_encode(s.as_bytes())).as_deref(),
                Some(s.as_bytes())
            );
        }
        assert_eq!(b64url_encode(b"\xfb\xff"), "-_8");
    }
}
