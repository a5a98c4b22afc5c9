//! State shared by all handlers: configuration, the emulated ARM state behind one lock, the
//! fault RNG, the request log and the rate-limit buckets; and state persistence.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use axum::http::StatusCode;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;

use crate::config::EmulatorConfig;
use crate::error::ApiError;
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
    pub activity: super::activity::ActivityLog,
}

/// State shared by all handlers.
pub(crate) struct Shared {
    pub config: EmulatorConfig,
    pub inner: Mutex<Inner>,
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
        let activity = super::activity::ActivityLog::load(config.state_path.as_deref());
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
        }
    }

    /// Locks the state (a poisoned lock is recovered: the state is always consistent).
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Persists the state if a state file is configured.
    pub fn persist(&self, state: &State) -> Result<(), ApiError> {
        self.persist_with(state, true)
    }

    /// Persists without fsync: still atomic against a killed process (temp file + rename), but
    /// not against power loss. For issued tokens, which a client can always ask for again.
    pub fn persist_quick(&self, state: &State) -> Result<(), ApiError> {
        self.persist_with(state, false)
    }

    fn persist_with(&self, state: &State, durable: bool) -> Result<(), ApiError> {
        if let Some(path) = &self.config.state_path {
            state.save(path, durable).map_err(|e| {
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
