//! `amlctl.yaml` and the manifest tree: discovery, workspace resolution, duplicate detection.
//!
//! The public types live here; the work is split along its steps:
//! `load` (the entry points: [`load_project`], [`load_config`], [`load_files`], [`load_str`],
//! [`load_bytes`]), `discover` (the `amlctl.yaml` a path belongs to), `config` (parsing and
//! checking `amlctl.yaml`, with its key tables in `keys`), `select` (walking the repository and
//! choosing manifests by `manifests:` folders and globs), `workspace` (which workspace a manifest
//! belongs to, duplicate names) and `checks` (finished targets against the project: vault cloud,
//! region, api-versions, secret files).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::diag::Diagnostic;
use crate::model::{Target, Workspace};

mod checks;
mod config;
mod discover;
mod keys;
mod load;
mod select;
mod workspace;

pub use checks::{api_version_errors, location_error};
pub(crate) use keys::{defaults_fields, workspace_fields};
pub use load::{load_bytes, load_config, load_files, load_project, load_str};
pub use select::glob_match;

/// File name of the project configuration.
pub const CONFIG_FILE: &str = "amlctl.yaml";

/// Loader options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Literal secrets are errors instead of warnings (`--strict`).
    pub strict: bool,
    /// `{ file: … }` secrets and key files may resolve outside the repository (the folder of
    /// `amlctl.yaml`); only from the command line (`--allow-outside-repo`), never from a file.
    pub allow_outside_repo: bool,
}

/// `defaults:` of `amlctl.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Defaults {
    /// ARM endpoint; only the selected cloud's Resource Manager is accepted here (other endpoints,
    /// such as the emulator, come from `--arm-endpoint` / `AMLCTL_ARM_ENDPOINT`).
    pub arm_endpoint: Option<String>,
    /// Cloud name (`public`/`AzureCloud`, `usgov`/`AzureUSGovernment`, `china`/`AzureChinaCloud`).
    pub cloud: Option<String>,
    /// Maximum concurrent ARM operations during apply.
    pub parallelism: Option<usize>,
}

/// `amlctl.yaml`: workspaces, default workspace, manifest locations, folder mapping, defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Path of `amlctl.yaml` as found.
    pub path: PathBuf,
    /// Folder holding `amlctl.yaml`; manifest paths are relative to it.
    pub root: PathBuf,
    /// Workspaces by alias.
    pub workspaces: BTreeMap<String, Workspace>,
    /// Alias used when a manifest names none and no folder mapping applies.
    pub default_workspace: Option<String>,
    /// Folders or globs (relative to `root`) holding manifests; default `["."]`.
    pub manifests: Vec<String>,
    /// `folders:` folder (relative to `root`) → workspace alias; the longest matching folder wins.
    pub folders: BTreeMap<String, String>,
    /// `defaults:`.
    pub defaults: Defaults,
}

/// A loaded project: config, validated targets, and warnings.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    /// The configuration.
    pub config: Config,
    /// Every target in scope, in file order (every target of the repository when PATH was the
    /// root or amlctl.yaml).
    pub targets: Vec<Target>,
    /// When PATH was a folder (or manifest file) below `amlctl.yaml`: that path relative to the
    /// root, `/`-separated. Every manifest is still loaded and validated, but only those under it
    /// are in [`Project::targets`]; the rest are in [`Project::outside_scope`].
    pub scope: Option<String>,
    /// Targets declared outside [`Project::scope`] (empty without a scope).
    pub outside_scope: Vec<Target>,
    /// Warnings (only warnings when loading succeeded).
    pub diagnostics: Vec<Diagnostic>,
    /// Every manifest file read, relative to `config.root` (`/` separated), in load order.
    pub files: Vec<String>,
}
