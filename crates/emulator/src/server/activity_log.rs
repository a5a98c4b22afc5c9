//! The emulator's Activity Log store: one entry per write to a compute, kept in memory and,
//! when the emulator has a state file, appended as JSON lines to `<state file>.activity.jsonl`
//! (read back at start). The route that serves it is [`super::activity`].

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One recorded write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ActivityEntry {
    /// Who wrote (`caller_of` of the route module).
    pub caller: String,
    /// When, milliseconds since the epoch.
    pub at_ms: i64,
    /// `Microsoft.MachineLearningServices/workspaces/computes/write` and the like.
    pub operation: String,
    /// `Succeeded` (the write was accepted) or `Failed`.
    pub status: String,
    /// The compute's ARM id, as the request spelled it.
    pub resource_id: String,
}

/// The log, and the sidecar file it is appended to.
#[derive(Debug, Default)]
pub(crate) struct ActivityLog {
    entries: Vec<ActivityEntry>,
    sidecar: Option<PathBuf>,
}

impl ActivityLog {
    /// The log of an emulator whose state file is `state_path`: the entries of its sidecar file
    /// (lines that do not parse are skipped), or an empty log.
    pub fn load(state_path: Option<&Path>) -> ActivityLog {
        let sidecar = state_path.map(sidecar_of);
        let entries = sidecar
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|text| {
                text.lines()
                    .filter_map(|l| serde_json::from_str(l).ok())
                    .collect()
            })
            .unwrap_or_default();
        ActivityLog { entries, sidecar }
    }

    /// Records `entry` (and appends it to the sidecar file; a failure there is logged, the
    /// entry stays in memory).
    pub fn push(&mut self, entry: ActivityEntry) {
        if let Some(path) = &self.sidecar {
            let line = serde_json::to_string(&entry).unwrap_or_default();
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(format!("{line}\n").as_bytes()));
            if let Err(e) = written {
                tracing::error!("appending to {}: {e}", path.display());
            }
        }
        self.entries.push(entry);
    }

    /// Entries about `resource_id` (case-insensitive) between `from_ms` and `to_ms` inclusive,
    /// newest first.
    pub fn query(&self, resource_id: &str, from_ms: i64, to_ms: i64) -> Vec<&ActivityEntry> {
        let id = resource_id.trim_end_matches('/');
        let mut out: Vec<&ActivityEntry> = self
            .entries
            .iter()
            .filter(|e| e.resource_id.trim_end_matches('/').eq_ignore_ascii_case(id))
            .filter(|e| e.at_ms >= from_ms && e.at_ms <= to_ms)
            .collect();
        out.sort_by_key(|e| std::cmp::Reverse(e.at_ms));
        out
    }
}

/// `<state file>.activity.jsonl`.
pub(crate) fn sidecar_of(state: &Path) -> PathBuf {
    let mut name = state.as_os_str().to_owned();
    name.push(".activity.jsonl");
    PathBuf::from(name)
}
