//! `type: hdinsight` (ARM `HDInsight`): an attached HDInsight cluster reached over SSH, the same
//! shape as an attached VM ([`super::virtual_machine`]).

use serde_json::{Map, Value};

use super::{Builder, Reader, virtual_machine};

/// Fills `properties` of the PUT body: as for an attached VM.
pub(super) fn to_arm(b: &mut Builder, outer: &mut Map<String, Value>) {
    virtual_machine::to_arm(b, outer);
}

/// Reads the SSH settings and `resource_id` of a live resource: as for an attached VM.
pub(super) fn from_arm(r: &Reader, spec: &mut Map<String, Value>) {
    virtual_machine::from_arm(r, spec);
}
