//! The state's append-only journal: a mutation costs one `write` of its records (and one fsync
//! when durable), not a rewrite of the whole state file.
//!
//! Files: the snapshot `STATE` (the state file, the format it always had) and the journal
//! `STATE.journal` next to it: JSON lines, the first one `{"t":"generation","v":N}`, then one
//! [`Record`] per line. Loading reads the snapshot and replays the journal when its generation is
//! the snapshot's `journal_generation` (else the journal is stale: a compaction finished its
//! snapshot but not the journal's reset, and the snapshot already holds everything). A last line
//! without its newline, or a last line that does not parse, is a torn write and is ignored; a
//! damaged line before the last is an error naming `file:line:col`.
//!
//! Compaction (at start, at graceful shutdown, and when the journal grows past
//! [`COMPACT_FACTOR`] × the snapshot size and [`COMPACT_MIN_BYTES`]) writes the snapshot atomically
//! with the next generation (temp file, fsync, rename, fsync of the directory; `State::save`) and
//! then resets the journal to that generation's header.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::EmulatorError;
use crate::state::{Record, State};

/// The journal is compacted when it is larger than this many times the snapshot…
pub(crate) const COMPACT_FACTOR: u64 = 4;
/// …and larger than this.
pub(crate) const COMPACT_MIN_BYTES: u64 = 1 << 20;

/// The journal file of a state file: `STATE.journal` in the same directory.
pub fn journal_path(state: &Path) -> PathBuf {
    let mut name = state
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "state.json".into());
    name.push(".journal");
    state.with_file_name(name)
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> EmulatorError + '_ {
    move |source| EmulatorError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Loads the snapshot and replays its journal (see the module docs).
pub(crate) fn load(state_path: &Path) -> Result<State, EmulatorError> {
    let mut state = State::load(state_path)?;
    let jpath = journal_path(state_path);
    let bytes = match std::fs::read(&jpath) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(state),
        Err(e) => return Err(io_err(&jpath)(e)),
    };
    // Complete lines only: what follows the last newline is a torn write.
    let (complete, torn) = match bytes.iter().rposition(|b| *b == b'\n') {
        Some(end) => bytes.split_at(end + 1),
        None => (&[][..], &bytes[..]),
    };
    if !torn.is_empty() {
        tracing::warn!(
            "{}: ignoring a torn last line (a write cut off by a crash)",
            jpath.display()
        );
    }
    let lines: Vec<&[u8]> = complete.split(|b| *b == b'\n').collect();
    let last = lines.iter().rposition(|l| !l.trim_ascii().is_empty());
    let mut header_seen = false;
    for (i, line) in lines.iter().enumerate() {
        if line.trim_ascii().is_empty() {
            continue;
        }
        let rec = match serde_json::from_slice::<Record>(line) {
            Ok(r) => r,
            Err(_) if Some(i) == last => {
                tracing::warn!(
                    "{}:{}: ignoring a damaged last line (a write cut off by a crash)",
                    jpath.display(),
                    i + 1
                );
                break;
            }
            Err(e) => {
                return Err(EmulatorError::State(format!(
                    "{}:{}:{}: damaged journal record: {e}; the emulator cannot tell what it held. \
                     Remove the journal to start from the last snapshot ({}) instead",
                    jpath.display(),
                    i + 1,
                    e.column(),
                    state_path.display()
                )));
            }
        };
        if !header_seen {
            header_seen = true;
            match rec {
                Record::Generation(g) if g == state.journal_generation => continue,
                _ => {
                    // Stale (from before the snapshot) or not a journal header: the snapshot
                    // holds everything.
                    tracing::warn!(
                        "{}: not the journal of this snapshot (generation {}); ignored",
                        jpath.display(),
                        state.journal_generation
                    );
                    break;
                }
            }
        }
        apply(&mut state, rec);
    }
    state.clear_changes();
    Ok(state)
}

/// Applies one record to the state (replay).
fn apply(state: &mut State, rec: Record) {
    match rec {
        Record::Generation(_) => {}
        Record::Compute(c) => {
            state.upsert_compute(*c);
        }
        Record::ComputeGone(key) => state.remove_compute_by_key(&key),
        Record::Op(op) => state.apply_op(op),
        Record::Token(t) => state.tokens.push(t),
        Record::TokensExpired(now_s) => {
            state.expire_tokens(now_s);
        }
        Record::Workspace(w) => {
            state.ensure_workspace(w);
        }
        Record::Resource(r) => {
            state.ensure_resource(&r);
        }
        Record::ResourceGone(r) => state.remove_resource(&r),
        Record::DeletedSize(k, v) => {
            state.deleted_sizes.insert(k, v);
        }
        Record::DeletedInstance(d) => state.apply_deleted_instance(d),
    }
}

/// The open journal of a state file.
#[derive(Debug)]
pub(crate) struct Journal {
    state_path: PathBuf,
    path: PathBuf,
    file: File,
    len: u64,
    snapshot_len: u64,
}

impl Journal {
    /// Compacts `state` into its snapshot and opens a fresh journal after it.
    pub fn open(state_path: &Path, state: &mut State) -> Result<Journal, EmulatorError> {
        let path = journal_path(state_path);
        let mut opts = std::fs::OpenOptions::new();
        opts.append(true).create(true);
        #[cfg(unix)]
        {
            // The journal holds what the state file holds (tokens, secret digests): owner-only.
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts.open(&path).map_err(io_err(&path))?;
        let mut j = Journal {
            state_path: state_path.to_path_buf(),
            path,
            file,
            len: 0,
            snapshot_len: 0,
        };
        j.compact(state)?;
        Ok(j)
    }

    /// Another handle on the journal file (for fsync without the journal's lock).
    pub fn handle(&self) -> std::io::Result<File> {
        self.file.try_clone()
    }

    /// Appends the state's pending changes in one write (fsync'd when `durable`), compacting
    /// when the journal has grown large.
    pub fn append(&mut self, state: &mut State, durable: bool) -> Result<(), EmulatorError> {
        if !state.has_changes() {
            return Ok(());
        }
        let mut buf = Vec::new();
        for rec in state.take_changes() {
            serde_json::to_writer(&mut buf, &rec)
                .map_err(|e| EmulatorError::State(format!("serialising a journal record: {e}")))?;
            buf.push(b'\n');
        }
        self.file.write_all(&buf).map_err(io_err(&self.path))?;
        if durable {
            self.file.sync_data().map_err(io_err(&self.path))?;
        }
        self.len += buf.len() as u64;
        if self.len > COMPACT_MIN_BYTES && self.len > COMPACT_FACTOR * self.snapshot_len {
            self.compact(state)?;
        }
        Ok(())
    }

    /// Writes the whole state as the next generation's snapshot, then resets the journal.
    pub fn compact(&mut self, state: &mut State) -> Result<(), EmulatorError> {
        let previous = state.journal_generation;
        state.journal_generation = previous.wrapping_add(1);
        if let Err(e) = state.save(&self.state_path, true) {
            state.journal_generation = previous;
            return Err(e);
        }
        state.clear_changes();
        self.snapshot_len = std::fs::metadata(&self.state_path)
            .map(|m| m.len())
            .unwrap_or(0);
        // Crash from here on: the old journal's header names the old generation, so a restart
        // ignores it (the snapshot holds everything).
        self.file.set_len(0).map_err(io_err(&self.path))?;
        let mut header = serde_json::to_vec(&Record::Generation(state.journal_generation))
            .map_err(|e| EmulatorError::State(format!("serialising the journal header: {e}")))?;
        header.push(b'\n');
        self.file.write_all(&header).map_err(io_err(&self.path))?;
        self.file.sync_data().map_err(io_err(&self.path))?;
        self.len = header.len() as u64;
        Ok(())
    }
}
