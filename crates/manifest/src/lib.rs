//! Manifests for `amlctl`: loads `amlctl.yaml` and `az ml`-style compute YAML with located errors,
//! validates them, maps each compute type to and from its ARM body, and publishes JSON Schemas.

pub mod model;

pub use model::*;
