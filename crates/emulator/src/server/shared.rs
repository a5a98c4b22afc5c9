//! State shared by all handlers: configuration, the emulated ARM state behind one lock, the
//! fault RNG, the request log and the rate-limit buckets; and state persistence.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use axum::http::StatusCode;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;

use crate::config::EmulatorConfig;
use crate::error::{ApiError, EmulatorError};
use crate::journal::Journal;
use crate::state::State;
use crate::vault::Vaults;

/// One entry of `/_emulator/requests`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RequestLog {
    pub method: String,
    pub path: String,
    pub query: String,
    /// HTTP status sent; 0 when the connection was dropped (`reset` fault).
    pub status: u16,
}

/// One subscription's rate-limit token buckets.
pub(crate) struct Bucket {
    pub reads: f64,
    pub writes: f64,
    pub last_ms: i64,
}

/// Everything behind the lock.
pub(crate) struct Inner {
    pub state: State,
    pub rng: StdRng,
    pub log: Vec<RequestLog>,
    pub buckets: HashMap<String, Bucket>,
    /// The Key Vaults (memory only).
    pub vaults: Vaults,
    /// The Activity Log (kept apart from `state`; see `server::activity`).
    pub activity: super::activity_log::ActivityLog,
}

/// State shared by all handlers.
pub(crate) struct Shared {
    pub config: EmulatorConfig,
    pub inner: Mutex<Inner>,
    /// The state file's journal (with a state file; locked while `inner` is held).
    journal: Mutex<Option<Journal>>,
    /// A second handle on the journal file for fsync outside the state lock (group commit).
    sync_handle: std::sync::OnceLock<std::fs::File>,
    /// Durable appends so far (each waits in `sync_journal` until an fsync covered it)…
    written: std::sync::atomic::AtomicU64,
    /// …and how many of them an fsync has covered.
    synced: Mutex<u64>,
}

impl Shared {
    /// A fresh shared state with the fault RNG seeded from the config.
    pub fn new(config: EmulatorConfig, state: State) -> Shared {
        let rng = StdRng::seed_from_u64(config.fault_seed);
        let vaults = Vaults::from_fixture(
            config
                .fixture
                .as_ref()
                .map(|f| f.key_vaults.as_slice())
                .unwrap_or_default(),
        );
        let activity = super::activity_log::ActivityLog::load(config.state_path.as_deref());
        Shared {
            config,
            inner: Mutex::new(Inner {
                state,
                rng,
                log: Vec::new(),
                buckets: HashMap::new(),
                vaults,
                activity,
            }),
            journal: Mutex::new(None),
            sync_handle: std::sync::OnceLock::new(),
            written: std::sync::atomic::AtomicU64::new(0),
            synced: Mutex::new(0),
        }
    }

    /// Compacts the state into its file and opens the journal after it (no-op without a state
    /// file).
    pub fn open_journal(&self) -> Result<(), EmulatorError> {
        let Some(path) = &self.config.state_path else {
            return Ok(());
        };
        let mut g = self.lock();
        let j = Journal::open(path, &mut g.state)?;
        if let Ok(f) = j.handle() {
            let _ = self.sync_handle.set(f);
        }
        *self.journal_lock() = Some(j);
        Ok(())
    }

    /// Writes the whole state into its file and empties the journal (graceful shutdown).
    pub fn compact(&self) {
        let mut g = self.lock();
        if let Some(j) = self.journal_lock().as_mut()
            && let Err(e) = j.compact(&mut g.state)
        {
            tracing::error!("compacting the state failed: {e}");
        }
    }

    fn journal_lock(&self) -> MutexGuard<'_, Option<Journal>> {
        match self.journal.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Locks the state (a poisoned lock is recovered: the state is always consistent).
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Persists the state's changes if a state file is configured: appends them to the journal
    /// (one write), which compacts itself into the state file when it grows large. The write
    /// survives a killed process at once; call [`Shared::sync_journal`] (without the state lock)
    /// before acknowledging it, so it survives a power loss too (the ARM handler does).
    pub fn persist(&self, state: &mut State) -> Result<(), ApiError> {
        self.persist_with(state, false)?;
        self.written
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }

    /// Persists without asking for an fsync: survives a killed process (the write is in the OS
    /// cache), but not power loss. For issued tokens, which a client can always ask for again,
    /// and for settled operations, which a restart derives again from their persisted deadlines.
    pub fn persist_quick(&self, state: &mut State) -> Result<(), ApiError> {
        self.persist_with(state, false)
    }

    /// Makes every [`Shared::persist`] so far durable (fsync of the journal). Group commit: one
    /// fsync covers every append made before it, so concurrent writers share it; call it
    /// without holding the state lock.
    pub fn sync_journal(&self) -> Result<(), ApiError> {
        use std::sync::atomic::Ordering;
        let Some(f) = self.sync_handle.get() else {
            return Ok(());
        };
        let target = self.written.load(Ordering::SeqCst);
        let mut synced = match self.synced.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if *synced >= target {
            return Ok(());
        }
        // Everything appended up to now, including appends after `target`, is covered.
        let covered = self.written.load(Ordering::SeqCst);
        f.sync_data().map_err(|e| {
            tracing::error!("syncing the state journal failed: {e}");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "The emulator could not persist its state.",
            )
        })?;
        *synced = covered;
        Ok(())
    }

    fn persist_with(&self, state: &mut State, durable: bool) -> Result<(), ApiError> {
        let mut journal = self.journal_lock();
        let Some(j) = journal.as_mut() else {
            // No state file (or not opened yet): nothing to write, nothing to remember.
            state.clear_changes();
            return Ok(());
        };
        {
            j.append(state, durable).map_err(|e| {
                tracing::error!("persisting state failed: {e}");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalServerError",
                    "The emulator could not persist its state.",
                )
            })?;
        }
        Ok(())
    }
}
