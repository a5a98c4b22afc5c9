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
        self.paged_each(method, first, item_name, op, &mut |page| items.extend(page))
            .await?;
        Ok(items)
    }

    /// Follows `nextLink` from `first`, handing each page's `item_name` array to `on_page` as
    /// soon as the page is decoded (the items are moved out of the page, not copied).
    pub(super) async fn paged_each(
        &self,
        method: Method,
        first: Url,
        item_name: &str,
        op: &mut Op,
        on_page: &mut (dyn FnMut(Vec<Value>) + Send),
    ) -> Result<(), ArmError> {
        // A nextLink without an api-version is followed at the version of the list it belongs
        // to (the computes list, the Activity Log, ...), the computes' only as a last resort.
        let api_version = first
            .query_pairs()
            .find(|(k, _)| k == "api-version")
            .map_or_else(|| API_VERSION.to_string(), |(_, v)| v.into_owned());
        let mut url = first;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..MAX_PAGES {
            seen.insert(url.to_string());
            let mut page = self
                .send(method, &url, None, op, false)
                .await?
                .json()?
                .unwrap_or(Value::Null);
            let next = page
                .get("nextLink")
                .and_then(Value::as_str)
                .filter(|n| !n.trim().is_empty())
                .map(str::to_string);
            match page.as_object_mut().and_then(|o| o.remove(item_name)) {
                Some(Value::Array(a)) => on_page(a),
                None | Some(Value::Null) => {}
                Some(_) => {
                    return Err(ArmError::InvalidResponse(format!(
                        "'{item_name}' of a list page is not an array"
                    )));
                }
            }
            match next {
                Some(next) => {
                    let mut next = self.follow_url(&next, "nextLink")?;
                    if !next.query_pairs().any(|(k, _)| k == "api-version") {
                        next.query_pairs_mut()
                            .append_pair("api-version", &api_version);
                    }
                    if seen.contains(next.as_str()) {
                        return Err(ArmError::InvalidResponse(format!(
                            "nextLink loops back to an earlier page ({})",
                            next.path()
                        )));
                    }
                    url = next;
                }
                None => return Ok(()),
            }
        }
        Err(ArmError::InvalidResponse(format!(
            "more than {MAX_PAGES} pages"
        )))
    }
}
