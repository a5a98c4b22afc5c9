//! Typed reads for the plan's pre-flight: the ML `usages` and `vmSizes` of a region, and one
//! GET of a referenced resource at its provider's api-version.

use std::collections::BTreeMap;

use super::ArmClient;
use crate::API_VERSION;
use crate::error::ArmError;
use amlctl_vocab::{Method, encode_segment};
use serde_json::Value;

/// What one GET of a referenced resource found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceCheck {
    /// 200: it exists.
    Exists,
    /// 404: it does not exist.
    NotFound,
    /// 403: the caller may not read it (existence unknown).
    Forbidden,
    /// Anything else (the error, secrets redacted).
    Failed(String),
}

impl ArmClient {
    fn regional_url(&self, sub: &str, location: &str, what: &str) -> Result<url::Url, ArmError> {
        let mut query = BTreeMap::new();
        query.insert("api-version".to_string(), API_VERSION.to_string());
        self.url(
            &format!(
                "/subscriptions/{}/providers/Microsoft.MachineLearningServices/locations/{}/{what}",
                encode_segment(sub),
                encode_segment(location)
            ),
            &query,
        )
    }

    /// `GET …/locations/{location}/usages` (every page): the ML vCPU usages and limits.
    pub async fn list_usages(&self, sub: &str, location: &str) -> Result<Vec<Value>, ArmError> {
        let r = async {
            let url = self.regional_url(sub, location, "usages")?;
            let mut op = self.op();
            self.paged(Method::Get, url, "value", &mut op).await
        }
        .await;
        self.redact(r)
    }

    /// `GET …/locations/{location}/vmSizes`: the VM sizes the region offers to Azure ML.
    pub async fn list_vm_sizes(&self, sub: &str, location: &str) -> Result<Vec<Value>, ArmError> {
        let r = async {
            let url = self.regional_url(sub, location, "vmSizes")?;
            let mut op = self.op();
            self.paged(Method::Get, url, "value", &mut op).await
        }
        .await;
        self.redact(r)
    }

    /// One GET of the resource `id` at `api_version`.
    pub async fn check_resource(&self, id: &str, api_version: &str) -> ResourceCheck {
        let r = async {
            let mut query = BTreeMap::new();
            query.insert("api-version".to_string(), api_version.to_string());
            let path: Vec<String> = id
                .split('/')
                .filter(|s| !s.is_empty())
                .map(encode_segment)
                .collect();
            let url = self.url(&format!("/{}", path.join("/")), &query)?;
            let mut op = self.op();
            self.get_resource(&url, &mut op).await
        }
        .await;
        match self.redact(r) {
            Ok(Some(_)) => ResourceCheck::Exists,
            Ok(None) => ResourceCheck::NotFound,
            Err(ArmError::Api { status: 403, .. }) => ResourceCheck::Forbidden,
            Err(e) => ResourceCheck::Failed(e.to_string()),
        }
    }
}
