//! Errors: the crate's own and ARM error responses.

use axum::http::StatusCode;
use serde_json::{Value, json};

/// Errors starting or running the emulator.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The listen address is not a loopback address.
    #[error("refusing to listen on {0}: only loopback addresses (127.0.0.0/8, ::1) are allowed")]
    NotLoopback(String),
    /// The listen address could not be parsed.
    #[error("invalid listen address `{0}`")]
    BadListen(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// File concerned.
        path: String,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The fixture is malformed.
    #[error("invalid fixture: {0}")]
    Fixture(String),
    /// The state file is malformed.
    #[error("invalid state file: {0}")]
    State(String),
    /// A command-line setting is invalid.
    #[error("invalid setting: {0}")]
    Config(String),
    /// Binding or serving failed.
    #[error("server error: {0}")]
    Server(String),
}

/// An ARM error response: status + `{"error":{"code","message","target","details"}}`.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub target: Option<String>,
    /// Set for the service's own validation errors: the body gets the recorded `UserError`
    /// envelope (`correlation`, `environment`, `location`, `time`, `componentName`) of this
    /// region.
    pub service_region: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            target: None,
            service_region: None,
        }
    }
    /// A 400 `UserError` in the shape the compute service answers its validation failures
    /// (cli-ml-compute_instance_no_public_ip_400 [1]).
    pub fn user_error(message: impl Into<String>, region: &str) -> ApiError {
        let mut e = ApiError::bad_request("UserError", message);
        e.service_region = Some(region.to_string());
        e
    }
    pub fn bad_request(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn conflict(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }
    pub fn target(mut self, t: impl Into<String>) -> ApiError {
        self.target = Some(t.into());
        self
    }
    pub fn body(&self) -> Value {
        if let Some(region) = &self.service_region {
            let id = uuid::Uuid::new_v4().simple().to_string();
            return json!({
                "error": {
                    "code": self.code, "severity": null, "message": self.message,
                    "messageFormat": null, "messageParameters": null, "referenceCode": null,
                    "detailsUri": null, "target": self.target, "details": [], "innerError": null,
                    "debugInfo": null, "additionalInfo": null
                },
                "correlation": {"operation": id, "request": &id[..16]},
                "environment": region,
                "location": region,
                "time": crate::server::now_rfc3339(),
                "componentName": "machinelearningcompute"
            });
        }
        let mut e = json!({"code": self.code, "message": self.message});
        if let Some(t) = &self.target {
            e["target"] = json!(t);
        }
        e["details"] = json!([]);
        json!({ "error": e })
    }
}
