//! The typed computes API: list, get, put, patch, delete and the actions, plus the generic
//! [`ArmClient::execute`] of a planned [`ArmRequest`].

use super::ArmClient;
use super::redaction::{collect_secrets, mask_secrets};
use crate::error::ArmError;
use crate::{API_VERSION, WorkspaceId};
use amlctl_vocab::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt;

/// A planned ARM request (what `apply` executes). `path` is relative to the endpoint and `query`
/// includes `api-version` (added when missing). `Debug` masks secret-looking body fields.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmRequest {
    /// HTTP method (serialised upper-case: `GET`, `PUT`, `PATCH`, `DELETE`, `POST`).
    pub method: Method,
    /// Path, e.g. `/subscriptions/…/computes/cpu`.
    pub path: String,
    /// Query parameters, e.g. `api-version`, `underlyingResourceAction`.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// JSON body, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

impl fmt::Debug for ArmRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArmRequest")
            .field("method", &self.method.as_str())
            .field("path", &self.path)
            .field("query", &self.query)
            .field("body", &self.body.as_ref().map(mask_secrets))
            .finish()
    }
}

/// What DELETE does to the underlying Azure resource (`underlyingResourceAction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnderlyingResourceAction {
    /// Delete the underlying compute.
    Delete,
    /// Detach the compute from the workspace, keeping the underlying resource.
    Detach,
}

impl UnderlyingResourceAction {
    /// The query value: `Delete` or `Detach`.
    pub fn as_str(&self) -> &'static str {
        match self {
            UnderlyingResourceAction::Delete => "Delete",
            UnderlyingResourceAction::Detach => "Detach",
        }
    }
}

impl ArmClient {
    /// Generic, LRO-aware execution of a planned request (path relative to the endpoint; query
    /// includes api-version). Returns the final resource for PUT/PATCH, the body for GET/POST (if
    /// any), `None` for DELETE (204/404 count as already gone).
    pub async fn execute(&self, req: &ArmRequest) -> Result<Option<Value>, ArmError> {
        let r = async {
            let method = req.method;
            let url = self.url(&req.path, &req.query)?;
            if let Some(b) = &req.body {
                let mut found = Vec::new();
                collect_secrets(b, &mut found);
                for s in found {
                    self.register_secret(&s);
                }
            }
            let mut op = self.op();
            self.run(method, &url, req.body.as_ref(), &mut op).await
        }
        .await;
        self.redact(r)
    }

    fn compute_req(
        ws: &WorkspaceId,
        name: &str,
        suffix: &str,
        method: Method,
        api_version: Option<&str>,
        body: Option<Value>,
    ) -> ArmRequest {
        let mut query = BTreeMap::new();
        query.insert(
            "api-version".to_string(),
            api_version.unwrap_or(API_VERSION).to_string(),
        );
        ArmRequest {
            method,
            path: format!("{}{suffix}", ws.compute_path(name)),
            query,
            body,
        }
    }

    /// GET the workspace resource.
    pub async fn get_workspace(&self, ws: &WorkspaceId) -> Result<Value, ArmError> {
        let r = async {
            let url = self.url(&ws.path(), &BTreeMap::new())?;
            let mut op = self.op();
            self.send(Method::Get, &url, None, &mut op, false)
                .await?
                .json()?
                .ok_or_else(|| ArmError::InvalidResponse("empty workspace body".into()))
        }
        .await;
        self.redact(r)
    }

    /// Lists every compute of the workspace, following `nextLink`.
    pub async fn list_computes(&self, ws: &WorkspaceId) -> Result<Vec<Value>, ArmError> {
        let r = async {
            let url = self.url(&format!("{}/computes", ws.path()), &BTreeMap::new())?;
            let mut op = self.op();
            self.paged(Method::Get, url, "value", &mut op).await
        }
        .await;
        self.redact(r)
    }

    /// Lists every compute of the workspace, following `nextLink`, handing each page's
    /// resources to `on_page` as the page arrives (so the caller can convert them while the
    /// next page is on its way).
    pub async fn list_computes_each(
        &self,
        ws: &WorkspaceId,
        on_page: &mut (dyn FnMut(Vec<Value>) + Send),
    ) -> Result<(), ArmError> {
        let r = async {
            let url = self.url(&format!("{}/computes", ws.path()), &BTreeMap::new())?;
            let mut op = self.op();
            self.paged_each(Method::Get, url, "value", &mut op, on_page)
                .await
        }
        .await;
        self.redact(r)
    }

    /// GET one compute; `None` when it does not exist (404).
    pub async fn get_compute(
        &self,
        ws: &WorkspaceId,
        name: &str,
    ) -> Result<Option<Value>, ArmError> {
        let r = async {
            let url = self.url(&ws.compute_path(name), &BTreeMap::new())?;
            let mut op = self.op();
            self.get_resource(&url, &mut op).await
        }
        .await;
        self.redact(r)
    }

    /// PUT (create, attach or overwrite) a compute; waits for the LRO and returns the final resource.
    pub async fn create_or_update(
        &self,
        ws: &WorkspaceId,
        name: &str,
        body: &Value,
        api_version: Option<&str>,
    ) -> Result<Value, ArmError> {
        let req = Self::compute_req(ws, name, "", Method::Put, api_version, Some(body.clone()));
        let r = self.execute(&req).await?;
        r.ok_or_else(|| ArmError::InvalidResponse("PUT returned no resource".into()))
    }

    /// PATCH the scale settings of an AmlCompute
    /// (`{"properties":{"properties":{"scaleSettings":…}}}`); returns the final resource.
    pub async fn update_scale_settings(
        &self,
        ws: &WorkspaceId,
        name: &str,
        scale_settings: &Value,
    ) -> Result<Value, ArmError> {
        let body = json!({"properties": {"properties": {"scaleSettings": scale_settings}}});
        let req = Self::compute_req(ws, name, "", Method::Patch, None, Some(body));
        let r = self.execute(&req).await?;
        r.ok_or_else(|| ArmError::InvalidResponse("PATCH returned no resource".into()))
    }

    /// DELETE (or detach) a compute and wait until it is gone; 204/404 (already gone) is `Ok`.
    pub async fn delete(
        &self,
        ws: &WorkspaceId,
        name: &str,
        action: UnderlyingResourceAction,
        api_version: Option<&str>,
    ) -> Result<(), ArmError> {
        let mut req = Self::compute_req(ws, name, "", Method::Delete, api_version, None);
        req.query.insert(
            "underlyingResourceAction".to_string(),
            action.as_str().to_string(),
        );
        self.execute(&req).await.map(|_| ())
    }

    async fn action(&self, ws: &WorkspaceId, name: &str, action: &str) -> Result<(), ArmError> {
        let req = Self::compute_req(ws, name, &format!("/{action}"), Method::Post, None, None);
        self.execute(&req).await.map(|_| ())
    }

    /// Start a compute instance and wait for the operation to end.
    pub async fn start(&self, ws: &WorkspaceId, name: &str) -> Result<(), ArmError> {
        self.action(ws, name, "start").await
    }

    /// Stop a compute instance and wait for the operation to end.
    pub async fn stop(&self, ws: &WorkspaceId, name: &str) -> Result<(), ArmError> {
        self.action(ws, name, "stop").await
    }

    /// Restart a compute instance and wait for the operation to end.
    pub async fn restart(&self, ws: &WorkspaceId, name: &str) -> Result<(), ArmError> {
        self.action(ws, name, "restart").await
    }

    /// POST listKeys: the compute's secrets. The values are registered as secrets of this client.
    pub async fn list_keys(&self, ws: &WorkspaceId, name: &str) -> Result<Value, ArmError> {
        let req = Self::compute_req(ws, name, "/listKeys", Method::Post, None, None);
        let v = self.execute(&req).await?.unwrap_or(Value::Null);
        let mut found = Vec::new();
        collect_secrets(&v, &mut found);
        for s in found {
            self.register_secret(&s);
        }
        Ok(v)
    }

    /// POST listNodes: the nodes of an AmlCompute, following `nextLink` (continuation pages are
    /// POSTed too, as the operation is a POST).
    pub async fn list_nodes(&self, ws: &WorkspaceId, name: &str) -> Result<Vec<Value>, ArmError> {
        let r = async {
            let url = self.url(
                &format!("{}/listNodes", ws.compute_path(name)),
                &BTreeMap::new(),
            )?;
            let mut op = self.op();
            self.paged(Method::Post, url, "nodes", &mut op).await
        }
        .await;
        self.redact(r)
    }
}
