//! Emulator configuration: faults, quirks and rate limits.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::fixture::Fixture;

/// Everything that shapes one emulator instance.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// JSON file the state is persisted to (atomically) after every acknowledged mutation.
    pub state_path: Option<PathBuf>,
    /// Workspaces and underlying resources to declare; merged into the loaded state.
    pub fixture: Option<Fixture>,
    /// How long a long-running operation stays non-terminal, in milliseconds.
    pub lro_ms: u64,
    /// Latency added to every ARM request (not `/_emulator/*` nor `/msi/token`), in milliseconds.
    pub latency_ms: u64,
    /// Fault probabilities per request.
    pub faults: FaultSpec,
    /// Seed of the fault RNG (one draw per ARM request, in arrival order).
    pub fault_seed: u64,
    /// Value of `Retry-After` (seconds) on 429/503 and LRO responses.
    pub retry_after_s: u64,
    /// Service quirks to imitate.
    pub quirks: Quirks,
    /// Page size of list and listNodes responses (minimum 1).
    pub page_size: usize,
    /// Static bearer tokens accepted besides those issued by `/msi/token`.
    pub accepted_tokens: Vec<String>,
    /// The caller (Activity Log `caller`) of static tokens given as `--accepted-token
    /// TOKEN=CALLER`; a static token not named here is attributed by its JWT claims, if any.
    pub token_callers: BTreeMap<String, String>,
    /// JSON pointers into the stored compute (`/properties/properties/scaleSettings/maxNodeCount`)
    /// whose previous value a PUT or PATCH of an existing compute keeps (`--drop-on-put`): the
    /// write is accepted but that part is silently not applied, like the service does with
    /// compute-instance schedules.
    pub drop_on_put: Vec<String>,
    /// Static bearer tokens the Key Vaults accept (tokens of the vault audience); `accepted_tokens`
    /// are ARM tokens and are refused by the vaults.
    pub accepted_vault_tokens: Vec<String>,
    /// Secret expected in `X-IDENTITY-HEADER` by `/msi/token`.
    pub identity_header: String,
    /// ARM-style token-bucket rate limiting per subscription; `None` = off.
    pub rate_limit: Option<RateLimit>,
    /// vCPU limits of every region (`--quota`): a VM family (`standardDSv2Family`),
    /// `lowPriority` or `total` -> vCPUs, as in the fixture's `locations[].quotas`. A fixture
    /// location that sets the same key keeps its own value.
    pub quota: BTreeMap<String, u64>,
    /// How long the `slow` fault delays a response, in milliseconds (default 3000).
    pub slow_ms: u64,
    /// The old, lenient behaviour (`--lenient`): every property echoed at every api-version,
    /// PUT merged into the stored compute, changed compute instances accepted, no name hold,
    /// responses with `systemData`, `Location` and `Retry-After`. Off by default; no plan or
    /// apply test may use it.
    pub lenient: bool,
    /// How long the name of a deleted compute instance stays unavailable, in milliseconds
    /// (`--name-hold-ms`; default [`DEFAULT_NAME_HOLD_MS`]).
    pub name_hold_ms: u64,
}

/// Default of [`EmulatorConfig::name_hold_ms`] (an assumption: the service's hold time is not
/// recorded; see the emulator README).
pub const DEFAULT_NAME_HOLD_MS: u64 = 3000;

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            state_path: None,
            fixture: None,
            lro_ms: 0,
            latency_ms: 0,
            faults: FaultSpec::default(),
            fault_seed: 0,
            retry_after_s: 1,
            quirks: Quirks::default(),
            page_size: 100,
            accepted_tokens: Vec::new(),
            token_callers: BTreeMap::new(),
            drop_on_put: Vec::new(),
            accepted_vault_tokens: Vec::new(),
            identity_header: "amlctl-emulator".to_string(),
            rate_limit: None,
            quota: BTreeMap::new(),
            slow_ms: 3000,
            lenient: false,
            name_hold_ms: DEFAULT_NAME_HOLD_MS,
        }
    }
}

/// ARM-style token buckets per subscription (one for reads, one for writes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Capacity of the read bucket (GET/HEAD).
    pub reads: u32,
    /// Capacity of the write bucket (PUT/PATCH/DELETE/POST).
    pub writes: u32,
    /// Tokens added back to each bucket per second (scaled to its capacity share: reads refill
    /// at this rate, writes at `refill_per_s * writes / reads`).
    pub refill_per_s: f64,
}

impl RateLimit {
    /// Tokens per second the read bucket gets back: `refill_per_s`.
    pub fn read_refill_per_s(&self) -> f64 {
        self.refill_per_s
    }

    /// Tokens per second the write bucket gets back: `refill_per_s` scaled to the write bucket's
    /// share of the capacity (`refill_per_s × writes / reads`; `refill_per_s` without reads).
    /// The one home of the formula: the emulator refills by it, benchmarks compute bounds by it.
    pub fn write_refill_per_s(&self) -> f64 {
        if self.reads > 0 {
            self.refill_per_s * self.writes as f64 / self.reads as f64
        } else {
            self.refill_per_s
        }
    }
}

/// A kind of injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// 429 Too Many Requests with `Retry-After`.
    TooManyRequests,
    /// 500 Internal Server Error.
    InternalError,
    /// 503 Service Unavailable with `Retry-After`.
    Unavailable,
    /// The TCP connection is closed without a response.
    Reset,
    /// The response is delayed by `slow_ms`.
    Slow,
    /// A long-running operation started by this request ends `Failed`.
    LroFailed,
    /// A long-running operation started by this request ends `Canceled`.
    LroCanceled,
    /// An update (PUT over an existing compute, or PATCH) fails: the compute ends `Failed` and
    /// an existing cluster keeps its nodes.
    UpdateFailed,
    /// A GET of a compute answers `provisioningState: "Unknown"`.
    Unknown,
}

impl FaultKind {
    /// All kinds, in the fixed order used to map an RNG draw to a kind.
    pub const ALL: [FaultKind; 9] = [
        FaultKind::TooManyRequests,
        FaultKind::InternalError,
        FaultKind::Unavailable,
        FaultKind::Reset,
        FaultKind::Slow,
        FaultKind::LroFailed,
        FaultKind::LroCanceled,
        FaultKind::UpdateFailed,
        FaultKind::Unknown,
    ];

    /// The name used in `--faults` specs.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::TooManyRequests => "429",
            FaultKind::InternalError => "500",
            FaultKind::Unavailable => "503",
            FaultKind::Reset => "reset",
            FaultKind::Slow => "slow",
            FaultKind::LroFailed => "lro-failed",
            FaultKind::LroCanceled => "lro-canceled",
            FaultKind::UpdateFailed => "update-failed",
            FaultKind::Unknown => "unknown",
        }
    }
}

/// Probability per ARM request of each fault kind (the rates must sum to at most 1).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultSpec {
    /// Rate per kind; kinds absent have rate 0.
    pub rates: BTreeMap<FaultKind, f64>,
}

impl FaultSpec {
    /// Parses `KIND=RATE,...` (e.g. `429=0.2,reset=0.1`); an empty string means no faults.
    pub fn parse(spec: &str) -> Result<FaultSpec, String> {
        let mut rates = BTreeMap::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (kind, rate) = part
                .split_once('=')
                .ok_or_else(|| format!("fault `{part}` is not KIND=RATE"))?;
            let kind = FaultKind::ALL
                .into_iter()
                .find(|k| k.name().eq_ignore_ascii_case(kind.trim()))
                .ok_or_else(|| {
                    format!(
                        "unknown fault kind `{}` (expected one of 429, 500, 503, reset, slow, lro-failed, lro-canceled, update-failed, unknown)",
                        kind.trim()
                    )
                })?;
            let rate: f64 = rate
                .trim()
                .parse()
                .map_err(|_| format!("fault rate `{}` is not a number", rate.trim()))?;
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("fault rate {rate} is not between 0 and 1"));
            }
            rates.insert(kind, rate);
        }
        let total: f64 = rates.values().sum();
        if total > 1.0 + 1e-9 {
            return Err(format!("fault rates sum to {total}, more than 1"));
        }
        Ok(FaultSpec { rates })
    }

    /// Whether any fault has a non-zero rate.
    pub fn is_empty(&self) -> bool {
        self.rates.values().all(|r| *r <= 0.0)
    }

    /// Maps a uniform draw in `[0, 1)` to a fault kind (kinds take consecutive intervals in
    /// [`FaultKind::ALL`] order).
    pub fn pick(&self, draw: f64) -> Option<FaultKind> {
        let mut acc = 0.0;
        for kind in FaultKind::ALL {
            let rate = self.rates.get(&kind).copied().unwrap_or(0.0);
            if rate <= 0.0 {
                continue;
            }
            acc += rate;
            if draw < acc {
                return Some(kind);
            }
        }
        None
    }
}

/// Service quirks users reported; each switchable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quirks {
    /// VM sizes come back upper-cased (`Standard_DS3_v2` → `STANDARD_DS3_V2`).
    pub upper_vm_size: bool,
    /// Subnet ids come back with `/VirtualNetworks/` instead of `/virtualNetworks/`.
    pub vnet_casing: bool,
    /// Durations come back normalised (`PT120S` → `PT2M`).
    pub duration_format: bool,
    /// `location` comes back upper-cased (`eastus` → `EASTUS`).
    pub location_case: bool,
    /// A compute created under the name of one deleted before keeps the deleted one's VM size
    /// (reported once for the real service). Not part of `all`: it is a bug, not a formatting quirk.
    pub stale_size_on_recreate: bool,
    /// Azure Policy adds tags on every write (`policy-tags`): each PUT/PATCH stores the tags
    /// [`POLICY_TAGS`] besides those sent. Not part of `all`.
    pub policy_tags: bool,
}

/// The tags the `policy-tags` quirk adds on every write (name, value).
pub const POLICY_TAGS: &[(&str, &str)] = &[
    ("CostCenter", "policy-default"),
    ("CreatedVia", "azure-policy"),
];

impl Quirks {
    /// Parses `all`, `none` or a comma list of `upper-vm-size`, `vnet-casing`,
    /// `duration-format`, `location-case`.
    pub fn parse(spec: &str) -> Result<Quirks, String> {
        let spec = spec.trim();
        if spec.eq_ignore_ascii_case("all") {
            return Ok(Quirks::all());
        }
        let mut q = Quirks::default();
        if spec.eq_ignore_ascii_case("none") || spec.is_empty() {
            return Ok(q);
        }
        for name in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match name.to_ascii_lowercase().as_str() {
                "upper-vm-size" => q.upper_vm_size = true,
                "vnet-casing" => q.vnet_casing = true,
                "duration-format" => q.duration_format = true,
                "location-case" => q.location_case = true,
                "stale-size-on-recreate" => q.stale_size_on_recreate = true,
                "policy-tags" => q.policy_tags = true,
                other => {
                    return Err(format!(
                        "unknown quirk `{other}` (expected all, none, upper-vm-size, vnet-casing, duration-format, location-case, stale-size-on-recreate, policy-tags)"
                    ));
                }
            }
        }
        Ok(q)
    }

    /// Every quirk on.
    pub fn all() -> Quirks {
        Quirks {
            upper_vm_size: true,
            vnet_casing: true,
            duration_format: true,
            location_case: true,
            stale_size_on_recreate: false,
            policy_tags: false,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn write_bucket_refills_by_its_capacity_share() {
        let rl = RateLimit {
            reads: 100,
            writes: 10,
            refill_per_s: 20.0,
        };
        assert_eq!(rl.read_refill_per_s(), 20.0);
        assert_eq!(rl.write_refill_per_s(), 2.0);
        let no_reads = RateLimit { reads: 0, ..rl };
        assert_eq!(no_reads.write_refill_per_s(), 20.0);
    }

    use super::*;

    #[test]
    fn parses_faults() {
        let f = FaultSpec::parse(
            "429=0.2,503=0.05,reset=0.1,slow=0.1,lro-failed=0.05,lro-canceled=0.05,500=0.1",
        )
        .unwrap();
        assert_eq!(f.rates.len(), 7);
        assert_eq!(f.pick(0.0), Some(FaultKind::TooManyRequests));
        assert_eq!(f.pick(0.25), Some(FaultKind::InternalError));
        assert_eq!(f.pick(0.99), None);
        assert!(FaultSpec::parse("429=2").is_err());
        assert!(FaultSpec::parse("429=0.6,500=0.6").is_err());
        assert!(FaultSpec::parse("boom=0.1").is_err());
        assert!(FaultSpec::parse("").unwrap().is_empty());
    }

    #[test]
    fn parses_quirks() {
        assert_eq!(Quirks::parse("all").unwrap(), Quirks::all());
        assert_eq!(Quirks::parse("none").unwrap(), Quirks::default());
        let q = Quirks::parse("vnet-casing,location-case").unwrap();
        assert!(q.vnet_casing && q.location_case && !q.upper_vm_size);
        assert!(Quirks::parse("bogus").is_err());
    }
}
