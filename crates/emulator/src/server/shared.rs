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
}

/// State shared by all handlers.
pub(crate) struct Shared {
    pub config: EmulatorConfig,
    pub inner: Mutex<Inner>,
    /// The state file's journal (with a state file; locked while `inner` is held).
    journal: Mutex<Option<Journal>>,
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
        Shared {
            config,
            inner: Mutex::new(Inner {
                state,
                rng,
                log: Vec::new(),
                buckets: HashMap::new(),
                vaults,
            }),
            journal: Mutex::new(None),
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
    /// (one write, fsync'd), which compacts itself into the state file when it grows large.
    pub fn persist(&self, state: &mut State) -> Result<(), ApiError> {
        self.persist_with(state, true)
    }

    /// Persists without fsync: survives a killed process (the write is in the OS cache), but
    /// not power loss. For issued tokens, which a client can always ask for again.
    pub fn persist_quick(&self, state: &mut State) -> Result<(), ApiError> {
        self.persist_with(state, false)
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
