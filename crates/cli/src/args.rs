//! Command-line arguments (clap). Flag names are a contract other issues and users rely on.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// `amlctl --version`: the workspace version and the Git commit it was built from (see build.rs;
/// "unknown" when built outside a Git checkout).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("AMLCTL_COMMIT"),
    ")"
);

/// GitOps for Azure Machine Learning compute targets.
#[derive(Debug, Parser)]
#[command(name = "amlctl", version = VERSION, about, long_about = None)]
pub struct Cli {
    /// Options shared by every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by all commands.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// More log output (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Never colour the output (colour is used only on a terminal anyway).
    #[arg(long, global = true, env = "NO_COLOR", value_parser = clap::builder::FalseyValueParser::new())]
    pub no_color: bool,
}

/// A day in seconds: the longest duration or timeout any flag accepts.
pub const DAY_SECS: u64 = 86_400;
/// A day in milliseconds.
pub const DAY_MILLIS: u64 = DAY_SECS * 1000;

/// Options for commands that reach ARM.
#[derive(Debug, Args, Clone)]
pub struct ArmArgs {
    /// ARM endpoint (the emulator, a private endpoint). Default: the cloud's endpoint. Only this
    /// flag or AMLCTL_ARM_ENDPOINT may name a host other than the cloud's Resource Manager.
    #[arg(long, env = "AMLCTL_ARM_ENDPOINT")]
    pub arm_endpoint: Option<String>,
    /// For tests and emulators: send every Key Vault request to this base URL instead of the
    /// vault a manifest names (https, or http to a literal loopback address).
    #[arg(long, env = "AMLCTL_KEY_VAULT_ENDPOINT", value_name = "URL")]
    pub key_vault_endpoint: Option<String>,
    /// Azure cloud: public, usgov or china (default: `defaults.cloud` of amlctl.yaml, else public).
    #[arg(long, env = "AMLCTL_CLOUD")]
    pub cloud: Option<String>,
    /// Credential source: auto, client-secret, workload-identity, managed-identity, azure-cli, azd.
    #[arg(long, env = "AMLCTL_AUTH", default_value = "auto")]
    pub auth: String,
    /// Concurrent ARM operations per subscription, 1-256 (default 8, or `parallelism` in amlctl.yaml).
    #[arg(long, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub parallelism: Option<usize>,
    /// Deadline for one ARM operation including retries and polling, in seconds (1-86400).
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=DAY_SECS))]
    pub operation_timeout: u64,
    /// Interval between long-running-operation polls, in milliseconds, 1-86400000 (ARM's Retry-After still wins).
    #[arg(long, env = "AMLCTL_POLL_INTERVAL_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=DAY_MILLIS))]
    pub poll_interval_ms: u64,
    /// Base of the exponential retry backoff, in milliseconds (1-86400000).
    #[arg(
        long,
        env = "AMLCTL_RETRY_BASE_MS",
        default_value_t = 1000,
        hide = true,
        value_parser = clap::value_parser!(u64).range(1..=DAY_MILLIS)
    )]
    pub retry_base_ms: u64,
    /// Run against an embedded ARM emulator (state in .amlctl/sandbox.json beside amlctl.yaml): no Azure account needed.
    #[arg(long)]
    pub sandbox: bool,
}

/// Output format of plan, show and apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable, like `terraform plan`.
    Text,
    /// Markdown for pull-request comments.
    Markdown,
    /// Machine-readable JSON.
    Json,
}

/// Output format of apply (progress events and the final report).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApplyFormat {
    /// Human-readable progress and summary.
    Text,
    /// One JSON event per line.
    Json,
}

impl From<ApplyFormat> for Format {
    fn from(f: ApplyFormat) -> Self {
        match f {
            ApplyFormat::Text => Format::Text,
            ApplyFormat::Json => Format::Json,
        }
    }
}

/// Options that select and gate what `plan` shows and `apply` changes.
#[derive(Debug, Args, Clone)]
pub struct PlanArgs {
    /// Limit to these targets (name or workspace/name); repeatable. A name that matches no
    /// manifest and no live compute is an error.
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
    /// Limit to these workspaces (alias from amlctl.yaml); repeatable.
    #[arg(long = "workspace", value_name = "ALIAS")]
    pub workspaces: Vec<String>,
    /// Allow replacing this target (delete + create); repeatable.
    #[arg(long = "replace", value_name = "NAME")]
    pub replace: Vec<String>,
    /// Reject literal secrets in manifests.
    #[arg(long)]
    pub strict: bool,
    /// Let `{ file: … }` secrets and `ssh_private_key_file` resolve outside the repository (the
    /// folder of amlctl.yaml); refused by default. Command line only.
    #[arg(long)]
    pub allow_outside_repo: bool,
    /// Skip the pre-flight checks (vCPU quota, VM sizes, referenced resources). A last resort:
    /// what they would have found then fails at apply time.
    #[arg(long)]
    pub no_preflight: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check amlctl.yaml and every manifest; report all errors with file:line:col.
    Validate {
        /// Folder holding amlctl.yaml (or below it), or the amlctl.yaml file.
        #[arg(default_value = ".")]
        path: PathBuf,
        /// Reject literal secrets.
        #[arg(long)]
        strict: bool,
        /// Let `{ file: … }` secrets and `ssh_private_key_file` resolve outside the repository.
        #[arg(long)]
        allow_outside_repo: bool,
    },
    /// Print, as JSON, the ARM request each manifest would be created with (secrets redacted).
    Render {
        /// Manifest files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Subscription id used in request paths.
        #[arg(long, default_value = "00000000-0000-0000-0000-000000000000")]
        subscription_id: String,
        /// Resource group used in request paths.
        #[arg(long, default_value = "my-rg")]
        resource_group: String,
        /// Workspace name used in request paths.
        #[arg(long, default_value = "my-ws")]
        workspace: String,
        /// Workspace location (otherwise the manifest's `location`, if any).
        #[arg(long)]
        location: Option<String>,
        /// Reject literal secrets.
        #[arg(long)]
        strict: bool,
    },
    /// Print the JSON Schema of a compute manifest (or of amlctl.yaml with --config).
    Schema {
        /// The schema of amlctl.yaml instead.
        #[arg(long)]
        config: bool,
    },
    /// Diff the manifests against live ARM state and print the plan.
    Plan {
        /// Folder holding amlctl.yaml, or the amlctl.yaml file. A folder below it limits the plan
        /// to the manifests under that folder (every manifest is still loaded; nothing is pruned).
        #[arg(default_value = ".")]
        path: PathBuf,
        #[command(flatten)]
        plan: PlanArgs,
        #[command(flatten)]
        arm: ArmArgs,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Save the plan (with live fingerprints) for `amlctl apply FILE`.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Exit 0 when there are no changes, 2 when there are, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Report only targets whose live state drifted away from unchanged manifests (the last
        /// write was not amlctl's), with who changed them; exit 0 no drift, 2 drift, 1 error.
        #[arg(long)]
        drift: bool,
    },
    /// Carry out the plan (or a saved plan file).
    Apply {
        /// Folder holding amlctl.yaml, or a plan file saved by `plan --out`. A folder below
        /// amlctl.yaml limits the apply to the manifests under it (nothing is pruned).
        #[arg(default_value = ".")]
        path: PathBuf,
        #[command(flatten)]
        plan: PlanArgs,
        #[command(flatten)]
        arm: ArmArgs,
        /// Do not ask for confirmation (required without a terminal).
        #[arg(long)]
        auto_approve: bool,
        /// With a saved plan: apply the targets that did not change since the plan, refuse the others.
        #[arg(long)]
        partial: bool,
        /// Output: text, or json (one event per line).
        #[arg(long, value_enum, default_value = "text")]
        format: ApplyFormat,
    },
    /// Re-render a saved plan file.
    Show {
        /// The plan file.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Write one manifest per existing compute target of a workspace (computes a manifest
    /// already declares are skipped and listed, unless --include-declared).
    Export {
        /// Folder holding amlctl.yaml (or below it), or the amlctl.yaml file.
        #[arg(value_name = "PATH")]
        path: Option<PathBuf>,
        /// Same as the positional PATH (kept for compatibility).
        #[arg(
            long = "path",
            value_name = "PATH",
            conflicts_with = "path",
            hide = true
        )]
        path_flag: Option<PathBuf>,
        /// Workspace alias from amlctl.yaml (default: `default_workspace`, or the only workspace).
        #[arg(long)]
        workspace: Option<String>,
        /// Output folder (default: the first manifests folder of amlctl.yaml).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
        /// Also write manifests for computes a manifest of the repository already declares
        /// (the next plan then reports them as declared twice until one copy is removed).
        #[arg(long)]
        include_declared: bool,
        #[command(flatten)]
        arm: ArmArgs,
    },
    /// Mark an existing compute that a manifest declares as managed (writes the ownership tag, so
    /// `prune` may later delete it). Refuses when the compute differs from its manifest at all:
    /// both when that would force a replacement and when in-place changes are pending (apply
    /// them first, or align the manifest).
    Import {
        /// Compute name (or workspace/name).
        name: String,
        /// Folder holding amlctl.yaml (or below it), or the amlctl.yaml file.
        #[arg(value_name = "PATH")]
        path: Option<PathBuf>,
        /// Same as the positional PATH (kept for compatibility).
        #[arg(
            long = "path",
            value_name = "PATH",
            conflicts_with = "path",
            hide = true
        )]
        path_flag: Option<PathBuf>,
        #[command(flatten)]
        arm: ArmArgs,
    },
    /// Print a shell completion script.
    Completions {
        /// bash, zsh, fish, powershell or elvish.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) of amlctl, or write one page per command with --out.
    Man {
        /// Write amlctl.1 and one amlctl-COMMAND.1 per command into this folder instead.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Run the local ARM emulator.
    Emulator {
        /// Emulator command.
        #[command(subcommand)]
        command: EmulatorCommand,
    },
}

/// `amlctl emulator …`
#[derive(Debug, Subcommand)]
pub enum EmulatorCommand {
    /// Serve the ARM computes API on a loopback address.
    Serve(ServeArgs),
}

/// `amlctl emulator serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Loopback address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// State file (JSON, written atomically).
    #[arg(long)]
    pub state: PathBuf,
    /// Fixture (YAML): workspaces and underlying resources that exist.
    #[arg(long)]
    pub fixture: Option<PathBuf>,
    /// How long a create/update/delete stays in progress, in milliseconds (at most a day).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=DAY_MILLIS))]
    pub lro_ms: u64,
    /// Latency added to every ARM request, in milliseconds (at most a day).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=DAY_MILLIS))]
    pub latency_ms: u64,
    /// Faults, KIND=RATE,… with KIND one of 429, 500, 503, reset, slow, lro-failed, lro-canceled,
    /// update-failed, unknown.
    #[arg(long)]
    pub faults: Option<String>,
    /// Seed of the fault sequence.
    #[arg(long, default_value_t = 0)]
    pub fault_seed: u64,
    /// Retry-After seconds sent with injected 429s (at most a day).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(0..=DAY_SECS))]
    pub retry_after: u64,
    /// Service quirks: all, none, or a comma list of upper-vm-size, vnet-casing, duration-format,
    /// location-case, stale-size-on-recreate, policy-tags (the last two are not part of `all`).
    #[arg(long)]
    pub quirks: Option<String>,
    /// Items per list page (1-10000).
    #[arg(long, default_value_t = 100, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=10_000))]
    pub page_size: usize,
    /// Secret expected in X-IDENTITY-HEADER by the /msi/token endpoint.
    #[arg(long)]
    pub identity_header: Option<String>,
    /// A bearer token accepted besides those issued by /msi/token, as TOKEN or TOKEN=CALLER
    /// (the caller the Activity Log records for its writes); repeatable.
    #[arg(long = "accepted-token", value_name = "TOKEN[=CALLER]")]
    pub accepted_tokens: Vec<String>,
    /// A JSON pointer into the stored compute (e.g. /properties/properties/scaleSettings/maxNodeCount)
    /// whose previous value a PUT or PATCH of an existing compute keeps: the write is accepted,
    /// that part silently not applied. Repeatable; for testing the read-back after apply.
    #[arg(long = "drop-on-put", value_name = "JSON_POINTER")]
    pub drop_on_put: Vec<String>,
    /// A vCPU quota of every region, KEY=N: a VM family (standardDSv2Family=24), lowPriority=N or
    /// total=N, as the fixture's `locations[].quotas` (a location's own value wins); or a VM size
    /// in nodes (Standard_NC6=2 = 12 vCPUs of its family). Served by `usages` (so `plan` sees it);
    /// a create over it ends Failed with ClusterMinNodesExceedCoreQuota. Repeatable.
    #[arg(long = "quota", value_name = "KEY=N")]
    pub quota: Vec<String>,
    /// ARM-style rate limiting per subscription: READS,WRITES,REFILL_PER_S (e.g. 100,20,10).
    #[arg(long, value_name = "READS,WRITES,REFILL")]
    pub rate_limit: Option<String>,
    /// How long the `slow` fault delays a response, in milliseconds (at most a day).
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=DAY_MILLIS))]
    pub slow_ms: Option<u64>,
    /// The old, lenient emulator: echoes every property at every api-version, merges a PUT
    /// into the stored compute, accepts changed compute instances, holds no deleted names.
    /// Not for plan/apply tests: the default answers like the real service.
    #[arg(long)]
    pub lenient: bool,
    /// How long a deleted compute instance's name stays unavailable, in milliseconds
    /// (default 3000).
    #[arg(long, value_name = "MS")]
    pub name_hold_ms: Option<u64>,
}
