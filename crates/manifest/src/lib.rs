//! Manifests for `amlctl`: loads `amlctl.yaml` and `az ml`-style compute YAML with located errors,
//! validates them, maps each compute type to and from its ARM body, and publishes JSON Schemas.
//!
//! Entry points: [`load_project`] (for `amlctl validate`/`plan`), [`load_files`] (for `amlctl
//! render`), [`Target::to_arm`], [`from_arm`], [`resolve_secret`], [`compute_schema`] and
//! [`config_schema`]. Nothing here prints: every finding is returned as a [`Diagnostic`].

#![warn(missing_docs)]

pub mod codec;
pub mod diag;
pub mod endpoints;
pub mod fields;
pub mod mapping;
pub mod model;
pub mod project;
pub mod schema;
pub mod secret;
pub mod validate;
pub mod yaml;

pub use codec::{parse_iso_duration, seconds_to_iso};
pub use diag::{Diagnostic, Severity};
pub use endpoints::{CloudKind, check_config_arm_endpoint, check_key_vault_url};
pub use mapping::from_arm;
pub use model::*;
pub use project::{
    CONFIG_FILE, Config, Defaults, LoadOptions, Project, load_bytes, load_config, load_files,
    load_project, load_str,
};
pub use schema::{compute_schema, config_schema, reference_markdown};
pub use secret::{SecretError, confine, resolve_secret, resolve_secret_in};
pub use validate::check_compute_name;
