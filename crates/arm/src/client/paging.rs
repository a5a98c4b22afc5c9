//! `nextLink` paging.

use super::ArmClient;
use super::retry::Op;
use crate::API_VERSION;
use crate::error::ArmError;
use amlctl_vocab::Method;
use serde_json::Value;
use url::Url;

/// Upper bound on pages followed by one list call (guards against nextLink loops).
const MAX_PAGES: usize = 10_000;

impl ArmClient {
    /// Follows `nextLink` from `first`, collecting `item_name` arrays.
    pub(super) async fn paged(
        &self,
        method: Method,
        first: Url,
        item_name: &str,
        op: &mut Op,
    ) -> Result<Vec<Value>, ArmError> {
        let mut items = Vec::new();
        let mut url = first;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..MAX_PAGES {
            seen.insert(url.to_string());
            let page = self
                .send(method, &url, None, op, false)
                .await?
                .json()?
                .unwrap_or(Value::Null);
            match page.get(item_name) {
                Some(Value::Array(a)) => items.extend(a.iter().cloned()),
                None | Some(Value::Null) => {}
                Some(_) => {
                    return Err(ArmError::InvalidResponse(format!(
                        "'{item_name}' of a list page is not an array"
                    )));
                }
            }
            match page.get("nextLink").and_then(Value::as_str) {
                Some(next) if !next.trim().is_empty() => {
                    let mut next = self.follow_url(next, "nextLink")?;
                    if !next.query_pairs().any(|(k, _)| k == "api-version") {
                        next.query_pairs_mut()
                            .append_pair("api-version", API_VERSION);
                    }
                    if seen.contains(next.as_str()) {
                        return Err(ArmError::InvalidResponse(format!(
                            "nextLink loops back to an earlier page ({})",
                            next.path()
                        )));
                    }
                    url = next;
                }
                _ => return Ok(items),
            }
        }
        Err(ArmError::InvalidResponse(format!(
            "more than {MAX_PAGES} pages"
        )))
    }
}
