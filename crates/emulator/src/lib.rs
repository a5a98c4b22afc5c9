//! `amlctl-emulator`: a local, loopback-only stand-in for the Azure Resource Manager API of
//! Azure Machine Learning compute targets (`Microsoft.MachineLearningServices/workspaces/computes`).
//!
//! It serves several api-versions (2025-12-01 primary, the stable/preview versions since
//! 2020-08-01, and 2020-02-02 for the legacy `Batch` shape), long-running operations with
//! `Azure-AsyncOperation`/`Location`, write-only secrets, server-side defaults, the rejections
//! the service makes, an App Service style managed-identity token endpoint (`/msi/token`),
//! switchable quirks, seeded fault injection, ARM-style rate limiting, and crash-safe state
//! persistence (a JSON state file plus an append-only journal, `journal`: a write appends its
//! records, fsync'd, instead of rewriting the file; the file is rewritten atomically at start, at
//! graceful shutdown and when the journal outgrows it). It is used by tests, benchmarks, demos and `amlctl --sandbox`.
//!
//! By default it answers like the real service as recorded in `tests/recordings/`: response
//! shapes per api-version (`shape`), PUT replaces, compute instances cannot be changed by PUT,
//! deleted compute-instance names are held, references must exist. The rules and their sources
//! are in the crate's `README.md`; `REPLAY.md` measures the match. [`EmulatorConfig::lenient`]
//! (`--lenient`) restores the old, forgiving behaviour, which the descriptions of headers and
//! status codes below call "lenient".
//!
//! # Module layout
//! Imports point one way (top to bottom); no module imports one that imports it back, and
//! the crate shares no code with the manifest/plan/arm crates.
//! * `lib.rs`: [`Emulator`] (listener, serving task, graceful shutdown), [`ServeArgs`],
//!   [`run_serve`]. `net`: the listener whose connections the `reset` fault can drop.
//! * `server` (the HTTP front): `server::handle` is the single axum handler.
//!   * `gate`: the request gate of ARM routes (bearer auth, rate limit, fault draw and
//!     injection, request log). `admin`: `/_emulator/*` and `/msi/token`, outside the gate.
//!   * `router`: ARM path matching and dispatch to the routes: `reads` (workspace, compute
//!     get/list, `listKeys`, `listNodes`), `put` (create/overwrite), `writes` (PATCH, DELETE,
//!     start/stop/restart), `lro` (operation registration, async headers, operation
//!     status/result routes).
//!   * `validate`: PUT request checks and checks on stored computes, split from the handlers;
//!     `ctx`: the per-request context and the lookups every route shares.
//!   * `lifecycle` (lazy LRO transitions), `shared` (lock, persistence), `http` (responses,
//!     query decoding), `clock`, `versions` (api-version table).
//! * `compute` (per-type rules, defaults, rendering, secrets), `schema` (spec validation of PUT
//!   bodies), `state` (the persisted state, computes indexed by sub/rg/workspace/name), `journal`
//!   (its append-only journal, replay and compaction), `config`, `fixture`, `error`.
//!
//! # Routes
//! * ARM, bearer token required, faults/latency/rate limits apply; fixed segments and names are
//!   case-insensitive:
//!   `/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}`
//!   (GET), `…/computes` (GET, paged with `nextLink`/`$skip`), `…/computes/{name}` (GET, PUT,
//!   PATCH, DELETE `?underlyingResourceAction=Delete|Detach`), `…/computes/{name}/{start|stop|restart|listKeys|listNodes}`
//!   (POST), and the LRO endpoints
//!   `/subscriptions/{sub}/providers/Microsoft.MachineLearningServices/locations/{loc}/computeOperationsStatus/{id}`
//!   (`Azure-AsyncOperation`: always 200 with `status` InProgress|Succeeded|Failed|Canceled) and
//!   `…/computeOperationsResults/{id}` (`Location`: 202 while running, then the final result:
//!   the resource for PUT/PATCH, 204 for DELETE, 200 for start/stop/restart, 400 with the error
//!   when the operation failed or was canceled). Writes answer with `Azure-AsyncOperation` only
//!   (lenient: also `Location` and `Retry-After`); the status body is exactly `{"status"}` (plus
//!   `percentComplete: 100.0` on success, `error` on failure). LRO URLs are absolute, built from the `Host`
//!   header the client used. LRO deadlines are wall-clock times in the state file, so they
//!   survive a restart; transitions are applied lazily when a request looks at the state.
//! * Activity Log (`server::activity`): `GET /subscriptions/{sub}/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&$filter=…`
//!   lists the writes to one compute (caller, time, operation, status); every compute write is
//!   recorded, in memory and in `<state file>.activity.jsonl`. `--drop-on-put JSON_POINTER`
//!   makes a PUT/PATCH keep the previous value at that pointer.
//! * Key Vault (see the `server::vault` module for the error shapes and their sources): a
//!   request whose `Host` header is a vault host (`<vault>.vault.azure.net`, usgov, china) is
//!   `GET /secrets/{name}[/{version}]?api-version=7.x` of that vault of the fixture's
//!   `key_vaults:` (`name`, `deny_get`, `throttle`, `secrets: [{name, value, enabled, version,
//!   versions: [{version, value, enabled}]}]`), held in memory only. It needs a token of the
//!   vault audience (an ARM token is 401 `AKV10022`); 404 `SecretNotFound`, 403
//!   `Forbidden`/`SecretDisabled`, 403 `Forbidden`/`ForbiddenByRbac` (`deny_get`), 429
//!   `Throttled` with `Retry-After: 1` (the first `throttle` GETs). Logged in the request log;
//!   no faults, latency or rate limits.
//! * No token, no faults, no latency: `GET /msi/token?api-version=2019-08-01&resource=…` with
//!   `X-IDENTITY-HEADER` (App Service managed identity; answers `access_token`, `expires_on` as a
//!   Unix-seconds string, `token_type`, `resource`; the token is bound to that audience: ARM
//!   refuses a Key Vault token with 401 `InvalidAuthenticationToken`), `GET /_emulator/state`,
//!   `GET /_emulator/requests`, `GET /_emulator/stats`. A request whose connection was dropped
//!   by the `reset` fault is logged with status `0`.
//!
//! # Decisions
//! * api-versions: see [`API_VERSIONS`]. The PATCH body is one level shallower
//!   (`{"properties":{"scaleSettings":…}}`) on 2020-08-01 only; every other version uses the
//!   2025-12-01 shape. 2020-02-02 serves the legacy `Batch` type and the types azureml-core (SDK
//!   v1) sends on it in its recorded requests: AmlCompute, ComputeInstance, VirtualMachine,
//!   HDInsight, Databricks, DataLakeAnalytics, Kubernetes (PUT of another type on it is 400
//!   `UnsupportedComputeType`, as is `Batch` on any other version); reads work on every version.
//! * `properties.resourceId`, when given, must name a resource in the fixture/state
//!   (case-insensitive ARM id) and makes the compute attached (`isAttachedCompute: true`, except
//!   AmlCompute/ComputeInstance). VirtualMachine, HDInsight, Databricks, DataLakeAnalytics,
//!   Kubernetes, SynapseSpark and Batch require it; AKS without it provisions a new cluster (its
//!   id is added to the underlying resources), DataFactory may omit it. DELETE with
//!   `underlyingResourceAction=Delete` removes the underlying resource, `Detach` keeps it.
//! * Read-only properties sent by a client are ignored, as ARM does. Secrets (AmlCompute
//!   `adminUserPassword`; VM/HDInsight `administratorAccount.password`/`privateKeyData`;
//!   Databricks `databricksAccessToken`; Kubernetes relay/service-bus connection strings; AKS
//!   `sslConfiguration.cert`/`key`) are never stored: the emulator keeps a marker
//!   `sha256:<hex digest>` in their place ([`secret_marker`]), in memory and in the state file
//!   (a state file written by an older emulator is masked when loaded). The markers are never
//!   returned by GET/list/PUT responses or `/_emulator/state`, are returned by `listKeys` (so a
//!   test can check by digest that the right secret was received), and are kept when an
//!   overwriting PUT omits the secret. The request log holds no bodies.
//! * Faults: one uniform draw per ARM request in arrival order from a `StdRng` seeded with
//!   `fault_seed`; kinds take consecutive probability intervals in [`FaultKind::ALL`] order.
//!   `lro-failed`/`lro-canceled` only affect requests that start an LRO. Auth is checked before
//!   a fault is applied, so unauthenticated requests always get 401.
//!
//! # Error codes chosen by the emulator
//! | status | code | when |
//! |---|---|---|
//! | 400 | `InvalidApiVersionParameter` / `MissingApiVersionParameter` | unknown / missing api-version |
//! | 400 | `InvalidRequestContent` | body not JSON, no `properties`, unknown `computeType`, a PUT body that violates the spec's `ComputeResource`/subtype schema (nulls ignored, enums checked case-insensitively for the fields the service enforces; `target` names the location, the value is never echoed), bad PATCH shape |
//! | 400 | `InvalidComputeName` | name rules (3–32 chars; compute instances 3–24, no `-<digits>` end) |
//! | 400 | `InvalidScaleSettings` | `minNodeCount > maxNodeCount`, negative counts, bad duration |
//! | 400 | `ComputeFieldImmutable` | PUT over an existing compute changes computeType, resourceId, vmSize, vmPriority, subnet, osType, … (lenient: also any compute-instance setting; `target` names the field) |
//! | 400 | `ComputeNameInFailedState` | PUT on the name of a `Failed` compute |
//! | 400 | `UserError` (the service's envelope for its own checks: `correlation`, `environment`, `componentName`) | a PUT that changes an existing compute instance; a held compute-instance name; a compute instance without public IP outside a private-link workspace; a `resourceId`, subnet or user-assigned identity not in the fixture (lenient: `UnderlyingResourceNotFound`) |
//! | 400 | `MissingResourceId` | attach type without `resourceId` |
//! | 400 | `UnsupportedComputeType` | `Batch` outside api-version 2020-02-02, or a type azureml-core does not send on 2020-02-02 (AKS, SynapseSpark, DataFactory) |
//! | 400 | `UnsupportedOperation` | PATCH of a non-AmlCompute, start/stop/restart of a non-instance, listNodes of a non-AmlCompute |
//! | 400 | `MissingRequiredQueryParameter` / `InvalidQueryParameterValue` | DELETE without / with a bad `underlyingResourceAction` |
//! | 401 | `AuthenticationFailed` / `InvalidAuthenticationToken` | missing / unknown or expired bearer token |
//! | 404 | `ParentResourceNotFound` / `ResourceNotFound` / `InvalidResourceType` | unknown workspace / compute / route |
//! | 409 | `Conflict` | an operation is already in progress; start/stop/restart from a state that forbids it |
//! | 409 | `ComputeNameNotAvailable` | compute instance name already used in the region |
//! | 429 | `SubscriptionRequestsThrottled` | rate limit bucket empty |
//!
//! LRO outcomes: `QuotaExceeded` (configured quota), `InternalServerError` (`lro-failed` fault),
//! `OperationCanceled` (`lro-canceled`), `ClusterUpdateFailed` (`update-failed`: the compute
//! stays `Failed` with its nodes). The `unknown` fault makes a compute GET answer
//! `provisioningState: "Unknown"`.

#![warn(missing_docs)]

mod compute;
mod config;
mod error;
mod fixture;
pub mod identity;
mod journal;
mod net;
mod schema;
mod secrets;
mod server;
mod shape;
pub mod sizes;
mod state;
mod vault;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{
    DEFAULT_NAME_HOLD_MS, EmulatorConfig, FaultKind, FaultSpec, POLICY_TAGS, Quirks, RateLimit,
};
pub use error::EmulatorError;
pub use fixture::{
    Fixture, FixtureLocation, FixtureSecret, FixtureSecretVersion, FixtureVault, FixtureWorkspace,
    RawCompute,
};
pub use secrets::{SECRET_MARKER_PREFIX, secret_marker};
pub use server::{API_VERSIONS, PRIMARY_API_VERSION};

use server::Shared;
use state::State;

/// A running emulator.
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Emulator {
    /// Loads the state (if any), merges the fixture, binds `listen` (loopback only) and serves.
    pub async fn start(
        listen: SocketAddr,
        config: EmulatorConfig,
    ) -> Result<Emulator, EmulatorError> {
        if !listen.ip().is_loopback() {
            return Err(EmulatorError::NotLoopback(listen.to_string()));
        }
        let mut state = match &config.state_path {
            Some(p) => journal::load(p)?,
            None => State::default(),
        };
        if let Some(f) = &config.fixture {
            state.merge_fixture(f);
        }
        // A state file written before secrets were masked: mask them now (the state is
        // persisted below, without the values).
        for i in 0..state.computes().len() {
            let c = state.compute_mut(i);
            secrets::mask_resource(&mut c.resource);
            // The last PUT's properties (kept for the PUT/PATCH answers) hold secrets too.
            if let Some(sent) = c.sent.take() {
                let mut wrapped = serde_json::json!({ "properties": sent });
                secrets::mask_resource(&mut wrapped);
                c.sent = wrapped.get_mut("properties").map(serde_json::Value::take);
            }
        }
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| EmulatorError::Server(format!("binding {listen}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| EmulatorError::Server(e.to_string()))?;
        let shared = Arc::new(Shared::new(config, state));
        // The whole state as a fresh snapshot, and the journal after it.
        shared.open_journal()?;
        let app = server::app(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let listener = net::KillListener { inner: listener };
        let task = tokio::spawn(async move {
            let serve = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<net::ConnHandle>(),
            )
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!("emulator server stopped: {e}");
            }
        });
        Ok(Emulator {
            addr,
            shared,
            stop: Some(tx),
            task,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds a workspace if absent (used by `--sandbox`), and persists.
    pub fn ensure_workspace(
        &self,
        subscription_id: &str,
        resource_group: &str,
        name: &str,
        location: &str,
    ) {
        let mut g = self.shared.lock();
        if g.state.ensure_workspace(FixtureWorkspace {
            subscription_id: subscription_id.into(),
            resource_group: resource_group.into(),
            name: name.into(),
            location: location.into(),
        }) {
            let _ = self.shared.persist(&mut g.state);
            drop(g);
            let _ = self.shared.sync_journal();
        }
    }

    /// Declares an underlying resource (ARM id) as existing, and persists.
    pub fn ensure_resource(&self, arm_id: &str) {
        let mut g = self.shared.lock();
        if g.state.ensure_resource(arm_id) {
            let _ = self.shared.persist(&mut g.state);
            drop(g);
            let _ = self.shared.sync_journal();
        }
    }

    /// Adds a Key Vault secret if absent (memory only; used by `--sandbox`): `version` names a
    /// version of it, else the value becomes its current version.
    pub fn ensure_key_vault_secret(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
        value: &str,
    ) {
        self.shared
            .lock()
            .vaults
            .ensure_secret(vault, name, version, value);
    }

    /// Stops serving (graceful), waits for the server task, and compacts the state file (the
    /// whole state in it, an empty journal after it).
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
        self.shared.compact();
    }
}

/// Settings of `amlctl emulator serve`.
#[derive(Debug, Clone)]
pub struct ServeArgs {
    /// Listen address, e.g. `127.0.0.1:0` (loopback only).
    pub listen: String,
    /// State file (created if missing).
    pub state: PathBuf,
    /// Optional YAML fixture.
    pub fixture: Option<PathBuf>,
    /// LRO duration in milliseconds.
    pub lro_ms: u64,
    /// Added latency per ARM request in milliseconds.
    pub latency_ms: u64,
    /// Fault spec `KIND=RATE,...`.
    pub faults: Option<String>,
    /// Fault RNG seed.
    pub fault_seed: u64,
    /// `Retry-After` seconds.
    pub retry_after_s: u64,
    /// Quirks `all|none|NAME,...`.
    pub quirks: Option<String>,
    /// List page size.
    pub page_size: usize,
    /// Secret expected in `X-IDENTITY-HEADER` by `/msi/token` (default `amlctl-emulator`).
    pub identity_header: Option<String>,
    /// Static bearer tokens to accept: `TOKEN` or `TOKEN=CALLER` (the caller the Activity Log
    /// records for its writes).
    pub accepted_tokens: Vec<String>,
    /// JSON pointers whose previous value a PUT/PATCH keeps (see [`EmulatorConfig::drop_on_put`]).
    pub drop_on_put: Vec<String>,
    /// Quotas of every region, each `KEY=N` ([`parse_quota`]): a shorthand for the fixture's
    /// `locations[].quotas`.
    pub quota: Vec<String>,
    /// ARM-style rate limiting, `READS,WRITES,REFILL_PER_S` (token buckets per subscription).
    pub rate_limit: Option<String>,
    /// How long the `slow` fault delays a response, in milliseconds.
    pub slow_ms: Option<u64>,
    /// The old, lenient behaviour (see [`EmulatorConfig::lenient`]).
    pub lenient: bool,
    /// How long a deleted compute instance's name stays unavailable, in milliseconds.
    pub name_hold_ms: Option<u64>,
}

/// One `--quota KEY=N`, as a key of the fixture's `locations[].quotas` and its vCPU limit:
/// `standardDSv2Family=24`, `lowPriority=100` or `total=200` are vCPUs; a VM size of the
/// built-in table (`Standard_NC6s_v3=2`, the flag's older syntax) is N nodes of that size,
/// i.e. N × its vCPUs of its family's dedicated quota.
pub fn parse_quota(q: &str) -> Result<(String, u64), EmulatorError> {
    let bad = |why: &str| {
        EmulatorError::Config(format!(
            "--quota {q:?}: {why}; expected KEY=N with KEY a VM family (e.g. standardDSv2Family=24 vCPUs), lowPriority, total, or a VM size (e.g. Standard_NC6=0 nodes)"
        ))
    };
    let (key, n) = q.split_once('=').ok_or_else(|| bad("no `=`"))?;
    let (key, n) = (key.trim(), n.trim());
    let n: u64 = n.parse().map_err(|_| bad("N is not a whole number"))?;
    if let Some(size) = sizes::find(key) {
        return Ok((size.family.to_string(), n.saturating_mul(size.vcpus)));
    }
    for named in ["lowPriority", "total"] {
        if key.eq_ignore_ascii_case(named) {
            return Ok((named.to_string(), n));
        }
    }
    match sizes::TABLE
        .iter()
        .find(|s| s.family.eq_ignore_ascii_case(key))
    {
        Some(s) => Ok((s.family.to_string(), n)),
        None => Err(bad(
            "not a VM family, VM size, lowPriority or total the emulator knows",
        )),
    }
}

impl ServeArgs {
    /// Builds the emulator configuration (parses faults, quirks, fixture).
    pub fn to_config(&self) -> Result<EmulatorConfig, EmulatorError> {
        let mut c = EmulatorConfig {
            state_path: Some(self.state.clone()),
            lro_ms: self.lro_ms,
            latency_ms: self.latency_ms,
            fault_seed: self.fault_seed,
            retry_after_s: self.retry_after_s,
            page_size: self.page_size.max(1),
            drop_on_put: self.drop_on_put.clone(),
            ..EmulatorConfig::default()
        };
        for spec in &self.accepted_tokens {
            let (token, caller) =
                identity::parse_accepted_token(spec).map_err(EmulatorError::Config)?;
            if let Some(caller) = caller {
                c.token_callers.insert(token.clone(), caller);
            }
            c.accepted_tokens.push(token);
        }
        for p in &self.drop_on_put {
            if !p.starts_with('/') {
                return Err(EmulatorError::Config(format!(
                    "--drop-on-put {p:?}: expected a JSON pointer into the stored compute, e.g. /properties/properties/scaleSettings/maxNodeCount"
                )));
            }
        }
        if let Some(f) = &self.fixture {
            c.fixture = Some(Fixture::from_file(f)?);
        }
        if let Some(f) = &self.faults {
            c.faults = FaultSpec::parse(f).map_err(EmulatorError::Config)?;
        }
        if let Some(q) = &self.quirks {
            c.quirks = Quirks::parse(q).map_err(EmulatorError::Config)?;
        }
        if let Some(h) = &self.identity_header {
            c.identity_header = h.clone();
        }
        for q in &self.quota {
            let (key, limit) = parse_quota(q)?;
            c.quota.insert(key, limit);
        }
        if let Some(r) = &self.rate_limit {
            let parts: Vec<&str> = r.split(',').map(str::trim).collect();
            let bad = || {
                EmulatorError::Config(format!(
                    "--rate-limit {r:?}: expected READS,WRITES,REFILL_PER_S, e.g. 100,20,10"
                ))
            };
            let [reads, writes, refill] = parts.as_slice() else {
                return Err(bad());
            };
            c.rate_limit = Some(RateLimit {
                reads: reads.parse().map_err(|_| bad())?,
                writes: writes.parse().map_err(|_| bad())?,
                refill_per_s: refill.parse().map_err(|_| bad())?,
            });
        }
        if let Some(ms) = self.slow_ms {
            c.slow_ms = ms;
        }
        c.lenient = self.lenient;
        if let Some(ms) = self.name_hold_ms {
            c.name_hold_ms = ms;
        }
        Ok(c)
    }
}

/// What `amlctl emulator serve` runs: prints exactly `listening on http://127.0.0.1:PORT` as the
/// first stdout line (flushed), serves until SIGINT/SIGTERM, persists state.
pub async fn run_serve(args: ServeArgs) -> Result<(), EmulatorError> {
    use std::io::Write;
    let listen: SocketAddr = args
        .listen
        .parse()
        .map_err(|_| EmulatorError::BadListen(args.listen.clone()))?;
    let config = args.to_config()?;
    let emu = Emulator::start(listen, config).await?;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {}", emu.base_url());
        let _ = out.flush();
    }
    wait_for_signal().await;
    emu.shutdown().await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod quota_flag_tests {
    use super::parse_quota;

    #[test]
    fn quota_keys_are_fixture_quota_keys() {
        let ok = |q: &str| parse_quota(q).map_err(|e| e.to_string()).unwrap();
        assert_eq!(
            ok("standardDSv2Family=24"),
            ("standardDSv2Family".into(), 24)
        );
        assert_eq!(
            ok("standarddsv2family = 24"),
            ("standardDSv2Family".into(), 24)
        );
        assert_eq!(ok("lowpriority=100"), ("lowPriority".into(), 100));
        assert_eq!(ok("TOTAL=200"), ("total".into(), 200));
        // The older syntax: nodes of a VM size, as vCPUs of its family.
        assert_eq!(ok("Standard_NC6s_v3=2"), ("standardNCSv3Family".into(), 12));
        assert_eq!(ok("standard_nc6=0"), ("standardNCFamily".into(), 0));
        for bad in ["Standard_NC6", "nosuchFamily=3", "total=-1", "total=x"] {
            let e = parse_quota(bad).map(|_| ()).map_err(|e| e.to_string());
            assert!(
                e.as_ref()
                    .is_err_and(|m| m.contains(bad) && m.contains("KEY=N")),
                "{bad}: {e:?}"
            );
        }
    }
}
