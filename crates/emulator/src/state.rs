//! The emulator's persistent state and its atomic persistence.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::EmulatorError;
use crate::fixture::{Fixture, FixtureWorkspace};

/// Everything the emulator knows; serialised as one JSON file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct State {
    #[serde(default)]
    pub workspaces: Vec<FixtureWorkspace>,
    #[serde(default)]
    pub resources: Vec<String>,
    /// Private: every change goes through a method that indexes it and records it for the
    /// journal.
    #[serde(default)]
    computes: Vec<ComputeRec>,
    #[serde(default)]
    pub operations: Vec<OpRec>,
    #[serde(default)]
    pub tokens: Vec<IssuedToken>,
    /// VM size of each deleted compute, by lower-cased ARM id (for the `stale-size-on-recreate` quirk).
    #[serde(default)]
    pub deleted_sizes: std::collections::BTreeMap<String, String>,
    /// Compute instances deleted, for the name hold (`name_hold_ms`).
    #[serde(default)]
    pub deleted_instances: Vec<DeletedName>,
    /// Workspaces (names, case-insensitive) with a private endpoint.
    #[serde(default)]
    pub private_link_workspaces: Vec<String>,
    /// Generation of the journal that continues this snapshot (`crate::journal`): a journal
    /// whose header names another generation is stale and is not replayed. 0 in state files
    /// written before the journal.
    #[serde(default)]
    pub journal_generation: u64,
    /// Compute position by lower-cased (subscription, resource group, workspace, name).
    #[serde(skip)]
    index: HashMap<ComputeKey, usize>,
    /// Changes since the last flush to the journal (`take_changes`).
    #[serde(skip)]
    changes: Changes,
}

/// A compute's identity: lower-cased subscription, resource group, workspace, name.
pub(crate) type ComputeKey = (String, String, String, String);

/// Lower-cased key of a compute.
pub(crate) fn compute_key(sub: &str, rg: &str, ws: &str, name: &str) -> ComputeKey {
    (
        sub.to_ascii_lowercase(),
        rg.to_ascii_lowercase(),
        ws.to_ascii_lowercase(),
        name.to_ascii_lowercase(),
    )
}

fn key_of(c: &ComputeRec) -> ComputeKey {
    compute_key(&c.subscription_id, &c.resource_group, &c.workspace, &c.name)
}

/// What changed since the last journal flush: the computes touched (written as their value at
/// flush time, or as deleted) and the other records in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Changes {
    computes: Vec<ComputeKey>,
    seen: std::collections::HashSet<ComputeKey>,
    records: Vec<Record>,
}

impl Changes {
    fn touch(&mut self, key: ComputeKey) {
        if self.seen.insert(key.clone()) {
            self.computes.push(key);
        }
    }
}

/// A deleted compute instance's name and when its delete finished.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DeletedName {
    pub name: String,
    pub location: String,
    pub deleted_at_ms: i64,
}

/// A token issued by `/msi/token`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct IssuedToken {
    pub token: String,
    pub expires_on: i64,
    /// The audience it was issued for (the `resource` asked for, without `/.default` and a
    /// trailing `/`, lower-cased); `None` in state files written before tokens had one.
    #[serde(default)]
    pub audience: Option<String>,
}

/// One compute resource, stored with its secrets.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ComputeRec {
    pub subscription_id: String,
    pub resource_group: String,
    pub workspace: String,
    pub name: String,
    pub location: String,
    /// The full ARM resource (secrets included).
    pub resource: Value,
    /// A transition in flight.
    #[serde(default)]
    pub pending: Option<Pending>,
    /// `properties` as the last PUT sent them (read-only fields stripped, secrets masked):
    /// the PUT/PATCH responses echo these, not the server defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<Value>,
    /// Seeded from the fixture's `raw_computes`: served exactly as stored.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub raw: bool,
}

/// Kind of a long-running operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum OpKind {
    Create,
    Update,
    Delete,
    Start,
    Stop,
    Restart,
}

/// How an operation ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Outcome {
    Succeeded,
    Failed { code: String, message: String },
    Canceled,
}

/// A transition in flight on a compute.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Pending {
    pub op_id: String,
    pub kind: OpKind,
    /// Wall-clock deadline, Unix milliseconds.
    pub ends_at_ms: i64,
    pub outcome: Outcome,
    /// For DELETE with `underlyingResourceAction=Delete`: the underlying resource to remove.
    #[serde(default)]
    pub delete_underlying: Option<String>,
    /// CI `state` before a start/stop/restart (restored if it fails).
    #[serde(default)]
    pub prev_state: Option<String>,
}

/// An operation record, read by the status/result endpoints.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct OpRec {
    pub id: String,
    pub subscription_id: String,
    pub location: String,
    pub kind: OpKind,
    pub started_at_ms: i64,
    pub ends_at_ms: i64,
    pub outcome: Outcome,
    /// ARM path of the compute the operation acts on.
    pub resource_path: String,
}

impl State {
    /// Loads a state file; a missing or empty file is an empty state.
    pub fn load(path: &Path) -> Result<State, EmulatorError> {
        match std::fs::read_to_string(path) {
            Ok(text) if text.trim().is_empty() => Ok(State::default()),
            Ok(text) => {
                let mut s: State = serde_json::from_str(&text).map_err(|e| {
                    EmulatorError::State(format!(
                        "{}:{}:{}: {e}; fix or remove the file (it is the emulator's state)",
                        path.display(),
                        e.line(),
                        e.column()
                    ))
                })?;
                s.rebuild_index();
                Ok(s)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(EmulatorError::Io {
                path: path.display().to_string(),
                source: e,
            }),
        }
    }

    /// Writes the state atomically: temp file in the same directory, rename; `durable` adds the
    /// fsyncs (of the file and the directory) that make it survive a power loss too.
    pub fn save(&self, path: &Path, durable: bool) -> Result<(), EmulatorError> {
        let io_err = |e| EmulatorError::Io {
            path: path.display().to_string(),
            source: e,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => std::path::PathBuf::from("."),
        };
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| EmulatorError::State(format!("serialising state: {e}")))?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "state.json".into());
        let tmp = dir.join(format!(
            ".{file_name}.{}.tmp",
            uuid::Uuid::new_v4().simple()
        ));
        let result = (|| {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                // The state holds secrets: owner-only.
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(&tmp)?;
            f.write_all(&text)?;
            if durable {
                f.sync_all()?;
            }
            drop(f);
            std::fs::rename(&tmp, path)?;
            if durable && let Ok(d) = std::fs::File::open(&dir) {
                let _ = d.sync_all();
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(io_err)
    }

    /// Adds the fixture's workspaces and resources that are not present yet.
    pub fn merge_fixture(&mut self, fixture: &Fixture) {
        for ws in &fixture.workspaces {
            self.ensure_workspace(ws.clone());
        }
        for r in &fixture.resources {
            self.ensure_resource(r);
        }
        for w in &fixture.private_link_workspaces {
            if !self
                .private_link_workspaces
                .iter()
                .any(|x| x.eq_ignore_ascii_case(w))
            {
                self.private_link_workspaces.push(w.clone());
            }
        }
        for raw in &fixture.raw_computes {
            self.seed_raw(raw);
        }
    }

    /// Seeds a raw compute body under its fixture workspace (unless a compute of that name
    /// exists); a workspace not in the state is skipped.
    fn seed_raw(&mut self, raw: &crate::fixture::RawCompute) {
        let Some(ws) = self
            .workspaces
            .iter()
            .find(|w| w.name.eq_ignore_ascii_case(&raw.workspace))
            .cloned()
        else {
            return;
        };
        if self
            .compute_index(&ws.subscription_id, &ws.resource_group, &ws.name, &raw.name)
            .is_some()
        {
            return;
        }
        let mut body = raw.body.clone();
        if let Value::Object(m) = &mut body {
            m.entry("id").or_insert_with(|| {
                Value::String(format!(
                    "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.MachineLearningServices/workspaces/{}/computes/{}",
                    ws.subscription_id, ws.resource_group, ws.name, raw.name
                ))
            });
            m.entry("name")
                .or_insert_with(|| Value::String(raw.name.clone()));
            m.entry("type").or_insert_with(|| {
                Value::String("Microsoft.MachineLearningServices/workspaces/computes".into())
            });
        }
        let location = body
            .get("location")
            .and_then(Value::as_str)
            .unwrap_or(&ws.location)
            .to_string();
        self.push_compute(ComputeRec {
            subscription_id: ws.subscription_id.clone(),
            resource_group: ws.resource_group.clone(),
            workspace: ws.name.clone(),
            name: raw.name.clone(),
            location,
            resource: body,
            pending: None,
            sent: None,
            raw: true,
        });
    }

    /// Adds a workspace if absent (case-insensitive match on sub/rg/name).
    pub fn ensure_workspace(&mut self, ws: FixtureWorkspace) -> bool {
        if self
            .find_workspace(&ws.subscription_id, &ws.resource_group, &ws.name)
            .is_some()
        {
            return false;
        }
        self.changes.records.push(Record::Workspace(ws.clone()));
        self.workspaces.push(ws);
        true
    }

    /// Declares an underlying resource as existing.
    pub fn ensure_resource(&mut self, id: &str) -> bool {
        if self.has_resource(id) {
            return false;
        }
        self.resources.push(id.to_string());
        self.changes.records.push(Record::Resource(id.to_string()));
        true
    }

    /// Whether an ARM id is declared (case-insensitive, ignoring a trailing `/`).
    pub fn has_resource(&self, id: &str) -> bool {
        self.resources.iter().any(|r| same_id(r, id))
    }

    /// Finds a workspace.
    pub fn find_workspace(&self, sub: &str, rg: &str, name: &str) -> Option<&FixtureWorkspace> {
        self.workspaces.iter().find(|w| {
            w.subscription_id.eq_ignore_ascii_case(sub)
                && w.resource_group.eq_ignore_ascii_case(rg)
                && w.name.eq_ignore_ascii_case(name)
        })
    }

    /// Index of a compute (a hash lookup, case-insensitive).
    pub fn compute_index(&self, sub: &str, rg: &str, ws: &str, name: &str) -> Option<usize> {
        self.index.get(&compute_key(sub, rg, ws, name)).copied()
    }

    /// All computes, in creation order.
    pub fn computes(&self) -> &[ComputeRec] {
        &self.computes
    }

    /// A compute to change in place; it is written to the journal at the next flush.
    pub fn compute_mut(&mut self, idx: usize) -> &mut ComputeRec {
        self.changes.touch(key_of(&self.computes[idx]));
        &mut self.computes[idx]
    }

    /// Stores a compute: replaces the one with its key, or appends it. Returns its index.
    pub fn upsert_compute(&mut self, rec: ComputeRec) -> usize {
        let key = key_of(&rec);
        self.changes.touch(key.clone());
        match self.index.get(&key) {
            Some(&i) => {
                self.computes[i] = rec;
                i
            }
            None => {
                self.computes.push(rec);
                let i = self.computes.len() - 1;
                self.index.insert(key, i);
                i
            }
        }
    }

    fn push_compute(&mut self, rec: ComputeRec) -> usize {
        self.upsert_compute(rec)
    }

    /// Removes the compute at `idx` (the ones after it move up one place).
    pub fn remove_compute(&mut self, idx: usize) {
        let rec = self.computes.remove(idx);
        let key = key_of(&rec);
        self.index.remove(&key);
        for (j, c) in self.computes.iter().enumerate().skip(idx) {
            self.index.insert(key_of(c), j);
        }
        self.changes.touch(key);
    }

    /// Removes a compute by key, if present (journal replay).
    pub(crate) fn remove_compute_by_key(&mut self, key: &ComputeKey) {
        if let Some(&i) = self.index.get(key) {
            self.remove_compute(i);
        }
    }

    /// Records an operation (the log keeps the last 10,000).
    pub fn push_op(&mut self, op: OpRec) {
        self.changes.records.push(Record::Op(op.clone()));
        self.apply_op(op);
    }

    pub(crate) fn apply_op(&mut self, op: OpRec) {
        self.operations.push(op);
        if self.operations.len() > MAX_OPERATIONS {
            let excess = self.operations.len() - MAX_OPERATIONS;
            self.operations.drain(..excess);
        }
    }

    /// Records an issued token.
    pub fn push_token(&mut self, t: IssuedToken) {
        self.changes.records.push(Record::Token(t.clone()));
        self.tokens.push(t);
    }

    /// Drops the tokens expired at `now_s` (Unix seconds); whether any was dropped.
    pub fn expire_tokens(&mut self, now_s: i64) -> bool {
        let before = self.tokens.len();
        self.tokens.retain(|t| t.expires_on > now_s);
        let changed = before != self.tokens.len();
        if changed {
            self.changes.records.push(Record::TokensExpired(now_s));
        }
        changed
    }

    /// Remembers a deleted compute's VM size (lower-cased ARM id → size).
    pub fn add_deleted_size(&mut self, key: String, size: String) {
        self.changes
            .records
            .push(Record::DeletedSize(key.clone(), size.clone()));
        self.deleted_sizes.insert(key, size);
    }

    /// Holds a deleted compute instance's name (the list keeps the last 1,000).
    pub fn add_deleted_instance(&mut self, d: DeletedName) {
        self.changes
            .records
            .push(Record::DeletedInstance(d.clone()));
        self.apply_deleted_instance(d);
    }

    pub(crate) fn apply_deleted_instance(&mut self, d: DeletedName) {
        self.deleted_instances.push(d);
        if self.deleted_instances.len() > MAX_DELETED_INSTANCES {
            let excess = self.deleted_instances.len() - MAX_DELETED_INSTANCES;
            self.deleted_instances.drain(..excess);
        }
    }

    /// Removes an underlying resource (case-insensitive ARM id).
    pub fn remove_resource(&mut self, id: &str) {
        self.resources.retain(|x| !same_id(x, id));
        self.changes
            .records
            .push(Record::ResourceGone(id.to_string()));
    }

    /// The journal records of every change since the last call, and forgets them.
    pub(crate) fn take_changes(&mut self) -> Vec<Record> {
        let ch = std::mem::take(&mut self.changes);
        let mut out = ch.records;
        for key in ch.computes {
            match self.index.get(&key) {
                Some(&i) => out.push(Record::Compute(Box::new(self.computes[i].clone()))),
                None => out.push(Record::ComputeGone(key)),
            }
        }
        out
    }

    /// Forgets the pending changes (after a full snapshot made them durable).
    pub(crate) fn clear_changes(&mut self) {
        self.changes = Changes::default();
    }

    /// Whether there are changes not yet flushed.
    pub(crate) fn has_changes(&self) -> bool {
        !self.changes.records.is_empty() || !self.changes.computes.is_empty()
    }

    fn rebuild_index(&mut self) {
        self.index = self
            .computes
            .iter()
            .enumerate()
            .map(|(i, c)| (key_of(c), i))
            .collect();
    }
}

/// How many operation records are kept.
const MAX_OPERATIONS: usize = 10_000;
/// How many deleted compute-instance names are held.
const MAX_DELETED_INSTANCES: usize = 1000;

/// Case-insensitive ARM id comparison ignoring leading/trailing slashes.
pub(crate) fn same_id(a: &str, b: &str) -> bool {
    a.trim_matches('/')
        .eq_ignore_ascii_case(b.trim_matches('/'))
}

/// One change to the state: a line of the journal (`crate::journal`) that replays it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "t", content = "v", rename_all = "snake_case")]
pub(crate) enum Record {
    /// The header: the snapshot generation this journal continues.
    Generation(u64),
    /// A compute created or changed (its whole record).
    Compute(Box<ComputeRec>),
    /// A compute removed (lower-cased key).
    ComputeGone(ComputeKey),
    /// An operation started.
    Op(OpRec),
    /// A token issued.
    Token(IssuedToken),
    /// Tokens expired at this Unix second were dropped.
    TokensExpired(i64),
    /// A workspace added.
    Workspace(FixtureWorkspace),
    /// An underlying resource declared.
    Resource(String),
    /// An underlying resource removed.
    ResourceGone(String),
    /// A deleted compute's VM size (lower-cased id, size).
    DeletedSize(String, String),
    /// A deleted compute instance's held name.
    DeletedInstance(DeletedName),
}
