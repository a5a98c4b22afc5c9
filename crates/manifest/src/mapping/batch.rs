//! `type: batch` (ARM `Batch`): an attachment that carries only its `resource_id`.

use serde_json::{Map, Value};

use super::{Builder, Reader, common};

/// Fills `properties` of the PUT body: the `resourceId` only.
pub(super) fn to_arm(b: &mut Builder, outer: &mut Map<String, Value>) {
    common::resource_id_to_arm(b, outer);
}

/// Reads `resource_id` of a live resource into `spec`.
pub(super) fn from_arm(r: &Reader, spec: &mut Map<String, Value>) {
    common::resource_id_from_arm(r, spec);
}
